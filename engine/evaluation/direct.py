"""Evaluation at a handful of points without lowering: every vertex is its own slot.

``compile_tape`` schedules the gates, folds constants and reuses slots so that batches
run fast, at about a microsecond per gate; for a few points (the check of
``verify.py``) that lowering costs more than the runs. ``direct_tape`` writes the same
instruction streams in vertex order in one pass — each gate's instruction as the kernels
of ``kernels.py`` read it, a load per input and constant, a store per output — and the
same kernels run them. The price is a slot per vertex: V·B values for blocks of B points.
"""

from __future__ import annotations

import numba
import numpy as np

from .. import jit
from ..core import ops
from ..core.circuit import Circuit
from ..core.ops import HAS_COEFFS, HAS_PARAM, MAX_ARGS, MIN_ARGS
from .kernels import LOAD, LOAD_CONST, OUT, PREFETCH_PAD
from .tape import (
    _KIND,
    SUM,
    Tape,
    _check,
    _malformed,
)

BLOCK = 8  # points per block: V·BLOCK slots


@jit.entry
@numba.njit(cache=True)
def _streams(op, arg_offsets, args, coeffs, param, outputs, n_inputs, kind, has_param,
             has_coeffs):  # fmt: skip
    """(ins, num, instructions): vertex v in slot v, in vertex order, then the stores."""
    V, W, m = op.shape[0], args.shape[0], outputs.shape[0]
    ins = np.empty(3 * V + W + 3 * m, np.int32)
    num = np.empty(2 * V + W)
    pc, fp = 0, 0
    for v in range(V):
        code = op[v]
        if v < n_inputs:
            ins[pc], ins[pc + 1], ins[pc + 2] = LOAD, v, v
            pc += 3
            continue
        if code == LOAD_CONST:
            ins[pc], ins[pc + 1] = LOAD_CONST, v
            num[fp] = param[v]
            pc, fp = pc + 2, fp + 1
            continue
        ins[pc], ins[pc + 1] = code, v
        pc += 2
        lo, hi = arg_offsets[v], arg_offsets[v + 1]
        if kind[code] >= SUM:  # a reduction: its count, then its identity
            ins[pc] = hi - lo
            pc += 1
            num[fp] = -0.0 if kind[code] == SUM else 1.0  # the reduction's identity
            fp += 1
        for w in range(lo, hi):
            ins[pc] = args[w]
            pc += 1
            if has_coeffs[code]:
                num[fp] = coeffs[w]
                fp += 1
        if has_param[code]:
            num[fp] = param[v]
            fp += 1
    for q in range(m):
        ins[pc], ins[pc + 1], ins[pc + 2] = OUT, outputs[q], q
        pc += 3
    return ins[:pc].copy(), num[:fp].copy(), V + m


def direct_tape(c: Circuit) -> Tape:
    """``c`` as a tape with a slot per vertex (no liveness, folding or scheduling)."""
    bad, vertex = _check(c.op, c.arg_offsets, c.args, c.n_inputs, c.outputs, _KIND, MIN_ARGS,
                         MAX_ARGS)  # fmt: skip
    if bad:
        raise _malformed(c, bad, vertex)
    ins, num, count = _streams(c.op, c.arg_offsets, c.args, c.coeffs, c.param, c.outputs,
                               c.n_inputs, _KIND, HAS_PARAM, HAS_COEFFS)  # fmt: skip
    pre = np.zeros(count + PREFETCH_PAD, np.int32)
    empty = np.empty(0, np.int64)
    return Tape(ins, num, pre, c.n_vertices, c.n_inputs, len(c.outputs), c.n_gates, empty,
                np.empty(0))  # fmt: skip


def run(tape: Tape, X: np.ndarray) -> np.ndarray:
    """Outputs (N, m) of a direct tape at the rows of X (N, n), on one thread."""
    X = np.ascontiguousarray(np.asarray(X, dtype=np.float64).T)
    out = tape.run_batch(X, max(1, min(BLOCK, X.shape[1])), threads=1)
    return np.ascontiguousarray(out.T)


def evaluate_direct(c: Circuit, X: np.ndarray) -> np.ndarray:
    """Outputs (N, m) of ``c`` at the rows of X (N, n), through ``direct_tape``: for a few
    points of a large circuit, several times cheaper than lowering it."""
    return run(direct_tape(c), X)


assert ops.INPUT.code == LOAD and ops.CONST.code == LOAD_CONST
