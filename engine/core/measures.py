"""Measures of circuit-format.md: size, wires, depth, nodes, op histogram."""

from __future__ import annotations

import numba
import numpy as np

from .. import jit
from .circuit import Circuit
from .ops import BY_CODE, CONST, INPUT


@jit.entry
@numba.njit(cache=True)
def _depths(op, arg_offsets, args, source_codes):
    n = len(op)
    depth = np.zeros(n, dtype=np.int64)
    for v in range(n):
        if op[v] == source_codes[0] or op[v] == source_codes[1]:
            continue
        d = 0
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            if depth[args[w]] > d:
                d = depth[args[w]]
        depth[v] = d + 1
    return depth


def depths(c: Circuit) -> np.ndarray:
    """Per vertex, the longest path from a source counting gates; sources have depth 0."""
    sources = np.array([INPUT.code, CONST.code], dtype=np.uint8)
    return _depths(c.op, c.arg_offsets, c.args, sources)


def depth(c: Circuit) -> int:
    """Longest directed path counting gates; sources have depth 0."""
    return int(depths(c).max(initial=0))


def size(c: Circuit) -> int:
    """Gates that are not constants (constants are sources, as in the lecture)."""
    counts = np.bincount(c.op, minlength=len(BY_CODE))
    return int(len(c.op) - counts[INPUT.code] - counts[CONST.code])


def measures(c: Circuit) -> dict:
    counts = np.bincount(c.op[c.n_inputs :], minlength=len(BY_CODE))
    return {
        "size": size(c),
        "wires": c.n_wires,
        "depth": depth(c),
        "nodes": c.n_vertices,
        "ops": {BY_CODE[k].name: int(n) for k, n in enumerate(counts) if n},
    }
