"""Jobs through the Flask app on a real Redis, the task bodies run in-process (the real
worker processes are in tests/integration)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np
import pytest

from circuitgrad.engine.building.generate import equation1, u_example
from circuitgrad.engine.evaluation.evaluate import evaluate_reference
from circuitgrad.engine.formats.codec import from_json, to_document
from circuitgrad.service.app import create_app
from circuitgrad.worker import work
from circuitgrad.worker.runtime import runtime

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


@pytest.fixture
def rt(service_settings):
    return runtime(service_settings)


def submit(client, **body):
    r = client.post("/v1/gradients", json=body)
    assert r.status_code in (200, 202), r.get_json()
    return r


def test_gradient_job_lifecycle_and_certificate(client, rt, oracle):
    c = u_example()
    r = submit(client, circuit=to_document(c), mode="backward")
    job = r.get_json()
    assert r.status_code == 202 and job["status"] == "queued" and job["progress"] == 0
    assert r.headers["Location"] == f"/v1/jobs/{job['id']}" and "Retry-After" in r.headers
    assert work.run_gradient(rt, job["id"], "test-worker") == "succeeded"
    done = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0 and done["error"] is None
    result = done["result"]
    cert = result["certificate"]
    assert result["mode"] == cert["mode"] == "backward"
    assert cert["source"]["size"] == 4 and cert["source"]["wires"] == 8
    assert cert["raw"]["size"] <= cert["theorem3_bound"] == 3 * 8 + 6 and cert["within_bound"]
    assert result["size"] == cert["result"]["size"]
    g = from_json(client.get(f"/v1/circuits/{result['circuit_id']}").data)
    assert list(g.output_names) == ["dy/dx1", "dy/dx2"]
    oracle.assert_jacobian_matches(c, g, np.array([0.3, -1.7]))


def test_auto_reports_the_mode_it_used(client, rt):
    job = submit(client, expression="sin(x) * y", mode="auto").get_json()
    work.run_gradient(rt, job["id"], "w")
    result = client.get(f"/v1/jobs/{job['id']}").get_json()["result"]
    assert (
        result["mode"] in ("forward", "backward")
        and result["certificate"]["mode"] == result["mode"]
    )


def test_resubmission_returns_the_same_job_then_its_result(client, rt):
    body = {"expression": "x*y + z", "wrt": ["z", "x"]}
    first, again = submit(client, **body).get_json(), submit(client, **body).get_json()
    assert first["id"] == again["id"] and again["status"] == "queued"
    work.run_gradient(rt, first["id"], "w")
    r = submit(client, **body)
    assert r.status_code == 200 and r.get_json()["status"] == "succeeded"
    assert r.get_json()["id"] == first["id"]
    assert rt.jobs.get(first["id"])["deliveries"] == 1


def test_a_resubmission_after_deleting_the_result_computes_it_again(client, rt):
    """The tenant deleted the result circuit: asking again must not answer the old job,
    whose result it can no longer read, but a new one that stores the result again."""
    body = {"expression": f"x*x*y + {uuid.uuid4().int % 9973}"}
    first = submit(client, **body).get_json()
    work.run_gradient(rt, first["id"], "w")
    result = client.get(f"/v1/jobs/{first['id']}").get_json()["result"]["circuit_id"]
    assert client.delete(f"/v1/circuits/{result}").status_code == 204
    assert client.get(f"/v1/circuits/{result}").status_code == 404
    r = submit(client, **body)
    again = r.get_json()
    assert r.status_code == 202 and again["id"] == f"{first['id']}-1"
    work.run_gradient(rt, again["id"], "w")
    done = client.get(f"/v1/jobs/{again['id']}").get_json()
    assert done["status"] == "succeeded" and done["result"]["circuit_id"] == result
    values = client.post(f"/v1/circuits/{result}/evaluate", json={"points": [{"x": 3, "y": 2}]})
    assert values.get_json()["values"] == [[12.0, 9.0]]  # 2xy and x² at (3, 2)


def test_concurrent_duplicate_submissions_make_one_job(client, app, rt):
    body = {"expression": "exp(a) * b - a", "mode": "forward"}
    with ThreadPoolExecutor(8) as pool:
        ids = set(
            pool.map(
                lambda _: app.test_client().post("/v1/gradients", json=body).get_json()["id"],
                range(16),
            )
        )
    assert len(ids) == 1
    # one task message went out: the queue holds exactly one for this job
    job_id = ids.pop()
    queue = rt.redis.lrange(f"{rt.settings.key_prefix}{rt.settings.queue}", 0, -1)
    assert sum(job_id.encode() in m for m in queue) == 1


INVALID_GRADIENT_REQUESTS = [
    ({"circuit_id": "x", "expression": "x"}, ""),
    ({}, ""),
    ({"expression": "x*y", "wrt": ["x", "q"]}, "/wrt/1"),
    ({"expression": "x*y", "wrt": ["x", "x"]}, "/wrt/1"),
    ({"expression": "x*y", "wrt": []}, "/wrt"),
    ({"expression": "x*y", "wrt": "x"}, "/wrt"),
    ({"expression": "x*y", "wrt": [1]}, "/wrt/0"),
    ({"expression": "x*y", "of": ["g"]}, "/of/0"),
    ({"expression": "x*y", "of": []}, "/of"),
    ({"expression": "x*y", "mode": "sideways"}, "/mode"),
    ({"expression": "x*y", "simplify": "yes"}, "/simplify"),
    ({"expression": "x*y", "include_value": 1}, "/include_value"),
    ({"expression": "x*y", "colour": 1}, "/colour"),
    ({"circuit_id": 5}, "/circuit_id"),
    ({"expression": "2 + 3"}, "/wrt"),
]


@pytest.mark.parametrize("body, path", INVALID_GRADIENT_REQUESTS)
def test_invalid_gradient_requests_are_422_with_their_path(client, body, path):
    r = client.post("/v1/gradients", json=body)
    assert r.status_code == 422, r.get_json()
    assert path in [e["path"] for e in r.get_json()["errors"]], r.get_json()


def test_cancel_a_queued_job_then_409(client, rt):
    job = submit(client, expression="tanh(u) * v").get_json()
    r = client.delete(f"/v1/jobs/{job['id']}")
    assert r.status_code == 200 and r.get_json()["status"] == "cancelled"
    assert work.run_gradient(rt, job["id"], "w") == "final"  # the worker skips it
    again = client.delete(f"/v1/jobs/{job['id']}")
    assert again.status_code == 409 and again.get_json()["status"] == 409
    assert client.get(f"/v1/jobs/{job['id']}").get_json()["status"] == "cancelled"
    # the same request afterwards is a new job that runs
    fresh = submit(client, expression="tanh(u) * v").get_json()
    assert fresh["id"] != job["id"] and fresh["status"] == "queued"


def test_a_cancelled_running_job_writes_no_result(client, rt, monkeypatch):
    job = submit(client, expression="sin(p) * q + p").get_json()
    stored = []
    real_put = rt.circuits.put

    def put_after_cancel(c, measured=None):  # the cancellation lands while the result is stored
        client.delete(f"/v1/jobs/{job['id']}")
        meta, created = real_put(c, measured)
        stored.append(meta["id"])
        return meta, created

    monkeypatch.setattr(rt.circuits, "put", put_after_cancel)
    assert work.run_gradient(rt, job["id"], "w") == "cancelled"
    record = rt.jobs.get(job["id"])
    assert record["status"] == "cancelled" and "result" not in record
    # the computed circuit is not the tenant's (nothing grants it; it may be another job's
    # result too, ids being content hashes, so it is left to expire, not deleted)
    assert not rt.circuits.readable(stored[0], record["tenant"])
    assert client.get(f"/v1/circuits/{stored[0]}").status_code == 404


def test_the_engine_stops_when_cancelled(client, rt):
    job = submit(client, expression="sin(p) * q + p*q*q").get_json()
    hooks = work.Hooks(rt, job["id"])
    assert not hooks.should_stop(force=True)
    rt.jobs.cancel(job["id"])
    assert hooks.should_stop(force=True)


def test_a_job_that_keeps_killing_its_worker_fails(client, rt, service_settings):
    job = submit(client, expression="cos(k) * k").get_json()
    for _ in range(service_settings.max_deliveries):  # deliveries whose worker then died
        outcome, _ = rt.jobs.claim(
            job["id"], "w", service_settings.max_deliveries, work.exhausted_problem(3)
        )
        assert outcome == "claimed"
        assert rt.jobs.claim(job["id"], "w", 9, {})[0] == "busy"  # while its lease lives
        rt.redis.hset(rt.keys.job(job["id"]), "lease_until", 0)  # ...its worker died
    assert work.run_gradient(rt, job["id"], "w") == "exhausted"
    failed = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert failed["status"] == "failed" and failed["error"]["type"].endswith("worker-lost")


def test_engine_failure_becomes_a_failed_job(client, rt, monkeypatch):
    from circuitgrad.engine.errors import CircuitError

    job = submit(client, expression="x - y*y").get_json()

    def refuse(*a, **k):
        raise CircuitError("no such thing", "/wrt/0")

    monkeypatch.setattr(work, "differentiate", refuse)
    assert work.run_gradient(rt, job["id"], "w") == "failed"
    failed = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert failed["error"]["status"] == 422
    assert failed["error"]["errors"] == [{"path": "/wrt/0", "message": "no such thing"}]


def test_long_poll_returns_when_final(client, rt):
    import threading
    import time

    job = submit(client, expression="x*x*x").get_json()
    threading.Timer(0.3, work.run_gradient, (rt, job["id"], "w")).start()
    t = time.monotonic()
    r = client.get(f"/v1/jobs/{job['id']}?wait=10")
    assert r.get_json()["status"] == "succeeded" and time.monotonic() - t < 5
    assert client.get(f"/v1/jobs/{job['id']}?wait=-1").status_code == 422


def test_large_evaluate_becomes_an_evaluation_job(client, rt, service_settings):
    cid = client.post("/v1/circuits", json={"expression": EQ1}).get_json()["id"]
    X = np.random.default_rng(1).normal(size=(service_settings.max_sync_points + 234, 3))
    r = client.post(
        f"/v1/circuits/{cid}/evaluate",
        json={"points": {k: X[:, i].tolist() for i, k in enumerate("xyz")}},
    )
    assert r.status_code == 202
    job = r.get_json()
    chunks = int(rt.jobs.get(job["id"])["chunks"])
    assert chunks == 4 and job["kind"] == "evaluation"  # 1234 points, 400 a chunk
    assert client.get(f"/v1/jobs/{job['id']}/values").status_code == 409
    for i in reversed(range(chunks)):  # any order: the values come back in point order
        work.run_evaluation_chunk(rt, job["id"], i)
    done = client.get(f"/v1/jobs/{job['id']}").get_json()
    assert done["status"] == "succeeded"
    assert done["result"]["values_url"] == f"/v1/jobs/{job['id']}/values"
    values = client.get(done["result"]["values_url"]).get_json()
    np.testing.assert_allclose(values["values"], evaluate_reference(equation1(), X), rtol=1e-12)


def test_cancelled_evaluation_keeps_nothing(client, rt):
    cid = client.post("/v1/circuits", json={"expression": "x + y"}).get_json()["id"]
    job = client.post(
        "/v1/evaluations",
        json={"circuit_id": cid, "points": {"x": list(range(1000)), "y": [1.0] * 1000}},
    ).get_json()
    work.run_evaluation_chunk(rt, job["id"], 0)
    client.delete(f"/v1/jobs/{job['id']}")
    assert work.run_evaluation_chunk(rt, job["id"], 1) == "final"
    keys = list(rt.redis.scan_iter(match=f"{rt.settings.key_prefix}blob:*{job['id']}*"))
    assert keys == []


def test_tenants_see_only_their_own(service_settings):
    s = replace(service_settings, api_keys=(("ka", "alice"), ("kb", "bob")))
    c = create_app(s).test_client()
    a, b = {"Authorization": "Bearer ka"}, {"Authorization": "Bearer kb"}
    assert c.post("/v1/circuits", json={"expression": "x"}).status_code == 401
    assert (
        c.post(
            "/v1/circuits", json={"expression": "x"}, headers={"Authorization": "Bearer nope"}
        ).status_code
        == 401
    )
    assert c.get("/v1/health").status_code == 200
    assert c.get("/v1/openapi.json").status_code == 200
    cid = c.post("/v1/circuits", json={"expression": "alice*x"}, headers=a).get_json()["id"]
    assert c.get(f"/v1/circuits/{cid}", headers=a).status_code == 200
    assert c.get(f"/v1/circuits/{cid}", headers=b).status_code == 404
    assert c.post("/v1/gradients", json={"circuit_id": cid}, headers=b).status_code == 404
    job = c.post("/v1/gradients", json={"circuit_id": cid}, headers=a).get_json()
    assert c.get(f"/v1/jobs/{job['id']}", headers=b).status_code == 404
    assert c.delete(f"/v1/jobs/{job['id']}", headers=b).status_code == 404
    # bob uploading the same circuit gets 201: nothing tells him alice has it
    assert c.post("/v1/circuits", json={"expression": "alice*x"}, headers=b).status_code == 201


def test_result_computed_for_one_tenant_is_reused_unseen_by_another(service_settings):
    """Tenant 2 asking what tenant 1 computed gets what a first computation gives: 202,
    a fresh queued job (same fields), the result circuit unreadable until the job
    succeeds; the job then succeeds without a worker (nothing is sent to the queue)."""
    s = replace(service_settings, api_keys=(("k1", "t1"), ("k2", "t2")))
    c = create_app(s).test_client()
    rt = runtime(s)
    k1, k2 = ({"Authorization": f"Bearer {k}"} for k in ("k1", "k2"))
    body = {"expression": f"sigmoid(w) * w * {uuid.uuid4().int % 1000}"}
    r1 = c.post("/v1/gradients", json=body, headers=k1)
    first = r1.get_json()
    work.run_gradient(rt, first["id"], "w")
    r2 = c.post("/v1/gradients", json=body, headers=k2)
    other = r2.get_json()
    assert (r2.status_code, other["status"], other["progress"]) == (202, "queued", 0)
    assert other["id"] != first["id"] and other["result"] is None
    assert set(other) == set(first) and set(r2.headers.keys()) == set(r1.headers.keys())
    assert other["created_at"] >= first["updated_at"]
    done = c.get(f"/v1/jobs/{other['id']}?wait=5", headers=k2).get_json()
    assert done["status"] == "succeeded" and done["progress"] == 1
    result_id = done["result"]["circuit_id"]
    assert c.get(f"/v1/circuits/{result_id}", headers=k2).status_code == 200
    assert rt.jobs.get(other["id"])["deliveries"] == 0  # no worker took it
    again = c.post("/v1/gradients", json=body, headers=k2)  # this tenant's resubmission
    assert again.status_code == 200 and again.get_json()["id"] == other["id"]


def test_a_reused_result_is_unreadable_until_its_job_succeeds(service_settings):
    s = replace(service_settings, api_keys=(("k1", "t1"), ("k2", "t2")))
    c = create_app(s).test_client()
    k1, k2 = ({"Authorization": f"Bearer {k}"} for k in ("k1", "k2"))
    body = {"expression": f"exp(q) * q * {uuid.uuid4().int % 1000}"}
    first = c.post("/v1/gradients", json=body, headers=k1).get_json()
    work.run_gradient(runtime(s), first["id"], "w")
    result_id = c.get(f"/v1/jobs/{first['id']}", headers=k1).get_json()["result"]["circuit_id"]
    other = c.post("/v1/gradients", json=body, headers=k2).get_json()
    assert c.get(f"/v1/circuits/{result_id}", headers=k2).status_code == 404
    cancelled = c.delete(f"/v1/jobs/{other['id']}", headers=k2).get_json()
    assert cancelled["status"] == "cancelled"
    assert c.get(f"/v1/jobs/{other['id']}?wait=1", headers=k2).get_json()["status"] == "cancelled"
    assert c.get(f"/v1/circuits/{result_id}", headers=k2).status_code == 404


def test_ready_needs_a_live_worker(service_settings, rt):
    c = create_app(
        replace(service_settings, key_prefix="noworkers-" + service_settings.key_prefix)
    ).test_client()
    r = c.get("/v1/ready")
    assert r.status_code == 503 and "Retry-After" in r.headers
    assert c.get("/v1/health").status_code == 200
    rt.heartbeat("test-worker@here")
    ready = create_app(service_settings).test_client().get("/v1/ready")
    assert ready.status_code == 200 and ready.get_json()["workers"] >= 1
    rt.forget_worker("test-worker@here")


def test_rate_limit_is_429_with_retry_after(service_settings):
    c = create_app(
        replace(
            service_settings, rate_limit=5, key_prefix="ratelimit-" + service_settings.key_prefix
        )
    ).test_client()
    codes = [c.get("/v1/jobs/none").status_code for _ in range(12)]
    assert 429 in codes and codes[0] == 404
    r = next(r for r in (c.get("/v1/jobs/none") for _ in range(3)) if r.status_code == 429)
    assert r.headers["Retry-After"] == "1" and r.get_json()["status"] == 429


def test_colliding_result_names_and_a_missing_circuit_id_are_422(client):
    doc = {"inputs": ["x"], "gates": [{"op": "sin", "args": [0]}, {"op": "cos", "args": [0]}],
           "outputs": [1, 2], "output_names": ["f", "df/dx"]}  # fmt: skip
    r = client.post("/v1/gradients", json={"circuit": doc, "include_value": True})
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["path"] == "/include_value"
    assert client.post("/v1/gradients", json={"circuit": doc}).status_code == 202
    r = client.post("/v1/evaluations", json={"points": [{"x": 1}]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["path"] == "/circuit_id"
