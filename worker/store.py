"""Content-addressed blobs in Redis: zstd-compressed, split into chunks, manifest last.

A blob of any size becomes chunks of at most ``chunk_bytes`` (a few MiB: no Redis value
gets near its 512 MiB limit and no single write holds Redis for long) and then one small
manifest. The manifest is the commit point: a reader that finds it finds every chunk, a
writer that dies half-way leaves no visible blob. Chunks outlive their manifest by a
margin so a manifest never points at expired chunks. A blob that compresses to a few
KiB is kept inside its manifest (one value, one round trip).

``CircuitStore`` keeps circuits in this store under their content id, in the engine's
packed msgpack form, with their measures in the manifest, plus who may read them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

import msgpack
import numpy as np
import redis
import zstandard

from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.formats.codec import content_id, from_msgpack, to_msgpack

from .connection import store_errors
from .errors import BlobMissing
from .keys import Keys

CHUNK_GRACE_SECONDS = 300  # chunks expire this long after their manifest
INLINE_BYTES = 64 << 10  # a blob this small (compressed) lives in its manifest
THREADED_ABOVE = 8 << 20  # compress larger payloads on all cores


class BlobStore:
    def __init__(self, r: redis.Redis, keys: Keys, chunk_bytes: int, level: int, ttl: int):
        self.r, self.keys, self.chunk_bytes, self.ttl = r, keys, chunk_bytes, ttl
        self._level = level

    def put(self, blob_id: str, payload: bytes, meta: dict | None = None) -> bool:
        """Store ``payload`` under ``blob_id``; False (and a refreshed TTL) if already stored."""
        threads = -1 if len(payload) > THREADED_ABOVE else 0
        z = zstandard.ZstdCompressor(level=self._level, threads=threads).compress(payload)
        manifest = {
            "bytes": len(payload),
            "stored_bytes": len(z),
            "created": time.time(),
            "meta": meta or {},
        }
        with store_errors():
            if len(z) <= min(INLINE_BYTES, self.chunk_bytes):
                manifest.update(chunks=0, inline=z)
                if self.r.set(
                    self.keys.blob(blob_id), msgpack.packb(manifest), ex=self.ttl, nx=True
                ):
                    return True
                self.touch(blob_id)
                return False
            if self.touch(blob_id):  # a large blob: never upload it twice
                return False
            parts = [z[i : i + self.chunk_bytes] for i in range(0, len(z), self.chunk_bytes)]
            manifest["chunks"] = len(parts)
            try:
                for i, part in enumerate(parts):  # one command per chunk: Redis stays responsive
                    self.r.set(self.keys.chunk(blob_id, i), part, ex=self.ttl + CHUNK_GRACE_SECONDS)
                created = self.r.set(
                    self.keys.blob(blob_id), msgpack.packb(manifest), ex=self.ttl, nx=True
                )
            except Exception:
                # a concurrent writer of the same content may have committed meanwhile
                if not self.r.exists(self.keys.blob(blob_id)):
                    self.r.delete(*(self.keys.chunk(blob_id, i) for i in range(len(parts))))
                raise
            return bool(created)

    def manifest(self, blob_id: str) -> dict | None:
        with store_errors():
            raw = self.r.get(self.keys.blob(blob_id))
        return None if raw is None else msgpack.unpackb(raw)

    def meta(self, blob_id: str) -> dict | None:
        m = self.manifest(blob_id)
        return None if m is None else m["meta"]

    def get(self, blob_id: str) -> bytes:
        m = self.manifest(blob_id)
        if m is None:
            raise BlobMissing(blob_id)
        if "inline" in m:
            parts = [m["inline"]]
        else:
            with store_errors():
                pipe = self.r.pipeline(transaction=False)
                for i in range(m["chunks"]):
                    pipe.get(self.keys.chunk(blob_id, i))
                parts = pipe.execute()
            if any(p is None for p in parts):
                raise BlobMissing(blob_id)
        return zstandard.ZstdDecompressor().decompress(b"".join(parts), max_output_size=m["bytes"])

    def exists(self, blob_id: str) -> bool:
        with store_errors():
            return bool(self.r.exists(self.keys.blob(blob_id)))

    def touch(self, blob_id: str) -> bool:
        """Restart the retention clock of a stored blob; False if there is none."""
        with store_errors():
            raw = self.r.get(self.keys.blob(blob_id))
            if raw is None:
                return False
            pipe = self.r.pipeline(transaction=False)
            pipe.expire(self.keys.blob(blob_id), self.ttl)
            for i in range(msgpack.unpackb(raw)["chunks"]):
                pipe.expire(self.keys.chunk(blob_id, i), self.ttl + CHUNK_GRACE_SECONDS)
            pipe.execute()
            return True

    def delete(self, blob_id: str) -> None:
        m = self.manifest(blob_id)
        with store_errors():
            self.r.delete(self.keys.blob(blob_id))  # uncommit first
            if m is not None and m["chunks"]:
                self.r.delete(*(self.keys.chunk(blob_id, i) for i in range(m["chunks"])))

    # -- float64 arrays (points and values of evaluation jobs) ---------------------------
    def put_array(self, blob_id: str, a: np.ndarray) -> bool:
        a = np.ascontiguousarray(a, dtype="<f8")
        return self.put(blob_id, a.tobytes(), {"shape": list(a.shape)})

    def get_array(self, blob_id: str) -> np.ndarray:
        m = self.manifest(blob_id)
        if m is None:
            raise BlobMissing(blob_id)
        return np.frombuffer(self.get(blob_id), dtype="<f8").reshape(m["meta"]["shape"])


def summary(cid: str, c, m: dict | None = None) -> dict:
    """What POST /v1/circuits answers and job results report about a circuit (``m``: its
    measures, when already known)."""
    m = measures(c) if m is None else m
    return {
        "id": cid,
        "size": m["size"],
        "depth": m["depth"],
        "wires": m["wires"],
        "nodes": m["nodes"],
        "inputs": list(c.inputs),
        "outputs": list(c.output_names),
        "ops": m["ops"],
    }


# KEYS: manifest, readers, the tenant's circuit index  ARGV: tenant, circuit id, now, ttl
# -> 1 new reader, 0 a reader already, -1 not stored. The index forgets what it listed
# longer ago than the retention period (its circuits were not stored again since).
GRANT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local new = redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], tonumber(ARGV[4]))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. (tonumber(ARGV[3]) - tonumber(ARGV[4])))
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[4]))
return new
"""


NAME_BYTES = 64  # what a short name costs as a Python string, and its slot


def circuit_bytes(c) -> int:
    """About what a decoded circuit holds in memory: its arrays, names and labels."""
    arrays = (c.op, c.arg_offsets, c.args, c.coeffs, c.param, c.outputs)
    names = len(c.inputs) + len(c.output_names) + 2 * len(c.labels)
    chars = sum(map(len, c.inputs)) + sum(map(len, c.output_names))
    return sum(a.nbytes for a in arrays) + NAME_BYTES * names + chars + 512


def summary_bytes(meta: dict) -> int:
    names = len(meta["inputs"]) + len(meta["outputs"])
    return (
        NAME_BYTES * names + sum(map(len, meta["inputs"])) + sum(map(len, meta["outputs"])) + 1024
    )


class CircuitStore:
    """Circuits by content id, readable by the tenants that stored or derived them.

    Decoded circuits (and summaries) are kept in a per-process cache bounded in bytes
    (``circuit_bytes``: arrays and names; summaries a sixteenth of the budget): they are
    immutable values, so a cached one can never be stale. A circuit larger than a quarter
    of the budget is not kept.
    """

    SMALL = 10_000  # vertices: below, encoding is cheaper than asking first

    def __init__(self, blobs: BlobStore, cache_bytes: int = 256 << 20):
        self.blobs = blobs
        self._cache: OrderedDict[str, tuple[object, int]] = OrderedDict()
        self._cache_bytes, self._cached_bytes = cache_bytes, 0
        self._lock = threading.Lock()
        self._summaries: OrderedDict[str, tuple[dict, int]] = OrderedDict()
        self._summary_bytes, self._summaries_bytes = max(cache_bytes // 16, 1 << 20), 0
        self._grant = None

    def put(self, c, measured: dict | None = None) -> tuple[dict, bool]:
        """Store ``c``: (its summary, whether it was new). ``measured``: its measures if known."""
        cid = content_id(c)
        meta = None if c.n_vertices < self.SMALL else self.blobs.meta(cid)
        created = False
        if meta is None:
            meta = summary(cid, c, measured)
            created = self.blobs.put(cid, to_msgpack(c, packed=True), meta)
        else:
            self.blobs.touch(cid)
        self._remember(cid, c)
        return meta, created

    def summary(self, cid: str) -> dict | None:
        with self._lock:
            found = self._summaries.get(cid)
            if found is not None:
                self._summaries.move_to_end(cid)
                return found[0]
        meta = self.blobs.meta(cid)
        if meta is not None:
            size = summary_bytes(meta)
            with self._lock:
                if size <= self._summary_bytes // 4 and cid not in self._summaries:
                    self._summaries[cid] = (meta, size)
                    self._summaries_bytes += size
                    while self._summaries_bytes > self._summary_bytes:
                        _, (_, old) = self._summaries.popitem(last=False)
                        self._summaries_bytes -= old
        return meta

    def get(self, cid: str):
        with self._lock:
            found = self._cache.get(cid)
            if found is not None:
                self._cache.move_to_end(cid)
                return found[0]
        c = from_msgpack(self.blobs.get(cid))
        self._remember(cid, c)
        return c

    def forget_cached(self, cid: str) -> None:
        """Drop this process's decoded copy (the circuit was deleted)."""
        with self._lock:
            found = self._cache.pop(cid, None)
            if found is not None:
                self._cached_bytes -= found[1]
            meta = self._summaries.pop(cid, None)
            if meta is not None:
                self._summaries_bytes -= meta[1]

    def delete(self, cid: str) -> None:
        self.forget_cached(cid)
        self.blobs.delete(cid)
        with store_errors():
            self.blobs.r.delete(self.blobs.keys.acl(cid))

    # -- tenancy -------------------------------------------------------------------------
    def grant(self, cid: str, tenant: str) -> bool:
        """Let ``tenant`` read circuit ``cid`` and list it; whether it could not before.
        ``BlobMissing`` if the circuit is not stored (any more): then store it again."""
        keys, ttl = self.blobs.keys, self.blobs.ttl
        if self._grant is None:
            self._grant = self.blobs.r.register_script(GRANT)
        with store_errors():
            new = self._grant(
                keys=[keys.blob(cid), keys.acl(cid), keys.tenant_circuits(tenant)],
                args=[tenant, cid, repr(math.floor(time.time() * 1000) / 1000), ttl],
            )
        if new < 0:
            raise BlobMissing(cid)
        return bool(new)

    def keep(self, c, tenant: str, measured: dict | None = None) -> tuple[dict, bool]:
        """Store ``c`` for ``tenant``: (its summary, whether it is new to the tenant). A copy
        reclaimed between storing and granting (another tenant's DELETE) is stored again.
        ``measured``: its measures, if known."""
        for _ in range(3):
            summary, _ = self.put(c, measured)
            try:
                return summary, self.grant(summary["id"], tenant)
            except BlobMissing:
                continue
        raise BlobMissing(content_id(c))

    def readable(self, cid: str, tenant: str) -> bool:
        with store_errors():
            return bool(self.blobs.r.sismember(self.blobs.keys.acl(cid), tenant))

    def _remember(self, cid: str, c) -> None:
        size = circuit_bytes(c)
        if size > self._cache_bytes // 4:
            return
        with self._lock:
            if cid in self._cache:
                return
            self._cache[cid] = (c, size)
            self._cached_bytes += size
            while self._cached_bytes > self._cache_bytes:
                _, (_, old) = self._cache.popitem(last=False)
                self._cached_bytes -= old

    def cached_bytes(self) -> tuple[int, int]:
        """(bytes of cached circuits, bytes of cached summaries), as counted."""
        with self._lock:
            return self._cached_bytes, self._summaries_bytes
