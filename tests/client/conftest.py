"""Fixtures of the SDK tests: a real service, local mode, and small misbehaving servers.

``sdk_stack`` is ``circuitgrad serve`` itself (the service's ``Stack``: embedded Redis, a
Celery worker process, the API under gunicorn) started once per session on a free port of
127.0.0.1, with two API keys (two tenants) and a small synchronous evaluation limit so
that the service's own switch to evaluation jobs is exercised. ``sdk`` is a ``Client``
in each mode: ``local`` (the engine in-process) and ``service`` (that stack); the tests
using it run in both.
"""

from __future__ import annotations

import pytest
from sdk_servers import free_port

from circuitgrad.client import AsyncClient, Client
from circuitgrad.client.local import LocalService

KEY_A, KEY_B = "sdk-test-key-a", "sdk-test-key-b"
MAX_SYNC_POINTS = 500  # the stack's synchronous evaluation limit (larger: a job)


@pytest.fixture(scope="session")
def sdk_stack(tmp_path_factory):
    from circuitgrad.service.stack import Stack

    env = {
        "CIRCUITGRAD_API_KEYS": f"{KEY_A}:tenant-a,{KEY_B}:tenant-b",
        "CIRCUITGRAD_MAX_SYNC_POINTS": str(MAX_SYNC_POINTS),
        "CIRCUITGRAD_EVAL_CHUNK_POINTS": "400",
        "CIRCUITGRAD_KEY_PREFIX": "sdktest:",
    }
    stack = Stack(port=free_port(), workers=2, processes=1,
                  data_dir=tmp_path_factory.mktemp("sdk-stack"), env=env)
    stack.start(timeout=120)
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def sdk_service_url(sdk_stack) -> str:
    return sdk_stack.base_url


@pytest.fixture(params=["local", "service"])
def mode(request) -> str:
    return request.param


@pytest.fixture
def connect(mode, request):
    """Make clients of the current mode (``connect(AsyncClient, wire_format="json")``);
    in local mode all of one test share one in-process service."""
    made: list = []
    if mode == "local":
        service = LocalService()
        url = "local"
    else:
        service = None
        url = request.getfixturevalue("sdk_service_url")

    def make(cls=Client, **kw):
        kw.setdefault("api_key", KEY_A)
        if service is not None:
            kw.setdefault("transport", service.transport(asynchronous=cls is AsyncClient))
        client = cls(url, **kw)
        made.append(client)
        return client

    make.url = url
    yield make
    for client in made:
        if isinstance(client, Client):
            client.close()
    if service is not None:
        service.close()


@pytest.fixture
def sdk(connect) -> Client:
    return connect()
