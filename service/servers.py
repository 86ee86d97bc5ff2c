"""The two long-running parts, each in the foreground of its process.

run_api(host, port, processes, threads)   gunicorn serving the Flask app (gthread
                                          workers: a long poll holds a thread, not a
                                          process)
run_worker(concurrency, name, loglevel)   a Celery worker (prefork: time limits need it;
                                          worker/pool.py)
"""

from __future__ import annotations

import os

WSGI_APP = "circuitgrad.service.wsgi:app"


def gunicorn_options(host: str, port: int, processes: int, threads: int) -> dict:
    return {
        "bind": f"{host}:{port}",
        "workers": processes,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 300,  # a 256 MiB upload on a slow link
        "graceful_timeout": 10,
        "keepalive": 5,
        "errorlog": "-",
        "loglevel": os.environ.get("CIRCUITGRAD_LOG_LEVEL", "info").lower(),
        "worker_tmp_dir": "/dev/shm" if os.path.isdir("/dev/shm") else None,
        "proc_name": "circuitgrad-api",
    }


def run_api(host: str = "127.0.0.1", port: int = 8000, processes: int = 2, threads: int = 8):
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
            "--without-gossip",
            "--without-mingle",
        ]
    )
