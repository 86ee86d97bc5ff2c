"""``circuitgrad serve``: the whole service on one machine, started and stopped together.

Redis (embedded unless ``REDIS_URL`` is set), the Celery worker with N pool processes
and the API under gunicorn, each its own process group so that Ctrl-C reaches only
this supervisor, which then stops them in order: the API (no new work), the workers
(unfinished jobs go back to the queue: they are acknowledged late), Redis last (its
append-only file flushed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .embedded_redis import DEFAULT_MAXMEMORY, EmbeddedRedis

CLI = [sys.executable, "-m", "circuitgrad.service.cli"]


class Stack:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        workers: int = 2,
        data_dir: str | os.PathLike = ".circuitgrad",
        redis_url: str | None = None,
        processes: int = 2,
        env: dict | None = None,
    ):
        self.host, self.port, self.workers, self.processes = host, port, workers, processes
        self.data_dir = Path(data_dir)
        self.redis_url = redis_url
        self.env = {**os.environ, **(env or {})}
        self.redis: EmbeddedRedis | None = None
        self.children: list[tuple[str, subprocess.Popen]] = []

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 60.0) -> Stack:
        from circuitgrad.worker.runtime import warm_up

        warm_up(batch=True)  # compile once here; the parts then load numba's on-disk cache
        if self.redis_url is None:
            maxmemory = self.env.get("CIRCUITGRAD_REDIS_MAXMEMORY", DEFAULT_MAXMEMORY)
            self.redis = EmbeddedRedis(self.data_dir / "redis", maxmemory=maxmemory).start()
            self.redis_url = self.redis.url
        env = {**self.env, "REDIS_URL": self.redis_url}
        self._spawn("worker", [*CLI, "worker", "--concurrency", str(self.workers)], env)
        self._spawn(
            "api",
            [
                *CLI,
                "api",
                "--host",
                self.host,
                "--port",
                str(self.port),
                "--processes",
                str(self.processes),
            ],
            env,
        )
        self.wait_ready(timeout)
        return self

    def _spawn(self, name: str, cmd: list[str], env: dict) -> None:
        p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=True)
        self.children.append((name, p))

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.children:
                if p.poll() is not None:
                    raise RuntimeError(f"the {name} exited with status {p.returncode}")
            try:
                if httpx.get(self.base_url + "/v1/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the stack was not ready within {timeout:.0f} s")

    def failed(self) -> str | None:
        """The name of a part that exited on its own, if any."""
        for name, p in self.children:
            if p.poll() is not None:
                return name
        return None

    def stop(self, grace: float = 15.0) -> None:
        for name in ("api", "worker"):
            for n, p in self.children:
                if n == name and p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for n, p in self.children:
                if n == name:
                    try:
                        p.wait(grace)
                    except subprocess.TimeoutExpired:
                        os.killpg(p.pid, signal.SIGKILL)
                        p.wait()
        self.children.clear()
        if self.redis is not None:
            self.redis.stop()
            self.redis = None


def serve(host: str, port: int, workers: int, data_dir: str) -> int:
    """Run the stack until Ctrl-C (or SIGTERM); 1 if a part died on its own."""
    stack = Stack(host, port, workers, data_dir, redis_url=os.environ.get("REDIS_URL") or None)
    stopping = []

    def on_signal(signum, frame):
        stopping.append(signum)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start()
        where = "embedded Redis in " + str(stack.data_dir / "redis") if stack.redis else "Redis"
        print(
            f"circuitgrad serving on {stack.base_url} ({workers} worker processes, {where}; "
            f"Ctrl-C stops)",
            flush=True,
        )
        while not stopping:
            dead = stack.failed()
            if dead:
                print(f"the {dead} stopped; shutting down", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        print("stopping...", file=sys.stderr, flush=True)
        stack.stop()
