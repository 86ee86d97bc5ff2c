"""Processes that cannot outlive their parent, and the memory a process may take.

``die_with_parent`` asks the kernel (Linux ``PR_SET_PDEATHSIG``) for SIGKILL when the
thread that started this process ends, whatever ends it (SIGKILL included, where no
handler of ours could run). It serves as a ``preexec_fn`` (``preexec()``), in a forked
child (gunicorn's workers: ``post_fork``; Celery's pool processes:
``worker_process_init``), and checks the parent has not gone already, which would leave
the request unanswered. Elsewhere than Linux it does nothing and the parent's own
shutdown has to stop its children.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1


def _prctl():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except OSError:
        return None


_PRCTL = _prctl()


def die_with_parent(parent: int | None = None) -> None:
    """SIGKILL when the parent goes; exit now if it is gone already (``parent``: its pid,
    when known; else a parent replaced by init means gone)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    ppid = os.getppid()
    if (parent is not None and ppid != parent) or (parent is None and ppid == 1):
        os._exit(1)


def preexec() -> object | None:
    """A ``preexec_fn`` tying the child to this process, when called from the main thread,
    else None: the kernel ties the child to the *thread* that forked it, and a worker
    thread may end long before the process does (the caller's atexit handler then stops
    the child)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    parent = os.getpid()
    return lambda: die_with_parent(parent)


def data_bytes() -> int:
    """This process's data segment now (VmData: heap and private writable mappings)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def limit_data(budget: int) -> None:
    """Let the data segment grow by at most ``budget`` bytes from now on (RLIMIT_DATA:
    anonymous memory — NumPy arrays, Python objects, thread stacks — but not the code and
    files mapped in, so the compiled engine does not count against a job)."""
    import resource

    soft = data_bytes() + budget
    _, hard = resource.getrlimit(resource.RLIMIT_DATA)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))
