"""The two traversals of the lecture, compiled: they only multiply and add.

Both apply the chain rule with the per-wire partials of ``partials.py``:
forward (5)  ∂g/∂x = Σ_{wires a→g} ∂a/∂x · ∂ₐ[g]   in topological order, once per input x;
backward (6) ∂y/∂g = Σ_{wires g→u} ∂y/∂u · ∂_g[u]  in reverse order, once per output y.
A sweep starts from seeds: a Jacobian sweep from one vertex whose derivative is 1; a
directional one from all of them at once, each with its own handle (a tangent or a
cotangent input), which by linearity gives J·v (forward) or uᵀ·J (backward) in one sweep.
A derivative is ``scale × handle`` where the handle is a vertex of the result, ``ONE`` (so
the derivative is the constant ``scale``) or ``NONE`` (zero); keeping the scale apart means
a lone weighted term costs no gate, its weight rides into the consumer's coefficients.
Each wire costs at most one multiplication (its factors ride in the same product) and each
vertex at most one addition; with the rules' budget that is Theorem 3's 3·wires + nodes
(docs/engine.md). ``codes = [const, add, product]``: the product is ``mul``, or ``mul0``
(strong zero) for circuits whose ops ask for it (``ops.needs_strong_zero``).

Emitted gates are appended to the result's own arrays, ``buf = (op, arg_offsets, args,
coeffs, param, count)`` with ``count = [vertices, wires, const-1 vertex, const-0 vertex]``.

Provenance (opt-in): given a ``prov`` array instead of None, the sweeps also write, for
every gate they emit, what it was emitted for: forward the vertex v whose ∂v/∂x it builds,
backward the reverse-CSR position of the wire whose term it builds (a vertex's sum goes to
the last wire that contributed to it). Numba compiles the None case separately with the
``prov is not None`` branches pruned, so the default costs nothing.
"""

from __future__ import annotations

import numba
import numpy as np

from .. import jit

NONE = -1  # the derivative is zero
ONES = np.ones(4)  # coefficients of emitted products (numba freezes globals as constants)
EMPTY = np.empty(0, np.int64)
ONE = -2  # the derivative is the constant 1


@numba.njit(cache=True, inline="always", _nrt=False)
def _emit(buf, base, code, vals, n, coefs, param):
    op, offsets, args, coeffs, params, count = buf
    g, w = count[0], count[1]
    op[g] = code
    params[g] = param
    for i in range(n):
        args[w + i] = vals[i]
        coeffs[w + i] = coefs[i]
    offsets[g + 1] = w + n
    count[0] = g + 1
    count[1] = w + n
    return g


@numba.njit(cache=True, inline="always", _nrt=False)
def _const(buf, base, codes, value):
    """The shared const vertex for 1 or 0; a new one for any other value."""
    count = buf[5]
    slot = 2 if value == 1.0 else (3 if value == 0.0 else -1)
    if slot > 0 and count[slot] >= 0:
        return count[slot]
    v = _emit(buf, base, codes[0], EMPTY, 0, ONES, value)
    if slot > 0:
        count[slot] = v
    return v


@numba.njit(cache=True, inline="always", _nrt=False)
def _add_term(d, ds, w, P, buf, base, codes, tv, tc, nt, scratch):
    """Append ds·d · ∂(wire w) to the term list (tv, tc); returns (nt, constant part)."""
    scale, offset, factors = P
    cacc = 0.0
    if scale[w] != 0.0 and factors[w, 0] >= 0:  # a product: d · f0 [· f1 · f2], one gate
        k = 0
        if d != ONE:
            scratch[k] = d
            k += 1
        for j in range(factors.shape[1]):  # packed to the left: stop at the first -1
            if factors[w, j] < 0:
                break
            scratch[k] = factors[w, j]
            k += 1
        if k == 1:
            prod = scratch[0]
        else:
            prod = _emit(buf, base, codes[2], scratch, k, ONES, 0.0)
        tv[nt] = prod
        tc[nt] = scale[w] * ds
        nt += 1
    if offset[w] != 0.0:
        if d == ONE:
            cacc = offset[w] * ds
        else:
            tv[nt] = d
            tc[nt] = offset[w] * ds
            nt += 1
    return nt, cacc


@numba.njit(cache=True, inline="always", _nrt=False)
def _combine(buf, base, codes, tv, tc, nt, cacc):
    """(handle, scale) for Σ tc·tv + cacc: a gate only when there are two terms or more."""
    if nt == 0:
        if cacc == 0.0:
            return NONE, 0.0
        return ONE, cacc
    if nt == 1 and cacc == 0.0:
        return tv[0], tc[0]
    if cacc != 0.0:
        tv[nt] = _const(buf, base, codes, 1.0)
        tc[nt] = cacc
        nt += 1
    return _emit(buf, base, codes[1], tv, nt, tc, 0.0), 1.0


@jit.entry
@numba.njit(cache=True, _nrt=False)
def entries(buf, codes, handles, scales, out, one_arg, one_coeff):
    """Each derivative ``scales[i] × handles[i]`` as one vertex ``out[i]``: a shared constant
    for zero and one, a new one for another constant, the handle itself at scale 1, else
    one scaling ``add``."""
    for i in range(len(handles)):
        d, s = handles[i], scales[i]
        if d == NONE:
            out[i] = _const(buf, 0, codes, 0.0)
        elif d == ONE:
            out[i] = _const(buf, 0, codes, s)
        elif s == 1.0:
            out[i] = d
        else:
            one_arg[0], one_coeff[0] = d, s
            out[i] = _emit(buf, 0, codes[1], one_arg, 1, one_coeff, 0.0)


@numba.njit(cache=True, inline="always", _nrt=False)
def _tag(prov, start, count, what):
    """Provenance: the gates emitted since vertex ``start`` came from ``what``."""
    for g in range(start, count[0]):
        prov[g] = what


@numba.njit(cache=True, inline="always", _nrt=False)
def _seed_terms(v, seeds, handles, s, tv, tc, nt):
    """Append the seeds at vertex v (``seeds[s:]`` in sweep order) as unit terms; returns
    (next s, nt, constant part, whether v was seeded)."""
    cacc = 0.0
    seeded = False
    while s < len(seeds) and seeds[s] == v:
        if handles[s] == ONE:
            cacc += 1.0
        else:
            tv[nt] = handles[s]
            tc[nt] = 1.0
            nt += 1
        s += 1
        seeded = True
    return s, nt, cacc, seeded


@jit.entry
@numba.njit(cache=True, _nrt=False)  # no reference counting: it cost ~10 atomics per gate
def backward_sweep(
    seeds,
    handles,
    consumer,
    rev_off,
    live,
    P,
    buf,
    base,
    codes,
    deriv,
    dscale,
    tv,
    tc,
    scratch,
    prov=None,
):
    """Σ over seeds of handle · ∂seed/∂v = dscale[v]·deriv[v] for every vertex v (``deriv``
    reset by the caller to NONE); ``seeds`` in descending order.

    One seed y with handle ONE gives ∂y/∂v (a Jacobian row); the outputs seeded by their
    cotangent inputs give uᵀ·J in one sweep. Wires come in reverse CSR order (grouped by
    the vertex they read, then by consumer): ``consumer`` and the partials ``P`` are indexed
    by that position, so the sweep reads them sequentially.
    """
    top = seeds[0]
    s = 0
    for v in range(top, -1, -1):
        s, nt, cacc, seeded = _seed_terms(v, seeds, handles, s, tv, tc, 0)
        if not (live[v] or seeded):
            continue
        last = -1
        for r in range(rev_off[v], rev_off[v + 1]):
            u = consumer[r]
            if u > top:
                break  # wires are sorted by consumer; later ones cannot reach a seed
            d = deriv[u]
            if d == NONE:
                continue
            start = buf[5][0]
            nt, c = _add_term(d, dscale[u], r, P, buf, base, codes, tv, tc, nt, scratch)
            cacc += c
            if prov is not None:
                _tag(prov, start, buf[5], r)
                last = r
        start = buf[5][0]
        deriv[v], dscale[v] = _combine(buf, base, codes, tv, tc, nt, cacc)
        if prov is not None:
            _tag(prov, start, buf[5], last)


@jit.entry
@numba.njit(cache=True, _nrt=False)
def forward_sweep(
    seeds,
    handles,
    arg_offsets,
    args,
    live,
    P,
    buf,
    base,
    codes,
    deriv,
    dscale,
    tv,
    tc,
    scratch,
    prov=None,
):
    """Σ over seeds of ∂v/∂seed · handle = dscale[v]·deriv[v] for every vertex v (``deriv``
    reset by the caller to NONE); ``seeds`` in ascending order.

    One input x with handle ONE gives ∂v/∂x (a Jacobian column); the inputs seeded by their
    tangent inputs give J·v in one sweep.
    """
    s = 0
    for v in range(seeds[0], len(arg_offsets) - 1):
        s, nt, cacc, seeded = _seed_terms(v, seeds, handles, s, tv, tc, 0)
        if not (live[v] or seeded):
            continue
        start = buf[5][0]
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            a = args[w]
            d = deriv[a]
            if d == NONE:
                continue
            nt, c = _add_term(d, dscale[a], w, P, buf, base, codes, tv, tc, nt, scratch)
            cacc += c
        deriv[v], dscale[v] = _combine(buf, base, codes, tv, tc, nt, cacc)
        if prov is not None:
            _tag(prov, start, buf[5], v)


@jit.entry
@numba.njit(cache=True)
def reach_forward(arg_offsets, args, seeds):
    """Vertices that depend on a seed (seeds included)."""
    n = len(arg_offsets) - 1
    out = seeds.copy()
    for v in range(n):
        if out[v]:
            continue
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            if out[args[w]]:
                out[v] = True
                break
    return out


@jit.entry
@numba.njit(cache=True)
def reach_backward(arg_offsets, args, seeds):
    """Vertices some seed depends on (seeds included)."""
    out = seeds.copy()
    for v in range(len(arg_offsets) - 2, -1, -1):
        if out[v]:
            for w in range(arg_offsets[v], arg_offsets[v + 1]):
                out[args[w]] = True
    return out


@jit.entry
@numba.njit(cache=True)
def reverse_csr(arg_offsets, args):
    """Wires grouped by the vertex they read (counting sort, consumers ascending):
    (rev_off, rev_wire, consumer)."""
    n = len(arg_offsets) - 1
    rev_off = np.zeros(n + 1, np.int64)
    for w in range(len(args)):
        rev_off[args[w] + 1] += 1
    for v in range(n):
        rev_off[v + 1] += rev_off[v]
    fill = rev_off[:-1].copy()
    rev_wire = np.empty(len(args), np.int64)
    consumer = np.empty(len(args), np.int64)
    for u in range(n):
        for w in range(arg_offsets[u], arg_offsets[u + 1]):
            r = fill[args[w]]
            rev_wire[r] = w
            consumer[r] = u
            fill[args[w]] = r + 1
    return rev_off, rev_wire, consumer
