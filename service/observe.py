"""Every request: an id, a log line, metrics; and ``/metrics`` for Prometheus.

The request id is the caller's ``X-Request-ID`` (when it is one: printable, at most 128
characters) or a new one; it is returned in the answer's ``X-Request-ID``, set as the
log context of the request (``worker/logs.py``), and stored in the record of a job the
request creates, so the worker's log lines about that job carry it too.

Request metrics, labelled by the route's rule (``/v1/jobs/<job_id>``, not the path: one
series per endpoint, not per id; ``unmatched`` for unknown paths)::

    circuitgrad_http_requests_total{method, endpoint, status}
    circuitgrad_http_request_duration_seconds{method, endpoint}   (histogram)

``GET /metrics`` shows them with the worker and store metrics (``worker/metrics.py``) in
the Prometheus text format. It needs no API key (it shows no tenant's data: routes,
statuses, counts, worker names), so a scraper needs none.
"""

from __future__ import annotations

import logging
import time

from apiflask import APIBlueprint
from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from circuitgrad.worker import logs, metrics

from .context import rt

log = logging.getLogger("circuitgrad.api")

REQUESTS = Counter(
    "circuitgrad_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "circuitgrad_http_request_duration_seconds",
    "Time to answer an HTTP request (long polls included)",
    ["method", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REQUEST_ID = "X-Request-ID"
METRICS_PATH = "/metrics"

bp = APIBlueprint("metrics", __name__, tag="Operations")


@bp.get(METRICS_PATH)
@bp.doc(
    responses={
        200: {
            "description": "Prometheus text exposition format 0.0.4",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    }
)
def scrape():
    """Metrics for Prometheus

    Requests by endpoint and status with latency histograms, jobs finished by kind and
    status, job durations and result sizes, queue depth, store size and worker
    heartbeats (docs/operations.md, "Metrics"). No API key needed.
    """
    reg = metrics.registry(metrics.StoreCollector(rt()))
    return Response(generate_latest(reg), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                    headers={"Content-Type": CONTENT_TYPE_LATEST})  # fmt: skip


def _begin() -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.new_request_id(request.headers.get(REQUEST_ID))
    g.log_tokens = logs.set_context(request_id=g.request_id)


def _finish(response: Response) -> Response:
    started = g.pop("request_started", None)
    if started is None:
        return response
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    seconds = time.perf_counter() - started
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    LATENCY.labels(request.method, endpoint).observe(seconds)
    response.headers[REQUEST_ID] = g.request_id
    if endpoint != METRICS_PATH:
        log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "endpoint": endpoint,
                "status": response.status_code,
                "seconds": round(seconds, 6),
                "tenant": g.get("tenant"),
            },
        )
    return response


def _teardown(_exc=None) -> None:
    tokens = g.pop("log_tokens", None)
    if tokens:
        logs.reset_context(tokens)


def install(app: Flask) -> None:
    """Request ids, request metrics and log lines, and the ``/metrics`` route. Its
    ``before_request`` runs before the key check: refused requests are counted too."""
    app.register_blueprint(bp)
    app.before_request(_begin)
    app.after_request(_finish)
    app.teardown_request(_teardown)
