"""The CLI's remote backend: ``circuitgrad grad|eval|stats --url URL`` through the SDK.

``engine/cli.py`` runs its three commands through a backend with ``gradient``,
``evaluate`` and ``stats``; ``Local`` is the engine in-process, ``Remote`` here is the same
three methods against a service. The engine must not depend on the client, so the CLI
imports this module lazily, and only when ``--url`` (or ``CIRCUITGRAD_URL``) is given:

    def backend(args):
        if getattr(args, "url", None):
            from circuitgrad.client.cli_remote import Remote  # lazy: engine never imports client
            return Remote(args.url)
        return Local()

Errors keep the CLI's contract: an invalid circuit or request (422, a failed job with
pointers) is the engine's ``CircuitError`` (exit 1, one ``path: message`` line each); a
service that cannot be reached, refuses the key or times out is a ``UsageError`` (exit 2).
"""

from __future__ import annotations

import numpy as np

from circuitgrad.engine.cli import UsageError
from circuitgrad.engine.errors import CircuitError, ErrorItem

from .client import Client
from .errors import APIError, CircuitgradError, JobFailed, ValidationError

MEASURES = ("size", "wires", "depth", "nodes", "ops")


class Remote:
    """The CLI backend that sends circuits to the service at ``url``."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 300.0):
        self.url = url
        self.client = Client(url, api_key, timeout=60.0)
        self.timeout = timeout  # seconds to wait for a job

    def gradient(self, c, **options):
        with _cli_errors(self.url):
            job = self.client.gradient(c, **options)
            return job.wait(timeout=self.timeout).result.download()

    def evaluate(self, c, points: np.ndarray) -> np.ndarray:
        if len(points) == 0:
            return np.empty((0, len(c.outputs)))
        with _cli_errors(self.url):
            ref = self.client.upload(c)
            return self.client.evaluate(
                ref, np.asarray(points, dtype=np.float64), timeout=self.timeout
            )

    def stats(self, c) -> dict:
        with _cli_errors(self.url):
            ref = self.client.upload(c)
        stats = {**ref.measures, "ops": ref.extra.get("ops")}
        if stats["ops"] is None:  # a service that does not report the op histogram
            from circuitgrad.engine.core.measures import measures

            stats["ops"] = measures(c)["ops"]
        return {k: stats[k] for k in MEASURES}


class _cli_errors:
    """SDK errors as the CLI's two kinds: CircuitError (exit 1) and UsageError (exit 2)."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is None or not isinstance(exc, CircuitgradError):
            return False
        places = getattr(exc, "errors", None) or []
        if isinstance(exc, ValidationError | JobFailed) and places:
            raise CircuitError([ErrorItem(e.path, e.message) for e in places]) from exc
        if isinstance(exc, ValidationError | JobFailed):
            raise CircuitError(str(exc)) from exc
        what = f"{exc.status} " if isinstance(exc, APIError) and exc.status else ""
        raise UsageError(f"service at {self.url}: {what}{exc}") from exc
