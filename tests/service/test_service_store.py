"""The blob store on a real Redis: chunks, manifest last, retention, a full Redis."""

from __future__ import annotations

from dataclasses import replace

import msgpack
import numpy as np
import pytest
import redis

from circuitgrad.engine.building.generate import random_dag
from circuitgrad.engine.formats.codec import content_id, to_packed
from circuitgrad.service.embedded_redis import EmbeddedRedis
from circuitgrad.worker.errors import BlobMissing, StoreFull
from circuitgrad.worker.keys import Keys
from circuitgrad.worker.runtime import Runtime
from circuitgrad.worker.store import BlobStore


@pytest.fixture
def blobs(service_settings):
    r = redis.Redis.from_url(service_settings.redis_url)
    return BlobStore(
        r, Keys(service_settings.key_prefix + "storetest:"), chunk_bytes=1000, level=3, ttl=60
    )


def test_large_blobs_are_chunked_and_committed_by_a_manifest(blobs):
    payload = np.random.default_rng(0).bytes(20_000)  # incompressible: about 20 chunks
    assert blobs.put("b1", payload, {"what": "noise"})
    m = blobs.manifest("b1")
    assert m["chunks"] >= 20 and m["bytes"] == 20_000 and m["meta"] == {"what": "noise"}
    sizes = [blobs.r.strlen(blobs.keys.chunk("b1", i)) for i in range(m["chunks"])]
    assert max(sizes) <= 1000
    assert blobs.get("b1") == payload
    assert not blobs.put("b1", payload)  # stored already
    assert 0 < blobs.r.ttl(blobs.keys.blob("b1")) <= 60
    assert blobs.r.ttl(blobs.keys.chunk("b1", 0)) > blobs.r.ttl(blobs.keys.blob("b1"))


def test_a_blob_without_its_manifest_does_not_exist(blobs):
    blobs.r.set(blobs.keys.chunk("half", 0), b"written before the writer died")
    assert not blobs.exists("half")
    with pytest.raises(BlobMissing):
        blobs.get("half")
    blobs.put("gone", np.random.default_rng(2).bytes(5000))
    blobs.r.delete(blobs.keys.chunk("gone", 0))  # a chunk lost: never a partial blob
    with pytest.raises(BlobMissing):
        blobs.get("gone")


def test_small_blobs_live_in_their_manifest(blobs):
    assert blobs.put("tiny", b"x" * 5000)  # compresses to a few bytes
    assert blobs.manifest("tiny")["chunks"] == 0
    assert not list(blobs.r.scan_iter(match=blobs.keys.chunk("tiny", 0)))
    assert blobs.get("tiny") == b"x" * 5000


def test_compression_and_arrays(blobs):
    zeros = np.zeros((1000, 7))
    blobs.put_array("arr", zeros)
    assert blobs.manifest("arr")["stored_bytes"] < 1000  # zstd
    np.testing.assert_array_equal(blobs.get_array("arr"), zeros)


def test_delete_removes_manifest_and_chunks(blobs):
    blobs.put("d", np.random.default_rng(1).bytes(3000))
    blobs.delete("d")
    assert not list(blobs.r.scan_iter(match=blobs.keys.blob("d") + "*"))


@pytest.fixture(scope="module")
def small_redis(tmp_path_factory):
    with EmbeddedRedis(
        tmp_path_factory.mktemp("full-redis"), maxmemory="3mb", appendonly=False
    ) as server:
        yield server


def test_a_full_redis_answers_503_and_loses_nothing(small_redis, service_settings):
    from circuitgrad.service.app import create_app

    s = replace(service_settings, redis_url=small_redis.url, chunk_bytes=256 * 1024)
    client = create_app(s).test_client()
    stored, statuses = [], []
    for seed in range(100):
        c = random_dag(20_000, n_inputs=3, seed=seed)
        r = client.post(
            "/v1/circuits", data=msgpack.packb(to_packed(c)), content_type="application/msgpack"
        )
        statuses.append(r.status_code)
        if r.status_code == 503:
            assert r.get_json()["status"] == 503 and "Retry-After" in r.headers
            assert not Runtime(s).blobs.exists(content_id(c))  # no half-written blob visible
            break
        stored.append(content_id(c))
    assert statuses[-1] == 503 and statuses[:-1] == [201] * (len(statuses) - 1)
    for cid in stored:  # everything accepted before is still there, whole
        assert client.get(f"/v1/circuits/{cid}").status_code == 200
    assert small_redis_policy(small_redis) == b"noeviction"


def small_redis_policy(server) -> bytes:
    return (
        redis.Redis.from_url(server.url).config_get("maxmemory-policy")["maxmemory-policy"].encode()
    )


def test_store_full_error_type(small_redis):
    r = redis.Redis.from_url(small_redis.url)
    blobs = BlobStore(r, Keys("full:"), chunk_bytes=1 << 20, level=1, ttl=60)
    with pytest.raises(StoreFull):
        for i in range(100):
            blobs.put(f"big{i}", np.random.default_rng(i).bytes(1 << 20))
