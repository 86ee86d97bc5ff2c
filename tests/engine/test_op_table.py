"""Every op of the table is complete: evaluation, derivative rule, and a place in the tests."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from oracle import assert_jacobian_matches, naive_eval
from randcircuit import circuits, points

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.ops import BY_NAME, GATE_OPS, OPS
from circuitgrad.engine.core.templates import MAX_FACTORS
from circuitgrad.engine.passes.gradient import differentiate
from circuitgrad.engine.passes.partials import wire_partials_of

SPEC_OPS = {
    "const", "add", "mul", "neg", "sub", "div", "recip", "square", "pow", "sqrt", "exp", "log",
    "sin", "cos", "tanh", "sigmoid", "relu", "abs", "step", "sign",
    # issue 11
    "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log1p",
    "expm1", "log2", "log10", "erf", "floor", "ceil", "hypot", "atan2", "min", "max", "powv",
    "lt", "le", "gt", "ge", "eq", "ne", "where", "mul0",
}  # fmt: skip


def test_the_table_has_exactly_the_ops_of_the_spec():
    assert {op.name for op in GATE_OPS} == SPEC_OPS
    assert [op.code for op in OPS] == list(range(len(OPS)))


@pytest.mark.parametrize("op", [op for op in GATE_OPS if op.name != "const"], ids=lambda o: o.name)
def test_every_gate_op_evaluates_and_differentiates(op):
    assert op.partials is not None, f"{op.name} has no derivative rule"
    evaluates = op.evaluate is not None or op.reduction in ("sum", "product", "strong_product")
    assert evaluates, f"{op.name} can't evaluate"
    if op.evaluate is not None:
        k = op.evaluate.__code__.co_argcount - (1 if op.param else 0)
        assert k == op.min_args == op.max_args
        inside = np.array([1.3, 1.6]) if op.name == "acosh" else np.array([0.3, 0.6])
        args = [inside] * k + ([np.array([2.5, 2.5])] if op.param else [])
        assert np.all(np.isfinite(op.evaluate(*args)))


KINKED = {"relu", "abs", "step", "sign", "min", "max", "floor", "ceil", "where", "sqrt",
          "hypot", "atan2", "powv", "lt", "le", "gt", "ge", "eq", "ne", "mul0"}  # fmt: skip


def test_every_op_with_a_kink_states_its_convention():
    """docs/conventions.md is made of these: each op at its kinks and IEEE special values."""
    assert all(BY_NAME[name].kink for name in KINKED)


def _rule_gates(op, k):
    """Gates (not constants) the rule of ``op`` emits for one gate of k inputs, how many
    of its partials are a constant plus a product (each may cost an addition where its
    argument's derivative is summed), and the factor matrix of its wires."""
    r = generate.Rows([f"x{i}" for i in range(k)])
    r.gate(op.name, *range(k), p=2.5 if op.param else 0.0)
    c = r.circuit([k], ["f"])
    P = wire_partials_of(c, np.ones(c.n_vertices, bool))
    codes = P.emitter.arrays()[0]
    mixed = (P.offset != 0) & (P.scale != 0) & (P.factors[:, 0] >= 0)
    return int(np.count_nonzero(codes != BY_NAME["const"].code)), int(mixed.sum()), P.factors


ARITIES = [(op, k) for op in GATE_OPS if op.name != "const"
           for k in ([op.min_args] if op.max_args is not None else [op.min_args, 3, 4, 5, 6, 7, 8,
                                                                     11, 64, 2000])]  # fmt: skip


@pytest.mark.parametrize("op, k", ARITIES, ids=lambda x: getattr(x, "name", str(x)))
def test_every_rule_keeps_theorem_3s_budget(op, k):
    """At most one rule gate per argument plus one per gate, counting a partial that is a
    constant plus a product as one, and at most MAX_FACTORS factors per partial: with one
    product per wire and one addition per vertex that keeps backward within
    3·wires + nodes (docs/engine.md)."""
    gates, mixed, factors = _rule_gates(op, k)
    assert gates + mixed <= k + 1
    assert factors.shape[1] == MAX_FACTORS


@pytest.mark.parametrize("name", sorted(SPEC_OPS - {"const"}))
def test_every_op_has_a_finite_difference_case(name):
    """Random circuits made of this op (and whatever guards its domain) differentiate to
    finite differences, in both modes."""

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(circuits(ops=[name], max_gates=6), points)
    def check(c, xs):
        assert BY_NAME[name].code in c.op
        x = np.resize(np.asarray(xs, float), c.n_inputs)
        values = naive_eval(c, x)
        if not np.all(np.isfinite(values)) or np.abs(values).max() > 1e6:
            return
        for mode in ("forward", "backward"):
            assert_jacobian_matches(c, differentiate(c, mode=mode, simplify=False).circuit, x)

    check()


def test_simplified_backward_stays_within_theorem_3():
    for c in (generate.equation1(), generate.determinant(4), generate.mlp_loss(20, 3, 4)):
        g = differentiate(c)
        assert g.raw["size"] <= g.bound
        assert g.circuit.n_gates <= g.bound
