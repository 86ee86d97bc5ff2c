"""Forward propagation and backpropagation against finite differences and each other."""

from itertools import pairwise

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import assert_jacobian_matches, central_differences, naive_eval
from randcircuit import circuits, points

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.passes.gradient import choose_mode, differentiate
from circuitgrad.engine.passes.propagate import backward_propagate, forward_propagate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _point(c, xs):
    return np.resize(np.asarray(xs, float), c.n_inputs)


@SETTINGS
@given(circuits(), points)
def test_forward_equals_backward_equals_finite_differences(c, xs):
    x = _point(c, xs)
    values = naive_eval(c, x)
    if not np.all(np.isfinite(values)) or np.abs(values).max() > 1e6:
        return  # outside the region where finite differences mean anything
    fwd, bwd = forward_propagate(c), backward_propagate(c)
    assert fwd.output_names == bwd.output_names
    jf, jb = naive_eval(fwd, x), naive_eval(bwd, x)
    np.testing.assert_allclose(jf, jb, rtol=1e-9, atol=1e-9, equal_nan=True)
    assert_jacobian_matches(c, bwd, x)


@SETTINGS
@given(circuits(max_outputs=1, max_gates=25))
def test_backward_raw_size_within_theorem_3(c):
    bound = 3 * c.n_wires + c.n_vertices
    g = backward_propagate(c)
    assert g.n_gates <= bound
    assert measures(g)["size"] <= bound


@SETTINGS
@given(circuits(max_outputs=3), st.data())
def test_jacobian_options_order_and_names(c, data):
    wrt = data.draw(st.permutations(c.inputs).map(lambda p: list(p)[: max(1, len(p) - 1)]))
    of = data.draw(st.permutations(c.output_names).map(list))
    g = backward_propagate(c, wrt=wrt, of=of)
    assert list(g.output_names) == [f"d{f}/d{x}" for f in of for x in wrt]
    assert g.inputs == c.inputs
    x = np.linspace(0.3, 0.9, c.n_inputs)
    full = naive_eval(backward_propagate(c), x)[0].reshape(len(c.outputs), c.n_inputs)
    rows = [c.output_names.index(f) for f in of]
    cols = [c.inputs.index(v) for v in wrt]
    expect = full[np.ix_(rows, cols)].ravel()
    np.testing.assert_allclose(naive_eval(g, x)[0], expect, equal_nan=True)
    fwd = forward_propagate(c, wrt=wrt, of=of)
    np.testing.assert_allclose(naive_eval(fwd, x)[0], expect, rtol=1e-9, atol=1e-12, equal_nan=True)


def _chain_over_sum(k, depth=40):
    r = generate.Rows([f"x{i}" for i in range(k)])
    v = r.gate("add", *range(k))
    for i in range(depth):
        v = r.gate(("sin", "tanh")[i % 2], v)
    return r.circuit([v], ["f"])


def test_forward_grows_with_inputs_backward_does_not():
    sizes = []
    for k in (2, 4, 8, 16, 32):
        c = _chain_over_sum(k)
        fwd, bwd = forward_propagate(c), backward_propagate(c)
        sizes.append((k, measures(fwd)["size"], measures(bwd)["size"]))
    fwd = [f for _, f, _ in sizes]
    bwd = [b for _, _, b in sizes]
    # forward: Θ(n·s): each extra input costs another pass over the 40-gate chain
    ks = [k for k, _, _ in sizes]
    steps = zip(pairwise(fwd), pairwise(ks), strict=True)
    assert all(f2 - f1 >= 40 * (k2 - k1) for (f1, f2), (k1, k2) in steps)
    # backward: O(n + s + w): growth only by the k extra wires of the sum
    assert bwd[-1] - bwd[0] <= 32
    assert bwd[-1] < fwd[-1] / 10


def test_include_value_puts_outputs_first():
    c = generate.equation1()
    g = backward_propagate(c, include_value=True)
    assert g.output_names == ("f", "df/dx", "df/dy", "df/dz")
    x = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(naive_eval(g, x)[0, 0], naive_eval(c, x)[0, 0])


def test_hessian_of_equation_1_is_2_AtA():
    A = np.array([[1, -3, -3], [1, -2, -2], [1, 1, -5]], dtype=float)
    c = generate.equation1()
    for outer in ("forward", "backward"):
        grad = differentiate(c, simplify=False).circuit
        hess = differentiate(grad, mode=outer, simplify=False).circuit
        assert len(hess.outputs) == 9
        assert hess.output_names[1] == "ddf/dx/dy"
        x = np.random.default_rng(1).normal(size=(5, 3))
        np.testing.assert_allclose(
            naive_eval(hess, x), np.tile((2 * A.T @ A).ravel(), (5, 1)), atol=1e-9
        )


def test_hessian_of_transcendental_circuit_matches_differences_of_gradient():
    r = generate.Rows(["a", "b"])
    f = r.gate("mul", r.gate("sin", 0), r.gate("exp", 1), r.gate("sigmoid", r.gate("mul", 0, 1)))
    c = r.circuit([f], ["f"])
    grad = backward_propagate(c)
    hess = backward_propagate(grad)
    x = np.array([0.7, -0.4])
    got = naive_eval(hess, x)[0].reshape(2, 2)
    np.testing.assert_allclose(got, central_differences(grad, x), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got, got.T, rtol=1e-10)


@pytest.mark.parametrize(
    "kwargs, path",
    [
        ({"wrt": ["x", "q"]}, "/wrt/1"),
        ({"wrt": ["x", "x"]}, "/wrt/1"),
        ({"wrt": []}, "/wrt"),
        ({"of": ["g"]}, "/of/0"),
        ({"of": []}, "/of"),
        ({"mode": "sideways"}, "/mode"),
    ],
)
def test_bad_requests_name_the_place(kwargs, path):
    with pytest.raises(CircuitError) as err:
        differentiate(generate.equation1(), **kwargs)
    assert err.value.errors[0].path == path


def test_auto_picks_the_smaller_mode():
    r = generate.Rows(["t"])  # one input, a shared chain, five outputs: forward is cheaper
    v = 0
    for _ in range(10):
        v = r.gate("sin", v)
    outs = [r.gate(op, v) for op in ("sin", "cos", "exp", "tanh", "sigmoid")]
    c = r.circuit(outs, [f"y{i}" for i in range(5)])
    assert choose_mode(c)[0] == "forward"
    assert choose_mode(generate.sigma2(10))[0] == "backward"
    for circuit in (c, generate.sigma2(10), generate.equation1()):
        got = differentiate(circuit, mode="auto", simplify=False)
        other = "forward" if got.mode == "backward" else "backward"
        assert got.raw["size"] <= differentiate(circuit, mode=other, simplify=False).raw["size"]


@pytest.mark.parametrize("mode", ["forward", "backward"])
def test_output_names_that_would_collide_are_refused(mode):
    from circuitgrad.engine import parse_expression

    c = parse_expression("f = x * y; df = x")  # d{f}/d{x} and d{df}/... are distinct
    assert differentiate(c, mode=mode).circuit.output_names == (
        "df/dx",
        "df/dy",
        "ddf/dx",
        "ddf/dy",
    )
    c = parse_expression("f = x * y\ng = 2 * x", output="f")
    c = c.with_outputs(c.outputs, ["f", "df/dx"])  # an output named like a partial of f
    with pytest.raises(CircuitError, match="not be unique: 'df/dx'") as e:
        differentiate(c, mode=mode, include_value=True)
    assert e.value.errors[0].path == "/include_value"
    assert differentiate(c, mode=mode).circuit.output_names[0] == "df/dx"  # fine without
