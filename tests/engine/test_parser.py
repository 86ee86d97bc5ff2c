"""The expression language: grammar, precedence, errors, hostile input, and a property:
random expression trees printed to text parse back to what Python computes."""

import inspect
import math
import random
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from circuitgrad.engine.building import expr as E
from circuitgrad.engine.building.parser import MAX_DEPTH, parse_expression, parse_program, tokenize
from circuitgrad.engine.core.ops import BY_CODE
from circuitgrad.engine.errors import CircuitError

EQ1 = "(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2"


def evaluate(c, point: dict) -> list[float]:
    """The outputs of c at one point, vertex by vertex with the op table's own functions."""
    values = []
    with np.errstate(all="ignore"):
        for v in range(c.n_vertices):
            op = BY_CODE[c.op[v]]
            lo, hi = c.arg_offsets[v], c.arg_offsets[v + 1]
            a = [values[u] for u in c.args[lo:hi]]
            if op.name == "input":
                values.append(np.float64(point[c.inputs[v]]))
            elif op.name == "const":
                values.append(np.float64(c.param[v]))
            elif op.name == "add":
                values.append(sum(k * u for k, u in zip(c.coeffs[lo:hi], a, strict=True)))
            elif op.name == "mul":
                values.append(math.prod(a))
            elif op.param == "p":
                values.append(op.evaluate(*a, c.param[v]))
            else:
                values.append(op.evaluate(*a))
    return [float(values[o]) for o in c.outputs]


def ops_of(c) -> list[str]:
    return [BY_CODE[k].name for k in c.op]


def same_arrays(a, b) -> bool:
    keys = ("op", "arg_offsets", "args", "coeffs", "param", "outputs")
    return (
        a.inputs == b.inputs
        and a.output_names == b.output_names
        and all(np.array_equal(getattr(a, k), getattr(b, k)) for k in keys)
        and dict(a.labels) == dict(b.labels)
    )


def fails_at(text, offset, words="", **kw):
    with pytest.raises(CircuitError) as e:
        parse_expression(text, **kw)
    (item,) = e.value.errors
    assert item.path == "/expression"
    assert item.message.startswith(f"at offset {offset}: "), item.message
    assert words in item.message, item.message
    return item.message


# -- equation (1) and the lecture ---------------------------------------------------------
def test_equation_1_text_and_python_give_the_same_arrays():
    x, y, z = E.inputs("x y z")
    f = (x - 3 * y - 3 * z + 5) ** 2 + (x - 2 * y - 2 * z) ** 2 + (x + y - 5 * z - 3) ** 2
    py = E.build({"f": f})
    for text in (EQ1, EQ1.replace("**", "^"), "f = " + EQ1, EQ1.replace(" ", "")):
        assert same_arrays(parse_expression(text), py)
    c = parse_expression(EQ1)
    assert ops_of(c) == ["input"] * 3 + ["const"] + ["add"] * 3 + ["square"] * 3 + ["add"]
    assert c.args.tolist() == [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert c.coeffs.tolist()[:11] == [1, -3, -3, 5, 1, -2, -2, 1, 1, -5, -3]
    sizes = sum(ops_of(c)[v] not in ("input", "const") for v in range(c.n_vertices))
    depth = [0] * c.n_vertices
    for v in range(c.n_vertices):
        if ops_of(c)[v] not in ("input", "const"):
            depth[v] = 1 + max(depth[a] for a in c.args_of(v))
    assert (sizes, c.n_wires, depth[c.outputs[0]]) == (7, 17, 3)
    x0, y0, z0 = 1.5, -2.0, 0.25
    want = (
        (x0 - 3 * y0 - 3 * z0 + 5) ** 2 + (x0 - 2 * y0 - 2 * z0) ** 2 + (x0 + y0 - 5 * z0 - 3) ** 2
    )
    assert evaluate(c, {"x": x0, "y": y0, "z": z0}) == pytest.approx([want], rel=1e-14)


def test_the_perceptron_and_sigma_2():
    c = parse_expression("sigmoid(w0 + w1*x1 + w2*x2 + w3*x3)", output="y")
    assert c.inputs == ("w0", "w1", "x1", "w2", "x2", "w3", "x3")
    assert ops_of(c)[7:] == ["mul", "mul", "mul", "add", "sigmoid"] and c.output_names == ("y",)
    p = dict(zip(c.inputs, [0.1, 0.2, 1.0, -0.3, 2.0, 0.4, -1.0], strict=True))
    t = 0.1 + 0.2 * 1.0 - 0.3 * 2.0 + 0.4 * -1.0
    assert evaluate(c, p) == pytest.approx([1 / (1 + math.exp(-t))], rel=1e-14)
    c = parse_expression("0.5*(x1 + x2 + x3 + x4)^2 - 0.5*(x1^2 + x2^2 + x3^2 + x4^2)")
    xs = [1.0, -2.0, 3.0, 0.5]
    want = sum(xs[i] * xs[j] for i in range(4) for j in range(i + 1, 4))
    assert evaluate(c, dict(zip(c.inputs, xs, strict=True))) == pytest.approx([want])


# -- precedence -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, python",
    [
        ("-x**2", lambda x, y, z: -(x**2)),
        ("-x^2", lambda x, y, z: -(x**2)),
        ("(-x)**2", lambda x, y, z: (-x) ** 2),
        ("x**2**3", lambda x, y, z: x ** (2**3)),
        ("x**-1", lambda x, y, z: x**-1),
        ("2**-1*x", lambda x, y, z: 2**-1 * x),
        ("x/y/z", lambda x, y, z: x / y / z),
        ("x-y-z", lambda x, y, z: x - y - z),
        ("x-(y-z)", lambda x, y, z: x - (y - z)),
        ("x*y+z", lambda x, y, z: x * y + z),
        ("x+y*z", lambda x, y, z: x + y * z),
        ("-x*y", lambda x, y, z: -x * y),
        ("x*-y", lambda x, y, z: x * -y),
        ("x - -y", lambda x, y, z: x - -y),
        ("--x+ +y", lambda x, y, z: x + y),
        ("x/y*z", lambda x, y, z: x / y * z),
        ("x*y**2", lambda x, y, z: x * y**2),
        ("-2**2*x", lambda x, y, z: -(2**2) * x),
        ("(x+y)**(1/2)", lambda x, y, z: (x + y) ** 0.5),
        ("1e-3*x + .5 + 2. + 1E2", lambda x, y, z: 1e-3 * x + 0.5 + 2.0 + 1e2),
        ("x +\n y", lambda x, y, z: x + y),
        ("(x\n + y\n)", lambda x, y, z: x + y),
        ("x + y # a comment", lambda x, y, z: x + y),
    ],
)
def test_precedence_is_pythons(text, python):
    c = parse_expression(text, inputs=["x", "y", "z"])
    point = {"x": 1.75, "y": 2.5, "z": -0.75}
    assert evaluate(c, point) == pytest.approx([python(**point)], rel=1e-14)


def test_precedence_shapes():
    assert ops_of(parse_expression("-x**2"))[1:] == ["square", "neg"]
    assert ops_of(parse_expression("x^2^3"))[1:] == ["pow"]
    assert parse_expression("x^2^3").param[1] == 8.0
    c = parse_expression("x/y/z")
    assert ops_of(c)[3:] == ["div", "div"] and c.args.tolist() == [0, 1, 3, 2]
    assert parse_expression("--x").n_gates == 0  # -(-x) is x


def test_functions_by_op_name():
    names = ["exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "step", "sign"]
    names += ["sqrt", "square", "recip"]
    c = parse_expression("; ".join(f"{n}_ = {n}(x)" for n in names))
    assert ops_of(c)[1:] == names and c.output_names == tuple(f"{n}_" for n in names)
    c = parse_expression(
        "pow(x, 2.5) + neg(y) + sub(x, y) + div(x, y) + add(x, y, z) + mul(x, y, z)"
    )
    point = {"x": 1.5, "y": 2.0, "z": 3.0}
    want = 1.5**2.5 - 2 + (1.5 - 2) + 1.5 / 2 + 6.5 + 9.0
    assert evaluate(c, point) == pytest.approx([want])
    assert ops_of(parse_expression("pow(x, 2)"))[1:] == ["square"]
    assert ops_of(parse_expression("sin (x)"))[1:] == ["sin"]
    c = parse_expression("sin + 1")  # not followed by '(': an input called sin
    assert c.inputs == ("sin",)


def test_hash_consing_in_text():
    c = parse_expression("sin(x) + sin(x)")
    assert ops_of(c) == ["input", "sin", "add"] and c.coeffs.tolist() == [1.0, 2.0]
    c = parse_expression("sin(x)*cos(x) + exp(sin(x)*cos(x))")
    assert ops_of(c).count("mul") == 1 and ops_of(c).count("sin") == 1


def test_names_and_numbers():
    c = parse_expression("x[1] + x[2]*layer1.w[3] + _a.b")
    assert c.inputs == ("x[1]", "x[2]", "layer1.w[3]", "_a.b")
    c = parse_expression("1e999 * x")
    assert c.coeffs.tolist() == [math.inf]
    assert [t[0] for t in tokenize("2.5e-3x")] == ["number", "name", "end"]


# -- statements, inputs, outputs --------------------------------------------------------------
def test_several_outputs():
    c = parse_expression("f = x*y\ng = sin(f) + z;  h = 2\n\n")
    assert c.output_names == ("f", "g", "h") and c.inputs == ("x", "y", "z")
    assert ops_of(c) == ["input"] * 3 + ["const", "mul", "sin", "add"]
    assert c.outputs.tolist() == [4, 6, 3]
    assert evaluate(c, {"x": 2.0, "y": 3.0, "z": 1.0}) == [6.0, math.sin(6.0) + 1.0, 2.0]
    names, outputs = parse_program("a = x; b = a * a")
    assert names == ["x"] and list(outputs) == ["a", "b"]
    assert parse_expression("g = x + 1").output_names == ("g",)
    assert parse_expression("x + 1", output="loss").output_names == ("loss",)


def test_given_inputs():
    c = parse_expression("z * x", inputs=["x", "y", "z"])
    assert c.inputs == ("x", "y", "z") and c.args.tolist() == [2, 0]
    fails_at("x + w", 4, "unknown input 'w'", inputs=["x", "y"])
    for bad, path in ((["x", "x"], "/inputs/1"), (["x", "1y"], "/inputs/1"), ("x y", "/inputs")):
        with pytest.raises(CircuitError) as e:
            parse_expression("x", inputs=bad)
        assert e.value.errors[0].path == path
    with pytest.raises(CircuitError) as e:
        parse_expression("x", output=3)
    assert e.value.errors[0].path == "/output"


@pytest.mark.parametrize(
    "text, offset, words",
    [
        ("", 0, "expected an expression, found end of input"),
        ("  \n ; ", 6, "expected an expression"),
        ("x +", 3, "expected a number, a name, '(' or a sign, found end of input"),
        ("x + * y", 4, "found '*'"),
        ("x y", 2, "expected an operator, ')' or the end, found name 'y'"),
        ("2x", 1, "found name 'x'"),
        ("1.2.3", 3, "found number 0.3"),
        ("(x + 1", 6, "expected ')' to close '(' at offset 0, found end of input"),
        ("sin(x", 5, "expected ')' to close '(' at offset 3"),
        ("(x\n + 1;", 7, "expected ')' to close '(' at offset 0, found ';'"),
        ("x + 1)", 5, "unmatched ')'"),
        ("x, y", 1, "',' outside the arguments of a function"),
        ("()", 1, "found ')'"),
        ("sin()", 0, "sin takes 1 argument(s), got 0"),
        ("sin(x, y)", 0, "sin takes 1 argument(s), got 2"),
        ("mul(x)", 0, "mul takes at least 2 argument(s), got 1"),
        ("pow(x)", 0, "pow takes 2 arguments"),
        ("pow(x, y, z)", 0, "pow takes 2 arguments"),
        ("sin(x,)", 6, "found ')'"),
        ("sinh2(x)", 0, "unknown function 'sinh2'; the functions are abs, acos, acosh, add,"),
        ("input(x)", 0, "unknown function 'input'"),
        ("const(2)", 0, "unknown function 'const'"),
        ("a < b < c", 6, "comparisons do not chain"),
        ("(a < b) * c == d != e", 17, "comparisons do not chain"),
        ("x ! y", 2, "unexpected character '!'"),
        ("x => y", 3, "found '>'"),
        ("where(x, y)", 0, "where takes 3 argument(s), got 2"),
        ("max()", 0, "max takes at least 1 argument"),
        ("x = = 1", 4, "found '='"),
        ("x + 1 = y", 6, "found '='"),
        ("x + ÿ", 4, "unexpected character 'ÿ' (U+00FF)"),
        ("x $ y", 2, "unexpected character '$'"),
        ("x\x00", 1, "(U+0000)"),
        ("x & y", 2, "'&'"),
        ("f = x; y + 1", 7, "each needs a name"),
        ("f = x; f = y", 7, "output 'f' is defined twice"),
        ("f = x\nx = 2", 6, "'x' is an input"),
        ("x = x + 1", 0, "'x' is an input"),
        ("a" * 1025, 0, "name longer than 1024"),
    ],
)
def test_errors_name_the_offset(text, offset, words):
    fails_at(text, offset, words)


# -- hostile input -------------------------------------------------------------------------
def quickly(text, words, limit=2.0, **kw):
    start = time.process_time()
    with pytest.raises(CircuitError) as e:
        parse_expression(text, **kw)
    assert time.process_time() - start < limit
    assert words in str(e.value)


def test_deep_nesting_is_refused_quickly():
    n = 100_000
    quickly("(" * n + "x" + ")" * n, f"nesting deeper than {MAX_DEPTH}")
    quickly("-" * n + "x", "nesting deeper")
    quickly("sin(" * 10_000 + "x" + ")" * 10_000, "nesting deeper")
    quickly("sin(" * n + "x" + ")" * n, "tokens")  # the token limit comes first
    quickly("x**" * n + "2", "nesting deeper")


def test_long_and_large_texts_are_refused_quickly():
    quickly("x+" * 5_000_000 + "x", "longer than")  # 10 MB
    quickly(("x+" * 5_000_000 + "x").encode(), "longer than")
    quickly("x+" * 200_000 + "x", "more than")  # within the length limit: too many tokens
    quickly("1" * 300_000 + "x", "found name 'x'")


@pytest.mark.parametrize(
    "text",
    ["x + \u00a0y", "x\u200b", "\ufeffx", "x + \U0001f600", "x\u202e + y", "x + ²", "x + ٣",
     "ｘ + 1", "x + \ud800", "é", "x\r\n\x0c+\x0bè"],
)  # fmt: skip
def test_weird_unicode_is_an_error_with_its_offset(text):
    bad = next(i for i, ch in enumerate(text) if ord(ch) > 127)
    fails_at(text, bad, f"U+{ord(text[bad]):04X}")


def test_invalid_utf8_and_wrong_types():
    with pytest.raises(CircuitError, match="at byte 2: not valid UTF-8"):
        parse_expression(b"x+\xff")
    assert parse_expression(b"x + 1").inputs == ("x",)
    with pytest.raises(CircuitError, match="must be a string"):
        parse_expression(42)


def test_no_recursion_anywhere():
    text = "(" * 400 + "sin(x)" + ")" * 400 + "+" + "-(" * 150 + "y" + ")" * 150
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 60)
    try:
        c = parse_expression(text)
    finally:
        sys.setrecursionlimit(limit)
    assert evaluate(c, {"x": 1.0, "y": 2.0}) == pytest.approx([math.sin(1.0) + 2.0])


def test_limits_are_arguments():
    fails_at("((x))", 1, "nesting deeper than 1", max_depth=1)
    with pytest.raises(CircuitError, match="longer than 3"):
        parse_expression("x+yy", max_length=3)
    fails_at("x+y+z", 4, "more than 4 tokens", max_tokens=4)


# -- property: text round trip -------------------------------------------------------------
UNARY = ["sin", "cos", "tanh", "sigmoid", "relu", "abs", "square"]
PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}

numbers = st.one_of(
    st.integers(-9, 9).map(float),
    st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64),
)


def trees():
    """Expression trees: ("x"|"y"|"z"), ("num", v), ("neg", a), (op, a, b), ("**", a, p),
    (function, a). Denominators and fractional powers are kept away from 0 by design."""
    leaves = st.one_of(st.sampled_from(["x", "y", "z"]), numbers.map(lambda v: ("num", v)))

    def extend(children):
        positive = children.map(lambda a: ("+", ("num", 2.0), ("sigmoid", a)))  # in (2, 3)
        return st.one_of(
            children.map(lambda a: ("neg", a)),
            st.tuples(st.sampled_from(["+", "-", "*"]), children, children),
            st.tuples(
                st.just("/"), children, children.map(lambda b: ("+", ("num", 2.0), ("sin", b)))
            ),
            st.tuples(st.just("**"), children, st.sampled_from([1.0, 2.0, 3.0])),
            st.tuples(st.just("**"), positive, st.sampled_from([-1.0, 0.5, -2.5, 1.5])),
            st.tuples(st.sampled_from(UNARY), children),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def reference(t, p, scale):
    """The tree's value computed by Python (NumPy float64); records the largest magnitude."""
    with np.errstate(all="ignore"):
        if isinstance(t, str):
            v = np.float64(p[t])
        elif t[0] == "num":
            v = np.float64(t[1])
        elif t[0] == "neg":
            v = -reference(t[1], p, scale)
        elif t[0] in ("+", "-", "*", "/"):
            a, b = reference(t[1], p, scale), reference(t[2], p, scale)
            v = {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[t[0]]
        elif t[0] == "**":
            v = np.power(reference(t[1], p, scale), np.float64(t[2]))
        else:
            a = reference(t[1], p, scale)
            fns = {"sin": np.sin, "cos": np.cos, "tanh": np.tanh, "abs": np.abs,
                   "sigmoid": lambda a: 1 / (1 + np.exp(-a)), "relu": lambda a: max(a, 0.0),
                   "square": lambda a: a * a}  # fmt: skip
            v = np.float64(fns[t[0]](a))
    scale[0] = max(scale[0], abs(float(v)))
    return v


def python_value(t, xs):
    """The same tree built with Python operators on Exprs (numbers stay Python floats)."""
    if isinstance(t, str):
        return xs[t]
    if t[0] == "num":
        return t[1]
    if t[0] == "neg":
        return -python_value(t[1], xs)
    if t[0] in ("+", "-", "*", "/", "**"):
        a = python_value(t[1], xs)
        b = t[2] if t[0] == "**" else python_value(t[2], xs)
        if t[0] == "**" and not isinstance(a, E.Expr):
            return float(np.power(a, b))  # numbers fold with the op table's pow (np.power)
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
                "/": lambda: a / b, "**": lambda: a**b}[t[0]]()  # fmt: skip
    a = python_value(t[1], xs)
    if t[0] == "abs":  # Python's abs() on an Expr; on a number it would compute at once
        return abs(a) if isinstance(a, E.Expr) else E.abs_(a)
    return getattr(E, t[0])(a)


def number_text(v: float) -> tuple[str, int]:
    return (repr(v), 5) if math.copysign(1, v) > 0 else ("-" + repr(-v), PREC["neg"])


def to_text(t, rng: random.Random, minimal: bool) -> tuple[str, int]:
    """(text, precedence) of a tree: minimal parentheses, or around every operation;
    spacing, ``^`` for ``**``, line breaks after operators and function-call spellings
    (``add(a, b)``, ``pow(a, p)``, ``neg(a)``...) chosen at random."""
    sp = lambda: rng.choice(["", " ", "  "])  # noqa: E731

    def wrap(child, needs_parens) -> str:
        s, prec = to_text(child, rng, minimal)
        operation = not isinstance(child, str) and child[0] != "num"
        return f"({s})" if needs_parens(prec) or (not minimal and operation) else s

    if isinstance(t, str):
        return t, 5
    if t[0] == "num":
        return number_text(t[1])
    if t[0] == "neg":
        if rng.random() < 0.2:
            return f"neg({to_text(t[1], rng, minimal)[0]})", 5
        return "-" + sp() + wrap(t[1], lambda p: p < PREC["neg"]), PREC["neg"]
    if t[0] == "**":
        exponent, _ = number_text(t[2])
        if rng.random() < 0.2:
            return f"pow({to_text(t[1], rng, minimal)[0]},{sp()}{exponent})", 5
        base = wrap(t[1], lambda p: p <= PREC["**"])
        return base + sp() + rng.choice(["**", "^"]) + sp() + exponent, PREC["**"]
    if t[0] in ("+", "-", "*", "/"):
        if rng.random() < 0.15:
            name = {"+": "add", "-": "sub", "*": "mul", "/": "div"}[t[0]]
            a, b = to_text(t[1], rng, minimal)[0], to_text(t[2], rng, minimal)[0]
            return f"{name}({a},{sp()}{b})", 5
        p = PREC[t[0]]
        left = wrap(t[1], lambda q: q < p)
        right = wrap(t[2], lambda q: q <= p)
        brk = "\n" if rng.random() < 0.1 else ""  # a line ending in an operator continues
        return left + sp() + t[0] + brk + sp() + right, p
    return f"{t[0]}({sp()}{to_text(t[1], rng, minimal)[0]}{sp()})", 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tree=trees(),
    point=st.tuples(*[st.floats(-3, 3, allow_nan=False, width=64)] * 3),
    seed=st.integers(0, 2**32 - 1),
    minimal=st.booleans(),
)
def test_printed_trees_parse_back_to_the_same_value_and_circuit(tree, point, seed, minimal):
    text, _ = to_text(tree, random.Random(seed), minimal)
    c = parse_expression(text, inputs=["x", "y", "z"])
    p = dict(zip("xyz", point, strict=True))
    scale = [1.0]
    want = float(reference(tree, p, scale))
    assume(math.isfinite(want) and scale[0] < 1e4)
    (got,) = evaluate(c, p)
    # flattening sums and products reorders rounding; errors grow with the magnitudes
    assert abs(got - want) <= 1e-10 * (1 + scale[0]) ** 3, text
    xs = dict(zip("xyz", E.inputs("x y z"), strict=True))
    assert same_arrays(c, E.build({"f": python_value(tree, xs)}, inputs=list(xs.values()))), text
