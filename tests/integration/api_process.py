"""An API process of a test's own (gunicorn, as ``circuitgrad api`` runs it), on the
session's Redis and queue (so the session stack's workers serve it), and what the tests
measure of it: the resident memory of its gunicorn worker processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from circuitgrad.service.embedded_redis import free_port


class ApiProcess:
    def __init__(self, redis_url: str, namespace: str, log: Path, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "REDIS_URL": redis_url,
            "CIRCUITGRAD_KEY_PREFIX": f"{namespace}:",
            "CIRCUITGRAD_QUEUE": namespace,
            "CIRCUITGRAD_RATE_LIMIT": "0",
            "CIRCUITGRAD_LOG_LEVEL": "WARNING",
            "CIRCUITGRAD_REDIS_PASSWORD_FILE": "",
            "CIRCUITGRAD_API_KEYS_FILE": "",
            **(env or {}),
        }
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self, processes: int = 1, timeout: float = 120.0) -> ApiProcess:
        command = [sys.executable, "-m", "circuitgrad.service.cli", "api"]
        command += ["--host", "127.0.0.1", "--port", str(self.port)]
        command += ["--processes", str(processes)]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the API did not start (log: {self.log})")
            time.sleep(0.1)

    def workers(self) -> list[int]:
        """The gunicorn worker processes (children of the master)."""
        pids = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == self.process.pid:
                pids.append(int(pid))
        return pids

    def memory(self, field: str) -> int:
        """Sum over the workers of ``VmRSS`` (resident now) or ``VmHWM`` (peak), bytes."""
        total = 0
        for pid in self.workers():
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith(field + ":"):
                        total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
