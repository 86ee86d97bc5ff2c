"""Sending work to the workers, by task name only (the service never imports the tasks).

A ``TaskQueue`` takes task names and arguments. ``CeleryQueue`` hands them to the broker
(Celery over Redis: what ``circuitgrad serve`` and docker-compose run); ``local.py``'s
in-process queue runs them on threads of this process (``Client("local")``). The app
reads its queue from ``app.extensions`` (``queue_of``), so every view works with either.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

from celery import Celery, group
from flask import current_app
from kombu.exceptions import OperationalError

from circuitgrad.worker.celery_app import EVALUATE_CHUNK_TASK, GRADIENT_TASK, make_app
from circuitgrad.worker.settings import Settings

from .errors import Unavailable


class TaskQueue(Protocol):
    def send(self, task: str, args: list) -> None:
        """Queue one task (``Unavailable`` when the queue cannot be reached)."""

    def send_group(self, task: str, args_list: list[list]) -> None:
        """Queue several tasks of one name, to be spread over the free workers."""


@cache
def celery_for(s: Settings) -> Celery:
    return make_app(s)


class CeleryQueue:
    def __init__(self, s: Settings):
        self.app = celery_for(s)

    @staticmethod
    def _guarded(fn) -> None:
        try:
            fn()
        except OperationalError as e:
            raise Unavailable(f"the job queue cannot be reached: {e}") from e

    def send(self, task: str, args: list) -> None:
        self._guarded(lambda: self.app.send_task(task, args=args, retry=False))

    def send_group(self, task: str, args_list: list[list]) -> None:
        tasks = group(self.app.signature(task, args=args) for args in args_list)
        self._guarded(lambda: tasks.apply_async(retry=False))


def queue_of(app=None) -> TaskQueue:
    return (app or current_app).extensions["circuitgrad.queue"]


def send_gradient(job_id: str) -> None:
    queue_of().send(GRADIENT_TASK, [job_id])


def send_evaluation(job_id: str, chunks: int) -> None:
    """One task per chunk, as a group: the chunks spread over all free workers."""
    queue_of().send_group(EVALUATE_CHUNK_TASK, [[job_id, i] for i in range(chunks)])
