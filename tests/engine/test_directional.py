"""JVP, VJP and HVP circuits against the full Jacobian circuit, the Hessian (the Jacobian of
the gradient) and central differences; their names and their sizes."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import assert_jacobian_matches, central_differences, naive_eval
from randcircuit import circuits, points

from circuitgrad.engine import differentiate, hvp, jvp, parse_expression, predicted_size, vjp
from circuitgrad.engine.building import generate
from circuitgrad.engine.core.layout import MODES, layout
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.passes.propagate import backward_propagate

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
vectors = st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=8)


def _fit(values, n):
    return np.resize(np.asarray(values, float), n)


def _usable(c, x) -> bool:
    """Finite and moderate values: where differences mean something."""
    values = naive_eval(c, x)
    return bool(np.all(np.isfinite(values)) and np.abs(values).max() < 1e6)


def _largest_value(c, x) -> float:
    """The largest finite value any vertex of ``c`` takes at ``x``."""
    every = c.with_outputs(np.arange(c.n_vertices), [f"v{i}" for i in range(c.n_vertices)])
    values = np.abs(naive_eval(every, x)[0])
    return float(values[np.isfinite(values)].max(initial=0.0))


def _jacobian(c, x, wrt=None, of=None):
    """The full Jacobian circuit of c evaluated at x, as an (m, k) matrix."""
    g = backward_propagate(c, wrt=wrt, of=of)
    m = len(of) if of is not None else len(c.outputs)
    return naive_eval(g, x)[0].reshape(m, -1)


def _subsets(data, c):
    wrt = data.draw(st.permutations(c.inputs).map(lambda p: list(p)[: max(1, len(p) - 1)]))
    of = data.draw(st.permutations(c.output_names).map(list))
    return wrt, of


@SETTINGS
@given(circuits(max_outputs=3), points, vectors, st.data())
def test_jvp_is_the_jacobian_times_v(c, xs, vs, data):
    x = _fit(xs, c.n_inputs)
    if not _usable(c, x):
        return
    wrt, of = _subsets(data, c)
    v = _fit(vs, len(wrt))
    for simplify in (False, True):
        J = jvp(c, wrt=wrt, of=of, simplify=simplify)
        assert J.inputs == c.inputs + tuple(f"tangent[{w}]" for w in wrt)
        assert J.output_names == tuple(f"jvp[{f}]" for f in of)
        got = naive_eval(J, np.concatenate([x, v]))[0]
        expect = _jacobian(c, x, wrt, of) @ v
        np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-9, equal_nan=True)


@SETTINGS
@given(circuits(max_outputs=3), points, vectors, st.data())
def test_vjp_is_u_times_the_jacobian(c, xs, us, data):
    x = _fit(xs, c.n_inputs)
    if not _usable(c, x):
        return
    wrt, of = _subsets(data, c)
    u = _fit(us, len(of))
    for simplify in (False, True):
        V = vjp(c, wrt=wrt, of=of, simplify=simplify)
        assert V.inputs == c.inputs + tuple(f"cotangent[{f}]" for f in of)
        assert V.output_names == tuple(f"vjp[{w}]" for w in wrt)
        got = naive_eval(V, np.concatenate([x, u]))[0]
        expect = u @ _jacobian(c, x, wrt, of)
        np.testing.assert_allclose(got, expect, rtol=1e-9, atol=1e-9, equal_nan=True)


@SETTINGS
@given(circuits(max_outputs=3, max_gates=25), points, vectors, vectors)
def test_jvp_and_vjp_agree_with_central_differences(c, xs, vs, us):
    x = _fit(xs, c.n_inputs)
    if not _usable(c, x):
        return
    v, u = _fit(vs, c.n_inputs), _fit(us, len(c.outputs))
    right = naive_eval(jvp(c), np.concatenate([x, v]))[0]
    left = naive_eval(vjp(c), np.concatenate([x, u]))[0]
    exact = _jacobian(c, x)
    np.testing.assert_allclose(right, exact @ v, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(left, u @ exact, rtol=1e-9, atol=1e-9)
    fd = central_differences(c, x)
    if np.all(np.isclose(fd, exact, rtol=1e-4, atol=1e-6)):  # smooth at x: no kink, no jump
        np.testing.assert_allclose(right, fd @ v, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(left, u @ fd, rtol=1e-4, atol=1e-5)


@SETTINGS
@given(circuits(max_outputs=1, max_gates=12), points, vectors, st.data())
def test_hvp_is_the_hessian_times_v(c, xs, vs, data):
    x = _fit(xs, c.n_inputs)
    if not _usable(c, x):
        return
    wrt = data.draw(st.permutations(c.inputs).map(lambda p: list(p)[: max(1, len(p) - 1)]))
    v = _fit(vs, len(wrt))
    grad = differentiate(c, wrt=wrt, simplify=False).circuit
    hessian = _jacobian(grad, x, wrt=wrt)  # (k, k): the Jacobian of the gradient
    for simplify in (False, True):
        H = hvp(c, wrt=wrt, simplify=simplify)
        assert H.output_names == tuple(f"hvp[{w}]" for w in wrt)
        xv = np.concatenate([x, v])
        got = naive_eval(H, xv)[0]
        # two orders of summing the same terms: apart by the rounding of the largest
        # (near a singularity, e.g. hypot(x, x) at x = 1e-216: terms of 1e216 that cancel)
        scale = max(_largest_value(H, xv), _largest_value(grad, x))
        atol = 1e-9 + 1e-13 * scale * max(1.0, float(np.abs(v).sum()))
        np.testing.assert_allclose(got, hessian @ v, rtol=1e-9, atol=atol, equal_nan=True)


@SETTINGS
@given(circuits(max_outputs=3, max_gates=25))
def test_one_sweep_results_stay_within_their_bound(c):
    for mode in ("jvp", "vjp"):
        d = differentiate(c, mode=mode, simplify=False)
        assert d.raw_circuit.n_gates <= d.bound
    d = differentiate(c, mode="hvp", of=[c.output_names[0]], simplify=False)
    assert d.raw_circuit.n_gates <= d.bound


@pytest.mark.parametrize("n, m", [(1, 1), (1, 1000), (1000, 1), (1000, 1000), (30, 300)])
def test_jvp_and_vjp_cost_size_plus_wires_whatever_n_and_m(n, m):
    c = generate.random_dag(3000, n_inputs=n, n_outputs=m, seed=n + m)
    source = measures(c)
    budget = source["size"] + source["wires"]
    for mode in ("jvp", "vjp"):
        d = differentiate(c, mode=mode, simplify=False)
        assert d.raw["size"] <= 2 * budget, (mode, d.raw["size"], budget)
    # the full Jacobian grows with n or m; one sweep does not
    if min(n, m) >= 30:
        full = differentiate(c, mode="backward", simplify=False).raw["size"]
        assert full > 10 * budget
    d = differentiate(c, mode="hvp", of=[c.output_names[0]], simplify=False)
    assert d.raw["size"] <= 5 * budget


def test_hvp_of_equation_1_is_2_AtA_v():
    A = np.array([[1, -3, -3], [1, -2, -2], [1, 1, -5]], dtype=float)
    H = hvp(generate.equation1())
    v = np.array([0.5, -2.0, 1.0])
    got = naive_eval(H, np.concatenate([[1.0, 2.0, 3.0], v]))[0]
    np.testing.assert_allclose(got, 2 * A.T @ A @ v)


def test_include_value_puts_the_source_outputs_first():
    c = generate.equation1()
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, -1.0])
    f = naive_eval(c, x)[0, 0]
    for mode, extra in (("jvp", v), ("vjp", [1.0]), ("hvp", v)):
        r = differentiate(c, mode=mode, include_value=True).circuit
        assert r.output_names[0] == "f"
        np.testing.assert_allclose(naive_eval(r, np.concatenate([x, extra]))[0, 0], f)


def test_names_taken_by_the_source_get_the_next_free_prefix():
    c = parse("x * y + sin(tangent[x])", ["x", "y", "tangent[x]"])
    J = jvp(c)
    assert J.inputs[3:] == ("tangent_2[x]", "tangent_2[y]", "tangent_2[tangent[x]]")
    again = jvp(jvp(generate.equation1()))  # a JVP of a JVP: x, tangent[x] ... tangent_2[...]
    assert again.inputs[6:9] == ("tangent_2[x]", "tangent_2[y]", "tangent_2[z]")
    assert again.output_names == ("jvp[jvp[f]]",)
    c = parse("x * y", ["x", "y"], output="jvp[f]")
    assert jvp(c).output_names == ("jvp[jvp[f]]",)  # no clash: jvp[...] of the name itself
    lay = layout(c.with_outputs([c.outputs[0]] * 2, ["f", "jvp[f]"]), "jvp")
    assert lay.derivatives == ("jvp_2[f]", "jvp_2[jvp[f]]")


def parse(text, inputs, output="f"):
    from circuitgrad.engine import parse_expression

    return parse_expression(text, inputs, output)


def test_second_order_circuits_can_be_differentiated_again():
    c = parse("sin(x) * exp(y)", ["x", "y"])
    J = jvp(c)
    x = np.array([0.4, -0.3, 1.0, 2.0])
    assert_jacobian_matches(J, backward_propagate(J), x)
    assert_jacobian_matches(H := hvp(c), backward_propagate(H), x)  # third derivatives
    assert H.inputs == J.inputs


@pytest.mark.parametrize(
    "mode, kwargs, path",
    [
        ("hvp", {}, "/of"),  # two outputs: hvp needs one
        ("hvp", {"of": ["f0", "f1"]}, "/of"),
        ("jvp", {"wrt": ["x0", "q"]}, "/wrt/1"),
        ("vjp", {"of": []}, "/of"),
        ("sideways", {}, "/mode"),
    ],
)
def test_bad_requests_name_the_place(mode, kwargs, path):
    c = generate.random_dag(20, n_inputs=2, n_outputs=2)
    with pytest.raises(CircuitError) as err:
        differentiate(c, mode=mode, **kwargs)
    assert err.value.errors[0].path == path
    if mode != "sideways":
        with pytest.raises(CircuitError):
            predicted_size(c, mode, **kwargs)


def test_a_seeded_name_over_the_length_limit_is_refused():
    long = "x" * 1020
    c = parse(f"{long} * y", [long, "y"])
    with pytest.raises(CircuitError) as err:
        jvp(c)
    assert err.value.errors[0].path == "/wrt/0"


def test_predicted_size_for_every_mode():
    c = generate.random_dag(5000, n_inputs=20, n_outputs=3)
    for mode in MODES:
        of = ["f0"] if mode == "hvp" else None
        actual = differentiate(c, mode=mode, of=of, simplify=False).raw["size"]
        predicted = predicted_size(c, mode, of=of)
        assert actual / 3 <= predicted <= 3 * actual, (mode, predicted, actual)


def test_hvp_near_a_singularity_is_off_by_rounding_only():
    """-hypot(x, x) = -√2·|x| has H = 0 off 0; at x = -7e-217 the H·v circuit sums terms
    of 10²¹⁶ that cancel (the case hypothesis found): what is left is rounding, far below
    the terms, and nothing overflows."""
    c = parse_expression("-hypot(x, x)")
    x, v = np.array([-7.014086226727262e-217]), np.array([-0.32105923917214385])
    got = naive_eval(hvp(c), np.concatenate([x, v]))[0]
    assert np.all(np.isfinite(got)) and abs(got[0]) < 1e-13 * _largest_value(hvp(c), [*x, *v])
    far = naive_eval(hvp(c), np.array([-0.5, 1.0]))[0]
    assert far[0] == pytest.approx(0.0, abs=1e-15)
