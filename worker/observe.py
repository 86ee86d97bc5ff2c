"""Around every task: the log context of its job, and the job metrics.

Connected to Celery's signals when the worker's Celery app imports its modules
(``celery_app.py``), so it runs in the pool process that runs the task (and in local
mode's in-process queue). Before a task: the job id and the request id stored in its
record become the context of every log line (``logs.py``). After: the outcome is
counted and timed (``metrics.py``); a result's stored size is observed.
"""

from __future__ import annotations

import logging
import os
import time

import msgpack
from celery import signals

from . import batches, logs, metrics
from .celery_app import EVALUATE_CHUNK_TASK, GRADIENT_TASK
from .runtime import runtime

log = logging.getLogger("circuitgrad.worker")

KINDS = {GRADIENT_TASK: "gradient", EVALUATE_CHUNK_TASK: "evaluation"}
FINAL_OUTCOMES = {
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "cancelled",
    "exhausted": "failed",
}
_started: dict[str, tuple[float, list]] = {}


def _args(args, kwargs) -> list:
    return list(args or kwargs.get("args") or [])


@signals.task_prerun.connect
def _before(task_id=None, task=None, args=None, kwargs=None, **_):
    kind = KINDS.get(getattr(task, "name", ""))
    args = _args(args, kwargs or {})
    if kind is None or not args:
        return
    job_id = str(args[0])
    try:
        request_id = runtime().redis.hget(runtime().keys.job(job_id), "request_id")
    except Exception:  # the task itself reports a store that is gone
        request_id = None
    tokens = logs.set_context(request_id=(request_id or b"").decode(), job_id=job_id)
    _started[task_id] = (time.perf_counter(), tokens)
    log.info("task %s started", task.name, extra={"task": task.name, "chunk": args[1:]})


@signals.task_postrun.connect
def _after(task_id=None, task=None, args=None, kwargs=None, retval=None, state=None, **_):
    started = _started.pop(task_id, None)
    kind = KINDS.get(getattr(task, "name", ""))
    if kind is None or started is None:
        return
    t0, tokens = started
    outcome = retval if isinstance(retval, str) else str(state or "error").lower()
    seconds = time.perf_counter() - t0
    try:
        metrics.JOB_DURATION.labels(kind, outcome).observe(seconds)
        if outcome in FINAL_OUTCOMES:
            metrics.JOBS_FINISHED.labels(kind, FINAL_OUTCOMES[outcome]).inc()
        size = _result_bytes(kind, _args(args, kwargs or {}), outcome)
        if size is not None:
            metrics.RESULT_BYTES.labels(kind).observe(size)
        log.info(
            "task %s done: %s in %.3f s",
            task.name,
            outcome,
            seconds,
            extra={"task": task.name, "outcome": outcome, "seconds": round(seconds, 6)},
        )
    finally:
        logs.reset_context(tokens)


def _result_bytes(kind: str, args: list, outcome: str) -> int | None:
    """The stored size of what the task produced (None if nothing, or unknown)."""
    rt = runtime()
    try:
        if kind == "gradient" and outcome == "succeeded":
            result = rt.jobs.get(args[0]) or {}
            blob = (result.get("result") or {}).get("circuit_id")
        elif kind == "evaluation" and outcome in ("succeeded", "chunk-done"):
            blob = batches.values_blob(args[0], int(args[1]))
        else:
            return None
        raw = rt.redis.get(rt.keys.blob(blob)) if blob else None
        return None if raw is None else int(msgpack.unpackb(raw)["stored_bytes"])
    except Exception:
        return None


@signals.worker_process_shutdown.connect
def _process_gone(pid=None, **_):
    metrics.mark_dead(pid or os.getpid())
