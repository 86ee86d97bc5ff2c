"""Circuits: upload, fetch (immutable, cacheable), evaluate."""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import request

from circuitgrad.engine.evaluation.evaluate import evaluate
from circuitgrad.engine.formats.codec import PACKED_THRESHOLD, to_json, to_msgpack

from . import schemas as s
from .bounds import evaluates_synchronously, sync_work
from .context import readable_circuit, rt
from .evaluations import submit_evaluation
from .offload import OFFLOAD_GATES, cpu
from .requests import circuit_of, measured, points_of
from .tenancy import tenant
from .wire import JSON, MSGPACK, raw_response, read_body, respond, wants_msgpack

bp = APIBlueprint("circuits", __name__, url_prefix="/v1", tag="Circuits")

IMMUTABLE = "private, max-age=31536000, immutable"  # private: circuits are per tenant
EQUATION1 = {
    "inputs": ["x", "y", "z"],
    "gates": [
        {"op": "const", "value": 1},
        {"op": "add", "args": [0, 1, 2, 3], "coeffs": [1, -3, -3, 5]},
        {"op": "add", "args": [0, 1, 2], "coeffs": [1, -2, -2]},
        {"op": "add", "args": [0, 1, 2, 3], "coeffs": [1, 1, -5, -3]},
        {"op": "square", "args": [4]},
        {"op": "square", "args": [5]},
        {"op": "square", "args": [6]},
        {"op": "add", "args": [7, 8, 9], "name": "f"},
    ],
    "outputs": [10],
    "output_names": ["f"],
}


@bp.post("/circuits")
@s.body(s.CircuitUpload, example=EQUATION1)
@bp.output(s.CircuitSummary, status_code=201, description="Stored: new to this tenant")
@bp.doc(
    responses={
        201: s.response("Stored: new to this tenant", headers=["Location"]),
        200: s.response(
            "This tenant had this circuit already (same id, same summary)",
            s.CircuitSummary,
            headers=["Location"],
        ),
        400: "Malformed body: not JSON or msgpack, or empty",
        413: "Body or circuit over the configured limits",
        415: "A body that is neither JSON nor msgpack",
        422: "Invalid circuit document or expression",
    }
)
def upload():
    """Store a circuit

    A circuit document (JSON or msgpack; row form, or in msgpack the packed form) or
    ``{"expression": "...", "inputs"?: [...], "output"?: "f"}``. The id is the content
    hash: the same circuit always gets the same id.
    """
    r = rt()
    c = circuit_of(read_body(), r.settings)
    summary, new = r.circuits.keep(c, tenant(), measured(c))  # new to this tenant: 201, else 200
    return respond(summary, 201 if new else 200, {"Location": f"/v1/circuits/{summary['id']}"})


@bp.get("/circuits/<circuit_id>")
@bp.input(s.FormQuery, location="query")
@bp.output(s.CircuitDocument, description="The circuit document", content_type=JSON)
@bp.doc(
    responses={
        200: s.response("The circuit document", headers=["ETag", "Cache-Control"]),
        304: s.response(
            "Not modified: If-None-Match names this circuit (circuits never change)",
            headers=["ETag", "Cache-Control"],
        ),
        404: "Unknown circuit (or another tenant's)",
        422: "Invalid query parameter",
    }
)
def fetch(circuit_id: str, query_data: dict):
    """Fetch a circuit

    JSON gives the row form; msgpack gives the packed form for circuits of more than
    10⁴ gates (``?form=rows`` or ``?form=packed`` to choose).
    """
    summary = readable_circuit(circuit_id)
    etag = f'"{circuit_id}"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE}
    if circuit_id in request.if_none_match:
        return raw_response(b"", JSON, 304, headers)
    r = rt()
    heavy = summary["nodes"] > OFFLOAD_GATES  # encoding rows
    if not wants_msgpack():
        body = cpu(to_json, r.circuits.get(circuit_id), heavy=heavy)
        return raw_response(body, JSON, 200, headers)
    form = query_data.get("form")
    large = summary["nodes"] - len(summary["inputs"]) > PACKED_THRESHOLD  # the codec's rule
    if form == "packed" or (form is None and large):
        body = r.blobs.get(circuit_id)  # stored in the packed form: no re-encoding
    else:
        body = cpu(lambda c: to_msgpack(c, packed=False), r.circuits.get(circuit_id), heavy=heavy)
    return raw_response(body, MSGPACK, 200, headers)


@bp.post("/circuits/<circuit_id>/evaluate")
@s.body(s.Points, example={"points": [{"x": 1, "y": 2, "z": 3}]})
@bp.doc(  # no @bp.output: 200 is either of two documents
    responses={
        200: s.response(
            "Values: one row per point, one column per output. Or, for more points than "
            "the synchronous limit whose evaluation job is final already, that Job "
            "(with Location)",
            {"oneOf": [s.Values, s.Job]},
            optional_headers=["Location"],
        ),
        202: s.response(
            "More points than the synchronous limit: an evaluation job was created (or "
            "found, still running); its values will be at GET /v1/jobs/{id}/values",
            s.Job,
            headers=["Location", "Retry-After"],
        ),
        400: "Malformed body: not JSON or msgpack, or empty",
        404: "Unknown circuit (or another tenant's)",
        413: "Body over the configured limit",
        415: "A body that is neither JSON nor msgpack",
        422: "Invalid points",
    }
)
def evaluate_points(circuit_id: str):
    """Evaluate a circuit at points

    Every input must be given, and only inputs. Batches larger than the configured
    synchronous limit become an evaluation job (202, see ``POST /v1/evaluations``).
    """
    readable_circuit(circuit_id)
    r = rt()
    c = r.circuits.get(circuit_id)
    X = points_of(read_body(), c.inputs)
    if not evaluates_synchronously(c, len(X), r.settings):
        return submit_evaluation(r, circuit_id, c, X)
    values = cpu(evaluate, c, X, heavy=sync_work(c, len(X)) > 50 * OFFLOAD_GATES)
    return respond({"outputs": list(c.output_names), "values": values})
