"""The wiring of one process: settings, Redis, the stores and the job records.

The API and the workers build the same ``Runtime`` from the same settings, once per
process (a forked child builds its own, with its own Redis connections).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property

import redis

from .connection import redis_client, store_errors
from .jobs import JobStore, Lease
from .keys import Keys
from .settings import Settings, settings
from .store import BlobStore, CircuitStore

WORKER_STALE_SECONDS = 20  # a worker silent this long does not count as ready
WORKERS_FORGOTTEN_SECONDS = 3600  # and one silent this long is no longer listed


@dataclass
class Runtime:
    settings: Settings

    @cached_property
    def redis(self) -> redis.Redis:
        return redis_client(self.settings.redis_url)

    @cached_property
    def keys(self) -> Keys:
        return Keys(self.settings.key_prefix)

    @cached_property
    def blobs(self) -> BlobStore:
        s = self.settings
        return BlobStore(self.redis, self.keys, s.chunk_bytes, s.zstd_level, s.retention_seconds)

    @cached_property
    def circuits(self) -> CircuitStore:
        return CircuitStore(self.blobs, self.settings.circuit_cache_bytes)

    @cached_property
    def jobs(self) -> JobStore:
        s = self.settings
        lease = Lease(s.lease_seconds, s.requeue_after_seconds, s.requeue_max_seconds)
        return JobStore(self.redis, self.keys, s.retention_seconds, lease)

    # -- worker presence -------------------------------------------------------------------
    def heartbeat(self, worker: str) -> None:
        """Announce ``worker``; workers silent for an hour are forgotten, and the set
        expires an hour after the last heartbeat."""
        now, key = time.time(), self.keys.workers()
        with store_errors():
            pipe = self.redis.pipeline(transaction=False)
            pipe.zadd(key, {worker: now})
            pipe.zremrangebyscore(key, "-inf", now - WORKERS_FORGOTTEN_SECONDS)
            pipe.expire(key, WORKERS_FORGOTTEN_SECONDS)
            pipe.execute()

    def forget_worker(self, worker: str) -> None:
        with store_errors():
            self.redis.zrem(self.keys.workers(), worker)

    def live_workers(self) -> int:
        with store_errors():
            return int(
                self.redis.zcount(self.keys.workers(), time.time() - WORKER_STALE_SECONDS, "+inf")
            )


_runtimes: dict[tuple[int, Settings], Runtime] = {}
_current: ContextVar[Runtime | None] = ContextVar("circuitgrad_runtime", default=None)


@contextmanager
def using(rt: Runtime) -> Iterator[Runtime]:
    """Make ``rt`` what ``runtime()`` answers in this context: how a task run in-process
    (local mode) works on its caller's store instead of the environment's."""
    token = _current.set(rt)
    try:
        yield rt
    finally:
        _current.reset(token)


def runtime(s: Settings | None = None) -> Runtime:
    """This process's runtime for ``s`` (default: the one ``using`` set, else the
    environment's settings)."""
    if s is None:
        current = _current.get()
        if current is not None:
            return current
    s = settings() if s is None else s
    key = (os.getpid(), s)
    rt = _runtimes.get(key)
    if rt is None:
        rt = _runtimes[key] = Runtime(s)
    return rt


def warm_up(batch: bool = False) -> None:
    """Run the engine once on a tiny circuit so the first real request finds compiled code
    (numba keeps it on disk: the first process to get here compiles, later ones load).

    ``batch`` also runs the multi-threaded batch evaluation; leave it off in a process
    that forks afterwards (a Celery worker's main process), as numba's thread pool must
    not be running across a fork.
    """
    import numpy as np

    from circuitgrad.engine.building.generate import equation1
    from circuitgrad.engine.evaluation.evaluate import evaluate
    from circuitgrad.engine.formats.codec import from_msgpack, to_json, to_msgpack
    from circuitgrad.engine.passes.gradient import differentiate

    c = equation1()
    g = differentiate(c, mode="auto")
    from_msgpack(to_msgpack(g.circuit, packed=True))
    to_json(g.circuit)
    evaluate(g.circuit, np.ones((1, 3)))
    if batch:
        evaluate(g.circuit, np.ones((64, 3)))
