"""Celery's prefork pool, replacing a stopped process at once.

When a pool process dies (a cancelled job's process is stopped by worker/watch.py; a
job crashed it), the pool notices through the process's sentinel, but only if the
process can already be reaped at that instant; otherwise it waits for its periodic
check, every 5 s — so the worker would sit idle for seconds after a cancellation. Here
the check runs every ``MAINTAIN_EVERY`` seconds (it only looks at exit codes).
Used as ``--pool circuitgrad.worker.pool:TaskPool``.
"""

from __future__ import annotations

from celery.concurrency import asynpool, prefork

MAINTAIN_EVERY = 0.1  # seconds


class AsynPool(asynpool.AsynPool):
    @property
    def timers(self):
        return {self.maintain_pool: MAINTAIN_EVERY}


class TaskPool(prefork.TaskPool):
    Pool = AsynPool
