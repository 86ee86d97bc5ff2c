"""Every SDK method against the real service and in local mode (the ``mode`` fixture runs
each test in both). Values are checked against closed forms computed with NumPy."""

from __future__ import annotations

import time

import numpy as np
import pytest

from circuitgrad.client import (
    CircuitRef,
    Conflict,
    JobCancelled,
    NotFound,
    Timeout,
    ValidationError,
)
from circuitgrad.engine.building.expr import build, inputs, tanh
from circuitgrad.engine.building.parser import parse_expression
from circuitgrad.engine.formats.codec import content_id, to_document, to_packed

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
A = np.array([[1.0, -3.0, -3.0], [1.0, -2.0, -2.0], [1.0, 1.0, -5.0]])
B = np.array([-5.0, 0.0, 3.0])
GRAD_NAMES = ["df/dx", "df/dy", "df/dz"]


def eq1(P):
    return ((np.atleast_2d(P) @ A.T - B) ** 2).sum(axis=1)


def eq1_grad(P):
    return 2.0 * (np.atleast_2d(P) @ A.T - B) @ A


@pytest.fixture
def points():
    return np.random.default_rng(7).normal(scale=3.0, size=(9, 3))


# -- circuits ----------------------------------------------------------------------------
def test_upload_expression_reports_the_lecture_measures(sdk):
    f = sdk.upload(EQ1)
    assert isinstance(f, CircuitRef) and f.id.startswith("c_")
    assert (f.size, f.wires, f.depth, f.nodes) == (7, 17, 3, 11)  # Figure 1
    assert f.measures == {"size": 7, "depth": 3, "wires": 17, "nodes": 11}
    assert f.inputs == ["x", "y", "z"] and f.outputs == ["f"]
    assert sdk.upload(EQ1).id == f.id  # stored by content
    g = sdk.upload("a*b + a", inputs=["b", "a"], output="g")
    assert g.inputs == ["b", "a"] and g.outputs == ["g"]


def test_every_circuit_form_gets_the_same_content_id(sdk):
    c = parse_expression(EQ1)
    ref = sdk.upload(c)
    assert ref.id == content_id(c)
    assert sdk.upload(to_document(c)).id == ref.id  # row form document
    assert sdk.upload(to_packed(c)).id == ref.id  # packed form (binaries in msgpack)
    x, y = inputs("x y")
    built = sdk.upload(build({"h": x * y + 1}))
    assert built.id == sdk.upload({"h": x * y + 1}).id  # {name: Expr} is built on upload
    assert built.outputs == ["h"]


def test_large_circuits_travel_in_the_packed_form(connect):
    from circuitgrad.engine.formats.codec import PACKED_THRESHOLD

    n = PACKED_THRESHOLD // 3 + 100  # mul, add, tanh per link: over the threshold
    big = long_chain(n)
    assert big.n_gates > PACKED_THRESHOLD
    ref = connect().upload(big)
    assert ref.id == content_id(big) and ref.size == 3 * (n - 1) and ref.depth == 3 * (n - 1)
    again = connect(wire_format="json").download(ref.id)  # the row form, in JSON
    assert content_id(again) == ref.id
    x = np.linspace(-1, 1, big.n_inputs)
    assert ref.evaluate(x).shape == (1,)


def test_download_and_lookup_by_id_from_another_client(connect):
    mine, theirs = connect(), connect()
    ref = mine.upload(EQ1)
    seen = theirs.circuit(ref.id)  # "any machine": no state shared but the service
    assert seen.id == ref.id and seen.measures == ref.measures
    assert seen.inputs == ref.inputs and seen.outputs == ref.outputs
    c = theirs.download(ref.id)
    assert content_id(c) == ref.id and c.inputs == ("x", "y", "z")
    assert seen.download() is seen.download()  # immutable: downloaded once


# -- evaluation --------------------------------------------------------------------------
def test_evaluate_accepts_every_point_form(sdk, points):
    f = sdk.upload(EQ1)
    expected = eq1(points)
    np.testing.assert_allclose(f.evaluate(points)[:, 0], expected, rtol=1e-13)
    rows = [dict(zip("xyz", p, strict=True)) for p in points]
    np.testing.assert_allclose(f.evaluate(rows)[:, 0], expected, rtol=1e-13)
    columns = {"x": points[:, 0], "y": points[:, 1], "z": points[:, 2]}
    np.testing.assert_allclose(f.evaluate(columns)[:, 0], expected, rtol=1e-13)
    np.testing.assert_allclose(f.evaluate(points.tolist())[:, 0], expected, rtol=1e-13)
    one = f.evaluate({"x": 10.0, "y": 3.0, "z": 2.0})  # the least-squares solution
    assert one.shape == (1,) and one[0] == 0.0
    assert f.evaluate(points[0]).shape == (1,)
    broadcast = f.evaluate({"x": points[:, 0], "y": 1.0, "z": 2.0})
    np.testing.assert_allclose(
        broadcast[:, 0], eq1(np.c_[points[:, 0], np.ones(9), 2 * np.ones(9)])
    )
    by_id = sdk.evaluate(f.id, points)  # an id only: the names are looked up first
    np.testing.assert_allclose(by_id[:, 0], expected, rtol=1e-13)
    uploaded = sdk.evaluate(parse_expression(EQ1), points)  # a Circuit: uploaded first
    np.testing.assert_allclose(uploaded[:, 0], expected, rtol=1e-13)
    assert f.evaluate(np.empty((0, 3))).shape == (0, 1) and f.evaluate([]).shape == (0, 1)


def test_several_outputs_come_back_as_columns(sdk):
    two = sdk.upload("f = x*y + sin(z); g = exp(x) - y*z")
    P = np.array([[0.5, 2.0, 1.0], [-1.0, 3.0, 0.25]])
    x, y, z = P.T
    np.testing.assert_allclose(
        two.evaluate(P), np.c_[x * y + np.sin(z), np.exp(x) - y * z], rtol=1e-14
    )


@pytest.mark.parametrize("wire_format", ["msgpack", "json"])
def test_nonfinite_numbers_cross_the_wire(connect, wire_format):
    client = connect(wire_format=wire_format)
    r = client.upload("log(x) + 1/y")
    got = r.evaluate({"x": [-1.0, 1.0, np.inf, np.nan, 1.0], "y": [1.0, 0.0, 1.0, 1.0, -np.inf]})
    assert np.isnan(got[0, 0]) and got[1, 0] == np.inf and got[2, 0] == np.inf
    assert np.isnan(got[3, 0]) and got[4, 0] == 0.0
    doc = {
        "inputs": ["x"],
        "gates": [{"op": "const", "value": -np.inf}, {"op": "add", "args": [0, 1]}],
        "outputs": [2],
    }
    ref = client.upload(doc)
    assert ref.evaluate({"x": 1.0})[0] == -np.inf
    assert client.download(ref.id).param[1] == -np.inf


def test_large_batches_go_through_evaluation_jobs(connect):
    client = connect(eval_job_points=1_000)
    f = client.upload(EQ1)
    P = np.random.default_rng(1).normal(size=(2_500, 3))
    np.testing.assert_allclose(f.evaluate(P)[:, 0], eq1(P), rtol=1e-13)  # a job: over 1000
    forced = f.evaluate(P[:10], job=True)
    np.testing.assert_allclose(forced[:, 0], eq1(P[:10]), rtol=1e-13)


def test_a_batch_the_service_turns_into_a_job_is_followed(connect, mode):
    # the test stack evaluates at most 500 points per request and answers 202 beyond
    client = connect(eval_job_points=10**9)  # the client itself never asks for a job
    f = client.upload(EQ1)
    P = np.random.default_rng(2).normal(size=(1_200, 3))
    np.testing.assert_allclose(f.evaluate(P)[:, 0], eq1(P), rtol=1e-13)


# -- gradients and jobs ------------------------------------------------------------------
@pytest.mark.parametrize("simplify", [True, False])
@pytest.mark.parametrize("mode_", ["backward", "forward", "auto"])
def test_gradient_matches_the_closed_form(sdk, points, mode_, simplify):
    f = sdk.upload(EQ1)
    job = f.gradient(mode=mode_, simplify=simplify)
    assert job.kind == "gradient" and 0.0 <= job.progress <= 1.0
    assert job.status in ("queued", "running", "succeeded")
    assert job.wait(timeout=60) is job
    assert job.status == "succeeded" and job.done and job.progress == 1.0 and job.error is None
    g = job.result
    assert g.inputs == ["x", "y", "z"] and g.outputs == GRAD_NAMES
    assert (
        g.extra["mode"] == mode_ if mode_ != "auto" else g.extra["mode"] in ("forward", "backward")
    )
    np.testing.assert_allclose(g.evaluate(points), eq1_grad(points), rtol=1e-12, atol=1e-9)
    if mode_ == "backward" and not simplify:  # Theorem 3 for one output
        assert g.size <= 3 * f.wires + f.nodes


def test_gradient_wrt_of_and_include_value(sdk):
    two = sdk.upload("f = x*y + sin(z); g = exp(x) - y*z")
    result = two.gradient(wrt=["z", "x"], of=["g"], include_value=True).wait(timeout=60).result
    assert result.outputs == ["f", "g", "dg/dz", "dg/dx"]
    P = np.array([[0.5, 2.0, 1.0], [-1.0, 3.0, 0.25]])
    x, y, z = P.T
    expected = np.c_[x * y + np.sin(z), np.exp(x) - y * z, -y, np.exp(x)]
    np.testing.assert_allclose(result.evaluate(P), expected, rtol=1e-14)


def test_gradient_of_inline_circuits_documents_expressions_and_ids(sdk, points):
    c = parse_expression(EQ1)
    stored = sdk.upload(c)
    results = [
        sdk.gradient(c),  # engine Circuit, sent inline
        sdk.gradient(to_document(c)),  # a document
        sdk.gradient(expression=EQ1),
        sdk.gradient(stored.id),  # an id
    ]
    refs = [job.wait(timeout=60).result for job in results]
    assert len({r.id for r in refs}) == 1
    np.testing.assert_allclose(refs[0].evaluate(points), eq1_grad(points), rtol=1e-12, atol=1e-9)


def test_second_derivatives_by_differentiating_the_gradient(sdk):
    f = sdk.upload("x**3*y + exp(x*y)")
    grad = f.gradient().wait(timeout=60).result
    hess = grad.gradient(mode="forward").wait(timeout=60).result
    assert hess.outputs == ["ddf/dx/dx", "ddf/dx/dy", "ddf/dy/dx", "ddf/dy/dy"]
    x, y = 0.7, -1.3
    e = np.exp(x * y)
    expected = [
        6 * x * y + y * y * e,
        3 * x * x + e + x * y * e,
        3 * x * x + e + x * y * e,
        x * x * e,
    ]
    np.testing.assert_allclose(hess.evaluate({"x": x, "y": y}), expected, rtol=1e-13)


def test_jobs_by_id_and_reload(sdk):
    job = sdk.upload(EQ1).gradient(include_value=True)
    again = sdk.job(job.id)
    assert again.id == job.id and again.kind == "gradient" and again is not job
    job.wait(timeout=60)
    stale = sdk.job(job.id)
    assert stale.status == "succeeded" and stale.result.id == job.result.id
    assert stale.reload() is stale and stale.result.size == job.result.size


def long_chain(n: int = 2_000):
    """tₖ = tanh(tₖ₋₁·xₖ + xₖ): forward propagation builds ~n²·1.5 gates (a second or more)."""
    xs = inputs([f"x{i}" for i in range(n)])
    t = xs[0]
    for x in xs[1:]:
        t = tanh(t * x + x)
    return build({"f": t})


def test_wait_timeout_then_cancel_a_running_job(sdk):
    ref = sdk.upload(long_chain())
    job = ref.gradient(mode="forward", simplify=False)
    started = time.monotonic()
    with pytest.raises(Timeout, match=job.id):
        job.wait(timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 5
    deadline = time.monotonic() + 30
    while job.status == "queued" and time.monotonic() < deadline:
        time.sleep(0.02)
        job.reload()
    assert job.status == "running"
    assert job.cancel() is job and job.status == "cancelled" and job.done
    with pytest.raises(JobCancelled) as info:
        job.wait(timeout=10)
    assert info.value.job is job
    time.sleep(0.5)
    assert job.reload().status == "cancelled" and job.result is None  # final stays final
    with pytest.raises(Conflict):
        job.cancel()


# -- errors ------------------------------------------------------------------------------
def _paths(info) -> list[str]:
    return [e.path for e in info.value.errors]


def test_invalid_documents_name_each_place(sdk):
    with pytest.raises(ValidationError) as info:
        sdk.upload({"inputs": ["x"], "gates": [{"op": "sin", "args": [1]}], "outputs": [1]})
    assert "/gates/0/args/0" in _paths(info) and info.value.status == 422
    with pytest.raises(ValidationError) as info:
        sdk.upload({"inputs": ["x"], "gates": [{"op": "sinhh", "args": [0]}], "outputs": [1]})
    assert any(p.startswith("/gates/0") for p in _paths(info))
    with pytest.raises(ValidationError) as info:
        sdk.upload({"inputs": ["x"], "gates": [], "outputs": [0], "colour": "red"})
    assert "/colour" in _paths(info)


def test_invalid_expressions_points_and_names(sdk):
    with pytest.raises(ValidationError) as info:
        sdk.upload("x + * y")
    assert all(p.startswith("/expression") for p in _paths(info))
    f = sdk.upload(EQ1)
    with pytest.raises(ValidationError) as info:
        f.evaluate({"x": 1.0, "y": 2.0, "w": 3.0})
    assert any(p.startswith("/points") for p in _paths(info))
    with pytest.raises(ValidationError) as info:
        f.evaluate(np.zeros((2, 4)))  # caught before sending: 4 columns, 3 inputs
    assert _paths(info) == ["/points"]
    with pytest.raises(ValidationError) as info:
        f.gradient(wrt=["x", "q", "x"])
    assert _paths(info) == ["/wrt/1", "/wrt/2"]
    with pytest.raises(ValidationError) as info:
        f.gradient(of=["g"])
    assert _paths(info) == ["/of/0"]
    with pytest.raises(ValidationError) as info:
        f.gradient(mode="sideways")
    assert _paths(info) == ["/mode"]


def test_unknown_ids_are_not_found(sdk):
    missing = "c_" + "0" * 32
    for call in (
        lambda: sdk.circuit(missing),
        lambda: sdk.download(missing),
        lambda: sdk.evaluate(missing, {"x": 1.0}),
        lambda: sdk.gradient(missing),
        lambda: sdk.job("0" * 32),
    ):
        with pytest.raises(NotFound) as info:
            call()
        assert info.value.status == 404


def test_health_and_ready(sdk):
    assert sdk.health()["status"] == "ok"
    assert sdk.ready() is True
