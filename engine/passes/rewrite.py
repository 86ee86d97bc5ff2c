"""The simplifier's rewrite rules: one small function per identity, listed in ``RULES``.

A rule sees the gate being simplified, a ``Gate`` (op code, parameter, arguments already
numbered in the simplified circuit, add/mul arguments sorted by vertex), and the
circuit built so far, a ``Built``. It either changes the gate in place and returns
True, or returns False. A gate may become a constant (code ``CONST``, the value in
``param``) or a copy of one of its arguments (code ``COPY``). The sweep in
``simplify.py`` applies the rules of a gate's op until none matches, then interns the
gate into the built circuit, whose hash table (here too, since rules look constants up
in it) makes gates of equal content one vertex.

Rules only ever drop arguments or change the op: they never add a gate, a wire or a
constant vertex (a constant they need must already exist). So each source gate yields at
most one vertex with at most its own wires, and simplification never grows a circuit.

IEEE-754 convention, the usual one of algebraic simplifiers: x·0 → 0, and
a·x + b·x → (a+b)·x even when a+b = 0. Where x is ±inf or NaN the original circuit gives
NaN and the simplified one a number; elsewhere both compute the same function, up to
the rounding (or overflow) of constants combined in a different order.

``apply_rules`` (the dispatch on op codes) and ``evaluate_scalar`` (folding, from each
op's ``evaluate``) are generated from ``RULES`` and ``ops.OPS`` at import.
"""

from __future__ import annotations

from collections import namedtuple

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

from ..core import ops

# Nothing on the per-gate path allocates, so it is compiled without reference counting,
# which would otherwise cost a count per array of Gate and Built on every call
# (~0.5 µs per rule tried). Rules are inlined into the sweep; only the constructors
# (``alloc``) allocate.
njit = numba.njit(error_model="numpy", _nrt=False)
inline = numba.njit(error_model="numpy", _nrt=False, inline="always")
alloc = numba.njit(error_model="numpy")

CONST, ADD, MUL = ops.CONST.code, ops.ADD.code, ops.MUL.code
NEG, RECIP, SQUARE = (ops.BY_NAME[name].code for name in ("neg", "recip", "square"))
COPY = 255  # not an op: "this gate is its first argument"

# The gate being simplified; scalars live in 1-element arrays so that rules change them.
Gate = namedtuple("Gate", "code param n args coeffs")
# The simplified circuit so far (capacity: the source's vertices and wires) and its
# sharing table: open addressing, a slot holds a hash's high 32 bits over vertex + 1 in
# the low 32 (0: empty). ``size`` = [vertices, wires]; ``scratch`` turns a float to bits.
Built = namedtuple("Built", "op param offsets args coeffs table size scratch")


@alloc
def new_gate(capacity):
    capacity = max(capacity, 1)
    return Gate(
        np.zeros(1, np.int64),
        np.zeros(1),
        np.zeros(1, np.int64),
        np.zeros(capacity, np.int64),
        np.ones(capacity),
    )


@alloc
def new_built(vertices, wires, interned):
    """Room for ``vertices`` and ``wires``; a table for ``interned`` gates at most, kept
    at most two-thirds full (probes stay within a cache line or two; a smaller table
    misses the cache less)."""
    slots = 16
    while 2 * slots < 3 * interned:
        slots *= 2
    return Built(
        np.empty(vertices, np.uint8),
        np.empty(vertices),
        np.zeros(vertices + 1, np.int64),
        np.empty(max(wires, 1), np.int64),
        np.empty(max(wires, 1)),
        np.zeros(slots, np.uint64),
        np.zeros(2, np.int64),
        np.zeros(1),
    )


# -- the built circuit: adding a gate, finding one by content --------------------------
_PRIME = np.uint64(0x9E3779B97F4A7C15)
_SHIFT, _HIGH, _LOW = np.uint64(29), np.uint64(32), np.uint64(0xFFFFFFFF)


@inline
def _mix(h, x):
    h = (h ^ np.uint64(x)) * _PRIME
    return h ^ (h >> _SHIFT)


@inline
def content_hash(code, param_bits, args, coeffs, n):
    """64 bits of a gate's whole content: op, parameter, arguments, coefficients."""
    coeff_bits = coeffs.view(np.int64)
    h = _mix(_mix(np.uint64(n), code), param_bits)
    for i in range(n):
        h = _mix(_mix(h, args[i]), coeff_bits[i])
    return _mix(h, n)


@inline
def same_content(out, u, code, param_bits, args, coeffs, n):
    """Vertex u of ``out`` is this gate, bit for bit."""
    lo = out.offsets[u]
    if out.op[u] != code or out.offsets[u + 1] - lo != n:
        return False
    if out.param.view(np.int64)[u] != param_bits:
        return False
    out_bits, bits = out.coeffs.view(np.int64), coeffs.view(np.int64)
    for i in range(n):
        if out.args[lo + i] != args[i] or out_bits[lo + i] != bits[i]:
            return False
    return True


@inline
def find(out, code, param_bits, args, coeffs, n, h):
    """(the vertex with this content or -1, the table slot where it is or would go)."""
    mask = len(out.table) - 1
    slot = np.int64(h & np.uint64(mask))
    while out.table[slot] != 0:
        if (out.table[slot] ^ h) >> _HIGH == 0:
            u = np.int64(out.table[slot] & _LOW) - 1
            if same_content(out, u, code, param_bits, args, coeffs, n):
                return u, slot
        slot = (slot + 1) & mask
    return -1, slot


@inline
def append(out, code, param, args, coeffs, n):
    """A new vertex at the end of ``out`` (not entered in the sharing table)."""
    v, w = out.size[0], out.size[1]
    out.op[v], out.param[v] = code, param
    for i in range(n):
        out.args[w + i], out.coeffs[w + i] = args[i], coeffs[i]
    out.offsets[v + 1] = w + n
    out.size[0], out.size[1] = v + 1, w + n
    return v


@inline
def gate_hash(g):
    return content_hash(g.code[0], g.param.view(np.int64)[0], g.args, g.coeffs, g.n[0])


@inline
def intern(out, g, h):
    """The vertex of ``out`` that computes g (whose hash is h): an equal one if any, else
    a new one."""
    code, param_bits, n = g.code[0], g.param.view(np.int64)[0], g.n[0]
    u, slot = find(out, code, param_bits, g.args, g.coeffs, n, h)
    if u >= 0:
        return u
    v = append(out, code, g.param[0], g.args, g.coeffs, n)
    out.table[slot] = (h & ~_LOW) | np.uint64(v + 1)
    return v


@intrinsic
def prefetch(typingctx, array, index):
    """Start fetching ``array[index]`` into the cache (LLVM's prefetch: read, keep)."""

    def codegen(context, builder, signature, arguments):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, arguments[0])
        item = cgutils.get_item_pointer(context, builder, array_type, view, [arguments[1]])
        byte_pointer, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32])
        function = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0")
        builder.call(function, [builder.bitcast(item, byte_pointer), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen


@inline
def prefetch_slot(out, h):
    prefetch(out.table, np.int64(h & np.uint64(len(out.table) - 1)))


@njit
def find_const(out, value):
    """The built constant vertex of this value (bit for bit), or -1."""
    out.scratch[0] = value
    bits = out.scratch.view(np.int64)[0]
    h = content_hash(CONST, bits, out.args, out.coeffs, 0)
    return find(out, CONST, bits, out.args, out.coeffs, 0, h)[0]


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
def fold_constants(g, out):  # f(c₁, c₂, …) -> const
    n, code = g.n[0], g.code[0]
    for i in range(n):
        if not is_const(out, g.args[i]):
            return False
    if code == ADD:
        s = 0.0
        for i in range(n):
            s += g.coeffs[i] * out.param[g.args[i]]
        return constant(g, s)
    if code == MUL:
        s = 1.0
        for i in range(n):
            s *= out.param[g.args[i]]
        return constant(g, s)
    if n == 0:
        return False  # malformed (no argument): leave it alone
    a = out.param[g.args[0]]
    b = out.param[g.args[1]] if n > 1 else np.nan
    return constant(g, evaluate_scalar(code, a, b, g.param[0]))


@inline
def combine_like_terms(g, out):  # a·x + b·x -> (a+b)·x
    k = 0
    for i in range(g.n[0]):
        if k > 0 and g.args[i] == g.args[k - 1]:
            g.coeffs[k - 1] += g.coeffs[i]
        else:
            g.args[k], g.coeffs[k] = g.args[i], g.coeffs[i]
            k += 1
    changed = k < g.n[0]
    g.n[0] = k
    return changed


@inline
def drop_zero_terms(g, out):  # 0·x + y -> y   (0·const is merge_const_terms' business)
    k = 0
    for i in range(g.n[0]):
        if g.coeffs[i] != 0.0 or is_const(out, g.args[i]):
            g.args[k], g.coeffs[k] = g.args[i], g.coeffs[i]
            k += 1
    changed = k < g.n[0]
    g.n[0] = k
    return changed


@inline
def merge_const_terms(g, out):  # x + a·c₁ + b·c₂ -> x + c where c = a·c₁ + b·c₂; x + 0 -> x
    count, s = 0, 0.0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            count += 1
            s += g.coeffs[i] * out.param[g.args[i]]
    if count == 0 or (count == 1 and s != 0.0):
        return False
    if s == 0.0:
        drop_const_args(g, out)
        return True
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
def zero_factor(g, out):  # x·0 -> 0   (the product of the constants: 0·inf stays NaN)
    zero, p = False, 1.0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            p *= out.param[g.args[i]]
            zero = zero or out.param[g.args[i]] == 0.0
    return constant(g, p) if zero else False


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
def minus_zero(g, out):  # x - 0 -> x
    return copy_of(g, g.args[0]) if is_value(out, g.args[1], 0.0) else False


@inline
def zero_minus(g, out):  # 0 - x -> -x
    if is_value(out, g.args[0], 0.0):
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
def power_zero(g, out):  # x^0 -> 1   (exact in IEEE: pow(nan, 0) = 1)
    return constant(g, 1.0) if g.param[0] == 0.0 else False


@inline
def power_one(g, out):  # x^1 -> x
    return copy_of(g, g.args[0]) if g.param[0] == 1.0 else False


@inline
def power_two(g, out):  # x^2 -> square(x)
    return become(g, SQUARE, 1) if g.param[0] == 2.0 else False


@inline
def power_minus_one(g, out):  # x^-1 -> recip(x)
    return become(g, RECIP, 1) if g.param[0] == -1.0 else False


@inline
def even_of_neg(g, out):  # f(-x) -> f(x) for an even f
    if out.op[g.args[0]] != NEG:
        return False
    g.args[0] = first_arg(out, g.args[0])
    return True


# Tried in this order, until none matches; "*" rules come first, for every gate op.
RULES = [
    ("*", fold_constants),  # f(c₁, c₂, …) -> const
    ("add", combine_like_terms),  # a·x + b·x -> (a+b)·x
    ("add", drop_zero_terms),  # 0·x + y -> y
    ("add", merge_const_terms),  # x + a·c₁ + b·c₂ -> x + c;  x + 0 -> x
    ("add", lone_unit_term),  # 1·x -> x
    ("mul", zero_factor),  # x·0 -> 0
    ("mul", drop_unit_factors),  # x·1 -> x
    ("mul", merge_const_factors),  # x·y·c₁·c₂ -> x·y·c
    ("mul", lone_factor),  # Π(x) -> x
    ("mul", scaled_term),  # c·x -> add(x; c)
    ("mul", self_product),  # x·x -> square(x)
    ("neg", double_negation),  # -(-x) -> x
    ("sub", minus_zero),  # x - 0 -> x
    ("sub", zero_minus),  # 0 - x -> -x
    ("div", over_one),  # x / 1 -> x
    ("div", one_over),  # 1 / x -> recip(x)
    ("pow", power_zero),  # x^0 -> 1
    ("pow", power_one),  # x^1 -> x
    ("pow", power_two),  # x^2 -> square(x)
    ("pow", power_minus_one),  # x^-1 -> recip(x)
    ("square", even_of_neg),  # (-x)² -> x²
    ("abs", even_of_neg),  # |-x| -> |x|
]


# -- generated from the op table and RULES ---------------------------------------------
def _generate() -> tuple[str, dict]:
    namespace = {"np": np}
    evaluate = ["def evaluate_scalar(code, a, b, p):"]
    for op in ops.OPS:
        if op.evaluate is not None:
            namespace[f"_eval_{op.name}"] = njit(op.evaluate)
            operands = ["a", "b"][: op.min_args] + (["p"] if op.param is not None else [])
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
evaluate_scalar = njit(_namespace["evaluate_scalar"])  # (code, a, b, p) -> float
apply_rules = inline(_namespace["apply_rules"])  # (g, out) -> True if a rule matched
