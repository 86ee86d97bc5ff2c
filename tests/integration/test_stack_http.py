"""The service end to end: real API process (gunicorn), two real Celery worker processes,
a real Redis. Every request goes over HTTP."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import msgpack
import numpy as np
import pytest

from circuitgrad.engine.building.generate import (
    determinant,
    equation1,
    least_squares,
    perceptron_loss,
    random_dag,
    sigma2,
    u_example,
)
from circuitgrad.engine.evaluation.evaluate import evaluate, evaluate_reference
from circuitgrad.engine.formats.codec import from_json, to_document, to_packed

pytestmark = pytest.mark.integration

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
MSGPACK = {"Content-Type": "application/msgpack"}


def grad_eq1(x, y, z):
    """Equations (3) and (4) of the lecture."""
    a, b, c = x - 3 * y - 3 * z + 5, x - 2 * y - 2 * z, x + y - 5 * z - 3
    return [2 * a + 2 * b + 2 * c, -6 * a - 4 * b + 2 * c, -6 * a - 4 * b - 10 * c]


def wait_final(http, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}", params={"wait": 5}).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
    raise AssertionError(f"job {job_id} not final after {timeout} s: {job}")


def wait_running(http, job_id: str, timeout: float = 30.0, progress: bool = False) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] == "running" and (job["progress"] > 0 or not progress):
            return job
        assert job["status"] in ("queued", "running"), job
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} did not start")


def upload(http, c) -> str:
    r = http.post("/v1/circuits", content=msgpack.packb(to_packed(c)), headers=MSGPACK)
    assert r.status_code in (200, 201), r.text
    return r.json()["id"]


def evaluate_remote(http, cid: str, X: np.ndarray, names) -> np.ndarray:
    r = http.post(
        f"/v1/circuits/{cid}/evaluate",
        json={"points": {k: X[:, i].tolist() for i, k in enumerate(names)}},
    )
    assert r.status_code == 200, r.text
    return np.array(r.json()["values"], dtype=float)


def test_equation1_upload_differentiate_poll_evaluate(http):
    r = http.post("/v1/circuits", json={"expression": EQ1})
    assert r.status_code in (200, 201)
    cid = r.json()["id"]
    assert (r.json()["size"], r.json()["depth"]) == (7, 3)
    pts = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 0.25], [0.0, 0.0, 0.0]])
    for mode in ("backward", "forward", "auto"):
        r = http.post("/v1/gradients", json={"circuit_id": cid, "mode": mode})
        assert r.status_code in (200, 202) and r.headers["Location"] == f"/v1/jobs/{r.json()['id']}"
        job = wait_final(http, r.json()["id"])
        assert job["status"] == "succeeded", job
        result = job["result"]
        assert result["outputs"] == ["df/dx", "df/dy", "df/dz"]
        got = evaluate_remote(http, result["circuit_id"], pts, "xyz")
        np.testing.assert_allclose(got, [grad_eq1(*p) for p in pts])
        if mode == "backward":
            cert = result["certificate"]
            assert cert["within_bound"] and cert["theorem3_bound"] == 3 * 17 + 11
    # second derivatives: differentiate the gradient circuit again (the Hessian is constant)
    job = wait_final(
        http,
        http.post("/v1/gradients", json={"circuit_id": result["circuit_id"], "wrt": ["x"]}).json()[
            "id"
        ],
    )
    hess_x = evaluate_remote(http, job["result"]["circuit_id"], pts, "xyz")
    np.testing.assert_allclose(hess_x, [[6.0, -8.0, -20.0]] * 3)  # ∂x of (3) and (4)


LECTURE = {
    "u": u_example(),
    "sigma2": sigma2(5),
    "det3": determinant(3),
    "perceptron": perceptron_loss(
        [(1.0, 0.0, 2.0, 1.0), (0.5, -1.0, 1.0, 0.0), (-2.0, 1.0, 0.0, 1.0)]
    ),
    "least_squares": least_squares(
        np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.5]]), np.array([1.0, 0.0, 2.0])
    ),
}


@pytest.mark.parametrize("name", sorted(LECTURE))
@pytest.mark.parametrize("mode", ["backward", "forward"])
def test_lecture_examples_through_http(http, oracle, name, mode):
    c = LECTURE[name]
    r = http.post("/v1/circuits", json=to_document(c))
    cid = r.json()["id"]
    job = wait_final(
        http, http.post("/v1/gradients", json={"circuit_id": cid, "mode": mode}).json()["id"]
    )
    assert job["status"] == "succeeded", job
    g = from_json(http.get(f"/v1/circuits/{job['result']['circuit_id']}").content)
    x = np.random.default_rng(len(name)).uniform(0.5, 1.5, c.n_inputs)
    oracle.assert_jacobian_matches(c, g, x)
    remote = evaluate_remote(http, job["result"]["circuit_id"], x[None, :], c.inputs)
    np.testing.assert_allclose(remote, evaluate_reference(g, x[None, :]), rtol=1e-12)


def test_fifty_concurrent_jobs_are_all_correct(http):
    def one(k: int):
        r = http.post(
            "/v1/gradients", json={"expression": f"sin({k}*a) * b + {k}*b*b", "inputs": ["a", "b"]}
        )
        assert r.status_code in (200, 202), r.text
        return k, r.json()["id"]

    with ThreadPoolExecutor(10) as pool:
        submitted = list(pool.map(one, range(1, 51)))
        jobs = list(pool.map(lambda kj: (kj[0], wait_final(http, kj[1])), submitted))
    a, b = 0.7, -1.3
    for k, job in jobs:
        assert job["status"] == "succeeded", job
        got = evaluate_remote(http, job["result"]["circuit_id"], np.array([[a, b]]), "ab")[0]
        np.testing.assert_allclose(
            got, [k * np.cos(k * a) * b, np.sin(k * a) + 2 * k * b], rtol=1e-12, atol=1e-12
        )


def test_duplicate_submissions_are_computed_once(http, stack):
    from circuitgrad.worker.runtime import runtime

    body = {"expression": "exp(s) * t - s*t*t", "mode": "forward"}
    with ThreadPoolExecutor(10) as pool:
        ids = set(pool.map(lambda _: http.post("/v1/gradients", json=body).json()["id"], range(20)))
    assert len(ids) == 1
    job_id = ids.pop()
    assert wait_final(http, job_id)["status"] == "succeeded"
    assert runtime(stack.settings).jobs.get(job_id)["deliveries"] == 1
    again = http.post("/v1/gradients", json=body)
    assert again.status_code == 200 and again.json()["id"] == job_id


SLOW_SECONDS = 1.5  # how long a "slow" job should take here: time to act while it runs


@pytest.fixture(scope="module")
def slow_gates():
    """Gates of a random circuit whose forward gradient takes about SLOW_SECONDS on this
    machine now (measured in this process, so a loaded machine gets a smaller circuit and
    the job stays well inside the stack's time limits)."""
    from circuitgrad.engine.passes.gradient import differentiate

    gates = 5_000
    while True:
        t = time.perf_counter()
        differentiate(random_dag(gates, n_inputs=40, seed=0), mode="forward")
        took = time.perf_counter() - t
        if took > 0.2 or gates >= 400_000:
            return int(min(400_000, gates * SLOW_SECONDS / took))
        gates *= 4


def slow_circuit(gates: int, seed: int):
    """Forward mode over 40 inputs: 40 sweeps, and the engine looks at the cancellation
    flag (and reports progress) after each."""
    return random_dag(gates, n_inputs=40, seed=seed)


def test_cancel_a_running_job(http, stack, slow_gates):
    from circuitgrad.worker.runtime import runtime

    cid = upload(http, slow_circuit(slow_gates, 1))
    job_id = http.post("/v1/gradients", json={"circuit_id": cid, "mode": "forward"}).json()["id"]
    assert 0 < wait_running(http, job_id, progress=True)["progress"] < 1  # a large job reports
    t = time.monotonic()
    r = http.delete(f"/v1/jobs/{job_id}")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    rt = runtime(stack.settings)
    while rt.jobs.status(job_id) == "cancelled" and time.monotonic() - t < 10:
        # the worker is free again promptly: a small job after it completes at once
        small = http.post("/v1/gradients", json={"expression": f"q*{t}*q"}).json()["id"]
        if wait_final(http, small)["status"] == "succeeded":
            break
    assert time.monotonic() - t < 10
    time.sleep(0.5)
    job = http.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "cancelled" and job["result"] is None
    assert http.delete(f"/v1/jobs/{job_id}").status_code == 409


def _check_slow_result(http, c, job):
    assert job["status"] == "succeeded", job
    x = np.random.default_rng(0).uniform(-1, 1, c.n_inputs)
    got = evaluate_remote(http, job["result"]["circuit_id"], x[None, :], c.inputs)[0]
    h = 1e-6
    X = np.vstack([x + h * np.eye(c.n_inputs), x - h * np.eye(c.n_inputs)])
    fx = evaluate(c, X)[:, 0]
    fd = (fx[: c.n_inputs] - fx[c.n_inputs :]) / (2 * h)
    np.testing.assert_allclose(got, fd, rtol=1e-4, atol=1e-6)


def test_sigkilled_pool_process_job_is_delivered_again(http, stack, slow_gates):
    from circuitgrad.worker.runtime import runtime

    c = slow_circuit(slow_gates, 2)
    job_id = http.post(
        "/v1/gradients", json={"circuit_id": upload(http, c), "mode": "forward"}
    ).json()["id"]
    wait_running(http, job_id)
    rec = runtime(stack.settings).jobs.get(job_id)
    os.kill(int(rec["worker_pid"]), signal.SIGKILL)  # the process computing the job
    job = wait_final(http, job_id)
    _check_slow_result(http, c, job)
    assert runtime(stack.settings).jobs.get(job_id)["deliveries"] == 2


def test_sigkilled_worker_job_completes_on_the_other_worker(http, stack, slow_gates):
    from circuitgrad.worker.runtime import runtime

    rt = runtime(stack.settings)
    c = slow_circuit(slow_gates, 3)
    job_id = http.post(
        "/v1/gradients", json={"circuit_id": upload(http, c), "mode": "forward"}
    ).json()["id"]
    wait_running(http, job_id)
    victim = rt.jobs.get(job_id)["worker"]
    index = next(i for i in range(len(stack.workers)) if f"@worker{i}." in victim)
    stack.kill_worker(index)  # the worker's main process and its pool process, SIGKILL
    try:
        # the message was never acknowledged: it comes back after the visibility timeout
        job = wait_final(http, job_id, timeout=stack.settings.visibility_timeout + 40)
        _check_slow_result(http, c, job)
        rec = rt.jobs.get(job_id)
        assert rec["worker"] != victim and rec["deliveries"] == 2
    finally:
        stack.start_worker(index)
        stack.wait_ready(120)


def test_evaluation_job_is_split_across_workers_and_assembled_in_order(http, stack):
    cid = http.post("/v1/circuits", json={"expression": EQ1}).json()["id"]
    X = np.random.default_rng(5).normal(size=(2345, 3))  # > 1000: a job of 6 chunks of 400
    r = http.post(
        f"/v1/circuits/{cid}/evaluate",
        content=msgpack.packb({"points": {k: X[:, i].tobytes() for i, k in enumerate("xyz")}}),
        headers=MSGPACK,
    )
    assert r.status_code == 202 and r.headers["Location"].startswith("/v1/jobs/")
    job = wait_final(http, r.json()["id"])
    assert job["status"] == "succeeded" and job["result"]["points"] == 2345
    values = http.get(job["result"]["values_url"]).json()
    np.testing.assert_allclose(values["values"], evaluate_reference(equation1(), X), rtol=1e-12)


def test_health_ready_and_openapi(http):
    assert http.get("/v1/health").json() == {"status": "ok"}
    ready = http.get("/v1/ready").json()
    assert ready["status"] == "ready" and ready["workers"] >= 1
    spec = http.get("/v1/openapi.json").json()
    for path, method in [
        ("/v1/circuits", "post"),
        ("/v1/circuits/{circuit_id}", "get"),
        ("/v1/circuits/{circuit_id}/evaluate", "post"),
        ("/v1/gradients", "post"),
        ("/v1/jobs/{job_id}", "get"),
        ("/v1/jobs/{job_id}", "delete"),
        ("/v1/health", "get"),
        ("/v1/ready", "get"),
    ]:
        assert method in spec["paths"][path], (path, method)
    body = spec["paths"]["/v1/gradients"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/msgpack"} <= set(body)
