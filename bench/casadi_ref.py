"""The reference side of the benchmark: CasADi's SX graph of one of our circuits.

    sx_graph(c)          -> (x, f): an SX input vector and SX outputs computing what c does
    casadi_stages(c, x0, X, ...) -> dict of timings and results, one key per bench stage

Building the graph gate by gate from Python costs a SWIG call (≈10 µs) per gate, tens of
seconds for 10⁶ gates. So wide circuits are built level by level (vertices of equal depth
together): each level gathers all its argument wires in a few vector indexing calls and
applies each op once to a vector of gates. Values live in a log-structured list of SX
vectors (merged like a binary counter), so a gather touches O(log depth) of them. Deep,
narrow circuits (the chain) are built scalar by scalar: one call per gate beats dozens of
calls per one-gate level. Either way the graph has one CasADi node per operation our gate
performs (n-ary ``add``/``mul`` become chains, ``sigmoid`` becomes 1/(1+exp(−a)): CasADi
has no such op), and nothing here counts towards CasADi's gradient build time.
"""

from __future__ import annotations

import time

import casadi as ca
import numba
import numpy as np
from timing import peak_rss_mb, timed

from circuitgrad.engine.core.circuit import Circuit
from circuitgrad.engine.core.ops import BY_CODE, CONST, INPUT

NARROW = 8  # gates per level below which the scalar builder is used


def _sigmoid(a):
    return 1 / (1 + ca.exp(-a))


# our op name -> CasADi expression on SX (vectors or scalars); p is the parameter (pow)
FIXED = {
    "neg": lambda a, p: -a,
    "sub": lambda a, b, p: a - b,
    "div": lambda a, b, p: a / b,
    "recip": lambda a, p: 1 / a,
    "square": lambda a, p: a * a,
    "pow": lambda a, p: a**p,
    "sqrt": lambda a, p: ca.sqrt(a),
    "exp": lambda a, p: ca.exp(a),
    "log": lambda a, p: ca.log(a),
    "sin": lambda a, p: ca.sin(a),
    "cos": lambda a, p: ca.cos(a),
    "tanh": lambda a, p: ca.tanh(a),
    "sigmoid": lambda a, p: _sigmoid(a),
    "relu": lambda a, p: ca.fmax(a, 0),
    "abs": lambda a, p: ca.fabs(a),
    "step": lambda a, p: a > 0,
    "sign": lambda a, p: ca.sign(a),
    # issue 11 (CasADi's own conventions at kinks may differ; values elsewhere do not)
    **{name: (lambda f: lambda a, p: f(a))(getattr(ca, name))
       for name in ("tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
                    "log1p", "expm1", "log10", "erf", "floor", "ceil")},
    "log2": lambda a, p: ca.log(a) / np.log(2.0),
    "hypot": lambda a, b, p: ca.hypot(a, b),
    "atan2": lambda a, b, p: ca.atan2(a, b),
    "min": lambda a, b, p: ca.fmin(a, b),
    "max": lambda a, b, p: ca.fmax(a, b),
    "powv": lambda a, b, p: a**b,
    "lt": lambda a, b, p: a < b,
    "le": lambda a, b, p: a <= b,
    "gt": lambda a, b, p: a > b,
    "ge": lambda a, b, p: a >= b,
    "eq": lambda a, b, p: a == b,
    "ne": lambda a, b, p: a != b,
    "where": lambda c, a, b, p: ca.if_else(c, a, b),
}  # fmt: skip


@numba.njit(cache=True)
def _depths(op, arg_offsets, args, input_code, const_code):
    depth = np.zeros(len(op), np.int64)
    for v in range(len(op)):
        if op[v] == input_code or op[v] == const_code:
            continue
        d = 0
        for w in range(arg_offsets[v], arg_offsets[v + 1]):
            d = max(d, depth[args[w]])
        depth[v] = d + 1
    return depth


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenated aranges [s, s+l) for each (s, l)."""
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, np.int64)
    steps = np.ones(total, np.int64)
    firsts = np.cumsum(lengths) - lengths
    keep = lengths > 0
    steps[firsts[keep]] = starts[keep] - np.concatenate([[0], (starts + lengths - 1)[keep][:-1]])
    return np.cumsum(steps)


def _scaled(a, c: np.ndarray):
    if np.all(c == c[0]):  # one weight for the whole column: a Python float, not a DM
        return a if c[0] == 1 else float(c[0]) * a
    return ca.DM(c) * a


def _reduce(name: str, columns, coeffs):
    """Σ cⱼ·aⱼ or Π aⱼ over argument columns (SX vectors of the group's gates)."""
    if name == "add":
        terms = [_scaled(a, c) for a, c in zip(columns, coeffs, strict=True)]
    else:
        terms = columns
    out = terms[0]
    for t in terms[1:]:
        out = out + t if name == "add" else out * t
    return out


def _apply(c: Circuit, name: str, gates: np.ndarray, k: int, wires: np.ndarray, gathered):
    """SX values of ``gates`` (all of op ``name``, arity k); ``gathered`` holds their
    argument values wire by wire, in the order of ``wires`` (gate-major)."""
    G = len(gates)
    name = "mul" if name == "mul0" else name  # CasADi has no strong product: the plain one
    if name in ("add", "mul") and k > 4 * G:  # few wide gates: one dot/product per gate
        out = []
        for g in range(G):
            col = gathered.nz[g * k : (g + 1) * k]
            if name == "add":
                out.append(ca.dot(ca.DM(c.coeffs[wires[g * k : (g + 1) * k]]), col))
            else:
                out.append(_reduce("mul", ca.vertsplit(col), None))
        return ca.vertcat(*out)
    cols = [gathered.nz[j::k] if k > 1 else gathered for j in range(k)]
    if name in ("add", "mul"):
        coeffs = [c.coeffs[wires[j::k]] for j in range(k)]
        return _reduce(name, cols, coeffs)
    p = ca.DM(c.param[gates]) if BY_CODE[c.op[gates[0]]].param else None
    return FIXED[name](*cols, p)


def _level_graph(c: Circuit, x, depth: np.ndarray):
    values = ca.SX(ca.Sparsity.dense(c.n_vertices, 1))  # set in place, level by level
    values.nz[list(range(c.n_inputs))] = x
    consts = np.flatnonzero(c.op == CONST.code)
    if len(consts):
        values.nz[consts.tolist()] = ca.SX(ca.DM(c.param[consts]))
    arity = c.arity()
    gates = np.flatnonzero(depth > 0)
    gates = gates[np.lexsort((arity[gates], c.op[gates], depth[gates]))]
    level_cuts = np.flatnonzero(np.diff(depth[gates])) + 1
    for level in np.split(gates, level_cuts):
        wires = _ranges(c.arg_offsets[level], arity[level])
        gathered = values.nz[c.args[wires].tolist()]
        key = c.op[level].astype(np.int64) * (1 << 40) + arity[level]
        group_cuts = np.flatnonzero(np.diff(key)) + 1
        out, w0 = [], 0
        for group in np.split(level, group_cuts):
            k = int(arity[group[0]])
            n_w = k * len(group)
            out.append(
                _apply(c, BY_CODE[c.op[group[0]]].name, group, k, wires[w0 : w0 + n_w],
                       gathered.nz[w0 : w0 + n_w])
            )  # fmt: skip
            w0 += n_w
        values.nz[level.tolist()] = ca.vertcat(*out)
    return values.nz[c.outputs.tolist()]


def _scalar_graph(c: Circuit, x):
    vals = [x[i] for i in range(c.n_inputs)]
    op, off, args = c.op.tolist(), c.arg_offsets.tolist(), c.args.tolist()
    coeffs, param = c.coeffs.tolist(), c.param.tolist()
    for v in range(c.n_inputs, c.n_vertices):
        name = BY_CODE[op[v]].name
        a = [vals[u] for u in args[off[v] : off[v + 1]]]
        if name == "const":
            r = ca.SX(param[v])
        elif name == "add":
            cs = coeffs[off[v] : off[v + 1]]
            r = a[0] if cs[0] == 1 else cs[0] * a[0]
            for ci, ai in zip(cs[1:], a[1:], strict=True):
                r = r + (ai if ci == 1 else ci * ai)
        elif name in ("mul", "mul0"):
            r = a[0]
            for ai in a[1:]:
                r = r * ai
        else:
            r = FIXED[name](*a, param[v])
        vals.append(r)
    return ca.vertcat(*[vals[o] for o in c.outputs.tolist()])


def sx_graph(c: Circuit):
    """(x, f): SX symbols for c's inputs and the SX expressions of its outputs."""
    assert not np.any(c.op[c.n_inputs :] == INPUT.code)
    x = ca.SX.sym("x", c.n_inputs)
    depth = _depths(c.op, c.arg_offsets, c.args, INPUT.code, CONST.code)
    gates = c.n_vertices - c.n_inputs
    if gates < NARROW * max(int(depth.max(initial=0)), 1):
        return x, _scalar_graph(c, x)
    return x, _level_graph(c, x, depth)


def casadi_stages(c: Circuit, x0: np.ndarray, X: np.ndarray, threads: int = 2) -> dict:
    """CasADi's side of every stage for circuit c (one output): graph build, gradient
    build (``casadi.gradient`` + ``Function``), first call and median call at x0, per-point
    time on the batch X (n, N) with ``map`` serial and threaded, gradient at x0."""
    r: dict = {}
    t = time.perf_counter()
    x, f = sx_graph(c)
    r["graph_build"] = time.perf_counter() - t
    assert f.numel() == 1, "the bench differentiates one output"

    t = time.perf_counter()
    g = ca.gradient(f, x)
    F = ca.Function("grad", [x], [g])
    r["gradient_build"] = time.perf_counter() - t
    F0 = ca.Function("f", [x], [f])
    r["instructions_f"] = F0.n_instructions()
    r["instructions_grad"] = F.n_instructions()

    t = time.perf_counter()
    first = F(x0)
    r["first_call"] = time.perf_counter() - t
    r["gradient"] = np.asarray(first, dtype=float).ravel().tolist()
    r["value"] = float(F0(x0))
    r["call"] = timed(lambda: F(x0), min_total=0.5, max_reps=200)["median"]
    r["call_f"] = timed(lambda: F0(x0), min_total=0.5, max_reps=200)["median"]

    N = X.shape[1]
    r["batch_points"] = N
    for mode, extra in (("serial", ()), ("thread", (threads,))):
        M = F.map(N, mode, *extra)
        run = timed(lambda M=M: np.asarray(M(X)), min_total=2.0, max_reps=3)
        r[f"batch_{mode}"] = run["median"] / N
        r[f"batch_{mode}_head"] = run["result"][:, :5].T.tolist()  # first points, as ours
    r["peak_rss_mb"] = peak_rss_mb()
    r |= casadi_directional(x, f, g, x0)
    return r


def casadi_directional(x, f, g, x0: np.ndarray) -> dict:
    """``jtimes`` forward (J·v), transposed (uᵀ·J) and of the gradient g (H·v): build time
    (jtimes + Function), instructions, and the value at x0 (v = ``tangent(n)``, u = 1)."""
    from engine_modes import tangent

    r: dict = {}
    v, u = ca.SX.sym("v", x.numel()), ca.SX.sym("u", 1)
    for mode, make, seed in (
        ("jvp", lambda: ca.jtimes(f, x, v), v),
        ("vjp", lambda: ca.jtimes(f, x, u, True), u),
        ("hvp", lambda: ca.jtimes(g, x, v), v),
    ):
        t = time.perf_counter()
        F = ca.Function(mode, [x, seed], [make()])
        r[f"{mode}_build"] = time.perf_counter() - t
        r[f"{mode}_instructions"] = F.n_instructions()
        if mode != "hvp":
            value = np.asarray(F(x0, tangent(len(x0)) if mode == "jvp" else 1.0), float).ravel()
            r[f"{mode}_value"] = float(value[0]) if mode == "jvp" else value.tolist()
        del F
    return r
