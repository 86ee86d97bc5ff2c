"""``circuitgrad serve``: check, start, watch, stop.

Before anything starts: the data directory is locked (``datadir.py``: a second ``serve``
on it says who holds it and exits 2) and the port is tried (a busy one: exit 2 with the
``--port`` hint). Then the stack runs until SIGINT (Ctrl-C), SIGTERM or SIGHUP (the
terminal closed), each of which stops it cleanly (exit 0); a part that crashes is
restarted (``stack.py``); one that keeps crashing ends it (exit 1).
"""

from __future__ import annotations

import os
import signal
import time

from .datadir import DataDirLock, StartError, check_port
from .stack import Stack, StackFailed, say

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def serve(host: str, port: int, workers: int, data_dir: str) -> int:
    """Run the stack until a stop signal: 0 stopped, 1 a part kept failing, 2 cannot start."""
    stopping: list[int] = []

    def on_signal(signum, frame):
        stopping.append(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    stack = Stack(host, port, workers, data_dir, redis_url=os.environ.get("REDIS_URL") or None)
    try:
        lock = DataDirLock(data_dir).acquire(url=stack.base_url)
    except StartError as e:
        say(f"error: {e}")
        return 2
    try:
        check_port(host, port)
        stack.start(timeout=120, stopping=lambda: bool(stopping))
        if not stopping:
            where = f"embedded Redis in {stack.data_dir / 'redis'}" if stack.redis else "Redis"
            say(f"serving on {stack.base_url} ({workers} worker processes, {where}; Ctrl-C stops)")
        while not stopping:
            stack.supervise()
            time.sleep(0.2)
        return 0
    except StartError as e:
        say(f"error: {e}")
        return 2
    except StackFailed as e:
        say(f"error: {e}")
        return 1
    finally:
        if stopping:
            say(f"stopping ({signal.Signals(stopping[0]).name})...")
        stack.stop()
        lock.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
