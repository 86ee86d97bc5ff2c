"""One Redis client per process and URL, and Redis failures as store errors."""

from __future__ import annotations

import os
from contextlib import contextmanager

import redis

from .errors import StoreFull, StoreUnavailable

_clients: dict[tuple[int, str], redis.Redis] = {}


def redis_client(url: str) -> redis.Redis:
    """A client for ``url`` owned by this process (a forked child gets its own)."""
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=2,
            socket_timeout=30,
            health_check_interval=30,
            retry_on_timeout=False,
        )
        _clients[key] = client
    return client


def is_oom(exc: BaseException) -> bool:
    return isinstance(exc, redis.OutOfMemoryError) or (
        isinstance(exc, redis.ResponseError) and str(exc).startswith("OOM")
    )


@contextmanager
def store_errors():
    """Redis connection trouble -> StoreUnavailable; a write refused at maxmemory -> StoreFull."""
    try:
        yield
    except (redis.ConnectionError, redis.TimeoutError) as e:
        raise StoreUnavailable(str(e)) from e
    except redis.ResponseError as e:
        if is_oom(e):
            raise StoreFull(str(e)) from e
        raise
