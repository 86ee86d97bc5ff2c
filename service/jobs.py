"""Gradient jobs and the job resource: submit, poll (optionally long-poll), cancel."""

from __future__ import annotations

import time
from types import SimpleNamespace

from apiflask import APIBlueprint

from circuitgrad.engine.core.layout import layout
from circuitgrad.worker import batches
from circuitgrad.worker.jobs import Status, content_key

from . import schemas as s
from .bounds import check_gradient
from .context import is_final, job_document, notifier, own_job, readable_circuit, rt
from .errors import Conflict
from .offload import cpu
from .queue import send_gradient
from .requests import gradient_request, measured
from .reuse import due_in, reusable_result, reuse_fields, settle
from .tenancy import tenant
from .wire import read_body, respond

bp = APIBlueprint("jobs", __name__, url_prefix="/v1", tag="Jobs")


def job_response(rec: dict, nodes: int = 0):
    """202 with Location and Retry-After while the job runs; 200 once it is final.
    Retry-After grows with the circuit (``nodes``): about a second per million."""
    doc = job_document(rec)
    headers = {"Location": f"/v1/jobs/{rec['id']}"}
    if is_final(rec):
        return respond(doc, 200, headers)
    headers["Retry-After"] = str(round(nodes / 1e6))
    return respond(doc, 202, headers)


@bp.post("/gradients")
@s.body(s.GradientIn, example={"expression": "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"})
@bp.output(s.Job, status_code=202, description="Accepted: queued or running")
@bp.doc(
    responses={
        202: s.response("Accepted: queued or running", headers=["Location", "Retry-After"]),
        200: s.response(
            "The job is final already: the same request was submitted before, or its "
            "result was computed before (by anyone)",
            s.Job,
            headers=["Location"],
        ),
        400: "Malformed body: not JSON or msgpack, or empty",
        404: "Unknown circuit_id (or another tenant's)",
        413: "Body or circuit over the configured limits",
        415: "A body that is neither JSON nor msgpack",
        422: "Invalid request (fields, options, wrt/of names, circuit or expression)",
    }
)
def submit():
    """Differentiate a circuit, as a job

    Exactly one of ``circuit_id``, ``circuit`` or ``expression``, plus options. The job id
    derives from the circuit, the options and the engine version: submitting the same
    request again returns the same job (or its result) at once.
    """
    r = rt()
    req = gradient_request(read_body(), r.settings)
    c = req.circuit
    if req.circuit_id is not None:
        summary = readable_circuit(req.circuit_id)
    else:
        summary, _ = r.circuits.keep(c, tenant(), measured(c))  # stored, readable, listed
    cid = summary["id"]
    # unknown, repeated or empty wrt/of, colliding output names, or hvp of several outputs
    # are 422 now, not a failed job later; the engine's own check needs only the names,
    # which the summary has (no need to load the circuit)
    o = req.options
    names = SimpleNamespace(inputs=summary["inputs"], output_names=summary["outputs"])
    layout(names, o["mode"], o["wrt"], o["of"], o["include_value"])
    c = r.circuits.get(cid) if c is None else c
    # O(wires × sweeps): off the loop for a large circuit
    sizes = cpu(check_gradient, c, req.options, r.settings, heavy=c.n_wires > 200_000)
    key = content_key("gradient", cid, req.options)
    fields = {"circuit_id": cid, "options": req.options}
    reused = reusable_result(r, key)
    if reused is not None:  # computed before, by anyone: a job of this tenant's all the same
        fields.update(reuse_fields(reused, sizes, req.options["mode"]))
    rec, created = r.jobs.submit(tenant(), "gradient", key, fields)
    # a message lost on the way (this process died, the broker was down) is the reaper's:
    # it sends every queued job again that no worker claimed in time (worker/watch.py)
    if created and rec["status"] == Status.QUEUED and "reuse" not in rec:
        send_gradient(rec["id"])
    return job_response(rec if created else settle(r, rec), summary["nodes"])


@bp.get("/jobs/<job_id>")
@bp.input(s.WaitQuery, location="query")
@bp.output(s.Job, description="The job")
@bp.doc(responses={404: "Unknown job (or another tenant's)", 422: "Invalid query parameter"})
def poll(job_id: str, query_data: dict):
    """Poll a job

    ``?wait=S`` answers as soon as the job is final, or after S seconds (at most the
    configured maximum), whichever comes first.
    """
    wait = min(query_data.get("wait") or 0.0, rt().settings.max_wait_seconds)
    deadline = time.monotonic() + wait
    pending = due_in(own_job(job_id))  # a reused result settles at its time, unannounced
    if pending is not None and wait > 0:
        time.sleep(min(pending, wait))
    remaining = max(0.0, deadline - time.monotonic())
    rec = notifier().wait_until(job_id, remaining, lambda: own_job(job_id), is_final)
    return respond(job_document(rec), 200)


@bp.delete("/jobs/<job_id>")
@bp.output(s.Job, description="The job, now cancelled")
@bp.doc(responses={409: "The job was final already", 404: "Unknown job (or another tenant's)"})
def cancel(job_id: str):
    """Cancel a job

    A queued job is cancelled at once; a running one stops promptly and writes no result.
    """
    rec = own_job(job_id)
    r = rt()
    changed, previous = r.jobs.cancel(job_id)
    if not changed:
        raise Conflict(f"the job is {previous or rec['status']} already")
    if rec["kind"] == "evaluation":
        batches.discard(r.blobs, job_id, int(rec["chunks"]))
    return respond(job_document(r.jobs.get(job_id)), 200)


@bp.get("/jobs/<job_id>/values")
@bp.output(s.Values, description="The values of a succeeded evaluation job, in point order")
@bp.doc(
    responses={
        409: "Not a succeeded evaluation job",
        404: "Unknown job (or another tenant's), or its values expired",
    }
)
def values(job_id: str):
    """Fetch the values of an evaluation job"""
    rec = own_job(job_id)
    if rec["kind"] != "evaluation" or rec["status"] != Status.SUCCEEDED:
        raise Conflict(f"job {job_id} is a {rec['kind']} job, {rec['status']}: no values")
    v = batches.assemble_values(rt().blobs, job_id, int(rec["chunks"]))
    return respond({"outputs": rec["result"]["outputs"], "values": v})
