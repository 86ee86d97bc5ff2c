"""``simplify(c)``: the same outputs from a circuit that is never larger.

One compiled sweep (``rewrite.py``) folds constants, applies the identity rules of its
``RULES`` list and makes equal gates one vertex (add and mul with their arguments
sorted, so a+b and b+a are equal); a reverse liveness sweep then finds what still
reaches an output, and the survivors are renumbered in order, which keeps the
numbering topological. Gates and constants that reach no output are gone; inputs stay
exactly as they were, even unused ones; outputs keep their names and order; a vertex
that survives keeps its label. The pass is idempotent: simplifying twice gives the same
arrays as simplifying once.

Each source gate yields at most one vertex with at most its own wires, so the number of
gates, of constants and of wires never grows (Theorem 3's bound holds after it). For
the x·0 → 0 convention on ±inf and NaN, see ``rewrite.py``.
"""

from __future__ import annotations

import numpy as np

from . import rewrite
from .circuit import INDEX, Circuit
from .sweeps import reach_backward


def simplify(c: Circuit) -> Circuit:
    """Constants folded, identities applied, equal gates shared, dead vertices removed."""
    arity = np.diff(c.arg_offsets)
    max_arity = int(arity.max()) if len(arity) else 1
    built, remap, origin = rewrite.sweep(
        c.n_inputs, c.op, c.arg_offsets, c.args, c.coeffs, c.param, max_arity
    )
    count, wires = (int(x) for x in built.size)
    offsets, args = built.offsets[: count + 1], built.args[:wires]
    outputs = remap[c.outputs]

    seeds = np.zeros(count, bool)
    seeds[: c.n_inputs] = True
    seeds[outputs] = True
    live = reach_backward(offsets, args, seeds)

    new_id = np.cumsum(live, dtype=INDEX) - 1
    live_wire = np.repeat(live, np.diff(offsets))
    new_offsets = np.zeros(int(new_id[-1]) + 2 if count else 1, INDEX)
    np.cumsum(np.diff(offsets)[live], out=new_offsets[1:])
    labels = {}
    for v, name in c.labels.items():
        u = remap[v]
        if origin[u] == v and live[u]:
            labels[int(new_id[u])] = name
    return Circuit.from_arrays(
        c.inputs,
        built.op[:count][live],
        new_offsets,
        new_id[args[live_wire]],
        built.coeffs[:wires][live_wire],
        built.param[:count][live],
        new_id[outputs],
        c.output_names,
        labels,
    )
