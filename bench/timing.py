"""Clocks and memory gauges shared by both sides of the benchmark."""

from __future__ import annotations

import os
import resource
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


def peak_rss_mb() -> float:
    """This process's high-water resident set in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
