"""The simplifier's rewrite rules: one small function per identity, listed in ``RULES``.

A rule sees the gate being simplified, a ``Gate`` (op code, parameter, arguments already
numbered in the simplified circuit, the two arguments of a 2-argument add/mul sorted by
vertex), and the circuit built so far, a ``Built`` (``interning.py``). It either changes
the gate in place and returns True, or returns False. A gate may become a constant (code
``CONST``, the value in ``param``) or a copy of one of its arguments (code ``COPY``).
The sweep in ``simplify.py`` applies the rules of a gate's op until none matches, then
interns the gate into the built circuit, whose hash table makes gates of equal content
one vertex.

Rules only ever drop arguments or change the op: they never add a gate, a wire or a
constant vertex (a constant they need must already exist). So each source gate yields at
most one vertex with at most its own wires, and simplification never grows a circuit.

IEEE-754 exactness: every rule gives the same bits as the gate it rewrites, at every
point — finite or not, the sign of zero and NaN included (not a NaN's payload). The
evaluation order of ``add``/``mul`` is part of what a gate computes (docs/conventions.md:
from −0.0 or 1, constant arguments first, then the others in argument order), so a rule
may merge constants — they are folded first, in order, anyway — but not reorder or
merge other terms, whose rounding would change. Identities that fail somewhere were
removed or narrowed, each noted where it was: x·0 → 0 (−0 for x < 0; NaN at ±∞),
0·y + x → x and x + (+0) → x (−0 + +0 is +0), a·x + b·x → (a+b)·x (rounding),
0 − x → −x (+0 − +0 is +0, −(+0) is −0), x − (−0) → x, x² → square(x) and
x⁻¹ → recip(x) (libm's pow is not correctly rounded), and the sorting of 3 or more
arguments (rounding). ``tests/engine/test_simplify_ieee.py`` checks every rule bit for
bit at ±0, ±1, ±∞, NaN, tiny and huge values.

``apply_rules`` (the dispatch on op codes) and ``evaluate_scalar`` (folding, from each
op's ``evaluate``) are generated from ``RULES`` and ``ops.OPS`` at import.
"""

from __future__ import annotations

import math

import numpy as np

from ..core import ops
from .interning import find_const, inline, njit

CONST = ops.CONST.code
NEG, SQUARE, RECIP, ADD = (ops.BY_NAME[name].code for name in ("neg", "square", "recip", "add"))
COPY = 255  # not an op: "this gate is its first argument"
_KIND = {ops.SUM: 1, ops.PRODUCT: 2, ops.STRONG_PRODUCT: 3}
REDUCTION = np.array([_KIND.get(op.reduction, 0) for op in ops.OPS], np.int64)  # by code
SUM, PRODUCT, STRONG = 1, 2, 3


# -- what rules say --------------------------------------------------------------------
@inline
def constant(g, value):
    g.code[0], g.param[0], g.n[0] = CONST, value, 0
    return True


@inline
def copy_of(g, v):
    g.code[0], g.args[0], g.n[0] = COPY, v, 1
    return True


@inline
def become(g, code, n):
    """Op ``code`` (no parameter, no coefficients) on the first n arguments."""
    g.code[0], g.param[0], g.n[0] = code, 0.0, n
    for i in range(n):
        g.coeffs[i] = 1.0
    return True


@inline
def is_const(out, v):
    return out.op[v] == CONST


@inline
def is_value(out, v, value):
    return out.op[v] == CONST and out.param[v] == value


@inline
def is_zero(out, v, negative):
    """v is the constant −0.0 (``negative``) or +0.0, bit for bit."""
    return is_value(out, v, 0.0) and (math.copysign(1.0, out.param[v]) < 0.0) == negative


@inline
def first_arg(out, v):
    return out.args[out.offsets[v]]


@inline
def drop_const_args(g, out):
    k = 0
    for i in range(g.n[0]):
        if not is_const(out, g.args[i]):
            g.args[k], g.coeffs[k] = g.args[i], g.coeffs[i]
            k += 1
    g.n[0] = k


@inline
def insert_arg(g, v, coeff):
    """Argument v (with its coefficient) at its sorted place."""
    i = g.n[0]
    while i > 0 and g.args[i - 1] > v:
        g.args[i], g.coeffs[i] = g.args[i - 1], g.coeffs[i - 1]
        i -= 1
    g.args[i], g.coeffs[i] = v, coeff
    g.n[0] += 1


# -- the rules -------------------------------------------------------------------------
@inline
def fold_constants(g, out):  # f(c₁, c₂, …) -> const, computed as evaluation does
    n, code = g.n[0], g.code[0]
    if n == 0:
        return False  # malformed (no argument): leave it alone
    for i in range(n):
        if not is_const(out, g.args[i]):
            return False
    kind = REDUCTION[code]
    if kind == SUM:
        s = -0.0
        for i in range(n):
            s += g.coeffs[i] * out.param[g.args[i]]
        return constant(g, s)
    if kind != 0:
        p, zero = 1.0, False
        for i in range(n):
            p *= out.param[g.args[i]]
            zero = zero or out.param[g.args[i]] == 0.0
        return constant(g, 0.0 if kind == STRONG and p != p and zero else p)
    a = out.param[g.args[0]]
    b = out.param[g.args[1]] if n > 1 else np.nan
    c = out.param[g.args[2]] if n > 2 else np.nan
    return constant(g, evaluate_scalar(code, a, b, c, g.param[0]))


@inline
def double_term(g, out):  # x + x -> 2·x   (only the two terms, coefficients both ±1)
    if g.n[0] != 2 or g.args[0] != g.args[1] or g.coeffs[0] != g.coeffs[1]:
        return False
    if g.coeffs[0] != 1.0 and g.coeffs[0] != -1.0:
        return False
    g.n[0], g.coeffs[0] = 1, 2.0 * g.coeffs[0]
    return True


@inline
def merge_const_terms(g, out):  # x + a·c₁ + b·c₂ -> x + c where c = −0 + a·c₁ + b·c₂; x + −0 -> x
    count, s = 0, -0.0  # the constants' sum, as evaluation folds them: first, from −0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            count += 1
            s += g.coeffs[i] * out.param[g.args[i]]
    if count == 0:
        return False
    if s == 0.0 and math.copysign(1.0, s) < 0.0:  # −0 is where the sum starts anyway
        drop_const_args(g, out)
        return True
    if count == 1:
        return False
    # the sum as one term: 1·c for an existing constant c = s, else q·cᵢ for one of the
    # terms' constants where q = s/cᵢ is exact; no match if neither exists
    c, q = find_const(out, s), 1.0
    for i in range(g.n[0]):
        if c >= 0:
            break
        ci = out.param[g.args[i]]
        if is_const(out, g.args[i]) and ci != 0.0 and np.isfinite(s / ci) and s / ci * ci == s:
            c, q = g.args[i], s / ci
    if c < 0:
        return False
    drop_const_args(g, out)
    insert_arg(g, c, q)
    return True


@inline
def lone_unit_term(g, out):  # 1·x -> x
    return copy_of(g, g.args[0]) if g.n[0] == 1 and g.coeffs[0] == 1.0 else False


@inline
def drop_unit_factors(g, out):  # x·1 -> x
    k = 0
    for i in range(g.n[0]):
        if not is_value(out, g.args[i], 1.0):
            g.args[k] = g.args[i]
            k += 1
    changed = k < g.n[0]
    g.n[0] = k
    return changed


@inline
def merge_const_factors(g, out):  # x·y·c₁·c₂ -> x·y·c where c = c₁·c₂ exists (or is 1)
    count, p = 0, 1.0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            count += 1
            p *= out.param[g.args[i]]
    if count < 2:
        return False
    c = -1 if p == 1.0 else find_const(out, p)
    if p != 1.0 and c < 0:
        return False
    drop_const_args(g, out)
    if c >= 0:
        insert_arg(g, c, 1.0)
    return True


@inline
def lone_factor(g, out):  # Π(x) -> x
    return copy_of(g, g.args[0]) if g.n[0] == 1 else False


@inline
def scaled_term(g, out):  # c·x -> add(x; coeff c)
    if g.n[0] != 2 or is_const(out, g.args[0]) == is_const(out, g.args[1]):
        return False
    i = 0 if is_const(out, g.args[0]) else 1
    c, x = out.param[g.args[i]], g.args[1 - i]
    become(g, ADD, 1)
    g.args[0], g.coeffs[0] = x, c
    return True


@inline
def self_product(g, out):  # x·x -> square(x)
    return become(g, SQUARE, 1) if g.n[0] == 2 and g.args[0] == g.args[1] else False


@inline
def double_negation(g, out):  # -(-x) -> x
    return copy_of(g, first_arg(out, g.args[0])) if out.op[g.args[0]] == NEG else False


@inline
def minus_zero(g, out):  # x - (+0) -> x   (x − (−0) is +0 at x = −0)
    return copy_of(g, g.args[0]) if is_zero(out, g.args[1], False) else False


@inline
def zero_minus(g, out):  # (−0) - x -> -x   ((+0) − x is +0 at x = +0, −x is −0)
    if is_zero(out, g.args[0], True):
        g.args[0] = g.args[1]
        return become(g, NEG, 1)
    return False


@inline
def over_one(g, out):  # x / 1 -> x
    return copy_of(g, g.args[0]) if is_value(out, g.args[1], 1.0) else False


@inline
def one_over(g, out):  # 1 / x -> recip(x)
    if is_value(out, g.args[0], 1.0):
        g.args[0] = g.args[1]
        return become(g, RECIP, 1)
    return False


@inline
def power_zero(g, out):  # x^0 -> 1   (pow(x, 0) is 1 for every x, NaN and ±∞ included)
    return constant(g, 1.0) if g.param[0] == 0.0 else False


@inline
def power_one(g, out):  # x^1 -> x
    return copy_of(g, g.args[0]) if g.param[0] == 1.0 else False


@inline
def even_of_neg(g, out):  # f(-x) -> f(x) for an even f
    if out.op[g.args[0]] != NEG:
        return False
    g.args[0] = first_arg(out, g.args[0])
    return True


@inline
def constant_condition(g, out):  # where(c₀, a, b) -> a or b for a constant c₀ (not NaN)
    c = out.param[g.args[0]]
    if not is_const(out, g.args[0]) or c != c:
        return False
    return copy_of(g, g.args[1] if c != 0.0 else g.args[2])


# Tried in this order, until none matches; "*" rules come first, for every gate op.
RULES = [
    ("*", fold_constants),  # f(c₁, c₂, …) -> const
    ("add", double_term),  # x + x -> 2·x
    ("add", merge_const_terms),  # x + a·c₁ + b·c₂ -> x + c;  x + (−0) -> x
    ("add", lone_unit_term),  # 1·x -> x
    ("mul", drop_unit_factors),  # x·1 -> x
    ("mul", merge_const_factors),  # x·y·c₁·c₂ -> x·y·c
    ("mul", lone_factor),  # Π(x) -> x
    ("mul", scaled_term),  # c·x -> add(x; c)
    ("mul", self_product),  # x·x -> square(x)
    ("mul0", drop_unit_factors),  # x·1 -> x
    ("mul0", lone_factor),  # Π(x) -> x
    ("mul0", self_product),  # x·x -> square(x)
    ("neg", double_negation),  # -(-x) -> x
    ("sub", minus_zero),  # x - (+0) -> x
    ("sub", zero_minus),  # (−0) - x -> -x
    ("div", over_one),  # x / 1 -> x
    ("div", one_over),  # 1 / x -> recip(x)
    ("pow", power_zero),  # x^0 -> 1
    ("pow", power_one),  # x^1 -> x
    ("square", even_of_neg),  # (-x)² -> x²
    ("abs", even_of_neg),  # |-x| -> |x|
    ("where", constant_condition),  # where(c₀, a, b) -> a or b
]


# -- generated from the op table and RULES ---------------------------------------------
def _generate() -> tuple[str, dict]:
    namespace = {"np": np}
    evaluate = ["def evaluate_scalar(code, a, b, c, p):"]
    for op in ops.OPS:
        if op.evaluate is not None:
            namespace[f"_eval_{op.name}"] = njit(op.evaluate)
            operands = ["a", "b", "c"][: op.min_args] + (["p"] if op.param is not None else [])
            evaluate.append(f"    if code == {op.code}:  # {op.name}")
            evaluate.append(f"        return _eval_{op.name}({', '.join(operands)})")
    evaluate.append("    return np.nan")

    unknown = {key for key, _ in RULES} - {"*"} - set(ops.BY_NAME)
    if unknown:
        raise ValueError(f"RULES name ops the table lacks: {sorted(unknown)}")
    dispatch = ["def apply_rules(g, out):"]

    def tries(rules, indent):
        for rule in rules:
            namespace[rule.__name__] = rule
            dispatch.append(f"{indent}if {rule.__name__}(g, out):")
            dispatch.append(f"{indent}    return True")

    tries([rule for key, rule in RULES if key == "*"], "    ")
    dispatch.append("    code = g.code[0]")
    for op in ops.GATE_OPS:
        rules = [rule for key, rule in RULES if key == op.name]
        if rules:
            dispatch.append(f"    if code == {op.code}:  # {op.name}")
            tries(rules, "        ")
    dispatch.append("    return False")
    return "\n".join(evaluate + [""] + dispatch) + "\n", namespace


GENERATED_SOURCE, _namespace = _generate()
exec(compile(GENERATED_SOURCE, f"<generated by {__name__}>", "exec"), _namespace)  # noqa: S102
evaluate_scalar = njit(_namespace["evaluate_scalar"])  # (code, a, b, c, p) -> float
apply_rules = inline(_namespace["apply_rules"])  # (g, out) -> True if a rule matched
