"""The OpenAPI document: what apiflask derives from the views and schemas, completed.

apiflask generates the paths, parameters and response schemas from the views; this adds
what it cannot see: the errors every view shares (the key check, the rate limit, the
store; the HTTP front's 400/408/414/431), headers, the msgpack alternative of every
body, request bodies as exact as JSON Schema allows (``documents.py``), path parameter
patterns, links between operations (what a response's ids lead to), the document's own
routes, and the servers of the request.
"""

from __future__ import annotations

from flask import Response, current_app, request

from circuitgrad.worker.settings import Settings

from . import documents, playground, schemas
from .tenancy import is_public
from .wire import JSON, MSGPACK, PROBLEM_JSON

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


# -- the OpenAPI document ------------------------------------------------------------------
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# answered by the error handler, whatever the view: before_request's key check and rate
# limit and the store (all but the public paths), and anything unexpected (all)
# what the HTTP front (gunicorn, front.py) answers before any view runs, on any path
FRONT_ERRORS = {
    400: "Malformed request line or headers (the HTTP front)",
    408: "The request's headers (or its body) did not arrive in time",
    414: "Request line over the HTTP front's limit (4094 bytes)",
    431: "Header fields over the HTTP front's limits (100 fields, 8190 bytes each)",
}
SHARED_ERRORS = {
    401: ("API keys are configured and the key is missing or unknown", ["WWW-Authenticate"]),
    429: ("Over the tenant's request rate limit", ["Retry-After"]),
    503: ("The store or the queue is unreachable, or the store is full", ["Retry-After"]),
}
UNEXPECTED = "An unexpected error (it has been logged)"


def serve_spec() -> Response:
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


def document_spec(spec: dict, public_url: str | None, s: Settings) -> dict:
    """What apiflask cannot derive from the views: the errors every view shares, headers,
    exact request bodies, msgpack, links, the document's own routes, tags; servers if
    configured (else per request)."""
    components = spec.setdefault("components", {})
    components.setdefault("headers", {}).update(schemas.HEADERS)
    components.setdefault("schemas", {})["PackedCircuit"] = schemas.PACKED_CIRCUIT
    components["schemas"].update(documents.request_schemas(s))
    for (name, field), item in schemas.ITEM_REFS.items():
        components["schemas"][name]["properties"][field]["items"] = _ref(item)
    _document_parameters(spec)
    _document_errors(spec)
    _document_conditional_get(spec)
    _document_encodings(spec)
    _document_links(spec)
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


def _document_parameters(spec: dict) -> None:
    """Ids have a shape: one that does not is unknown (404) like any other unknown id."""
    for _, _, op in _operations(spec):
        for parameter in op.get("parameters", []):
            if parameter.get("in") == "path" and parameter["name"] in documents.PATH_PARAMETERS:
                parameter["schema"] = documents.PATH_PARAMETERS[parameter["name"]]


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
        for status, description in FRONT_ERRORS.items():
            responses.setdefault(str(status), {"description": description})
        if "requestBody" in op:  # every body is needed: without one, 415
            op["requestBody"]["required"] = True
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
        content = op.get("requestBody", {}).get("content", {})
        if JSON in content and MSGPACK in content:
            content[MSGPACK] = _msgpack(content[JSON]["schema"])
        for status, response in op.get("responses", {}).items():
            content = response.get("content")
            if not content:
                response.pop("content", None)
            elif str(status)[0] == "2" and JSON in content:
                content[MSGPACK] = _msgpack(content[JSON]["schema"])


# operation -> responses whose ids lead on: link name -> (target, parameters, body)
LINKS = {
    ("/v1/circuits", "post"): {
        "statuses": ("200", "201"),
        "links": {
            "FetchCircuit": ("/v1/circuits/{circuit_id}", "get", {"circuit_id": "id"}, None),
            "EvaluateCircuit": (
                "/v1/circuits/{circuit_id}/evaluate",
                "post",
                {"circuit_id": "id"},
                None,
            ),
            "Differentiate": ("/v1/gradients", "post", {}, {"circuit_id": "id"}),
        },
    },
    ("/v1/gradients", "post"): {"statuses": ("200", "202"), "links": "job"},
    ("/v1/evaluations", "post"): {"statuses": ("200", "202"), "links": "job"},
    ("/v1/circuits/{circuit_id}/evaluate", "post"): {"statuses": ("202",), "links": "job"},
}
JOB_LINKS = {
    "PollJob": ("/v1/jobs/{job_id}", "get", {"job_id": "id"}, None),
    "CancelJob": ("/v1/jobs/{job_id}", "delete", {"job_id": "id"}, None),
    "JobValues": ("/v1/jobs/{job_id}/values", "get", {"job_id": "id"}, None),
}


def _operation_ref(path: str, method: str) -> str:
    return "#/paths/" + path.replace("~", "~0").replace("/", "~1") + "/" + method


def _document_links(spec: dict) -> None:
    """OpenAPI links: the ids in a response, and the operations they are for."""
    for (path, method), spec_links in LINKS.items():
        op = spec["paths"].get(path, {}).get(method)
        if op is None:
            continue
        links = JOB_LINKS if spec_links["links"] == "job" else spec_links["links"]
        out = {}
        for name, (target, target_method, parameters, body) in links.items():
            link = {"operationRef": _operation_ref(target, target_method)}
            if parameters:
                link["parameters"] = {k: f"$response.body#/{v}" for k, v in parameters.items()}
            if body:
                link["requestBody"] = {k: f"$response.body#/{v}" for k, v in body.items()}
            out[name] = link
        for status in spec_links["statuses"]:
            if status in op["responses"]:
                op["responses"][status]["links"] = out


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
