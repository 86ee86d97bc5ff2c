"""Job records: one Redis hash per job, changed only by atomic scripts.

The record is what the API serves (Celery's result backend is not used). A job id is
derived from the tenant and the request's *content key* (circuit id + options + engine
version), so submitting the same request twice finds the same job, also when both
submissions race: the index is read and written inside one script.

States: ``queued -> running -> succeeded | failed | cancelled``. The last three are
final; every transition goes through a script that refuses to touch a final record, so
a final status never changes (a late worker cannot overwrite a cancellation). Reaching a
final status publishes the job id on one channel, which long polls wait on.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from datetime import UTC, datetime
from enum import StrEnum

import orjson
import redis

from circuitgrad.engine.passes.gradient import ENGINE_VERSION

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


_FINAL_LUA = "{succeeded=1, failed=1, cancelled=1}"

# KEYS: index, the tenant's job list, the circuit's pins
# ARGV: new id, ttl, prefix-of-job-keys, now (unix), field/value pairs...
# -> {id, created, record...}. An existing job is reused unless it was cancelled or failed
# retryably. A new job is listed for its tenant, and pins its circuit while it is queued.
_SUBMIT = f"""
local final = {_FINAL_LUA}
local cur = redis.call('GET', KEYS[1])
local gen = 0
if cur then
  local rec = ARGV[3] .. cur
  local st = redis.call('HGET', rec, 'status')
  if st and st ~= 'cancelled' and redis.call('HGET', rec, 'retryable') ~= '1' then
    return {{cur, 0, redis.call('HGETALL', rec)}}
  end
  if st then gen = tonumber(redis.call('HGET', rec, 'generation') or '0') + 1 end
end
local id = ARGV[1]
if gen > 0 then id = id .. '-' .. gen end
local rec = ARGV[3] .. id
redis.call('DEL', rec)
redis.call('HSET', rec, 'id', id, 'generation', gen, unpack(ARGV, 5))
redis.call('EXPIRE', rec, tonumber(ARGV[2]))
redis.call('SET', KEYS[1], id, 'EX', tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], ARGV[4], id)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. (tonumber(ARGV[4]) - tonumber(ARGV[2])))
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[2]))
if redis.call('HGET', rec, 'status') == 'queued' then
  redis.call('SADD', KEYS[3], id)
  redis.call('EXPIRE', KEYS[3], tonumber(ARGV[2]))
end
return {{id, 1, redis.call('HGETALL', rec)}}
"""

# KEYS: record, done channel  ARGV: now, worker, max deliveries, problem if exhausted, pid
# -> {outcome, record if claimed}
_CLAIM = f"""
local final = {_FINAL_LUA}
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {{'missing'}} end
if final[st] then return {{'final'}} end
local n = redis.call('HINCRBY', KEYS[1], 'deliveries', 1)
if n > tonumber(ARGV[3]) then
  redis.call('HSET', KEYS[1], 'status', 'failed', 'updated_at', ARGV[1], 'error', ARGV[4])
  redis.call('PUBLISH', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
  return {{'exhausted'}}
end
redis.call('HSET', KEYS[1], 'status', 'running', 'updated_at', ARGV[1], 'worker', ARGV[2],
           'worker_pid', ARGV[5])
return {{'claimed', redis.call('HGETALL', KEYS[1])}}
"""

# KEYS: record, done channel  ARGV: new status, now, field/value pairs...
# -> {changed, previous status}
_FINISH = f"""
local final = {_FINAL_LUA}
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {{0, ''}} end
if final[st] then return {{0, st}} end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at', ARGV[2], unpack(ARGV, 3))
redis.call('PUBLISH', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
return {{1, st}}
"""

# KEYS: record, done channel, result circuit's readers, result cache, tenant's circuits
# ARGV: now, result, tenant, ttl, now (unix), result circuit id
# -> 1 succeeded, 0 final already (nothing written)
_SUCCEED = f"""
local final = {_FINAL_LUA}
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return 0 end
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
redis.call('SET', KEYS[4], ARGV[2], 'EX', tonumber(ARGV[4]))
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[6])
redis.call('EXPIRE', KEYS[5], tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], 'status', 'succeeded', 'progress', '1', 'updated_at', ARGV[1],
           'result', ARGV[2])
redis.call('PUBLISH', KEYS[2], redis.call('HGET', KEYS[1], 'id'))
return 1
"""

# KEYS: record  ARGV: progress, now   (never on a final record)
_PROGRESS = f"""
local final = {_FINAL_LUA}
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return 0 end
if st == 'queued' then redis.call('HSET', KEYS[1], 'status', 'running') end
redis.call('HSET', KEYS[1], 'progress', ARGV[1], 'updated_at', ARGV[2])
return 1
"""

# KEYS: record, done-set, done channel  ARGV: chunk index, chunks, now, ttl, result
# -> 0 final already, 1 more to come, 2 done (the job succeeded)
_CHUNK_DONE = f"""
local final = {_FINAL_LUA}
local st = redis.call('HGET', KEYS[1], 'status')
if (not st) or final[st] then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
local n = redis.call('SCARD', KEYS[2])
local total = tonumber(ARGV[2])
if n >= total then
  redis.call('HSET', KEYS[1], 'status', 'succeeded', 'progress', '1', 'updated_at', ARGV[3],
             'result', ARGV[5])
  redis.call('PUBLISH', KEYS[3], redis.call('HGET', KEYS[1], 'id'))
  return 2
end
redis.call('HSET', KEYS[1], 'status', 'running', 'progress', tostring(n / total),
           'updated_at', ARGV[3])
return 1
"""

_JSON_FIELDS = ("options", "result", "error")


class JobStore:
    def __init__(self, r: redis.Redis, keys: Keys, ttl: int):
        self.r, self.keys, self.ttl = r, keys, ttl
        self._submit = r.register_script(_SUBMIT)
        self._claim = r.register_script(_CLAIM)
        self._finish = r.register_script(_FINISH)
        self._succeed = r.register_script(_SUCCEED)
        self._progress = r.register_script(_PROGRESS)
        self._chunk_done = r.register_script(_CHUNK_DONE)

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
            "enqueued": 0,
            "request_id": current_request_id(),
            **fields,
        }
        argv = [job_id_for(tenant, key), self.ttl, self.keys.job(""), repr(t)]
        for name, value in record.items():
            argv += [name, _encode(name, value)]
        keys = [
            self.keys.job_index(tenant, key),
            self.keys.tenant_jobs(tenant),
            self.keys.pins(str(record.get("circuit_id", ""))),
        ]
        with store_errors():
            _, created, raw = self._submit(keys=keys, args=argv)
        if created:
            JOBS_SUBMITTED.labels(kind).inc()
        return _decode(zip(raw[::2], raw[1::2], strict=True)), bool(created)

    def mark_enqueued(self, job_id: str) -> None:
        with store_errors():
            self.r.hset(self.keys.job(job_id), "enqueued", 1)

    def claim(
        self, job_id: str, worker: str, max_deliveries: int, exhausted: dict
    ) -> tuple[str, dict | None]:
        """('claimed', record), or ('final' | 'missing' | 'exhausted', None); exhausted: too
        many deliveries, the job is failed now.

        The record keeps who runs the job (worker name and process id) and how often a
        worker took it: a job whose worker died is delivered again, up to a limit."""
        with store_errors():
            out = self._claim(
                keys=[self.keys.job(job_id), self.keys.done_channel()],
                args=[now_iso(), worker, max_deliveries, orjson.dumps(exhausted), os.getpid()],
            )
        if len(out) == 1:
            return out[0].decode(), None
        return "claimed", _decode(zip(out[1][::2], out[1][1::2], strict=True))

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
                keys=[self.keys.job(job_id), self.keys.done_channel()], args=argv
            )
        return bool(changed), previous.decode()

    def succeed(self, job: dict, result: dict) -> bool:
        """Commit a gradient job's result in one step: its tenant may read the result
        circuit, the result is cached for the same request, the job is succeeded. False
        (and nothing written) when the job was final already, e.g. cancelled."""
        keys = [
            self.keys.job(job["id"]),
            self.keys.done_channel(),
            self.keys.acl(result["circuit_id"]),
            self.keys.result(job["content_key"]),
            self.keys.tenant_circuits(job["tenant"]),
        ]
        args = [now_iso(), orjson.dumps(result), job["tenant"], self.ttl]
        args += [repr(now_ms()), result["circuit_id"]]
        with store_errors():
            return bool(self._succeed(keys=keys, args=args))

    def fail(self, job_id: str, problem: dict, retryable: bool = False) -> bool:
        return self.finish(job_id, Status.FAILED, error=problem, retryable=int(retryable))[0]

    def cancel(self, job_id: str) -> tuple[bool, str]:
        return self.finish(job_id, Status.CANCELLED)

    # -- evaluation jobs: chunks done by many tasks ---------------------------------------
    def chunk_try(self, job_id: str, index: int) -> int:
        """Count one more delivery of chunk ``index``; returns the count so far."""
        key = self.keys.job_tries(job_id)
        with store_errors():
            pipe = self.r.pipeline(transaction=False)
            pipe.hincrby(key, str(index), 1)
            pipe.expire(key, self.ttl)
            return int(pipe.execute()[0])

    def chunk_done(self, job_id: str, index: int, chunks: int, result: dict) -> int:
        """Record chunk ``index`` as done: 2 when it was the last one (job succeeded)."""
        with store_errors():
            return int(
                self._chunk_done(
                    keys=[
                        self.keys.job(job_id),
                        self.keys.job_done(job_id),
                        self.keys.done_channel(),
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
