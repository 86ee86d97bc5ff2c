"""Evaluating a circuit at one point or at a batch of points.

    evaluate(c, points)            -> (N, m) float64, the fast path: c's tape (tape.py) run
                                      by the generated kernels (kernels.py)
    evaluate_reference(c, points)  -> the same, vertex by vertex in plain NumPy (for tests)

``points`` is an (N, n) array (columns in input order), one point as a 1-D array of length
n, a dict input name -> number or 1-D array (numbers broadcast against arrays), or a list
of dicts input name -> number, one per point. Values follow IEEE-754: outside an op's
domain the result is NaN or ±Infinity, never an exception or a warning. A batch may be
split anywhere: evaluating slices gives the same rows.

The kernels compile on first use (seconds) and are cached on disk after that; a worker
calls ``warm_up()`` at start to pay that before its first request.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Mapping

import numpy as np

from ..core import ops, scalar
from ..core.circuit import Circuit
from ..errors import MAX_ERRORS, CircuitError, ErrorItem, pointer
from .tape import Tape, compile_tape

__all__ = ["evaluate", "evaluate_reference", "tape_of", "compile_tape", "as_points", "warm_up"]

# Points per block. Per instruction the block kernel pays a dispatch and, for a value
# written long before, a trip to memory; both are shared by the block's points, and the
# loops over them vectorise. Measured on gradient circuits of 10⁴–10⁶ gates, 64 points
# is the best or close to it; fewer only when one thread's slots would pass the budget.
BLOCK = 64
MIN_BLOCK = 8
SLOT_BUDGET = 256 << 20  # bytes of slots per thread
THREAD_WORK = 1 << 17  # instructions × points (≈ 0.3 ms) a thread's start-up is worth

_tapes: weakref.WeakKeyDictionary[Circuit, Tape] = weakref.WeakKeyDictionary()


def tape_of(c: Circuit) -> Tape:
    """c's tape, lowered on first use and kept as long as c lives."""
    tape = _tapes.get(c)
    if tape is None:
        tape = _tapes[c] = compile_tape(c)
    return tape


def block_size(tape: Tape, n_points: int, threads: int = 2) -> int:
    """Points per block: within the budget, and leaving every thread some blocks."""
    b = BLOCK
    while b > MIN_BLOCK and (tape.n_slots * b * 8 > SLOT_BUDGET or b * threads > n_points):
        b //= 2
    return b


def evaluate(c: Circuit, points, *, threads: int | None = None) -> np.ndarray:
    """Outputs of ``c`` at each point: (N, m) float64, row i for point i. A batch runs on
    ``threads`` threads (default: the CPUs this process may use)."""
    X = as_points(c, points)
    tape = tape_of(c)
    if len(X) == 1:
        return tape.run_point(np.ascontiguousarray(X[0]))[None, :]
    threads = threads or len(os.sched_getaffinity(0))
    threads = max(1, min(threads, len(X) * tape.n_instructions // THREAD_WORK))
    block = block_size(tape, len(X), threads)
    out = tape.run_batch(np.ascontiguousarray(X.T), block, threads)
    return np.ascontiguousarray(out.T)


def warm_up() -> None:
    """Compile, or load from the cache, the lowering and both kernels."""
    sin, add = ops.BY_NAME["sin"].code, ops.ADD.code
    c = Circuit.from_arrays(
        ["x"], [0, sin, add], [0, 0, 1, 3], [0, 1, 0], [1.0] * 3, [0.0] * 3, [2]
    )
    evaluate(c, [0.5])
    evaluate(c, [[0.5], [1.5]], threads=1)


def evaluate_reference(c: Circuit, points) -> np.ndarray:
    """``evaluate`` computed one vertex at a time, a NumPy column per vertex."""
    X = as_points(c, points)
    columns: list[np.ndarray] = []
    constant = np.zeros(c.n_vertices, bool)  # a const, or a gate of constants only
    with np.errstate(all="ignore"):
        for v in range(c.n_vertices):
            op = ops.BY_CODE[c.op[v]]
            args = c.args_of(v)
            a = [columns[u] for u in args]
            constant[v] = op is ops.CONST or (len(args) > 0 and constant[args].all())
            if v < c.n_inputs:
                col = X[:, v]
            elif op is ops.CONST:
                col = np.full(len(X), c.param[v])
            elif op.reduction == ops.STRONG_PRODUCT:
                col = scalar.strong_product(a)
            elif op.reduction is not None:
                cs = c.coeffs[c.arg_offsets[v] : c.arg_offsets[v + 1]]
                col = _reduce(op.reduction, a, cs, constant[args])
            elif op.param is not None:
                col = op.evaluate(*a, c.param[v])
            else:
                col = op.evaluate(*a)
            columns.append(np.broadcast_to(np.asarray(col, dtype=np.float64), (len(X),)))
    out = np.empty((len(X), len(c.outputs)))
    for j, o in enumerate(c.outputs):
        out[:, j] = columns[o]
    return out


def _reduce(kind: str, a: list, coeffs: np.ndarray, constant: np.ndarray):
    """Σ cᵢ·aᵢ from −0.0 or Π aᵢ from 1: the constant arguments first (the tape folds them),
    then the others, each in argument order (docs/conventions.md)."""
    acc = np.float64(ops.IDENTITY[kind])
    for j in [*np.flatnonzero(constant), *np.flatnonzero(~constant)]:
        acc = acc + coeffs[j] * a[j] if kind == ops.SUM else acc * a[j]
    return acc


def as_points(c: Circuit, points) -> np.ndarray:
    """``points`` as an (N, n) float64 array in c's input order, or a CircuitError naming
    the place. Also takes a list of mappings name -> number, one per point (the HTTP form)."""
    if isinstance(points, Mapping):
        return _from_mapping(c, points, pointer("points"))
    if isinstance(points, list | tuple) and points and isinstance(points[0], Mapping):
        return _from_rows(c, points)
    try:
        a = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise CircuitError("points must be an array of numbers", pointer("points")) from None
    n = c.n_inputs
    if a.ndim == 1 and len(a) == n:
        return a[None, :]
    if a.ndim == 2 and a.shape[1] == n:
        return a
    raise CircuitError(
        f"points must have shape (N, {n}) or ({n},), a column per input, not {a.shape}",
        pointer("points"),
    )


def _from_rows(c: Circuit, rows) -> np.ndarray:
    X = np.empty((len(rows), c.n_inputs))
    errors: list[ErrorItem] = []
    for i, row in enumerate(rows):
        where = pointer("points", i)
        try:
            if not isinstance(row, Mapping):
                raise CircuitError("must be an object of input values", where)
            x = _from_mapping(c, row, where)
            if len(x) != 1:
                raise CircuitError("values must be numbers", where)
            X[i] = x[0]
        except CircuitError as e:
            errors += e.errors
            if len(errors) >= MAX_ERRORS:
                break
    if errors:
        raise CircuitError(errors)
    return X


def _from_mapping(c: Circuit, points: Mapping, base: str) -> np.ndarray:
    known = set(c.inputs)
    unknown = [k for k in points if k not in known]
    errors = [ErrorItem(base + pointer(k), f"unknown input {k}") for k in unknown]
    columns = {}
    for name in c.inputs:
        where = base + pointer(name)
        if name not in points:
            errors.append(ErrorItem(where, f"missing input {name}"))
            continue
        try:
            col = np.asarray(points[name], dtype=np.float64)
        except (TypeError, ValueError):
            errors.append(ErrorItem(where, "must be a number or numbers"))
            continue
        if col.ndim > 1:
            errors.append(ErrorItem(where, "must be a number or a 1-D array"))
            continue
        columns[name] = col
    lengths = sorted({len(col) for col in columns.values() if col.ndim == 1})
    if len(lengths) > 1:
        for name, col in columns.items():
            if col.ndim == 1:
                message = f"has {len(col)} values; the columns have {lengths}"
                errors.append(ErrorItem(base + pointer(name), message))
    if errors:
        raise CircuitError(errors)
    X = np.empty((lengths[0] if lengths else 1, c.n_inputs))
    for i, name in enumerate(c.inputs):
        X[:, i] = columns[name]
    return X
