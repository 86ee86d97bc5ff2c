"""The directional modes and the per-job check in the benchmark: our side and its rows.

    our_modes(c, x0, grad, job_seconds) -> dict: jvp / vjp / hvp build times and sizes (raw
        and simplified), J·v and uᵀ·J at x0, and the time of the check a job runs
    mode_rows(ours, theirs)              -> rows of the table (``engine_report``'s format)

    python bench/engine_modes.py [--only dag4,ls,...]   the check's share alone, per circuit

The check is timed on fresh circuit objects, as a worker meets them: nothing evaluated
before, so lowering both tapes is part of its cost. Its share of a job is
check / (differentiate + simplify + check).
"""

from __future__ import annotations

import gc

import numpy as np
from engine_report import AGREEMENT, _row, count, relative_difference
from timing import timed

from circuitgrad.engine.core.circuit import Circuit
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.evaluation.evaluate import evaluate
from circuitgrad.engine.evaluation.verify import verify
from circuitgrad.engine.passes.gradient import differentiate

TANGENT_SEED = 2025
MODES = ("jvp", "vjp", "hvp")


def tangent(n: int) -> np.ndarray:
    """The direction v of J·v at x0, the same on both sides."""
    return np.random.default_rng(TANGENT_SEED).normal(size=n)


def fresh(c: Circuit) -> Circuit:
    """The same circuit as a new object: no tape lowered yet."""
    return Circuit.from_arrays(c.inputs, c.op, c.arg_offsets, c.args, c.coeffs, c.param,
                               c.outputs, c.output_names, c.labels)  # fmt: skip


def _sizes(c: Circuit) -> dict:
    return {k: v for k, v in measures(c).items() if k != "ops"}


def _checked(source: Circuit, result: Circuit, mode: str, job_seconds: float) -> dict:
    run = timed(lambda: verify(fresh(source), fresh(result), mode), min_total=1.0, max_reps=3)
    record = run["result"]
    return {"time": run["median"], "fraction": run["median"] / (job_seconds + run["median"]),
            "passed": record["passed"], "error": record["max_relative_error"]}  # fmt: skip


def our_modes(c: Circuit, x0: np.ndarray, grad: Circuit, job_seconds: float) -> dict:
    r: dict = {}
    of = [c.output_names[0]]
    for mode in MODES:
        raw = timed(lambda m=mode: differentiate(c, m, of=of, simplify=False), 2.0, 3)
        r[f"{mode}_raw"], r[f"{mode}_raw_sizes"] = raw["median"], _sizes(raw["result"].circuit)
        del raw
        run = timed(lambda m=mode: differentiate(c, m, of=of), 2.0, 3)
        result = run["result"].circuit
        r[f"{mode}_simplified"], r[f"{mode}_sizes"] = run["median"], _sizes(result)
        if mode == "jvp":
            r["jvp_value"] = float(evaluate(result, np.r_[x0, tangent(c.n_inputs)])[0, 0])
        elif mode == "vjp":
            r["vjp_value"] = evaluate(result, np.r_[x0, 1.0])[0].tolist()
        if mode != "hvp":
            r[f"check_{mode}"] = _checked(c, result, mode, run["median"])
        del run, result
        gc.collect()
    r["check_backward"] = _checked(c, grad, "backward", job_seconds)
    return r


def mode_rows(o: dict, t: dict) -> list[dict]:
    """Build time and size of each directional mode next to CasADi's ``jtimes`` (forward,
    transposed, and of its gradient for H·v), agreement at x0, and the per-job check."""
    R = []
    label = {"jvp": "J·v (jvp)", "vjp": "uᵀ·J (vjp)", "hvp": "H·v (hvp)"}
    for mode in MODES:
        raw, simp = o.get(f"{mode}_raw_sizes") or {}, o.get(f"{mode}_sizes") or {}
        R.append(_row(f"{label[mode]}, raw  vs jtimes + Function build", o.get(f"{mode}_raw"),
                      t.get(f"{mode}_build")))  # fmt: skip
        R.append(_row(f"{label[mode]} + simplify  vs same", o.get(f"{mode}_simplified"),
                      t.get(f"{mode}_build")))  # fmt: skip
        R.append(_row(f"{label[mode]} size: gates / CasADi instructions", simp.get("size"),
                      t.get(f"{mode}_instructions"), text=count,
                      note=f"raw {count(raw.get('size'))} gates, {count(raw.get('wires'))} "
                           f"wires"))  # fmt: skip
    for mode, key in (("jvp", "jvp_value"), ("vjp", "vjp_value")):
        if o.get(key) is not None and t.get(key) is not None:
            R.append(_row(f"check: {label[mode]} at x0, max rel. difference",
                          relative_difference(o[key], t[key]), text=lambda x: f"{x:.1e}",
                          absolute=(AGREEMENT, f"≤ {AGREEMENT:g}")))  # fmt: skip
    for job in ("backward", "jvp", "vjp"):
        chk = o.get(f"check_{job}") or {}
        if chk:
            error = "—" if chk["error"] is None else f"{chk['error']:.1e}"
            note = (f"{chk['fraction']:.1%} of differentiate + simplify + check; passed "
                    f"{chk['passed']}, max rel. error {error}")  # fmt: skip
            R.append(_row(f"per-job check of a {job} job", chk["time"], note=note))
    return R


def check_shares(keys: list[str]) -> None:
    """Per circuit and mode: the job (differentiate + simplify) and its check, timed."""
    from circuitgrad.engine.building import generate
    from engine import CIRCUITS

    differentiate(generate.random_dag(50))  # load the compiled passes
    verify(generate.random_dag(50), differentiate(generate.random_dag(50)).circuit)
    print("circuit  mode      job        check      share   passed  max rel. error  refined")
    for key in keys:
        c = CIRCUITS[key].make()
        for mode in ("backward", "jvp", "vjp", "hvp"):
            of = [c.output_names[0]]
            run = timed(lambda c=c, m=mode, of=of: differentiate(c, m, of=of), 2.0, 3)
            result, job = run["result"].circuit, run["median"]
            del run
            check = timed(
                lambda c=c, m=mode, r=result, of=of: verify(fresh(c), fresh(r), m, of=of), 1.0, 3
            )
            rec, t = check["result"], check["median"]
            error = "—" if rec["max_relative_error"] is None else f"{rec['max_relative_error']:.1e}"
            print(f"{key:8} {mode:8} {job:8.3f} s {t:8.3f} s {t / (job + t):6.1%}  "
                  f"{rec['passed']!s:6}  {error:>14}  {rec['refined']}", flush=True)  # fmt: skip
            del result, check
            gc.collect()


if __name__ == "__main__":
    import argparse

    p = argparse.ArgumentParser(description="the per-job check's share of a job, per circuit")
    p.add_argument("--only", default="dag4,dag5,dag6,ls,mlp,chain")
    check_shares(p.parse_args().only.split(","))
