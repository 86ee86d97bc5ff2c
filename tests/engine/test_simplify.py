"""simplify: outputs unchanged (against the NumPy oracle), never larger, idempotent, and
each rewrite rule, sharing and pruning on small circuits with their exact result."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from oracle import naive_eval
from rowcircuits import Rows, circuits, gates, points, simplified

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.measures import size
from circuitgrad.engine.core.ops import BY_NAME, OPS
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.formats.codec import from_document
from circuitgrad.engine.passes import rewrite
from circuitgrad.engine.passes.gradient import differentiate
from circuitgrad.engine.passes.rewrite import RULES
from circuitgrad.engine.passes.simplify import fingerprint, simplify

EXAMPLES = int(os.environ.get("SIMPLIFY_EXAMPLES", 200))  # raise it to search harder
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def cones(c):
    """cone[j, v]: vertex v feeds output j."""
    cone = np.zeros((len(c.outputs), c.n_vertices), bool)
    for j, o in enumerate(c.outputs):
        cone[j, o] = True
        for v in range(c.n_vertices - 1, -1, -1):
            if cone[j, v]:
                cone[j, c.args_of(v)] = True
    return cone


def all_values(c, X):
    return naive_eval(c.with_outputs(np.arange(c.n_vertices), None), X)


@SETTINGS
@given(circuits(), points)
def test_outputs_unchanged(c, X):
    X = X[:, : c.n_inputs]
    s = simplify(c)
    before, after = naive_eval(c, X), naive_eval(s, X)
    # where every vertex an output depends on is finite, the x·0 -> 0 convention cannot
    # apply and the outputs must agree; elsewhere (inf·0, inf-inf) the convention may
    finite = np.isfinite(all_values(c, X))
    for j, cone in enumerate(cones(c)):
        ok = finite[:, cone].all(axis=1)
        np.testing.assert_allclose(after[ok, j], before[ok, j], rtol=1e-9, atol=1e-9)


@SETTINGS
@given(circuits())
def test_never_larger_and_well_formed(c):
    s = simplify(c)
    assert s.n_gates <= c.n_gates and s.n_wires <= c.n_wires and size(s) <= size(c)
    assert s.inputs == c.inputs and s.output_names == c.output_names
    assert len(s.outputs) == len(c.outputs)
    assert (s.op[: s.n_inputs] == 0).all() and (s.op[s.n_inputs :] != 0).all()
    assert (s.args < s.wire_owner()).all()  # topological
    # pruned: every gate feeds an output
    assert cones(s)[:, s.n_inputs :].any(axis=0).all()
    # shared: no two gates alike (parameters and coefficients compared bit for bit)
    keys = {
        (
            s.op[v],
            s.param[v : v + 1].tobytes(),
            s.args_of(v).tobytes(),
            s.coeffs[s.arg_offsets[v] : s.arg_offsets[v + 1]].tobytes(),
        )
        for v in range(s.n_inputs, s.n_vertices)
    }
    assert len(keys) == s.n_gates
    # folded: no gate left whose arguments are all constants
    for v in range(s.n_inputs, s.n_vertices):
        if s.op[v] != BY_NAME["const"].code:
            assert not (s.op[s.args_of(v)] == BY_NAME["const"].code).all()
    # labels stay on surviving vertices with their original names
    assert set(s.labels.values()) <= set(c.labels.values())


@SETTINGS
@given(circuits())
def test_idempotent(c):
    once = simplify(c)
    twice = simplify(once)
    for field in ("op", "arg_offsets", "args", "outputs"):
        np.testing.assert_array_equal(getattr(twice, field), getattr(once, field))
    for field in ("coeffs", "param"):  # bit for bit: -0.0 and NaN payloads included
        assert getattr(twice, field).tobytes() == getattr(once, field).tobytes()
    assert dict(twice.labels) == dict(once.labels)
    assert (twice.inputs, twice.output_names) == (once.inputs, once.output_names)


# -- each rule ---------------------------------------------------------------------------
@pytest.mark.parametrize("op", [op for op in OPS if op.evaluate is not None], ids=lambda o: o.name)
def test_fold_every_op(op):
    values = ([1.3, 1.6] if op.name == "acosh" else [0.3, 0.6, 0.9])[: op.min_args]
    p = 2.5 if op.param else 0.0
    s = simplified(["x"], lambda r, x: r.gate(op.name, *[r.const(a) for a in values], p=p))
    expected = op.evaluate(*values, p) if op.param else op.evaluate(*values)
    assert gates(s) == [("const", pytest.approx(float(expected), rel=1e-14))]


def test_fold_add_and_mul():
    s = simplified(["x"], lambda r, x: r.gate("add", r.const(3), r.const(4), coeffs=[2, -0.5]))
    assert gates(s) == [("const", 4.0)]
    s = simplified(["x"], lambda r, x: r.gate("mul", r.const(3), r.const(4), r.const(-0.5)))
    assert gates(s) == [("const", -6.0)]
    s = simplified(["x"], lambda r, x: r.gate("sin", r.gate("neg", r.const(0.5))))
    assert gates(s) == [("const", np.sin(-0.5))]


@pytest.mark.parametrize(
    "build",
    [
        lambda r, x: r.gate("mul", x, r.const(1)),  # x·1
        lambda r, x: r.gate("mul", r.const(1), x, r.const(1)),
        lambda r, x: r.gate("add", x, r.const(-0.0)),  # x + (−0): the sum starts at −0
        lambda r, x: r.gate("add", x, r.const(-5), coeffs=[1, 0]),  # x + 0·(−5) = x + (−0)
        lambda r, x: r.gate("add", x),  # one term, coefficient 1
        lambda r, x: r.gate("neg", r.gate("neg", x)),  # −(−x)
        lambda r, x: r.gate("pow", x, p=1),
        lambda r, x: r.gate("sub", x, r.const(0)),  # x − (+0)
        lambda r, x: r.gate("div", x, r.const(1)),
        lambda r, x: r.gate("add", x, r.const(0), r.const(0), coeffs=[1, -1, -2]),  # −0 + −0
        lambda r, x: r.gate("mul0", x, r.const(1)),
        lambda r, x: r.gate("where", r.const(2), x, r.const(3)),
    ],
    ids=[
        "x*1",
        "1*x*1",
        "x+-0",
        "x+0*c",
        "add(x)",
        "--x",
        "x^1",
        "x-0",
        "x/1",
        "x-0-0",
        "mul0(x,1)",
        "where(2,x,3)",
    ],  # fmt: skip
)
def test_identities_leave_x(build):
    s = simplified(["x"], build)
    assert gates(s) == [] and s.outputs.tolist() == [0]


@pytest.mark.parametrize(
    "build, result",
    [
        (lambda r, x: r.gate("pow", x, p=0), [("const", 1.0)]),  # x^0
        (lambda r, x: r.gate("add", x, x), [("add", [0], [2.0])]),  # x + x
        (lambda r, x: r.gate("add", x, x, coeffs=[-1, -1]), [("add", [0], [-2.0])]),
        (lambda r, x: r.gate("pow", x, p=3), [("pow", [0], 3.0)]),  # no rule
        (lambda r, x: r.gate("mul", x, x), [("square", [0])]),
        (lambda r, x: r.gate("mul0", x, x), [("square", [0])]),
        (lambda r, x: r.gate("mul", r.const(3), x), [("add", [0], [3.0])]),  # c·x
        (lambda r, x: r.gate("sub", r.const(-0.0), x), [("neg", [0])]),
        (lambda r, x: r.gate("div", r.const(1), x), [("recip", [0])]),
        (lambda r, x: r.gate("square", r.gate("neg", x)), [("square", [0])]),
        (lambda r, x: r.gate("abs", r.gate("neg", x)), [("abs", [0])]),
        (lambda r, x: r.gate("add", x, coeffs=[2]), [("add", [0], [2.0])]),  # no rule
        (lambda r, x: r.gate("neg", r.gate("exp", x)), [("exp", [0]), ("neg", [1])]),
        (lambda r, x: r.gate("where", r.const(0.0), r.const(3), x), []),  # where(0, 3, x)
    ],
    ids=[
        "x^0",
        "x+x",
        "-x-x",
        "x^3",
        "x*x",
        "mul0(x,x)",
        "3*x",
        "-0-x",
        "1/x",
        "(-x)^2",
        "|-x|",
        "2x",
        "-exp",
        "where(0,3,x)",
    ],  # fmt: skip
)
def test_rewrites(build, result):
    assert gates(simplified(["x"], build)) == result


def test_only_two_term_sums_are_reordered():
    s = simplified(["x", "y"], lambda r, x, y: r.gate("add", y, x, y, coeffs=[1, 2, 3]))
    assert gates(s) == [("add", [1, 0, 1], [1.0, 2.0, 3.0])]  # as written: it decides rounding
    s = simplified(["x", "y"], lambda r, x, y: r.gate("add", y, x, coeffs=[1, 2]))
    assert gates(s) == [("add", [0, 1], [2.0, 1.0])]


def test_constant_terms_merge_into_an_existing_constant():
    def build(r, x):
        five = r.const(5)
        return r.gate("add", x, r.const(2), r.const(3)), five

    s = simplified(["x"], build)
    assert gates(s) == [("const", 5.0), ("add", [0, 1], [1.0, 1.0])]
    assert s.outputs.tolist() == [2, 1]


def test_constant_terms_merge_onto_one_of_theirs_when_exact():
    # 2 + 3 = 5 = 2.5·2: no constant 5 exists, so the term keeps constant 2 (2.5 exact)
    s = simplified(["x"], lambda r, x: r.gate("add", x, r.const(2), r.const(3)))
    assert gates(s) == [("const", 2.0), ("add", [0, 1], [1.0, 2.5])]


def test_constant_terms_stay_apart_when_no_constant_fits():
    # 3 + 0.7·7 = 7.8999999999999995: neither s/3 nor s/7 is exact, no such constant exists
    s = simplified(["x"], lambda r, x: r.gate("add", x, r.const(3), r.const(7), coeffs=[1, 1, 0.7]))
    assert gates(s) == [("const", 3.0), ("const", 7.0), ("add", [0, 1, 2], [1.0, 1.0, 0.7])]


def test_constant_factors_merge():
    def build(r, x, y):
        one = r.gate("mul", x, r.const(2), y, r.const(0.5))
        return one, r.gate("mul", x, r.const(2), r.const(3))

    s = simplified(["x", "y"], build)
    # 2·0.5 = 1 disappears; no constant 6 exists, so x·2·3 keeps both factors
    assert gates(s) == [("const", 2.0), ("mul", [0, 1]), ("const", 3.0), ("mul", [0, 2, 4])]


def test_long_sums_keep_their_order_and_share_only_equal_gates():
    rng = np.random.default_rng(1)
    terms = rng.integers(0, 5, 100)

    def build(r, *xs):
        a = r.gate("add", *[xs[t] for t in terms], coeffs=np.arange(100) % 3 + 1)
        b = r.gate("add", *[xs[t] for t in terms], coeffs=np.arange(100) % 3 + 1)
        order = rng.permutation(100)
        c = r.gate("add", *[xs[t] for t in terms[order]], coeffs=(np.arange(100) % 3 + 1)[order])
        return a, b, c

    s = simplified([f"x{i}" for i in range(5)], build)
    assert gates(s)[0] == ("add", terms.tolist(), (np.arange(100) % 3 + 1.0).tolist())
    assert s.outputs.tolist() == [5, 5, 6]  # the permuted sum rounds differently: its own gate


# -- sharing and pruning ---------------------------------------------------------------
def test_commutative_gates_are_shared():
    def build(r, x, y):
        return (
            r.gate("add", x, y, coeffs=[1, 2]),
            r.gate("add", y, x, coeffs=[2, 1]),
            r.gate("mul", x, y),
            r.gate("mul", y, x),
            r.gate("sub", x, y),
            r.gate("sub", y, x),
        )

    s = simplified(["x", "y"], build)
    assert gates(s) == [
        ("add", [0, 1], [1.0, 2.0]),
        ("mul", [0, 1]),
        ("sub", [0, 1]),
        ("sub", [1, 0]),
    ]
    assert s.outputs.tolist() == [2, 2, 3, 3, 4, 5]


def test_sharing_cascades_and_constants_are_shared():
    def build(r, x, y):
        a, b = r.gate("sin", x), r.gate("sin", x)
        ca, cb = r.gate("mul", a, y), r.gate("mul", y, b)
        return r.gate("mul", ca, r.const(2), y), r.gate("mul", cb, r.const(2), y)

    s = simplified(["x", "y"], build)
    assert gates(s) == [("sin", [0]), ("mul", [1, 2]), ("const", 2.0), ("mul", [3, 4, 1])]
    assert s.outputs.tolist() == [5, 5]


def test_parameters_and_coefficients_distinguish_gates():
    def build(r, x):
        return (
            r.gate("pow", x, p=3),
            r.gate("pow", x, p=4),
            r.gate("add", x, coeffs=[2]),
            r.gate("add", x, coeffs=[3]),
            r.const(0.0),
            r.const(-0.0),
        )

    s = simplified(["x"], build)
    assert len(gates(s)) == 6


def test_pruning_keeps_every_input():
    def build(r, x, y, z):
        r.gate("exp", y)  # reaches no output
        r.const(7)
        return r.gate("sin", x)

    s = simplified(["x", "y", "z"], build)
    assert s.inputs == ("x", "y", "z") and gates(s) == [("sin", [0])]
    assert s.outputs.tolist() == [3]


def test_outputs_may_be_inputs_constants_or_repeated():
    r = Rows(["x", "y"])
    k = r.const(2.5)
    g = r.gate("mul", 0, r.const(1))
    c = r.circuit([1, k, g, g], names=["a", "b", "c", "d"])
    s = simplify(c)
    assert s.output_names == ("a", "b", "c", "d")
    assert gates(s) == [("const", 2.5)] and s.outputs.tolist() == [1, 2, 0, 0]


def test_labels_follow_surviving_vertices():
    r = Rows(["x"])
    a = r.gate("sin", 0)
    b = r.gate("sin", 0)  # merged into a
    c = r.gate("mul", a, r.const(1))  # rewritten into a
    d = r.gate("cos", b)
    s = simplify(r.circuit([a, b, c, d], labels={a: "a", b: "b", c: "c", d: "d"}))
    assert gates(s) == [("sin", [0]), ("cos", [1])]
    assert dict(s.labels) == {1: "a", 2: "d"}


def test_malformed_gates_are_rejected_with_their_place():
    r = Rows(["x"])
    r.gate("sin", 0)
    r.gate("add", 0, 3)  # reads a later vertex
    r.gate("sin", 2)
    with pytest.raises(CircuitError) as err:
        simplify(r.circuit([3]))
    assert err.value.errors[0].path == "/gates/1"
    r = Rows(["x"])
    r.gate("neg", 0, 0)  # too many arguments
    with pytest.raises(CircuitError) as err:
        simplify(r.circuit([1]))
    assert err.value.errors[0].path == "/gates/0"


def test_dead_gates_are_checked_dropped_and_lose_their_labels():
    r = Rows(["x"])
    a = r.gate("sin", 0)
    dead = r.gate("cos", a)  # no output reads it: skipped by the sweep
    s = simplify(r.circuit([a], labels={a: "a", dead: "dead"}))
    assert gates(s) == [("sin", [0])]
    assert dict(s.labels) == {1: "a"}
    r = Rows(["x"])
    r.gate("sin", 0)
    r.gate("neg", 0, 0)  # dead, but malformed all the same
    with pytest.raises(CircuitError) as err:
        simplify(r.circuit([1]))
    assert err.value.errors[0].path == "/gates/1"


def test_the_pipelined_sweep_keeps_the_order_of_a_plain_one():
    def build(r, x):
        a, b = r.gate("sin", x), r.gate("sin", x)  # b is looked up after a is settled
        c = r.gate("cos", b)  # reads the gate before it
        two, three = r.const(2), r.const(3)
        six = r.gate("mul", two, three)  # folded to 6 and settled at once,
        scaled = r.gate("mul", x, two, three)  # so 2·3 -> 6 finds it right after
        return a, b, c, six, scaled

    s = simplified(["x"], build)
    assert gates(s) == [("sin", [0]), ("cos", [1]), ("const", 6.0), ("add", [0], [6.0])]
    assert s.outputs.tolist() == [1, 1, 2, 3, 4]


# -- gradient circuits: the pass the service runs -----------------------------------------
@pytest.mark.parametrize(
    "c",
    [generate.equation1(), generate.random_dag(300, n_inputs=4, seed=3), generate.u_example()],
    ids=["equation1", "random_dag", "u_example"],
)
def test_gradient_circuits(c):
    raw = differentiate(c, simplify=False).circuit
    s = simplify(raw)
    assert s.n_gates <= raw.n_gates and s.n_wires <= raw.n_wires
    X = np.random.default_rng(0).uniform(-1, 1, (20, c.n_inputs))
    np.testing.assert_allclose(naive_eval(s, X), naive_eval(raw, X), rtol=1e-12, atol=1e-12)


# -- the rule list and the compiled sweep ------------------------------------------------
def test_rules_have_a_one_line_comment_each():
    source = inspect.getsource(rewrite)
    table = source[source.index("RULES = [") :]
    lines = table[: table.index("]\n")].splitlines()[1:]
    assert len(lines) == len(RULES)
    for (key, rule), line in zip(RULES, lines, strict=True):
        assert line.strip().startswith(f'("{key}", {rule.__name__}),  # ') and "->" in line


def test_cache_key_is_the_same_in_every_process():
    env = dict(os.environ, PYTHONHASHSEED="12345")
    code = "from circuitgrad.engine.passes.simplify import fingerprint; print(fingerprint())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == fingerprint()


def test_a_product_left_with_two_arguments_is_sorted_like_one_loaded_with_two():
    """mul0(t, s, s', t) with s, s' folding away leaves mul0(t, s''): a pair sorted by
    vertex, as simplification loads one; else simplifying again changes it (hypothesis)."""
    doc = {"inputs": ["x0", "x1"], "outputs": [6], "gates": [
        {"op": "square", "args": [1]},            # 2
        {"op": "tanh", "args": [0]},              # 3
        {"op": "const", "value": 1.0},            # 4
        {"op": "add", "args": [2, 0]},            # 5
        {"op": "mul0", "args": [5, 4, 3, 4]},     # 6: the constants fold away
    ]}  # fmt: skip
    once = simplify(from_document(doc))
    twice = simplify(once)
    [k] = np.flatnonzero(once.op == BY_NAME["mul0"].code)
    pair = once.args[once.arg_offsets[k] : once.arg_offsets[k + 1]]
    assert len(pair) == 2 and pair[0] < pair[1]
    np.testing.assert_array_equal(twice.args, once.args)
