"""Job records: one Redis hash per job, changed only by atomic scripts.

The record is what the API serves (Celery's result backend is not used). A job id is
derived from the tenant and the request's *content key* (circuit id + options + engine
version), so submitting the same request twice finds the same job, also when both
submissions race: the index is read and written inside one script.

States: ``queued -> running -> succeeded | failed | cancelled``. The last three are
final; every transition goes through a script (``job_scripts.py``) that refuses to touch a
final record, so a final status never changes (a late worker cannot overwrite a
cancellation). Reaching a final status publishes the job id on one channel, which long
polls wait on.

No accepted job is lost: a running job holds a *lease* that its worker renews while it
runs (``renew``); every job that is not final is indexed with the time somebody must look
at it again, and ``reap`` re-queues a job whose lease lapsed (its worker died with it)
or whose message was not picked up in time (lost with a Redis restart), as Dramatiq and
RQ do. A duplicate message finds the job claimed (``busy``) or final and is dropped.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

import orjson
import redis

from circuitgrad.engine.passes.gradient import ENGINE_VERSION

from . import job_scripts as scripts
from .connection import store_errors
from .keys import Keys
from .logs import current_request_id
from .metrics import JOBS_SUBMITTED


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED})


def now_iso(t: float | None = None) -> str:
    t = time.time() if t is None else t
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def now_ms() -> float:
    """Unix time, to the millisecond (as ``now_iso`` writes it)."""
    return math.floor(time.time() * 1000) / 1000


def content_key(kind: str, circuit_id: str, options: dict) -> str:
    """Identity of a computation: equal keys give equal results."""
    canon = orjson.dumps([kind, circuit_id, options, ENGINE_VERSION], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canon).hexdigest()[:40]


def job_id_for(tenant: str, key: str) -> str:
    return hashlib.sha256(f"{tenant}\0{key}".encode()).hexdigest()[:32]


_JSON_FIELDS = ("options", "result", "error")


@dataclass(frozen=True)
class Lease:
    """How long a claim lasts without renewal, and when a queued job is sent again."""

    seconds: float = 20.0  # a running job's claim lapses this long after its last renewal
    requeue_after: float = 15.0  # a queued job not picked up by then is sent again...
    requeue_max: float = 300.0  # ...then after twice as long, up to this


class JobStore:
    def __init__(self, r: redis.Redis, keys: Keys, ttl: int, lease: Lease | None = None):
        self.r, self.keys, self.ttl = r, keys, ttl
        self.lease = lease or Lease()
        self._submit = r.register_script(scripts.SUBMIT)
        self._claim = r.register_script(scripts.CLAIM)
        self._renew = r.register_script(scripts.RENEW)
        self._reap = r.register_script(scripts.REAP)
        self._finish = r.register_script(scripts.FINISH)
        self._succeed = r.register_script(scripts.SUCCEED)
        self._progress = r.register_script(scripts.PROGRESS)
        self._begin_chunk = r.register_script(scripts.BEGIN_CHUNK)
        self._chunk_done = r.register_script(scripts.CHUNK_DONE)

    # -- reading -------------------------------------------------------------------------
    def get(self, job_id: str) -> dict | None:
        """The decoded record, or None."""
        with store_errors():
            raw = self.r.hgetall(self.keys.job(job_id))
        return _decode(raw.items()) if raw else None

    def status(self, job_id: str) -> str | None:
        with store_errors():
            st = self.r.hget(self.keys.job(job_id), "status")
        return None if st is None else st.decode()

    # -- transitions ---------------------------------------------------------------------
    def submit(self, tenant: str, kind: str, key: str, fields: dict) -> tuple[dict, bool]:
        """The tenant's job for content ``key``: (its record, whether this call created it).

        ``fields`` initialise a new record (status, circuit_id, options, ...).
        """
        t = now_ms()  # created_at and the listing's order: the same millisecond
        record = {
            "kind": kind,
            "tenant": tenant,
            "content_key": key,
            "status": Status.QUEUED,
            "progress": 0,
            "created_at": now_iso(t),
            "updated_at": now_iso(t),
            "deliveries": 0,
            "request_id": current_request_id(),
            **fields,
        }
        recheck = t + self.lease.requeue_after
        argv = [job_id_for(tenant, key), self.ttl, self.keys.job(""), repr(t), recheck]
        argv += [self.keys.blob(""), self.keys.acl("")]
        for name, value in record.items():
            argv += [name, _encode(name, value)]
        keys = [
            self.keys.job_index(tenant, key),
            self.keys.active(),
            self.keys.tenant_jobs(tenant),
            self.keys.pins(str(record.get("circuit_id", ""))),
        ]
        with store_errors():
            _, created, raw = self._submit(keys=keys, args=argv)
        if created:
            JOBS_SUBMITTED.labels(kind).inc()
        return _decode(zip(raw[::2], raw[1::2], strict=True)), bool(created)

    def claim(
        self, job_id: str, worker: str, max_deliveries: int, exhausted: dict, take_over=False
    ) -> tuple[str, dict | None]:
        """('claimed', record) with a fresh lease; ('busy', {worker, worker_pid}) while
        another delivery holds a live lease; or ('final' | 'missing' | 'exhausted', None)
        — exhausted: too many deliveries, the job is failed now.

        The record keeps who runs the job (worker name and process id) and how often a
        worker took it: a job whose worker died is delivered again, up to a limit.
        ``take_over`` claims even under a live lease (its holder is known to be dead)."""
        t = time.time()
        args = [now_iso(t), worker, max_deliveries, orjson.dumps(exhausted), os.getpid()]
        args += [self.lease.seconds, int(take_over), repr(t)]
        with store_errors():
            out = self._claim(
                keys=[self.keys.job(job_id), self.keys.done_channel(), self.keys.active()],
                args=args,
            )
        outcome = out[0].decode()
        if outcome == "claimed":
            return outcome, _decode(zip(out[1][::2], out[1][1::2], strict=True))
        if outcome == "busy":
            holder, pid = (None if v is None else v.decode() for v in out[1])
            return outcome, {"worker": holder, "worker_pid": pid}
        return outcome, None

    def renew(self, job_ids) -> int:
        """Extend the leases of these running jobs (one round trip); how many were running."""
        job_ids = list(job_ids)
        if not job_ids:
            return 0
        args = [repr(time.time()), self.lease.seconds]
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            for job_id in job_ids:
                keys = [self.keys.job(job_id), self.keys.active()]
                self._renew(keys=keys, args=args, client=pipe)
            return sum(int(x) for x in pipe.execute())

    def due(self, limit: int = 100) -> list[str]:
        """Jobs whose lease lapsed or whose recheck time came, oldest first."""
        with store_errors():
            found = self.r.zrangebyscore(self.keys.active(), "-inf", time.time(), 0, limit)
        return [j.decode() for j in found]

    def reap(self, job_id: str) -> tuple[str, str, int, set[int]]:
        """Look at one due job: ('gone' | 'alive' | 'settle' | 'send', kind, chunks, done
        chunks). On 'send' the job is queued again and the caller must send its messages;
        on 'settle' it must commit the result the job reuses (``commit_reused``)."""
        lease = self.lease
        args = [job_id, repr(time.time()), lease.requeue_after, lease.requeue_max]
        keys = [self.keys.job(job_id), self.keys.active(), self.keys.job_done(job_id)]
        with store_errors():
            out = self._reap(keys=keys, args=args)
        outcome = out[0].decode()
        if outcome != "send":
            return outcome, "", 0, set()
        return outcome, out[1].decode(), int(out[2]), {int(i) for i in out[3:]}

    def progress(self, job_id: str, fraction: float) -> bool:
        with store_errors():
            return bool(
                self._progress(
                    keys=[self.keys.job(job_id)], args=[repr(round(float(fraction), 4)), now_iso()]
                )
            )

    def finish(self, job_id: str, status: Status, **fields) -> tuple[bool, str]:
        """Move a job to a final ``status`` unless it is final already: (changed, previous)."""
        argv = [str(status), now_iso()]
        if status == Status.SUCCEEDED:
            fields.setdefault("progress", 1)
        for name, value in fields.items():
            argv += [name, _encode(name, value)]
        with store_errors():
            changed, previous = self._finish(
                keys=[self.keys.job(job_id), self.keys.done_channel(), self.keys.active()],
                args=argv,
            )
        return bool(changed), previous.decode()

    def succeed(self, job: dict, result: dict) -> int:
        """Commit a gradient job's result in one step: its tenant may read the result
        circuit, the result is cached for the same request, the job is succeeded (1).
        Nothing is written when the job was final already, e.g. cancelled (0), or when the
        result circuit is not stored (-1: deleted meanwhile by its last reader; store it
        again)."""
        keys = [
            self.keys.job(job["id"]),
            self.keys.done_channel(),
            self.keys.acl(result["circuit_id"]),
            self.keys.result(job["content_key"]),
            self.keys.tenant_circuits(job["tenant"]),
            self.keys.active(),
            self.keys.blob(result["circuit_id"]),
        ]
        args = [now_iso(), orjson.dumps(result), job["tenant"], self.ttl]
        args += [repr(now_ms()), result["circuit_id"]]
        with store_errors():
            return int(self._succeed(keys=keys, args=args))

    def commit_reused(self, rec: dict) -> bool:
        """A job that reuses another's result (fields ``reuse``, ``due_at``), now due:
        succeeded with that result if its circuit is still stored, True (or final already);
        else the fields are dropped and the job must be computed after all (sent), False."""
        if self.succeed(rec, orjson.loads(rec["reuse"])) >= 0:
            return True  # the result circuit granted, the long polls woken
        with store_errors():
            self.r.hdel(self.keys.job(rec["id"]), "reuse", "due_at")
        return False

    def fail(self, job_id: str, problem: dict, retryable: bool = False) -> bool:
        return self.finish(job_id, Status.FAILED, error=problem, retryable=int(retryable))[0]

    def cancel(self, job_id: str) -> tuple[bool, str]:
        return self.finish(job_id, Status.CANCELLED)

    # -- evaluation jobs: chunks done by many tasks ---------------------------------------
    def begin_chunk(self, job_id: str, index: int, worker: str = "worker") -> int:
        """A task starts chunk ``index``: the job runs, under a lease; returns how often
        this chunk was delivered so far, or -1 if the job is final already."""
        args = [index, repr(time.time()), self.ttl, self.lease.seconds, worker, os.getpid()]
        keys = [self.keys.job(job_id), self.keys.job_tries(job_id), self.keys.active()]
        with store_errors():
            return int(self._begin_chunk(keys=keys, args=args))

    def chunk_done(self, job_id: str, index: int, chunks: int, result: dict) -> int:
        """Record chunk ``index`` as done: 2 when it was the last one (job succeeded)."""
        with store_errors():
            return int(
                self._chunk_done(
                    keys=[
                        self.keys.job(job_id),
                        self.keys.job_done(job_id),
                        self.keys.done_channel(),
                        self.keys.active(),
                    ],
                    args=[index, chunks, now_iso(), self.ttl, orjson.dumps(result)],
                )
            )


def _decode(pairs) -> dict:
    rec = {k.decode(): v.decode() for k, v in pairs}
    for name in _JSON_FIELDS:
        if name in rec:
            rec[name] = orjson.loads(rec[name])
    rec["progress"] = float(rec.get("progress", 0.0))
    rec["deliveries"] = int(rec.get("deliveries", 0))
    return rec


def _encode(name: str, value) -> bytes | str | int | float:
    if name in _JSON_FIELDS:
        return orjson.dumps(value)
    if isinstance(value, bool):
        return int(value)
    return value
