"""What each tenant holds: its circuits and jobs, newest first, a page at a time.

Every tenant has two sorted sets (``keys.py``), written in the same script as what they
list: ``tcircuits:{tenant}`` (circuit id -> when the tenant last stored or derived it:
``CircuitStore.grant`` and the job-success script) and ``tjobs:{tenant}`` (job id -> when
it was created: the submit script). They expire with the retention period like the rest,
and each write drops the entries older than that.

A page walks one set from a cursor, newest first (ties by id, descending: Redis's own
order), and keeps what is still there and matches the filters. An entry whose circuit or
job has expired is dropped from the set on the way: a listing never shows what a ``GET``
would not find. A page examines at most ``budget`` entries; a page cut short that way is
shorter than asked, and its cursor goes on from where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgpack

from .connection import store_errors
from .jobs import _decode, now_iso
from .runtime import Runtime

BATCH = 256  # index entries read per round trip


@dataclass(frozen=True)
class Cursor:
    """The last entry a page examined: (score, member)."""

    score: float
    member: str


@dataclass
class Page:
    items: list[dict]
    cursor: Cursor | None  # None: nothing more


def walk(
    rt: Runtime,
    key: str,
    load: Callable[[list[tuple[str, float]]], list[dict | None]],
    keep: Callable[[dict], bool],
    size: int,
    after: float | None,
    before: float | None,
    cursor: Cursor | None,
    budget: int,
) -> Page:
    """Up to ``size`` items of index ``key``, newest first, created after ``after`` and
    before ``before`` (exclusive), past ``cursor``. ``load([(member, score)...])`` reads
    the items (None for a vanished one, dropped from the index), ``keep(item)`` filters."""
    r = rt.redis
    top = f"({before!r}" if before is not None else "+inf"
    if cursor is not None:
        top = repr(cursor.score)  # inclusive: ties with the cursor are sorted out below
    bottom = f"({after!r}" if after is not None else "-inf"
    found: list[tuple[dict, Cursor]] = []
    seen: set[str] = set()  # an entry re-scored by a concurrent write may come round again
    examined, offset, last = 0, 0, cursor
    while len(found) <= size and examined < budget:
        with store_errors():
            batch = r.zrevrangebyscore(key, top, bottom, start=offset, num=BATCH, withscores=True)
        offset += len(batch)
        entries = [(m.decode(), s) for m, s in batch]
        if cursor is not None:  # ties: only members after the cursor's, in descending order
            entries = [(m, s) for m, s in entries if s != cursor.score or m < cursor.member]
        entries = [(m, s) for m, s in entries if m not in seen]
        seen.update(m for m, _ in entries)
        entries = entries[: budget - examined]
        items = load(entries) if entries else []
        gone = []
        for (member, score), item in zip(entries, items, strict=True):
            examined += 1
            here = Cursor(score, member)
            if item is None:
                gone.append(member)
            elif keep(item):
                found.append((item, here))
                if len(found) > size:
                    break
            last = here
        if gone:
            with store_errors():
                # the next batch starts that many entries earlier: none is skipped
                offset -= r.zrem(key, *gone)
        if len(batch) < BATCH:
            if len(found) <= size:
                return Page([item for item, _ in found], None)
            break
    if len(found) > size:  # one more than asked: there is a next page
        return Page([item for item, _ in found[:size]], found[size - 1][1])
    return Page([item for item, _ in found], last)  # the budget ran out


# -- circuits -------------------------------------------------------------------------
def circuit_loader(rt: Runtime, tenant: str):
    def load(entries: list[tuple[str, float]]) -> list[dict | None]:
        with store_errors():
            pipe = rt.redis.pipeline(transaction=False)
            for cid, _ in entries:
                pipe.get(rt.keys.blob(cid))
                pipe.sismember(rt.keys.acl(cid), tenant)
            out = pipe.execute()
        items = []
        for i, (_, score) in enumerate(entries):
            raw, readable = out[2 * i : 2 * i + 2]
            if raw is None or not readable:
                items.append(None)
                continue
            manifest = msgpack.unpackb(raw)
            items.append(
                {
                    **manifest["meta"],
                    "stored_at": now_iso(score),
                    "stored_bytes": manifest["stored_bytes"] + len(raw),
                }
            )
        return items

    return load


def circuits_page(rt: Runtime, tenant: str, size: int, after=None, before=None, cursor=None):
    return walk(
        rt,
        rt.keys.tenant_circuits(tenant),
        circuit_loader(rt, tenant),
        lambda item: True,
        size,
        after,
        before,
        cursor,
        budget=max(1000, 20 * size),
    )


# -- jobs -----------------------------------------------------------------------------
def job_loader(rt: Runtime, tenant: str):
    def load(entries: list[tuple[str, float]]) -> list[dict | None]:
        with store_errors():
            pipe = rt.redis.pipeline(transaction=False)
            for job_id, _ in entries:
                pipe.hgetall(rt.keys.job(job_id))
            out = pipe.execute()
        items = []
        for raw in out:
            rec = _decode(raw.items()) if raw else None
            items.append(rec if rec is not None and rec.get("tenant") == tenant else None)
        return items

    return load


def jobs_page(
    rt: Runtime,
    tenant: str,
    size: int,
    status: str | None = None,
    kind: str | None = None,
    after=None,
    before=None,
    cursor=None,
    view: Callable[[dict], dict] = lambda rec: rec,
):
    """``view(record)`` is what the tenant sees (the service settles reused jobs), and what
    the filters look at: a job listed as succeeded is one ``?status=succeeded`` finds."""

    def keep(rec: dict) -> bool:
        return (status is None or rec["status"] == status) and (kind is None or rec["kind"] == kind)

    load = job_loader(rt, tenant)

    def load_viewed(entries: list[tuple[str, float]]) -> list[dict | None]:
        return [None if rec is None else view(rec) for rec in load(entries)]

    return walk(
        rt,
        rt.keys.tenant_jobs(tenant),
        load_viewed,
        keep,
        size,
        after,
        before,
        cursor,
        budget=max(1000, 20 * size),
    )
