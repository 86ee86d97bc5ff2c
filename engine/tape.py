"""Lowering a circuit to an evaluation tape.

An interpreter indexed by vertex number keeps every value alive and walks every gate; it
measured 3.7× slower than CasADi at one point. The tape instead

1. skips every gate no output needs (liveness from the outputs);
2. folds constants: gates whose arguments are all constant are computed once, here (on a
   tape of their own); constant arguments of ``add``/``mul`` become the instruction's
   bias/scale, and an ``add``/``mul`` left with one argument unchanged becomes an alias
   of it (no instruction);
3. orders the gates depth-first from the outputs, so each value is made close to where it
   is read (a gradient built array-at-a-time lists all partials before the backward sweep);
4. gives each live value a slot, reused once the value's last reader has run (a LIFO
   free-list: the slot written next is the one most recently read, still in cache), and
   loads an input, or a constant a fixed op reads, just before its first reader;
5. encodes it all as flat streams, plus a prefetch hint per instruction for values read
   long after they were written (``kernels.py`` documents the encoding).

The lowering is a few Numba sweeps over the circuit's arrays, O(nodes + wires).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numba
import numpy as np

from . import kernels, ops
from .circuit import Circuit
from .errors import CircuitError, ErrorItem, pointer
from .kernels import LOAD, LOAD_CONST, OUT, PREFETCH_PAD

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


@dataclass(frozen=True, eq=False)
class Tape:
    """A circuit lowered for evaluation. ``ins``/``num`` are the kernels' two streams."""

    ins: np.ndarray  # int32 instruction stream
    num: np.ndarray  # float64 number stream
    pre: np.ndarray  # int32 prefetch stream
    n_slots: int  # slots the kernels allocate (per point of a block)
    n_inputs: int
    n_outputs: int
    n_instructions: int  # gate instructions (loads and stores not counted)
    const_outputs: np.ndarray  # int64 output positions whose value is a constant
    const_values: np.ndarray  # float64 their values

    def run_point(self, x: np.ndarray) -> np.ndarray:
        """Outputs (m,) at one point x (n,) float64."""
        out = np.empty(self.n_outputs)
        kernels.run_point(self.ins, self.num, self.pre, self.n_slots, x, out)
        out[self.const_outputs] = self.const_values
        return out

    def run_batch(self, X: np.ndarray, block: int, threads: int = 1) -> np.ndarray:
        """Outputs (m, N) at the points X (n, N) float64 C-contiguous, in blocks of
        ``block`` points shared out over ``threads`` threads."""
        N = X.shape[1]
        out = np.empty((self.n_outputs, N))
        blocks = -(-N // block)
        threads = max(1, min(threads, blocks))
        args = (self.ins, self.num, self.pre, self.n_slots, X, out, block)
        if threads == 1:
            kernels.run_blocks(*args, 0, blocks)
        else:
            shares = [(t * blocks // threads, (t + 1) * blocks // threads) for t in range(threads)]
            for f in [_pool().submit(kernels.run_blocks, *args, *share) for share in shares]:
                f.result()
        out[self.const_outputs] = self.const_values[:, None]
        return out


_executor: tuple[int, ThreadPoolExecutor] | None = None


def _pool() -> ThreadPoolExecutor:
    """Threads for batches, made anew in a forked child (threads do not survive a fork)."""
    global _executor
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(os.cpu_count() or 2, "circuitgrad-eval"))
    return _executor[1]


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
    rep, fold = _fold_reductions(
        c.op, c.arg_offsets, c.args, c.coeffs, c.n_inputs, is_const, value, live, _KIND,
        _HAS_COEFFS,
    )  # fmt: skip
    rargs = rep[c.args]
    reduction = np.isin(_KIND, (SUM, PRODUCT))[c.op]
    reads = ~(is_const[rargs] & reduction[c.wire_owner()])  # folded constants read no slot
    gate = live & ~is_const & (rep == np.arange(c.n_vertices))
    gate[: c.n_inputs] = False
    sched = _schedule(c.arg_offsets, rargs, gate, outputs, rep)
    pos, last_read = _last_reads(c.arg_offsets, rargs, reads, outputs, rep, sched)
    ins, num, pre, n_slots = _emit(
        c.op, c.arg_offsets, rargs, reads, c.coeffs, c.param, c.n_inputs, outputs, is_const,
        value, _KIND, _HAS_PARAM, _HAS_COEFFS, fold, rep, sched, pos, last_read,
    )  # fmt: skip
    const_outputs = np.flatnonzero(is_const[outputs])
    return Tape(
        ins, num, pre, int(n_slots), c.n_inputs, len(outputs), len(sched),
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


PREFETCH_AGE = 64  # instructions since a slot was written beyond which its read is prefetched


@numba.njit(cache=True)
def _fold_reductions(op, arg_offsets, args, coeffs, n_inputs, is_const, value, live, kind,
                     has_coeffs):  # fmt: skip
    """(rep, fold): constant arguments of reductions folded into a bias (sum) or scale
    (product); a reduction left with one argument and no change is that argument (rep)."""
    V = op.shape[0]
    rep = np.arange(V)  # the vertex whose slot holds v's value
    fold = np.zeros(V)
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
            exact_sum = k == SUM and acc == 0.0 and math.copysign(1.0, acc) < 0
            if exact_sum or (k == PRODUCT and acc == 1.0):
                rep[v] = last
    return rep, fold


@numba.njit(cache=True)
def _schedule(arg_offsets, rargs, gate, outputs, rep):
    """The gates to run, in depth-first post-order from the outputs (as CasADi orders its
    algorithm): each gate comes right after the last argument it needs, so values are made
    close to where they are read. (A gradient circuit built array-at-a-time computes all
    partials before the backward sweep; run in vertex order they would all stay alive.)
    ``rargs`` are the arguments through ``rep``, ``gate[v]`` whether v is a gate to run."""
    V = rep.shape[0]
    seen = np.zeros(V, np.bool_)
    sched = np.empty(V, np.int64)
    stack = np.empty(V, np.int64)  # vertex
    at = np.empty(V, np.int64)  # its next argument wire
    n = 0
    for o in outputs:
        r = rep[o]
        if seen[r] or not gate[r]:
            continue
        seen[r] = True
        top = 0
        stack[0], at[0] = r, arg_offsets[r]
        while top >= 0:
            v = stack[top]
            w = at[top]
            if w < arg_offsets[v + 1]:
                at[top] = w + 1
                u = rargs[w]
                if gate[u] and not seen[u]:
                    seen[u] = True
                    top += 1
                    stack[top], at[top] = u, arg_offsets[u]
            else:
                sched[n] = v
                n += 1
                top -= 1
    return sched[:n]


@numba.njit(cache=True)
def _last_reads(arg_offsets, rargs, reads, outputs, rep, sched):
    """(pos, last_read): each scheduled gate's position, and the position of the last read
    of each value held in a slot (an output's own position if nothing else reads it; -1
    for an input only stored). ``reads[w]``: wire w reads a slot (not a folded constant)."""
    V = rep.shape[0]
    pos = np.full(V, -1)
    last_read = np.full(V, -1)
    for i in range(sched.shape[0]):
        v = sched[i]
        pos[v] = i
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            if reads[w]:
                last_read[rargs[w]] = i
    for o in outputs:
        r = rep[o]
        if pos[r] >= 0:
            last_read[r] = max(last_read[r], pos[r])
    return pos, last_read


@numba.njit(cache=True)
def _take(free, state):
    """A slot: the one freed last if any (most recently touched: in cache), else a new one.
    state: [free slots, slots made]."""
    if state[0] > 0:
        state[0] -= 1
        return free[state[0]]
    state[1] += 1
    return state[1] - 1


@numba.njit(cache=True)
def _give(free, state, s):
    free[state[0]] = s
    state[0] += 1


@numba.njit(cache=True)
def _emit(op, arg_offsets, rargs, reads, coeffs, param, n_inputs, outputs, is_const, value,
          kind, has_param, has_coeffs, fold, rep, sched, pos, last_read):  # fmt: skip
    """(ins, num, pre, n_slots): the streams, slots allocated as the schedule runs."""
    V = rep.shape[0]
    n_reads = 0
    for i in range(sched.shape[0]):
        n_reads += arg_offsets[sched[i] + 1] - arg_offsets[sched[i]]
    # each source is loaded once at most; every gate and store is one instruction
    n_words = 3 * sched.shape[0] + n_reads + 3 * (n_inputs + n_reads + outputs.shape[0])
    ins = np.empty(n_words, np.int32)
    num = np.empty(sched.shape[0] + 2 * n_reads)
    pre = np.zeros(sched.shape[0] + n_inputs + n_reads + outputs.shape[0] + PREFETCH_PAD, np.int32)
    slot = np.full(V, -1)
    free = np.empty(V + 1, np.int64)
    state = np.zeros(2, np.int64)
    written = np.zeros(V + 1, np.int64)  # instruction that last wrote each slot
    pc, fp, j = 0, 0, 0  # words, numbers, instructions emitted
    # stores, by the position of the gate whose value they copy (inputs -1, constants -2)
    at = np.empty(outputs.shape[0], np.int64)
    for q in range(outputs.shape[0]):
        r = rep[outputs[q]]
        at[q] = -2 if is_const[r] else pos[r]
    order = np.argsort(at, kind="mergesort")
    q = 0
    while q < order.shape[0] and at[order[q]] == -2:
        q += 1  # constant outputs: filled outside the kernels
    for i in range(-1, sched.shape[0]):
        if i >= 0:
            v = sched[i]
            reduction = kind[op[v]] == SUM or kind[op[v]] == PRODUCT
            for w in range(arg_offsets[v], arg_offsets[v + 1]):  # sources first read here
                u = rargs[w]
                if reads[w] and slot[u] < 0:
                    slot[u] = _take(free, state)
                    written[slot[u]] = j
                    ins[pc], ins[pc + 1] = (LOAD_CONST if is_const[u] else LOAD), slot[u]
                    if is_const[u]:
                        num[fp] = value[u]
                        pc, fp = pc + 2, fp + 1
                    else:
                        ins[pc + 2] = u
                        pc += 3
                    j += 1
            # dest taken before args are freed: block kernels never read what they write
            slot[v] = _take(free, state)
            ins[pc], ins[pc + 1] = op[v], slot[v]
            pc += 2
            n_at = 0
            if reduction:
                ins[pc] = 0  # counted below
                n_at = pc
                pc += 1
                num[fp] = fold[v]
                fp += 1
            oldest, age = 0, PREFETCH_AGE
            for w in range(arg_offsets[v], arg_offsets[v + 1]):
                if not reads[w]:
                    continue
                u = rargs[w]
                ins[pc] = slot[u]
                pc += 1
                if j - written[slot[u]] > age:
                    oldest, age = slot[u], j - written[slot[u]]
                if reduction:
                    ins[n_at] += 1
                    if has_coeffs[op[v]]:
                        num[fp] = coeffs[w]
                        fp += 1
            if has_param[op[v]]:
                num[fp] = param[v]
                fp += 1
            pre[j] = oldest
            written[slot[v]] = j
            j += 1
            for w in range(arg_offsets[v], arg_offsets[v + 1]):  # values read for the last time
                u = rargs[w]
                if reads[w] and slot[u] >= 0 and last_read[u] == i:
                    _give(free, state, slot[u])
                    slot[u] = -1
        while q < order.shape[0] and at[order[q]] == i:
            r = rep[outputs[order[q]]]
            if slot[r] < 0:  # an input that is only an output
                slot[r] = _take(free, state)
                written[slot[r]] = j
                ins[pc], ins[pc + 1], ins[pc + 2] = LOAD, slot[r], r
                pc, j = pc + 3, j + 1
            ins[pc], ins[pc + 1], ins[pc + 2] = OUT, slot[r], order[q]
            pre[j] = slot[r] if j - written[slot[r]] > PREFETCH_AGE else 0
            pc, j, q = pc + 3, j + 1, q + 1
        if i < 0:  # inputs that are only stored
            for o in outputs:
                r = rep[o]
                if not is_const[r] and pos[r] < 0 and last_read[r] < 0 and slot[r] >= 0:
                    _give(free, state, slot[r])
                    slot[r] = -1
        elif last_read[sched[i]] <= i:  # an output nothing else reads
            _give(free, state, slot[sched[i]])
            slot[sched[i]] = -1
    return ins[:pc].copy(), num[:fp].copy(), pre[: j + PREFETCH_PAD].copy(), state[1]
