"""The service's commands: ``circuitgrad serve``, ``circuitgrad api``, ``circuitgrad worker``.

``register(subparsers)`` adds them to the main ``circuitgrad`` command; ``main()`` runs
them on their own (``python -m circuitgrad.service.cli serve``).
"""

from __future__ import annotations

import argparse
import os
import sys


def _serve(args) -> int:
    from .supervise import serve

    return serve(args.host, args.port, args.workers, args.data_dir)


def _api(args) -> int:
    from .servers import run_api

    run_api(args.host, args.port, args.processes, args.threads)
    return 0


def _worker(args) -> int:
    from .servers import run_worker

    run_worker(args.concurrency, args.name, args.loglevel)
    return 0


def _secrets(args) -> int:
    from .secrets import main

    return main(args.dir)


def register(subparsers) -> None:
    """Add ``serve``, ``api`` and ``worker`` to an argparse subparsers object. Each sets
    ``func`` (and ``handler``) to a callable taking the parsed args, returning an exit code."""
    p = subparsers.add_parser(
        "serve",
        help="run the whole service locally: API, workers and (embedded) Redis",
        description="Start the API (gunicorn), a Celery worker with N processes and, unless "
        "REDIS_URL is set, an embedded Redis server with its data in --data-dir. "
        "Ctrl-C stops all of it.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (8000)")
    p.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    p.add_argument(
        "--data-dir",
        default=os.environ.get("CIRCUITGRAD_DATA_DIR", ".circuitgrad"),
        help="folder of the embedded Redis's data (.circuitgrad)",
    )
    p.set_defaults(func=_serve, handler=_serve)

    p = subparsers.add_parser("api", help="run the HTTP API (gunicorn) against REDIS_URL")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--processes", type=int, default=2, help="gunicorn worker processes (2)")
    p.add_argument("--threads", type=int, default=0, help="unused (gevent serves each connection)")
    p.set_defaults(func=_api, handler=_api)

    p = subparsers.add_parser(
        "secrets", help="generate the API key and Redis password of a deployment, once"
    )
    p.add_argument("--dir", required=True, help="folder of the secrets (a private volume)")
    p.set_defaults(func=_secrets, handler=_secrets)

    p = subparsers.add_parser("worker", help="run a Celery worker against REDIS_URL")
    p.add_argument("--concurrency", type=int, default=1, help="pool processes (1)")
    p.add_argument("--name", default=None, help="Celery node name (worker-<pid>@<host>)")
    p.add_argument("--loglevel", default=os.environ.get("CIRCUITGRAD_LOG_LEVEL", "INFO"))
    p.set_defaults(func=_worker, handler=_worker)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="circuitgrad", description="circuitgrad service")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
