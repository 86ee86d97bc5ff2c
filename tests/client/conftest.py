"""Fixtures of the SDK tests: the real service and local mode.

The service is the session's process stack of tests/conftest.py (the API and two Celery
workers as docker-compose.yml starts them, a real Redis; at most 1000 points per
synchronous evaluation), plus, for authentication and tenancy, one more API process with
two API keys on the same Redis and workers. ``connect`` makes clients of the current
``mode``, ``local`` (the service's app in-process) or ``service``: tests that use it run in both.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import httpx
import pytest
from sdk_support import KEY_A, KEY_B, free_port

from circuitgrad.client import AsyncClient, Client
from circuitgrad.client.local import local_transport


@pytest.fixture(scope="session")
def sdk_service_url(stack) -> str:
    """The session's process stack of tests/conftest.py: API, two workers, real Redis."""
    return stack.url


@pytest.fixture(scope="session")
def sdk_keyed_url(stack, redis_url, namespace, tmp_path_factory):
    """One more API process on the same Redis and queue, with two API keys (two tenants):
    authentication and tenancy are the API's business, so the workers are shared."""
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_url,
        "CIRCUITGRAD_KEY_PREFIX": f"{namespace}:",
        "CIRCUITGRAD_QUEUE": namespace,
        "CIRCUITGRAD_RATE_LIMIT": "0",
        "CIRCUITGRAD_API_KEYS": f"{KEY_A}:tenant-a,{KEY_B}:tenant-b",
    }
    log = open(tmp_path_factory.mktemp("sdk-api") / "api.log", "ab")
    command = [
        sys.executable,
        "-m",
        "circuitgrad.service.cli",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--processes",
        "1",
        "--threads",
        "4",
    ]
    api = subprocess.Popen(
        command,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/v1/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if api.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the keyed API did not start (log: {log.name})")
        time.sleep(0.1)
    yield url
    os.killpg(api.pid, signal.SIGTERM)
    try:
        api.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(api.pid, signal.SIGKILL)
        api.wait()
    log.close()


@pytest.fixture(params=["local", "service"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def connect(mode, request):
    """Make clients of the current mode (``connect(AsyncClient, wire_format="json")``);
    in local mode all of one test share one in-process service."""
    made: list = []
    namespace = uuid.uuid4().hex  # local mode: this test's own keys in the local stack
    url = "local" if mode == "local" else request.getfixturevalue("sdk_service_url")

    def make(cls=Client, **kw):
        kw.setdefault("api_key", KEY_A)
        if mode == "local":
            transport = local_transport(asynchronous=cls is AsyncClient, namespace=namespace)
            kw.setdefault("transport", transport)
        client = cls(url, **kw)
        made.append(client)
        return client

    make.url = url
    yield make
    for client in made:
        if isinstance(client, Client):
            client.close()


@pytest.fixture
def sdk(connect) -> Client:
    return connect()
