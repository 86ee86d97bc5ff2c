"""What a tenant holds: list its circuits and jobs, delete a circuit, measure its usage.

Listings follow AIP-158: ``page_size`` (default 50, at most 1000), ``page_token`` (the
``next_page_token`` of the previous page, with the same filters), newest first. The work
is ``worker/catalog.py``'s (indexes per tenant) and ``worker/reclaim.py``'s (deletion).
"""

from __future__ import annotations

from apiflask import APIBlueprint
from flask import Response

from circuitgrad.worker import catalog, reclaim

from . import pages
from . import schemas as s
from .context import job_document, readable_circuit, rt
from .errors import NotFound
from .reuse import settle
from .tenancy import tenant
from .wire import respond

circuits_bp = APIBlueprint("catalog_circuits", __name__, url_prefix="/v1", tag="Circuits")
jobs_bp = APIBlueprint("catalog_jobs", __name__, url_prefix="/v1", tag="Jobs")
usage_bp = APIBlueprint("usage", __name__, url_prefix="/v1", tag="Operations")
BLUEPRINTS = (circuits_bp, jobs_bp, usage_bp)


def _window(q: dict) -> tuple[int, float | None, float | None]:
    size = q.get("page_size") or s.DEFAULT_PAGE_SIZE
    after, before = q.get("created_after"), q.get("created_before")
    return (
        min(size, s.MAX_PAGE_SIZE),
        None if after is None else after.timestamp(),
        None if before is None else before.timestamp(),
    )


def _query(listing: str, q: dict, after, before, **filters) -> dict:
    """What a page token is bound to: everything asked but the page size."""
    return {"listing": listing, "tenant": tenant(), "after": after, "before": before, **filters}


@circuits_bp.get("/circuits")
@circuits_bp.input(s.PageQuery, location="query")
@circuits_bp.output(s.CircuitPage, description="A page of the tenant's circuits, newest first")
@circuits_bp.doc(responses={422: "Invalid query parameter or page token"})
def list_circuits(query_data: dict):
    """List circuits

    The circuits this tenant stored (uploaded, or sent with a job) or derived (gradient
    results), newest first by when it last stored them (``stored_at``; the
    ``created_after``/``created_before`` filters apply to it). Expired and deleted
    circuits are never listed.
    """
    r = rt()
    size, after, before = _window(query_data)
    bound = _query("circuits", query_data, after, before)
    cursor = pages.decode(r, bound, query_data.get("page_token"))
    page = catalog.circuits_page(r, tenant(), size, after, before, cursor)
    return respond({"circuits": page.items, "next_page_token": pages.encode(r, bound, page.cursor)})


@jobs_bp.get("/jobs")
@jobs_bp.input(s.JobsQuery, location="query")
@jobs_bp.output(s.JobPage, description="A page of the tenant's jobs, newest first")
@jobs_bp.doc(responses={422: "Invalid query parameter or page token"})
def list_jobs(query_data: dict):
    """List jobs

    This tenant's jobs, newest first by ``created_at``; ``status`` and ``kind`` filter
    them too. Expired jobs are never listed.
    """
    r = rt()
    size, after, before = _window(query_data)
    status, kind = query_data.get("status"), query_data.get("kind")
    bound = _query("jobs", query_data, after, before, status=status, kind=kind)
    cursor = pages.decode(r, bound, query_data.get("page_token"))
    page = catalog.jobs_page(
        r, tenant(), size, status, kind, after, before, cursor, view=lambda rec: settle(r, rec)
    )
    return respond(
        {
            "jobs": [job_document(rec) for rec in page.items],  # settled: reuse.py
            "next_page_token": pages.encode(r, bound, page.cursor),
        }
    )


@circuits_bp.delete("/circuits/<circuit_id>")
@circuits_bp.output({}, status_code=204, description="Deleted: this tenant no longer has it")
@circuits_bp.doc(responses={404: "Unknown circuit (or another tenant's, or deleted already)"})
def delete_circuit(circuit_id: str):
    """Delete a circuit

    This tenant can no longer read or list it; its jobs stay. The stored circuit is
    deleted as soon as no tenant has it and no queued or running job reads it
    (docs/operations.md, "Deleting").
    """
    readable_circuit(circuit_id)
    if reclaim.Reclaimer(rt()).forget(circuit_id, tenant()) is None:
        raise NotFound(f"no circuit {circuit_id!r}")
    response = Response(status=204)
    response.headers.remove("Content-Type")
    return response


@usage_bp.get("/usage")
@usage_bp.output(s.Usage, description="What this tenant holds, and the store as a whole")
def usage():
    """Storage usage

    ``tenant``: the circuits and jobs this tenant holds now and the bytes they take in
    Redis (``MEMORY USAGE`` of their keys); ``store``: Redis as a whole (all tenants).
    Reading it also deletes the circuits that were kept only for jobs now final.
    """
    r = rt()
    reclaim.Reclaimer(r).reclaim_orphans()
    return respond(
        {
            "tenant": reclaim.tenant_usage(r, tenant()),
            "store": reclaim.store_usage(r),
            "retention_seconds": r.settings.retention_seconds,
        }
    )
