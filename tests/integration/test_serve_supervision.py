"""``circuitgrad serve`` runs unattended: nothing outlives it (SIGKILL, SIGHUP), one serve
per data directory, a busy port said at once, a crashed part restarted, metrics that move
as jobs run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_stack_serve import processes_mentioning

from circuitgrad.service.embedded_redis import free_port

pytestmark = pytest.mark.integration
SCRIPT = os.path.join(os.path.dirname(sys.executable), "circuitgrad")


class Serve:
    """One ``circuitgrad serve`` in a data directory of its own, logging to a file."""

    def __init__(self, tmp_path: Path, port: int | None = None, data: Path | None = None):
        self.port = port or free_port()
        self.data = data or tmp_path / "data"
        self.log_path = tmp_path / f"serve-{self.port}-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env["CIRCUITGRAD_DATA_DIR"] = str(self.data)  # marks every process of the stack
        env["CIRCUITGRAD_LOG_FORMAT"] = "text"
        self.started = time.monotonic()
        with open(self.log_path, "wb") as log:
            self.p = subprocess.Popen(
                [SCRIPT, "serve", "--port", str(self.port), "--workers", "1"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.p.poll() is None, self.log[-3000:]
            try:
                if httpx.get(self.url + "/v1/ready", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"not ready in {timeout} s:\n{self.log[-3000:]}")

    def processes(self) -> dict[int, int]:
        """pid -> process group of every process of this stack (the supervisor aside):
        its children (redis-server rewrites its command line and environment: found as a
        child) and whatever mentions the data directory (their own children)."""
        found = set(processes_mentioning(str(self.data))) | set(_children(self.p.pid))
        out = {}
        for pid in found - {self.p.pid}:
            try:
                out[pid] = os.getpgid(pid)
            except ProcessLookupError:
                pass
        return out

    def kill(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGKILL)
            self.p.wait()


def in_groups(groups: set[int]) -> list[int]:
    """Live processes (not zombies waiting for init to reap them) of these groups."""
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) in groups:
            out.append(int(pid))
    return out


def gone(pids: dict[int, int], data: Path, timeout: float = 15) -> None:
    """Every process of the stack and of its process groups ends, soon."""
    groups = set(pids.values())  # redis-server's too, and anything left in a group
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (processes_mentioning(str(data)) or in_groups(groups)):
        time.sleep(0.1)
    assert processes_mentioning(str(data)) == []
    assert in_groups(groups) == []


def metrics(url: str) -> dict:
    text = httpx.get(url + "/metrics", timeout=10).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def run_job(url: str, expression: str) -> dict:
    with httpx.Client(base_url=url, timeout=60) as http:
        job = http.post("/v1/gradients", json={"expression": expression}).json()
        return http.get(f"/v1/jobs/{job['id']}", params={"wait": 30}).json()


def test_sigkill_of_serve_leaves_nothing_behind(tmp_path):
    serve = Serve(tmp_path)
    try:
        serve.wait_ready()
        pids = serve.processes()  # redis-server, worker (main + pool), api (master + 2)
        groups = set(pids.values())
        about = {pid: _cmdline(pid)[:80] for pid in pids}
        assert len(pids) >= 6 and len(groups) >= 3, about
        os.kill(serve.p.pid, signal.SIGKILL)  # no handler of ours runs
        serve.p.wait()
        gone(pids, serve.data)
    finally:
        serve.kill()


def test_serve_restarts_a_crashed_part_refuses_a_second_serve_and_stops_on_sighup(tmp_path):
    serve = Serve(tmp_path)
    try:
        serve.wait_ready()
        job = run_job(serve.url, "x*sin(y)")
        assert job["status"] == "succeeded"
        m = metrics(serve.url)
        done = ("circuitgrad_jobs_finished_total", (("kind", "gradient"), ("status", "succeeded")))
        assert m[done] >= 1  # observed in the worker's pool process, shown by the API
        assert m[("circuitgrad_workers_live", ())] == 1
        assert m[("circuitgrad_store_up", ())] == 1
        labels = (("endpoint", "/v1/gradients"), ("method", "POST"), ("status", "202"))
        posts = ("circuitgrad_http_requests_total", labels)
        assert m[posts] >= 1

        # a second serve on the same directory: refused at once, naming the holder
        t = time.monotonic()
        second = subprocess.run(
            [SCRIPT, "serve", "--port", str(free_port()), "--data-dir", str(serve.data)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2 and time.monotonic() - t < 10
        assert f"pid {serve.p.pid}" in second.stderr and "in use" in second.stderr

        # the worker's main process crashes: restarted, and the stack serves again
        worker = [pid for pid in serve.processes() if b" worker " in _cmdline(pid)]
        main = min(worker)
        os.kill(main, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while "restart 1" not in serve.log and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "the worker exited with status -9; restarting it" in serve.log
        assert run_job(serve.url, "x*cos(y) + 7")["status"] == "succeeded"
        assert serve.p.poll() is None
        finished = metrics(serve.url)[done]
        assert finished >= m[done] + 1  # counters of the crashed process are kept

        pids = serve.processes()
        os.killpg(serve.p.pid, signal.SIGHUP)  # the terminal closed
        assert serve.p.wait(60) == 0
        assert "stopping (SIGHUP)" in serve.log
        gone(pids, serve.data)
    finally:
        serve.kill()


def _children(parent: int) -> list[int]:
    out = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                if int(f.read().rpartition(")")[2].split()[1]) == parent:
                    out.append(int(pid))
        except (OSError, ValueError, IndexError):
            continue
    return out


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ")
    except OSError:
        return b""


def test_a_busy_port_is_refused_at_once(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        t = time.monotonic()
        serve = Serve(tmp_path, port=port)
        assert serve.p.wait(30) == 2
        assert time.monotonic() - t < 10
        assert f"port {port}" in serve.log and "--port" in serve.log
        assert not (serve.data / "redis").exists()  # nothing was started
