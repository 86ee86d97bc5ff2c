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
from flask import Response, current_app, request
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
    pictures,
    playground,
    schemas,
    tenancy,
)
from .errors import BY_STATUS, ApiError, Invalid, NotFound, Unavailable
from .queue import CeleryQueue, TaskQueue
from .tenancy import is_public
from .waiting import Notifier
from .wire import JSON, MSGPACK, PROBLEM_JSON, problem_response

log = logging.getLogger(__name__)

VERSION = "1.0.0"
SPEC_PATH = "/v1/openapi.json"
DOCS_PATH = "/v1/docs"
PUBLIC_URL_ENV = "CIRCUITGRAD_PUBLIC_URL"

DESCRIPTION = f"""\
Gradient circuits as a service: upload arithmetic circuits, differentiate them (forward
propagation or backpropagation) and evaluate them.

**Encodings.** Every request and response body is JSON (`application/json`) or msgpack
(`application/msgpack`), the same document in either: send `Content-Type`, ask with
`Accept` (JSON by default). msgpack bodies are described as binary strings whose
`contentSchema` is the document they carry (in msgpack a circuit may also be in the packed
form `PackedCircuit`); in JSON the non-finite numbers are the strings "NaN", "Infinity",
"-Infinity".

**Errors** are RFC 9457 problem documents (`application/problem+json`, schema `Problem`),
whatever the status. Besides those listed per operation: an unknown path answers 404, and
a method a path does not list answers 405 (with `Allow`).

**API keys.** When the service is configured with keys, every operation but the public
ones (health, readiness, this document, the docs page) needs `Authorization: Bearer
<key>` and answers 401 without it; a tenant sees only its own circuits and jobs.

**Servers.** `servers` is the URL this document was requested from, or the value of the
`{PUBLIC_URL_ENV}` environment variable of the API process when it is set (behind a proxy
that rewrites the host). `Location` headers are paths relative to the host.
"""


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
    app.error_processor(_http_error)
    app.register_error_handler(HTTPException, _werkzeug_error)  # replaces apiflask's
    app.register_error_handler(Exception, _any_error)
    app.spec_processor(lambda spec: _document_spec(spec, app.config["PUBLIC_URL"]))
    # apiflask's own view serves the cached document; ours sets servers per request
    assert app.view_functions.get("openapi.spec") is not None
    app.view_functions["openapi.spec"] = _serve_spec
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


# -- the OpenAPI document ------------------------------------------------------------------
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# answered by the error handler, whatever the view: before_request's key check and rate
# limit and the store (all but the public paths), and anything unexpected (all)
SHARED_ERRORS = {
    401: ("API keys are configured and the key is missing or unknown", ["WWW-Authenticate"]),
    429: ("Over the tenant's request rate limit", ["Retry-After"]),
    503: ("The store or the queue is unreachable, or the store is full", ["Retry-After"]),
}
UNEXPECTED = "An unexpected error (it has been logged)"


def _serve_spec() -> Response:
    """The cached document with the servers of this request (or of the configuration)."""
    app = current_app
    doc = {**app._get_spec("json"), "servers": _servers()}
    response = app.json.response(doc)
    response.mimetype = app.config["JSON_SPEC_MIMETYPE"]
    return response


def _servers() -> list[dict]:
    public = current_app.config["PUBLIC_URL"]
    if public:
        return _public_servers(public)
    return [{"url": request.url_root.rstrip("/"), "description": "this service"}]


def _public_servers(public_url: str) -> list[dict]:
    return [{"url": public_url, "description": f"this service ({PUBLIC_URL_ENV})"}]


def _operations(spec: dict):
    for path, item in spec.get("paths", {}).items():
        for method, op in item.items():
            if method in METHODS and isinstance(op, dict):
                yield path, method, op


def _ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def _document_spec(spec: dict, public_url: str | None) -> dict:
    """What apiflask cannot derive from the views: the errors every view shares, headers,
    msgpack, the document's own routes, tags; servers if configured (else per request)."""
    components = spec.setdefault("components", {})
    components.setdefault("headers", {}).update(schemas.HEADERS)
    components.setdefault("schemas", {})["PackedCircuit"] = schemas.PACKED_CIRCUIT
    for (name, field), item in schemas.ITEM_REFS.items():
        components["schemas"][name]["properties"][field]["items"] = _ref(item)
    _document_errors(spec)
    _document_conditional_get(spec)
    _document_encodings(spec)
    _document_own_routes(spec)  # after the encodings: this document is JSON only
    seen = {}
    for tag in spec.get("tags", []):  # one per blueprint: evaluations and jobs share "Jobs"
        seen.setdefault(tag["name"], {**tag, "description": schemas.TAGS.get(tag["name"], "")})
    spec["tags"] = list(seen.values())
    spec["security"] = [{"ApiKey": []}, {}]
    spec.pop("servers", None)
    if public_url:
        spec["servers"] = _public_servers(public_url)
    return spec


def _document_errors(spec: dict) -> None:
    """401/429/503 where before_request can answer them, 500 everywhere, their headers;
    public operations need no key."""
    for path, _, op in _operations(spec):
        responses = op.setdefault("responses", {})
        if is_public(path):
            op["security"] = []
        else:
            for status, (description, _headers) in SHARED_ERRORS.items():
                responses.setdefault(str(status), {"description": description})
        responses.setdefault("500", {"description": UNEXPECTED})
        for status, response in responses.items():
            if str(status)[0] not in "45":
                continue
            response["content"] = {PROBLEM_JSON: {"schema": _ref("Problem")}}
            for name in SHARED_ERRORS.get(int(status), ("", []))[1]:
                response.setdefault("headers", {})[name] = _ref(name, "headers")


def _document_conditional_get(spec: dict) -> None:
    """An operation that can answer 304 reads If-None-Match."""
    for _, _, op in _operations(spec):
        if "304" in op.get("responses", {}):
            op.setdefault("parameters", []).append(
                {
                    "in": "header",
                    "name": "If-None-Match",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "ETags already held: 304 when one of them matches",
                }
            )


def _msgpack(schema: dict) -> dict:
    """The msgpack alternative of a JSON body of ``schema``: binary, carrying the same
    document (or, for circuits, the packed form too). Binary is what it is on the wire, and
    what client generators can send (openapi-python-client: as application/octet-stream,
    with ``content_type_overrides``)."""
    name = schema.get("$ref", "").rpartition("/")[2]
    others = [_ref(other) for other in schemas.MSGPACK_FORMS.get(name, [])]
    return {
        "schema": {
            "type": "string",
            "format": "binary",
            "contentMediaType": MSGPACK,
            "contentSchema": {"oneOf": [schema, *others]} if others else schema,
            "description": "the document of the application/json alternative, as msgpack",
        }
    }


def _document_encodings(spec: dict) -> None:
    """Every JSON body may also be msgpack (requests: where the view says so, i.e. all that
    read bodies; responses: all, by Accept); errors are problem documents (above); a
    response without a body has no content."""
    for _, _, op in _operations(spec):
        # every body is needed (none: 400 or 415), but not marked "required": with two
        # media types openapi-python-client then writes a client that does not import
        # (openapi-generators/openapi-python-client#1451)
        content = op.get("requestBody", {}).get("content", {})
        if JSON in content and MSGPACK in content:
            content[MSGPACK] = _msgpack(content[JSON]["schema"])
        for status, response in op.get("responses", {}).items():
            content = response.get("content")
            if not content:
                response.pop("content", None)
            elif str(status)[0] == "2" and JSON in content:
                content[MSGPACK] = _msgpack(content[JSON]["schema"])


def _document_own_routes(spec: dict) -> None:
    """This document and its browsable page (apiflask leaves its own routes out)."""
    errors = {
        "500": {"description": UNEXPECTED, "content": {PROBLEM_JSON: {"schema": _ref("Problem")}}}
    }

    def get(summary: str, description: str, content: dict) -> dict:
        return {
            "get": {
                "tags": ["Operations"],
                "summary": summary,
                "description": description,
                "security": [],
                "responses": {"200": {"description": summary, "content": content}, **errors},
            }
        }

    spec["paths"][SPEC_PATH] = get(
        "This OpenAPI document",
        f"OpenAPI {spec.get('openapi', '3.1.0')}; `servers` follows the request's host "
        f"unless {PUBLIC_URL_ENV} is set.",
        {JSON: {"schema": {"type": "object"}}},
    )
    html = {"text/html": {"schema": {"type": "string"}}}
    spec["paths"][DOCS_PATH] = get(
        "This document, browsable (Swagger UI)",
        f"An HTML page; its scripts and styles come from this service ({playground.ASSETS_PATH}).",
        html,
    )
    spec["paths"][playground.PLAYGROUND_PATH] = get(
        "The playground",
        "An HTML page: type an expression or paste a circuit, differentiate it, see both "
        "circuits drawn and evaluate them, through this API. Its files are under /static/.",
        html,
    )
    assets = get(
        "A file of the docs page",
        "Swagger UI's scripts, styles and icon, served for the docs page (404 for others).",
        {media: {"schema": {"type": "string"}} for media in playground.MEDIA_TYPES.values()},
    )
    assets["get"]["parameters"] = [
        {"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}
    ]
    assets["get"]["responses"]["404"] = {
        "description": "Not one of Swagger UI's files",
        "content": {PROBLEM_JSON: {"schema": _ref("Problem")}},
    }
    spec["paths"][f"{playground.ASSETS_PATH}/{{name}}"] = assets
