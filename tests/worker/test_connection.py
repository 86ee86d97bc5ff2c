"""One process's Redis client under a burst: more concurrent users than its pool holds.

Under gevent an API process answers hundreds of requests at once (200 long polls re-read
their records together). They must wait their turn for a connection, not be refused:
redis-py's default pool answers the 101st with "Too many connections", which the service
would turn into a 503 while Redis is fine."""

from __future__ import annotations

import threading
import uuid

from circuitgrad.worker import connection


def test_a_burst_larger_than_the_pool_waits_for_connections_instead_of_failing(redis_url):
    client = connection.redis_client(f"{redis_url}?client_name=burst{uuid.uuid4().hex[:6]}")
    users = connection.POOL_CONNECTIONS * 3
    errors: list[BaseException] = []
    key = f"cgtest-burst:{uuid.uuid4().hex}"

    def hold_a_connection():
        try:
            client.blpop([key], timeout=0.2)  # holds its connection for 0.2 s
        except BaseException as e:  # noqa: BLE001 - collected, asserted below
            errors.append(e)

    threads = [threading.Thread(target=hold_a_connection) for _ in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    pool = client.connection_pool
    assert len(pool._connections) <= connection.POOL_CONNECTIONS  # never more than bounded
