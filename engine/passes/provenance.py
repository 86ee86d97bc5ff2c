"""Where each vertex of a gradient circuit comes from (opt-in: ``provenance=True``).

For every vertex of a result, ``origin`` says what produced it:

    -1   a vertex of the source circuit itself (the result keeps it as its first vertices)
    -2   shared: the constants and the output scalings, which belong to no one rule
    k    forward: the source vertex v whose ∂v/∂x the gate helps build (its rule gates, the
         products of its wires' terms, its sum);
         backward: the source wire whose chain-rule term the gate builds: its rule gate
         ∂ₐ[g], its product ∂y/∂g·∂ₐ[g], and the sum of ∂y/∂a for the last wire out of a
         that contributed — Theorem 3's "at most three gates per wire", made visible.

``copy_of`` names, for the source vertices kept in the result, which source vertex each
is (-1 for the added ones). Both are carried through simplification (``simplify``'s
``carry``). Nothing here runs unless provenance is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from .. import jit
from ..core.circuit import INDEX, Circuit
from ..core.ops import CONST

SOURCE, SHARED = -1, -2


@dataclass(frozen=True, eq=False)
class Provenance:
    """The origin of every vertex of a gradient circuit, relative to ``source``."""

    by: str  # "vertex" (forward) or "wire" (backward): what the non-negative origins name
    origin: np.ndarray  # int64 (V,) per result vertex, as in the module docstring
    copy_of: np.ndarray  # int64 (V,) the source vertex a kept vertex is, else -1
    source: Circuit  # the differentiated circuit


def result_origin(c: Circuit, result: Circuit, P, tags: np.ndarray, rev_wire) -> np.ndarray:
    """``origin`` of a raw result: its first vertices are ``c``, then the rule gates of the
    partials ``P`` (with ``P.owner``), then the sweeps' gates tagged in ``tags`` (backward:
    by reverse-CSR wire position, mapped back through ``rev_wire``)."""
    V, R = c.n_vertices, P.emitter.count
    origin = np.asarray(tags, INDEX).copy()
    origin[:V] = SOURCE
    if rev_wire is None:  # forward: rule gates belong to the gate whose rule built them
        origin[V : V + R] = P.owner
    else:
        origin[V : V + R] = rule_gate_wires(
            V, c.arg_offsets, P.factors, P.owner, result.arg_offsets, result.args
        )
        swept = origin[V + R :]
        swept[swept >= 0] = rev_wire[swept[swept >= 0]]
    origin[V:][result.op[V:] == CONST.code] = SHARED
    return origin


@jit.entry
@numba.njit(cache=True)
def rule_gate_wires(V, arg_offsets, factors, owner, offsets, args):
    """Per rule gate (vertices V, V+1, ...), the wire of its owner gate whose partial uses
    it: directly (a factor of that wire's partial, the lowest such wire), or through a
    later rule gate that does; else its owner's first wire."""
    R = len(owner)
    wire = np.full(R, -1, np.int64)
    for w in range(factors.shape[0] - 1, -1, -1):  # descending: the lowest wire writes last
        for j in range(factors.shape[1] - 1, -1, -1):
            f = factors[w, j]
            if f >= V:
                wire[f - V] = w
    for r in range(R - 1, -1, -1):  # rule gates read only earlier ones
        if wire[r] < 0:
            continue
        for k in range(offsets[V + r], offsets[V + r + 1]):
            a = args[k] - V
            if a >= 0 and wire[a] < 0 and owner[a] == owner[r]:
                wire[a] = wire[r]
    for r in range(R):
        if owner[r] < 0:
            wire[r] = SHARED
        elif wire[r] < 0:
            wire[r] = arg_offsets[owner[r]]
    return wire


def copies(c: Circuit, result: Circuit) -> np.ndarray:
    """``copy_of`` of a raw result: its first vertices are the source's, in order."""
    copy_of = np.full(result.n_vertices, -1, INDEX)
    copy_of[: c.n_vertices] = np.arange(c.n_vertices)
    return copy_of
