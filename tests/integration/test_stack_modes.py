"""jvp, vjp and hvp jobs with their verification, end to end: the real API process, real
Celery workers, a real Redis; every request over HTTP."""

from __future__ import annotations

import numpy as np
import pytest
from test_stack_http import wait_final

pytestmark = pytest.mark.integration

EXPR = "sin(a) * exp(b) + a*b*b"


def evaluate(http, circuit_id: str, point: dict) -> dict:
    r = http.post(f"/v1/circuits/{circuit_id}/evaluate", json={"points": [point]})
    assert r.status_code == 200, r.text
    doc = r.json()
    return dict(zip(doc["outputs"], doc["values"][0], strict=True))


def test_directional_jobs_on_the_stack(http):
    a, b, v = 0.3, -0.8, (2.0, -1.0)
    grad = np.array([np.cos(a) * np.exp(b) + b * b, np.sin(a) * np.exp(b) + 2 * a * b])
    hess = np.array(
        [[-np.sin(a) * np.exp(b), np.cos(a) * np.exp(b) + 2 * b],
         [np.cos(a) * np.exp(b) + 2 * b, np.sin(a) * np.exp(b) + 2 * a]]
    )  # fmt: skip
    jobs = {
        mode: http.post("/v1/gradients", json={"expression": EXPR, "mode": mode}).json()
        for mode in ("jvp", "vjp", "hvp")
    }
    point = {"a": a, "b": b}
    tangents = {"tangent[a]": v[0], "tangent[b]": v[1]}
    expected = {
        "jvp": (tangents, {"jvp[f]": grad @ v}),
        "vjp": ({"cotangent[f]": 3.0}, {"vjp[a]": 3 * grad[0], "vjp[b]": 3 * grad[1]}),
        "hvp": (tangents, {"hvp[a]": (hess @ v)[0], "hvp[b]": (hess @ v)[1]}),
    }
    for mode, job in jobs.items():
        done = wait_final(http, job["id"])
        assert done["status"] == "succeeded", done
        result = done["result"]
        check = result["certificate"]["verification"]
        assert check["passed"] is True and check["checked"] == 3, check
        assert result["certificate"]["within_bound"]
        seeds, values = expected[mode]
        got = evaluate(http, result["circuit_id"], {**point, **seeds})
        assert got.keys() == values.keys()
        np.testing.assert_allclose(list(got.values()), list(values.values()), rtol=1e-12)

    body = {"expression": EXPR, "mode": "jvp", "verify": False}
    unchecked = wait_final(http, http.post("/v1/gradients", json=body).json()["id"])
    assert "verification" not in unchecked["result"]["certificate"]
    r = http.post("/v1/gradients", json={"expression": EXPR, "mode": "jvpp"})
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/mode"
