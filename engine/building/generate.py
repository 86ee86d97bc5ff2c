"""Circuits for tests, examples and benchmarks, built straight on arrays.

The lecture's examples (equation (1), the u₁…u₃ circuit, σ₂, ‖Ax − b‖², the determinant by
Gaussian elimination, the perceptron loss) and the benchmark families (random DAGs, a
sigmoid MLP loss, a deep chain). Large ones are generated vectorised.
"""

from __future__ import annotations

import numpy as np

from ..core.circuit import INDEX, Circuit
from ..core.ops import BY_NAME


class Rows:
    """A small list-based circuit under construction (for modest sizes only)."""

    def __init__(self, inputs):
        self.inputs = list(inputs)
        self.op, self.rows, self.coeffs, self.param = [], [], [], []
        for _ in self.inputs:
            self._push("input", [], [], 0.0)

    def _push(self, op, args, coeffs, param) -> int:
        self.op.append(BY_NAME[op].code)
        self.rows.append(list(args))
        self.coeffs.append(list(coeffs) if coeffs is not None else [1.0] * len(args))
        self.param.append(float(param))
        return len(self.op) - 1

    def gate(self, op, *args, coeffs=None, p=0.0) -> int:
        return self._push(op, args, coeffs, p)

    def const(self, value) -> int:
        return self._push("const", [], [], value)

    def circuit(self, outputs, names=None) -> Circuit:
        offsets = np.zeros(len(self.op) + 1, INDEX)
        np.cumsum([len(r) for r in self.rows], out=offsets[1:])
        flat = [a for r in self.rows for a in r]
        flat_c = [c for r in self.coeffs for c in r]
        return Circuit.from_arrays(
            self.inputs, self.op, offsets, flat, flat_c, self.param, outputs, names
        )


def equation1() -> Circuit:
    """f = (x−3y−3z+5)² + (x−2y−2z)² + (x+y−5z−3)²: the document of circuit-format.md."""
    r = Rows("xyz")
    one = r.const(1)
    a = r.gate("add", 0, 1, 2, one, coeffs=[1, -3, -3, 5])
    b = r.gate("add", 0, 1, 2, coeffs=[1, -2, -2])
    c = r.gate("add", 0, 1, 2, one, coeffs=[1, 1, -5, -3])
    f = r.gate("add", r.gate("square", a), r.gate("square", b), r.gate("square", c))
    return r.circuit([f], ["f"])


def u_example() -> Circuit:
    """y = (x₁ + x₂ + x₁x₂)(x₁ + x₂) with u₁ = x₁+x₂, u₂ = x₁x₂, u₃ = u₁+u₂, y = u₁·u₃."""
    r = Rows(["x1", "x2"])
    u1 = r.gate("add", 0, 1)
    u2 = r.gate("mul", 0, 1)
    u3 = r.gate("add", u1, u2)
    return r.circuit([r.gate("mul", u1, u3)], ["y"])


def sigma2(n: int) -> Circuit:
    """σ₂ = Σ_{i<j} xᵢxⱼ as a sum of C(n,2) products."""
    r = Rows([f"x{i}" for i in range(n)])
    prods = [r.gate("mul", i, j) for i in range(n) for j in range(i + 1, n)]
    return r.circuit([r.gate("add", *prods)], ["s"])


def determinant(n: int) -> Circuit:
    """DET of the n×n matrix of inputs X[i][j] by Gaussian elimination without pivoting."""
    r = Rows([f"X[{i}][{j}]" for i in range(n) for j in range(n)])
    m = [[i * n + j for j in range(n)] for i in range(n)]
    pivots = []
    for k in range(n):
        pivots.append(m[k][k])
        inv = r.gate("recip", m[k][k]) if k < n - 1 else None
        for i in range(k + 1, n):
            factor = r.gate("mul", m[i][k], inv)
            for j in range(k + 1, n):  # m[i][j] -= factor · m[k][j]
                m[i][j] = r.gate("add", m[i][j], r.gate("mul", factor, m[k][j]), coeffs=[1, -1])
    det = pivots[0] if n == 1 else r.gate("mul", *pivots)
    return r.circuit([det], ["det"])


def perceptron_loss(table) -> Circuit:
    """Σ_s (ŷ(s) − σ(w₀ + w₁x₁(s) + w₂x₂(s) + w₃x₃(s)))² over rows (x₁, x₂, x₃, ŷ)."""
    r = Rows(["w0", "w1", "w2", "w3"])
    one = r.const(1)
    terms = []
    for x1, x2, x3, yhat in table:
        s = r.gate("sigmoid", r.gate("add", 0, 1, 2, 3, coeffs=[1, x1, x2, x3]))
        terms.append(r.gate("square", r.gate("add", one, s, coeffs=[yhat, -1])))
    return r.circuit([r.gate("add", *terms)], ["loss"])


def least_squares(A: np.ndarray, b: np.ndarray) -> Circuit:
    """‖Ax − b‖² with square gates, as the lecture asks for ∇ = 2Aᵀ(Ax − b)."""
    m, n = A.shape
    one = n
    rows = n + 1 + np.arange(m)  # residual gates
    squares = rows + m
    total = n + 1 + 2 * m
    op = np.concatenate(
        [
            np.zeros(n),
            [BY_NAME["const"].code],
            np.full(m, BY_NAME["add"].code),
            np.full(m, BY_NAME["square"].code),
            [BY_NAME["add"].code],
        ]
    )
    arity = np.concatenate([np.zeros(n + 1, INDEX), np.full(m, n + 1), np.ones(m, INDEX), [m]])
    res_args = np.concatenate([np.tile(np.arange(n), (m, 1)), np.full((m, 1), one)], axis=1)
    res_coef = np.concatenate([A, -b[:, None]], axis=1)
    args = np.concatenate([res_args.ravel(), rows, squares])
    coeffs = np.concatenate([res_coef.ravel(), np.ones(2 * m)])
    param = np.zeros(total + 1)
    param[one] = 1.0
    offsets = np.zeros(total + 2, INDEX)
    np.cumsum(arity, out=offsets[1:])
    return Circuit.from_arrays(
        [f"x{i}" for i in range(n)], op, offsets, args, coeffs, param, [total], ["f"]
    )


def product(k: int) -> Circuit:
    """f = Π xᵢ over k inputs, one k-argument ``mul``: high fan-in for the derivative rules."""
    op = np.full(k + 1, BY_NAME["input"].code)
    op[k] = BY_NAME["mul"].code
    offsets = np.zeros(k + 2, INDEX)
    offsets[k + 1] = k
    return Circuit.from_arrays(
        [f"x{i}" for i in range(k)], op, offsets, np.arange(k), np.ones(k), np.zeros(k + 1),
        [k], ["f"],
    )  # fmt: skip


def chain(n_gates: int, seed: int = 0) -> Circuit:
    """A path of unary gates from one input: depth = size."""
    rng = np.random.default_rng(seed)
    names = ["sin", "tanh", "sigmoid", "cos"]
    op = np.concatenate([[0], [BY_NAME[k].code for k in rng.choice(names, n_gates)]])
    offsets = np.concatenate([[0, 0], np.arange(1, n_gates + 1)]).astype(INDEX)
    args = np.arange(n_gates, dtype=INDEX)
    return Circuit.from_arrays(
        ["x"], op, offsets, args, np.ones(n_gates), np.zeros(n_gates + 1), [n_gates], ["f"]
    )


def random_dag(
    n_gates: int,
    n_inputs: int = 10,
    seed: int = 0,
    binary_share: float = 0.4,
    n_outputs: int = 1,
    locality: int = 64,
) -> Circuit:
    """A random DAG of bounded-value ops, ≈(1 + binary_share) wires per gate.

    Unary gates are sin, cos, tanh, sigmoid; binary ones add (coeffs ½, ½), mul and sub, so
    values stay in a modest range at any size. Arguments are drawn mostly from the last
    ``locality`` vertices (deep circuits) and sometimes from anywhere before (fan-out).
    The outputs are the last gates (the sum of all gates no other gate reads is the first
    output, so the whole circuit matters).
    """
    rng = np.random.default_rng(seed)
    n = n_inputs
    V = n + n_gates
    me = np.arange(n, V)
    binary = rng.random(n_gates) < binary_share
    unary_ops = np.array([BY_NAME[k].code for k in ("sin", "cos", "tanh", "sigmoid")])
    binary_ops = np.array([BY_NAME[k].code for k in ("add", "mul", "sub")])
    op = np.where(binary, rng.choice(binary_ops, n_gates), rng.choice(unary_ops, n_gates))

    def pick(k):
        near = me - 1 - np.minimum(rng.geometric(1.0 / locality, k) - 1, me - 1)
        far = (rng.random(k) * me).astype(INDEX)
        return np.where(rng.random(k) < 0.8, near, far)

    a0, a1 = pick(n_gates), pick(n_gates)
    arity = np.where(binary, 2, 1)
    offsets = np.zeros(V + 1, INDEX)
    np.cumsum(np.concatenate([np.zeros(n, INDEX), arity]), out=offsets[1:])
    args = np.empty(offsets[-1], INDEX)
    first = offsets[n:-1]
    args[first] = a0
    args[first[binary] + 1] = a1[binary]
    coeffs = np.ones(len(args))
    adds = binary & (op == BY_NAME["add"].code)
    coeffs[first[adds]] = 0.5
    coeffs[first[adds] + 1] = 0.5
    # one final add over every sink keeps every gate relevant
    used = np.zeros(V, bool)
    used[args] = True
    sinks = np.flatnonzero(~used[n:]) + n
    op = np.concatenate([np.zeros(n, np.uint8), op, [BY_NAME["add"].code]])
    args = np.concatenate([args, sinks])
    coeffs = np.concatenate([coeffs, np.full(len(sinks), 1.0 / max(len(sinks), 1))])
    offsets = np.concatenate([offsets, [len(args)]])
    outputs = [V] + list(range(V - 1, V - n_outputs, -1))
    return Circuit.from_arrays(
        [f"x{i}" for i in range(n)],
        op,
        offsets,
        args,
        coeffs,
        np.zeros(V + 1),
        outputs,
        [f"f{i}" for i in range(n_outputs)],
    )


def mlp_loss(samples: int = 1000, features: int = 10, hidden: int = 32, seed: int = 0) -> Circuit:
    """Squared loss of a one-hidden-layer sigmoid network; inputs are the weights.

    Data are constants folded into ``add`` coefficients: hidden unit k of sample s is
    σ(Σⱼ W1[k,j]·X[s,j]), the output σ(Σₖ W2[k]·hₖ), the loss Σₛ (yₛ − out)².
    """
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(samples, features))
    y = (rng.random(samples) < 0.5).astype(float)
    names = [f"W1[{k}][{j}]" for k in range(hidden) for j in range(features)]
    names += [f"W2[{k}]" for k in range(hidden)]
    r = Rows(names)
    one = r.const(1)
    w2 = features * hidden
    terms = []
    for s in range(samples):
        h = [
            r.gate("sigmoid", r.gate("add", *range(k * features, (k + 1) * features), coeffs=X[s]))
            for k in range(hidden)
        ]
        prods = [r.gate("mul", w2 + k, h[k]) for k in range(hidden)]
        out = r.gate("sigmoid", r.gate("add", *prods))
        terms.append(r.gate("square", r.gate("add", one, out, coeffs=[y[s], -1])))
    return r.circuit([r.gate("add", *terms)], ["loss"])
