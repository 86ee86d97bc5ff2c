"""Independent references shared by the engine tests: a vertex-by-vertex NumPy evaluator and
central finite differences. Neither touches the engine's evaluation or propagation code."""

from __future__ import annotations

import numpy as np

from circuitgrad.engine.core.ops import BY_CODE


def naive_eval(c, X) -> np.ndarray:
    """Outputs of c at the rows of X, one column per vertex computed with the op table.
    Sums and products go as the format says: from −0.0 / 1, constant-valued arguments
    first, then the others in order; mul0's NaN with a zero factor is +0."""
    X = np.atleast_2d(np.asarray(X, dtype=float))
    vals = np.empty((c.n_vertices, X.shape[0]))
    constant = np.zeros(c.n_vertices, bool)
    with np.errstate(all="ignore"):
        for v in range(c.n_vertices):
            op = BY_CODE[c.op[v]]
            lo, hi = c.arg_offsets[v], c.arg_offsets[v + 1]
            a, co = c.args[lo:hi], c.coeffs[lo:hi]
            constant[v] = op.name == "const" or (hi > lo and constant[a].all())
            order = np.concatenate([np.flatnonzero(constant[a]), np.flatnonzero(~constant[a])])
            if op.name == "input":
                vals[v] = X[:, v]
            elif op.name == "const":
                vals[v] = c.param[v]
            elif op.name == "add":
                acc = np.full(X.shape[0], -0.0)
                for j in order:
                    acc = acc + co[j] * vals[a[j]]
                vals[v] = acc
            elif op.name == "mul":
                acc = np.ones(X.shape[0])
                for j in order:
                    acc = acc * vals[a[j]]
                vals[v] = acc
            elif op.name == "mul0":
                acc = np.ones(X.shape[0])
                for j in range(len(a)):
                    acc = acc * vals[a[j]]
                vals[v] = np.where(np.isnan(acc) & (vals[a] == 0).any(axis=0), 0.0, acc)
            elif op.param:
                vals[v] = op.evaluate(vals[a[0]], c.param[v])
            else:
                vals[v] = op.evaluate(*vals[a])
    return vals[c.outputs].T


def _sides(c, x, h):
    x = np.asarray(x, dtype=float)
    n = len(x)
    steps = h * np.maximum(1.0, np.abs(x))
    plus = naive_eval(c, np.tile(x, (n, 1)) + np.diag(steps))
    minus = naive_eval(c, np.tile(x, (n, 1)) - np.diag(steps))
    here = naive_eval(c, x)
    return ((plus - here) / steps[:, None]).T, ((here - minus) / steps[:, None]).T


def central_differences(c, x, h=1e-6) -> np.ndarray:
    """Jacobian (m, n) of c at point x by central differences, step h·max(1, |xᵢ|)."""
    right, left = _sides(c, x, h)
    return (right + left) / 2


def assert_jacobian_matches(c, grad, x, rtol=1e-4, atol=1e-6):
    """grad (a Jacobian circuit, row-major outputs) agrees with finite differences at x."""
    m, n = len(c.outputs), c.n_inputs
    got = naive_eval(grad, x)[0].reshape(m, n)
    right, left = _sides(c, x, 1e-6)
    fd = (right + left) / 2
    fine = central_differences(c, x, 1e-7)
    # at a kink the two sides differ; across a jump the quotient scales with 1/h
    smooth = np.isclose(right, left, rtol=1e-3, atol=1e-4)
    smooth &= np.isclose(fd, fine, rtol=1e-2, atol=1e-3)
    scale = np.maximum(1.0, np.abs(fd))
    bad = smooth & ~(np.abs(got - fd) <= atol + rtol * scale)
    assert not bad.any(), f"gradient {got[bad]} vs finite differences {fd[bad]}"
