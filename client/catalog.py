"""What a tenant holds, as sans-IO operations (``operations.py``'s style): a page of its
circuits or jobs, deleting a circuit, its storage usage.

The clients iterate pages for their callers: ``Client.circuits()`` is an iterator of
``CircuitRef``, ``AsyncClient.circuits()`` an async one, each following
``next_page_token`` until the service says there is no more (AIP-158).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from . import wire
from .operations import Call, Op, _path_id
from .resources import FINAL

JOB_STATUSES = ("queued", "running", *sorted(FINAL))
JOB_KINDS = ("gradient", "evaluation")


def _time(value) -> str | None:
    """A datetime (naive: UTC) or an RFC 3339 string, as the service reads it."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    raise TypeError(f"a time must be a datetime or an RFC 3339 string, not {value!r}")


def query(
    *,
    page_size: int | None = None,
    created_after=None,
    created_before=None,
    status: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    if status is not None and status not in JOB_STATUSES:
        raise ValueError(f"status must be one of {', '.join(JOB_STATUSES)}")
    if kind is not None and kind not in JOB_KINDS:
        raise ValueError(f"kind must be one of {', '.join(JOB_KINDS)}")
    params = {
        "page_size": page_size,
        "created_after": _time(created_after),
        "created_before": _time(created_before),
        "status": status,
        "kind": kind,
    }
    return {k: v for k, v in params.items() if v is not None}


class CatalogOperations:
    """Mixed into the clients' surface next to ``Operations``."""

    def _page(self, path: str, params: Mapping[str, Any], token: str) -> Op:
        """One page: (its items, converted, and the next page's token or "")."""
        call = Call("GET", path, accept=self.settings.content_type)
        call.params = {**params, **({"page_token": token} if token else {})}
        _, doc = yield from self._exchange(call)
        if path.endswith("/circuits"):
            items = [self._ref({**info}) for info in doc.get("circuits", [])]
        else:
            items = [self._job(job) for job in doc.get("jobs", [])]
        return items, doc.get("next_page_token") or ""

    def _delete_circuit(self, circuit) -> Op:
        call = Call("DELETE", f"/v1/circuits/{_path_id(circuit)}", accept=wire.JSON)
        yield from self._request(call)

    def _usage(self) -> Op:
        call = Call("GET", "/v1/usage", accept=self.settings.content_type)
        _, doc = yield from self._exchange(call)
        return doc
