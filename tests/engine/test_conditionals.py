"""where(c, a, b): the derivative is the chosen branch's, in every mode and order.

JAX (``grad`` through ``where``) and CasADi (``if_else``) propagate NaN from the branch
not taken: 0 · NaN is NaN. Here chain-rule products in a circuit with a conditional are
strong (``mul0``: a zero factor wins), so the unselected branch's NaN or ∞ partials
(√ at a negative number, 1/x at 0) never reach the result — forward, backward, auto,
raw or simplified, first or second derivatives.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from circuitgrad.engine.building.expr import build, inputs, ne, sin, sqrt, where
from circuitgrad.engine.building.parser import parse_expression
from circuitgrad.engine.evaluation.evaluate import evaluate
from circuitgrad.engine.passes.gradient import differentiate

MODES = ["forward", "backward", "auto"]
NEAR_ZERO = [0.0, -0.0, 1e-300, -1e-300, 1e-8, -1e-8, 1.0, -1.0, -4.0, 2.5]


def derivatives(c, mode, simplify, order):
    """The circuit of the ``order``-th derivative of c (gradient of the gradient...)."""
    for _ in range(order):
        c = differentiate(c, mode=mode, simplify=simplify).circuit
    return c


def at(c, xs):
    return evaluate(c, np.asarray(xs, float)[:, None])[:, 0]


# closed forms of the chosen branch, as functions of x
def sqrt_branch(order):
    def f(x):
        with np.errstate(over="ignore"):
            x = np.float64(x)
            return [np.sqrt(x), 0.5 / np.sqrt(x), -0.25 * x**-1.5][order] if x > 0 else 0.0

    return f


def sinc_branch(order):  # x ≠ 0: sin(x)/x and its derivatives; x = 0: the constant 1
    def f(x):
        x = np.float64(x)
        if x == 0:
            return [1.0, 0.0, 0.0][order]
        with np.errstate(all="ignore"):
            s, c = np.sin(x), np.cos(x)
            return [s / x, (x * c - s) / x**2, -s / x - 2 * c / x**2 + 2 * s / x**3][order]

    return f


CASES = {
    "where(x > 0, sqrt(x), 0)": (sqrt_branch, ["sqrt(x)", "0*x"], lambda x: x > 0),
    "where(x != 0, sin(x)/x, 1)": (sinc_branch, ["sin(x)/x", "0*x + 1"], lambda x: x != 0),
}
WELL_CONDITIONED = {0.0, -0.0, 1.0, -1.0, -4.0, 2.5}  # where the closed forms are exact enough


@pytest.mark.parametrize("order", [1, 2])
@pytest.mark.parametrize("simplify", [False, True], ids=["raw", "simplified"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("text", list(CASES))
def test_the_derivative_is_the_chosen_branchs(text, mode, simplify, order):
    closed, branch_texts, takes_a = CASES[text]
    c = parse_expression(text)
    got = at(derivatives(c, mode, simplify, order), NEAR_ZERO)
    # the chosen branch differentiated on its own, the same way, at the same points
    branches = [at(derivatives(parse_expression(t), mode, simplify, order), NEAR_ZERO)
                for t in branch_texts]  # fmt: skip
    chosen = np.where([takes_a(x) for x in NEAR_ZERO], branches[0], branches[1])
    assert np.array_equal(got, chosen, equal_nan=True)
    for x, value in zip(NEAR_ZERO, got, strict=True):
        if x in WELL_CONDITIONED or text.startswith("where(x > 0"):
            want = closed(order)(x)
            assert not math.isnan(value) and value == pytest.approx(want, rel=1e-12, abs=1e-300)
    # no NaN from the branch not taken (the chosen branch's own float formula may still
    # overflow: sin(x)/x's second derivative at 1e-300 is ∞ − ∞ there, taken or not)
    assert not np.isnan(got[[i for i, x in enumerate(NEAR_ZERO) if not takes_a(x)]]).any()


def test_values_are_the_chosen_branchs():
    for text, (closed, _, _) in CASES.items():
        got = at(parse_expression(text), NEAR_ZERO)
        assert got.tolist() == pytest.approx([closed(0)(x) for x in NEAR_ZERO], rel=1e-15)


def test_first_derivatives_near_zero_have_no_nan_at_all():
    for text in CASES:
        for mode in MODES:
            for simplify in (False, True):
                g = derivatives(parse_expression(text), mode, simplify, 1)
                assert not np.isnan(at(g, NEAR_ZERO)).any(), (text, mode, simplify)


def test_sinc_is_smooth_at_zero_when_the_branch_carries_the_curvature():
    """At x = 0 the chosen branch of where(x != 0, sin(x)/x, 1) is the constant 1: its
    derivatives there are 0 and 0, not sinc''(0) = −1/3. A branch with the Taylor term
    gives the smooth function's derivatives at 0 too."""
    c = parse_expression("where(x != 0, sin(x)/x, 1 - x^2/6)")
    for mode in MODES:
        for simplify in (False, True):
            first, second = (at(derivatives(c, mode, simplify, k), [0.0])[0] for k in (1, 2))
            assert first == 0.0 and second == pytest.approx(-1 / 3, rel=1e-15)


def test_python_builder_and_documents_behave_alike():
    (x,) = inputs("x")
    with pytest.raises(TypeError, match="identity"):
        where(x != 0, sin(x) / x, 1)  # != is identity in Python: True, not a gate
    c = build({"f": where(x > 0, sqrt(x), 0) + where(ne(x, 0), sin(x) / x, 1)})
    g = differentiate(c, mode="backward").circuit
    values = at(g, NEAR_ZERO)
    assert not np.isnan(values).any()
    want = [sqrt_branch(1)(v) + sinc_branch(1)(v) for v in NEAR_ZERO]
    ok = [v in WELL_CONDITIONED for v in NEAR_ZERO]
    np.testing.assert_allclose(values[ok], np.array(want)[ok], rtol=1e-12)


def test_nan_condition_gives_nan_value_and_derivative():
    c = parse_expression("where(c, a * a, b)", inputs=["c", "a", "b"])
    g = differentiate(c, mode="backward").circuit
    got = evaluate(g, [[np.nan, 3.0, 4.0], [0.0, 3.0, 4.0], [-0.0, 3.0, 4.0], [2.0, 3.0, 4.0]])
    assert np.isnan(evaluate(c, [np.nan, 3.0, 4.0])[0, 0])
    assert got[0, 0] == 0.0 and np.isnan(got[0, 1:]).all()  # ∂/∂c is 0 everywhere
    assert got[1:].tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 6.0, 0.0]]
