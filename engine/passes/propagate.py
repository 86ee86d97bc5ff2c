"""Forward propagation and backpropagation as circuit-to-circuit passes.

Both return a circuit with the same inputs whose outputs are the Jacobian entries
∂fᵢ/∂xⱼ in row-major order, named ``d{f}/d{x}``. The result keeps the source circuit
as its first vertices, then the rule gates of ``partials.py``, then what the sweeps of
``sweeps.py`` emit. No simplification happens here (see ``simplify.py``). With
``provenance=True`` they also say where each result vertex comes from (``provenance.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.circuit import INDEX, Circuit
from ..core.ops import ADD, CONST, MUL, MUL0, needs_strong_zero
from ..errors import MAX_ERRORS, Cancelled, CircuitError, pointer
from . import sweeps
from .partials import wire_partials_of
from .provenance import result_origin

_CODES = np.array([CONST.code, ADD.code, MUL.code], dtype=np.uint8)
# chain-rule products of circuits with a conditional: a zero derivative times an infinite or
# NaN partial is 0, so the branch a ``where`` did not take leaks nothing (docs/conventions.md)
_STRONG_CODES = np.array([CONST.code, ADD.code, MUL0.code], dtype=np.uint8)


def _shown(x, limit: int = 40) -> str:
    """``repr(x)`` for a message, cut short (a name may be huge, an integer too long)."""
    if isinstance(x, str):
        text = repr(x[:limit])
        return text if len(x) <= limit else text[:-1] + "…" + text[-1]
    if x is None or isinstance(x, bool | float) or (isinstance(x, int) and abs(x) < 10**18):
        return repr(x)
    return "a very large integer" if isinstance(x, int) else f"a {type(x).__name__}"


def resolve(c: Circuit, wrt=None, of=None) -> tuple[list[int], list[int]]:
    """Input positions for ``wrt`` and output positions for ``of`` (names, or None = all)."""

    def pick(names, known, key):
        if names is None:
            return list(range(len(known)))
        if isinstance(names, str):
            names = [names]
        if len(names) > len(known):  # before looking at any name: O(1) for a huge list
            raise CircuitError(
                f"has {len(names)} names; the circuit has only {len(known)} {key} names",
                pointer(key),
            )
        index = {n: i for i, n in enumerate(known)}
        errors, seen, picked = [], set(), []
        for i, n in enumerate(names):
            if not isinstance(n, str) or n not in index:
                errors.append(
                    (pointer(key, i), f"{_shown(n)} is not one of the circuit's {key} names")
                )
            elif n in seen:
                errors.append((pointer(key, i), f"{_shown(n)} is named twice"))
            else:
                seen.add(n)
                picked.append(index[n])
            if len(errors) >= MAX_ERRORS:
                break
        if not names:
            errors.append((pointer(key), "is empty: the Jacobian would have no entries"))
        if errors:
            from ..errors import ErrorItem

            raise CircuitError([ErrorItem(p, m) for p, m in errors])
        return picked

    xs = pick(wrt, c.inputs, "wrt")
    fs = pick(of, c.output_names, "of")
    if not c.inputs:
        raise CircuitError("the circuit has no inputs: the Jacobian would have no entries", "/wrt")
    return xs, fs


def activity(c: Circuit, xs, fs) -> tuple[np.ndarray, np.ndarray]:
    """(vertices that depend on a ``wrt`` input, vertices some chosen output needs)."""
    seeds = np.zeros(c.n_vertices, bool)
    seeds[xs] = True
    depends = sweeps.reach_forward(c.arg_offsets, c.args, seeds)
    seeds[:] = False
    seeds[c.outputs[fs]] = True
    return depends, sweeps.reach_backward(c.arg_offsets, c.args, seeds)


def gradient_names(c: Circuit, xs, fs, include_value: bool = False) -> list[str]:
    """``d{f}/d{x}`` row-major, after the circuit's own output names with ``include_value``;
    a CircuitError if two would be equal (an output named ``df/dx`` beside ``f``...), since
    output names must be unique."""
    wrt = [f"/d{c.inputs[j]}" for j in xs]
    names = [f"d{c.output_names[i]}{x}" for i in fs for x in wrt]
    if include_value:
        names = list(c.output_names) + names
    if len(set(names)) < len(names):
        seen, twice = set(), []
        for n in names:
            if n in seen and n not in twice:
                twice.append(n)
            seen.add(n)
        shown = ", ".join(repr(n) for n in twice[:5])
        where = "/include_value" if include_value else "/of"
        raise CircuitError(f"the result's output names would not be unique: {shown}", where)
    return names


class _Buffer:
    """The result's arrays, growing: the source circuit, the rule gates, then the sweeps'."""

    def __init__(self, c: Circuit, rule_gates, gates: int, wires: int):
        r_op, r_arity, r_args, r_coeffs, r_param = rule_gates
        V, W = c.n_vertices + len(r_op), c.n_wires + len(r_args)
        self.op = np.empty(V + gates, np.uint8)
        self.offsets = np.empty(V + gates + 1, INDEX)
        self.param = np.empty(V + gates)
        self.args = np.empty(W + wires, INDEX)
        self.coeffs = np.empty(W + wires)
        for target, parts in (
            (self.op, (c.op, r_op)),
            (self.param, (c.param, r_param)),
            (self.args, (c.args, r_args)),
            (self.coeffs, (c.coeffs, r_coeffs)),
        ):
            np.concatenate(parts, out=target[: sum(len(p) for p in parts)])
        self.offsets[: c.n_vertices + 1] = c.arg_offsets
        np.cumsum(r_arity, out=self.offsets[c.n_vertices + 1 : V + 1])
        self.offsets[c.n_vertices + 1 : V + 1] += c.n_wires
        self.count = np.array([V, W, -1, -1], dtype=INDEX)
        self.prov = None  # provenance, when asked for: what each emitted gate came from

    def reserve(self, gates: int, wires: int) -> None:
        g, w = self.count[0] + gates, self.count[1] + wires
        if g > len(self.op):
            size = max(g, 2 * len(self.op))
            self.op, self.param = np.resize(self.op, size), np.resize(self.param, size)
            self.offsets = np.resize(self.offsets, size + 1)
            if self.prov is not None:
                self.prov = np.concatenate([self.prov, np.full(size - len(self.prov), -2)])
        if w > len(self.args):
            size = max(w, 2 * len(self.args))
            self.args, self.coeffs = np.resize(self.args, size), np.resize(self.coeffs, size)

    @property
    def tuple(self):
        return (self.op, self.offsets, self.args, self.coeffs, self.param, self.count)

    def circuit(self, c: Circuit, outputs, names) -> Circuit:
        g, w = self.count[0], self.count[1]
        return Circuit.from_arrays(
            c.inputs,
            self.op[:g],
            self.offsets[: g + 1],
            self.args[:w],
            self.coeffs[:w],
            self.param[:g],
            outputs,
            names,
            c.labels,
        )


def _hooks(progress, should_stop):
    def tick(done: float) -> None:
        if should_stop is not None and should_stop():
            raise Cancelled()
        if progress is not None:
            progress(done)

    return tick


def propagate(
    c: Circuit,
    mode: str,
    wrt=None,
    of=None,
    include_value: bool = False,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    provenance: bool = False,
):
    """The raw Jacobian circuit by ``mode`` "forward" or "backward" (no simplification);
    with ``provenance``, (circuit, origin): see ``provenance.result_origin``."""
    xs, fs = resolve(c, wrt, of)
    tick = _hooks(progress, should_stop)
    tick(0.0)
    depends, needed = activity(c, xs, fs)
    active = depends & needed
    P = wire_partials_of(c, active, provenance)
    tick(0.1)

    E = P.emitter
    wires_active = int(np.count_nonzero(active[c.wire_owner()]))
    vertices_active = int(np.count_nonzero(active))
    # per active wire: one product of d and ≤ MAX_FACTORS factors, ≤ 2 terms of an add
    per_sweep = (wires_active + vertices_active + 2, 6 * wires_active + vertices_active + 2)
    buf = _Buffer(c, E.arrays(), *per_sweep)
    if provenance:
        buf.prov = np.full(len(buf.op), -2, INDEX)
    P_arrays = (P.scale, P.offset, P.factors)
    codes = _STRONG_CODES if needs_strong_zero(c.op) else _CODES
    deriv, dscale = np.empty(E.next, INDEX), np.zeros(E.next)
    terms = 2 * int(np.max(np.bincount(c.args, minlength=1), initial=1)) + 2
    terms = max(terms, 2 * int(np.max(c.arity(), initial=1)) + 2)
    tv, tc, scratch = np.empty(terms, INDEX), np.empty(terms), np.empty(4, INDEX)
    seeds_list = xs if mode == "forward" else [int(c.outputs[i]) for i in fs]
    # what each sweep reads off: the outputs (forward) or the wrt inputs (backward)
    ends = c.outputs[fs] if mode == "forward" else np.asarray(xs, INDEX)
    handles = np.empty((len(seeds_list), len(ends)), INDEX)
    scales = np.empty((len(seeds_list), len(ends)))
    rev_wire = None
    if mode == "backward":  # wires grouped by the vertex they read, for sequential access
        rev_off, rev_wire, consumer = sweeps.reverse_csr(c.arg_offsets, c.args)
        P_arrays = tuple(a[rev_wire] for a in P_arrays)
    for k, seed in enumerate(seeds_list):
        buf.reserve(*per_sweep)
        deriv[:] = sweeps.NONE
        shared = (P_arrays, buf.tuple, 0, codes, deriv, dscale, tv, tc, scratch)
        if mode == "forward":
            sweeps.forward_sweep(seed, c.arg_offsets, c.args, needed, *shared, buf.prov)
        else:
            sweeps.backward_sweep(seed, consumer, rev_off, depends, *shared, buf.prov)
        handles[k], scales[k] = deriv[ends], dscale[ends]
        tick(0.1 + 0.9 * (k + 1) / len(seeds_list))
    if mode == "forward":  # handles[j, i] is ∂f_i/∂x_j; the outputs are row-major over (i, j)
        handles, scales = handles.T, scales.T
    handles, scales = np.ascontiguousarray(handles).ravel(), np.ascontiguousarray(scales).ravel()
    buf.reserve(len(handles) + 2, len(handles))
    out = np.empty(len(handles), INDEX)
    one = (np.empty(1, INDEX), np.empty(1))
    sweeps.entries(buf.tuple, _CODES, handles, scales, out, *one)
    names = gradient_names(c, xs, fs, include_value)
    if include_value:
        out = np.concatenate([c.outputs, out])
    result = buf.circuit(c, out, names)
    if provenance:
        return result, result_origin(c, result, P, buf.prov[: result.n_vertices], rev_wire)
    return result


def forward_propagate(c: Circuit, wrt=None, of=None, **hooks) -> Circuit:
    """The lecture's General Forward Propagation: size Θ(n·(s+w))."""
    return propagate(c, "forward", wrt, of, **hooks)


def backward_propagate(c: Circuit, wrt=None, of=None, **hooks) -> Circuit:
    """The lecture's Backpropagation: at most 3·wires + nodes gates per output (Theorem 3)."""
    return propagate(c, "backward", wrt, of, **hooks)
