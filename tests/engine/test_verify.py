"""The per-job check: it passes on correct results of every mode and fails on wrong ones."""

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from oracle import naive_eval
from randcircuit import circuits

from circuitgrad.engine import differentiate, parse_expression, verify
from circuitgrad.engine.building import generate
from circuitgrad.engine.core.circuit import INDEX, Circuit
from circuitgrad.engine.core.ops import ADD, CONST
from circuitgrad.engine.evaluation.verify import CANDIDATES, TOLERANCE

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MODES = ("backward", "forward", "auto", "jvp", "vjp", "hvp")


def _options(c, mode):
    return {"mode": mode, "of": [c.output_names[0]] if mode == "hvp" else None}


def _checked(c, mode, simplify=True, seed=0):
    options = _options(c, mode)
    return verify(c, differentiate(c, simplify=simplify, **options).circuit, seed=seed, **options)


def shifted(c: Circuit, first: int, factor: float = 1.0, offset: float = 0.0) -> Circuit:
    """``c`` whose outputs from ``first`` on are ``factor·out + offset`` (one add gate each)."""
    V, k = c.n_vertices, len(c.outputs) - first
    one = V  # a const 1 vertex, then the k add gates
    op = np.concatenate([c.op, [CONST.code], np.full(k, ADD.code)]).astype(np.uint8)
    args = np.concatenate([c.args, np.ravel([[o, one] for o in c.outputs[first:]])])
    coeffs = np.concatenate([c.coeffs, np.tile([factor, offset], k)])
    ends = c.n_wires + 2 * np.arange(1, k + 1)
    offsets = np.concatenate([c.arg_offsets, [c.arg_offsets[-1]], ends])
    param = np.concatenate([c.param, [1.0], np.zeros(k)])
    outputs = np.concatenate([c.outputs[:first], np.arange(V + 1, V + 1 + k)]).astype(INDEX)
    return Circuit.from_arrays(c.inputs, op, offsets, args, coeffs, param, outputs, c.output_names)


GENERATED = {
    "equation 1": generate.equation1,
    "random DAG": lambda: generate.random_dag(2000, n_inputs=6, n_outputs=3),
    "MLP": lambda: generate.mlp_loss(40, 4, 6),
    "chain": lambda: generate.chain(8),  # at 20, f' ≈ 1e-8 is below the differences' noise
    "determinant": lambda: generate.determinant(4),
    "kinks": lambda: parse_expression(
        "relu(x*y - z) + abs(sin(3*x)) * step(y) + sign(z)", None, "f"
    ),
}


@pytest.mark.parametrize("name", GENERATED)
@pytest.mark.parametrize("mode", MODES)
def test_correct_results_pass(name, mode):
    c = GENERATED[name]()
    record = _checked(c, mode)
    assert record["passed"] is True, record
    assert record["max_relative_error"] <= TOLERANCE and record["checked"] > 0
    assert record["checked"] + record["skipped"] == 3 * (len(c.outputs) if mode in MODES[:4] else 1)


@SETTINGS
@given(circuits(max_outputs=3, max_gates=20), st.sampled_from(MODES))
def test_correct_results_of_random_circuits_never_fail(c, mode):
    record = _checked(c, mode, simplify=False)
    assert record["passed"] is not False, record
    assert _checked(c, mode)["passed"] is not False


@pytest.mark.parametrize("name", ["equation 1", "random DAG", "MLP", "determinant"])
def test_swapped_outputs_fail(name):
    c = GENERATED[name]()
    g = differentiate(c).circuit  # d{f}/d{x} row-major: swap the first two columns
    outputs = g.outputs.copy()
    outputs[[0, 1]] = outputs[[1, 0]]
    record = verify(c, g.with_outputs(outputs, g.output_names))
    assert record["passed"] is False and record["max_relative_error"] > 1e-2, record


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name", ["random DAG", "MLP", "chain"])
def test_a_coefficient_off_by_one_percent_fails(name, mode):
    c = GENERATED[name]()
    options = _options(c, mode)
    g = differentiate(c, include_value=True, **options).circuit
    wrong = shifted(g, len(c.outputs), factor=1.01)
    record = verify(c, wrong, include_value=True, **options)
    assert record["passed"] is False, record
    assert 1e-3 < record["max_relative_error"] < 0.1  # about the 1 % it is off


@SETTINGS
@given(circuits(max_outputs=3, max_gates=20))
def test_any_visible_error_in_a_random_jvp_fails(c):
    """J·v + 1 instead of J·v: wherever the check compared something of moderate size, it
    fails."""
    g = differentiate(c, mode="jvp").circuit
    right = verify(c, g, mode="jvp")
    assume(right["passed"] is True)
    x, v = np.array(right["points"]), np.array(right["directions"])
    a = naive_eval(g, np.concatenate([x, v], axis=1))
    f = naive_eval(c, x)
    assume(np.nanmax(np.abs(a)) < 1e3 and np.nanmax(np.abs(f)) < 1e6)
    wrong = verify(c, shifted(g, 0, offset=1.0), mode="jvp")
    assert wrong["passed"] is False and wrong["max_relative_error"] > 1e-4, wrong


@pytest.mark.parametrize("k", [1000, 3000, 10000])
@pytest.mark.parametrize("mode", ["backward", "hvp"])
def test_kinks_and_wiggles_within_the_step_do_not_fail_a_correct_result(k, mode):
    """At h = 1e-4, sin(3000·x) aliases and its kinks are within reach: the point is taken
    again with a finer step, where the correct result shows as correct."""
    c = parse_expression(f"abs(sin({k}*x)) + relu(sin({k}*y)) * x")
    record = _checked(c, mode)
    assert record["passed"] is True and record["checked"] >= 2, record
    if k == 10000:
        assert record["refined"] == 3
    wrong = verify(c, shifted(differentiate(c, **_options(c, mode)).circuit, 0, 1.01),
                   **_options(c, mode))  # fmt: skip
    assert wrong["passed"] is False, wrong


def test_a_source_that_is_nan_everywhere_is_reported_unchecked():
    c = parse_expression("log(-x*x - 1) + y", None, "f")
    record = _checked(c, "backward")
    assert record["passed"] is None and record["checked"] == 0
    assert str(CANDIDATES) in record["reason"]
    assert record["max_relative_error"] is None


def test_the_same_request_gives_the_same_points_and_record():
    c = generate.random_dag(300, n_inputs=4, n_outputs=2)
    first, again = _checked(c, "vjp"), _checked(c, "vjp")
    assert first == again and len(first["points"]) == 3 and len(first["cotangents"][0]) == 2
    assert _checked(c, "vjp", seed=1)["points"] != first["points"]  # the seed decides


def test_vectors_of_large_circuits_are_left_out_of_the_record():
    c = generate.random_dag(500, n_inputs=100)
    record = _checked(c, "jvp")
    assert record["passed"] is True
    assert record["points"] is None and record["directions"] is None
    assert len(record["candidates"]) == 3
