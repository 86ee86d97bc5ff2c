"""Lowering a circuit to an evaluation tape.

A vertex-indexed interpreter keeps every value alive and walks every gate; measured 3.7×
slower than CasADi at one point. The tape instead

1. skips every gate no output needs (liveness from the outputs);
2. folds constants: gates whose arguments are all constant are computed once, here;
   constant arguments of ``add``/``mul`` become the instruction's bias/scale, and an
   ``add``/``mul`` left with one argument unchanged becomes an alias of it (no instruction);
3. gives each live value a slot, reused once the value's last reader has run (a LIFO
   free-list, so the slot written next is the one most recently read: in cache), and loads
   an input or a constant a fixed op needs only just before its first reader;
4. encodes everything as two flat streams (``kernels.py`` documents the encoding).

The lowering itself is a few Numba sweeps over the circuit's arrays, O(nodes + wires).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from . import kernels, ops
from .circuit import Circuit
from .errors import CircuitError, ErrorItem, pointer

# what the lowering needs to know of each op code (read from the table, never listed here)
SOURCE_INPUT, SOURCE_CONST, FIXED, SUM, PRODUCT = 0, 1, 2, 3, 4
_KIND = np.array(
    [
        SOURCE_INPUT
        if op is ops.INPUT
        else SOURCE_CONST
        if op is ops.CONST
        else {"sum": SUM, "product": PRODUCT}.get(op.reduction, FIXED)
        for op in ops.OPS
    ],
    dtype=np.int64,
)
_MIN_ARGS = np.array([op.min_args for op in ops.OPS], dtype=np.int64)
_MAX_ARGS = np.array([-1 if op.max_args is None else op.max_args for op in ops.OPS], np.int64)
_HAS_PARAM = np.array([op.param is not None for op in ops.OPS], dtype=np.bool_)
_HAS_COEFFS = np.array([op.coeffs for op in ops.OPS], dtype=np.bool_)
OUT, LOAD, LOAD_CONST = kernels.OUT, kernels.LOAD, kernels.LOAD_CONST


@dataclass(frozen=True, eq=False)
class Tape:
    """A circuit lowered for evaluation. ``ins``/``num`` are the kernels' two streams."""

    ins: np.ndarray  # int32 instruction stream
    num: np.ndarray  # float64 number stream
    n_slots: int  # slots the kernels allocate (per point of a block)
    n_inputs: int
    n_outputs: int
    n_instructions: int  # gate instructions (loads and stores not counted)
    const_outputs: np.ndarray  # int64 output positions whose value is a constant
    const_values: np.ndarray  # float64 their values

    def run_point(self, x: np.ndarray) -> np.ndarray:
        """Outputs (m,) at one point x (n,) float64."""
        out = np.empty(self.n_outputs)
        kernels.run_point(self.ins, self.num, self.n_slots, x, out)
        out[self.const_outputs] = self.const_values
        return out

    def run_batch(self, X: np.ndarray, block: int, threads: int) -> np.ndarray:
        """Outputs (m, N) at the points X (n, N) float64 C-contiguous."""
        out = np.empty((self.n_outputs, X.shape[1]))
        if X.shape[1]:
            kernels.run_batch(self.ins, self.num, self.n_slots, X, out, block, threads)
        out[self.const_outputs] = self.const_values[:, None]
        return out


def compile_tape(c: Circuit) -> Tape:
    """Lower ``c`` (``evaluate.tape_of`` caches the result per circuit)."""
    arrays = (c.op, c.arg_offsets, c.args)
    bad, vertex = _check(*arrays, c.n_inputs, c.outputs, _KIND, _MIN_ARGS, _MAX_ARGS)
    if bad:
        raise _malformed(c, bad, vertex)
    is_const = _constant_gates(*arrays, c.n_inputs, _KIND)
    live = _liveness(*arrays, c.n_inputs, c.outputs, is_const)
    value = np.full(c.n_vertices, np.nan)
    sources = c.op == ops.CONST.code
    value[sources] = c.param[sources]
    folded = np.flatnonzero(live & is_const & ~sources)
    if len(folded):  # constant gates that feed the rest: run them once, on their own tape
        sub = _lower(c, folded, sources, value, _liveness(*arrays, 0, folded, sources))
        value[folded] = sub.run_point(np.empty(0))
    return _lower(c, c.outputs, is_const, value, live)


def _lower(c: Circuit, outputs, is_const, value, live) -> Tape:
    ins, num, n_slots, n_instructions = _emit(
        c.op, c.arg_offsets, c.args, c.coeffs, c.param, c.n_inputs, outputs,
        is_const, value, live, _KIND, _HAS_PARAM, _HAS_COEFFS,
    )  # fmt: skip
    const_outputs = np.flatnonzero(is_const[outputs])
    return Tape(
        ins, num, int(n_slots), c.n_inputs, len(outputs), int(n_instructions),
        const_outputs, value[outputs[const_outputs]],
    )  # fmt: skip


def _malformed(c: Circuit, bad: int, vertex: int) -> CircuitError:
    if bad == 4:
        return CircuitError([ErrorItem(pointer("outputs", vertex), "no such vertex")])
    where = pointer("gates", vertex - c.n_inputs)
    message = {
        1: "unknown op code",
        2: "wrong number of arguments",
        3: "argument must be an earlier vertex",
    }[bad]
    return CircuitError([ErrorItem(where, message)])


# -- sweeps ----------------------------------------------------------------------------
@numba.njit(cache=True)
def _check(op, arg_offsets, args, n_inputs, outputs, kind, min_args, max_args):
    """(0, 0) or (problem, vertex): the kernels trust the tape, so the tape trusts nothing."""
    for v in range(n_inputs, op.shape[0]):
        code = op[v]
        if code >= kind.shape[0] or kind[code] == SOURCE_INPUT:
            return 1, v
        n = arg_offsets[v + 1] - arg_offsets[v]
        if n < min_args[code] or (max_args[code] >= 0 and n > max_args[code]):
            return 2, v
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            if args[w] < 0 or args[w] >= v:
                return 3, v
    for j in range(outputs.shape[0]):
        if outputs[j] < 0 or outputs[j] >= op.shape[0]:
            return 4, j
    return 0, 0


@numba.njit(cache=True)
def _constant_gates(op, arg_offsets, args, n_inputs, kind):
    """Constants, and gates all of whose arguments are constant."""
    is_const = np.zeros(op.shape[0], np.bool_)
    for v in range(n_inputs, op.shape[0]):
        if kind[op[v]] == SOURCE_CONST:
            is_const[v] = True
            continue
        lo, hi = arg_offsets[v], arg_offsets[v + 1]
        all_const = hi > lo
        for w in range(lo, hi):
            if not is_const[args[w]]:
                all_const = False
                break
        is_const[v] = all_const
    return is_const


@numba.njit(cache=True)
def _liveness(op, arg_offsets, args, n_inputs, outputs, is_const):
    """Vertices some output needs; a constant (folded) vertex needs none of its arguments."""
    live = np.zeros(op.shape[0], np.bool_)
    for o in outputs:
        live[o] = True
    for v in range(op.shape[0] - 1, n_inputs - 1, -1):
        if live[v] and not is_const[v]:
            for w in range(arg_offsets[v], arg_offsets[v + 1]):
                live[args[w]] = True
    return live


@numba.njit(cache=True)
def _take(free, n_free, n_slots):
    """A slot: the one freed last if any (still in cache), else a new one."""
    if n_free > 0:
        return free[n_free - 1], n_free - 1, n_slots
    return n_slots, n_free, n_slots + 1


@numba.njit(cache=True)
def _emit(
    op, arg_offsets, args, coeffs, param, n_inputs, outputs,
    is_const, value, live, kind, has_param, has_coeffs,
):  # fmt: skip
    V = op.shape[0]
    # 1. fold constant arguments of reductions; a reduction of one value is that value
    rep = np.arange(V)  # the vertex whose slot holds v's value
    fold = np.zeros(V)  # bias (sum) or scale (product) from the constant arguments
    for v in range(n_inputs, V):
        k = kind[op[v]]
        if not live[v] or is_const[v] or (k != SUM and k != PRODUCT):
            continue
        acc = -0.0 if k == SUM else 1.0  # exact identities: -0.0 + x == x for every x
        n_vars, last, last_coeff = 0, -1, 1.0
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            u = rep[args[w]]
            coeff = coeffs[w] if has_coeffs[op[v]] else 1.0
            if is_const[u]:
                acc = acc + coeff * value[u] if k == SUM else acc * value[u]
            else:
                n_vars, last, last_coeff = n_vars + 1, u, coeff
        fold[v] = acc
        if n_vars == 1 and last_coeff == 1.0:
            if (k == SUM and acc == 0.0 and math.copysign(1.0, acc) < 0) or (k == PRODUCT and acc == 1.0):
                rep[v] = last

    # 2. last reader of each slot value; stream sizes
    last_use = np.full(V, -1)
    n_ins, n_num, n_instructions = 3 * outputs.shape[0], 0, 0
    for v in range(n_inputs, V):
        if not live[v] or is_const[v] or rep[v] != v:
            continue
        k = kind[op[v]]
        n_instructions += 1
        n_ins += 3 + arg_offsets[v + 1] - arg_offsets[v]
        n_num += 1 + arg_offsets[v + 1] - arg_offsets[v]
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            u = rep[args[w]]
            if not (is_const[u] and (k == SUM or k == PRODUCT)):
                if last_use[u] < 0 and (u < n_inputs or is_const[u]):
                    n_ins += 3  # its load
                    n_num += 1
                last_use[u] = v
    for o in outputs:
        u = rep[o]
        if not is_const[u]:
            if last_use[u] < 0 and u < n_inputs:
                n_ins += 3
            last_use[u] = max(last_use[u], o)

    # 3. emit, allocating slots from a free-list
    ins = np.empty(n_ins, np.int32)
    num = np.empty(n_num)
    slot = np.full(V, -1)
    free = np.empty(V + 1, np.int64)
    n_free, n_slots, pc, fp = 0, 0, 0, 0
    order = np.argsort(outputs, kind="mergesort")
    next_out = 0
    for v in range(V):
        if not live[v] or is_const[v]:
            continue
        r = rep[v]
        if r == v and v >= n_inputs:
            k = kind[op[v]]
            reduction = k == SUM or k == PRODUCT
            n_vars = 0
            for w in range(arg_offsets[v], arg_offsets[v + 1]):  # load sources first used here
                u = rep[args[w]]
                if reduction and is_const[u]:
                    continue
                n_vars += 1
                if slot[u] < 0:
                    slot[u], n_free, n_slots = _take(free, n_free, n_slots)
                    if is_const[u]:
                        ins[pc], ins[pc + 1] = LOAD_CONST, slot[u]
                        num[fp] = value[u]
                        pc, fp = pc + 2, fp + 1
                    else:  # an input
                        ins[pc], ins[pc + 1], ins[pc + 2] = LOAD, slot[u], u
                        pc += 3
            # dest taken before args are freed: block kernels never read what they write
            slot[v], n_free, n_slots = _take(free, n_free, n_slots)
            ins[pc], ins[pc + 1] = op[v], slot[v]
            pc += 2
            if reduction:
                ins[pc] = n_vars
                pc += 1
                num[fp] = fold[v]
                fp += 1
            for w in range(arg_offsets[v], arg_offsets[v + 1]):
                u = rep[args[w]]
                if reduction and is_const[u]:
                    continue
                ins[pc] = slot[u]
                pc += 1
                if reduction and has_coeffs[op[v]]:
                    num[fp] = coeffs[w]
                    fp += 1
            if has_param[op[v]] and not reduction:
                num[fp] = param[v]
                fp += 1
            for w in range(arg_offsets[v], arg_offsets[v + 1]):  # values read for the last time
                u = rep[args[w]]
                if slot[u] >= 0 and last_use[u] == v:
                    free[n_free] = slot[u]
                    n_free += 1
                    slot[u] = -1
        while next_out < outputs.shape[0] and outputs[order[next_out]] < v:
            next_out += 1  # constant outputs, filled outside the kernels
        while next_out < outputs.shape[0] and outputs[order[next_out]] == v:
            if slot[r] < 0:  # an input that is only an output
                slot[r], n_free, n_slots = _take(free, n_free, n_slots)
                ins[pc], ins[pc + 1], ins[pc + 2] = LOAD, slot[r], r
                pc += 3
            ins[pc], ins[pc + 1], ins[pc + 2] = OUT, slot[r], order[next_out]
            pc += 3
            next_out += 1
        if slot[r] >= 0 and last_use[r] <= v:
            free[n_free] = slot[r]
            n_free += 1
            slot[r] = -1
    return ins[:pc].copy(), num[:fp].copy(), n_slots, n_instructions
