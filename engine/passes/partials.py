"""∂ₐ[g] for every wire at once: the op table's rules applied op by op.

The result is the lecture's gate gradient [∇g] for every gate that matters, as per-wire
arrays ``offset + scale · f0 · f1 · f2`` (factors are vertices, -1 when absent; at most
``MAX_FACTORS``) plus the gates the rules emitted. Forward and backward propagation both
start from this; only their traversal differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.circuit import INDEX, Circuit
from ..core.ops import BY_CODE, CONST
from ..core.templates import MAX_FACTORS, Emitter, FactorTerms, Term, Vec, wire_partials


@dataclass
class WirePartials:
    scale: np.ndarray  # (W,) float64
    offset: np.ndarray  # (W,) float64
    factors: np.ndarray  # (W, MAX_FACTORS) int64, -1 = no factor
    emitter: Emitter  # the gates the rules built, numbered after the circuit's vertices
    owner: np.ndarray | None = None  # provenance: per rule gate, the gate whose rule built it


class Args:
    """The arguments of a group of k-ary gates: position j is a Vec; slices are lists."""

    def __init__(self, E: Emitter, matrix: np.ndarray):
        self.E, self.matrix = E, matrix

    def __len__(self) -> int:
        return self.matrix.shape[1]

    def __getitem__(self, j):
        if isinstance(j, slice):
            return [Vec(self.E, self.matrix[:, i]) for i in range(len(self))[j]]
        return Vec(self.E, self.matrix[:, j])

    def __iter__(self):
        return (self[j] for j in range(len(self)))


def gate_groups(c: Circuit, gates: np.ndarray):
    """Yield (op, arity, gate vertices) for the given gates, grouped by op and arity."""
    op = c.op[gates]
    arity = c.arg_offsets[gates + 1] - c.arg_offsets[gates]
    order = np.lexsort((arity, op))
    gates, op, arity = gates[order], op[order], arity[order]
    bounds = np.flatnonzero((np.diff(op) != 0) | (np.diff(arity) != 0)) + 1
    for chunk in np.split(np.arange(len(gates)), bounds):
        if len(chunk):
            i = chunk[0]
            yield BY_CODE[op[i]], int(arity[i]), gates[chunk]


def wire_partials_of(c: Circuit, active: np.ndarray, provenance: bool = False) -> WirePartials:
    """Partials of every wire into an ``active`` gate (other wires get zero); with
    ``provenance``, also ``owner``: the gate each rule gate was built for."""
    W = c.n_wires
    scale, offset = np.zeros(W), np.zeros(W)
    factors = np.full((W, MAX_FACTORS), -1, INDEX)
    E = Emitter(c.n_vertices)
    groups = []  # provenance: (the emitter's mark, gates) per group
    gates = np.flatnonzero(active & (c.arity() > 0)).astype(INDEX)
    for op, k, g in gate_groups(c, gates):
        if provenance:
            groups.append((E.batches, g))
        wires = c.arg_offsets[g][:, None] + np.arange(k)  # (G, k) wire numbers
        args = Args(E, c.args[wires])
        gv, p, coeffs = Vec(E, g), c.param[g], c.coeffs[wires]
        terms = (
            op.partials(gv, args, p, coeffs)
            if op.max_args is None
            else op.partials(gv, *args, p, coeffs)
        )
        if isinstance(terms, np.ndarray):  # constant partials for all positions at once
            offset[wires] = terms
            continue
        if isinstance(terms, FactorTerms):  # products for all positions at once
            scale[wires], factors[wires] = terms.scale, terms.factors
            continue
        if not any(isinstance(t, (Vec, Term)) for t in terms):
            offset[wires] = np.column_stack([np.broadcast_to(t, len(g)) for t in terms])
            continue
        for j, term in enumerate(terms):
            w = wires[:, j]
            scale[w], offset[w], factors[w] = wire_partials(term, len(g))
    owner = rule_owners(E, groups) if provenance else None
    return WirePartials(scale, offset, factors, E, owner)


def rule_owners(E: Emitter, groups) -> np.ndarray:
    """Per rule gate, the gate whose rule built it: every batch a rule emits has a whole
    number of gates per gate of its group, in rows of the group's order (one row, or one
    per link of a product's prefix and suffix chains), except shared constants (-2)."""
    owners = [np.empty(0, INDEX)]
    ends = [mark for mark, _ in groups[1:]] + [E.batches] if groups else []  # no gate: none
    for (mark, g), end in zip(groups, ends, strict=True):
        for code, n in E.batch_sizes(mark)[: end - mark]:
            if code == CONST.code:
                owners.append(np.full(n, -2, INDEX))
                continue
            assert n % len(g) == 0, (n, len(g))  # a rule's batches are whole rows
            owners.append(np.tile(g, n // len(g)))
    return np.concatenate(owners)
