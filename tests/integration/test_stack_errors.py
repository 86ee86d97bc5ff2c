"""The error cases of the unit tests, over HTTP against the real processes: every invalid
document kind answered 422 with its path, malformed bodies 400, wrong media types 415,
unknown ids 404 — all as problem documents."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import msgpack
import pytest

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent


def _cases(name: str):
    """The case tables of a unit-test module (loaded by path: test folders are not packages)."""
    path = HERE.parent / "service" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"circuitgrad_cases_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CIRCUIT_CASES = _cases("test_api_circuits")
JOB_CASES = _cases("test_api_jobs")


def assert_problem(r, status: int) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"].startswith("application/problem+json")
    problem = r.json()
    assert problem["status"] == status and problem["title"] and problem["type"]
    return problem


@pytest.mark.parametrize("doc, path", CIRCUIT_CASES.INVALID_DOCUMENTS)
def test_invalid_documents_over_http(http, doc, path):
    for r in (
        http.post("/v1/circuits", json=doc),
        http.post(
            "/v1/circuits",
            content=msgpack.packb(doc),
            headers={"Content-Type": "application/msgpack"},
        ),
    ):
        errors = assert_problem(r, 422)["errors"]
        assert any(e["path"].startswith(path) for e in errors), errors


@pytest.mark.parametrize("body, path", JOB_CASES.INVALID_GRADIENT_REQUESTS)
def test_invalid_gradient_requests_over_http(http, body, path):
    errors = assert_problem(http.post("/v1/gradients", json=body), 422)["errors"]
    assert path in [e["path"] for e in errors]


def test_invalid_points_over_http(http):
    cid = http.post("/v1/circuits", json={"expression": CIRCUIT_CASES.EQ1}).json()["id"]
    for body, path, word in CIRCUIT_CASES.BAD_POINTS:
        errors = assert_problem(http.post(f"/v1/circuits/{cid}/evaluate", json=body), 422)
        assert any(e["path"] == path and word in e["message"] for e in errors["errors"])


def test_malformed_unsupported_unknown(http):
    for path in ("/v1/circuits", "/v1/gradients", "/v1/evaluations"):
        assert_problem(
            http.post(path, content=b'{"inputs": [', headers={"Content-Type": "application/json"}),
            400,
        )
        assert_problem(
            http.post(path, content=b"\xc1\x92", headers={"Content-Type": "application/msgpack"}),
            400,
        )
        assert_problem(
            http.post(path, content=b"<circuit/>", headers={"Content-Type": "application/xml"}), 415
        )
    assert_problem(http.get("/v1/circuits/c_00000000000000000000000000000000"), 404)
    assert_problem(http.post("/v1/circuits/nope/evaluate", json={"points": []}), 404)
    assert_problem(http.post("/v1/gradients", json={"circuit_id": "c_nope"}), 404)
    assert_problem(http.get("/v1/jobs/nope"), 404)
    assert_problem(http.delete("/v1/jobs/nope"), 404)
    assert_problem(http.get("/v1/nothing/here"), 404)
    assert_problem(http.put("/v1/circuits"), 405)
