"""Service benchmark: the whole stack on loopback (``circuitgrad serve``'s supervisor).

    python bench/service.py [--workers 2] [--round-trips 300] [--jobs 1000] [--gates 1000000]

Prints
  * the round trip of a small circuit — upload, differentiate, poll (long poll), evaluate —
    p50 and p99 latency (targets: p50 ≤ 30 ms, p99 ≤ 100 ms);
  * gradient jobs per second with the given workers, many clients at once (target ≥ 100);
  * a 10⁶-gate circuit uploaded in packed msgpack, differentiated and evaluated, end to
    end (target ≤ 10 s), with its parts.

Redis is an embedded server started for the run unless REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import msgpack
import numpy as np

from circuitgrad.engine.building.generate import random_dag
from circuitgrad.engine.formats.codec import to_packed
from circuitgrad.service.embedded_redis import free_port
from circuitgrad.service.stack import Stack

MSGPACK = {"Content-Type": "application/msgpack"}


def small_expression(k: int) -> str:
    """Equation (1) of the lecture with a constant that makes each circuit new."""
    return f"(x-3*y-3*z+{k})**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


def wait(http: httpx.Client, job: dict) -> dict:
    while job["status"] not in ("succeeded", "failed", "cancelled"):
        job = http.get(f"/v1/jobs/{job['id']}", params={"wait": 30}).json()
    if job["status"] != "succeeded":
        raise RuntimeError(f"job failed: {job}")
    return job


def round_trip(http: httpx.Client, k: int) -> float:
    t = time.perf_counter()
    cid = http.post("/v1/circuits", json={"expression": small_expression(k)}).json()["id"]
    job = wait(http, http.post("/v1/gradients", json={"circuit_id": cid}).json())
    r = http.post(
        f"/v1/circuits/{job['result']['circuit_id']}/evaluate",
        json={"points": [{"x": 1.0, "y": 2.0, "z": 3.0}]},
    )
    assert r.status_code == 200
    return time.perf_counter() - t


def bench_round_trips(url: str, n: int, offset: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        for k in range(20):  # warm connections and caches
            round_trip(http, offset - 1 - k)
        times = np.array([round_trip(http, offset + k) for k in range(n)]) * 1e3
    p50, p99 = np.percentile(times, [50, 99])
    print(
        f"small round trip (upload, differentiate, poll, evaluate), {n} sequential: "
        f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, mean {times.mean():.1f} ms "
        f"(targets p50 <= 30 ms, p99 <= 100 ms)"
    )


def bench_throughput(url: str, jobs: int, clients: int, offset: int, workers: int) -> None:
    def one(k: int) -> None:
        http = local.http
        wait(http, http.post("/v1/gradients", json={"expression": small_expression(k)}).json())

    import threading

    local = threading.local()

    def init():
        local.http = httpx.Client(base_url=url, timeout=60)

    with ThreadPoolExecutor(clients, initializer=init) as pool:
        list(pool.map(one, range(offset - clients, offset)))  # warm-up
        t = time.perf_counter()
        list(pool.map(one, range(offset, offset + jobs)))
        took = time.perf_counter() - t
    print(
        f"throughput: {jobs} gradient jobs from {clients} clients with {workers} workers in "
        f"{took:.2f} s = {jobs / took:.0f} jobs/s (target >= 100)"
    )


def bench_large(url: str, gates: int, points: int) -> None:
    c = random_dag(gates, n_inputs=10, seed=int(time.time()))
    body = msgpack.packb(to_packed(c), use_bin_type=True)
    X = np.random.default_rng(0).uniform(-1, 1, (points, c.n_inputs))
    cols = {name: X[:, i].tobytes() for i, name in enumerate(c.inputs)}
    with httpx.Client(base_url=url, timeout=300) as http:
        t0 = time.perf_counter()
        r = http.post("/v1/circuits", content=body, headers=MSGPACK)
        assert r.status_code in (200, 201), r.text
        cid = r.json()["id"]
        t1 = time.perf_counter()
        job = wait(http, http.post("/v1/gradients", json={"circuit_id": cid}).json())
        t2 = time.perf_counter()
        r = http.post(
            f"/v1/circuits/{job['result']['circuit_id']}/evaluate",
            content=msgpack.packb({"points": cols}),
            headers={**MSGPACK, "Accept": "application/msgpack"},
        )
        assert r.status_code == 200, r.text
        values = np.array(msgpack.unpackb(r.content)["values"])
        t3 = time.perf_counter()
    cert = job["result"]["certificate"]
    print(
        f"{gates:.0e}-gate circuit ({len(body) / 2**20:.0f} MiB packed msgpack, "
        f"{c.n_wires} wires): end to end {t3 - t0:.2f} s = upload {t1 - t0:.2f} s + "
        f"differentiate {t2 - t1:.2f} s + evaluate {points} points {t3 - t2:.2f} s "
        f"(target <= 10 s)"
    )
    print(
        f"  gradient: {job['result']['size']} gates ({cert['mode']}; raw {cert['raw']['size']}"
        f" within Theorem 3 bound {cert['theorem3_bound']}), values {values.shape}"
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--api-processes", type=int, default=2)
    ap.add_argument("--round-trips", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--gates", type=int, default=1_000_000)
    ap.add_argument("--points", type=int, default=10)
    args = ap.parse_args(argv)
    env = {
        "CIRCUITGRAD_RATE_LIMIT": "0",
        "CIRCUITGRAD_LOG_LEVEL": "WARNING",
        "CIRCUITGRAD_KEY_PREFIX": f"bench{os.getpid()}:",
    }
    with tempfile.TemporaryDirectory() as data:
        stack = Stack(
            port=free_port(),
            workers=args.workers,
            processes=args.api_processes,
            data_dir=data,
            redis_url=os.environ.get("REDIS_URL"),
            env=env,
        )
        t = time.perf_counter()
        stack.start(timeout=300)
        print(
            f"stack up in {time.perf_counter() - t:.1f} s: API {stack.base_url} "
            f"({args.api_processes} gunicorn processes), {args.workers} worker processes, "
            f"Redis {'embedded' if stack.redis else stack.redis_url}",
            flush=True,
        )
        offset = int(time.time()) % 100_000 * 10_000  # new circuits on every run
        try:
            bench_round_trips(stack.base_url, args.round_trips, offset)
            bench_throughput(stack.base_url, args.jobs, args.clients, offset + 5000, args.workers)
            if args.gates:
                bench_large(stack.base_url, args.gates, args.points)
        finally:
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
