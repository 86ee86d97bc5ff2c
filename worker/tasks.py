"""The Celery tasks, thin: each calls ``work.py`` with this process's runtime.

    circuitgrad.gradient(job_id)               one gradient job
    circuitgrad.evaluate_chunk(job_id, index)  one chunk of an evaluation job (a group of
                                               these covers the batch)

Also the worker's lifecycle: the main process warms the engine up before it forks its
pool (the pool processes inherit the compiled code), and announces the worker in Redis
every few seconds (what ``/v1/ready`` reads).
"""

from __future__ import annotations

import logging
import threading

from celery import Task, signals
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from . import work
from .celery_app import EVALUATE_CHUNK_TASK, GRADIENT_TASK, app
from .errors import StoreError, StoreUnavailable
from .problems import problem
from .runtime import runtime, warm_up

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5


def time_limit_problem(limit) -> dict:
    return problem(
        500,
        "time-limit",
        "Time limit exceeded",
        f"the job ran longer than its time limit of {limit} s",
    )


class JobTask(Task):
    """A job task whose failure (a bug, a hard time limit, the store gone) fails its job, so
    no job waits forever. Runs in the worker's main process for hard time limits."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if not args:
            return
        rt = runtime()
        try:
            if isinstance(exc, TimeLimitExceeded):
                rt.jobs.fail(args[0], time_limit_problem(rt.settings.hard_time_limit))
            elif isinstance(exc, StoreUnavailable):
                rt.jobs.fail(
                    args[0],
                    problem(503, "store-unavailable", "Store unavailable", str(exc)),
                    retryable=True,
                )
            else:
                work.fail_unexpected(rt, args[0], exc)
        except StoreError:
            log.exception("could not record the failure of job %s", args[0])


def _soft_limited(fn, job_id: str, *args):
    rt = runtime()
    try:
        return fn(rt, job_id, *args)
    except SoftTimeLimitExceeded:
        rt.jobs.fail(job_id, time_limit_problem(rt.settings.soft_time_limit))
        return "failed"


@app.task(name=GRADIENT_TASK, base=JobTask, bind=True)
def gradient(self, job_id: str) -> str:
    return _soft_limited(work.run_gradient, job_id, self.request.hostname or "worker")


@app.task(name=EVALUATE_CHUNK_TASK, base=JobTask)
def evaluate_chunk(job_id: str, index: int) -> str:
    return _soft_limited(work.run_evaluation_chunk, job_id, int(index))


# -- lifecycle ---------------------------------------------------------------------------
@signals.worker_init.connect
def _warm_before_fork(**_):
    if runtime().settings.warm_up:
        warm_up()


_stop_heartbeat = threading.Event()


def _heartbeat(name: str) -> None:
    while not _stop_heartbeat.is_set():
        try:
            runtime().heartbeat(name)
        except StoreError as e:
            log.warning("heartbeat failed: %s", e)
        _stop_heartbeat.wait(HEARTBEAT_SECONDS)


@signals.worker_ready.connect
def _announce(sender=None, **_):
    name = getattr(sender, "hostname", None) or "worker"
    threading.Thread(target=_heartbeat, args=(name,), name="heartbeat", daemon=True).start()


@signals.worker_shutdown.connect
def _retire(sender=None, **_):
    _stop_heartbeat.set()
    try:
        runtime().forget_worker(getattr(sender, "hostname", None) or "worker")
    except StoreError:
        pass
