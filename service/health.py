"""Operations: liveness and readiness."""

from __future__ import annotations

from apiflask import APIBlueprint

from circuitgrad.worker.connection import store_errors

from . import schemas as s
from .context import rt
from .errors import Unavailable
from .wire import respond

bp = APIBlueprint("operations", __name__, url_prefix="/v1", tag="Operations")


@bp.get("/health")
@bp.output(s.Health, description="The process runs")
def health():
    """Liveness"""
    return respond({"status": "ok"})


@bp.get("/ready")
@bp.output(s.Health, description="The store and at least one worker answer")
@bp.doc(responses={503: "The store is unreachable, or no worker announced itself recently"})
def ready():
    """Readiness"""
    r = rt()
    with store_errors():
        r.redis.ping()
    workers = r.live_workers()
    if workers == 0:
        raise Unavailable("no worker has announced itself recently")
    return respond({"status": "ready", "workers": workers})
