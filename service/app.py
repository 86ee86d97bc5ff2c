"""The Flask application: ``create_app(settings)`` wires blueprints, tenancy and errors.

One error handler turns every exception into a problem document: our ``ApiError`` tree,
werkzeug's HTTP errors (404, 405, 413...), the engine's ``CircuitError`` (422 with its
JSON pointers), the store's errors (503 with Retry-After, 404) and anything unexpected.
"""

from __future__ import annotations

import logging
import os

from apiflask import APIFlask
from apiflask.exceptions import HTTPError
from flask import Response
from kombu.exceptions import OperationalError
from werkzeug.exceptions import HTTPException

from circuitgrad.engine.errors import CircuitError
from circuitgrad.worker.errors import BlobMissing, StoreError, StoreFull, StoreUnavailable
from circuitgrad.worker.runtime import runtime
from circuitgrad.worker.settings import Settings, settings

from . import (
    catalog,
    circuits,
    evaluations,
    health,
    jobs,
    observe,
    openapi,
    pictures,
    playground,
    schemas,
    tenancy,
)
from .errors import BY_STATUS, ApiError, Invalid, NotFound, Unavailable
from .openapi import DESCRIPTION, DOCS_PATH, PUBLIC_URL_ENV, SPEC_PATH, VERSION
from .queue import CeleryQueue, TaskQueue
from .waiting import Notifier
from .wire import problem_response, resume_collector

log = logging.getLogger(__name__)


def create_app(s: Settings | None = None, queue: TaskQueue | None = None) -> APIFlask:
    """The API for settings ``s`` (default: the environment's), sending work to ``queue``
    (default: Celery over the settings' Redis)."""
    s = settings() if s is None else s
    app = APIFlask(
        __name__,
        title="circuitgrad",
        version=VERSION,
        spec_path=SPEC_PATH,
        docs_path=DOCS_PATH,
        docs_oauth2_redirect_path=None,  # bearer keys need no OAuth2 redirect page
    )
    app.config.update(
        MAX_CONTENT_LENGTH=s.max_body_bytes,
        HTTP_ERROR_SCHEMA=schemas.Problem,
        VALIDATION_ERROR_SCHEMA=schemas.Problem,
        SECURITY_SCHEMES={
            "ApiKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "needed when API keys are configured",
            }
        },
        DESCRIPTION=DESCRIPTION,
        AUTO_SERVERS=False,  # apiflask would cache the first request's host: _serve_spec
        PUBLIC_URL=os.environ.get(PUBLIC_URL_ENV, "").strip().rstrip("/") or None,
        **playground.docs_config(),  # /v1/docs loads its assets from this service
    )
    rt = runtime(s)
    app.extensions["circuitgrad"] = rt
    app.extensions["circuitgrad.notifier"] = Notifier(rt.redis, rt.keys.done_channel())
    app.extensions["circuitgrad.queue"] = CeleryQueue(s) if queue is None else queue
    blueprints = (circuits.bp, jobs.bp, evaluations.bp, pictures.bp, health.bp, playground.bp)
    for bp in (*blueprints, *catalog.BLUEPRINTS):
        app.register_blueprint(bp)
    observe.install(app)  # request ids, request metrics, /metrics
    app.before_request(lambda: tenancy.before_request(rt))
    app.teardown_request(resume_collector)
    app.error_processor(_http_error)
    app.register_error_handler(HTTPException, _werkzeug_error)  # replaces apiflask's
    app.register_error_handler(Exception, _any_error)
    app.spec_processor(lambda spec: openapi.document_spec(spec, app.config["PUBLIC_URL"], s))
    # apiflask's own view serves the cached document; ours sets servers per request
    assert app.view_functions.get("openapi.spec") is not None
    app.view_functions["openapi.spec"] = openapi.serve_spec
    return app


def _http_error(e: HTTPError) -> Response:
    """werkzeug's and apiflask's HTTP errors (routing, 413, query validation)."""
    cls = BY_STATUS.get(e.status_code, ApiError)
    if e.status_code == 422 and isinstance(e.detail, dict):  # query parameters
        errors = [
            (f"/{where}/{name}", "; ".join(map(str, msgs)))
            for where, fields in e.detail.items()
            for name, msgs in fields.items()
        ]
        err = Invalid("invalid query parameters", errors)
    else:
        err = cls(e.message if isinstance(e.message, str) else "")
        err.status = e.status_code
    return problem_response(err.problem(), {**(e.headers or {}), **err.headers})


def _werkzeug_error(e: HTTPException) -> Response:
    """Routing errors (404, 405), 413 past the body limit...: werkzeug's own description."""
    err = BY_STATUS.get(e.code, ApiError)(e.description or "")
    err.status = e.code or 500
    headers = {k: v for k, v in e.get_headers() if k.lower() != "content-type"}
    return problem_response(err.problem(), {**headers, **err.headers})


def _any_error(e: Exception) -> Response:
    if isinstance(e, ApiError):
        err = e
    elif isinstance(e, CircuitError):
        err = Invalid(errors=[(item.path, item.message) for item in e.errors])
    elif isinstance(e, BlobMissing):
        err = NotFound(str(e))
    elif isinstance(e, StoreFull):
        err = Unavailable(f"the store is full: {e}", retry_after=30)
    elif isinstance(e, StoreUnavailable | OperationalError):
        err = Unavailable(f"the store or the queue cannot be reached: {e}")
    elif isinstance(e, StoreError):
        err = Unavailable(str(e))
    elif isinstance(e, HTTPError):
        return _http_error(e)
    else:
        log.exception("unexpected error")
        err = ApiError("an unexpected error happened; it has been logged")
    return problem_response(err.problem(), err.headers)
