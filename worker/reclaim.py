"""Giving space back: a tenant forgets a circuit; a circuit nobody refers to is deleted.

The rule (docs/operations.md, "Deleting"):

- ``DELETE /v1/circuits/{id}`` removes the tenant's reference: it can no longer read or
  list the circuit. Its jobs and their records stay (a job's result is a circuit of its
  own, deleted on its own).
- The stored circuit (manifest and chunks) is deleted in the same step once no tenant
  refers to it, unless a queued or running job reads it (the job *pins* it: the submit
  script adds the job to ``pins:{circuit}``). A circuit kept for such a job is an
  *orphan*; ``reclaim_orphans`` deletes the orphans whose jobs are final (it runs on every
  DELETE and every usage report), and retention deletes them in any case.
- Storing the circuit again (any tenant) makes it referred to again; a grant never finds
  half a circuit: the grant script checks the manifest in the same step.

``usage`` measures what a tenant holds, in the bytes Redis reports for the keys
(``MEMORY USAGE``): a circuit is its manifest, its chunks and its reader set; a job is
its record, plus an evaluation job's stored points and values.
"""

from __future__ import annotations

import time

import msgpack

from . import batches
from .connection import store_errors
from .runtime import Runtime

# KEYS: readers, pins, manifest, orphans   ARGV: circuit id, chunk-key prefix,
# job-key prefix, now, ttl. -> 2 deleted, 1 kept for a job (an orphan now), 0 referred to
_RECLAIM_LUA = """
local function reclaim(KEYS, ARGV)
  if redis.call('SCARD', KEYS[1]) > 0 then
    redis.call('ZREM', KEYS[4], ARGV[1])
    return 0
  end
  for _, job in ipairs(redis.call('SMEMBERS', KEYS[2])) do
    local st = redis.call('HGET', ARGV[3] .. job, 'status')
    if st == 'queued' or st == 'running' then
      redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
      redis.call('EXPIRE', KEYS[4], tonumber(ARGV[5]))
      return 1
    end
    redis.call('SREM', KEYS[2], job)
  end
  redis.call('DEL', KEYS[3], KEYS[1], KEYS[2])
  local i = 0
  while redis.call('DEL', ARGV[2] .. i) == 1 do i = i + 1 end
  redis.call('ZREM', KEYS[4], ARGV[1])
  return 2
end
"""

# KEYS: readers, pins, manifest, orphans, the tenant's circuits  ARGV: as above, tenant
# -> -1 not the tenant's, else as reclaim
FORGET = (
    _RECLAIM_LUA
    + """
if redis.call('SREM', KEYS[1], ARGV[6]) == 0 then return -1 end
redis.call('ZREM', KEYS[5], ARGV[1])
return reclaim(KEYS, ARGV)
"""
)
RECLAIM = _RECLAIM_LUA + "\nreturn reclaim(KEYS, ARGV)\n"

DELETED, KEPT_FOR_A_JOB, REFERRED = 2, 1, 0


class Reclaimer:
    def __init__(self, rt: Runtime):
        self.rt = rt
        self._forget = rt.redis.register_script(FORGET)
        self._reclaim = rt.redis.register_script(RECLAIM)

    def _keys_args(self, cid: str) -> tuple[list[str], list]:
        k = self.rt.keys
        keys = [k.acl(cid), k.pins(cid), k.blob(cid), k.orphans()]
        args = [cid, k.chunk(cid, 0)[:-1], k.job(""), repr(time.time())]
        return keys, args + [self.rt.settings.retention_seconds]

    def forget(self, cid: str, tenant: str) -> int | None:
        """Remove the tenant's reference; None if it had none, else DELETED, KEPT_FOR_A_JOB
        or REFERRED (by another tenant)."""
        keys, args = self._keys_args(cid)
        with store_errors():
            out = self._forget(
                keys=[*keys, self.rt.keys.tenant_circuits(tenant)], args=[*args, tenant]
            )
        if out == DELETED:
            self.rt.circuits.forget_cached(cid)
        self.reclaim_orphans()
        return None if out < 0 else int(out)

    def reclaim_orphans(self, limit: int = 100) -> int:
        """Delete the orphans whose jobs are final; how many were deleted."""
        with store_errors():
            orphans = self.rt.redis.zrange(self.rt.keys.orphans(), 0, limit - 1)
        deleted = 0
        for raw in orphans:
            cid = raw.decode()
            keys, args = self._keys_args(cid)
            with store_errors():
                if self._reclaim(keys=keys, args=args) == DELETED:
                    deleted += 1
                    self.rt.circuits.forget_cached(cid)
        return deleted


# -- usage --------------------------------------------------------------------------------
def _memory(rt: Runtime, keys: list[str]) -> int:
    total = 0
    for i in range(0, len(keys), 1000):
        with store_errors():
            pipe = rt.redis.pipeline(transaction=False)
            for key in keys[i : i + 1000]:
                pipe.memory_usage(key, samples=0)
            total += sum(n or 0 for n in pipe.execute())
    return total


def blob_keys(rt: Runtime, blob_ids: list[str]) -> list[str]:
    """The keys of these blobs that exist: manifests and chunks."""
    out = []
    for i in range(0, len(blob_ids), 500):
        part = blob_ids[i : i + 500]
        with store_errors():
            pipe = rt.redis.pipeline(transaction=False)
            for blob_id in part:
                pipe.get(rt.keys.blob(blob_id))
            manifests = pipe.execute()
        for blob_id, raw in zip(part, manifests, strict=True):
            if raw is not None:
                out.append(rt.keys.blob(blob_id))
                chunks = msgpack.unpackb(raw)["chunks"]
                out += [rt.keys.chunk(blob_id, j) for j in range(chunks)]
    return out


def circuit_bytes(rt: Runtime, cids: list[str]) -> int:
    """What these circuits take in Redis: manifests, chunks, reader sets."""
    return _memory(rt, blob_keys(rt, cids) + [rt.keys.acl(c) for c in cids])


def job_bytes(rt: Runtime, records: list[dict]) -> int:
    """What these jobs take: records, and the points and values of evaluation jobs."""
    keys = [rt.keys.job(rec["id"]) for rec in records]
    blobs = []
    for rec in records:
        if rec["kind"] == "evaluation":
            keys += [rt.keys.job_done(rec["id"]), rt.keys.job_tries(rec["id"])]
            for i in range(int(rec.get("chunks", 0))):
                blobs += [batches.points_blob(rec["id"], i), batches.values_blob(rec["id"], i)]
    return _memory(rt, keys + blob_keys(rt, blobs))


def _members(rt: Runtime, key: str) -> list[str]:
    with store_errors():
        return [m.decode() for m in rt.redis.zrange(key, 0, -1)]


def tenant_usage(rt: Runtime, tenant: str) -> dict:
    """The tenant's circuits and jobs (still stored), and their bytes."""
    from .catalog import circuit_loader, job_loader

    circuits, records = [], []
    cids = _members(rt, rt.keys.tenant_circuits(tenant))
    for i in range(0, len(cids), 500):
        part = [(c, 0.0) for c in cids[i : i + 500]]
        loaded = circuit_loader(rt, tenant)(part)
        circuits += [c for (c, _), item in zip(part, loaded, strict=True) if item is not None]
    jobs = _members(rt, rt.keys.tenant_jobs(tenant))
    for i in range(0, len(jobs), 500):
        loaded = job_loader(rt, tenant)([(j, 0.0) for j in jobs[i : i + 500]])
        records += [rec for rec in loaded if rec is not None]
    cb, jb = circuit_bytes(rt, circuits), job_bytes(rt, records)
    return {
        "circuits": len(circuits),
        "circuit_bytes": cb,
        "jobs": len(records),
        "job_bytes": jb,
        "bytes": cb + jb,
    }


def store_usage(rt: Runtime) -> dict:
    """The whole store, as Redis reports it (all deployments sharing that Redis)."""
    with store_errors():
        memory = rt.redis.info("memory")
        persistence = rt.redis.info("persistence")
        keys = rt.redis.dbsize()
    return {
        "used_bytes": int(memory.get("used_memory", 0)),
        "max_bytes": int(memory.get("maxmemory", 0)),
        "keys": int(keys),
        "aof_bytes": int(persistence.get("aof_current_size", 0) or 0),
        "aof_rewrites_in_progress": int(persistence.get("aof_rewrite_in_progress", 0) or 0),
    }
