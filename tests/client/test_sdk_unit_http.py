"""The SDK's HTTP behaviour against scripted answers (httpx.MockTransport): error types,
retries and their delays, Retry-After, timeouts, polling and the wire encodings."""

from __future__ import annotations

import math

import httpx
import msgpack
import numpy as np
import orjson
import pytest

from circuitgrad.client import (
    BadRequest,
    Client,
    Conflict,
    ConnectionFailed,
    JobCancelled,
    JobFailed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceUnavailable,
    Timeout,
    Unauthorized,
    ValidationError,
)
from circuitgrad.client import client as client_module
from circuitgrad.client.retry import PollSchedule, parse_retry_after

INFO = {
    "id": "c1",
    "size": 1,
    "depth": 1,
    "wires": 2,
    "nodes": 3,
    "inputs": ["x", "y"],
    "outputs": ["f"],
}


def problem(status, **extra):
    doc = {"type": "about:blank", "title": "t", "status": status, "detail": "d", **extra}
    return httpx.Response(
        status,
        json=doc,
        headers={"content-type": "application/problem+json", **extra.pop("headers", {})},
    )


def packed(doc, status=200, headers=None):
    return httpx.Response(
        status,
        content=msgpack.packb(doc),
        headers={"content-type": "application/msgpack", **(headers or {})},
    )


@pytest.fixture
def sleeps(monkeypatch):
    """Record the client's sleeps instead of sleeping."""
    slept = []
    monkeypatch.setattr(client_module.time, "sleep", slept.append)
    return slept


def make(handler, **kw):
    return Client("http://127.0.0.1:9", transport=httpx.MockTransport(handler), **kw)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, BadRequest),
        (401, Unauthorized),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (415, BadRequest),
        (422, ValidationError),
        (500, ServerError),
    ],
)
def test_problem_documents_become_typed_errors(status, error, sleeps):
    calls = []

    def handler(request):
        calls.append(request)
        return problem(status)

    with pytest.raises(error) as info:
        make(handler).upload("x*y")
    assert info.value.status == status and info.value.detail == "d"
    assert len(calls) == 1 and sleeps == []  # never retried


def test_validation_error_carries_each_pointer():
    errors = [
        {"path": "/gates/12/args/1", "message": "forward reference"},
        {"path": "/inputs/0", "message": "bad name"},
    ]
    with pytest.raises(ValidationError) as info:
        make(lambda r: problem(422, errors=errors)).upload({"inputs": ["x"], "gates": []})
    assert [(e.path, e.message) for e in info.value.errors] == [
        ("/gates/12/args/1", "forward reference"),
        ("/inputs/0", "bad name"),
    ]
    assert isinstance(info.value, ValueError) and "/gates/12/args/1" in str(info.value)


def test_503_then_recovers_with_backoff(sleeps):
    answers = iter([problem(503), problem(503), packed(INFO, 201)])
    ref = make(lambda r: next(answers), retry=RetryPolicy(initial_delay=0.5, jitter=0.0)).upload(
        "x*y"
    )
    assert ref.id == "c1" and ref.inputs == ["x", "y"] and ref.size == 1
    assert sleeps == [0.5, 1.0]  # exponential: 0.5 · 2^attempt


def test_jitter_stays_within_its_band(sleeps):
    answers = iter([problem(503)] * 3 + [packed(INFO)])
    make(lambda r: next(answers), retry=RetryPolicy(initial_delay=1.0, jitter=0.25)).upload("x")
    for attempt, slept in enumerate(sleeps):
        assert 0.75 * 2**attempt <= slept <= 2**attempt


def test_retry_after_is_honoured_for_429_and_503(sleeps):
    answers = iter(
        [
            problem(429, headers={"Retry-After": "3"}),
            problem(503, headers={"Retry-After": "0.2"}),
            packed(INFO),
        ]
    )
    make(lambda r: next(answers)).upload("x")
    assert sleeps == [3.0, 0.2]


def test_retries_are_bounded(sleeps):
    calls = []

    def handler(request):
        calls.append(1)
        return problem(503, headers={"Retry-After": "1"})

    with pytest.raises(ServiceUnavailable) as info:
        make(handler, max_retries=2).upload("x")
    assert len(calls) == 3 and sleeps == [1.0, 1.0] and info.value.retry_after == 1.0


def test_too_long_retry_after_gives_up_at_once(sleeps):
    with pytest.raises(RateLimited) as info:
        make(lambda r: problem(429, headers={"Retry-After": "3600"})).upload("x")
    assert sleeps == [] and info.value.retry_after == 3600


def test_connection_errors_are_retried_then_typed(sleeps):
    calls = []

    def refuse(request):
        calls.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ConnectionFailed) as info:
        make(refuse, max_retries=3).upload("x")
    assert len(calls) == 4 and len(sleeps) == 3
    assert isinstance(info.value, ServiceUnavailable)
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_connection_error_then_success(sleeps):
    answers = iter(["refuse", packed(INFO)])

    def handler(request):
        a = next(answers)
        if a == "refuse":
            raise httpx.ConnectError("refused", request=request)
        return a

    assert make(handler).upload("x").id == "c1"


def test_request_timeouts_raise_timeout(sleeps):
    def slow(request):
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(Timeout) as info:
        make(slow, max_retries=1).upload("x")
    assert isinstance(info.value, TimeoutError) and len(sleeps) == 1


def test_msgpack_is_the_default_wire_and_bearer_key_is_sent():
    seen = {}

    def handler(request):
        seen.update(request.headers)
        seen["body"] = msgpack.unpackb(request.content)
        return packed(INFO, 201)

    make(handler, api_key="k-1").upload("x*y", inputs=["y", "x"], output="g")
    assert seen["content-type"] == "application/msgpack"
    assert seen["accept"].startswith("application/msgpack")
    assert seen["authorization"] == "Bearer k-1"
    assert seen["body"] == {"expression": "x*y", "inputs": ["y", "x"], "output": "g"}


def test_json_wire_writes_nonfinite_numbers_as_strings():
    seen = {}

    def handler(request):
        seen["body"] = orjson.loads(request.content)
        return httpx.Response(200, json={"outputs": ["f"], "values": [["NaN"], ["-Infinity"]]})

    client = make(handler, wire_format="json")
    values = client.evaluate("c1", {"x": [math.inf, 1.0], "y": [math.nan, 2.0]})
    assert seen["body"] == {"points": {"x": ["Infinity", 1.0], "y": ["NaN", 2.0]}}
    assert np.isnan(values[0, 0]) and values[1, 0] == -math.inf and values.shape == (2, 1)


def test_evaluate_shapes_and_point_forms():
    bodies = []

    def handler(request):
        body = msgpack.unpackb(request.content)
        bodies.append(body["points"])
        n = len(next(iter(body["points"].values())))
        return packed({"outputs": ["f", "g"], "values": [[i, -i] for i in range(n)]})

    client = make(handler)
    ref = client._ref(INFO)
    assert client.evaluate(ref, {"x": 1, "y": 2}).shape == (2,)  # one point: one row
    assert client.evaluate(ref, [{"x": 1, "y": 2}, {"x": 3, "y": 4}]).shape == (2, 2)
    assert client.evaluate(ref, np.array([[1.0, 2.0], [3, 4], [5, 6]])).shape == (3, 2)
    assert client.evaluate(ref, {"x": [1, 2, 3], "y": 0}).shape == (3, 2)  # scalar broadcast
    assert bodies[1] == {"x": [1.0, 3.0], "y": [2.0, 4.0]}  # rows travel as columns
    assert bodies[2] == {"x": [1.0, 3.0, 5.0], "y": [2.0, 4.0, 6.0]}  # array columns by name
    assert bodies[3] == {"x": [1.0, 2.0, 3.0], "y": [0.0, 0.0, 0.0]}
    with pytest.raises(ValidationError) as info:
        client.evaluate(ref, np.zeros((2, 3)))
    assert info.value.errors[0].path == "/points"


def job_doc(status, progress=0.0, **extra):
    return {
        "id": "j1",
        "kind": "gradient",
        "status": status,
        "progress": progress,
        "created_at": "t0",
        "updated_at": "t1",
        "result": None,
        "error": None,
        **extra,
    }


def test_gradient_job_polls_with_backoff_until_done(sleeps):
    states = iter(
        [
            packed(job_doc("queued"), 202),
            packed(job_doc("running", 0.3)),
            packed(job_doc("running", 0.6), headers={"Retry-After": "0.7"}),
            packed(
                job_doc(
                    "succeeded", 1.0, result={"circuit_id": "g1", "size": 5, "depth": 2, "wires": 9}
                )
            ),
        ]
    )
    requests = []

    def handler(request):
        requests.append((request.method, str(request.url), request.content))
        return next(states)

    client = make(handler)
    client.settings.poll.update(initial=0.1, factor=2.0, maximum=10.0)
    ref = client._ref(INFO)
    job = client.gradient(ref, wrt=["y"], mode="forward", include_value=True)
    assert job.status == "queued" and not job.done
    assert job.wait(timeout=60) is job
    assert job.status == "succeeded" and job.progress == 1.0
    # each poll is a long poll for the next delay: growing, at least the Retry-After
    waits = [float(httpx.URL(path).params.get("wait", 0)) for _, path, _ in requests[1:]]
    assert waits == [0.1, 0.2, 0.7]
    # this server answers at once, so the client sleeps out the rest of each delay
    assert len(sleeps) == 2 and 0.09 < sleeps[0] <= 0.1 and 0.19 < sleeps[1] <= 0.2
    assert msgpack.unpackb(requests[0][2]) == {
        "circuit_id": "c1",
        "mode": "forward",
        "wrt": ["y"],
        "include_value": True,
        "simplify": True,
    }
    grad = job.result
    assert grad.id == "g1" and grad.size == 5 and grad.inputs == ["x", "y"]
    assert grad.outputs == ["f", "df/dy"]  # circuit-format.md's names, value first


def test_wait_timeout_raises_and_failed_or_cancelled_jobs_raise(sleeps):
    client = make(lambda r: packed(job_doc("running", 0.5)))
    job = client.job("j1")
    with pytest.raises(Timeout, match="j1 still running"):
        job.wait(timeout=0.0)
    failed = {
        "type": "about:blank",
        "title": "Invalid",
        "status": 422,
        "detail": "bad wrt",
        "errors": [{"path": "/wrt/0", "message": "unknown name 'q'"}],
    }
    client = make(lambda r: packed(job_doc("failed", error=failed)))
    with pytest.raises(JobFailed) as info:
        client.job("j1").wait()
    assert info.value.errors[0].path == "/wrt/0" and info.value.job.status == "failed"
    client = make(lambda r: packed(job_doc("cancelled")))
    with pytest.raises(JobCancelled):
        client.job("j1").wait()


def test_cancel_sends_delete_and_409_is_conflict():
    methods = []

    def handler(request):
        methods.append(request.method)
        if request.method == "DELETE" and len(methods) > 2:
            return problem(409)
        return packed(job_doc("cancelled" if request.method == "DELETE" else "running"))

    job = make(handler).job("j1")
    assert job.cancel().status == "cancelled"
    with pytest.raises(Conflict):
        job.cancel()
    assert methods == ["GET", "DELETE", "DELETE"]


def test_large_batches_become_evaluation_jobs(sleeps):
    paths = []

    def handler(request):
        paths.append((request.method, request.url.path))
        if request.url.path == "/v1/evaluations":
            body = msgpack.unpackb(request.content)
            assert body["circuit_id"] == "c1" and len(body["points"]["x"]) == 5
            return packed({**job_doc("queued"), "kind": "evaluation"}, 202)
        if request.url.path == "/v1/jobs/j1/values":
            return packed({"outputs": ["f"], "values": [[1.0]] * 5})
        return packed(
            {
                **job_doc("succeeded", 1.0),
                "kind": "evaluation",
                "result": {"outputs": ["f"], "points": 5, "values_url": "/v1/jobs/j1/values"},
            }
        )

    client = make(handler, eval_job_points=4)
    values = client.evaluate(client._ref(INFO), {"x": np.arange(5.0), "y": np.ones(5)})
    assert values.shape == (5, 1)
    assert paths == [
        ("POST", "/v1/evaluations"),
        ("GET", "/v1/jobs/j1"),
        ("GET", "/v1/jobs/j1/values"),
    ]


def test_retry_after_parsing_and_poll_schedule():
    assert parse_retry_after("2.5") == 2.5 and parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None
    s = PollSchedule(initial=1.0, factor=2.0, maximum=3.0)
    assert [s.next_delay(None, None) for _ in range(4)] == [1.0, 2.0, 3.0, 3.0]
    assert s.next_delay(5.0, 0.5) == 0.5  # never past the deadline
    assert s.next_delay(0.0, None) == 3.0  # Retry-After is a lower bound, not a shortcut
    assert s.next_delay(7.0, None) == 7.0


def test_large_engine_circuits_are_sent_packed_and_small_ones_as_rows():
    from circuitgrad.engine.building.expr import build, inputs
    from circuitgrad.engine.formats.codec import PACKED_THRESHOLD

    bodies = []

    def handler(request):
        bodies.append(msgpack.unpackb(request.content))
        return packed(INFO, 201)

    x, y = inputs("x y")
    chain = x
    for k in range(PACKED_THRESHOLD + 10):
        chain = (chain * y + k).__abs__() if k % 2 else chain * y + k
    client = make(handler)
    client.upload(build({"f": chain}))
    client.upload(build({"f": x * y}))
    assert bodies[0]["format"] == "circuitgrad.packed/1" and isinstance(bodies[0]["op"], bytes)
    assert bodies[1]["format"] == "circuitgrad.circuit/1" and isinstance(bodies[1]["gates"], list)
