"""One Redis client per process and URL, and Redis failures as store errors."""

from __future__ import annotations

import os
from contextlib import contextmanager

import redis

from .errors import StoreFull, StoreUnavailable

_clients: dict[tuple[int, str], redis.Redis] = {}

# Under gevent one API process answers hundreds of requests at once; each Redis command
# borrows a connection only for its round trip. A bounded pool that makes a request wait
# for a free connection keeps a burst (200 long polls re-reading their records together)
# from opening a connection each; redis-py's default pool refuses the 101st instead
# ("Too many connections"), which would answer 503 to a healthy service.
POOL_CONNECTIONS = 64
POOL_WAIT_SECONDS = 10


def redis_client(url: str) -> redis.Redis:
    """A client for ``url`` owned by this process (a forked child gets its own)."""
    key = (os.getpid(), url)
    client = _clients.get(key)
    if client is None:
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=POOL_CONNECTIONS,
            timeout=POOL_WAIT_SECONDS,
            socket_connect_timeout=2,
            socket_timeout=30,
            health_check_interval=30,
            retry_on_timeout=False,
        )
        client = redis.Redis(connection_pool=pool)
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
