"""The two long-running parts, each in the foreground of its process.

run_api(host, port, processes)            gunicorn serving the Flask app (gevent
                                          workers, ``front.py``: a long poll or an idle
                                          connection holds a greenlet, not a thread)
run_worker(concurrency, name, loglevel)   a Celery worker (prefork: time limits need it)
"""

from __future__ import annotations

import os

WSGI_APP = "circuitgrad.service.wsgi:app"


def gunicorn_options(host: str, port: int, processes: int, threads: int = 0) -> dict:
    """``threads`` is kept for the command line's sake; gevent needs none."""
    from circuitgrad.worker.settings import settings

    s = settings()
    return {
        "bind": f"{host}:{port}",
        "workers": processes,
        "worker_class": "circuitgrad.service.front.ApiWorker",
        "worker_connections": s.api_connections,
        "timeout": 300,  # a process whose loop is blocked this long is restarted
        "graceful_timeout": 10,
        "keepalive": max(1, round(s.header_timeout)),  # front.py: the header timeout rules
        "errorlog": "-",
        "loglevel": os.environ.get("CIRCUITGRAD_LOG_LEVEL", "info").lower(),
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "proc_name": "circuitgrad-api",
    }


def run_api(host: str = "127.0.0.1", port: int = 8000, processes: int = 2, threads: int = 0):
    from gunicorn.app.base import BaseApplication

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
    from circuitgrad.worker.celery_app import app
    from circuitgrad.worker.settings import settings

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
            "--pool",
            "prefork",
            "--without-gossip",
            "--without-mingle",
        ]
    )
