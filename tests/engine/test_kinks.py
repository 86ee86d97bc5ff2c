"""One convention at every kink, held by evaluation and by every mode (docs/conventions.md).

Each row: an op, its arguments (inputs of a one-gate circuit), the value — compared bit
for bit, the sign of zero included — and the partial derivatives, which forward and
backward propagation, raw and simplified, must all give (NaN where NaN is the rule).
"""

from __future__ import annotations

import numpy as np
import pytest

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.ops import BY_NAME
from circuitgrad.engine.evaluation.evaluate import evaluate, evaluate_reference
from circuitgrad.engine.passes.gradient import differentiate

inf, nan = np.inf, np.nan
# op, arguments, value, partials
CONVENTIONS = [
    ("relu", [-0.0], 0.0, [0.0]), ("relu", [0.0], 0.0, [0.0]), ("relu", [-1.0], 0.0, [0.0]),
    ("relu", [2.0], 2.0, [1.0]), ("relu", [nan], nan, [nan]),
    ("abs", [-0.0], 0.0, [0.0]), ("abs", [0.0], 0.0, [0.0]), ("abs", [-2.0], 2.0, [-1.0]),
    ("step", [-0.0], 0.0, [0.0]), ("step", [0.0], 0.0, [0.0]), ("step", [3.0], 1.0, [0.0]),
    ("step", [nan], nan, [0.0]),
    ("sign", [-0.0], 0.0, [0.0]), ("sign", [0.0], 0.0, [0.0]), ("sign", [-3.0], -1.0, [0.0]),
    ("sign", [nan], nan, [0.0]),
    ("max", [1.0, 1.0], 1.0, [1.0, 0.0]), ("max", [-0.0, 0.0], 0.0, [1.0, 0.0]),
    ("max", [0.0, -0.0], 0.0, [1.0, 0.0]), ("max", [1.0, 2.0], 2.0, [0.0, 1.0]),
    ("max", [nan, 1.0], nan, [nan, nan]), ("max", [inf, inf], inf, [nan, nan]),
    ("max", [inf, 1.0], inf, [1.0, 0.0]),
    ("min", [1.0, 1.0], 1.0, [1.0, 0.0]), ("min", [-0.0, 0.0], -0.0, [1.0, 0.0]),
    ("min", [0.0, -0.0], -0.0, [1.0, 0.0]), ("min", [2.0, 1.0], 1.0, [0.0, 1.0]),
    ("min", [1.0, nan], nan, [nan, nan]),
    ("floor", [2.0], 2.0, [0.0]), ("floor", [-0.0], -0.0, [0.0]), ("floor", [-0.5], -1.0, [0.0]),
    ("ceil", [2.0], 2.0, [0.0]), ("ceil", [-0.5], -0.0, [0.0]), ("ceil", [0.5], 1.0, [0.0]),
    ("where", [0.0, 3.0, 4.0], 4.0, [0.0, 0.0, 1.0]),
    ("where", [-0.0, 3.0, 4.0], 4.0, [0.0, 0.0, 1.0]),
    ("where", [1e-300, 3.0, 4.0], 3.0, [0.0, 1.0, 0.0]),
    ("where", [nan, 3.0, 4.0], nan, [0.0, nan, nan]),
    ("where", [1.0, nan, 4.0], nan, [0.0, 1.0, 0.0]),
    ("where", [0.0, nan, 4.0], 4.0, [0.0, 0.0, 1.0]),
    ("lt", [1.0, 1.0], 0.0, [0.0, 0.0]), ("le", [1.0, 1.0], 1.0, [0.0, 0.0]),
    ("gt", [nan, 1.0], 0.0, [0.0, 0.0]), ("ge", [-0.0, 0.0], 1.0, [0.0, 0.0]),
    ("eq", [-0.0, 0.0], 1.0, [0.0, 0.0]), ("eq", [nan, nan], 0.0, [0.0, 0.0]),
    ("ne", [nan, nan], 1.0, [0.0, 0.0]),
    ("sqrt", [0.0], 0.0, [inf]), ("sqrt", [-0.0], -0.0, [-inf]),
    ("hypot", [0.0, 0.0], 0.0, [0.0, 0.0]), ("hypot", [3.0, -4.0], 5.0, [0.6, -0.8]),
    ("atan2", [0.0, 0.0], 0.0, [nan, nan]),
    ("powv", [0.0, 2.0], 0.0, [0.0, 0.0]), ("powv", [0.0, 0.0], 1.0, [0.0, -inf]),
    ("powv", [2.0, 0.0], 1.0, [0.0, np.log(2.0)]),
    ("mul0", [0.0, inf], 0.0, [inf, 0.0]), ("mul0", [-0.0, 3.0], -0.0, [3.0, -0.0]),
    ("asin", [1.0], np.pi / 2, [inf]), ("acos", [-1.0], np.pi, [-inf]),
    ("atanh", [1.0], inf, [inf]), ("acosh", [1.0], 0.0, [inf]),
]  # fmt: skip


def one_gate(name: str, k: int):
    r = generate.Rows([f"x{i}" for i in range(k)])
    g = r.gate(name, *range(k))
    return r.circuit([g], ["f"])


def same_bits(got, want) -> bool:
    """Equal, NaN equal to NaN, and zeros of the same sign."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    return np.array_equal(got, want, equal_nan=True) and np.array_equal(
        np.signbit(got) | np.isnan(got), np.signbit(want) | np.isnan(want)
    )


@pytest.mark.parametrize("name, args, value, partials", CONVENTIONS,
                         ids=[f"{r[0]}{r[1]}" for r in CONVENTIONS])  # fmt: skip
def test_value_at_the_kink(name, args, value, partials):
    c = one_gate(name, len(args))
    assert same_bits(evaluate(c, args)[0, 0], value)
    assert same_bits(evaluate_reference(c, [args])[0, 0], value)
    assert same_bits(evaluate(c, [args, args])[:, 0], [value, value])  # the block kernel


@pytest.mark.parametrize("simplify", [False, True], ids=["raw", "simplified"])
@pytest.mark.parametrize("mode", ["forward", "backward"])
@pytest.mark.parametrize("name, args, value, partials", CONVENTIONS,
                         ids=[f"{r[0]}{r[1]}" for r in CONVENTIONS])  # fmt: skip
def test_derivative_at_the_kink(name, args, value, partials, mode, simplify):
    g = differentiate(one_gate(name, len(args)), mode=mode, simplify=simplify).circuit
    got = evaluate(g, args)[0]
    assert np.array_equal(got, partials, equal_nan=True), got  # 0.0 == -0.0 here
    assert np.array_equal(evaluate(g, [args, args])[1], got, equal_nan=True)


def test_every_op_with_a_convention_is_tested_here():
    tested = {row[0] for row in CONVENTIONS}
    assert {op.name for op in BY_NAME.values() if op.kink} <= tested
