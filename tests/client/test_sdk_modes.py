"""The directional modes and the verification record through the SDK, against the real
service and in local mode (the ``mode`` fixture runs each test in both)."""

from __future__ import annotations

import numpy as np
import pytest

from circuitgrad.client import ValidationError

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
A = np.array([[1.0, -3.0, -3.0], [1.0, -2.0, -2.0], [1.0, 1.0, -5.0]])
B = np.array([-5.0, 0.0, 3.0])
P = np.random.default_rng(3).normal(size=(4, 3))  # points x
T = np.random.default_rng(4).normal(size=(4, 3))  # tangents v


def eq1_grad(X):
    return 2.0 * (X @ A.T - B) @ A


def test_jvp_vjp_and_hvp_circuits(sdk):
    f = sdk.upload(EQ1)
    jvp = f.jvp().wait(timeout=60).result
    assert jvp.inputs == ["x", "y", "z", "tangent[x]", "tangent[y]", "tangent[z]"]
    assert jvp.outputs == ["jvp[f]"] and jvp.extra["mode"] == "jvp"
    got = jvp.evaluate(np.c_[P, T])[:, 0]
    np.testing.assert_allclose(got, np.einsum("pi,pi->p", eq1_grad(P), T), rtol=1e-12)

    vjp = sdk.vjp(f, include_value=True).wait(timeout=60).result
    assert vjp.inputs == ["x", "y", "z", "cotangent[f]"]
    assert vjp.outputs == ["f", "vjp[x]", "vjp[y]", "vjp[z]"]
    u = np.array([2.0, -1.0, 0.5, 3.0])
    np.testing.assert_allclose(vjp.evaluate(np.c_[P, u])[:, 1:], u[:, None] * eq1_grad(P))

    hvp = f.gradient(mode="hvp").wait(timeout=60).result
    assert hvp.outputs == ["hvp[x]", "hvp[y]", "hvp[z]"]
    np.testing.assert_allclose(hvp.evaluate(np.c_[P, T]), T @ (2 * A.T @ A), rtol=1e-12)
    # an ordinary circuit: its own gradient is the Hessian (hvp is linear in v)
    hessian = hvp.gradient(wrt=["tangent[x]", "tangent[y]", "tangent[z]"]).wait(timeout=60)
    at = np.r_[P[0], T[0]]
    np.testing.assert_allclose(hessian.result.evaluate(at), (2 * A.T @ A).ravel(), atol=1e-12)


@pytest.mark.parametrize("kind", ["gradient", "jvp", "vjp", "hvp"])
def test_results_carry_their_check_unless_told_not_to(sdk, kind):
    f = sdk.upload("sin(a) * exp(b) + a*b*b")
    submit = getattr(f, kind)
    checked = submit().wait(timeout=60).result
    record = checked.verification
    assert record["passed"] is True and record["max_relative_error"] <= record["tolerance"]
    assert len(record["points"]) == 3 and len(record["points"][0]) == 2
    unchecked = submit(verify=False).wait(timeout=60).result
    assert unchecked.verification is None and unchecked.id == checked.id


def test_invalid_modes_are_validation_errors(sdk):
    two = sdk.upload("f = x*y; g = x - y")
    with pytest.raises(ValidationError) as info:
        two.hvp()
    assert [e.path for e in info.value.errors] == ["/of"]
    assert two.hvp(of=["f"]).wait(timeout=60).result.outputs == ["hvp[x]", "hvp[y]"]
    with pytest.raises(ValidationError) as info:
        two.gradient(mode="jvps")
    assert [e.path for e in info.value.errors] == ["/mode"]
