"""The processes of ``circuitgrad serve``: started together, watched, restarted, stopped.

Redis (embedded unless ``REDIS_URL`` is set), the Celery worker with N pool processes,
the API under gunicorn and, on a first start, the engine's background compiler
(``worker/precompile.py``). Each runs in a process group of its own, so a Ctrl-C in the
terminal reaches only the supervisor, and each is tied to the supervisor by
``PR_SET_PDEATHSIG`` (``processes.py``): if the supervisor dies, even by SIGKILL, they
die too, and their own children (gunicorn's workers, Celery's pool) die with them.

``supervise()`` restarts a part that exited on its own, after 1, 2, 4 … 30 s (back to 1
s once it ran a minute), counting restarts in the log; a part that keeps failing within
seconds of starting ends the stack (``StackFailed``). ``stop()`` stops the API first (no
new work), then the workers (unfinished jobs go back to the queue: they are
acknowledged late), Redis last (its append-only file flushed).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from circuitgrad.worker import precompile
from circuitgrad.worker.metrics import MULTIPROC_ENV, SHARED_ENV
from circuitgrad.worker.processes import preexec

from .embedded_redis import DEFAULT_MAXMEMORY, EmbeddedRedis

CLI = [sys.executable, "-m", "circuitgrad.service.cli"]
BACKOFF_MAX = 30.0
STABLE_SECONDS = 60.0  # a part that ran this long starts its backoff afresh
CRASH_LOOP = 5  # quick failures in a row that end the stack


class StackFailed(RuntimeError):
    """A part keeps failing: the stack cannot run."""


def say(message: str) -> None:
    """A line of the supervisor's own (the terminal may be gone: never fail on it)."""
    try:
        print(f"circuitgrad serve: {message}", file=sys.stderr, flush=True)
    except (OSError, ValueError):
        pass


@dataclass
class Part:
    name: str
    launch: Callable[[], subprocess.Popen]
    restart: bool = True  # False: a one-shot job (the compiler)
    process: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0
    quick_failures: int = 0
    due: float | None = None  # when a restart is due
    history: list[int] = field(default_factory=list)  # exit statuses

    def start(self) -> None:
        self.process = self.launch()
        self.started, self.due = time.monotonic(), None


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
        self.parts: list[Part] = []

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def children(self) -> list[tuple[str, subprocess.Popen]]:
        return [(p.name, p.process) for p in self.parts if p.process is not None]

    def start(self, timeout: float = 60.0, stopping: Callable[[], bool] = lambda: False) -> Stack:
        metrics = (self.data_dir / "metrics").resolve()
        shutil.rmtree(metrics, ignore_errors=True)  # counters of the last run: not ours
        metrics.mkdir(parents=True)
        env = {**self.env, MULTIPROC_ENV: str(metrics), SHARED_ENV: "1"}
        if self.redis_url is None:
            maxmemory = self.env.get("CIRCUITGRAD_REDIS_MAXMEMORY", DEFAULT_MAXMEMORY)
            self.redis = EmbeddedRedis(self.data_dir / "redis", maxmemory=maxmemory)
            self._add(Part("redis", lambda: self.redis.start().process))
            self.redis_url = self.redis.url
        env["REDIS_URL"] = self.redis_url
        worker = [*CLI, "worker", "--concurrency", str(self.workers)]
        self._add(Part("worker", lambda: self._spawn(worker, env)))
        api = [*CLI, "api", "--host", self.host, "--port", str(self.port)]
        api += ["--processes", str(self.processes)]
        self._add(Part("api", lambda: self._spawn(api, env)))
        if precompile.enabled():  # last, at low priority; it stops at once if not needed
            cmd = [sys.executable, "-m", "circuitgrad.worker.precompile", "--progress"]
            self._add(Part("compiler", lambda: self._spawn(cmd, env), restart=False))
        self.wait_ready(timeout, stopping)
        return self

    def _add(self, part: Part) -> None:
        self.parts.append(part)
        part.start()

    def _spawn(self, cmd: list[str], env: dict) -> subprocess.Popen:
        return subprocess.Popen(
            cmd, env=env, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec()
        )

    def wait_ready(self, timeout: float, stopping: Callable[[], bool] = lambda: False) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not stopping():
            self.supervise()
            try:
                if httpx.get(self.base_url + "/v1/ready", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        if not stopping():
            raise StackFailed(f"the stack was not ready within {timeout:.0f} s")

    def supervise(self) -> None:
        """Restart what exited on its own (once its backoff passed)."""
        now = time.monotonic()
        for part in list(self.parts):
            p = part.process
            if p is None or p.poll() is None:
                if part.due is not None and now >= part.due:
                    self._restart(part, now)
                continue
            status = p.returncode
            part.process = None
            part.history.append(status)
            if not part.restart:
                self.parts.remove(part)
                if status != 0:
                    say(f"the {part.name} exited with status {status}")
                continue
            self._schedule(part, now, f"exited with status {status}")

    def _schedule(self, part: Part, now: float, what: str) -> None:
        ran = now - part.started
        part.quick_failures = 0 if ran >= STABLE_SECONDS else part.quick_failures + 1
        if part.quick_failures >= CRASH_LOOP:
            raise StackFailed(
                f"the {part.name} {what}, {CRASH_LOOP} times in a row within seconds of "
                f"starting; giving up"
            )
        part.restarts += 1
        delay = min(BACKOFF_MAX, 2.0 ** max(0, part.quick_failures - 1))
        part.due = now + delay
        say(f"the {part.name} {what}; restarting it in {delay:.0f} s (restart {part.restarts})")

    def _restart(self, part: Part, now: float) -> None:
        try:
            part.start()
        except Exception as e:  # e.g. Redis could not start: try again later
            part.started = now
            self._schedule(part, now, f"did not start ({e})")

    def failed(self) -> str | None:
        """The name of a part that exited on its own and is not running, if any."""
        for part in self.parts:
            if part.restart and (part.process is None or part.process.poll() is not None):
                return part.name
        return None

    def stop(self, grace: float = 15.0) -> None:
        for name in ("api", "worker", "compiler"):
            for part in self.parts:
                if part.name == name and part.process is not None:
                    _terminate(part.process, grace)
        self.parts = [p for p in self.parts if p.name == "redis"]
        if self.redis is not None:
            self.redis.stop()
        self.parts.clear()


def _terminate(p: subprocess.Popen, grace: float) -> None:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
