"""Evaluation jobs: batches too large for one request, split into chunks across workers."""

from __future__ import annotations

import contextlib
import hashlib

from apiflask import APIBlueprint

from circuitgrad.worker import batches
from circuitgrad.worker.errors import StoreError
from circuitgrad.worker.jobs import content_key
from circuitgrad.worker.runtime import Runtime

from . import schemas as s
from .bounds import check_evaluation
from .context import readable_circuit, rt
from .errors import Invalid, Unavailable
from .jobs import job_response
from .queue import send_evaluation
from .requests import points_of, require_object
from .tenancy import tenant
from .wire import read_body

bp = APIBlueprint("evaluations", __name__, url_prefix="/v1", tag="Jobs")


@bp.post("/evaluations")
@s.body(
    s.EvaluationIn,
    example={"circuit_id": "c_...", "points": {"x": [1, 2], "y": [3, 4], "z": [5, 6]}},
)
@bp.output(s.Job, status_code=202, description="Accepted: queued or running")
@bp.doc(
    responses={
        202: s.response("Accepted: queued or running", headers=["Location", "Retry-After"]),
        200: s.response(
            "The job is final already: the same points of the same circuit were submitted before",
            s.Job,
            headers=["Location"],
        ),
        400: "Malformed body: not JSON or msgpack, or empty",
        404: "Unknown circuit (or another tenant's)",
        413: "Body over the configured limit",
        415: "A body that is neither JSON nor msgpack",
        422: "Invalid circuit_id or points",
    }
)
def create():
    """Evaluate a circuit at many points, as a job

    The points are split into chunks evaluated by all free workers (a Celery group); the
    values, assembled in order, are at ``GET /v1/jobs/{id}/values`` once it succeeded.
    """
    doc = require_object(read_body())
    cid = doc.get("circuit_id")
    if not isinstance(cid, str):
        raise Invalid(errors=[("/circuit_id", "is required: the id of a stored circuit")])
    readable_circuit(cid)
    r = rt()
    c = r.circuits.get(cid)
    X = points_of(doc, c.inputs, extra_keys=("circuit_id",))
    return submit_evaluation(r, cid, c, X)


def submit_evaluation(r: Runtime, cid: str, c, X):
    """Create (or find) the evaluation job of these points; store them; send the chunks."""
    check_evaluation(c, len(X), r.settings)
    digest = hashlib.sha256(X.tobytes()).hexdigest()
    options = {"points": len(X), "outputs": list(c.output_names)}
    key = content_key("evaluation", cid, {"points_sha256": digest})
    st = r.settings
    chunks = batches.chunk_count(len(X), X.shape[1], st.eval_chunk_points, st.chunk_bytes)
    rec, created = r.jobs.submit(
        tenant(), "evaluation", key, {"circuit_id": cid, "options": options, "chunks": chunks}
    )
    job_id = rec["id"]
    if created:
        try:
            batches.store_points(r.blobs, job_id, X, chunks)
        except StoreError as e:  # full, or Redis gone: no job may wait for points it lacks
            with contextlib.suppress(StoreError):  # (else its chunks fail, retryably, later)
                r.jobs.fail(job_id, Unavailable(str(e)).problem(), retryable=True)
                batches.discard(r.blobs, job_id, chunks)
            raise
        send_evaluation(job_id, chunks)
    # about 10⁸ vertex evaluations a second: Retry-After in seconds of that
    return job_response(r.jobs.get(job_id), len(X) * c.n_vertices // 100)
