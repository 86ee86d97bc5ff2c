"""jvp, vjp and hvp jobs and the verification record, through the Flask app on a real
Redis with the task bodies run in-process (the real worker processes: tests/integration)."""

from __future__ import annotations

import numpy as np
import pytest

from circuitgrad.engine.building.generate import equation1
from circuitgrad.engine.core.layout import MODES
from circuitgrad.engine.formats.codec import to_document
from circuitgrad.worker import work
from circuitgrad.worker.runtime import runtime

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
A = np.array([[1, -3, -3], [1, -2, -2], [1, 1, -5]], dtype=float)  # equation (1) is ‖Ax − b‖²
B = np.array([5.0, 0.0, -3.0])


@pytest.fixture
def rt(service_settings):
    return runtime(service_settings)


def run(client, rt, **body) -> dict:
    """Submit, run the task here, return the final job."""
    r = client.post("/v1/gradients", json=body)
    assert r.status_code in (200, 202), r.get_json()
    job = r.get_json()
    if job["status"] != "succeeded":
        assert work.run_gradient(rt, job["id"], "test-worker") == "succeeded"
    return client.get(f"/v1/jobs/{job['id']}").get_json()


def values(client, circuit_id: str, point: dict) -> tuple[list, list]:
    r = client.post(f"/v1/circuits/{circuit_id}/evaluate", json={"points": [point]})
    assert r.status_code == 200, r.get_json()
    doc = r.get_json()
    return doc["outputs"], doc["values"][0]


X = {"x": 1.0, "y": 2.0, "z": 3.0}
V = np.array([0.25, -1.0, 2.0])


def gradient_at(x):
    return 2 * A.T @ (A @ x + B)


@pytest.mark.parametrize("mode", ["jvp", "vjp", "hvp"])
def test_directional_jobs_give_circuits_named_after_their_seeds(client, rt, mode):
    job = run(client, rt, expression=EQ1, mode=mode, include_value=True)
    result = job["result"]
    assert result["mode"] == mode and job["options"]["mode"] == mode
    cid = result["circuit_id"]
    doc = client.get(f"/v1/circuits/{cid}").get_json()
    x = np.array([1.0, 2.0, 3.0])
    f = float(np.sum((A @ x + B) ** 2))
    if mode == "vjp":
        assert doc["inputs"] == ["x", "y", "z", "cotangent[f]"]
        names, got = values(client, cid, {**X, "cotangent[f]": 2.0})
        assert names == ["f", "vjp[x]", "vjp[y]", "vjp[z]"]
        np.testing.assert_allclose(got, [f, *(2 * gradient_at(x))])
        return
    tangent = {f"tangent[{k}]": float(t) for k, t in zip("xyz", V, strict=True)}
    assert doc["inputs"] == ["x", "y", "z", *tangent]
    names, got = values(client, cid, {**X, **tangent})
    if mode == "jvp":
        assert names == ["f", "jvp[f]"]
        np.testing.assert_allclose(got, [f, gradient_at(x) @ V])
    else:
        assert names == ["f", "hvp[x]", "hvp[y]", "hvp[z]"]
        np.testing.assert_allclose(got, [f, *(2 * A.T @ A @ V)])


@pytest.mark.parametrize("mode", MODES)
def test_every_job_is_verified_by_default(client, rt, mode):
    job = run(client, rt, circuit=to_document(equation1()), mode=mode)
    cert = job["result"]["certificate"]
    check = cert["verification"]
    assert check["passed"] is True and check["max_relative_error"] <= check["tolerance"]
    assert len(check["points"]) == len(check["directions"]) == 3 and check["checked"] == 3
    assert len(check["points"][0]) == 3  # x, y, z
    if mode in ("jvp", "vjp", "hvp"):
        assert cert["raw"]["size"] <= cert["theorem3_bound"] and cert["within_bound"]
    if mode == "hvp":
        assert cert["gradient"]["size"] > 0 and len(check["cross_directions"]) == 3


def test_verify_false_leaves_the_check_out_and_is_another_job(client, rt):
    checked = run(client, rt, expression="sin(a) * b", mode="jvp")
    unchecked = run(client, rt, expression="sin(a) * b", mode="jvp", verify=False)
    assert unchecked["id"] != checked["id"]
    assert "verification" not in unchecked["result"]["certificate"]
    assert unchecked["result"]["circuit_id"] == checked["result"]["circuit_id"]
    assert unchecked["options"]["verify"] is False and checked["options"]["verify"] is True


def test_a_source_that_is_nan_everywhere_succeeds_unchecked(client, rt):
    job = run(client, rt, expression="log(-x*x - 1) * y")
    assert job["status"] == "succeeded"
    check = job["result"]["certificate"]["verification"]
    assert check["passed"] is None and "not finite" in check["reason"]


def test_a_failed_check_does_not_fail_the_job(client, rt, monkeypatch):
    real = work.verify

    def wrong(source, result, *args):  # the check of another circuit: it must fail
        return real(source, result.with_outputs(result.outputs[::-1], result.output_names), *args)

    monkeypatch.setattr(work, "verify", wrong)
    job = run(client, rt, expression="x*y*y + z", mode="backward")
    assert job["status"] == "succeeded"
    check = job["result"]["certificate"]["verification"]
    assert check["passed"] is False and check["max_relative_error"] > 1e-2


INVALID = [
    ({"expression": "x*y", "mode": "sideways"}, "/mode"),
    ({"expression": "x*y", "mode": "JVP"}, "/mode"),
    ({"expression": "x*y", "verify": "no"}, "/verify"),
    ({"circuit": to_document(equation1().with_outputs([10, 9], ["f", "g"])), "mode": "hvp"}, "/of"),
    ({"expression": "x*y", "mode": "hvp", "wrt": ["x", "q"]}, "/wrt/1"),
    ({"expression": "x*y", "mode": "vjp", "of": []}, "/of"),
]


@pytest.mark.parametrize("body, path", INVALID)
def test_invalid_mode_requests_are_422_with_their_path(client, body, path):
    r = client.post("/v1/gradients", json=body)
    assert r.status_code == 422, r.get_json()
    assert path in [e["path"] for e in r.get_json()["errors"]], r.get_json()


def test_hvp_of_one_named_output_of_several(client, rt):
    c = equation1().with_outputs([10, 9], ["f", "g"])  # f and the last square
    job = run(client, rt, circuit=to_document(c), mode="hvp", of=["f"])
    names, got = values(
        client, job["result"]["circuit_id"], {**X, **{f"tangent[{k}]": 1.0 for k in "xyz"}}
    )
    assert names == ["hvp[x]", "hvp[y]", "hvp[z]"]
    np.testing.assert_allclose(got, 2 * A.T @ A @ np.ones(3))


def test_the_openapi_document_lists_the_modes_and_the_verification(client):
    doc = client.get("/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    variants = [schemas[ref["$ref"].rpartition("/")[2]] for ref in schemas["GradientIn"]["oneOf"]]
    assert len(variants) == 3  # by circuit_id, circuit or expression: the same options
    for variant in variants:
        assert variant["properties"]["mode"]["enum"] == list(MODES)
        assert variant["properties"]["verify"]["type"] == "boolean"
    check = schemas["Verification"]["properties"]
    assert {"passed", "max_relative_error", "tolerance", "points", "directions"} <= set(check)
