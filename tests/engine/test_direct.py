"""The direct tape (a slot per vertex, no lowering) computes what the reference does."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from randcircuit import circuits

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.circuit import Circuit
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.evaluation.direct import evaluate_direct
from circuitgrad.engine.evaluation.evaluate import evaluate_reference
from circuitgrad.engine.passes.gradient import differentiate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(circuits(max_outputs=3), st.integers(1, 20), st.integers(0, 2**32 - 1))
def test_direct_equals_the_reference(c, N, seed):
    X = np.random.default_rng(seed).uniform(-2, 2, (N, c.n_inputs))
    expected = evaluate_reference(c, X)
    # compiled code calls libm where NumPy has its own kernels: an ulp apart, which a
    # cancellation inside the circuit magnifies; a misplaced slot is off by far more
    finite = np.where(np.isfinite(expected), np.abs(expected), 0)
    scale = finite.max(axis=1, keepdims=True) if finite.size else 0
    got = evaluate_direct(c, X)
    close = np.isclose(got, expected, rtol=1e-11, atol=0, equal_nan=True)
    close |= np.abs(got - expected) <= 1e-13 * scale  # the row's magnitude: cancellations
    assert close.all(), (got[~close], expected[~close])


@pytest.mark.parametrize("mode", ["backward", "jvp", "hvp"])
def test_direct_on_derivative_circuits_with_constant_and_input_outputs(mode):
    c = generate.random_dag(300, n_inputs=3, n_outputs=2)
    g = differentiate(c, mode=mode, of=["f0"], include_value=True).circuit
    odd = g.with_outputs([0, *g.outputs, 1], ["x0", *g.output_names, "x1"])  # inputs as outputs
    X = np.random.default_rng(1).normal(size=(5, g.n_inputs))
    np.testing.assert_allclose(evaluate_direct(odd, X), evaluate_reference(odd, X), rtol=1e-12)


def test_a_malformed_circuit_is_refused_as_by_the_tape():
    bad = Circuit.from_arrays(["x"], [0, 2], [0, 0, 1], [5], [1.0], [0.0, 0.0], [1])
    with pytest.raises(CircuitError):
        evaluate_direct(bad, np.zeros((1, 1)))
