"""Scratch timing of evaluation on gradient circuits (folded into bench/engine.py later).

    python bench/eval_quick.py [--dags 1e4 1e5 1e6] [--points 1 1000] [--mlp] [--casadi]

For each circuit (``generate.random_dag`` of the given sizes, ``generate.mlp_loss``) it
differentiates with ``gradient``, lowers the gradient's tape and prints the lowering time
and the time per point, total and per tape instruction, at one point and in batches.
With ``--casadi`` the same forward circuit goes through CasADi (``casadi.gradient`` of
``casadi_ref.sx_graph``) and is timed alongside: the machine is shared, so the ratio of
two runs made back to back means more than either figure alone.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))  # casadi_ref, timing

T0 = time.perf_counter()
from circuitgrad.engine.building import generate  # noqa: E402
from circuitgrad.engine.evaluation.evaluate import block_size, compile_tape, evaluate, tape_of  # noqa: E402
from circuitgrad.engine.passes.gradient import gradient  # noqa: E402


def best(f, min_total=1.0, max_reps=50) -> float:
    """Median of repeated calls (at least 3, about min_total seconds)."""
    times = []
    while len(times) < 3 or (sum(times) < min_total and len(times) < max_reps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def casadi_runner(c):
    import casadi as ca
    from casadi_ref import sx_graph

    x, f = sx_graph(c)
    F = ca.Function("grad", [x], [ca.gradient(f, x)])

    def run(X):  # seconds per point
        if len(X) == 1:
            x0 = X[0]
            return best(lambda: F(x0))
        M = F.map(len(X), "thread", len(os.sched_getaffinity(0)))
        XT = np.ascontiguousarray(X.T)
        return best(lambda: M(XT), max_reps=3) / len(X)

    return run


def report(label: str, c, points: list[int], with_casadi: bool):
    g = gradient(c)
    lowering = best(lambda: compile_tape(g), min_total=0.5, max_reps=5)
    tape = tape_of(g)
    n = tape.n_instructions
    print(
        f"{label}: gradient vertices {g.n_vertices}, tape instructions {n}, "
        f"slots {tape.n_slots}, lowering {lowering * 1e3:.0f} ms",
        flush=True,
    )
    ca_run = casadi_runner(c) if with_casadi else None
    rng = np.random.default_rng(1)
    for N in points:
        X = rng.uniform(-1, 1, size=(N, g.n_inputs))
        pts = X[0] if N == 1 else X
        evaluate(g, pts)
        per = best(lambda pts=pts: evaluate(g, pts), max_reps=50 if N == 1 else 3) / N
        line = f"  N={N}: {per * 1e6:9.2f} µs/point, {per / n * 1e9:5.2f} ns/instruction"
        if N > 1:
            line += f" (block {block_size(tape, N, len(os.sched_getaffinity(0)))})"
        if ca_run is not None:
            ca_per = ca_run(X)
            line += f" | casadi {ca_per * 1e6:9.2f} µs/point, ratio {per / ca_per:.2f}"
        print(line, flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dags", nargs="*", type=float, default=[1e4, 1e5, 1e6])
    p.add_argument("--points", nargs="*", type=int, default=[1, 1000])
    p.add_argument("--mlp", action="store_true")
    p.add_argument("--casadi", action="store_true")
    args = p.parse_args()
    c0 = generate.equation1()
    evaluate(c0, [1.0, 2.0, 3.0])
    evaluate(c0, np.zeros((64, 3)))
    print(f"import + kernels ready (compiled or from cache): {time.perf_counter() - T0:.2f} s")
    for size in args.dags:
        report(f"random_dag({int(size)})", generate.random_dag(int(size)), args.points, args.casadi)
    if args.mlp:
        c = generate.mlp_loss()
        report(f"mlp_loss ({c.n_gates} gates)", c, args.points, args.casadi)


if __name__ == "__main__":
    main()
