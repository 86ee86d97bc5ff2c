"""The HTTP front: gunicorn's gevent worker, made safe to expose.

``ApiWorker`` is what ``circuitgrad api`` runs (``servers.py``). Under gevent a connection
costs a greenlet, not a thread: hundreds of long polls (``?wait=``) and idle or stalled
connections hold no request slot, and health and small requests keep answering. On top
of gunicorn's own worker:

- **Header timeout.** A request's headers must be complete within
  ``CIRCUITGRAD_HEADER_TIMEOUT`` seconds of the wait for them beginning (a slow sender is
  cut off however it trickles). A connection that sent nothing of a next request is
  closed silently then (an idle keep-alive connection); one that sent part of a request
  gets a 408 problem document.
- **Body (and response) stall timeout.** Every read and write on the socket times out
  after ``CIRCUITGRAD_BODY_TIMEOUT`` seconds without progress: a body that stalls is
  answered 408 by the app (``wire.read_limited``), a client that stops reading is dropped.
- **Every error is a problem document.** gunicorn writes its own HTML for what it refuses
  before the app runs (400 bad request line or header, 414 request line too long, 431
  header fields too large, ...): ``write_problem`` replaces that writer in this process.
- **Connection: close** in an app's answer (413, 408 mid-body) closes the connection
  instead of reading the rest of a refused body to keep it alive.
"""

from __future__ import annotations

import gevent
import orjson
from gunicorn import util
from gunicorn.workers.base_async import AsyncWorker
from gunicorn.workers.ggevent import GeventWorker

from circuitgrad.worker.problems import problem

PROBLEM_JSON = "application/problem+json"

# what gunicorn refuses itself: status -> (type suffix, title)
FRONT_PROBLEMS = {
    400: ("malformed-request", "Malformed request"),
    403: ("forbidden", "Forbidden"),
    408: ("request-timeout", "Request timeout"),
    414: ("uri-too-long", "URI too long"),
    417: ("expectation-failed", "Expectation failed"),
    431: ("headers-too-large", "Request header fields too large"),
    501: ("not-implemented", "Not implemented"),
}


class HeaderTimeout(Exception):
    """The request's headers did not arrive in time."""


def problem_bytes(status: int, reason: str, detail: str) -> bytes:
    """A complete HTTP/1.1 answer carrying a problem document; the connection closes."""
    slug, title = FRONT_PROBLEMS.get(status, ("internal", "Internal error"))
    body = orjson.dumps(problem(status, slug, title, detail or reason))
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: {PROBLEM_JSON}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering a problem document instead of HTML."""
    util.write_nonblock(sock, problem_bytes(int(status_int), reason, mesg))


class CountingSocket:
    """The client socket, counting the bytes received since the current request began."""

    def __init__(self, sock):
        self._sock = sock
        self.received = 0

    def recv(self, size, *flags):
        data = self._sock.recv(size, *flags)
        self.received += len(data)
        return data

    def __getattr__(self, name):
        return getattr(self._sock, name)


def closing(app):
    """WSGI middleware: an answer with ``Connection: close`` makes gunicorn close the
    connection (gunicorn drops hop-by-hop headers from the app, and would otherwise read
    the rest of a refused body to keep the connection alive)."""

    def wrapped(environ, start_response):
        def start(status, headers, exc_info=None):
            if any(k.lower() == "connection" and v.lower() == "close" for k, v in headers):
                owner = getattr(start_response, "__self__", None)
                if hasattr(owner, "force_close"):
                    owner.force_close()
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return wrapped


class ApiWorker(GeventWorker):
    def init_process(self):
        from circuitgrad.worker.settings import settings

        s = settings()
        self.header_timeout, self.body_timeout = s.header_timeout, s.body_timeout
        util.write_error = write_problem  # every answer gunicorn writes itself
        super().init_process()

    def load_wsgi(self):
        super().load_wsgi()
        self.wsgi = closing(self.wsgi)

    def handle(self, listener, client, addr):
        client.setblocking(1)
        client.settimeout(self.body_timeout)  # no read or write may stall longer
        sock = CountingSocket(client)
        gevent.getcurrent().circuitgrad_socket = sock
        AsyncWorker.handle(self, listener, sock, addr)  # not GeventWorker's: it unsets the timeout

    def timeout_ctx(self):
        """Around each wait for a request's headers (gunicorn's keep-alive loop)."""
        sock = getattr(gevent.getcurrent(), "circuitgrad_socket", None)
        if sock is not None:
            sock.received = 0
        return gevent.Timeout(self.header_timeout, HeaderTimeout())

    def handle_error(self, req, client, addr, exc):
        if isinstance(exc, HeaderTimeout):
            if getattr(client, "received", 1) == 0:
                return  # nothing of a request came: an idle connection, closed quietly
            self.log.info("request headers from %s not complete in time", addr and addr[0])
            detail = (
                f"the request's headers did not arrive within {self.header_timeout:g} s "
                "(CIRCUITGRAD_HEADER_TIMEOUT)"
            )
            try:
                write_problem(client, 408, "Request Timeout", detail)
            except OSError:
                pass
            return
        super().handle_error(req, client, addr, exc)
