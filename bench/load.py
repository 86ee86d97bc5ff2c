"""Load benchmark: N SDK clients for T seconds against a `circuitgrad serve`-like stack.

    python bench/load.py [--clients 16] [--seconds 20] [--workers 1 2 4] [--api-processes 2]

For each worker count, starts the stack (service/stack.py's ``Stack``: embedded Redis
unless REDIS_URL is set, gunicorn with gevent, one Celery worker with that many pool
processes), runs N threads, each its own ``circuitgrad.client.Client``, each submitting
gradient jobs of small fresh expressions and waiting for them (``job.wait()``, a long
poll) until T seconds are over, then prints a table: jobs per second, p50 and p99 of
submit → done, errors (any exception or failed job; must be 0).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time

import numpy as np

from circuitgrad.client import Client
from circuitgrad.service.embedded_redis import free_port
from circuitgrad.service.stack import Stack


def expression(k: int) -> str:
    """Equation (1) of the lecture with a constant that makes each circuit new."""
    return f"(x-3*y-3*z+{k})**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


def client_loop(url: str, deadline: float, first: int, stride: int, out: dict) -> None:
    latencies, errors = [], []
    k = first
    with Client(url) as client:
        while time.monotonic() < deadline:
            t = time.perf_counter()
            try:
                job = client.gradient(expression=expression(k)).wait(timeout=60)
                if job.status != "succeeded":
                    errors.append(f"job {job.id} {job.status}")
                else:
                    latencies.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 -- every failure counts as an error
                errors.append(f"{type(e).__name__}: {e}")
            k += stride
    out["latencies"] = latencies
    out["errors"] = errors


def run(workers: int, clients: int, seconds: float, api_processes: int, offset: int) -> dict:
    env = {
        "CIRCUITGRAD_RATE_LIMIT": "0",
        "CIRCUITGRAD_LOG_LEVEL": "WARNING",
        "CIRCUITGRAD_KEY_PREFIX": f"load{os.getpid()}w{workers}:",
    }
    with tempfile.TemporaryDirectory() as data:
        stack = Stack(
            port=free_port(),
            workers=workers,
            processes=api_processes,
            data_dir=data,
            redis_url=os.environ.get("REDIS_URL"),
            env=env,
        )
        stack.start(timeout=300)
        try:
            warm: dict = {}
            client_loop(stack.base_url, time.monotonic() + 2, offset - 10**6, 1, warm)
            outs = [{} for _ in range(clients)]
            t0 = time.monotonic()
            threads = [
                threading.Thread(
                    target=client_loop,
                    args=(stack.base_url, t0 + seconds, offset + i, clients, outs[i]),
                )
                for i in range(clients)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            took = time.monotonic() - t0
        finally:
            stack.stop()
    latencies = np.array([x for o in outs for x in o["latencies"]])
    errors = [e for o in outs for e in o["errors"]]
    p50, p99 = np.percentile(latencies, [50, 99]) * 1e3 if len(latencies) else (np.nan,) * 2
    return {
        "workers": workers,
        "jobs": len(latencies),
        "jobs_per_s": len(latencies) / took,
        "p50_ms": p50,
        "p99_ms": p99,
        "errors": errors,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--api-processes", type=int, default=2)
    args = ap.parse_args(argv)
    offset = int(time.time()) % 10_000 * 10**6  # new circuits on every run
    rows = []
    for i, w in enumerate(args.workers):
        row = run(w, args.clients, args.seconds, args.api_processes, offset + i * 10**5)
        rows.append(row)
        print(
            f"workers {w}: {row['jobs']} jobs, {row['jobs_per_s']:.1f} jobs/s, "
            f"errors {len(row['errors'])}",
            flush=True,
        )
        for e in row["errors"][:5]:
            print("  error:", e, flush=True)
    print(
        f"\n{args.clients} SDK clients x {args.seconds:g} s, "
        f"{args.api_processes} API processes (gunicorn + gevent), small gradient jobs\n"
    )
    print("| workers | jobs | jobs/s | p50 submit→done (ms) | p99 (ms) | errors |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['workers']} | {r['jobs']} | {r['jobs_per_s']:.1f} | {r['p50_ms']:.0f} "
            f"| {r['p99_ms']:.0f} | {len(r['errors'])} |"
        )
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
