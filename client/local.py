"""Local mode: ``Client("local")`` runs the service's own API in this process.

The SDK does not answer the API itself: it finds the service's local stack through the
``circuitgrad.local`` entry point (declared in pyproject.toml, implemented by
``circuitgrad.service.local``) and talks to that WSGI app through an httpx transport. So
local mode runs exactly what ``circuitgrad serve`` runs — request parsing, problem
documents, job records, the workers' task code — in this process, with a private Redis.
It needs the ``service`` extra; without it, ``LocalModeUnavailable`` says how to install it.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import entry_points

import httpx

from .errors import CircuitgradError

ENTRY_POINT_GROUP = "circuitgrad.local"
INSTALL_HINT = "pip install 'circuitgrad[service]'"


class LocalModeUnavailable(CircuitgradError):
    """Local mode cannot start: the service's parts are not installed."""


def local_app(namespace: str = ""):
    """The service's WSGI app answering local-mode requests (one per namespace)."""
    found = entry_points(group=ENTRY_POINT_GROUP, name="app")
    if not found:
        raise LocalModeUnavailable(
            "Client('local') runs the circuitgrad service in this process, and this "
            f"installation has no service: {INSTALL_HINT}"
        )
    try:
        make = next(iter(found)).load()
    except ModuleNotFoundError as e:
        raise LocalModeUnavailable(
            f"Client('local') runs the circuitgrad service in this process and needs its "
            f"dependencies (missing: {e.name}): {INSTALL_HINT}"
        ) from e
    return make(namespace)


def local_transport(asynchronous: bool = False, namespace: str = ""):
    """An httpx transport into the local app (sync, or async for ``AsyncClient``)."""
    app = local_app(namespace)
    return AsyncWSGITransport(app) if asynchronous else httpx.WSGITransport(app=app)


class AsyncWSGITransport(httpx.AsyncBaseTransport):
    """httpx's WSGI transport on a thread, so an ``AsyncClient`` can use it (long polls
    block their thread, never the event loop)."""

    def __init__(self, app):
        self._transport = httpx.WSGITransport(app=app)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        response = self._transport.handle_request(request)
        body = response.read()
        return httpx.Response(response.status_code, headers=response.headers, content=body)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await asyncio.to_thread(self._handle, request)
