"""CircuitBuilder (hash-consing, validation) and the Python expression front end."""

import math
import sys

import numpy as np
import pytest
from oracle import naive_eval

from circuitgrad.engine.building.builder import CircuitBuilder
from circuitgrad.engine.building.expr import (
    abs_,
    build,
    const,
    cos,
    exp,
    function,
    inputs,
    log,
    power,
    recip,
    relu,
    sigmoid,
    sign,
    sin,
    sqrt,
    square,
    step,
    tanh,
)
from circuitgrad.engine.core.ops import BY_CODE, BY_NAME
from circuitgrad.engine.errors import CircuitError

# The document of circuit-format.md: equation (1) of the lecture.
SPEC_OP = ["input"] * 3 + ["const", "add", "add", "add", "square", "square", "square", "add"]
SPEC_ARGS = [[], [], [], [], [0, 1, 2, 3], [0, 1, 2], [0, 1, 2, 3], [4], [5], [6], [7, 8, 9]]
SPEC_COEFFS = [
    [],
    [],
    [],
    [],
    [1, -3, -3, 5],
    [1, -2, -2],
    [1, 1, -5, -3],
    [1],
    [1],
    [1],
    [1, 1, 1],
]


def depth(c) -> int:
    """Longest path counting gates (sources have depth 0), computed here independently."""
    d = [0] * c.n_vertices
    for v in range(c.n_vertices):
        if BY_CODE[c.op[v]].name not in ("input", "const"):
            d[v] = 1 + max(d[a] for a in c.args_of(v))
    return max(d[o] for o in c.outputs) if len(c.outputs) else 0


def size(c) -> int:
    return sum(BY_CODE[k].name not in ("input", "const") for k in c.op)


def ops_of(c) -> list[str]:
    return [BY_CODE[k].name for k in c.op]


def rows(c):
    return [c.args_of(v).tolist() for v in range(c.n_vertices)]


def coeff_rows(c):
    return [c.coeffs[c.arg_offsets[v] : c.arg_offsets[v + 1]].tolist() for v in range(c.n_vertices)]


def same_circuit(a, b) -> bool:
    return (
        a.inputs == b.inputs
        and a.output_names == b.output_names
        and all(
            np.array_equal(getattr(a, k), getattr(b, k))
            for k in ("op", "arg_offsets", "args", "coeffs", "param", "outputs")
        )
        and dict(a.labels) == dict(b.labels)
    )


def equation1_by_hand():
    b = CircuitBuilder(["x", "y", "z"])
    one = b.const(1)
    r1 = b.gate("add", [0, 1, 2, one], coeffs=[1, -3, -3, 5])
    r2 = b.gate("add", [0, 1, 2], coeffs=[1, -2, -2])
    r3 = b.gate("add", [0, 1, 2, one], coeffs=[1, 1, -5, -3])
    s = [b.gate("square", [r]) for r in (r1, r2, r3)]
    f = b.gate("add", s, name="f")
    return b.build([f], ["f"])


def equation1_in_python():
    x, y, z = inputs("x y z")
    f = (x - 3 * y - 3 * z + 5) ** 2 + (x - 2 * y - 2 * z) ** 2 + (x + y - 5 * z - 3) ** 2
    return build({"f": f})


def eq1(x, y, z):
    return (x - 3 * y - 3 * z + 5) ** 2 + (x - 2 * y - 2 * z) ** 2 + (x + y - 5 * z - 3) ** 2


# -- equation (1) ------------------------------------------------------------------------
@pytest.mark.parametrize("make", [equation1_by_hand, equation1_in_python])
def test_equation_1_is_the_document_of_the_spec(make):
    c = make()
    assert ops_of(c) == SPEC_OP
    assert rows(c) == SPEC_ARGS
    assert coeff_rows(c) == SPEC_COEFFS
    assert c.param.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert c.outputs.tolist() == [10] and c.output_names == ("f",)
    assert (size(c), c.n_wires, depth(c), c.n_vertices) == (7, 17, 3, 11)
    assert dict(c.labels) == {10: "f"}


def test_equation_1_by_hand_and_in_python_are_the_same_arrays():
    assert same_circuit(equation1_by_hand(), equation1_in_python())


def test_equation_1_computes_equation_1():
    P = np.random.default_rng(1).normal(scale=3, size=(50, 3))
    got = naive_eval(equation1_in_python(), P)[:, 0]
    np.testing.assert_allclose(got, eq1(*P.T), rtol=1e-13)


# -- the builder -------------------------------------------------------------------------
def test_equal_gates_are_one_vertex():
    b = CircuitBuilder(["x", "y"])
    s = b.gate("sin", [0])
    assert b.gate("sin", [0]) == s
    assert b.gate("cos", [0]) != s
    a = b.gate("add", [0, 1], coeffs=[1, 2])
    assert b.gate("add", [0, 1], coeffs=[1.0, 2.0]) == a
    assert b.gate("add", [1, 0], coeffs=[2, 1]) != a  # argument order matters
    assert b.gate("add", [0, 1], coeffs=[1, 3]) != a
    assert b.gate("add", [0, 1]) == b.gate("add", [0, 1], coeffs=[1, 1])  # absent = ones
    p = b.gate("pow", [0], param=2.5)
    assert b.gate("pow", [0], param=2.5) == p and b.gate("pow", [0], param=3) != p
    assert b.const(2) == b.const(2.0) == b.gate("const", [], param=2)
    assert b.const(0.0) != b.const(-0.0)  # different bits, different constants
    assert b.const(math.nan) == b.const(math.nan)
    n = b.n_vertices
    c = b.build([a])
    assert c.n_vertices == n


def test_arrays_and_labels():
    b = CircuitBuilder()
    x = b.input("x")
    two = b.const(2.0)
    m = b.gate("mul", [x, two, x], name="m")
    assert b.gate("mul", [x, two, x], name="other") == m  # the first name stays
    c = b.build([m, x], ["m", "x"])
    assert c.inputs == ("x",)
    assert c.op.tolist() == [0, BY_NAME["const"].code, BY_NAME["mul"].code]
    assert c.arg_offsets.tolist() == [0, 0, 0, 3]
    assert c.args.tolist() == [0, 1, 0] and c.coeffs.tolist() == [1, 1, 1]
    assert c.param.tolist() == [0, 2, 0]
    assert dict(c.labels) == {2: "m"}
    assert not c.op.flags.writeable
    assert naive_eval(c, [[3.0]]).tolist() == [[18.0, 3.0]]


def test_build_is_a_snapshot():
    b = CircuitBuilder(["x"])
    s = b.gate("sin", [0])
    first = b.build([s])
    b.gate("cos", [s])
    assert first.n_vertices == 2 and b.build([s]).n_vertices == 3


def test_default_output_names():
    b = CircuitBuilder(["x"])
    assert b.build([0]).output_names == ("y0",)


@pytest.mark.parametrize(
    "call, path, words",
    [
        (lambda b: b.gate("nope", [0]), "/gates/0/op", "unknown op"),
        (lambda b: b.gate("input", []), "/gates/0/op", "unknown op"),
        (lambda b: b.gate("add", []), "/gates/0/args", "at least 1"),
        (lambda b: b.gate("mul", [0]), "/gates/0/args", "at least 2"),
        (lambda b: b.gate("sin", [0, 1]), "/gates/0/args", "takes 1"),
        (lambda b: b.gate("div", [0]), "/gates/0/args", "takes 2"),
        (lambda b: b.gate("const", [0], param=1), "/gates/0/args", "takes 0"),
        (lambda b: b.gate("sin", [2]), "/gates/0/args/0", "not an earlier vertex"),
        (lambda b: b.gate("add", [0, -1]), "/gates/0/args/1", "not an earlier vertex"),
        (lambda b: b.gate("sin", ["a"]), "/gates/0/args", "integers"),
        (lambda b: b.gate("sin", [0], coeffs=[2]), "/gates/0/coeffs", "no coeffs"),
        (lambda b: b.gate("add", [0, 1], coeffs=[2]), "/gates/0/coeffs", "2 args but 1"),
        (lambda b: b.gate("pow", [0]), "/gates/0/p", "needs 'p'"),
        (lambda b: b.gate("const", []), "/gates/0/value", "needs 'value'"),
        (lambda b: b.gate("sin", [0], param=2), "/gates/0", "no parameter"),
        (lambda b: b.input("x"), "/inputs/2", "duplicate"),
        (lambda b: b.input("2x"), "/inputs/2", "invalid input name"),
        (lambda b: b.input("x" * 1025), "/inputs/2", "1024 bytes"),
        (lambda b: b.build([]), "/outputs", "at least one"),
        (lambda b: b.build([5]), "/outputs/0", "not a vertex"),
        (lambda b: b.build([0, 1], ["f", "f"]), "/output_names/1", "duplicate"),
        (lambda b: b.build([0, 1], ["f"]), "/output_names", "1 output names for 2"),
    ],
)
def test_invalid_calls_name_the_place(call, path, words):
    b = CircuitBuilder(["x", "y"])
    with pytest.raises(CircuitError) as e:
        call(b)
    assert e.value.errors[0].path == path
    assert words in e.value.errors[0].message


def test_inputs_come_before_gates():
    b = CircuitBuilder(["x"])
    b.gate("sin", [0])
    with pytest.raises(CircuitError, match="before any gate"):
        b.input("y")


def test_a_hundred_thousand_gates_build():  # (their speed: bench/engine.py, not a test)
    b = CircuitBuilder(["x", "y"])
    v = 0
    for i in range(100_000):
        v = b.gate("sin", [v]) if i % 2 else b.gate("add", [v, 1], coeffs=[1.0, float(i)])
    c = b.build([v])
    assert c.n_gates == 100_000 and c.n_wires == 150_000


# -- expressions: lowering ------------------------------------------------------------------
def test_sin_x_plus_sin_x_has_one_sin_gate():
    (x,) = inputs("x")
    c = build(sin(x) + sin(x))
    assert ops_of(c) == ["input", "sin", "add"]
    assert rows(c)[2] == [1] and coeff_rows(c)[2] == [2.0]


def test_linear_combinations_become_one_add():
    x, y, z = inputs("x y z")
    c = build(x + y + z)
    assert ops_of(c) == ["input"] * 3 + ["add"] and rows(c)[3] == [0, 1, 2]
    c = build(2 * (x - y) / 1 + 3 - z * 4)  # the /1 keeps a div gate
    assert "div" in ops_of(c)
    c = build(2 * (x - y) + 3 - z * 4 + x)
    assert ops_of(c) == ["input"] * 3 + ["const", "add"]
    assert rows(c)[4] == [0, 1, 2, 3] and coeff_rows(c)[4] == [3, -2, -4, 3]


def test_products_become_one_mul_with_constants_pulled_out():
    x, y, z = inputs("x y z")
    c = build(x * y * z)
    assert ops_of(c)[3:] == ["mul"] and rows(c)[3] == [0, 1, 2]
    c = build(2 * x * (y * 3) * z)
    assert ops_of(c)[3:] == ["mul", "add"] and coeff_rows(c)[4] == [6.0]


def test_unit_combinations_and_negation():
    x, y = inputs("x y")
    assert ops_of(build(-x)) == ["input", "input", "neg"]
    minus_x = -x
    c = build(+x, -minus_x, x * 1, 1 * x + 0, x - y + y)
    assert c.n_gates == 0 and c.outputs.tolist() == [0] * 5
    c = build(x - x)
    assert ops_of(c)[2:] == ["const"] and c.param[2] == 0.0


@pytest.mark.parametrize(
    "p, expected, param",
    [
        (2, ["square"], 0),
        (-1, ["recip"], 0),
        (0.5, ["pow"], 0.5),
        (3, ["pow"], 3),
        (2.5, ["pow"], 2.5),
    ],
)
def test_powers(p, expected, param):
    (x,) = inputs("x")
    c = build(x**p)
    assert ops_of(c)[1:] == expected and c.param[1] == param
    assert build(power(x, p)).op.tolist() == c.op.tolist()
    assert build(x**1).n_gates == 0


def test_division():
    x, y = inputs("x y")
    assert ops_of(build(x / y))[2:] == ["div"]
    assert ops_of(build(1 / x))[2:] == ["recip"]
    c = build(3 / x)
    assert ops_of(c)[2:] == ["const", "div"] and rows(c)[3] == [2, 0]
    c = build(x / 4)
    assert ops_of(c)[2:] == ["const", "div"] and c.param[2] == 4


def test_numbers_are_folded_with_ieee_semantics():
    c = build(const(2) * 3 + 1, const(1) / 0, const(-8) ** (1 / 3), const(0) / 0)
    values = naive_eval(c, np.empty((1, 0)))[0]
    assert values[0] == 7 and values[1] == math.inf and math.isnan(values[2])
    assert math.isnan(values[3])
    assert set(ops_of(c)) == {"const"}


def test_functions_make_one_gate_each():
    (x,) = inputs("x")
    fs = {
        "exp": exp, "log": log, "sin": sin, "cos": cos, "tanh": tanh, "sigmoid": sigmoid,
        "relu": relu, "sqrt": sqrt, "square": square, "recip": recip, "step": step,
        "sign": sign, "abs": abs_,
    }  # fmt: skip
    for name, f in fs.items():
        assert ops_of(build(f(x)))[1:] == [name]
        assert ops_of(build(function(name, x)))[1:] == [name]
    assert ops_of(build(abs(x)))[1:] == ["abs"]
    assert ops_of(build(sin(2)))[:] == ["const", "sin"]  # functions are never folded


def test_functions_compute_the_op_table():
    (x,) = inputs("x")
    fs = [exp, log, sin, cos, tanh, sigmoid, relu, sqrt, square, recip, step, sign, abs_]
    c = build(*[f(x) for f in fs])
    P = np.array([[0.7], [2.5], [-1.5]])
    got = naive_eval(c, P)
    with np.errstate(all="ignore"):
        want = np.stack(
            [np.exp(P), np.log(P), np.sin(P), np.cos(P), np.tanh(P), 1 / (1 + np.exp(-P)),
             np.maximum(P, 0), np.sqrt(P), P * P, 1 / P, (P > 0) * 1.0, np.sign(P), np.abs(P)],
            axis=1,
        )[:, :, 0]  # fmt: skip
    np.testing.assert_allclose(got, want, rtol=1e-15)


def test_reflected_operators_and_numpy_numbers():
    (x,) = inputs("x")
    c = build(2 - x, 2 * x, 2 / x, np.float64(2) + x, np.int64(3) * x, x - np.float32(0.5))
    got = naive_eval(c, [[4.0]])[0]
    np.testing.assert_allclose(got, [-2, 8, 0.5, 6, 12, 3.5])


def test_shared_combination_is_one_vertex():
    x, y, z = inputs("x y z")
    s = x + y
    c = build(s * z + s)  # s used twice: one add vertex, referenced twice
    assert ops_of(c).count("add") == 2
    np.testing.assert_allclose(naive_eval(c, [[1.0, 2.0, 3.0]]), [[12.0]])
    c = build((x + y) + z)  # used once: merged
    assert ops_of(c).count("add") == 1


def test_a_shared_constant_combination_folds_into_the_offset():
    x, y = inputs("x y")
    one = x - x + 1  # lowers to the constant 1
    c = build(one + y + 2, one * y)
    assert coeff_rows(c)[c.outputs[0]] == [1.0, 3.0]  # y + 3·(const 1)
    np.testing.assert_allclose(naive_eval(c, [[5.0, 7.0]]), [[10.0, 7.0]])


def test_cancelled_terms_leave_no_gate_behind():
    x, y = inputs("x y")
    s = sin(x)
    for e in (s - s + y, sin(x) - sin(x) + y, 0 * exp(x) + y):
        assert ops_of(build(e)) == ["input", "input"]
    c = build(cos(x) * 0 + 2)
    assert ops_of(c) == ["input", "input", "const"]


def test_a_circuit_exponent_is_powv():
    x, y = inputs("x y")
    c = build(x**y, 2**x, x**2.5, names=["a", "b", "c"])
    assert ops_of(c) == ["input", "input", "const", "powv", "powv", "pow"]
    assert c.args.tolist() == [0, 1, 2, 0, 0]
    np.testing.assert_allclose(naive_eval(c, [1.5, 0.5])[0], [1.5**0.5, 2**1.5, 1.5**2.5])


def test_groups_do_not_mix():
    (x,) = inputs("x")
    (y,) = inputs("y")
    with pytest.raises(CircuitError, match="different inputs"):
        x + y
    with pytest.raises(CircuitError, match="different inputs"):
        build(x, y)


def test_inputs_of_the_group_in_creation_order_or_as_given():
    x, y, z = inputs(["x", "y", "z"])
    assert build(z * y).inputs == ("x", "y", "z")
    c = build(z * y, inputs=[z, "y"])
    assert c.inputs == ("z", "y") and rows(c)[2] == [0, 1]
    with pytest.raises(CircuitError, match="not in inputs"):
        build(x + y, inputs=["y"])
    with pytest.raises(CircuitError, match="duplicate"):
        inputs("a b a")


def test_outputs_names_and_labels():
    x, y = inputs("x y")
    c = build(x * y, sin(x), names=["p", "s"])
    assert c.output_names == ("p", "s") and dict(c.labels) == {2: "p", 3: "s"}
    c = build({"f": x * y, "x": x})
    assert c.output_names == ("f", "x") and c.outputs.tolist() == [2, 0]
    assert build(x, y).output_names == ("y0", "y1")
    c = build(3.5)
    assert c.inputs == () and ops_of(c) == ["const"] and c.param[0] == 3.5


def test_layered_order_constants_first_then_by_depth():
    x, y = inputs("x y")
    c = build(sin(cos(x) + 1) * y + exp(y))
    d = [0] * c.n_vertices
    for v in range(c.n_vertices):
        if ops_of(c)[v] not in ("input", "const"):
            d[v] = 1 + max(d[a] for a in c.args_of(v))
    gates = [v for v in range(c.n_vertices) if ops_of(c)[v] not in ("input", "const")]
    consts = [v for v in range(c.n_vertices) if ops_of(c)[v] == "const"]
    assert consts and max(consts) < min(gates)
    assert [d[v] for v in gates] == sorted(d[v] for v in gates)


def test_the_lecture_examples():
    w0, w1, w2, w3, x1, x2, x3 = inputs("w0 w1 w2 w3 x1 x2 x3")
    c = build(sigmoid(w0 + w1 * x1 + w2 * x2 + w3 * x3))
    assert ops_of(c)[7:] == ["mul", "mul", "mul", "add", "sigmoid"]  # Figure: 3 ×, +, σ
    assert depth(c) == 3
    xs = inputs([f"x{i}" for i in range(1, 31)])
    sigma2 = 0.5 * sum(xs) ** 2 - 0.5 * sum(x**2 for x in xs)
    c = build(sigma2)
    # n squares, one add for Σx, its square, and one add for the rest (Σx² merged into it)
    assert size(c) == 30 + 3
    P = np.random.default_rng(2).normal(size=(5, 30))
    want = [sum(p[i] * p[j] for i in range(30) for j in range(i + 1, 30)) for p in P]
    np.testing.assert_allclose(naive_eval(c, P)[:, 0], want, rtol=1e-10, atol=1e-10)


def test_deep_expressions_need_no_recursion():
    (x,) = inputs("x")
    e = x
    for i in range(20_000):
        e = sin(e) if i % 2 else e * x + 1
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)
    try:
        c = build(e)
    finally:
        sys.setrecursionlimit(limit)
    assert size(c) == 30_000 and depth(c) == 30_000


def test_a_hundred_thousand_gate_expression_builds():
    xs = inputs([f"x{i}" for i in range(100)])
    f = sum(sin(xs[i % 100] * xs[(7 * i) % 100] + i) for i in range(50_000))
    c = build(f)
    assert size(c) >= 100_000
