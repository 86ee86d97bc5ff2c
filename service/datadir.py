"""The data directory of ``circuitgrad serve``: one supervisor at a time, and its port.

``DataDirLock`` takes an exclusive ``flock`` on ``DIR/serve.lock`` and writes its pid,
start time and address there. The kernel drops the lock when the process ends, however
it ends (SIGKILL included), and the file descriptor is not inherited by the children, so
a leftover file never blocks anybody. A second ``serve`` on the same directory reads who
holds it and says so at once. ``check_port`` binds the address the API will listen on
before anything starts, so a busy port is reported at once as well.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import time
from pathlib import Path


class StartError(Exception):
    """``serve`` cannot start; the message says why and what to do."""


class DataDirLock:
    def __init__(self, data_dir: str | os.PathLike):
        self.data_dir = Path(data_dir).resolve()
        self.path = self.data_dir / "serve.lock"
        self._fd: int | None = None

    def acquire(self, **about) -> DataDirLock:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EACCES):
                raise
            raise StartError(self._held_by()) from None
        info = {"pid": os.getpid(), "since": time.strftime("%Y-%m-%d %H:%M:%S %z"), **about}
        os.ftruncate(fd, 0)
        os.pwrite(fd, (json.dumps(info) + "\n").encode(), 0)
        self._fd = fd
        return self

    def _held_by(self) -> str:
        try:
            info = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            info = {}
        who = f"pid {info.get('pid', '?')}, since {info.get('since', '?')}"
        where = f", serving on {info['url']}" if info.get("url") else ""
        return (
            f"the data directory {self.data_dir} is in use by another circuitgrad serve "
            f"({who}{where}); stop it first, or give this one another --data-dir"
        )

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the lock

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def check_port(host: str, port: int) -> None:
    """``StartError`` when ``host:port`` cannot be listened on (in use, not ours)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise StartError(f"cannot listen on {host}: {e.strerror}") from None
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn does
        try:
            s.bind(address)
        except OSError as e:
            raise StartError(
                f"port {port} on {host} is not free ({e.strerror}): another server uses "
                f"it; choose another with --port"
            ) from None
