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

from .. import jit
from ..core import ops
from ..core.circuit import Circuit
from ..core.ops import HAS_COEFFS, HAS_PARAM, MAX_ARGS, MIN_ARGS
from ..errors import CircuitError, ErrorItem, pointer
from . import kernels
from .kernels import LOAD, LOAD_CONST, OUT, PREFETCH_PAD

# what the lowering needs to know of each op code (read from the table, never listed here)
# A strong product folds no constants (a zero among them decides only once the product is
# known to be NaN), so its constant arguments are read from slots like any other.
SOURCE_INPUT, SOURCE_CONST, FIXED, SUM, PRODUCT, STRONG = 0, 1, 2, 3, 4, 5  # reductions: >= SUM
_REDUCTION_KIND = {ops.SUM: SUM, ops.PRODUCT: PRODUCT, ops.STRONG_PRODUCT: STRONG}
_KIND = np.array(
    [
        SOURCE_INPUT
        if op is ops.INPUT
        else SOURCE_CONST
        if op is ops.CONST
        else _REDUCTION_KIND.get(op.reduction, FIXED)
        for op in ops.OPS
    ],
    dtype=np.int64,
)


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
    bad, vertex = _check(*arrays, c.n_inputs, c.outputs, _KIND, MIN_ARGS, MAX_ARGS)
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
    V = c.n_vertices
    rep, fold = _fold_reductions(
        c.op, c.arg_offsets, c.args, c.coeffs, c.n_inputs, is_const, value, live, _KIND,
        HAS_COEFFS,
    )  # fmt: skip
    rargs = rep[c.args]
    folding = np.isin(_KIND, (SUM, PRODUCT))[c.op]
    reads = ~(is_const[rargs] & folding[c.wire_owner()])  # folded constants read no slot
    gate = live & ~is_const & (rep == np.arange(V))
    gate[: c.n_inputs] = False
    sched = _schedule(c.arg_offsets, rargs, gate, outputs, rep)
    pos, offsets, ids, reads, coeffs = _renumber(c.arg_offsets, rargs, reads, c.coeffs, sched, V)
    held = rep[outputs]
    out_ids = np.where(pos[held] >= 0, pos[held], len(sched) + held)
    last_read = _last_reads(offsets, ids, reads, out_ids, len(sched) + V)
    ins, num, pre, n_slots = _emit(
        c.op[sched], c.param[sched], fold[sched], offsets, ids, reads, coeffs, out_ids,
        c.n_inputs, is_const, value, _KIND, HAS_PARAM, HAS_COEFFS, last_read,
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
@jit.entry
@numba.njit(cache=True)
def _check(op, arg_offsets, args, n_inputs, outputs, kind, min_args, max_args):
    """(0, 0) or (problem, vertex): the kernels trust the tape, so the tape trusts nothing."""
    for v in range(n_inputs, op.shape[0]):
        code = op[v]
        if code >= kind.shape[0] or kind[code] == SOURCE_INPUT:
            return 1, v
        n = arg_offsets[v + 1] - arg_offsets[v]
        if n < min_args[code] or n > max_args[code]:
            return 2, v
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            if args[w] < 0 or args[w] >= v:
                return 3, v
    for j in range(outputs.shape[0]):
        if outputs[j] < 0 or outputs[j] >= op.shape[0]:
            return 4, j
    return 0, 0


@jit.entry
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


@jit.entry
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


@jit.entry
@numba.njit(cache=True)
def _fold_reductions(op, arg_offsets, args, coeffs, n_inputs, is_const, value, live, kind,
                     has_coeffs):  # fmt: skip
    """(rep, fold): constant arguments of reductions folded into a bias (sum) or scale
    (product); a reduction left with one argument and no change is that argument (rep).
    A strong product keeps its constants as arguments (scale 1)."""
    V = op.shape[0]
    rep = np.arange(V)  # the vertex whose slot holds v's value
    fold = np.ones(V)
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


@jit.entry
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


@jit.entry
@numba.njit(cache=True)
def _renumber(arg_offsets, rargs, reads, coeffs, sched, V):
    """The scheduled gates' arguments in schedule order, as value ids: a gate is its
    position in the schedule, a source (input or constant) L + its vertex, L the number of
    gates. What follows then walks memory in schedule order, not all over the circuit.
    Returns (pos, offsets, ids, reads, coeffs) with pos[v] the position of gate v or -1."""
    L = sched.shape[0]
    pos = np.full(V, -1)
    offsets = np.empty(L + 1, np.int64)
    offsets[0] = 0
    for i in range(L):
        pos[sched[i]] = i
        offsets[i + 1] = offsets[i] + arg_offsets[sched[i] + 1] - arg_offsets[sched[i]]
    ids = np.empty(offsets[L], np.int64)
    s_reads = np.empty(offsets[L], np.bool_)
    s_coeffs = np.empty(offsets[L])
    for i in range(L):
        k = offsets[i]
        for w in range(arg_offsets[sched[i]], arg_offsets[sched[i] + 1]):
            u = rargs[w]
            ids[k] = pos[u] if pos[u] >= 0 else L + u
            s_reads[k] = reads[w]
            s_coeffs[k] = coeffs[w]
            k += 1
    return pos, offsets, ids, s_reads, s_coeffs


@jit.entry
@numba.njit(cache=True)
def _last_reads(offsets, ids, reads, out_ids, n_ids):
    """The position of the last read of each value id held in a slot (a gate that is an
    output: its own position if nothing else reads it; -1: an input only stored)."""
    last_read = np.full(n_ids, -1)
    for i in range(offsets.shape[0] - 1):
        for k in range(offsets[i], offsets[i + 1]):
            if reads[k]:
                last_read[ids[k]] = i
    for x in out_ids:
        if x < offsets.shape[0] - 1:
            last_read[x] = max(last_read[x], x)
    return last_read


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


@jit.entry
@numba.njit(cache=True)
def _emit(codes, params, folds, offsets, ids, reads, coeffs, out_ids, n_inputs, is_const,
          value, kind, has_param, has_coeffs, last_read):  # fmt: skip
    """(ins, num, pre, n_slots): the streams, slots allocated as the schedule runs. Gate i
    of the schedule has op codes[i], parameter params[i], folded constants folds[i] and
    arguments ids[offsets[i]:offsets[i + 1]] (value ids, see ``_renumber``)."""
    L = codes.shape[0]
    V = is_const.shape[0]  # value id L + u: source vertex u
    n_reads = ids.shape[0]
    # each source is loaded once at most; every gate and store is one instruction
    n_words = 3 * L + n_reads + 3 * (n_inputs + n_reads + out_ids.shape[0])
    ins = np.empty(n_words, np.int32)
    num = np.empty(L + 2 * n_reads)
    pre = np.zeros(L + n_inputs + n_reads + out_ids.shape[0] + PREFETCH_PAD, np.int32)
    slot = np.full(L + V, -1)
    free = np.empty(L + V, np.int64)
    state = np.zeros(2, np.int64)
    written = np.zeros(L + V, np.int64)  # instruction that last wrote each slot
    pc, fp, j = 0, 0, 0  # words, numbers, instructions emitted
    # stores, by the position of the gate whose value they copy (inputs -1, constants -2)
    at = np.empty(out_ids.shape[0], np.int64)
    for q in range(out_ids.shape[0]):
        x = out_ids[q]
        at[q] = x if x < L else (-2 if is_const[x - L] else -1)
    order = np.argsort(at, kind="mergesort")
    q = 0
    while q < order.shape[0] and at[order[q]] == -2:
        q += 1  # constant outputs: filled outside the kernels
    for i in range(-1, L):
        if i >= 0:
            k_i = kind[codes[i]]
            reduction = k_i >= SUM
            for k in range(offsets[i], offsets[i + 1]):  # sources first read here
                x = ids[k]
                if reads[k] and slot[x] < 0:
                    slot[x] = _take(free, state)
                    written[slot[x]] = j
                    u = x - L
                    ins[pc], ins[pc + 1] = (LOAD_CONST if is_const[u] else LOAD), slot[x]
                    if is_const[u]:
                        num[fp] = value[u]
                        pc, fp = pc + 2, fp + 1
                    else:
                        ins[pc + 2] = u
                        pc += 3
                    j += 1
            # dest taken before args are freed: block kernels never read what they write
            slot[i] = _take(free, state)
            ins[pc], ins[pc + 1] = codes[i], slot[i]
            pc += 2
            n_at = 0
            if reduction:
                ins[pc] = 0  # counted below
                n_at = pc
                pc += 1
                num[fp] = folds[i]
                fp += 1
            oldest, age = 0, PREFETCH_AGE
            for k in range(offsets[i], offsets[i + 1]):
                if not reads[k]:
                    continue
                x = ids[k]
                ins[pc] = slot[x]
                pc += 1
                if j - written[slot[x]] > age:
                    oldest, age = slot[x], j - written[slot[x]]
                if reduction:
                    ins[n_at] += 1
                    if has_coeffs[codes[i]]:
                        num[fp] = coeffs[k]
                        fp += 1
            if has_param[codes[i]]:
                num[fp] = params[i]
                fp += 1
            pre[j] = oldest
            written[slot[i]] = j
            j += 1
            for k in range(offsets[i], offsets[i + 1]):  # values read for the last time
                x = ids[k]
                if reads[k] and slot[x] >= 0 and last_read[x] == i:
                    _give(free, state, slot[x])
                    slot[x] = -1
        while q < order.shape[0] and at[order[q]] == i:
            x = out_ids[order[q]]
            if slot[x] < 0:  # an input that is only an output
                slot[x] = _take(free, state)
                written[slot[x]] = j
                ins[pc], ins[pc + 1], ins[pc + 2] = LOAD, slot[x], x - L
                pc, j = pc + 3, j + 1
            ins[pc], ins[pc + 1], ins[pc + 2] = OUT, slot[x], order[q]
            pre[j] = slot[x] if j - written[slot[x]] > PREFETCH_AGE else 0
            pc, j, q = pc + 3, j + 1, q + 1
        if i < 0:  # inputs that are only stored
            for x in out_ids:
                if x >= L and last_read[x] < 0 and slot[x] >= 0:
                    _give(free, state, slot[x])
                    slot[x] = -1
        elif last_read[i] <= i:  # an output nothing else reads
            _give(free, state, slot[i])
            slot[i] = -1
    return ins[:pc].copy(), num[:fp].copy(), pre[: j + PREFETCH_PAD].copy(), state[1]
