"""Bounds of issue 8 in-process: bodies (with a length or chunked), values counted before
decoding, circuits' declared sizes, wrt/of lengths, capped error lists, predicted job
size and work, synchronous evaluation by work, caches in bytes, secrets in settings,
the HTTP front's problem documents."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace

import msgpack
import orjson
import pytest

from circuitgrad.engine.building.generate import random_dag
from circuitgrad.engine.formats.codec import to_packed
from circuitgrad.service.app import create_app
from circuitgrad.service.front import problem_bytes
from circuitgrad.worker.runtime import runtime
from circuitgrad.worker.settings import Settings, with_password
from circuitgrad.worker.store import CircuitStore, circuit_bytes

MP = "application/msgpack"


def client(service_settings, **limits):
    return create_app(replace(service_settings, **limits)).test_client()


def problem(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.data[:300])
    assert r.mimetype == "application/problem+json"
    return r.get_json()


def test_json_and_msgpack_bodies_have_their_own_byte_limits(service_settings):
    c = client(service_settings, max_json_body_bytes=1000, max_body_bytes=5000)
    body = orjson.dumps({"expression": "x*y", "inputs": ["x", "y"], "output": "f" * 2000})
    r = c.post("/v1/circuits", data=body, content_type="application/json")
    assert "CIRCUITGRAD_MAX_JSON_BODY_BYTES" in problem(r, 413)["detail"]
    assert r.headers["Connection"] == "close"
    r = c.post("/v1/circuits", data=msgpack.packb(orjson.loads(body)), content_type=MP)
    assert r.status_code == 422  # 2 KB of msgpack is within its limit; the name is not
    big = msgpack.packb({"expression": "x" * 6000})
    r = c.post("/v1/circuits", data=big, content_type=MP)
    assert "CIRCUITGRAD_MAX_BODY_BYTES" in problem(r, 413)["detail"]


def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(service_settings):
    c = client(service_settings, max_json_body_bytes=1000)
    stream = io.BytesIO(b'{"expression": "' + b"x+" * 10**6 + b'x"}')
    r = c.post(
        "/v1/circuits",
        input_stream=stream,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert "more than 1000 bytes" in problem(r, 413)["detail"]
    assert stream.tell() <= 1001 + (1 << 20)  # at most one read past the limit
    ok = io.BytesIO(b'{"expression": "x*y"}')
    r = c.post(
        "/v1/circuits",
        input_stream=ok,
        headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
    )
    assert r.status_code in (200, 201)


def test_values_are_counted_before_decoding(service_settings):
    c = client(service_settings, max_document_items=100)
    cid = c.post("/v1/circuits", json={"expression": "x*y"}).get_json()["id"]
    body = {"circuit_id": cid, "wrt": ["x"] * 200}
    r = c.post("/v1/gradients", json=body)
    assert "CIRCUITGRAD_MAX_DOCUMENT_ITEMS" in problem(r, 413)["detail"]
    r = c.post("/v1/gradients", data=msgpack.packb(body), content_type=MP)
    assert "CIRCUITGRAD_MAX_DOCUMENT_ITEMS" in problem(r, 413)["detail"]
    nested = msgpack.packb({"circuit_id": cid, "wrt": [["x"] * 60, ["y"] * 60]})
    problem(c.post("/v1/gradients", data=nested, content_type=MP), 413)  # counted in all


def test_declared_sizes_and_long_name_lists_are_refused_before_anything_is_built(
    service_settings,
):
    c = client(service_settings, max_circuit_inputs=10, max_circuit_outputs=10)
    doc = {"inputs": [f"x{i}" for i in range(11)], "gates": [], "outputs": [0]}
    r = c.post("/v1/circuits", json=doc)
    assert "CIRCUITGRAD_MAX_CIRCUIT_INPUTS" in problem(r, 413)["detail"]
    doc = {"inputs": ["x"], "gates": [], "outputs": [0] * 11}
    r = c.post("/v1/circuits", json=doc)
    assert "CIRCUITGRAD_MAX_CIRCUIT_OUTPUTS" in problem(r, 413)["detail"]
    cid = c.post("/v1/circuits", json={"expression": "x*y"}).get_json()["id"]
    errors = problem(c.post("/v1/gradients", json={"circuit_id": cid, "wrt": ["x"] * 5000}), 422)
    assert errors["errors"] == [
        {"path": "/wrt", "message": "has 5000 names; the circuit has only 2 wrt names"}
    ]
    many = problem(c.post("/v1/gradients", json={"circuit_id": cid, "wrt": [1] * 5000}), 422)
    assert len(many["errors"]) == 50  # capped
    assert problem(c.post("/v1/gradients", json={"circuit_id": cid, "wrt": None}), 422)


def test_jobs_over_the_predicted_size_or_work_are_refused_at_submission(service_settings):
    c = client(service_settings, max_result_gates=50_000)
    circuit = random_dag(2_000, n_inputs=300, seed=3)
    r = c.post("/v1/circuits", data=msgpack.packb(to_packed(circuit)), content_type=MP)
    cid = r.get_json()["id"]
    [error] = problem(c.post("/v1/gradients", json={"circuit_id": cid, "mode": "forward"}), 422)[
        "errors"
    ]
    assert error["path"] == "/mode" and "forward mode would build about" in error["message"]
    assert "the limit is 50,000 (CIRCUITGRAD_MAX_RESULT_GATES)" in error["message"]
    assert c.post("/v1/gradients", json={"circuit_id": cid, "mode": "auto"}).status_code == 202
    tight = client(service_settings, max_result_gates=10)
    message = problem(tight.post("/v1/gradients", json={"circuit_id": cid, "mode": "auto"}), 422)[
        "errors"
    ][0]["message"]
    assert message.startswith("auto picks the smaller, backward mode would build")
    slow = client(service_settings, max_job_work=1000)
    r = slow.post("/v1/gradients", json={"circuit_id": cid, "mode": "forward", "wrt": ["x0"]})
    assert "(CIRCUITGRAD_MAX_JOB_WORK)" in problem(r, 422)["errors"][0]["message"]


def test_synchronous_evaluation_is_limited_by_work(service_settings):
    c = client(service_settings, max_sync_work=50)
    expression = {"expression": f"x*y + {uuid.uuid4().int % 999}"}
    cid = c.post("/v1/circuits", json=expression).get_json()["id"]
    one = {"points": [{"x": 1, "y": 2}]}
    assert c.post(f"/v1/circuits/{cid}/evaluate", json=one).status_code == 200
    points = {"points": {"x": [1.0] * 20, "y": [2.0] * 20}}  # 20 x (5 vertices + 1 output)
    r = c.post(f"/v1/circuits/{cid}/evaluate", json=points)
    assert r.status_code == 202 and r.get_json()["kind"] == "evaluation"


def test_evaluation_jobs_are_limited_by_work_and_by_values(service_settings):
    # x*y + k: 5 vertices, 1 output; in a job 40 points are 240 steps and 40 values
    c = client(service_settings, max_sync_work=0, max_eval_work=239, max_eval_values=10**6)
    cid = c.post("/v1/circuits", json={"expression": f"x*y + {uuid.uuid4().int % 999}"})
    cid = cid.get_json()["id"]
    points = {"points": {"x": [1.0] * 40, "y": [2.0] * 40}}
    for r in (
        c.post(f"/v1/circuits/{cid}/evaluate", json=points),
        c.post("/v1/evaluations", json={"circuit_id": cid, **points}),
    ):
        doc = problem(r, 422)
        assert doc["errors"][0]["path"] == "/points"
        assert "240" in doc["detail"] and "CIRCUITGRAD_MAX_EVAL_WORK" in doc["detail"]
    c = client(service_settings, max_sync_work=0, max_eval_values=39)
    r = c.post("/v1/evaluations", json={"circuit_id": cid, **points})
    assert "CIRCUITGRAD_MAX_EVAL_VALUES" in problem(r, 422)["detail"]
    c = client(service_settings, max_sync_work=0, max_eval_work=240, max_eval_values=40)
    r = c.post("/v1/evaluations", json={"circuit_id": cid, **points})
    assert r.status_code == 202, r.data  # at both limits: accepted


def test_the_circuit_cache_is_bounded_in_bytes(service_settings):
    rt = runtime(service_settings)
    one = random_dag(1_000, n_inputs=5, seed=1)
    store = CircuitStore(rt.blobs, cache_bytes=4 * circuit_bytes(one))
    for seed in range(10):
        c = random_dag(1_000, n_inputs=5, seed=100 + seed)
        summary, _ = store.put(c)
        assert store.get(summary["id"]) is not None
    cached, _ = store.cached_bytes()
    assert 0 < cached <= 4 * circuit_bytes(one) * 1.1


def test_secret_files_feed_the_settings(tmp_path):
    (tmp_path / "pw").write_text("s3cr/t:@\n")
    (tmp_path / "keys").write_text("k1:alice\nk2:bob\n")
    s = Settings.from_env(
        {
            "REDIS_URL": "redis://redis:6379/2",
            "CIRCUITGRAD_REDIS_PASSWORD_FILE": str(tmp_path / "pw"),
            "CIRCUITGRAD_API_KEYS_FILE": str(tmp_path / "keys"),
            "CIRCUITGRAD_API_KEYS": "k0:carol",
        }
    )
    assert s.redis_url == "redis://:s3cr%2Ft%3A%40@redis:6379/2"
    assert dict(s.api_keys) == {"k0": "carol", "k1": "alice", "k2": "bob"}
    assert with_password("redis://u@h/0", "") == "redis://u@h/0"
    with pytest.raises(ValueError, match="CIRCUITGRAD_API_KEYS_FILE"):
        Settings.from_env({"CIRCUITGRAD_API_KEYS_FILE": str(tmp_path / "missing")})


def test_the_front_answers_problem_documents():
    raw = problem_bytes(414, "URI Too Long", "Request Line is too large (5017 > 4094)")
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 414 URI Too Long\r\n")
    assert b"Content-Type: application/problem+json" in head and b"Connection: close" in head
    doc = orjson.loads(body)
    assert doc["status"] == 414 and doc["type"].endswith(":uri-too-long")
    assert int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0]) == len(body)
