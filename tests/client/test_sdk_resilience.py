"""Retries, timeouts and authentication over real sockets: a proxy in front of the real
service that answers 503 first, a service that is down and comes back, a server too
slow to answer, and the stack's API keys. Every address is on 127.0.0.1."""

from __future__ import annotations

import time
import uuid

import httpx
import numpy as np
import pytest
from sdk_support import KEY_A, KEY_B, FlakyProxy, LateProxy, SlowServer, free_port

from circuitgrad.client import (
    Client,
    ConnectionFailed,
    NotFound,
    RetryPolicy,
    ServiceUnavailable,
    Timeout,
    Unauthorized,
)
from circuitgrad.client.local import local_transport

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
FAST = RetryPolicy(max_retries=3, initial_delay=0.05, max_delay=0.2)


class FlakyTransport(httpx.BaseTransport):
    """Local mode's transport behind ``failures`` answers of 503: the same test in-process."""

    def __init__(self, inner: httpx.BaseTransport, failures: int):
        self.inner, self.failures, self.seen = inner, failures, 0

    def handle_request(self, request):
        self.seen += 1
        if self.seen <= self.failures:
            return httpx.Response(
                503,
                headers={"retry-after": "0", "content-type": "application/problem+json"},
                json={"title": "Service Unavailable", "status": 503},
            )
        return self.inner.handle_request(request)


@pytest.fixture
def flaky(mode, request):
    """(client factory, counter) with ``failures`` 503s in front of the service."""
    made = []

    def make(failures: int, **kw):
        if mode == "local":
            transport = FlakyTransport(local_transport(namespace=uuid.uuid4().hex), failures)
            client = Client("local", transport=transport, **kw)
            made.append((client, None, None))
            return client, lambda: transport.seen
        proxy = FlakyProxy(request.getfixturevalue("sdk_service_url"), failures)
        client = Client(proxy.url, api_key=KEY_A, **kw)
        made.append((client, None, proxy))
        return client, lambda: proxy.seen

    yield make
    for client, _, proxy in made:
        client.close()
        if proxy is not None:
            proxy.close()


def test_503_then_the_service_recovers(flaky):
    client, seen = flaky(2, retry=FAST)
    f = client.upload(EQ1)  # two 503s, then through
    assert seen() == 3 and f.size == 7
    job = f.gradient()
    grad = job.wait(timeout=60).result
    np.testing.assert_allclose(grad.evaluate({"x": 1.0, "y": 2.0, "z": 3.0}), [-66.0, 60.0, 240.0])


def test_503_retries_are_bounded(flaky):
    client, seen = flaky(100, retry=RetryPolicy(max_retries=2, initial_delay=0.01))
    with pytest.raises(ServiceUnavailable) as info:
        client.upload(EQ1)
    assert seen() == 3 and info.value.status == 503
    client, seen = flaky(100, max_retries=0)
    assert client.ready() is False  # a 503 from ready is its answer: not retried
    with pytest.raises(ServiceUnavailable):
        client.upload(EQ1)
    assert seen() == 2


def test_a_service_that_comes_back_after_refusing_connections(sdk_service_url):
    late = LateProxy(sdk_service_url, delay=0.6)
    try:
        started = time.monotonic()
        with Client(
            late.url,
            api_key=KEY_A,
            retry=RetryPolicy(max_retries=6, initial_delay=0.1, max_delay=0.5),
        ) as c:
            f = c.upload(EQ1)
        assert f.size == 7 and time.monotonic() - started >= 0.6
        assert late.proxy is not None and late.proxy.forwarded == 1
    finally:
        late.close()


def test_nothing_listening_is_connection_failed():
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with Client(url, retry=RetryPolicy(max_retries=2, initial_delay=0.05)) as c:
        with pytest.raises(ConnectionFailed) as info:
            c.upload(EQ1)
    assert isinstance(info.value, ServiceUnavailable)
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert time.monotonic() - started < 2


def test_a_server_too_slow_to_answer_times_out():
    slow = SlowServer(delay=2.0)
    try:
        started = time.monotonic()
        with Client(
            slow.url, timeout=0.2, retry=RetryPolicy(max_retries=1, initial_delay=0.05)
        ) as c:
            with pytest.raises(Timeout) as info:
                c.health()  # health is not retried: one attempt
            with pytest.raises(Timeout):
                c.upload(EQ1)  # one retry: two attempts
        assert isinstance(info.value, TimeoutError)
        assert slow.calls == 3 and time.monotonic() - started < 1.5
    finally:
        slow.close()


def test_missing_or_unknown_api_keys_are_unauthorized(sdk_keyed_url, monkeypatch):
    monkeypatch.delenv("CIRCUITGRAD_API_KEY", raising=False)
    with Client(sdk_keyed_url) as anonymous:
        assert anonymous.health()["status"] == "ok"  # health needs no key
        with pytest.raises(Unauthorized) as info:
            anonymous.upload(EQ1)
        assert info.value.status == 401
    with Client(sdk_keyed_url, api_key="not-a-key") as wrong:
        with pytest.raises(Unauthorized):
            wrong.job("0" * 32)
    monkeypatch.setenv("CIRCUITGRAD_API_KEY", KEY_A)
    monkeypatch.setenv("CIRCUITGRAD_URL", sdk_keyed_url)
    with Client() as from_env:  # address and key from the environment
        assert from_env.upload(EQ1).size == 7


def test_circuits_and_jobs_of_another_tenant_are_not_found(sdk_keyed_url):
    with Client(sdk_keyed_url, api_key=KEY_A) as a, Client(sdk_keyed_url, api_key=KEY_B) as b:
        ref = a.upload("x*y + 7")
        job = ref.gradient()
        with pytest.raises(NotFound):
            b.circuit(ref.id)
        with pytest.raises(NotFound):
            b.job(job.id)
        assert b.upload("x*y + 7").id == ref.id  # storing it makes it theirs too
        assert b.circuit(ref.id).id == ref.id
        assert job.wait(timeout=60).result.outputs == ["df/dx", "df/dy"]
