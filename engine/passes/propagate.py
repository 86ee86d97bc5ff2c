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
from ..core.layout import jacobian_names, resolve, unique_outputs
from ..core.ops import ADD, CONST, MUL, MUL0, needs_strong_zero
from ..errors import Cancelled
from . import sweeps
from .partials import wire_partials_of
from .provenance import result_origin

_CODES = np.array([CONST.code, ADD.code, MUL.code], dtype=np.uint8)
# chain-rule products of circuits with a conditional: a zero derivative times an infinite or
# NaN partial is 0, so the branch a ``where`` did not take leaks nothing (docs/conventions.md)
_STRONG_CODES = np.array([CONST.code, ADD.code, MUL0.code], dtype=np.uint8)


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
    a CircuitError if two would be equal (``core/layout.py``)."""
    names = list(c.output_names) if include_value else []
    names += jacobian_names(c.inputs, c.output_names, xs, fs)
    unique_outputs(names, include_value)
    return names


def _grown(a: np.ndarray, size: int, used: int) -> np.ndarray:
    """``a`` with room for ``size`` items, its first ``used`` kept (the rest is garbage)."""
    out = np.empty(size, a.dtype)
    out[:used] = a[:used]
    return out


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
        used_g, used_w = int(self.count[0]), int(self.count[1])
        if g > len(self.op):
            size = max(g, 2 * len(self.op))
            self.op, self.param = _grown(self.op, size, used_g), _grown(self.param, size, used_g)
            self.offsets = _grown(self.offsets, size + 1, used_g + 1)
            if self.prov is not None:
                self.prov = np.concatenate([self.prov, np.full(size - len(self.prov), -2)])
        if w > len(self.args):
            size = max(w, 2 * len(self.args))
            self.args, self.coeffs = (
                _grown(self.args, size, used_w),
                _grown(self.coeffs, size, used_w),
            )

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


class Sweeps:
    """What the sweeps of one pass over ``c`` share: the partials of the wires that matter
    (``wrt`` inputs ``xs`` to ``of`` outputs ``fs``), the result's growing arrays (``buf``,
    starting with c itself) and scratch. ``run`` does one sweep; ``at(v)`` then reads the
    derivative it left at vertex v as (handle, scale); ``circuit`` makes the result. With
    ``provenance``, the emitted gates are tagged (``origin`` of ``circuit``'s result)."""

    def __init__(self, c: Circuit, xs, fs, provenance: bool = False):
        self.c = c
        self.depends, self.needed = activity(c, xs, fs)
        active = self.depends & self.needed
        self.partials = P = wire_partials_of(c, active, provenance)
        wires_active = int(np.count_nonzero(active[c.wire_owner()]))
        vertices_active = int(np.count_nonzero(active))
        # bounds of what one sweep emits (its kernels do not check): per wire one product
        # of d and ≤ MAX_FACTORS factors, per vertex one add of ≤ 2 terms per wire + a
        # constant (+ its seeds: ``run``)
        self.per_sweep = (
            wires_active + vertices_active + 2,
            6 * wires_active + vertices_active + 2,
        )
        # room for one sweep and its seeds (at most every input or every output) from the
        # start: growing later copies the whole result
        seeds = c.n_inputs + len(c.outputs) + 2
        gates, wires = self.per_sweep
        self.buf = _Buffer(c, P.emitter.arrays(), gates + seeds, wires + 2 * seeds)
        if provenance:
            self.buf.prov = np.full(len(self.buf.op), -2, INDEX)
        self.P = (P.scale, P.offset, P.factors)
        self.codes = _STRONG_CODES if needs_strong_zero(c.op) else _CODES
        self.P_reverse = None  # the partials in reverse CSR order, for backward sweeps
        self.rev_wire = None
        self.deriv, self.dscale = np.empty(P.emitter.next, INDEX), np.zeros(P.emitter.next)
        terms = 2 * int(np.max(np.bincount(c.args, minlength=1), initial=1)) + 2
        self.terms = max(terms, 2 * int(np.max(c.arity(), initial=1)) + 2)
        self.scratch = np.empty(4, INDEX)

    def run(self, direction: str, seeds, handles) -> None:
        """One ``"forward"`` or ``"backward"`` sweep from the vertices ``seeds``, seed i with
        derivative ``handles[i]`` (``sweeps.ONE`` or a vertex of the result)."""
        seeds, handles = np.asarray(seeds, INDEX), np.asarray(handles, INDEX)
        order = np.argsort(seeds, kind="stable")
        if direction == "backward":
            order = order[::-1]
        seeds, handles = seeds[order], handles[order]
        gates, wires = self.per_sweep
        self.buf.reserve(gates + len(seeds), wires + 2 * len(seeds))
        tv, tc = np.empty(self.terms + len(seeds), INDEX), np.empty(self.terms + len(seeds))
        self.deriv[:] = sweeps.NONE
        c, buf = self.c, self.buf
        shared = (buf.tuple, 0, self.codes, self.deriv, self.dscale, tv, tc, self.scratch)
        if direction == "forward":
            sweeps.forward_sweep(
                seeds, handles, c.arg_offsets, c.args, self.needed, self.P, *shared, buf.prov
            )
            return
        if self.P_reverse is None:  # wires grouped by the vertex they read: sequential reads
            rev_off, self.rev_wire, consumer = sweeps.reverse_csr(c.arg_offsets, c.args)
            self.P_reverse = (rev_off, consumer, tuple(a[self.rev_wire] for a in self.P))
        rev_off, consumer, P = self.P_reverse
        sweeps.backward_sweep(seeds, handles, consumer, rev_off, self.depends, P, *shared, buf.prov)

    def at(self, v: int) -> tuple[int, float]:
        return int(self.deriv[v]), float(self.dscale[v])

    def circuit(self, handles, values, names):
        """The result: outputs ``values`` (vertices of c) then the derivatives ``handles``
        ((handle, scale) pairs), each one vertex; with provenance, (circuit, origin)."""
        handles = list(handles)
        hs = np.array([h for h, _ in handles], INDEX)
        scales = np.array([s for _, s in handles], np.float64)
        self.buf.reserve(len(hs) + 2, len(hs))
        out = np.empty(len(hs), INDEX)
        one = (np.empty(1, INDEX), np.empty(1))
        sweeps.entries(self.buf.tuple, _CODES, hs, scales, out, *one)
        out = np.concatenate([np.asarray(values, INDEX), out])
        result = self.buf.circuit(self.c, out, names)
        if self.buf.prov is None:
            return result
        tags = self.buf.prov[: result.n_vertices]
        return result, result_origin(self.c, result, self.partials, tags, self.rev_wire)


def hooks(progress, should_stop):
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
    names = gradient_names(c, xs, fs, include_value)
    tick = hooks(progress, should_stop)
    tick(0.0)
    S = Sweeps(c, xs, fs, provenance)
    tick(0.1)
    seeds = xs if mode == "forward" else [int(c.outputs[i]) for i in fs]
    one = [sweeps.ONE]
    results: list[list[tuple[int, float]]] = []
    for k, seed in enumerate(seeds):
        S.run(mode, [seed], one)
        if mode == "forward":
            results.append([S.at(c.outputs[i]) for i in fs])
        else:
            results.append([S.at(x) for x in xs])
        tick(0.1 + 0.9 * (k + 1) / len(seeds))
    if mode == "forward":  # results[j][i] = ∂f_i/∂x_j; emit row-major over (i, j)
        handles = [results[j][i] for i in range(len(fs)) for j in range(len(xs))]
    else:
        handles = [results[i][j] for i in range(len(fs)) for j in range(len(xs))]
    values = c.outputs if include_value else []
    return S.circuit(handles, values, names)


def forward_propagate(c: Circuit, wrt=None, of=None, **hooks) -> Circuit:
    """The lecture's General Forward Propagation: size Θ(n·(s+w))."""
    return propagate(c, "forward", wrt, of, **hooks)


def backward_propagate(c: Circuit, wrt=None, of=None, **hooks) -> Circuit:
    """The lecture's Backpropagation: at most 3·wires + nodes gates per output (Theorem 3)."""
    return propagate(c, "backward", wrt, of, **hooks)
