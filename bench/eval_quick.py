"""Scratch timing of evaluation: random DAGs, their gradient circuits, a sigmoid MLP loss.

    python bench/eval_quick.py [--sizes 1e4 1e5 1e6] [--points 1 1000] [--casadi]

Prints tape-compile time, ns per instruction at one point and per point in batches, and
(with --casadi) the same circuit built in CasADi SX and timed there. The gradient here is
a plain reverse sweep written for this script's ops only (the engine's own lives in
gradient.py); the circuits are built with ``Circuit.from_arrays``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from circuitgrad.engine import ops
from circuitgrad.engine.circuit import Circuit
from circuitgrad.engine.evaluate import block_size, evaluate, tape_of

C = {name: op.code for name, op in ops.BY_NAME.items()}
UNARY = ["sin", "exp", "tanh", "sigmoid", "square"]


class Rows:
    """Growable circuit arrays."""

    def __init__(self, n_inputs):
        self.n = n_inputs
        self.op = [C["input"]] * n_inputs
        self.arity = [0] * n_inputs
        self.args: list[int] = []
        self.coeffs: list[float] = []
        self.param = [0.0] * n_inputs
        self.consts: dict[float, int] = {}

    def gate(self, name, args, coeffs=None, param=0.0) -> int:
        self.op.append(C[name])
        self.arity.append(len(args))
        self.args += args
        self.coeffs += coeffs if coeffs is not None else [1.0] * len(args)
        self.param.append(param)
        return len(self.op) - 1

    def const(self, value) -> int:
        if value not in self.consts:
            self.consts[value] = self.gate("const", [], param=value)
        return self.consts[value]

    def circuit(self, outputs, inputs=None) -> Circuit:
        offsets = np.concatenate([[0], np.cumsum(self.arity)])
        inputs = inputs or [f"x{i}" for i in range(self.n)]
        return Circuit.from_arrays(
            inputs, self.op, offsets, self.args, self.coeffs, self.param, outputs
        )


def random_dag(n_gates: int, n_inputs: int = 100, seed: int = 0) -> tuple[Circuit, Rows]:
    """Mixed unary/binary gates, ≈1.4 wires per gate; args mostly recent, some anywhere.

    The one output sums every gate no other gate reads, so every gate is live."""
    rng = np.random.default_rng(seed)
    R = Rows(n_inputs)
    kinds = rng.choice(8, size=n_gates, p=[0.13, 0.13, 0.13, 0.13, 0.13, 0.15, 0.12, 0.08])
    for i, kind in enumerate(kinds):
        v = n_inputs + i

        def pick():
            if rng.random() < 0.7:
                a = v - 1 - int(rng.geometric(0.1)) + 1
            else:
                a = int(rng.integers(0, v))
            a = min(max(a, 0), v - 1)
            return a

        if kind < 5:
            name = UNARY[kind]
            if name == "exp":  # exp of a scaled value stays finite
                a = R.gate("add", [pick()], [0.1])
                R.gate("exp", [a])
            else:
                R.gate(name, [pick()])
        elif kind == 5:
            k = 2 + int(rng.random() < 0.3)
            R.gate("add", [pick() for _ in range(k)], list(rng.choice([-1.0, 0.5, 1.0, 2.0], k)))
        elif kind == 6:
            R.gate("mul", [pick(), pick()])
        else:
            den = R.gate("add", [pick(), R.const(1.0)], [0.5, 2.0])  # 2 + a/2 > 0 mostly
            R.gate("div", [pick(), den])
    V = len(R.op)
    used = np.zeros(V, bool)
    used[R.args] = True
    sinks = [v for v in range(n_inputs, V) if not used[v]]
    out = R.gate("add", sinks)
    return R.circuit([out]), R


def gradient(R: Rows, out: int) -> Circuit:
    """One reverse sweep: adjoint contributions per vertex, summed by one add each."""
    V = len(R.op)
    offsets = np.concatenate([[0], np.cumsum(R.arity)])
    G = Rows(R.n)
    G.op, G.arity, G.args = list(R.op), list(R.arity), list(R.args)
    G.coeffs, G.param = list(R.coeffs), list(R.param)
    G.consts = dict(R.consts)
    terms: list[list[tuple[int, float]]] = [[] for _ in range(V)]
    terms[out] = [(G.const(1.0), 1.0)]
    for v in range(V - 1, R.n - 1, -1):
        if not terms[v] or R.op[v] == C["const"]:
            continue
        t = terms[v]
        bar = t[0][0] if len(t) == 1 and t[0][1] == 1.0 else G.gate(
            "add", [u for u, _ in t], [c for _, c in t]
        )
        name = ops.BY_CODE[R.op[v]].name
        a = R.args[offsets[v] : offsets[v + 1]]
        if name == "add":
            cs = R.coeffs[offsets[v] : offsets[v + 1]]
            for u, c in zip(a, cs, strict=True):
                terms[u].append((bar, c))
        elif name == "mul":
            terms[a[0]].append((G.gate("mul", [bar, a[1]]), 1.0))
            terms[a[1]].append((G.gate("mul", [bar, a[0]]), 1.0))
        elif name == "div":
            r = G.gate("recip", [a[1]])
            terms[a[0]].append((G.gate("mul", [bar, r]), 1.0))
            terms[a[1]].append((G.gate("mul", [bar, v, r]), -1.0))
        elif name == "sin":
            terms[a[0]].append((G.gate("mul", [bar, G.gate("cos", [a[0]])]), 1.0))
        elif name == "exp":
            terms[a[0]].append((G.gate("mul", [bar, v]), 1.0))
        elif name == "tanh":
            d = G.gate("add", [G.const(1.0), G.gate("square", [v])], [1.0, -1.0])
            terms[a[0]].append((G.gate("mul", [bar, d]), 1.0))
        elif name == "sigmoid":
            d = G.gate("add", [G.const(1.0), v], [1.0, -1.0])
            terms[a[0]].append((G.gate("mul", [bar, v, d]), 1.0))
        elif name == "square":
            terms[a[0]].append((G.gate("mul", [bar, a[0]]), 2.0))
        else:
            raise ValueError(name)
    outs = []
    for x in range(R.n):
        t = terms[x] or [(G.const(0.0), 1.0)]
        outs.append(G.gate("add", [u for u, _ in t], [c for _, c in t]))
    return G.circuit(outs)


def mlp_loss(widths=(32, 256, 256, 1), batch=1, seed=0) -> tuple[Circuit, Rows]:
    """Sum of squared errors of a sigmoid MLP whose weights are the inputs."""
    rng = np.random.default_rng(seed)
    n_w = sum(a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    R = Rows(n_w)
    w = iter(range(n_w))
    loss_terms = []
    for _ in range(batch):
        h = [R.const(float(x)) for x in rng.normal(size=widths[0])]
        for li, (a, b) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
            nxt = []
            for _j in range(b):
                prods = [R.gate("mul", [next(w), h[i]]) for i in range(a)]
                z = R.gate("add", prods + [next(w)])
                nxt.append(R.gate("sigmoid", [z]) if li < len(widths) - 2 else z)
            h = nxt
        w = iter(range(n_w))
        err = R.gate("add", [h[0], R.const(float(rng.normal()))], [1.0, -1.0])
        loss_terms.append(R.gate("square", [err]))
    out = R.gate("add", loss_terms)
    return R.circuit([out]), R


def best(f, repeat=5, budget=20.0) -> float:
    times = []
    t_end = time.perf_counter() + budget
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
        if time.perf_counter() > t_end:
            break
    return min(times)


def report(label: str, c: Circuit, points: list[int], casadi_fn=None):
    t = time.perf_counter()
    tape = tape_of(c)
    t_compile = time.perf_counter() - t
    n_ins = tape.n_instructions
    print(
        f"{label}: vertices {c.n_vertices}, instructions {n_ins}, slots {tape.n_slots}, "
        f"tape words {len(tape.ins)}, compile {t_compile * 1e3:.0f} ms"
    )
    rng = np.random.default_rng(1)
    for N in points:
        X = rng.uniform(-1, 1, size=(N, c.n_inputs))
        pts = X[0] if N == 1 else X
        evaluate(c, pts)
        dt = best(lambda pts=pts: evaluate(c, pts))
        per = dt / N
        extra = "" if N == 1 else f", block {block_size(tape, N)}"
        line = f"  N={N}: {dt * 1e3:.2f} ms total, {per * 1e6:.2f} µs/point, "
        line += f"{per / n_ins * 1e9:.2f} ns/instruction/point{extra}"
        if casadi_fn is not None:
            ca_dt = casadi_fn(X)
            line += f" | casadi {ca_dt / N * 1e6:.2f} µs/point, ratio {per / (ca_dt / N):.2f}"
        print(line, flush=True)


def casadi_timer(R: Rows, out: int, grad: bool):
    """CasADi SX of the same forward circuit (its own gradient if grad): time f(X) -> s."""
    import casadi as ca

    x = ca.SX.sym("x", R.n)
    vals: list = [x[i] for i in range(R.n)]
    offsets = np.concatenate([[0], np.cumsum(R.arity)])
    F = {
        "sin": ca.sin, "exp": ca.exp, "tanh": ca.tanh, "square": lambda a: a * a,
        "sigmoid": lambda a: 1 / (1 + ca.exp(-a)), "cos": ca.cos, "recip": lambda a: 1 / a,
    }  # fmt: skip
    for v in range(R.n, len(R.op)):
        name = ops.BY_CODE[R.op[v]].name
        a = [vals[u] for u in R.args[offsets[v] : offsets[v + 1]]]
        if name == "const":
            vals.append(ca.SX(R.param[v]))
        elif name == "add":
            cs = R.coeffs[offsets[v] : offsets[v + 1]]
            s = cs[0] * a[0]
            for c, ai in zip(cs[1:], a[1:], strict=True):
                s = s + c * ai
            vals.append(s)
        elif name == "mul":
            p = a[0]
            for ai in a[1:]:
                p = p * ai
            vals.append(p)
        elif name == "div":
            vals.append(a[0] / a[1])
        else:
            vals.append(F[name](a[0]))
    y = vals[out]
    f = ca.Function("f", [x], [ca.gradient(y, x) if grad else y])

    def run(X):
        def once():
            for row in X:
                f(row)

        if len(X) > 1:
            fm = f.map(len(X), "thread", 2)
            return best(lambda: fm(X.T))
        return best(once)

    return run


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", nargs="*", type=float, default=[1e4, 1e5, 1e6])
    p.add_argument("--points", nargs="*", type=int, default=[1, 1000])
    p.add_argument("--casadi", action="store_true")
    p.add_argument("--mlp", action="store_true")
    args = p.parse_args()
    t = time.perf_counter()
    from circuitgrad.engine import kernels  # noqa: F401  (generated, compiled or cached)

    c0, _ = random_dag(10, 2)
    evaluate(c0, [0.1, 0.2])
    evaluate(c0, np.zeros((64, 2)))
    print(f"kernels ready (cold or cached) in {time.perf_counter() - t:.2f} s")
    for size in args.sizes:
        n = int(size)
        t = time.perf_counter()
        c, R = random_dag(n)
        g = gradient(R, int(c.outputs[0]))
        print(f"[built DAG {n} and its gradient in {time.perf_counter() - t:.1f} s]")
        ca_f = casadi_timer(R, int(c.outputs[0]), grad=True) if args.casadi else None
        report(f"gradient of random DAG {n}", g, args.points, ca_f)
    if args.mlp:
        c, R = mlp_loss()
        g = gradient(R, int(c.outputs[0]))
        ca_f = casadi_timer(R, int(c.outputs[0]), grad=True) if args.casadi else None
        report(f"gradient of sigmoid MLP loss ({c.n_gates} gates)", g, args.points, ca_f)


if __name__ == "__main__":
    main()
