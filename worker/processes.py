"""Processes that cannot outlive their parent, and the memory a process may take.

``die_with_parent`` is a ``preexec_fn``: the child asks the kernel (Linux
``PR_SET_PDEATHSIG``) for SIGKILL when the thread that started it ends, whatever ends it
(SIGKILL included, where no handler of ours could run). Elsewhere it does nothing and the
parent's own shutdown has to stop its children.
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


def die_with_parent() -> None:
    """In the child, before exec: SIGKILL when the parent goes (and check it has not gone
    already, which would leave the request unanswered)."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() == 1:
        os._exit(1)


def preexec() -> object | None:
    """``die_with_parent`` when called from the main thread, else None: the kernel ties the
    child to the *thread* that forked it, and a worker thread may end long before the
    process does (the caller's atexit handler then stops the child)."""
    return die_with_parent if threading.current_thread() is threading.main_thread() else None


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
