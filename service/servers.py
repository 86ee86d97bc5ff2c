"""The two long-running parts, each in the foreground of its process.

run_api(host, port, processes)            gunicorn serving the Flask app (gevent
                                          workers, ``front.py``: a long poll or an idle
                                          connection holds a greenlet, not a thread)
run_worker(concurrency, name, loglevel)   a Celery worker (prefork: time limits need it;
                                          worker/pool.py)

Both log JSON lines (``worker/logs.py``), write their metrics where
``PROMETHEUS_MULTIPROC_DIR`` says (``worker/metrics.py``), and tie their children to
themselves: gunicorn's workers and Celery's pool processes die with their parent,
however it ends (``worker/processes.py``).
"""

from __future__ import annotations

import os


def _post_fork(server, worker) -> None:
    """In each gunicorn worker: die with the master, however it ends (processes.py)."""
    from circuitgrad.worker.processes import die_with_parent

    die_with_parent(server.pid)


def _child_exit(server, worker) -> None:
    from circuitgrad.worker.metrics import mark_dead

    mark_dead(worker.pid)


def gunicorn_options(host: str, port: int, processes: int, threads: int = 0) -> dict:
    """``threads`` is kept for the command line's sake; gevent needs none."""
    from circuitgrad.worker.logs import logging_dict
    from circuitgrad.worker.settings import settings

    s = settings()
    level = os.environ.get("CIRCUITGRAD_LOG_LEVEL", "info").lower()
    return {
        "bind": f"{host}:{port}",
        "workers": processes,
        "worker_class": "circuitgrad.service.front.ApiWorker",
        "worker_connections": s.api_connections,
        "timeout": 300,  # a process whose loop is blocked this long is restarted
        "graceful_timeout": 10,
        "keepalive": max(1, round(s.header_timeout)),  # front.py: the header timeout rules
        "errorlog": "-",
        "loglevel": level,
        "logconfig_dict": logging_dict("api", level),  # JSON lines (worker/logs.py)
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "proc_name": "circuitgrad-api",
        "post_fork": _post_fork,
        "child_exit": _child_exit,
    }


def run_api(host: str = "127.0.0.1", port: int = 8000, processes: int = 2, threads: int = 0):
    from gunicorn.app.base import BaseApplication

    from circuitgrad.worker.metrics import clean_multiproc_dir

    clean_multiproc_dir()

    class Api(BaseApplication):
        def load_config(self):
            for key, value in gunicorn_options(host, port, processes, threads).items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self):
            from .wsgi import app

            return app

    Api().run()


def run_worker(concurrency: int = 1, name: str | None = None, loglevel: str = "INFO") -> None:
    from circuitgrad.worker import logs, metrics
    from circuitgrad.worker.celery_app import app
    from circuitgrad.worker.settings import settings

    metrics.clean_multiproc_dir()
    logs.configure("worker", loglevel)
    # (each pool process dies with the worker's main process: worker/tasks.py)
    port = os.environ.get("CIRCUITGRAD_METRICS_PORT", "").strip()
    if port:  # a worker on a machine of its own shows its metrics itself
        metrics.serve_metrics(int(port))

    name = name or os.environ.get("CIRCUITGRAD_WORKER_NAME") or f"worker-{os.getpid()}@%h"
    app.worker_main(
        [
            "worker",
            "--queues",
            settings().queue,
            "--concurrency",
            str(concurrency),
            "--hostname",
            name,
            "--loglevel",
            loglevel,
            "--without-gossip",
            "--without-mingle",
        ]
    )
