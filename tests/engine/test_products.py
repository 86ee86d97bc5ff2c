"""High fan-in products stay linear, and backward stays within Theorem 3's bound.

The partials Π_{j≠i} xⱼ of a k-argument product are built from shared prefix and suffix
products over pairs of arguments (``derivatives.leave_one_out``): O(k) gates and wires
where k products of k − 1 factors took k² wires. No division, so zeros are no special
case. Theorem 3 (raw backward size ≤ 3·wires + nodes for one output) is checked on the
product and on circuits built to stress the accounting of docs/engine.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from oracle import central_differences
from randcircuit import circuits

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.measures import size
from circuitgrad.engine.core.ops import BY_NAME
from circuitgrad.engine.evaluation.evaluate import evaluate
from circuitgrad.engine.passes.gradient import differentiate
from circuitgrad.engine.passes.propagate import backward_propagate, forward_propagate

K = 2000


def product(k: int, op: str = "mul"):
    r = generate.Rows([f"x{i}" for i in range(k)])
    return r.circuit([r.gate(op, *range(k))], ["f"])


def leave_one_out(x: np.ndarray) -> np.ndarray:
    """Π_{j≠i} xⱼ for every i, by prefix and suffix products (an independent reference)."""
    prefix = np.concatenate([[1.0], np.cumprod(x[:-1])])
    suffix = np.concatenate([np.cumprod(x[::-1][:-1])[::-1], [1.0]])
    return prefix * suffix


def theorem_3_bound(c) -> int:
    return 3 * c.n_wires + c.n_vertices


def points(k: int, zeros: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.999, 1.001, k)  # near 1: the product neither overflows nor underflows
    x[rng.choice(k, zeros, replace=False)] = 0.0
    return x


@pytest.mark.parametrize("op", ["mul", "mul0"])
def test_a_2000_argument_product_has_a_linear_backward_gradient(op):
    c = product(K, op)
    g = backward_propagate(c)
    assert size(g) <= 2 * K + 1 and g.n_wires <= 8 * K  # was k² wires: 4·10⁶
    assert size(g) <= theorem_3_bound(c)
    s = differentiate(c).circuit
    assert size(s) <= size(g) and s.n_wires <= g.n_wires
    for zeros in (0, 1, 2, 3):
        x = points(K, zeros, seed=zeros)
        want = leave_one_out(x)
        for circuit in (g, s):
            got = evaluate(circuit, x)[0]
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
            assert np.array_equal(got == 0, want == 0)  # exact zeros where Π has a zero


def test_a_2000_argument_product_against_finite_differences():
    c = product(K)
    x = points(K, 0)
    got = evaluate(backward_propagate(c), x)[0]
    np.testing.assert_allclose(got, central_differences(c, x)[0], rtol=1e-6)


def test_forward_mode_on_a_2000_argument_product():
    c = product(K)
    wrt = ["x0", "x7", "x1999"]
    g = forward_propagate(c, wrt=wrt)
    x = points(K, 1, seed=5)
    np.testing.assert_allclose(evaluate(g, x)[0], leave_one_out(x)[[0, 7, 1999]], rtol=1e-12)


@pytest.mark.parametrize("k", range(2, 14))
def test_products_of_every_arity(k):
    c = product(k)
    for zeros in range(min(k, 3) + 1):
        x = points(k, zeros, seed=k) * 1.7
        want = leave_one_out(x)
        for mode in ("forward", "backward"):
            for simplify in (False, True):
                g = differentiate(c, mode=mode, simplify=simplify).circuit
                np.testing.assert_allclose(evaluate(g, x)[0], want, rtol=1e-13, atol=0)
        assert size(backward_propagate(c)) <= theorem_3_bound(c)


def test_second_derivatives_of_a_product():
    """The Hessian of Π xᵢ: Π_{j≠i,l} xⱼ off the diagonal, 0 on it."""
    k = 9
    c = product(k)
    h = differentiate(differentiate(c).circuit).circuit
    x = points(k, 1, seed=3) * 1.3
    got = evaluate(h, x)[0].reshape(k, k)
    want = np.array([[0.0 if i == j else np.prod(np.delete(x, [i, j])) for j in range(k)]
                     for i in range(k)])  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)


# -- Theorem 3's accounting, stressed ------------------------------------------------------
def layered(k: int, layers: int, unary: str, gate: str):
    """k chains of ``unary`` gates (two rule gates each for erf, asinh, atan), every layer
    also feeding one k-argument ``gate``; the sum of those is the output. Every chain vertex
    has two uses (an addition each in backward) and every product rule its prefix and
    suffix gates: the case the bound is tightest on."""
    r = generate.Rows([f"x{i}" for i in range(k)])
    level, tops = list(range(k)), []
    for _ in range(layers):
        level = [r.gate(unary, v) for v in level]
        if gate in ("max", "min"):
            tops.append(r.gate(gate, r.gate(gate, *level[:2]), r.gate(gate, *level[2:4])))
        else:
            tops.append(r.gate(gate, *level))
    return r.circuit([r.gate("sin", r.gate("add", *tops))], ["f"])


@pytest.mark.parametrize("unary", ["erf", "asinh", "atan", "acosh", "sin"])
@pytest.mark.parametrize("gate", ["mul", "mul0", "max", "hypot"])
def test_backward_stays_within_theorem_3_on_stressful_circuits(unary, gate):
    k = 4 if gate in ("max",) else (2 if gate == "hypot" else 24)
    c = layered(k, 30, unary, gate)
    raw = backward_propagate(c)
    assert size(raw) <= theorem_3_bound(c)
    assert raw.n_gates <= theorem_3_bound(c)


def test_where_heavy_circuits_stay_within_theorem_3():
    r = generate.Rows(["x", "y"])
    v = 0
    for _ in range(40):
        v = r.gate("where", r.gate("gt", v, 1), r.gate("sqrt", v), r.gate("mul", v, 1, v))
        v = r.gate("powv", r.gate("add", v, r.const(2.0)), r.gate("tanh", 1))
    c = r.circuit([v], ["f"])
    assert size(backward_propagate(c)) <= theorem_3_bound(c)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(circuits(max_outputs=3, max_gates=25))
def test_backward_stays_within_theorem_3_for_several_outputs(c):
    m = len(c.outputs)
    assert size(backward_propagate(c)) <= 3 * m * c.n_wires + c.n_vertices


def test_conventions_doc_states_every_kink():
    text = (Path(__file__).parents[2] / "docs" / "conventions.md").read_text()
    for op in BY_NAME.values():
        if op.kink:
            assert f"`{op.name}`" in text, op.name


@pytest.mark.parametrize("op", ["mul", "mul0"])
@pytest.mark.parametrize("k", [6, 7, 8, 13, 40])
def test_provenance_gives_every_gate_of_a_long_product_to_that_product(k, op):
    """The prefix and suffix chains are batches of several gates per product gate: each
    belongs to the gate (forward) or one of its wires (backward), whatever the length."""
    r = generate.Rows([f"x{i}" for i in range(k)])
    c = r.circuit([r.gate(op, *range(k)), r.gate("sin", 0)], ["f", "s"])
    gate = k  # the product: the first vertex after the inputs
    for mode in ("forward", "backward"):
        g = differentiate(c, mode=mode, simplify=False, provenance=True)
        origin = g.provenance.origin
        assert len(origin) == g.circuit.n_vertices
        added = origin[origin >= 0]
        assert added.size >= k  # at least one gate per wire of the product
        if mode == "forward":
            assert set(np.unique(added)) <= {gate, gate + 1}
            assert np.sum(added == gate) >= k
        else:
            lo, hi = c.arg_offsets[gate], c.arg_offsets[gate + 1]
            product_wires = added[added < hi]
            assert np.all(product_wires >= lo)
            assert set(np.unique(product_wires)) == set(range(lo, hi))  # every wire's term
