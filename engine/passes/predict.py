"""Predict the size of each mode's raw result, for ``mode="auto"`` and size guards.

A raw result is the source, one rule gate per wire that carries a derivative, and roughly
one multiplication and one addition per (wire, seed) pair where the wire carries a nonzero
derivative of that seed: forward seeds are the ``wrt`` inputs (a wire a→g counts when a
depends on the input), backward seeds are the outputs (a wire g→u counts when the output
depends on u). Both counts come from dependency bitsets, 64 seeds per sweep. A directional
mode (jvp, vjp) is one sweep whose seed is all of them at once: every such wire once.
"""

from __future__ import annotations

import numba
import numpy as np

from .. import jit
from ..core.circuit import Circuit
from ..core.layout import JACOBIAN_MODES, layout
from ..core.measures import size
from .propagate import activity

SEEDS_PER_SWEEP = 64
MAX_SWEEPS = 16  # beyond 1024 seeds, sample seeds and scale the count


@numba.njit(cache=True)
def _popcount(x):
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@jit.entry
@numba.njit(cache=True)
def _forward_pairs(arg_offsets, args, seed_vertices, live):
    n = len(arg_offsets) - 1
    mask = np.zeros(n, np.uint64)
    for i in range(len(seed_vertices)):
        mask[seed_vertices[i]] |= np.uint64(1) << np.uint64(i)
    pairs = 0
    for v in range(n):
        m = mask[v]
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            m |= mask[args[w]]
            if live[v]:
                pairs += _popcount(mask[args[w]])
        mask[v] = m
    return pairs


@jit.entry
@numba.njit(cache=True)
def _backward_pairs(arg_offsets, args, seed_vertices, live):
    n = len(arg_offsets) - 1
    mask = np.zeros(n, np.uint64)
    for i in range(len(seed_vertices)):
        mask[seed_vertices[i]] |= np.uint64(1) << np.uint64(i)
    pairs = 0
    for v in range(n - 1, -1, -1):
        m = mask[v]
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            mask[args[w]] |= m
            if live[args[w]]:
                pairs += _popcount(m)
    return pairs


def _count(kernel, c: Circuit, seeds: list[int], live: np.ndarray) -> float:
    seeds = np.asarray(seeds, dtype=np.int64)
    limit = SEEDS_PER_SWEEP * MAX_SWEEPS
    scale = 1.0
    if len(seeds) > limit:
        rng = np.random.default_rng(0)
        scale = len(seeds) / limit
        seeds = rng.choice(seeds, limit, replace=False)
    total = 0
    for start in range(0, len(seeds), SEEDS_PER_SWEEP):
        chunk = seeds[start : start + SEEDS_PER_SWEEP]
        total += int(kernel(c.arg_offsets, c.args, chunk, live))
    return total * scale


def _carrying(c: Circuit, depends, needed) -> int:
    """Wires that carry a derivative: they feed a gate that depends on a ``wrt`` input and
    that a chosen output needs (one rule gate each, in every mode)."""
    return int(np.count_nonzero((depends & needed)[c.wire_owner()]))


def predicted_sizes(c: Circuit, xs: list[int], fs: list[int], depends, needed) -> dict[str, float]:
    """Approximate sizes of the raw forward and backward results."""
    base = float(size(c) + _carrying(c, depends, needed))  # the source and the rule gates
    outputs = [int(c.outputs[i]) for i in fs]
    fwd = _count(_forward_pairs, c, xs, needed)
    bwd = _count(_backward_pairs, c, outputs, depends)
    return {"forward": base + 2 * fwd, "backward": base + 2 * bwd}


HVP_FACTOR = 2.5  # raw hvp / predicted one-sweep size: 0.5–2.4 measured (docs/modes.md)


def predicted_size(c: Circuit, mode: str, wrt=None, of=None) -> float:
    """The approximate size (gates that are not constants) of ``mode``'s raw result for this
    request; ``auto``: the smaller of forward and backward. Invalid requests raise the
    ``CircuitError`` that ``differentiate`` would."""
    lay = layout(c, mode, wrt, of)
    xs, fs = list(lay.xs), list(lay.fs)
    depends, needed = activity(c, xs, fs)
    if mode in JACOBIAN_MODES:
        sizes = predicted_sizes(c, xs, fs, depends, needed)
        return min(sizes.values()) if mode == "auto" else sizes[mode]
    one_sweep = float(size(c) + 3 * _carrying(c, depends, needed))
    return one_sweep if mode in ("jvp", "vjp") else HVP_FACTOR * one_sweep
