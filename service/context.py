"""What every view needs: this process's runtime and readable-or-404 lookups."""

from __future__ import annotations

from flask import current_app

from circuitgrad.worker.jobs import FINAL
from circuitgrad.worker.runtime import Runtime

from .errors import NotFound
from .reuse import settle
from .tenancy import tenant
from .waiting import Notifier


def rt() -> Runtime:
    return current_app.extensions["circuitgrad"]


def notifier() -> Notifier:
    return current_app.extensions["circuitgrad.notifier"]


def readable_circuit(cid: str) -> dict:
    """The summary of a circuit the caller may read, else 404 (also for another tenant's)."""
    r = rt()
    summary = r.circuits.summary(cid) if isinstance(cid, str) else None
    if summary is None or not r.circuits.readable(cid, tenant()):
        raise NotFound(f"no circuit {cid!r}")
    return summary


def own_job(job_id: str) -> dict:
    """The caller's job as it is now (a job reusing a result settles when due), else 404."""
    r = rt()
    rec = r.jobs.get(job_id)
    if rec is None or rec.get("tenant") != tenant():
        raise NotFound(f"no job {job_id!r}")
    return settle(r, rec)


def job_document(rec: dict) -> dict:
    """The job as the API shows it (the record keeps more: tenant, deliveries, ...)."""
    status = rec["status"]
    result = rec.get("result") if status == "succeeded" else None
    if result is not None and rec["kind"] == "evaluation":
        result = {**result, "values_url": f"/v1/jobs/{rec['id']}/values"}
    return {
        "id": rec["id"],
        "kind": rec["kind"],
        "status": status,
        "progress": 1.0 if status == "succeeded" else rec["progress"],
        "created_at": rec["created_at"],
        "updated_at": rec["updated_at"],
        "circuit_id": rec.get("circuit_id"),
        "options": rec.get("options"),
        "result": result,
        "error": rec.get("error") if status == "failed" else None,
    }


def is_final(rec: dict) -> bool:
    return rec["status"] in FINAL
