"""The op table's derivative rules that take more than a line, in the circuit language.

Every function here builds gates (``templates.py``), never numbers, so a gradient circuit
can be differentiated again. Budget (docs/engine.md, Theorem 3): a rule emits at most one
gate per argument plus one per gate, and a partial keeps at most ``MAX_FACTORS`` factors
unmaterialised; ``tests/engine/test_op_table.py`` holds every rule to it.
"""

from __future__ import annotations

import math

import numpy as np

from .circuit import INDEX
from .templates import CODES, MAX_FACTORS, FactorTerms, apply, constant, product

LN2, LN10 = math.log(2.0), math.log(10.0)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
TINY = 5e-324  # the smallest subnormal: max(h, TINY) is h for every h > 0


def op(name: str):
    """``op("cos")(a)``: one gate of that op per element."""
    return lambda *args, param=0.0: apply(name, *args, param=param)


cos, sin, cosh, sinh, exp, log = (op(n) for n in ("cos", "sin", "cosh", "sinh", "exp", "log"))
recip, step, sign, atanh, hypot = (op(n) for n in ("recip", "step", "sign", "atanh", "hypot"))


def power(a, p):
    return apply("pow", a, param=p)


def leave_one_out(factors, code: str = "mul"):
    """Π_{j≠i} factors[j] for every i, each a term of at most ``MAX_FACTORS`` factors,
    with at most k − 2 gates of ``code`` (``mul``, or ``mul0`` for strong products).

    Up to ``MAX_FACTORS + 1`` factors, the others are the term. Beyond, the factors go in
    pairs; prefix products P (pairs 0..j) and suffix products S (pairs j..) are chained
    one gate per pair, and the term of a factor in pair j is P[j−1]·S[j+1]·its partner:
    O(k) gates and wires where k products of k − 1 factors would take k² wires. No
    division, so zeros among the factors are no special case. Each chain is emitted as one
    batch (its vertex numbers are known before it is emitted), and the terms come back as
    one ``FactorTerms``: the cost in Python does not grow with k.
    """
    k = len(factors)
    if k - 1 <= MAX_FACTORS:
        factors = list(factors)
        return [product(factors[:i] + factors[i + 1 :]) for i in range(k)]
    E, G = factors[0].E, len(factors[0])
    # (G, k): the argument matrix of a rule's ``args``, or the columns of a list of Vecs
    A = getattr(factors, "matrix", None)
    if A is None:
        A = np.column_stack([f.ids for f in factors])
    last = (k + 1) // 2 - 1  # pairs 0..last; pair last is a single factor when k is odd
    prefix = np.empty((G, last), INDEX)  # prefix[:, j] = P[j] = Π pairs 0..j, j < last
    prefix[:, 0] = E.emit(CODES[code], [A[:, 0], A[:, 1]])
    if last > 1:  # P[j] = P[j−1]·pair j, one batch: row (j − 1)·G + g
        ids = E.next + np.arange((last - 1) * G, dtype=INDEX).reshape(last - 1, G).T
        prefix[:, 1:] = ids
        previous = np.concatenate([prefix[:, :1], ids[:, :-1]], axis=1)
        pairs = A[:, 2 : 2 * last].reshape(G, last - 1, 2)
        E.emit(
            CODES[code], [previous.T.ravel(), pairs[:, :, 0].T.ravel(), pairs[:, :, 1].T.ravel()]
        )
    suffix = np.empty((G, last + 1), INDEX)  # suffix[:, j] = S[j] = Π pairs j..last, j ≥ 1
    suffix[:, 0] = -1
    odd = k % 2 == 1
    suffix[:, last] = A[:, k - 1] if odd else E.emit(CODES[code], [A[:, k - 2], A[:, k - 1]])
    if last > 1:  # S[j] = pair j·S[j+1] for j = last − 1 .. 1, one batch: row (last−1−j)·G + g
        ids = E.next + np.arange((last - 1) * G, dtype=INDEX).reshape(last - 1, G).T
        suffix[:, last - 1 : 0 : -1] = ids
        following = suffix[:, last:1:-1]
        js = np.arange(last - 1, 0, -1)
        E.emit(CODES[code], [A[:, 2 * js].T.ravel(), A[:, 2 * js + 1].T.ravel(),
                             following.T.ravel()])  # fmt: skip
    pair = np.arange(k) // 2
    partner = np.arange(k) ^ 1
    has_partner = partner < k
    before = np.where(pair > 0, prefix[:, np.maximum(pair - 1, 0)], -1)  # (G, k)
    after = np.where(pair < last, suffix[:, np.minimum(pair + 1, last)], -1)
    mate = np.where(has_partner, A[:, np.minimum(partner, k - 1)], -1)
    F = np.stack([before, after, mate], axis=2)
    F = -np.sort(-F, axis=2)  # the factors first, the -1 after them
    if MAX_FACTORS > 3:
        F = np.concatenate([F, np.full((G, k, MAX_FACTORS - 3), -1, INDEX)], axis=2)
    return FactorTerms(1.0, F)


# -- rules: rule(g, a, ..., p, c) -> one partial per argument ---------------------------
def mul_partials(g, args, p, c):  # ∂/∂aᵢ Π a = Π_{j≠i} aⱼ
    return leave_one_out(args, "mul")


def mul0_partials(g, args, p, c):  # the same, with strong products all the way
    return leave_one_out(args, "mul0")


def div_partials(g, a, b, p, c):
    r = recip(b)  # shared by both partials: 1/b and -(a/b)/b
    return [r, -g * r]


def max_partials(g, a, b, p, c):  # b wins only where b > a: a tie goes to a; NaN stays NaN
    t = step(apply("sub", b, a))
    return [1.0 - t, t]


def min_partials(g, a, b, p, c):  # b wins only where b < a
    t = step(apply("sub", a, b))
    return [1.0 - t, t]


def where_partials(g, cond, a, b, p, c):  # the chosen branch's derivative only
    one, zero = constant(a, 1.0), constant(a, 0.0)
    return [0.0, apply("where", cond, one, zero), apply("where", cond, zero, one)]


def hypot_partials(g, a, b, p, c):  # a/h, b/h; at (0, 0) both 0 (h = 0 < TINY)
    h = apply("max", g, constant(g, TINY))
    return [apply("div", a, h), apply("div", b, h)]


def atan2_partials(g, y, x, p, c):  # x/(x² + y²), −y/(x² + y²) as x·r·r, r = 1/hypot(y, x):
    r = recip(hypot(y, x))  # x·r lies in [−1, 1], so only a true result over- or underflows
    return [x * r * r, -y * r * r]


def powv_partials(g, a, b, p, c):  # b·a^(b−1), a^b·ln a
    return [b * apply("powv", a, b - 1.0), g * log(a)]


def asin_partials(g, a, p, c):  # 1/√(1 − a²) = cosh(atanh a): exact at ±1 (∞), no cancellation
    return [cosh(atanh(a))]


def acos_partials(g, a, p, c):
    return [-cosh(atanh(a))]


def atan_partials(g, a, p, c):  # 1/(1 + a²) = (1/hypot(a, 1))²
    r = recip(hypot(a, constant(a, 1.0)))
    return [r * r]


def atanh_partials(g, a, p, c):  # 1/(1 − a²) = cosh²(atanh a)
    h = cosh(g)
    return [h * h]


def erf_partials(g, a, p, c):  # 2/√π · exp(−a²), −a² as one mul with the constant −1
    return [TWO_OVER_SQRT_PI * exp(apply("mul", a, a, constant(a, -1.0)))]
