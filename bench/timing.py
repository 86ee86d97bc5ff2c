"""Clocks and memory gauges shared by both sides of the benchmark.

Peak memory is the kernel's high-water resident set of this process image (``VmHWM``),
not ``ru_maxrss``: a child started by fork + exec inherits its parent's ru_maxrss, which
would hide a small pass behind the parent's circuit generation. ``reset_peak_rss`` starts
the mark again from the current RSS, so a pass can be measured on its own.
"""

from __future__ import annotations

import time

import numpy as np

BUDGET = 1.0  # scales every ``min_total`` (the quick smoke run lowers it)


def timed(fn, min_total: float = 1.0, max_reps: int = 7) -> dict:
    """Run ``fn`` until ``min_total`` × BUDGET seconds or ``max_reps`` runs have passed (at
    least once): the median and the first time (s), the run count and the last result."""
    times, result = [], None
    while not times or (sum(times) < min_total * BUDGET and len(times) < max_reps):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return {"median": float(np.median(times)), "first": times[0], "reps": len(times),
            "result": result}  # fmt: skip


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024 / 1e6  # kB
    raise KeyError(key)


def peak_rss_mb() -> float:
    """High-water resident set of this process in MB (since start or the last reset)."""
    return _status_mb("VmHWM")


def current_rss_mb() -> float:
    return _status_mb("VmRSS")


def reset_peak_rss() -> bool:
    """Restart the high-water mark from the current RSS (Linux ≥ 4.0); False if refused."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
