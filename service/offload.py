"""CPU-bound work off the event loop.

Under gevent (the API's front, ``front.py``) a greenlet that computes holds the loop: no
other connection of that process is served until it is done. ``cpu(fn, *args)`` runs
``fn`` on the one native thread of this process's CPU pool (gevent's ``ThreadPool``)
while the calling greenlet waits; the loop keeps serving, getting the interpreter back
at least every switch interval (5 ms) while ``fn`` runs Python code, and in parallel
while it runs code that releases the GIL. One thread: large decodes and predictions of
one process run one at a time (their memory does not add up), small requests never wait
for them. Without gevent's monkey-patching (tests, local mode, a plain WSGI server)
``fn`` is simply called.

Only self-contained engine work goes there (decoding and validating a document,
predicting a gradient's size): nothing that uses the request, Redis or gevent's
primitives.
"""

from __future__ import annotations

import os

OFFLOAD_GATES = 20_000  # work on a larger circuit is heavy: off the loop
_pool = None  # (pid, ThreadPool)


def _patched() -> bool:
    try:
        from gevent import monkey
    except ImportError:
        return False
    return monkey.is_module_patched("threading")


def cpu(fn, *args, heavy: bool = True):
    """``fn(*args)``, on the CPU thread when serving under gevent and ``heavy`` (small work
    is cheaper done at once than handed over)."""
    global _pool
    if not heavy or not _patched():
        return fn(*args)
    if _pool is None or _pool[0] != os.getpid():
        from gevent.threadpool import ThreadPool

        _pool = (os.getpid(), ThreadPool(1))
    ok, value = _pool[1].apply(_call, (fn, args))
    if not ok:
        raise value  # an expected error (a 4xx) is the caller's, not the pool's to report
    return value


def _call(fn, args):
    try:
        return True, fn(*args)
    except Exception as e:
        return False, e
