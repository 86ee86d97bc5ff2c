"""The evaluation tape against the vertex-by-vertex NumPy reference, and the points API."""

from __future__ import annotations

import os
import time
import warnings

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from circuitgrad.engine.core import ops
from circuitgrad.engine.core.circuit import Circuit
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.evaluation.evaluate import (
    block_size,
    evaluate,
    evaluate_reference,
    tape_of,
)

CONSTS = [0.0, 1.0, -1.0, 2.0, 0.5, -3.0, 1e-3, np.inf, -np.inf, np.nan]
POWERS = [2.0, 3.0, 0.5, -1.0, -0.5, 1.5, 0.0, -2.0]


# -- circuits from rows ----------------------------------------------------------------
def circuit(inputs, gates, outputs):
    """gates: (op name, args, coeffs or None, param) rows, numbered after the inputs."""
    n = len(inputs)
    op = [ops.INPUT.code] * n + [ops.BY_NAME[g[0]].code for g in gates]
    arity = [0] * n + [len(g[1]) for g in gates]
    args = [a for g in gates for a in g[1]]
    coeffs = [c for g in gates for c in (g[2] or [1.0] * len(g[1]))]
    param = [0.0] * n + [g[3] for g in gates]
    offsets = np.concatenate([[0], np.cumsum(arity)])
    return Circuit.from_arrays(inputs, op, offsets, args, coeffs, param, outputs)


@st.composite
def circuits(draw, max_inputs=3, max_gates=25):
    """Any op of the table, arity per the table, arguments anywhere before the gate."""
    n = draw(st.integers(0, max_inputs))
    inputs = [f"x{i}" for i in range(n)]
    gates = []
    for v in range(n, n + draw(st.integers(1, max_gates))):
        op = draw(st.sampled_from(ops.GATE_OPS))
        if op is ops.CONST or v == 0:
            gates.append(("const", [], None, draw(st.sampled_from(CONSTS))))
            continue
        hi = op.max_args if op.max_args is not None else op.min_args + 3
        args = draw(st.lists(st.integers(0, v - 1), min_size=op.min_args, max_size=hi))
        coeffs = None
        if op.coeffs:
            coeffs = draw(st.lists(st.sampled_from([1.0, -1.0, 2.0, 0.5, -0.25, 0.0]),
                                   min_size=len(args), max_size=len(args)))  # fmt: skip
        param = draw(st.sampled_from(POWERS)) if op.param is not None else 0.0
        gates.append((op.name, args, coeffs, param))
    V = n + len(gates)
    outputs = draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=4))
    return circuit(inputs, gates, outputs)


def numpy_agrees_with_numba(c: Circuit, X: np.ndarray) -> bool:
    """Whether each fixed op of c gives the same bits in NumPy (the reference) and compiled
    by Numba (the kernels) on the values it sees. They differ at a few signed zeros and
    infinities (e.g. NumPy's pow(x, 0.5) is sqrt), a question for the op table, not the tape."""
    cols = []
    with np.errstate(all="ignore"):
        for v in range(c.n_vertices):
            cols.append(evaluate_reference(c.with_outputs([v], ["v"]), X)[:, 0])
    for v in range(c.n_inputs, c.n_vertices):
        op = ops.BY_CODE[c.op[v]]
        if op.evaluate is None:
            continue
        a = [cols[u] for u in c.args_of(v)]
        extra = (c.param[v],) if op.param is not None else ()
        compiled = _compiled(op.code)
        got = np.array([compiled(*(x[i] for x in a), *extra) for i in range(len(X))])
        same = (np.isnan(got) & np.isnan(cols[v])) | (got.view(np.int64) == cols[v].view(np.int64))
        if not same.all():
            return False
    return True


_COMPILED = {}


def _compiled(code):
    if code not in _COMPILED:
        _COMPILED[code] = numba.njit(error_model="numpy")(ops.BY_CODE[code].evaluate)
    return _COMPILED[code]


def assert_same(got, want):
    assert got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.array_equal(np.isposinf(got), np.isposinf(want))
    assert np.array_equal(np.isneginf(got), np.isneginf(want))
    finite = np.isfinite(want)
    np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12, atol=1e-12)


# -- the tape against the reference ----------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(c=circuits(), data=st.data())
def test_tape_matches_reference(c, data):
    N = data.draw(st.sampled_from([1, 2, 7, 37]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    X = rng.uniform(-3, 3, size=(N, c.n_inputs))
    X[rng.random(X.shape) < 0.1] = 0.0  # kinks and poles
    assume(numpy_agrees_with_numba(c, X))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same(evaluate(c, X), evaluate_reference(c, X))
        for i in range(N):  # one point at a time: the scalar kernel
            assert_same(evaluate(c, X[i]), evaluate_reference(c, X[i : i + 1]))


def test_blocks_and_threads_cover_every_point():
    # a batch that is not a multiple of the block, spread over several blocks per thread
    c = circuit(
        ["x", "y"],
        [("sin", [0], None, 0), ("mul", [2, 1], None, 0), ("add", [3, 0, 1], [2, -1, 0.5], 0)],
        [4, 2],
    )
    tape = tape_of(c)
    X = np.random.default_rng(0).normal(size=(1003, 2))
    want = evaluate_reference(c, X)
    for block in (8, 16, 512):
        for threads in (1, 2, 3):
            got = tape.run_batch(np.ascontiguousarray(X.T), block, threads).T
            assert_same(got, want)
    assert block_size(tape, 1003) * 2 <= 1003


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_batches_run_in_a_child_forked_after_the_parent_ran_batches():
    # Celery's prefork pool forks workers from a parent that may have evaluated already
    c = circuit(["x"], [("sin", [0], None, 0), ("mul", [1, 0], None, 0)], [2])
    XT = np.linspace(-1, 1, 300)[None, :]
    want = tape_of(c).run_batch(XT, 8, threads=2)  # the parent's threads start
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code only
        ok = False
        try:
            ok = np.array_equal(tape_of(c).run_batch(XT, 8, threads=2), want)
        finally:
            os._exit(0 if ok else 1)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0
            return
        time.sleep(0.05)
    os.kill(pid, 9)
    pytest.fail("the forked child hung")


def test_domain_errors_give_nan_and_inf_silently():
    c = circuit(
        ["x", "y"],
        [
            ("log", [0], None, 0),  # log(-1)
            ("div", [1, 0], None, 0),  # 1/0 (at y = 1, x = 0)
            ("sqrt", [0], None, 0),  # sqrt(-1)
            ("pow", [0], None, 0.5),  # (-8)^0.5
            ("recip", [0], None, 0),
            ("log", [1], None, 0),
        ],
        [2, 3, 4, 5, 6, 7],
    )
    X = np.array([[-1.0, 1.0], [0.0, 1.0], [-8.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = evaluate(c, X)
        one = evaluate(c, X[0])
        ref = evaluate_reference(c, X)
    assert np.isnan(got[0, 0]) and np.isnan(got[0, 2]) and np.isnan(got[2, 3])
    assert got[1, 1] == np.inf and got[1, 4] == np.inf and got[2, 5] == -np.inf
    assert_same(got, ref)
    assert_same(one, ref[:1])


def test_outputs_that_are_inputs_constants_or_repeated():
    c = circuit(
        ["x", "y"],
        [("const", [], None, 2.5), ("add", [0, 2], [3.0, 1.0], 0), ("mul", [2, 2], None, 0)],
        [1, 2, 0, 3, 4, 1, 3],
    )
    X = np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 0.25]])
    want = np.array([[y, 2.5, x, 3 * x + 2.5, 6.25, y, 3 * x + 2.5] for x, y in X])
    np.testing.assert_array_equal(evaluate(c, X), want)
    np.testing.assert_array_equal(evaluate(c, X[1]), want[1:2])
    np.testing.assert_array_equal(evaluate_reference(c, X), want)


def test_constant_gates_are_folded_not_run():
    # exp(2) * x + (1 + 3) : the constant subgraph is computed once, in lowering
    c = circuit(
        ["x"],
        [
            ("const", [], None, 2.0),
            ("exp", [1], None, 0),
            ("const", [], None, 3.0),
            ("add", [2, 3], [1.0, 1.0], 0),  # constant: 1·e² + 3
            ("mul", [2, 0], None, 0),
            ("add", [5, 4], None, 0),
        ],
        [6, 4],
    )
    tape = tape_of(c)
    assert tape.n_instructions == 2  # the mul (scaled) and the add (biased)
    x = np.array([[0.5], [-2.0]])
    want = np.stack([np.exp(2) * x[:, 0] + np.exp(2) + 3, np.exp(2) + 3 + 0 * x[:, 0]], axis=1)
    np.testing.assert_allclose(evaluate(c, x), want, rtol=1e-15)


def test_folded_gate_read_by_a_fixed_op_is_loaded_as_a_constant():
    # x / exp(1) and exp(1) - x: the folded gate becomes a constant slot of the div/sub
    c = circuit(
        ["x"],
        [
            ("const", [], None, 1.0),
            ("exp", [1], None, 0),
            ("div", [0, 2], None, 0),
            ("sub", [2, 0], None, 0),
            ("pow", [2], None, 2.0),
        ],
        [3, 4, 5],
    )
    X = np.array([[0.5], [-2.0], [4.0]])
    want = np.stack([X[:, 0] / np.e, np.e - X[:, 0], np.full(3, np.e**2)], axis=1)
    np.testing.assert_allclose(evaluate(c, X), want, rtol=1e-15)
    np.testing.assert_allclose(evaluate(c, X[2]), want[2:], rtol=1e-15)


def test_dead_gates_and_aliases_cost_nothing():
    c = circuit(
        ["x", "y"],
        [
            ("sin", [1], None, 0),  # dead: no output reads it
            ("add", [0], [1.0], 0),  # alias of x
            ("mul", [3, 3], None, 0),
        ],
        [4],
    )
    assert tape_of(c).n_instructions == 1
    np.testing.assert_array_equal(evaluate(c, [3.0, 1.0]), [[9.0]])


def test_slots_are_reused():
    # a chain of 1000 gates needs two slots, not a thousand
    gates = [("sin", [0], None, 0)] + [("tanh", [v], None, 0) for v in range(1, 1000)]
    c = circuit(["x"], gates, [1000])
    assert tape_of(c).n_slots <= 3
    np.testing.assert_allclose(evaluate(c, [0.3]), evaluate_reference(c, [0.3]))


def test_gates_are_scheduled_near_their_readers():
    # as a gradient made array-at-a-time lists all partials before the sweep reading them:
    # n terms p_i = sin(i·x) first, then a chain summing them. In vertex order all n terms
    # would be alive at once; run depth-first, each is made just before its add.
    n = 500
    gates = [("add", [0], [float(i)], 0) for i in range(1, n + 1)]  # vertices 1 .. n
    gates += [("sin", [i], None, 0) for i in range(1, n + 1)]  # n+1 .. 2n
    total = n + 1
    for i in range(2, n + 1):
        gates.append(("add", [total, n + i], None, 0))
        total = len(gates)  # the vertex just added
    c = circuit(["x"], gates, [total])
    assert tape_of(c).n_slots <= 4
    x = np.array([[0.7], [-0.2], [1.3]])
    np.testing.assert_allclose(evaluate(c, x), evaluate_reference(c, x), rtol=1e-12)


def test_circuit_without_inputs():
    c = circuit([], [("const", [], None, 2.0), ("sqrt", [0], None, 0)], [1, 0])
    np.testing.assert_array_equal(evaluate(c, np.empty(0)), [[np.sqrt(2), 2.0]])
    np.testing.assert_array_equal(evaluate(c, {}), [[np.sqrt(2), 2.0]])
    np.testing.assert_array_equal(evaluate(c, np.empty((3, 0))), [[np.sqrt(2), 2.0]] * 3)


def test_empty_batch():
    c = circuit(["x"], [("sin", [0], None, 0)], [1])
    assert evaluate(c, np.empty((0, 1))).shape == (0, 1)


def test_dict_points_broadcast_numbers_against_columns():
    c = circuit(["x", "y"], [("sub", [0, 1], None, 0)], [2])
    np.testing.assert_array_equal(evaluate(c, {"y": 1.0, "x": [1.0, 2.0, 3.0]}), [[0], [1], [2]])
    np.testing.assert_array_equal(evaluate(c, {"x": 5, "y": 2}), [[3.0]])


@pytest.mark.parametrize(
    "points, errors",
    [
        ({"x": 1.0}, [("/points/y", "missing input y")]),
        ({"x": 1.0, "y": 2.0, "z": 3.0}, [("/points/z", "unknown input z")]),
        ({"x": 1.0, "a/b": 0.0}, [("/points/a~1b", "unknown input a/b"),
                                  ("/points/y", "missing input y")]),
    ],
)  # fmt: skip
def test_dict_points_name_every_unknown_and_missing_input(points, errors):
    c = circuit(["x", "y"], [("sub", [0, 1], None, 0)], [2])
    with pytest.raises(CircuitError) as e:
        evaluate(c, points)
    assert [(i.path, i.message) for i in e.value.errors] == errors


def test_points_as_one_object_per_point():
    c = circuit(["x", "y"], [("sub", [0, 1], None, 0)], [2])
    rows = [{"x": 1.0, "y": 2.0}, {"y": 0.5, "x": 4.0}]
    np.testing.assert_array_equal(evaluate(c, rows), [[-1.0], [3.5]])
    with pytest.raises(CircuitError) as e:
        evaluate(c, [{"x": 1.0}, {"x": 1.0, "y": 2.0, "z": 0.0}, 3.0])
    assert [(i.path, i.message) for i in e.value.errors] == [
        ("/points/0/y", "missing input y"),
        ("/points/1/z", "unknown input z"),
        ("/points/2", "must be an object of input values"),
    ]


@pytest.mark.parametrize(
    "points",
    [
        {"x": [1.0, 2.0], "y": [1.0, 2.0, 3.0]},
        {"x": [[1.0]], "y": 1.0},
        {"x": "a", "y": 1.0},
        np.zeros((4, 3)),
        np.zeros(3),
        [[1.0, 2.0], [3.0]],
    ],
)
def test_malformed_points(points):
    c = circuit(["x", "y"], [("sub", [0, 1], None, 0)], [2])
    with pytest.raises(CircuitError) as e:
        evaluate(c, points)
    assert all(i.path.startswith("/points") for i in e.value.errors)


def test_malformed_circuit_is_refused_not_run():
    # from_arrays checks nothing; the tape must not read outside its slots
    bad_arity = Circuit.from_arrays(["x"], [0, 5], [0, 0, 1], [0], [1.0], [0, 0], [1])
    forward = Circuit.from_arrays(["x"], [0, 13], [0, 0, 1], [1], [1.0], [0, 0], [1])
    for c, path in ((bad_arity, "/gates/0"), (forward, "/gates/0")):
        with pytest.raises(CircuitError) as e:
            evaluate(c, [1.0])
        assert e.value.errors[0].path == path


def test_tape_is_cached_per_circuit():
    c = circuit(["x"], [("exp", [0], None, 0)], [1])
    assert tape_of(c) is tape_of(c)
