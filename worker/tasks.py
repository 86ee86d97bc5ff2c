"""The Celery tasks, thin: each calls ``work.py`` with this process's runtime.

    circuitgrad.gradient(job_id)               one gradient job
    circuitgrad.evaluate_chunk(job_id, index)  one chunk of an evaluation job (a group of
                                               these covers the batch)

Also the worker's lifecycle: the main process warms the engine up before it forks its
pool (the pool processes inherit the compiled code) and keeps watch over its jobs
(``watch.py``: heartbeats, leases, the reaper, cancellations); each pool process is tied
to the main process and bounded in memory.
"""

from __future__ import annotations

import gc
import logging

from celery import Task, signals
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded

from . import work
from .celery_app import EVALUATE_CHUNK_TASK, GRADIENT_TASK, app
from .errors import StoreError, StoreUnavailable
from .problems import problem
from .processes import die_with_parent, limit_data
from .runtime import runtime, warm_up
from .watch import Watch

log = logging.getLogger(__name__)


def time_limit_problem(limit) -> dict:
    return problem(
        500,
        "time-limit",
        "Time limit exceeded",
        f"the job ran longer than its time limit of {limit} s",
    )


class JobTask(Task):
    """A job task whose failure (a bug, a hard time limit) fails its job, so no job waits
    forever. Runs in the worker's main process for hard time limits."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        if not args:
            return
        rt = runtime()
        try:
            if isinstance(exc, TimeLimitExceeded):
                rt.jobs.fail(args[0], time_limit_problem(rt.settings.hard_time_limit))
            elif isinstance(exc, StoreUnavailable):
                # Redis went away for longer than the worker's patience: the job keeps its
                # record; its lease lapses and the reaper queues it again
                log.warning("job %s left to its lease: %s", args[0], exc)
            else:
                work.fail_unexpected(rt, args[0], exc)
        except StoreError:
            log.exception("could not record the failure of job %s", args[0])


def _limited(fn, job_id: str, *args):
    """Run ``fn`` for a job within its limits: time (Celery's soft limit) and memory (the
    pool process's budget, see ``_budget``). A job over either fails with a problem
    document; the process lives on."""
    rt = runtime()
    try:
        return fn(rt, job_id, *args)
    except SoftTimeLimitExceeded:
        log.warning("job %s over its time limit", job_id, exc_info=True)  # where it was
        rt.jobs.fail(job_id, time_limit_problem(rt.settings.soft_time_limit))
        return "failed"
    except SystemError as e:  # the limit's signal landed inside a compiled kernel
        if not isinstance(e.__context__, SoftTimeLimitExceeded):
            raise
        log.warning("job %s over its time limit", job_id, exc_info=True)
        rt.jobs.fail(job_id, time_limit_problem(rt.settings.soft_time_limit))
        return "failed"
    except MemoryError:
        pass  # leave the except block first: its traceback holds the job's arrays
    gc.collect()
    rt.jobs.fail(job_id, work.memory_problem(rt.settings.job_memory_bytes))
    return "failed"


@app.task(name=GRADIENT_TASK, base=JobTask, bind=True)
def gradient(self, job_id: str) -> str:
    return _limited(work.run_gradient, job_id, self.request.hostname or "worker")


@app.task(name=EVALUATE_CHUNK_TASK, base=JobTask, bind=True)
def evaluate_chunk(self, job_id: str, index: int) -> str:
    return _limited(
        work.run_evaluation_chunk, job_id, int(index), self.request.hostname or "worker"
    )


# -- lifecycle ---------------------------------------------------------------------------
@signals.worker_init.connect
def _warm_before_fork(**_):
    if runtime().settings.warm_up:
        warm_up()


app.steps["worker"].add(Watch)  # heartbeats, leases, the reaper, cancellations


@signals.worker_process_init.connect
def _bound_pool_process(**_):
    """A pool process dies with the worker's main process (else a SIGKILLed worker would
    leave computing orphans whose jobs nobody watches), and runs within its memory
    budget: the data segment may grow by ``job_memory_bytes`` beyond what it has now
    (the compiled engine, inherited from the main process); past it, allocations fail
    with MemoryError, which fails the job, not the process (``_limited``)."""
    die_with_parent()
    budget = runtime().settings.job_memory_bytes
    if budget > 0:
        limit_data(budget)
