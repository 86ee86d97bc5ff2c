"""First start from a fresh clone: how long until ``circuitgrad serve`` is ready, and until
the CLI's first gradient of equation (1), with nothing compiled yet.

    python bench/first_start.py [--repo PATH] [--keep]

Clones the repository (its committed HEAD) into a temporary folder, makes a venv there,
``pip install``s it with the service extra, then, with ``NUMBA_CACHE_DIR`` and the
kernels cache (``CIRCUITGRAD_KERNEL_CACHE``) pointed at empty folders:

1. starts ``circuitgrad serve`` and times it until ``GET /v1/ready`` answers 200, then
   one gradient job of equation (1) through HTTP, and notes when the background
   compiler says it is done (it is left to finish, up to ``--compile-timeout``);
2. with empty caches again, times ``circuitgrad grad --expr`` of equation (1) (local
   mode, a process of its own; the compiler it starts in the background is stopped).

Prints the seconds of each; ``docs/benchmarks.md`` has the figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def step(what: str, cmd: list[str], **kw) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, **kw)
    seconds = time.perf_counter() - t
    print(f"{what}: {seconds:.1f} s", flush=True)
    return seconds


def fresh_caches(base: Path, name: str) -> dict[str, str]:
    numba, kernels = base / f"{name}-numba", base / f"{name}-kernels"
    for folder in (numba, kernels):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    return {"NUMBA_CACHE_DIR": str(numba), "CIRCUITGRAD_KERNEL_CACHE": str(kernels)}


def stop_processes_mentioning(text: str) -> None:
    """Stop the processes this benchmark started that are still running (the detached
    compiler of local mode): found by the temporary folder in their environment."""
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if text.encode() not in f.read():
                    continue
            os.kill(int(pid), signal.SIGTERM)
        except OSError:
            continue


def time_serve(bin_dir: Path, base: Path, env: dict, compile_timeout: float) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = base / "serve.log"
    cmd = [str(bin_dir / "circuitgrad"), "serve", "--port", str(port)]
    cmd += ["--data-dir", str(base / "data")]
    out: dict[str, float | None] = {"ready": None, "first_job": None, "compiled": None}
    t0 = time.perf_counter()
    with open(log_path, "wb") as log:
        p = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        while out["ready"] is None:
            if p.poll() is not None:
                raise RuntimeError(f"serve exited:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/v1/ready", timeout=1).status_code == 200:
                    out["ready"] = time.perf_counter() - t0
            except httpx.HTTPError:
                time.sleep(0.05)
        t = time.perf_counter()
        with httpx.Client(base_url=url, timeout=120) as http:
            job = http.post("/v1/gradients", json={"expression": EQ1}).json()
            job = http.get(f"/v1/jobs/{job['id']}", params={"wait": 60}).json()
            assert job["status"] == "succeeded", job
            values = http.post(
                f"/v1/circuits/{job['result']['circuit_id']}/evaluate",
                json={"points": [{"x": 1, "y": 2, "z": 3}]},
            ).json()["values"]
            assert values == [[-66.0, 60.0, 240.0]], values
        out["first_job"] = time.perf_counter() - t
        deadline = time.perf_counter() + compile_timeout
        while time.perf_counter() < deadline:
            found = re.search(r"compiled the engine's kernels in (\d+) s", log_path.read_text())
            if found:
                out["compiled"] = time.perf_counter() - t0
                break
            time.sleep(0.5)
    finally:
        p.send_signal(signal.SIGINT)
        try:
            p.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
    progress = [line for line in log_path.read_text().splitlines() if "kernels" in line]
    print("\n".join(f"    | {line}" for line in progress[:3] + progress[-2:]), flush=True)
    return out


def time_cli(bin_dir: Path, base: Path, env: dict) -> float:
    out = base / "grad.json"
    t = time.perf_counter()
    subprocess.run(
        [str(bin_dir / "circuitgrad"), "grad", "--expr", EQ1, "-o", str(out)],
        env=env,
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - t
    stop_processes_mentioning(env["NUMBA_CACHE_DIR"])
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(ROOT), help="the repository to clone")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--compile-timeout", type=float, default=600.0)
    args = parser.parse_args()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} at the start", flush=True)
    base = Path(tempfile.mkdtemp(prefix="circuitgrad-first-start-"))
    try:
        clone, venv = base / "circuitgrad", base / "venv"
        step("git clone", ["git", "clone", "--quiet", args.repo, str(clone)])
        step("python -m venv", [sys.executable, "-m", "venv", str(venv)])
        pip = [str(venv / "bin" / "pip"), "install", "--quiet", f"{clone}[service]"]
        step(
            "pip install .[service]", pip, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
        )
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CIRCUITGRAD_URL")}
        env["CIRCUITGRAD_LOG_FORMAT"] = "text"
        bin_dir = venv / "bin"
        served = time_serve(
            bin_dir, base, {**env, **fresh_caches(base, "serve")}, args.compile_timeout
        )
        cli = time_cli(bin_dir, base, {**env, **fresh_caches(base, "cli")})
        print(f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end")
        print(f"serve ready after {served['ready']:.1f} s (target 15 s)")
        print(f"first gradient job through HTTP: {served['first_job']:.2f} s more")
        if served["compiled"] is not None:
            print(f"background compilation done {served['compiled']:.0f} s after the start")
        print(f"CLI's first grad --expr of equation (1): {cli:.1f} s (target 5 s)")
        return 0
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
