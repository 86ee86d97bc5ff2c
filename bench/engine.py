"""Engine benchmark against CasADi, stage by stage, on the issue's circuits.

    python bench/engine.py [--quick] [--only dag6,ls,...] [--json out.json]

Exits 1 if a measurement failed or our gradient disagrees with CasADi's (missed targets
are reported, not fatal: timings on a shared machine are noisy).

For each circuit: load from JSON and from the packed form (parse + validate), backward
(raw and simplified), forward (10 inputs), the gradient circuit evaluated at one point
(cold first call and warm median) and in a batch (per point), sizes, cost(∇f)/cost(f) and
the peak memory of backward; J·v, uᵀ·J and H·v circuits (time, size) and the share of a
job its check takes (``engine_modes.py``); CasADi (the ``bench`` extra) on the same
circuit in the same run: SX graph, ``casadi.gradient`` + ``Function``, one call, ``map``
for batches, ``jtimes`` forward, transposed and of the gradient. Each side
runs in its own child process (memory: one more child per pass), one after another, so
neither's memory or warm caches leak into the other's figures. ``--quick`` runs small
circuits in one child each and skips the memory children (a smoke test, well under 30 s).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # this folder's helper modules

from circuitgrad.engine.building import generate  # noqa: E402
from circuitgrad.engine.core.circuit import Circuit  # noqa: E402
from circuitgrad.engine.formats import codec  # noqa: E402

SEED = 2024  # of the evaluation points
HAVE_CASADI = importlib.util.find_spec("casadi") is not None  # the optional ``bench`` extra


@dataclass(frozen=True)
class Spec:
    title: str
    make: Callable[[], Circuit]
    batch: int  # points per batch
    batch_target: float | None = None  # ours/CasADi per point in batches
    load_targets: bool = False  # JSON ≤ 2 s, packed ≤ 0.3 s
    memory_target: bool = False  # peak RSS of backward ≤ 1.5 GB
    center: float = 0.0  # points are uniform in [center − spread, center + spread]
    spread: float = 1.0
    before: dict | None = None  # figures of an earlier engine, printed beside ours


# The 2,000-argument product on the branch's starting commit (75fc6b3, partials of k − 1
# factors each), measured once there: backward_propagate best of 3, differentiate best of 2,
# load average ≈ 2 (the lead's 7 s for the same pass was on a quiet machine).
PRODUCT_BEFORE = {
    "commit": "75fc6b3",
    "backward_raw": 30.66,
    "backward_simplified": 26.21,
    "raw_size": 4001,
    "raw_wires": 4_002_000,
    "size": 3999,
    "wires": 3_998_002,
}


def _least_squares(m: int, n: int) -> Circuit:
    rng = np.random.default_rng(0)
    return generate.least_squares(rng.normal(size=(m, n)), rng.normal(size=m))


CIRCUITS = {
    "dag4": Spec("random DAG 10⁴ gates", lambda: generate.random_dag(10**4), 10**4, 0.25),
    "dag5": Spec("random DAG 10⁵ gates", lambda: generate.random_dag(10**5), 10**4),
    "dag6": Spec("random DAG 10⁶ gates", lambda: generate.random_dag(10**6), 10**3, 0.35,
                 load_targets=True, memory_target=True),
    "ls": Spec("least squares ‖Ax − b‖², m = n = 1000 (10⁶ wires)",
               lambda: _least_squares(1000, 1000), 10**3),
    "mlp": Spec("sigmoid MLP loss, 1000 samples × 10 features × 32 hidden",
                lambda: generate.mlp_loss(1000, 10, 32), 10**4, 0.15),
    "chain": Spec("chain 10⁵ gates, depth 10⁵", lambda: generate.chain(10**5), 10**4),
    "prod2k": Spec("product Π xᵢ of 2,000 inputs, one 2,000-argument mul",
                   lambda: generate.product(2000), 10**3, center=1.0, spread=1e-3,
                   before=PRODUCT_BEFORE),
    # --quick: small relatives, for a smoke test
    "ls-s": Spec("least squares, m = n = 100 (10⁴ wires)", lambda: _least_squares(100, 100),
                 10**3),
    "mlp-s": Spec("sigmoid MLP loss, 100 samples (10⁴ gates)",
                  lambda: generate.mlp_loss(100, 10, 32), 10**3, 0.15),
    "chain-s": Spec("chain 10⁴ gates, depth 10⁴", lambda: generate.chain(10**4), 10**3),
}  # fmt: skip
FULL = ["dag4", "dag5", "dag6", "ls", "mlp", "chain", "prod2k"]
QUICK = ["dag4", "ls-s", "mlp-s", "chain-s"]
QUICK_POINTS = 1000  # batch size in --quick runs


def points(n: int, N: int, center=0.0, spread=1.0) -> tuple[np.ndarray, np.ndarray]:
    """The point x0 (n,) and the batch X (N, n), the same on both sides."""
    rng = np.random.default_rng(SEED)
    lo, hi = center - spread, center + spread
    return rng.uniform(lo, hi, n), rng.uniform(lo, hi, (N, n))


# -- child side ---------------------------------------------------------------------------
def child(kinds: list[str], circuit_file: str, N: int, out: str, budget: float,
          center: float, spread: float) -> None:  # fmt: skip
    import timing

    timing.BUDGET = budget
    c = codec.from_msgpack(Path(circuit_file).read_bytes())
    result = {}
    for kind in kinds:
        if kind == "ours":
            from engine_stages import our_stages

            result[kind] = our_stages(c, *points(c.n_inputs, N, center, spread))
        elif kind == "casadi":
            from casadi_ref import casadi_stages

            x0, X = points(c.n_inputs, N, center, spread)
            result[kind] = casadi_stages(c, x0, np.ascontiguousarray(X.T))
        elif kind in ("raw", "simplified"):  # no batch in memory: it is not part of the figure
            from engine_stages import our_memory

            result[kind] = our_memory(c, simplified=kind == "simplified")
    Path(out).write_text(json.dumps(result))


# -- parent side --------------------------------------------------------------------------
def run_child(kinds: list[str], circuit_file: str, N: int, workdir: str, budget=1.0,
              spec: Spec | None = None) -> dict:  # fmt: skip
    out = os.path.join(workdir, "result.json")
    where = ["--center", str(spec.center), "--spread", str(spec.spread)] if spec else []
    cmd = [sys.executable, __file__, "--child", ",".join(kinds), "--circuit", circuit_file,
           "--points", str(N), "--out", out, "--budget", str(budget), *where]  # fmt: skip
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-3:]
        print(f"   ! child {kinds} failed: {' | '.join(tail)}", flush=True)
        return {k: {"error": " | ".join(tail)} for k in kinds}
    result = json.loads(Path(out).read_text())
    for k in kinds:
        result[k]["child_wall"] = time.perf_counter() - t
    return result


def bench_circuit(key: str, quick: bool, workdir: str) -> dict:
    from engine_modes import mode_rows
    from engine_report import print_table, rows

    spec = CIRCUITS[key]
    t = time.perf_counter()
    c = spec.make()
    made = time.perf_counter() - t
    path = os.path.join(workdir, f"{key}.msgpack")
    Path(path).write_bytes(codec.to_msgpack(c, packed=True))
    info = {"title": spec.title, "inputs": c.n_inputs, "gates": c.n_gates, "wires": c.n_wires,
            "generate": made}  # fmt: skip
    del c
    if quick:
        kinds = ["ours", "casadi"] if HAVE_CASADI else ["ours"]
        res = run_child(kinds, path, min(spec.batch, QUICK_POINTS), workdir, 0.1, spec)
        mem = {}
    else:
        res = run_child(["ours"], path, spec.batch, workdir, spec=spec)
        if HAVE_CASADI:
            res |= run_child(["casadi"], path, spec.batch, workdir, spec=spec)
        mem = {k: run_child([k], path, spec.batch, workdir, spec=spec)[k]
               for k in ("raw", "simplified")}  # fmt: skip
    os.remove(path)
    src = res["ours"].get("source", {})
    title = (f"{key}: {spec.title} — {src.get('size', info['gates']):,} gates, "
             f"{info['wires']:,} wires, depth {src.get('depth', '?'):,}, "
             f"{info['inputs']} inputs")  # fmt: skip
    R = rows(spec, res.get("ours"), res.get("casadi"), mem)
    R += mode_rows(res.get("ours") or {}, res.get("casadi") or {})
    print_table(title, R)
    sys.stdout.flush()
    return {"info": info, **res, "memory": mem, "rows": R}


def meta() -> dict:
    import numba

    casadi = importlib.metadata.version("casadi") if HAVE_CASADI else "not installed"
    return {"python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "casadi": casadi, "cpus": os.cpu_count(),
            "numba_threads": numba.config.NUMBA_NUM_THREADS, "loadavg": os.getloadavg(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S")}  # fmt: skip


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small circuits only (smoke test)")
    p.add_argument("--only", help=f"comma-separated keys of {', '.join(CIRCUITS)}")
    p.add_argument("--json", help="write every figure to this file")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--circuit", help=argparse.SUPPRESS)
    p.add_argument("--points", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--budget", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--center", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--spread", type=float, default=1.0, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a.child.split(","), a.circuit, a.points, a.out, a.budget, a.center, a.spread)
        return 0
    keys = a.only.split(",") if a.only else (QUICK if a.quick else FULL)
    unknown = [k for k in keys if k not in CIRCUITS]
    if unknown:
        p.error(f"unknown circuit {', '.join(unknown)}; known: {', '.join(CIRCUITS)}")

    from engine_report import closing_note

    info = meta()
    print(
        f"circuitgrad engine bench — {info['started']}, {info['cpus']} CPUs, "
        f"casadi {info['casadi']}, numba {info['numba']}, load {info['loadavg'][0]:.1f}"
    )
    t = time.perf_counter()
    results = {}
    with tempfile.TemporaryDirectory(prefix="cg-bench-") as workdir:
        for key in keys:
            results[key] = bench_circuit(key, a.quick, workdir)
    info["wall"] = time.perf_counter() - t
    info["loadavg_end"] = os.getloadavg()
    print()
    for line in closing_note(results):
        print(line)
    print(f"(wall {info['wall']:.0f} s, load average at end {info['loadavg_end'][0]:.1f})")
    if a.json:
        Path(a.json).write_text(json.dumps({"meta": info, "circuits": results}, indent=1))
    return 1 if broken(results) else 0


def broken(results: dict) -> list[str]:
    """Failed children and gradients that disagree with CasADi's (targets may be missed:
    timings are noisy; these may not)."""
    bad = [f"{key}/{kind}" for key, res in results.items() for kind in ("ours", "casadi")
           if "error" in res.get(kind, {})]  # fmt: skip
    bad += [f"{key}: {r['stage']}" for key, res in results.items() for r in res["rows"]
            if r["stage"].startswith("check") and r["met"] is False]  # fmt: skip
    for b in bad:
        print(f"FAILED: {b}")
    return bad


if __name__ == "__main__":
    sys.exit(main())
