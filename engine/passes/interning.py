"""The circuit the simplifier builds, and its sharing table.

``Gate`` is the gate being simplified (scalars in 1-element arrays, so rules change them
in place); ``Built`` is the simplified circuit so far with an open-addressing table that
finds a gate by its whole content, so that equal gates become one vertex. The rules of
``rewrite.py`` read constants through it (``find_const``); ``simplify.py`` sweeps with it.
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

CONST = ops.CONST.code

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
