"""Provenance as colours: one colour per source wire (backward) or source vertex (forward)
that produced gates, every added gate in the colour of what produced it.

Takes any object with the fields of ``passes.provenance.Provenance`` (``by``, ``origin``,
``copy_of``, ``source``): the drawing stage does not import the passes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.circuit import Circuit
from .labels import coefficient, vertex_name

# Tableau 10 and two more: distinguishable, readable on white
PALETTE = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948",
    "#b07aa1", "#ff9da7", "#9c755f", "#17becf", "#bcbd22", "#8c564b",
)  # fmt: skip
SHARED_COLOUR = "#9a9a9a"
LEGEND_ENTRIES = 16  # more keys than this: the rest are summed up in one line


def tint(colour: str, amount: float = 0.72) -> str:
    """``colour`` mixed with white (``amount`` of white)."""
    rgb = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * amount):02x}" for c in rgb)


@dataclass
class Highlight:
    """What a picture shows of a provenance: per vertex of the drawn circuit."""

    role: list[str]  # "source", "added" or "shared"
    key: list[str | None]  # "w5" (source wire 5), "v7" (source vertex 7), "shared" or None
    colour: dict[str, str]  # key -> colour
    about: dict[str, str]  # key -> what it names: "x → g1 (×−3)"
    count: dict[str, int]  # key -> added gates it produced
    wire_key: dict[int, str] = field(default_factory=dict)  # drawn wire -> key (backward)
    source_name: list[str | None] = field(default_factory=list)  # per vertex, copies only
    by: str = "wire"

    def legend(self) -> list[tuple[str, str, str]]:
        """(colour, text, key) lines, the most productive keys first (a few at most)."""
        keys = sorted((k for k in self.count if k != "shared"), key=_key_order)
        lines = [
            (self.colour[k], f"{self.about[k]}: {_gates(self.count[k])}", k)
            for k in keys[:LEGEND_ENTRIES]
        ]
        if len(keys) > LEGEND_ENTRIES:
            rest = sum(self.count[k] for k in keys[LEGEND_ENTRIES:])
            lines.append(("#ffffff", f"… {len(keys) - LEGEND_ENTRIES} more: {_gates(rest)}", ""))
        if "shared" in self.count:
            text = f"shared constants, output scalings: {_gates(self.count['shared'])}"
            lines.append((SHARED_COLOUR, text, "shared"))
        return lines


def _gates(n: int) -> str:
    return f"{n} gate" if n == 1 else f"{n} gates"


def _key_order(key: str) -> tuple[str, int]:
    return key[0], int(key[1:])


def highlight(c: Circuit, provenance) -> Highlight:
    """The colouring of ``c``, a gradient circuit, by its ``provenance``."""
    source: Circuit = provenance.source
    origin = np.asarray(provenance.origin)
    copy_of = np.asarray(provenance.copy_of)
    if len(origin) != c.n_vertices or len(copy_of) != c.n_vertices:
        raise ValueError("the provenance does not belong to this circuit")
    by = provenance.by
    prefix = "w" if by == "wire" else "v"
    role, key = [], []
    colour: dict[str, str] = {}
    count: dict[str, int] = {}
    for v in range(c.n_vertices):
        o = int(origin[v])
        if o == -1:
            role.append("source")
            key.append(None)
            continue
        k = "shared" if o < 0 else f"{prefix}{o}"
        role.append("shared" if o < 0 else "added")
        key.append(k)
        count[k] = count.get(k, 0) + 1
        if k not in colour:
            used = len(colour) - ("shared" in colour)
            colour[k] = SHARED_COLOUR if k == "shared" else PALETTE[used % len(PALETTE)]
    about = {k: _about(source, by, int(k[1:])) for k in colour if k != "shared"}
    about["shared"] = "shared"
    names = [vertex_name(source, int(s)) if s >= 0 else None for s in copy_of]
    h = Highlight(role, key, colour, about, count, source_name=names, by=by)
    if by == "wire":
        h.wire_key = _source_wires(c, source, copy_of, colour)
    return h


def _about(source: Circuit, by: str, k: int) -> str:
    if by == "vertex":
        return f"∂{vertex_name(source, k)}/∂x"
    owner = int(np.searchsorted(source.arg_offsets, k, side="right") - 1)
    label = coefficient(source.coeffs[k])
    weight = f" (×{label})" if label else ""
    return f"{vertex_name(source, int(source.args[k]))} → {vertex_name(source, owner)}{weight}"


def _source_wires(c: Circuit, source: Circuit, copy_of, colour) -> dict[int, str]:
    """Drawn wires that are copies of a source wire whose key has a colour."""
    out = {}
    owner = c.wire_owner()
    for w in range(c.n_wires):
        u, a = int(copy_of[owner[w]]), int(copy_of[c.args[w]])
        if u < 0 or a < 0:
            continue
        lo, hi = source.arg_offsets[u], source.arg_offsets[u + 1]
        hits = np.flatnonzero(source.args[lo:hi] == a)
        for h in hits:
            k = f"w{lo + int(h)}"
            if k in colour:
                out[w] = k
                break
    return out
