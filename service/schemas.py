"""Schemas of the request and response documents, for the generated OpenAPI document.

The views parse bodies themselves (JSON or msgpack, circuits through the engine codec),
so these schemas describe; they do not validate. They are attached to the views with
``body`` below and apiflask's ``output``/``doc`` (``response`` below builds the extra
answers: a second success status, headers), and the served ``/v1/openapi.json`` is
generated from them and the routes; ``app.py`` adds what every view shares (msgpack,
problem documents, 401/429/500/503, the header objects of ``HEADERS``).
"""

from __future__ import annotations

from datetime import UTC

from apiflask import Schema, fields
from apiflask.validators import OneOf, Range
from marshmallow import EXCLUDE

from circuitgrad.engine.core.layout import MODES

from .wire import JSON, MSGPACK

NUMBER = 'a number, or "NaN", "Infinity", "-Infinity" in JSON'
JOB_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
JOB_KINDS = ("gradient", "evaluation")


class Gate(Schema):
    op = fields.String(required=True, metadata={"description": "an op of circuit-format.md"})
    args = fields.List(fields.Integer(), metadata={"description": "vertex numbers (smaller)"})
    coeffs = fields.List(fields.Raw(), metadata={"description": "add only; default all 1"})
    value = fields.Raw(metadata={"description": "const only: " + NUMBER})
    p = fields.Raw(metadata={"description": "pow only: the exponent"})
    name = fields.String(metadata={"description": "a label; does not change the function"})


class CircuitDocument(Schema):
    """circuitgrad.circuit/1 row form (msgpack bodies may use the packed form instead)."""

    format = fields.String(metadata={"example": "circuitgrad.circuit/1"})
    inputs = fields.List(fields.String(), required=True)
    gates = fields.List(fields.Nested(Gate), required=True)
    outputs = fields.List(fields.Integer(), required=True)
    output_names = fields.List(fields.String())


class CircuitUpload(CircuitDocument):
    """A circuit document, or instead ``{"expression", "inputs"?, "output"?}``."""

    inputs = fields.List(fields.String())
    gates = fields.List(fields.Nested(Gate))
    outputs = fields.List(fields.Integer())
    expression = fields.String(metadata={"example": "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2"})
    output = fields.String(metadata={"description": "expression's output name (default f)"})


def _bin(what: str) -> dict:
    return {"description": f"msgpack bin: {what}, little-endian"}


# The packed form exists in msgpack only: its arrays are msgpack bin, which JSON Schema
# cannot type, so it is a plain JSON Schema (docs/circuit-format.md) rather than a
# marshmallow schema. G gate entries (constants included, inputs not), W wires.
PACKED_CIRCUIT = {
    "type": "object",
    "description": "circuitgrad.packed/1 (msgpack only; docs/circuit-format.md)",
    "properties": {
        "format": {"const": "circuitgrad.packed/1"},
        "inputs": {"type": "array", "items": {"type": "string"}},
        "ops": {"type": "array", "items": {"type": "string"}, "description": "op table"},
        "index": {"enum": ["int32", "int64"], "description": "type of arity and args"},
        "op": _bin("G × uint8, an index into ops per gate"),
        "arity": _bin("G × index, arguments per gate"),
        "args": _bin("W × index, the arguments of all gates"),
        "coeffs": _bin("W × float64; absent: all 1"),
        "param": _bin("G × float64, const value or pow exponent; absent: all 0"),
        "outputs": {"type": "array", "items": {"type": "integer"}},
        "output_names": {"type": "array", "items": {"type": "string"}},
        "labels": {
            "type": "object",
            "additionalProperties": {"type": "string"},
            "description": "gate names by decimal vertex number",
        },
    },
    "required": ["format", "inputs", "ops", "index", "op", "arity", "args", "outputs"],
    "additionalProperties": False,
}

# In msgpack, wherever a circuit document goes (upload, fetch) the packed form may go too.
MSGPACK_FORMS = {"CircuitDocument": ["PackedCircuit"], "CircuitUpload": ["PackedCircuit"]}


class CircuitSummary(Schema):
    id = fields.String(required=True)
    size = fields.Integer(required=True)
    depth = fields.Integer(required=True)
    wires = fields.Integer(required=True)
    nodes = fields.Integer(required=True)
    inputs = fields.List(fields.String(), required=True)
    outputs = fields.List(fields.String(), required=True)
    ops = fields.Dict(keys=fields.String(), values=fields.Integer())


class GradientIn(Schema):
    """Exactly one of circuit_id, circuit and expression, plus options."""

    circuit_id = fields.String()
    circuit = fields.Dict(metadata={"description": "a circuit document (as POST /v1/circuits)"})
    expression = fields.String()
    inputs = fields.List(fields.String(), metadata={"description": "with expression only"})
    output = fields.String(metadata={"description": "with expression only"})
    mode = fields.String(
        load_default="backward",
        metadata={
            "enum": list(MODES),
            "description": "the Jacobian (backward, forward, auto), J·v (jvp), uᵀ·J (vjp) or "
            "H·v (hvp); docs/modes.md",
        },
    )
    wrt = fields.List(fields.String(), metadata={"description": "default: all inputs"})
    of = fields.List(
        fields.String(), metadata={"description": "default: all outputs (hvp: exactly one)"}
    )
    include_value = fields.Boolean(load_default=False)
    simplify = fields.Boolean(load_default=True)
    verify = fields.Boolean(
        load_default=True,
        metadata={"description": "check the result by central differences of the source"},
    )


class Points(Schema):
    points = fields.Raw(
        required=True,
        metadata={
            "description": "a list of objects {input: number}, or an object of columns "
            "{input: [numbers]} (in msgpack a column may be float64 binary)"
        },
    )


class EvaluationIn(Points):
    circuit_id = fields.String(required=True)


class Values(Schema):
    outputs = fields.List(fields.String(), required=True)
    values = fields.List(
        fields.List(fields.Raw()),
        required=True,
        metadata={"description": "one row per point: " + NUMBER},
    )


class ErrorItem(Schema):
    path = fields.String(required=True, metadata={"example": "/gates/12/args/1"})
    message = fields.String(required=True)


class Problem(Schema):
    """application/problem+json (RFC 9457)."""

    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String(required=True)
    errors = fields.List(fields.Nested(ErrorItem))


class Measures(Schema):
    size = fields.Integer()
    wires = fields.Integer()
    depth = fields.Integer()
    nodes = fields.Integer()
    ops = fields.Dict(keys=fields.String(), values=fields.Integer())


NONFINITE = ["NaN", "Infinity", "-Infinity"]
JSON_NUMBER = [{"type": "number"}, {"type": "string", "enum": NONFINITE}]


def json_number(nullable: bool = False, **metadata) -> fields.Raw:
    """A float64 as JSON carries it: a number, or "NaN", "Infinity", "-Infinity"."""
    choices = JSON_NUMBER + ([{"type": "null"}] if nullable else [])
    return fields.Raw(allow_none=nullable, metadata={"anyOf": choices, **metadata})


class Verification(Schema):
    """The result checked by directional central differences of the source (docs/modes.md)."""

    method = fields.String()
    passed = fields.Boolean(
        allow_none=True, metadata={"description": "null: nothing could be checked (reason)"}
    )
    max_relative_error = json_number(nullable=True)
    tolerance = json_number()
    step = json_number(description="h of the differences")
    seed = fields.Integer()
    points = fields.List(
        fields.List(json_number()),
        allow_none=True,
        metadata={"description": "x per point, in input order; null above 64 inputs"},
    )
    candidates = fields.List(fields.Integer(), metadata={"description": "seeded candidates used"})
    directions = fields.List(
        fields.List(json_number()),
        allow_none=True,
        metadata={"description": "v per point, over wrt; null above 64"},
    )
    cotangents = fields.List(fields.List(json_number()), allow_none=True)
    cross_directions = fields.List(fields.List(json_number()), allow_none=True)
    checked = fields.Integer(metadata={"description": "comparisons made"})
    skipped = fields.Integer(metadata={"description": "comparisons not finite or not smooth"})
    refined = fields.Integer(metadata={"description": "points differenced again at step/100"})
    reason = fields.String()


class Certificate(Schema):
    mode = fields.String()
    source = fields.Nested(Measures)
    raw = fields.Nested(Measures, metadata={"description": "before simplification"})
    result = fields.Nested(Measures)
    theorem3_bound = fields.Integer(
        metadata={
            "description": "backward: 3·m·wires + nodes; jvp, vjp: nodes + k + 3·wires "
            "(one sweep); hvp: the same over the gradient circuit"
        }
    )
    within_bound = fields.Boolean()
    predicted = fields.Dict(metadata={"description": "auto: predicted raw sizes"})
    gradient = fields.Nested(Measures, metadata={"description": "hvp: the gradient circuit"})
    verification = fields.Nested(Verification, metadata={"description": "absent: verify false"})


class JobResult(Schema):
    circuit_id = fields.String(metadata={"description": "gradient jobs"})
    size = fields.Integer()
    depth = fields.Integer()
    wires = fields.Integer()
    nodes = fields.Integer()
    outputs = fields.List(fields.String())
    mode = fields.String(metadata={"description": "the mode actually used"})
    certificate = fields.Nested(Certificate)
    points = fields.Integer(metadata={"description": "evaluation jobs"})
    chunks = fields.Integer()
    values_url = fields.String(metadata={"description": "evaluation jobs"})


class Job(Schema):
    id = fields.String(required=True)
    kind = fields.String(required=True, metadata={"enum": ["gradient", "evaluation"]})
    status = fields.String(
        required=True, metadata={"enum": ["queued", "running", "succeeded", "failed", "cancelled"]}
    )
    progress = fields.Float(required=True)
    created_at = fields.String(required=True)
    updated_at = fields.String(required=True)
    circuit_id = fields.String()
    options = fields.Dict()
    result = fields.Nested(JobResult, allow_none=True)
    error = fields.Nested(Problem, allow_none=True)


class WaitQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    wait = fields.Float(
        validate=Range(min=0),
        metadata={"description": "seconds to wait for a final status before answering (long poll)"},
    )


class FormQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    form = fields.String(
        validate=OneOf(["rows", "packed"]),
        metadata={"description": "msgpack only: row or packed form"},
    )


class PictureQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    format = fields.String(
        load_default="svg",
        validate=OneOf(["svg", "dot"]),
        metadata={"description": "svg (image/svg+xml) or dot (Graphviz text)"},
    )
    max_gates = fields.Integer(
        validate=Range(min=1),
        metadata={
            "description": "draw gate by gate up to this many gates, else a summary "
            "(at most the configured CIRCUITGRAD_MAX_DRAWN_GATES, default 400)"
        },
    )


class Health(Schema):
    status = fields.String()
    workers = fields.Integer()


# -- listings and usage ----------------------------------------------------------------
MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE = 1000, 50


class PageQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    page_size = fields.Integer(
        validate=Range(min=0),
        metadata={
            "description": f"items per page: 0 or absent {DEFAULT_PAGE_SIZE}, more than "
            f"{MAX_PAGE_SIZE} is {MAX_PAGE_SIZE}; a page may hold fewer (filters)"
        },
    )
    page_token = fields.String(
        metadata={"description": "next_page_token of the previous page, with the same filters"}
    )
    created_after = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "RFC 3339 time (UTC if no offset): only items created after"},
    )
    created_before = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={"description": "RFC 3339 time (UTC if no offset): only items created before"},
    )


class JobsQuery(PageQuery):
    status = fields.String(validate=OneOf(JOB_STATUSES), metadata={"enum": list(JOB_STATUSES)})
    kind = fields.String(validate=OneOf(JOB_KINDS), metadata={"enum": list(JOB_KINDS)})


class ListedCircuit(CircuitSummary):
    stored_at = fields.String(
        required=True,
        metadata={"description": "when this tenant last stored or derived it (its created time)"},
    )
    stored_bytes = fields.Integer(
        required=True, metadata={"description": "compressed circuit and manifest, in bytes"}
    )


class CircuitPage(Schema):
    circuits = fields.List(fields.Nested(ListedCircuit), required=True)
    next_page_token = fields.String(
        required=True, metadata={"description": "the token of the next page; empty: the last"}
    )


class JobPage(Schema):
    # items: a Job (ITEM_REFS); not a nested schema, which apiflask, meeting it before the
    # Job outputs, would register a second time as "Job1"
    jobs = fields.List(fields.Dict(), required=True)
    next_page_token = fields.String(
        required=True, metadata={"description": "the token of the next page; empty: the last"}
    )


class TenantUsage(Schema):
    circuits = fields.Integer(required=True)
    circuit_bytes = fields.Integer(
        required=True,
        metadata={"description": "manifests, chunks and reader sets (shared ones in full)"},
    )
    jobs = fields.Integer(required=True)
    job_bytes = fields.Integer(
        required=True, metadata={"description": "records, and evaluation jobs' points and values"}
    )
    bytes = fields.Integer(required=True)


class StoreUsage(Schema):
    used_bytes = fields.Integer(required=True, metadata={"description": "Redis used_memory"})
    max_bytes = fields.Integer(required=True, metadata={"description": "Redis maxmemory (0: none)"})
    keys = fields.Integer(required=True, metadata={"description": "keys in the database"})
    aof_bytes = fields.Integer(required=True, metadata={"description": "append-only file size"})
    aof_rewrites_in_progress = fields.Integer()


# (schema, list field) -> the component its items are (app.py writes the $ref)
ITEM_REFS = {("JobPage", "jobs"): "Job"}


class Usage(Schema):
    tenant = fields.Nested(TenantUsage, required=True)
    store = fields.Nested(StoreUsage, required=True)
    retention_seconds = fields.Integer(required=True)


def body(schema, example=None):
    """Document a request body (JSON or msgpack) without letting apiflask parse it: the
    views read bodies themselves. Sets the same view attribute ``app.input`` sets."""

    def decorate(f):
        spec = f.__dict__.setdefault("_spec", {})
        spec.update(
            body=schema() if isinstance(schema, type) else schema,
            content_type=[JSON, MSGPACK],
            body_example=example,
            body_examples=None,
        )
        return f

    return decorate


def _header(description: str, example: str, schema: dict | None = None) -> dict:
    return {
        "description": description,
        "required": True,
        "schema": schema or {"type": "string"},
        "example": example,
    }


# components/headers of the document; ``response(..., headers=[name])`` refers to them
HEADERS = {
    "Location": _header(
        "The resource's path (relative to the host): /v1/circuits/{id} or /v1/jobs/{id}",
        "/v1/jobs/eded53613278048507beb3a899ea3bdd",
    ),
    "Retry-After": _header(
        "Seconds to wait before asking again (a job: its expected duration)",
        "5",
        {"type": "string", "pattern": "^[0-9]+$"},
    ),
    "ETag": _header('The circuit id, quoted: "<id>"', '"c_895ffcd634b32b5893a8aef90503a6eb"'),
    "Cache-Control": _header(
        "Circuits are immutable (and private to their tenants)",
        "private, max-age=31536000, immutable",
    ),
    "WWW-Authenticate": _header("The scheme to use", 'Bearer realm="circuitgrad"'),
}


def response(description: str, schema=None, headers=(), optional_headers=()) -> dict:
    """A response object for ``@bp.doc(responses={status: ...})``: a JSON body of
    ``schema`` (app.py adds its msgpack alternative) and the named ``HEADERS``
    (``optional_headers``: sent in some of these answers only). Merged into what
    ``@bp.output`` made when the status is the same."""
    out: dict = {"description": description}
    if schema is not None:
        out["content"] = {JSON: {"schema": schema}}
    hs = {name: {"$ref": f"#/components/headers/{name}"} for name in headers}
    for name in optional_headers:
        hs[name] = {**HEADERS[name], "required": False}
    if hs:
        out["headers"] = hs
    return out


TAGS = {
    "Circuits": "Upload, fetch and evaluate circuits (ids are content hashes)",
    "Jobs": "Gradient and evaluation jobs: submit, poll, cancel, values",
    "Pictures": "Circuits and gradient circuits drawn as SVG (or Graphviz DOT)",
    "Operations": "Liveness, readiness and this document",
}
