"""``simplify(c)``: the same outputs from a circuit that is never larger.

A reverse liveness pass first marks what an output depends on (raw gradients carry many
dead gates); then one compiled sweep over the live source gates in vertex order: each
gate is loaded with its arguments renumbered (the two arguments of a 2-argument add or
mul sorted, so a+b and b+a are alike; longer ones keep their order, which decides their
rounding), rewritten by the rules of ``rewrite.RULES`` until none matches
(constants folded, identities applied), then either replaced by the vertex it became a
copy of, or looked up by its whole content in a hash table and shared with an equal
gate, or appended. A last liveness pass keeps what still reaches an output and the
survivors are renumbered in order, which keeps the numbering topological.

Inputs stay exactly as they were (names, order, even unused ones); outputs keep their
names and order; a vertex that survives keeps its label. Each source gate yields at most
one vertex with at most its own wires, so gates, constants and wires never grow
(Theorem 3's bound holds after it). The pass is idempotent: simplifying twice gives the
same arrays as simplifying once. Outputs compute the same bits as before, at every point
(``rewrite.py`` says why each rule is exact).
"""

from __future__ import annotations

import hashlib
import types

import numba
import numpy as np

from .. import jit
from ..core import ops
from ..core.circuit import INDEX, Circuit
from ..core.ops import HAS_COEFFS, HAS_PARAM, MAX_ARGS, MIN_ARGS
from ..errors import CircuitError, pointer
from . import interning, rewrite
from .interning import append, gate_hash, inline, intern, njit, prefetch, prefetch_slot
from .rewrite import COPY, apply_rules

INPUT, CONST = ops.INPUT.code, ops.CONST.code
MAX_REWRITES = 64  # per gate; every rule shrinks the gate, so this bound never binds
SORTED_ARITY = 2  # a + b = b + a bit for bit; (a + b) + c and (a + c) + b may differ
PREFETCH_AHEAD = 8  # gates: remap reads are cache misses on large circuits
MAX_VERTICES = 2**32 - 2  # the sharing table keeps vertex + 1 in 32 bits

N_OPS = len(ops.OPS)
COMMUTATIVE = np.array([op.reduction is not None for op in ops.OPS])


# -- one gate --------------------------------------------------------------------------
@inline
def load(g, v, op, offsets, args, coeffs, param, remap):
    """Source gate v into g, arguments renumbered, parameter and coefficients kept only
    where its op has them (``rewrite_gate`` sorts a pair). False if malformed."""
    if not well_formed(v, op, offsets, args):
        return False
    code = op[v]
    n = offsets[v + 1] - offsets[v]
    with_coeffs = HAS_COEFFS[code]
    g.code[0], g.n[0] = code, n
    g.param[0] = param[v] if HAS_PARAM[code] else 0.0
    for i in range(n):
        g.args[i] = remap[args[offsets[v] + i]]
        g.coeffs[i] = coeffs[offsets[v] + i] if with_coeffs else 1.0
    return True


@inline
def sort_pair(g):
    """A 2-argument add, mul or mul0 with its arguments by vertex: a + b and b + a are one
    gate. After every rule too: a rule that drops arguments may leave two unsorted."""
    code = g.code[0]
    if code < N_OPS and COMMUTATIVE[code] and g.n[0] == SORTED_ARITY and g.args[1] < g.args[0]:
        g.args[0], g.args[1] = g.args[1], g.args[0]
        g.coeffs[0], g.coeffs[1] = g.coeffs[1], g.coeffs[0]


@inline
def well_formed(v, op, offsets, args):
    """A known gate op, an arity it allows, arguments that are earlier vertices."""
    code = op[v]
    n = offsets[v + 1] - offsets[v]
    if code == INPUT or code >= N_OPS or n < MIN_ARGS[code] or n > MAX_ARGS[code]:
        return False
    for w in range(offsets[v], offsets[v + 1]):
        if args[w] < 0 or args[w] >= v:
            return False
    return True


@inline
def rewrite_gate(g, out):
    """The rules until none matches, or the gate became a constant or a copy."""
    for _ in range(MAX_REWRITES):
        if g.code[0] == COPY or g.code[0] == CONST:
            return
        sort_pair(g)
        if not apply_rules(g, out):
            return


@njit
def reach_outputs(live, n_inputs, offsets, args, outputs):
    """Vertices some output depends on, inputs included. Raw gradients carry many dead
    gates (unused rule gates, parts of the source copy); dropping them before the sweep
    spares it their loads, rules and lookups. A misplaced argument is not followed here
    (the sweep reports its gate)."""
    live[:n_inputs] = True
    for y in outputs:
        live[y] = True
    for v in range(len(live) - 1, n_inputs - 1, -1):
        if live[v]:
            for w in range(offsets[v], offsets[v + 1]):
                if 0 <= args[w] < v:
                    live[args[w]] = True


@inline
def reads(v, u, offsets, args):
    """Source gate v has source vertex u as an argument."""
    for w in range(offsets[v], offsets[v + 1]):
        if args[w] == u:
            return True
    return False


@inline
def settle(out, g, h, v, remap, origin):
    """Source gate v, rewritten into g (hash h), shared or appended."""
    before = out.size[0]
    remap[v] = intern(out, g, h)
    if remap[v] == before:
        origin[before] = v


@njit
def sweep_gates(n_inputs, op, offsets, args, coeffs, param, live, out, g, held, remap, origin):
    """Every live source gate in order (dead ones only checked: remap -1); the first
    malformed gate's vertex, or -1.

    Lookups in remap and in the table are cache misses on large circuits: the remap
    entries of gate v + PREFETCH_AHEAD's arguments are prefetched, and the table lookup
    is pipelined: gate v's slot is prefetched once v is rewritten and hashed, and v is
    held (in ``held``) while the next gate is loaded and rewritten, then settled. That
    keeps the order of a plain sweep: a gate that reads the held one settles it first,
    and a gate that became a constant is never held (a
    rule may look that constant up)."""
    pending, pending_hash = -1, np.uint64(0)
    for v in range(n_inputs, len(op)):
        if not live[v]:
            remap[v] = -1
            if not well_formed(v, op, offsets, args):
                return v
            continue
        ahead = min(v + PREFETCH_AHEAD, len(op) - 1)  # its arguments' remap entries
        for w in range(offsets[ahead], offsets[ahead + 1]):
            if 0 <= args[w] < len(op):
                prefetch(remap, args[w])
        if pending >= 0 and reads(v, pending, offsets, args):
            settle(out, held, pending_hash, pending, remap, origin)
            pending = -1
        if not load(g, v, op, offsets, args, coeffs, param, remap):
            return v
        rewrite_gate(g, out)
        if g.code[0] == COPY:
            remap[v] = g.args[0]
            continue
        h = gate_hash(g)
        prefetch_slot(out, h)
        if pending >= 0:
            settle(out, held, pending_hash, pending, remap, origin)
            pending = -1
        if g.code[0] == CONST:
            settle(out, g, h, v, remap, origin)
        else:
            g, held = held, g
            pending, pending_hash = v, h
    if pending >= 0:
        settle(out, held, pending_hash, pending, remap, origin)
    return -1


# -- compiled once per op table --------------------------------------------------------
def _code_digest(h, code: types.CodeType) -> None:
    h.update(code.co_code + repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(h, const)
        elif isinstance(const, frozenset):  # its repr's order varies between processes
            h.update(repr(sorted(map(repr, const))).encode())
        else:
            h.update(repr(const).encode())


def fingerprint() -> str:
    """Changes with anything the cached sweep was compiled from outside this file: the op
    table (its entries, evaluate code and ``scalar.py``) and the functions and constants of
    ``rewrite.py`` and ``interning.py``."""
    h = hashlib.sha256(f"{numba.__version__} {ops.evaluation_digest()}".encode())
    for op in ops.OPS:
        h.update(
            repr(
                (op.name, op.code, op.min_args, op.max_args, op.param, op.coeffs, op.reduction)
            ).encode()
        )
        if op.evaluate is not None:
            _code_digest(h, op.evaluate.__code__)
    module_items = [(m.__name__, n, v) for m in (rewrite, interning) for n, v in vars(m).items()]
    for _, name, value in sorted(module_items, key=lambda item: item[:2]):
        value = getattr(value, "py_func", value)  # a Numba dispatcher's Python function
        h.update(name.encode())
        if isinstance(value, types.FunctionType):
            _code_digest(h, value.__code__)
        elif isinstance(value, (int, float, str, np.generic)):
            h.update(repr(value).encode())
        elif isinstance(value, np.ndarray):  # tables by op code
            h.update(value.tobytes())
        elif isinstance(value, type) and hasattr(value, "_fields"):  # Gate, Built
            h.update(repr(value._fields).encode())
    return h.hexdigest()[:16]


def make_sweep(key: str):
    """The sweep, compiled once and cached on disk under ``key``: Numba checks only this
    file's date, so the key (a closure cell, part of Numba's cache index) keeps a changed
    op table or rule from running a stale kernel."""

    @numba.njit(cache=True, error_model="numpy")
    def sweep(n_inputs, op, offsets, args, coeffs, param, outputs):
        """(built, remap: source vertex -> built vertex, origin: built vertex -> the
        source vertex that created it, first malformed gate or -1)."""
        key  # noqa: B018 -- see above
        V = len(op)
        remap = np.empty(V, np.int64)
        origin = np.full(V, -1, np.int64)
        live = np.zeros(V, np.bool_)
        reach_outputs(live, n_inputs, offsets, args, outputs)
        out = interning.new_built(V, len(args), live.sum())
        for v in range(n_inputs):  # inputs stay as they are, outside the sharing table
            remap[v] = origin[v] = append(out, INPUT, 0.0, args, coeffs, 0)
        max_arity = 1
        for v in range(V):
            max_arity = max(max_arity, offsets[v + 1] - offsets[v])
        g, held = interning.new_gate(max_arity), interning.new_gate(max_arity)
        bad = sweep_gates(
            n_inputs, op, offsets, args, coeffs, param, live, out, g, held, remap, origin
        )
        return out, remap, origin, bad

    return sweep


_sweep = jit.entry(make_sweep(fingerprint()))


# -- the pass --------------------------------------------------------------------------
def simplify(c: Circuit, carry: np.ndarray | None = None):
    """Constants folded, identities applied, equal gates shared, dead vertices removed.

    With ``carry`` (an array with one row per vertex of ``c``, provenance say), returns
    (circuit, rows): each result vertex gets the row of the vertex of ``c`` that created
    it, -2 where a rewrite rule made it (see ``carried``)."""
    V = c.n_vertices
    if V > MAX_VERTICES:
        raise CircuitError(f"too many vertices to simplify ({V})", pointer("gates"))
    if len(c.outputs) and (c.outputs.min() < 0 or c.outputs.max() >= V):
        raise CircuitError("an output is not a vertex of the circuit", pointer("outputs"))
    built, remap, origin, bad = _sweep(
        c.n_inputs, c.op, c.arg_offsets, c.args, c.coeffs, c.param, c.outputs
    )
    if bad >= 0:
        raise CircuitError(
            "malformed gate: unknown op, wrong number of arguments or an argument that "
            "is not an earlier vertex",
            pointer("gates", int(bad) - c.n_inputs),
        )
    count, wires = (int(x) for x in built.size)
    outputs = remap[c.outputs]
    op, offsets, args, coeffs, param, live, new_id = compact(
        c.n_inputs,
        built.op[:count],
        built.offsets[: count + 1],
        built.args[:wires],
        built.coeffs[:wires],
        built.param[:count],
        outputs,
    )
    result = Circuit.from_arrays(
        c.inputs,
        op,
        offsets,
        args,
        coeffs,
        param,
        new_id[outputs],
        c.output_names,
        _surviving_labels(c.labels, remap, origin, live, new_id),
    )
    return result if carry is None else (result, carried(carry, origin, live))


def carried(rows: np.ndarray, origin: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Per result vertex, the row of the source vertex that created it (-2: none did).
    Result vertices are the ``live`` built vertices in order; ``origin`` maps those back."""
    source = origin[np.flatnonzero(live)]
    out = np.asarray(rows)[np.maximum(source, 0)].copy()
    out[source < 0] = -2
    return out


@jit.entry
@numba.njit(cache=True)
def compact(n_inputs, op, offsets, args, coeffs, param, outputs):
    """The vertices an output (or nothing: inputs) depends on, renumbered in order:
    (op, offsets, args, coeffs, param, live, new_id)."""
    live = np.zeros(len(op), np.bool_)
    live[:n_inputs] = True
    live[outputs] = True
    kept, kept_wires = 0, 0
    for v in range(len(op) - 1, -1, -1):
        if live[v]:
            kept += 1
            kept_wires += offsets[v + 1] - offsets[v]
            for w in range(offsets[v], offsets[v + 1]):
                live[args[w]] = True
    new_id = np.full(len(op), -1, np.int64)
    new_op = np.empty(kept, np.uint8)
    new_param = np.empty(kept)
    new_offsets = np.zeros(kept + 1, np.int64)
    new_args = np.empty(kept_wires, np.int64)
    new_coeffs = np.empty(kept_wires)
    u, k = 0, 0
    for v in range(len(op)):
        if live[v]:
            new_id[v] = u
            new_op[u], new_param[u] = op[v], param[v]
            for w in range(offsets[v], offsets[v + 1]):
                new_args[k], new_coeffs[k] = new_id[args[w]], coeffs[w]
                k += 1
            u += 1
            new_offsets[u] = k
    return new_op, new_offsets, new_args, new_coeffs, new_param, live, new_id


def _surviving_labels(labels, remap, origin, live, new_id) -> dict[int, str]:
    """A label moves with its vertex when that vertex is still the one that computes it
    (not merged into an earlier equal gate, not rewritten into another vertex)."""
    if not labels:
        return {}
    vertices = np.fromiter(labels.keys(), INDEX, len(labels))
    names = list(labels.values())
    ok = (vertices >= 0) & (vertices < len(remap))
    built = remap[np.where(ok, vertices, 0)]
    ok &= built >= 0  # a dead source vertex
    built = np.where(ok, built, 0)
    ok &= (origin[built] == vertices) & live[built]
    return {int(new_id[u]): names[i] for i, u in enumerate(built) if ok[i]}
