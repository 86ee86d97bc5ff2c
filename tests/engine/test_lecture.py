"""The lecture's worked examples, checked against closed forms and NumPy."""

from itertools import pairwise

import numpy as np
import pytest
from oracle import naive_eval

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.passes.gradient import differentiate

MODES = ["backward", "forward"]


def _eq34(P):
    x, y, z = P.T
    a, b, d = x - 3 * y - 3 * z + 5, x - 2 * y - 2 * z, x + y - 5 * z - 3
    return np.stack([2 * a + 2 * b + 2 * d, -6 * a - 4 * b + 2 * d, -6 * a - 4 * b - 10 * d], 1)


def test_equation_1_has_size_7_depth_3_and_17_wires():
    m = measures(generate.equation1())
    assert (m["size"], m["depth"], m["wires"], m["nodes"]) == (7, 3, 17, 11)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("simplify", [False, True])
def test_equation_1_gradient_is_equations_3_and_4(mode, simplify):
    g = differentiate(generate.equation1(), mode=mode, simplify=simplify).circuit
    assert g.output_names == ("df/dx", "df/dy", "df/dz")
    P = np.random.default_rng(0).normal(scale=3, size=(20, 3))
    np.testing.assert_allclose(naive_eval(g, P), _eq34(P), rtol=1e-12, atol=1e-9)


def test_backprop_of_equation_1_is_as_small_as_figure_3():
    # Figure 3: the three residuals, three squares, their sum, and one gate per partial
    # (a weighted sum of the three residuals): 7 + 3 gates.
    g = differentiate(generate.equation1(), simplify=True).circuit
    assert measures(g)["size"] <= 10
    fwd = differentiate(generate.equation1(), mode="forward", simplify=False).circuit
    assert measures(fwd)["size"] > measures(g)["size"]


@pytest.mark.parametrize("mode", MODES)
def test_u_example_partial_by_x1(mode):
    g = differentiate(generate.u_example(), mode=mode, wrt=["x1"]).circuit
    P = np.random.default_rng(1).normal(size=(10, 2))
    x1, x2 = P.T
    np.testing.assert_allclose(naive_eval(g, P)[:, 0], 2 * x1 + 2 * x2 + 2 * x1 * x2 + x2**2)


@pytest.mark.parametrize("mode", MODES)
def test_least_squares_gradient_is_2_At_residual(mode):
    rng = np.random.default_rng(2)
    A, b = rng.normal(size=(7, 5)), rng.normal(size=7)
    g = differentiate(generate.least_squares(A, b), mode=mode).circuit
    X = rng.normal(size=(6, 5))
    np.testing.assert_allclose(naive_eval(g, X), (2 * A.T @ (A @ X.T - b[:, None])).T, rtol=1e-10)


def test_sigma2_gradient_is_sum_minus_self():
    n = 9
    g = differentiate(generate.sigma2(n)).circuit
    X = np.random.default_rng(3).normal(size=(4, n))
    np.testing.assert_allclose(naive_eval(g, X), X.sum(1, keepdims=True) - X, rtol=1e-10)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_gradient_of_det_over_det_is_inverse_transposed(n):
    det = generate.determinant(n)
    g = differentiate(det, include_value=True).circuit
    X = np.random.default_rng(n).normal(size=(n, n)) + n * np.eye(n)  # pivots away from zero
    values = naive_eval(g, X.ravel())[0]
    np.testing.assert_allclose(values[0], np.linalg.det(X), rtol=1e-9)
    inv = values[1:].reshape(n, n) / values[0]
    np.testing.assert_allclose(inv, np.linalg.inv(X).T, rtol=1e-8, atol=1e-12)
    # Theorem 3: ∇DET is within 3·wires + nodes of DET, so INV is O(size of DET)
    assert measures(g)["size"] <= 3 * det.n_wires + det.n_vertices


STUDENTS = [  # x1 homework average, x2 project grade, x3 hours per week, got an A
    (39, 31, 12, 1),
    (45, 11, 3, 0),
    (43, 25, 6, 1),
    (30, 12, 2, 0),
    (48, 35, 9, 1),
    (35, 18, 4, 0),
    (41, 29, 8, 1),
    (33, 20, 5, 0),
    (47, 38, 10, 1),
    (50, 40, 0, 1),
]


def test_gradient_descent_on_the_perceptron_loss_lowers_it():
    scale = np.array([50.0, 40.0, 12.0])  # features scaled to about [0, 1]
    table = [(x1 / scale[0], x2 / scale[1], x3 / scale[2], y) for x1, x2, x3, y in STUDENTS]
    loss = generate.perceptron_loss(table)
    grad = differentiate(loss, include_value=True).circuit
    w = np.zeros(4)
    history = []
    for _ in range(300):
        out = naive_eval(grad, w)[0]
        history.append(out[0])
        w -= 0.5 * out[1:]
    assert history[-1] < 0.5 * history[0]
    assert all(b <= a + 1e-12 for a, b in pairwise(history))
