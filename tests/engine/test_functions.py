"""Every op of the table reachable from text and from Python, evaluated alike by the
compiled kernels and the NumPy reference, and carried by every wire format."""

from __future__ import annotations

import math

import numpy as np
import pytest
from oracle import naive_eval

from circuitgrad.engine.building import expr as E
from circuitgrad.engine.building import generate
from circuitgrad.engine.building.parser import FUNCTIONS, parse_expression
from circuitgrad.engine.core.ops import BY_CODE, GATE_OPS
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.evaluation.evaluate import evaluate, evaluate_reference
from circuitgrad.engine.formats import codec

NEW_UNARY = ["tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh", "log1p",
             "expm1", "log2", "log10", "erf", "floor", "ceil"]  # fmt: skip
BINARY = ["hypot", "atan2", "powv", "lt", "le", "gt", "ge", "eq", "ne"]


def ops_of(c) -> list[str]:
    return [BY_CODE[k].name for k in c.op[c.n_inputs :]]


@pytest.mark.parametrize("name", NEW_UNARY)
def test_unary_functions_in_text_and_python(name):
    c = parse_expression(f"{name}(x)")
    assert ops_of(c) == [name]
    (x,) = E.inputs("x")
    built = E.build({"f": getattr(E, name)(x)})
    assert built.op.tolist() == c.op.tolist() and built.args.tolist() == c.args.tolist()
    point = 1.5 if name == "acosh" else 0.3
    want = {"erf": math.erf(point)}.get(name)
    got = evaluate(c, [point])[0, 0]
    if want is not None:
        assert got == pytest.approx(want, rel=1e-15)
    assert np.isfinite(got)


@pytest.mark.parametrize("name", BINARY + ["where"])
def test_several_argument_functions(name):
    args = "c, x, y" if name == "where" else "x, y"
    c = parse_expression(f"{name}({args})", inputs=["c", "x", "y"])
    assert ops_of(c) == [name]
    c_, x, y = E.inputs("c x y")
    values = (c_, x, y) if name == "where" else (x, y)
    built = E.build({"f": getattr(E, name)(*values)}, inputs=["c", "x", "y"])
    assert built.op.tolist() == c.op.tolist() and built.args.tolist() == c.args.tolist()


def test_every_op_is_a_function_of_the_language_and_of_python():
    assert FUNCTIONS == {op.name for op in GATE_OPS} - {"const"}
    operators = {"add", "mul", "neg", "sub", "div", "pow", "abs", "mul0"}  # + * - / ** abs_
    assert FUNCTIONS - operators <= set(E.__all__)


def test_comparisons_bind_below_sums_and_make_gates():
    c = parse_expression("x + 1 > 2 * y")
    assert ops_of(c) == ["const", "add", "add", "gt"]
    assert evaluate(c, [[2.0, 1.0], [0.0, 1.0]])[:, 0].tolist() == [1.0, 0.0]
    for text, op in (("x < y", "lt"), ("x <= y", "le"), ("x >= y", "ge"), ("x == y", "eq"),
                     ("x != y", "ne"), ("-x > y", "gt")):  # fmt: skip
        assert ops_of(parse_expression(text))[-1] == op
    assert ops_of(parse_expression("(x < y) < 1"))[-1] == "lt"
    (x, y) = E.inputs("x y")
    assert ops_of(E.build(x + 1 > 2 * y)) == ["const", "add", "add", "gt"]
    assert ops_of(E.build(0 < x)) == ["const", "gt"]  # reflected: x > 0
    with pytest.raises(TypeError, match="truth value"):
        bool(x < y)
    with pytest.raises(TypeError, match="identity"):
        E.build(x == y)


def test_pi_and_e_are_constants_unless_they_are_inputs():
    c = parse_expression("pi * x + e")
    assert c.inputs == ("x",)
    assert evaluate(c, [2.0])[0, 0] == 2.0 * math.pi + math.e
    c = parse_expression("pi * x", inputs=["pi", "x"])
    assert c.inputs == ("pi", "x") and ops_of(c) == ["mul"]
    c = parse_expression("e = x + 1; f = e * 2")  # an output called e is that output
    assert c.output_names == ("e", "f") and evaluate(c, [1.0])[0].tolist() == [2.0, 4.0]
    c = parse_expression("exp(x) * e")
    assert c.inputs == ("x",) and evaluate(c, [1.0])[0, 0] == pytest.approx(math.e**2)


def test_min_and_max_take_any_number_of_arguments():
    c = parse_expression("max(x, y, z, 1, -x)")
    assert ops_of(c).count("max") == 4
    assert evaluate(c, [-3.0, 1.0, 2.0])[0, 0] == 3.0
    assert ops_of(parse_expression("min(x)")) == []
    x, y, z = E.inputs("x y z")
    c = E.build(E.min(x, y, z))
    assert ops_of(c) == ["min", "min"] and evaluate(c, [3.0, 1.0, 2.0])[0, 0] == 1.0
    with pytest.raises(CircuitError, match="at least 1"):
        E.max()


def test_powers_with_circuit_exponents():
    c = parse_expression("x ** y + 2 ** x + x ** 2.5 + pow(x, y)")
    assert ops_of(c).count("powv") == 2 and ops_of(c).count("pow") == 1
    x, y = 1.5, 0.5
    assert evaluate(c, [x, y])[0, 0] == pytest.approx(2 * x**y + 2**x + x**2.5, rel=1e-14)


def test_unknown_functions_list_the_known_ones():
    with pytest.raises(CircuitError) as e:
        parse_expression("sine(x)")
    message = str(e.value)
    assert "unknown function 'sine'" in message
    assert all(name in message for name in ("where", "atan2", "erf", "max", "sin"))
    with pytest.raises(CircuitError, match="the functions are"):
        E.function("sine", 1.0)


# -- every op: kernels and reference, and the wire formats -----------------------------
POINTS = np.array([-2.5, -1.0, -0.5, -0.0, 0.0, 0.5, 1.0, 1.5, 3.0, np.inf, -np.inf, np.nan])


def every_op_circuit():
    r = generate.Rows(["x", "y", "z"])
    outs = []
    for op in GATE_OPS:
        if op.name == "const":
            continue
        k = op.min_args if op.max_args is not None else 3
        outs.append(r.gate(op.name, *[0, 1, 2][:k], p=2.5 if op.param else 0.0))
    return r.circuit(outs, [f"o{i}" for i in range(len(outs))])


def test_kernels_and_reference_agree_on_every_op():
    """Bit for bit where both are finite or both not (NumPy and Numba's libm may differ in
    the last bit on a few transcendental functions: 4 ulp at most)."""
    c = every_op_circuit()
    X = np.array(np.meshgrid(POINTS, POINTS, [0.5, -0.0, np.nan])).reshape(3, -1).T
    ref = evaluate_reference(c, X)
    for got in (evaluate(c, X), np.vstack([evaluate(c, x) for x in X[::7]])):
        want = ref if len(got) == len(X) else ref[::7]
        assert np.array_equal(np.isnan(got), np.isnan(want))
        infinity = lambda a: np.where(np.isinf(a), np.sign(a), 0.0)  # noqa: E731
        assert np.array_equal(infinity(got), infinity(want))
        finite = np.isfinite(want)
        np.testing.assert_allclose(got[finite], want[finite], rtol=1e-15 * 4, atol=0)
        zeros = finite & (want == 0)
        assert np.array_equal(np.signbit(got[zeros]), np.signbit(want[zeros]))
    oracle = naive_eval(c, X)
    np.testing.assert_allclose(oracle, ref, rtol=1e-15 * 4, atol=0, equal_nan=True)


def test_every_op_travels_in_every_wire_format():
    c = every_op_circuit()
    X = np.array([[0.3, 0.7, -0.2], [2.0, -1.0, 0.0]])
    ident = codec.content_id(c)
    for back in (codec.from_json(codec.to_json(c)),
                 codec.from_msgpack(codec.to_msgpack(c, packed=False)),
                 codec.from_msgpack(codec.to_msgpack(c, packed=True))):  # fmt: skip
        assert codec.content_id(back) == ident
        assert back.op.tolist() == c.op.tolist()
        np.testing.assert_array_equal(evaluate(back, X), evaluate(c, X))


@pytest.mark.parametrize("mode", ["backward", "forward"])
@pytest.mark.parametrize(
    "y, x",
    [
        (1.0, 2.0),
        (-2.0, 0.5),
        (1e-160, 0.0),
        (0.0, 1e-160),
        (3e-170, 4e-170),
        (3e170, 4e170),
        (1e300, 1e-300),
        (-1e-300, 1e300),
    ],  # fmt: skip
)
def test_atan2_partials_hold_over_the_whole_range(y, x, mode):
    """x/(x² + y²) and −y/(x² + y²) where x² + y² itself would over- or underflow; the
    reference is exact rational arithmetic."""
    from fractions import Fraction

    from circuitgrad.engine.passes.gradient import differentiate

    c = parse_expression("atan2(y, x)", ["y", "x"])
    g = differentiate(c, mode=mode)
    got = evaluate(g.circuit, np.array([[y, x]]))[0]
    d = Fraction(x) ** 2 + Fraction(y) ** 2
    want = {"df/dy": float(Fraction(x) / d), "df/dx": float(-Fraction(y) / d)}
    for name, value in want.items():
        got_value = got[g.circuit.output_names.index(name)]
        assert got_value == pytest.approx(value, rel=4e-16, abs=0), name
