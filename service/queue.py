"""Sending work to the workers, by task name only (the service never imports the tasks)."""

from __future__ import annotations

from functools import cache

from celery import Celery, group
from kombu.exceptions import OperationalError

from circuitgrad.worker.celery_app import EVALUATE_CHUNK_TASK, GRADIENT_TASK, make_app
from circuitgrad.worker.settings import Settings

from .errors import Unavailable


@cache
def celery_for(s: Settings) -> Celery:
    return make_app(s)


def _send(fn) -> None:
    try:
        fn()
    except OperationalError as e:
        raise Unavailable(f"the job queue cannot be reached: {e}") from e


def send_gradient(s: Settings, job_id: str) -> None:
    app = celery_for(s)
    _send(lambda: app.send_task(GRADIENT_TASK, args=[job_id], retry=False))


def send_evaluation(s: Settings, job_id: str, chunks: int) -> None:
    """One task per chunk, as a group: the chunks spread over all free workers."""
    app = celery_for(s)
    tasks = group(app.signature(EVALUATE_CHUNK_TASK, args=[job_id, i]) for i in range(chunks))
    _send(lambda: tasks.apply_async(retry=False))
