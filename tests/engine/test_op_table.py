"""Every op of the table is complete: evaluation, derivative rule, and a place in the tests."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from oracle import assert_jacobian_matches, naive_eval
from randcircuit import circuits, points

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.ops import BY_NAME, GATE_OPS, OPS
from circuitgrad.engine.passes.gradient import differentiate

SPEC_OPS = {
    "const", "add", "mul", "neg", "sub", "div", "recip", "square", "pow", "sqrt", "exp", "log",
    "sin", "cos", "tanh", "sigmoid", "relu", "abs", "step", "sign",
}  # fmt: skip


def test_the_table_has_exactly_the_ops_of_the_spec():
    assert {op.name for op in GATE_OPS} == SPEC_OPS
    assert [op.code for op in OPS] == list(range(len(OPS)))


@pytest.mark.parametrize("op", [op for op in GATE_OPS if op.name != "const"], ids=lambda o: o.name)
def test_every_gate_op_evaluates_and_differentiates(op):
    assert op.partials is not None, f"{op.name} has no derivative rule"
    evaluates = op.evaluate is not None or op.reduction in ("sum", "product")
    assert evaluates, f"{op.name} can't evaluate"
    if op.evaluate is not None:
        k = op.evaluate.__code__.co_argcount - (1 if op.param else 0)
        assert k == op.min_args == op.max_args
        args = [np.array([0.7, 1.3])] * k + ([np.array([2.5, 2.5])] if op.param else [])
        assert np.all(np.isfinite(op.evaluate(*args)))


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
