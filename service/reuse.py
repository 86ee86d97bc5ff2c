"""Results shared between tenants, without letting one tenant observe another.

A gradient is computed once per content key (circuit, options, engine version), whoever
asks; the result is cached under ``result:{key}``. A tenant's first request for a result
some other tenant already caused must look exactly like a first computation: ``202``, a
fresh job record ``queued``, then ``running`` with progress, then ``succeeded`` — not
``200 succeeded`` at once, which would tell it that someone else asked the same.

So such a job is created ``queued`` like any other, carrying (in fields the API never
shows) the cached result and the time it is *due*: now plus what computing it would take,
estimated from the request alone (a base latency, plus the predicted raw gates at the
workers' rate). Until then reads show it ``running`` with progress growing with time;
the first read at or after the due time commits the result with the workers' own script
(the tenant may read the result circuit from then on, the done channel wakes long polls),
and if nobody reads it the workers' reaper does at the due time (worker/watch.py). No
worker computes anything. The estimate depends on nothing but the request, so the timing a
tenant sees is a function of what it asked, not of what others did. What stays visible:
load. A fresh job waits in the queue behind other work; a reused one does not (docs).
"""

from __future__ import annotations

import time
from datetime import datetime

import orjson

from circuitgrad.worker.jobs import FINAL, Status
from circuitgrad.worker.runtime import Runtime

from .queue import send_gradient

BASE_SECONDS = 0.03  # a tiny job's submit -> succeeded through the queue, measured
SECONDS_PER_GATE = 1.5e-6  # a worker's rate on raw result gates (10⁶ gates: ~3 s)
RUNNING_AFTER = 0.005  # a worker claims a queued job about this fast when idle
PROGRESS_EVERY = 0.2  # a worker writes progress at most this often (worker/work.py)


def reusable_result(r: Runtime, key: str) -> dict | None:
    """The cached result of content ``key``, if its circuit is still stored."""
    cached = r.redis.get(r.keys.result(key))
    if cached is None:
        return None
    result = orjson.loads(cached)
    return result if r.blobs.exists(result["circuit_id"]) else None


def reuse_fields(result: dict, sizes: dict, mode: str) -> dict:
    """Record fields of a new job that will settle with ``result`` at its due time."""
    raw = min(sizes.values()) if mode == "auto" else sizes[mode]
    seconds = BASE_SECONDS + SECONDS_PER_GATE * raw
    return {
        "reuse": orjson.dumps(result).decode(),
        "due_at": repr(time.time() + seconds),
    }


def due_in(rec: dict) -> float | None:
    """Seconds until a job that reuses a result settles (None: not such a job, or final)."""
    if "reuse" not in rec or rec["status"] in FINAL:
        return None
    return max(0.0, float(rec["due_at"]) - time.time())


def settle(r: Runtime, rec: dict) -> dict:
    """``rec`` as it is now: a job reusing a result runs until due, then succeeds."""
    left = due_in(rec)
    if left is None:
        return rec
    if left > 0:
        now, start, due = time.time(), _created(rec), float(rec["due_at"])
        if now - start < RUNNING_AFTER:
            return rec
        # as a worker reports: running at once, progress at most every PROGRESS_EVERY
        fraction = 0.0 if now - start < PROGRESS_EVERY else min(0.9, (now - start) / (due - start))
        if rec["status"] == Status.QUEUED or fraction - rec["progress"] >= 0.05:
            r.jobs.progress(rec["id"], round(fraction, 2))
            rec = r.jobs.get(rec["id"]) or rec
        return rec
    if not r.jobs.commit_reused(rec):  # expired meanwhile: compute it
        send_gradient(rec["id"])
    return r.jobs.get(rec["id"]) or rec


def _created(rec: dict) -> float:
    return datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00")).timestamp()
