"""Pictures: a stored circuit, or a gradient job's result coloured by where its gates
come from.

The stored gradient circuit cannot carry its provenance (the document format is fixed),
so the job's picture differentiates the job's source circuit again, with the job's
options and ``provenance=True`` (cheap at drawable sizes), checks that it gets the
stored circuit (same content id) and draws that with the colouring. Past the drawing
limit (``CIRCUITGRAD_MAX_DRAWN_GATES``, or a smaller ``?max_gates=``) either picture is
the engine's summary, computed in linear time.
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from circuitgrad.engine.drawing import MEDIA_TYPES, default_title, draw, too_large
from circuitgrad.engine.formats.codec import content_id
from circuitgrad.engine.passes.gradient import differentiate
from circuitgrad.worker.jobs import Status

from . import schemas as s
from .context import own_job, readable_circuit, rt
from .errors import Conflict

bp = APIBlueprint("pictures", __name__, url_prefix="/v1", tag="Pictures")

RECOMPUTE_FACTOR = 50  # recompute with provenance up to this many times the drawing limit
MODE_NAMES = {"backward": "backpropagation", "forward": "forward propagation"}
PICTURE_RESPONSES = {
    200: {
        "description": "The picture: SVG, or Graphviz DOT text with ?format=dot (a summary "
        "past the drawing limit)",
        "content": {media: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()},
    },
    404: "Unknown circuit or job (or another tenant's)",
    422: "Invalid query parameter",
}


def limit(query: dict) -> int:
    """Gates drawn one by one at most: ``?max_gates=``, capped by the settings."""
    cap = rt().settings.max_drawn_gates
    asked = query.get("max_gates")
    return cap if asked is None else min(asked, cap)


def picture_response(text: str, fmt: str) -> Response:
    r = Response(text, status=200, mimetype=MEDIA_TYPES[fmt])
    r.headers["Cache-Control"] = "private, max-age=300"
    return r


@bp.get("/circuits/<circuit_id>/picture")
@bp.input(s.PictureQuery, location="query")
@bp.doc(responses=PICTURE_RESPONSES)
def circuit_picture(circuit_id: str, query_data: dict):
    """Draw a circuit

    Inputs and constants at the bottom, outputs at the top, a layer per depth; gates
    labelled with their op, weighted-sum wires with their coefficients. A circuit of more
    than ``max_gates`` gates is pictured as a summary (ops, gates per depth layer, inputs
    and outputs).
    """
    readable_circuit(circuit_id)
    c = rt().circuits.get(circuit_id)
    fmt = query_data["format"]
    return picture_response(draw(c, fmt, max_gates=limit(query_data)), fmt)


@bp.get("/jobs/<job_id>/picture")
@bp.input(s.PictureQuery, location="query")
@bp.doc(responses={**PICTURE_RESPONSES, 409: "Not a succeeded gradient job"})
def job_picture(job_id: str, query_data: dict):
    """Draw a gradient job's result, by provenance

    The gradient circuit with the source circuit's gates set apart from the added ones,
    each added gate coloured by the source wire (backward) or source vertex (forward)
    whose derivative rule produced it, and a legend. Past the drawing limit, a summary.
    """
    rec = own_job(job_id)
    if rec["kind"] != "gradient" or rec["status"] != Status.SUCCEEDED:
        raise Conflict(f"job {job_id} is a {rec['kind']} job, {rec['status']}: no gradient")
    fmt, max_gates = query_data["format"], limit(query_data)
    r = rt()
    result = rec["result"]
    cert = result.get("certificate") or {}
    mode = result.get("mode") or cert.get("mode", "backward")
    stored = r.circuits.get(result["circuit_id"])
    source = r.circuits.get(rec["circuit_id"])
    title = f"∇{default_title(source)} by {MODE_NAMES.get(mode, mode)}"
    subtitle = _measures(cert)
    raw_nodes = (cert.get("raw") or {}).get("nodes", 0)
    directional = mode not in ("backward", "forward")  # provenance is for Jacobians
    if too_large(stored, max_gates) or raw_nodes > RECOMPUTE_FACTOR * max_gates or directional:
        return picture_response(draw(stored, fmt, max_gates=max_gates, title=title), fmt)
    options = {k: v for k, v in rec["options"].items() if k != "verify"} | {"mode": mode}
    g = differentiate(source, **options, provenance=True)
    if content_id(g.circuit) != result["circuit_id"]:  # another engine version made it
        note = subtitle + " (provenance not shown: the engine now differentiates differently)"
        text = draw(stored, fmt, max_gates=max_gates, title=title, subtitle=note)
        return picture_response(text, fmt)
    text = draw(g.circuit, fmt, provenance=g.provenance, title=title, subtitle=subtitle)
    return picture_response(text, fmt)


def _measures(cert: dict) -> str:
    """size, depth, wires of the result; raw size against Theorem 3's bound."""
    res, raw = cert.get("result") or {}, cert.get("raw") or {}
    text = f"size {res.get('size')}, depth {res.get('depth')}, {res.get('wires')} wires"
    if "theorem3_bound" in cert:
        within = "within" if cert.get("within_bound") else "NOT within"
        text += (
            f"; raw size {raw.get('size')} {within} Theorem 3's 3·wires + nodes = "
            f"{cert['theorem3_bound']}"
        )
    return text
