"""The simplifier's rewrite rules and the one sweep that applies them.

The sweep (``make_sweep``) reads the source circuit in vertex order. Each gate is loaded
into a ``Gate`` (op code, parameter, arguments already mapped to the simplified circuit,
add/mul arguments sorted), rewritten by the rules of its op until none matches, then
either dropped in favour of an existing vertex (it became a copy of one) or interned
into the ``Built`` circuit, where a hash table makes equal gates one vertex.

A rule looks at the gate and at the gates built so far; it changes the gate in place
and returns True, or returns False. A gate may become a constant (code ``CONST``, the
value in ``param``) or a copy of one of its arguments (code ``COPY``). Rules only ever
drop arguments or change the op: they never add a gate, a wire or a constant vertex, so
every source gate yields at most one vertex with at most its own wires, and
simplification can never grow a circuit (Theorem 3's bound survives it).

IEEE-754 convention: like every algebraic simplifier, the rules treat x·0 as 0 and
a·x + b·x as (a+b)·x. Where x is ±inf or NaN the unsimplified circuit yields NaN and the
simplified one a number; everywhere else the two compute the same function (up to the
rounding of constants folded in a different order).

``RULES`` below is the list; the dispatch on op codes (``apply_rules``) and the scalar
evaluation used for folding (``evaluate_scalar``) are generated from it and from
``ops.OPS`` at import.
"""

from __future__ import annotations

import hashlib
from collections import namedtuple

import numba
import numpy as np

from . import ops

# The per-gate path never allocates, so it is compiled without reference counting: a
# call would otherwise count references to every array of the Gate and Built tuples
# (~0.5 µs per rule tried). Only the sweep and the constructors allocate.
njit = numba.njit(error_model="numpy", _nrt=False)
alloc = numba.njit(error_model="numpy")

CONST, ADD, MUL = ops.CONST.code, ops.ADD.code, ops.MUL.code
NEG, SUB, DIV = (ops.BY_NAME[n].code for n in ("neg", "sub", "div"))
RECIP, SQUARE = ops.BY_NAME["recip"].code, ops.BY_NAME["square"].code
COPY = 255  # not an op: "this gate is its first argument"
MAX_REWRITES = 64  # per gate; every rule strictly shrinks the gate, so this never binds

HAS_PARAM = np.array([op.param is not None for op in ops.OPS])
HAS_COEFFS = np.array([op.coeffs for op in ops.OPS])
COMMUTATIVE = np.array([op.reduction is not None for op in ops.OPS])

# The gate under rewrite. Scalars live in 1-element arrays so rules can change them;
# the *_bits fields are int64 views of the float fields, for hashing and equality.
Gate = namedtuple("Gate", "code param param_bits n args coeffs coeff_bits")
# The simplified circuit so far (capacity = the source's), plus its sharing table:
# ``table`` maps a gate hash (open addressing) to a vertex; ``size`` = [vertices, wires];
# ``probe`` is a Gate for looking constants up by value.
Built = namedtuple(
    "Built", "op param param_bits offsets args coeffs coeff_bits hashes table size probe"
)


# -- the gate under rewrite ------------------------------------------------------------
@alloc
def new_gate(capacity):
    param, coeffs = np.zeros(1), np.ones(max(capacity, 1))
    return Gate(np.zeros(1, np.int64), param, param.view(np.int64), np.zeros(1, np.int64),
                np.zeros(max(capacity, 1), np.int64), coeffs, coeffs.view(np.int64))


@njit
def load(g, v, op, offsets, args, coeffs, param, remap):
    """Source gate v into g: arguments remapped, fields its op lacks normalised, and the
    arguments of add/mul sorted (stably, by vertex) so that a+b and b+a look alike."""
    code = op[v]
    g.code[0] = code
    g.param[0] = param[v] if HAS_PARAM[code] else 0.0
    n = 0
    for w in range(offsets[v], offsets[v + 1]):
        g.args[n] = remap[args[w]]
        g.coeffs[n] = coeffs[w] if HAS_COEFFS[code] else 1.0
        n += 1
    g.n[0] = n
    if COMMUTATIVE[code] and n > 32:
        sort_long(g.args, g.coeffs, n)
    elif COMMUTATIVE[code]:  # insertion sort: gates are small
        for i in range(1, n):
            a, c = g.args[i], g.coeffs[i]
            j = i - 1
            while j >= 0 and g.args[j] > a:
                g.args[j + 1], g.coeffs[j + 1] = g.args[j], g.coeffs[j]
                j -= 1
            g.args[j + 1], g.coeffs[j + 1] = a, c


@njit
def sort_long(args, coeffs, n):
    """Heap sort by vertex, in place: a long sum (a gradient's many terms, say)."""
    for root in range(n // 2 - 1, -1, -1):
        sift_down(args, coeffs, root, n)
    for end in range(n - 1, 0, -1):
        args[0], args[end] = args[end], args[0]
        coeffs[0], coeffs[end] = coeffs[end], coeffs[0]
        sift_down(args, coeffs, 0, end)


@njit
def sift_down(args, coeffs, root, end):
    while 2 * root + 1 < end:
        child = 2 * root + 1
        if child + 1 < end and args[child + 1] > args[child]:
            child += 1
        if args[root] >= args[child]:
            return
        args[root], args[child] = args[child], args[root]
        coeffs[root], coeffs[child] = coeffs[child], coeffs[root]
        root = child


@njit
def constant(g, value):
    g.code[0] = CONST
    g.param[0] = value
    g.n[0] = 0
    return True


@njit
def copy_of(g, v):
    g.code[0] = COPY
    g.args[0] = v
    g.n[0] = 1
    return True


@njit
def become(g, code, n):
    """Same first n arguments, new op without parameter or coefficients."""
    g.code[0] = code
    g.param[0] = 0.0
    g.n[0] = n
    for i in range(n):
        g.coeffs[i] = 1.0
    return True


@njit
def is_const(out, v):
    return out.op[v] == CONST


@njit
def first_arg(out, v):
    return out.args[out.offsets[v]]


@njit
def keep_nonconst_args(g, out):
    """Drop the const arguments; returns how many remain."""
    k = 0
    for i in range(g.n[0]):
        if not is_const(out, g.args[i]):
            g.args[k], g.coeffs[k] = g.args[i], g.coeffs[i]
            k += 1
    g.n[0] = k
    return k


@njit
def insert_term(g, v, coeff):
    """Add the term coeff·v at its sorted place."""
    i = g.n[0]
    while i > 0 and g.args[i - 1] > v:
        g.args[i], g.coeffs[i] = g.args[i - 1], g.coeffs[i - 1]
        i -= 1
    g.args[i], g.coeffs[i] = v, coeff
    g.n[0] += 1


# -- the built circuit and its sharing table -------------------------------------------
_PRIME = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(29)


@njit
def _mix(h, x):
    h = (h ^ np.uint64(x)) * _PRIME
    return h ^ (h >> _SHIFT)


@njit
def gate_hash(g):
    """64 bits of the gate's whole content (op, parameter, arguments, coefficients)."""
    n = g.n[0]
    h = _mix(_mix(np.uint64(n), g.code[0]), g.param_bits[0])
    for i in range(n):
        h = _mix(_mix(h, g.args[i]), g.coeff_bits[i])
    return _mix(h, n)


@alloc
def new_built(vertices, wires):
    slots = 16
    while slots < 2 * vertices:
        slots *= 2
    param, coeffs = np.empty(vertices), np.empty(max(wires, 1))
    offsets = np.zeros(vertices + 1, np.int64)
    probe = new_gate(0)  # a constant looked up by value
    probe.code[0] = CONST
    return Built(np.empty(vertices, np.uint8), param, param.view(np.int64), offsets,
                 np.empty(max(wires, 1), np.int64), coeffs, coeffs.view(np.int64),
                 np.empty(vertices, np.uint64), np.full(slots, -1, np.int64),
                 np.zeros(2, np.int64), probe)


@njit
def same_gate(out, u, g, h):
    n = g.n[0]
    lo = out.offsets[u]
    if out.hashes[u] != h or out.op[u] != g.code[0] or out.offsets[u + 1] - lo != n:
        return False
    if out.param_bits[u] != g.param_bits[0]:
        return False
    for i in range(n):
        if out.args[lo + i] != g.args[i] or out.coeff_bits[lo + i] != g.coeff_bits[i]:
            return False
    return True


@njit
def find(out, g, h):
    """(vertex equal to g or -1, the table slot where it is or would go)."""
    mask = np.uint64(len(out.table) - 1)
    slot = np.int64(h & mask)
    while out.table[slot] >= 0:
        if same_gate(out, out.table[slot], g, h):
            return out.table[slot], slot
        slot = (slot + 1) & (len(out.table) - 1)
    return -1, slot


@njit
def append(out, code, param, args, coeffs, n):
    """A new vertex at the end of ``out``, outside the sharing table; its number."""
    v, w = out.size[0], out.size[1]
    out.op[v] = code
    out.param[v] = param
    for i in range(n):
        out.args[w + i] = args[i]
        out.coeffs[w + i] = coeffs[i]
    out.offsets[v + 1] = w + n
    out.size[0], out.size[1] = v + 1, w + n
    return v


@njit
def intern(out, g):
    """The vertex of ``out`` computing g: an equal one if there is, else a new one."""
    h = gate_hash(g)
    u, slot = find(out, g, h)
    if u >= 0:
        return u
    v = append(out, g.code[0], g.param[0], g.args, g.coeffs, g.n[0])
    out.hashes[v] = h
    out.table[slot] = v
    return v


@njit
def find_const(out, value):
    """The built constant vertex of this value (bit for bit), or -1."""
    out.probe.param[0] = value
    return find(out, out.probe, gate_hash(out.probe))[0]


# -- the rules -------------------------------------------------------------------------
@njit
def fold_constants(g, out):  # f(c₁, c₂, …) -> const
    n = g.n[0]
    for i in range(n):
        if not is_const(out, g.args[i]):
            return False
    code = g.code[0]
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
    a = out.param[g.args[0]]
    b = out.param[g.args[1]] if n > 1 else np.nan
    return constant(g, evaluate_scalar(code, a, b, g.param[0]))  # a call, on scalars only


@njit
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


@njit
def drop_zero_terms(g, out):  # 0·x + y -> y   (constants are merge_const_terms' business)
    k = 0
    for i in range(g.n[0]):
        if g.coeffs[i] != 0.0 or is_const(out, g.args[i]):
            g.args[k], g.coeffs[k] = g.args[i], g.coeffs[i]
            k += 1
    changed = k < g.n[0]
    g.n[0] = k
    return changed


@njit
def merge_const_terms(g, out):  # x + a·c₁ + b·c₂ -> x + 1·c, c = a·c₁ + b·c₂; x + 0 -> x
    count, s = 0, 0.0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            count += 1
            s += g.coeffs[i] * out.param[g.args[i]]
    if count == 0 or (count == 1 and s != 0.0):
        return False
    if s == 0.0:
        keep_nonconst_args(g, out)
        return True
    # one term for the sum: an existing constant c, else q·cᵢ for an exact q = s/cᵢ;
    # never a new constant vertex (that could grow the circuit)
    c, q = find_const(out, s), 1.0
    if c < 0:
        for i in range(g.n[0]):
            if is_const(out, g.args[i]):
                ci = out.param[g.args[i]]
                if ci != 0.0 and np.isfinite(s / ci) and (s / ci) * ci == s:
                    c, q = g.args[i], s / ci
                    break
    if c < 0:
        return False
    keep_nonconst_args(g, out)
    insert_term(g, c, q)
    return True


@njit
def lone_unit_term(g, out):  # 1·x -> x
    if g.n[0] == 1 and g.coeffs[0] == 1.0:
        return copy_of(g, g.args[0])
    return False


@njit
def zero_factor(g, out):  # x·0 -> 0   (0·inf among the constants still gives NaN)
    zero, p = False, 1.0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            p *= out.param[g.args[i]]
            zero = zero or out.param[g.args[i]] == 0.0
    return constant(g, p) if zero else False


@njit
def drop_unit_factors(g, out):  # x·1 -> x
    k = 0
    for i in range(g.n[0]):
        if not (is_const(out, g.args[i]) and out.param[g.args[i]] == 1.0):
            g.args[k] = g.args[i]
            k += 1
    changed = k < g.n[0]
    g.n[0] = k
    return changed


@njit
def merge_const_factors(g, out):  # x·y·c₁·c₂ -> x·y·c when a constant c = c₁c₂ exists
    count, p = 0, 1.0
    for i in range(g.n[0]):
        if is_const(out, g.args[i]):
            count += 1
            p *= out.param[g.args[i]]
    if count < 2:
        return False
    c = find_const(out, p)
    if p != 1.0 and c < 0:
        return False
    keep_nonconst_args(g, out)
    if p != 1.0:
        insert_term(g, c, 1.0)
    return True


@njit
def lone_factor(g, out):  # Π(x) -> x
    return copy_of(g, g.args[0]) if g.n[0] == 1 else False


@njit
def scaled_term(g, out):  # c·x -> add(x; coeff c)
    if g.n[0] != 2 or is_const(out, g.args[0]) == is_const(out, g.args[1]):
        return False
    i = 0 if is_const(out, g.args[0]) else 1
    c, x = out.param[g.args[i]], g.args[1 - i]
    become(g, ADD, 1)
    g.args[0], g.coeffs[0] = x, c
    return True


@njit
def self_product(g, out):  # x·x -> square(x)
    if g.n[0] == 2 and g.args[0] == g.args[1]:
        return become(g, SQUARE, 1)
    return False


@njit
def double_negation(g, out):  # -(-x) -> x
    if out.op[g.args[0]] == NEG:
        return copy_of(g, first_arg(out, g.args[0]))
    return False


@njit
def is_value(out, v, value):
    return is_const(out, v) and out.param[v] == value


@njit
def minus_zero(g, out):  # x - 0 -> x
    return copy_of(g, g.args[0]) if is_value(out, g.args[1], 0.0) else False


@njit
def zero_minus(g, out):  # 0 - x -> -x
    if is_value(out, g.args[0], 0.0):
        g.args[0] = g.args[1]
        return become(g, NEG, 1)
    return False


@njit
def over_one(g, out):  # x / 1 -> x
    return copy_of(g, g.args[0]) if is_value(out, g.args[1], 1.0) else False


@njit
def one_over(g, out):  # 1 / x -> recip(x)
    if is_value(out, g.args[0], 1.0):
        g.args[0] = g.args[1]
        return become(g, RECIP, 1)
    return False


@njit
def power_zero(g, out):  # x^0 -> 1   (exact in IEEE: pow(nan, 0) = 1)
    return constant(g, 1.0) if g.param[0] == 0.0 else False


@njit
def power_one(g, out):  # x^1 -> x
    return copy_of(g, g.args[0]) if g.param[0] == 1.0 else False


@njit
def power_two(g, out):  # x^2 -> square(x)
    return become(g, SQUARE, 1) if g.param[0] == 2.0 else False


@njit
def power_minus_one(g, out):  # x^-1 -> recip(x)
    return become(g, RECIP, 1) if g.param[0] == -1.0 else False


@njit
def even_of_neg(g, out):  # f(-x) -> f(x) for even f: square, abs
    if out.op[g.args[0]] == NEG:
        g.args[0] = first_arg(out, g.args[0])
        return True
    return False


# Tried in this order on every gate of the op, until none matches. "*": every gate op.
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


# -- generated from the op table and the rule list --------------------------------------
def _generate() -> tuple[str, dict]:
    namespace = {"np": np}
    evaluate = ["def evaluate_scalar(code, a, b, p):"]
    for op in ops.OPS:
        if op.evaluate is None:
            continue
        namespace[f"_eval_{op.name}"] = njit(op.evaluate)
        operands = ["a", "b"][: op.min_args] + (["p"] if op.param is not None else [])
        evaluate.append(f"    if code == {op.code}:  # {op.name}")
        evaluate.append(f"        return _eval_{op.name}({', '.join(operands)})")
    evaluate.append("    return np.nan")

    dispatch = ["def apply_rules(g, out):"]
    for rule in [rule for name, rule in RULES if name == "*"]:
        namespace[rule.__name__] = rule
        dispatch.append(f"    if {rule.__name__}(g, out):")
        dispatch.append("        return True")
    dispatch.append("    code = g.code[0]")
    for op in ops.GATE_OPS:
        rules = [rule for name, rule in RULES if name == op.name]
        if not rules:
            continue
        dispatch.append(f"    if code == {op.code}:  # {op.name}")
        for rule in rules:
            namespace[rule.__name__] = rule
            dispatch.append(f"        if {rule.__name__}(g, out):")
            dispatch.append("            return True")
        dispatch.append("        return False")
    dispatch.append("    return False")
    return "\n".join(evaluate + [""] + dispatch) + "\n", namespace


GENERATED_SOURCE, _namespace = _generate()
exec(compile(GENERATED_SOURCE, f"<generated by {__name__}>", "exec"), _namespace)  # noqa: S102
evaluate_scalar = njit(_namespace["evaluate_scalar"])  # (code, a, b, p) -> float
apply_rules = njit(_namespace["apply_rules"])


@njit
def rewrite(g, out):
    """Apply the rules until none matches or the gate became a constant or a copy."""
    for _ in range(MAX_REWRITES):
        if g.code[0] == COPY or g.code[0] == CONST or not apply_rules(g, out):
            return


def fingerprint() -> str:
    """Everything a compiled sweep depends on besides this file: the op table."""
    h = hashlib.sha256(GENERATED_SOURCE.encode())
    for op in ops.OPS:
        h.update(repr((op.name, op.code, op.min_args, op.max_args, op.param, op.coeffs,
                       op.reduction)).encode())
        if op.evaluate is not None:
            code = op.evaluate.__code__
            h.update(repr((code.co_code, code.co_consts, code.co_names)).encode())
    return h.hexdigest()[:16]


def make_sweep(key: str):
    """The sweep, compiled and cached under ``key`` (the op table's fingerprint), so a
    change of the table never runs a stale cached kernel."""

    @numba.njit(cache=True, error_model="numpy")
    def sweep(n_inputs, op, offsets, args, coeffs, param, max_arity):
        """(built, remap: source vertex -> built vertex, origin: built vertex -> the source
        vertex that created it)."""
        key  # noqa: B018 -- a closure cell, hence part of Numba's cache key
        V = len(op)
        out = new_built(V, len(args))
        remap = np.empty(V, np.int64)
        origin = np.full(V, -1, np.int64)
        for v in range(n_inputs):  # inputs stay as they are, outside the sharing table
            remap[v] = append(out, op[v], 0.0, args, coeffs, 0)
            origin[v] = v
        g = new_gate(max_arity)
        for v in range(n_inputs, V):
            load(g, v, op, offsets, args, coeffs, param, remap)
            rewrite(g, out)
            if g.code[0] == COPY:
                remap[v] = g.args[0]
                continue
            before = out.size[0]
            remap[v] = intern(out, g)
            if remap[v] == before:
                origin[before] = v
        return out, remap, origin

    return sweep


sweep = make_sweep(fingerprint())
