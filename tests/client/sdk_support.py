"""What the SDK tests share: the test stack's API keys and small HTTP servers that
misbehave on purpose (all on 127.0.0.1)."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

KEY_A, KEY_B = "sdk-test-key-a", "sdk-test-key-b"  # tenants a and b of the test stack


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler, port: int = 0) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class FlakyProxy:
    """A proxy in front of a real service that first answers ``failures`` requests with
    503 (and ``Retry-After`` if given), then forwards everything to ``upstream``."""

    def __init__(
        self, upstream: str, failures: int = 0, retry_after: str | None = "0", port: int = 0
    ):
        self.upstream, self.failures, self.retry_after = upstream, failures, retry_after
        self.seen = 0  # requests received
        self.forwarded = 0  # requests passed on to the service
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with proxy._lock:
                    proxy.seen += 1
                    fail = proxy.seen <= proxy.failures
                if fail:
                    self._unavailable()
                    return
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "content-length", "connection")
                }
                r = httpx.request(
                    self.command,
                    proxy.upstream + self.path,
                    headers=headers,
                    content=body,
                    timeout=60,
                )
                with proxy._lock:
                    proxy.forwarded += 1
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                        "date",
                        "server",
                    ):
                        self.send_header(k, v)
                self.send_header("content-length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            def _unavailable(self):
                payload = (
                    b'{"type":"about:blank","title":"Service Unavailable",'
                    b'"status":503,"detail":"the queue is unreachable"}'
                )
                self.send_response(503)
                self.send_header("content-type", "application/problem+json")
                if proxy.retry_after is not None:
                    self.send_header("retry-after", proxy.retry_after)
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _any

        self.server, self.url = _serve(Handler, port)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class LateProxy:
    """Nothing listens on ``url`` (connections are refused) until ``delay`` seconds have
    passed; then a proxy to ``upstream`` does: a service coming back after a restart."""

    def __init__(self, upstream: str, delay: float):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proxy: FlakyProxy | None = None
        self.started_at: float | None = None
        self._timer = threading.Timer(delay, self._start, args=(upstream,))
        self._timer.start()

    def _start(self, upstream: str) -> None:
        self.proxy = FlakyProxy(upstream, port=self.port)
        self.started_at = time.monotonic()

    def close(self):
        self._timer.cancel()
        if self.proxy is not None:
            self.proxy.close()


class SlowServer:
    """Answers every request after ``delay`` seconds (to provoke client timeouts)."""

    def __init__(self, delay: float):
        self.calls = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _any(self):
                server.calls += 1
                time.sleep(delay)
                try:
                    self.send_response(200)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:  # the client gave up first
                    pass

            do_GET = do_POST = do_DELETE = _any

        self.server, self.url = _serve(Handler)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
