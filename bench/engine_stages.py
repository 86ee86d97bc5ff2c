"""Our side of the benchmark: every stage of the engine on one circuit, in this process.

    our_stages(c, x0, X)        -> dict of timings, sizes and the gradient at x0
    our_memory(c, simplified)   -> peak resident memory of one backward pass

Numba loads compiled code from its disk cache on first use, so each stage is first
warmed on a tiny circuit, except evaluation: its first call here, on the real gradient
circuit, is reported as the cold first-call time (kernel load + tape lowering + run).
"""

from __future__ import annotations

import gc
import time

import numpy as np
from engine_modes import our_modes
from timing import current_rss_mb, peak_rss_mb, reset_peak_rss, timed

from circuitgrad.engine.building import generate
from circuitgrad.engine.core.circuit import Circuit
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.evaluation.evaluate import compile_tape, evaluate
from circuitgrad.engine.formats import codec
from circuitgrad.engine.passes.gradient import differentiate
from circuitgrad.engine.passes.propagate import backward_propagate, forward_propagate

FORWARD_INPUTS = 10  # forward mode is measured with respect to this many inputs
CHECKED_POINTS = 5  # batch rows compared with CasADi's


def _sizes(c: Circuit) -> dict:
    m = measures(c)
    m.pop("ops")
    return m


def warm_up() -> float:
    """Load the passes' compiled code (not the evaluation kernels) on a tiny circuit."""
    t = time.perf_counter()
    tiny = generate.random_dag(50)
    backward_propagate(tiny)
    forward_propagate(tiny)
    differentiate(tiny, simplify=True)
    codec.from_msgpack(codec.to_msgpack(tiny, packed=True))
    codec.from_json(codec.to_json(tiny))
    return time.perf_counter() - t


def our_stages(c: Circuit, x0: np.ndarray, X: np.ndarray) -> dict:
    r: dict = {"warm_up": warm_up(), "source": _sizes(c)}

    text = codec.to_json(c)
    r["json_bytes"] = len(text)
    r["load_json"] = timed(lambda: codec.from_json(text), min_total=2.0, max_reps=5)["median"]
    packed = codec.to_msgpack(c, packed=True)
    r["packed_bytes"] = len(packed)
    r["load_packed"] = timed(lambda: codec.from_msgpack(packed), max_reps=9)["median"]

    raw = timed(lambda: backward_propagate(c), min_total=2.0, max_reps=5)
    r["backward_raw"], r["raw"] = raw["median"], _sizes(raw["result"])
    run = timed(lambda: differentiate(c, simplify=True), min_total=2.0, max_reps=5)
    r["backward_simplified"], grad = run["median"], run["result"].circuit
    r["simplified"] = _sizes(grad)
    del raw, run
    gc.collect()

    wrt = list(c.inputs[:FORWARD_INPUTS])
    fwd = timed(lambda: forward_propagate(c, wrt=wrt), min_total=2.0, max_reps=3)
    r["forward"], r["forward_inputs"] = fwd["median"], len(wrt)
    r["forward_sizes"] = _sizes(fwd["result"])
    del fwd
    gc.collect()

    t = time.perf_counter()  # the first evaluation in this process: cold
    first = evaluate(grad, x0)
    r["eval_cold"] = time.perf_counter() - t
    r["gradient"] = first[0].tolist()
    r["tape_lowering"] = timed(lambda: compile_tape(grad), min_total=0.5)["median"]
    r["eval_point"] = timed(lambda: evaluate(grad, x0), min_total=0.5, max_reps=200)["median"]
    evaluate(c, x0)  # lower c's tape before timing it
    r["value"] = float(evaluate(c, x0)[0, 0])
    r["eval_point_f"] = timed(lambda: evaluate(c, x0), min_total=0.5, max_reps=200)["median"]
    N = len(X)
    r["batch_points"] = N
    batch = timed(lambda: evaluate(grad, X), min_total=2.0, max_reps=5)
    r["batch"] = batch["median"] / N
    r["batch_head"] = batch["result"][:CHECKED_POINTS].tolist()  # compared with CasADi's
    r["batch_f"] = timed(lambda: evaluate(c, X), min_total=1.0, max_reps=5)["median"] / N
    r["peak_rss_mb"] = peak_rss_mb()
    r |= our_modes(c, x0, grad, r["backward_simplified"])  # after the peak: not part of it
    return r


def our_memory(c: Circuit, simplified: bool) -> dict:
    """Peak RSS of one backward pass (raw, or with simplification) on c, in MB: the
    process already holds c and the warmed passes (``rss_before``), the high-water mark
    is restarted, so ``peak`` is the pass's and ``delta`` its own share."""
    warmed = warm_up()
    gc.collect()
    peak_load = peak_rss_mb()  # loading c and warming up
    reset = reset_peak_rss()
    before, peak_before = current_rss_mb(), peak_rss_mb()
    t = time.perf_counter()
    if simplified:
        differentiate(c, simplify=True)
    else:
        backward_propagate(c)
    elapsed = time.perf_counter() - t
    peak = peak_rss_mb()
    return {"rss_before": before, "peak_before": peak_before, "peak": peak,
            "delta": peak - before, "masked": peak <= peak_before, "time": elapsed,
            "warm_up": warmed, "peak_load": peak_load, "reset": reset}  # fmt: skip
