"""Listing (AIP-158 pages), deleting and usage, through the Flask app on a real Redis."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pytest
import redis

from circuitgrad.service.app import create_app
from circuitgrad.worker import work
from circuitgrad.worker.runtime import runtime


def tenant_client(settings, **changes):
    """A client of a tenant of its own, and its settings (a key prefix of its own too)."""
    name = uuid.uuid4().hex[:8]
    s = replace(
        settings,
        api_keys=((f"key-{name}", f"t-{name}"), (f"other-{name}", f"u-{name}")),
        key_prefix=f"{settings.key_prefix}cat{name}:",
        **changes,
    )
    c = create_app(s).test_client()
    c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer key-{name}"
    return c, s, {"Authorization": f"Bearer other-{name}"}


def pages(c, path: str, **params) -> list[list[dict]]:
    """Every page of a listing, following next_page_token."""
    field = path.rpartition("/")[2]
    out, token = [], ""
    while True:
        r = c.get(path, query_string={**params, "page_token": token})
        assert r.status_code == 200, r.get_json()
        doc = r.get_json()
        out.append(doc[field])
        token = doc["next_page_token"]
        if not token:
            return out


def test_250_jobs_are_listed_once_each_newest_first_and_filtered(service_settings):
    c, s, _ = tenant_client(service_settings)
    rt = runtime(s)
    ids, succeeded = [], set()
    for i in range(250):
        r = c.post("/v1/gradients", json={"expression": f"x*y + {i}*x"})
        assert r.status_code == 202
        ids.append(r.get_json()["id"])
    for job_id in ids[::5]:  # 50 succeed; the rest stay queued (no worker runs here)
        assert work.run_gradient(rt, job_id, "test") == "succeeded"
        succeeded.add(job_id)
    middle = rt.jobs.get(ids[125])["created_at"]
    evaluation = c.post(
        "/v1/evaluations",
        json={"circuit_id": c.post("/v1/circuits", json={"expression": "x"}).get_json()["id"],
              "points": [{"x": 1.0}]},
    ).get_json()["id"]  # fmt: skip

    listed = pages(c, "/v1/jobs", page_size=40)
    assert [len(p) for p in listed] == [40] * 6 + [11]
    jobs = [job for page in listed for job in page]
    assert sorted(j["id"] for j in jobs) == sorted([*ids, evaluation])  # each exactly once
    created = [j["created_at"] for j in jobs]
    assert created == sorted(created, reverse=True)  # newest first
    assert jobs[0]["id"] == evaluation

    def ids_of(**filters) -> set[str]:
        return {j["id"] for page in pages(c, "/v1/jobs", **filters) for j in page}

    assert ids_of(status="succeeded", kind="gradient", page_size=7) == succeeded
    assert ids_of(status="queued", kind="gradient") == set(ids) - succeeded
    assert ids_of(kind="evaluation") == {evaluation}
    assert ids_of(status="cancelled") == set()
    before = ids_of(created_before=middle)
    assert before == set(ids[:125])
    assert ids_of(created_after=middle, kind="gradient") == set(ids[126:])
    one_page = c.get("/v1/jobs", query_string={"page_size": 5000}).get_json()  # at most 1000
    assert len(one_page["jobs"]) == 251 and one_page["next_page_token"] == ""


def test_records_vanished_from_an_index_do_not_hide_the_ones_after_them(service_settings):
    """A walk drops the index entries of expired records as it goes (BATCH at a time): the
    live entries ranked after them are listed all the same, each once."""
    c, s, _ = tenant_client(service_settings)
    rt = runtime(s)
    ids = [c.post("/v1/gradients", json={"expression": f"x*y + {i}*x"}).get_json()["id"]
           for i in range(600)]  # fmt: skip
    gone = set(ids[::3])  # expired records: their index entries remain until walked over
    rt.redis.delete(*(rt.keys.job(j) for j in gone))
    for page_size in (1000, 137):
        jobs = [j["id"] for page in pages(c, "/v1/jobs", page_size=page_size) for j in page]
        assert sorted(jobs) == sorted(set(ids) - gone)


def test_page_tokens_are_opaque_and_checked(service_settings):
    c, s, other = tenant_client(service_settings)
    for i in range(3):
        c.post("/v1/circuits", json={"expression": f"x + {i}"})
    first = c.get("/v1/circuits?page_size=1").get_json()
    token = first["next_page_token"]
    assert token and "x" not in token.split(".")[0][:4]  # base64, signed
    second = c.get(f"/v1/circuits?page_size=1&page_token={token}").get_json()
    assert second["circuits"][0]["id"] != first["circuits"][0]["id"]

    def problem(url: str, headers=None) -> dict:
        r = c.get(url, headers=headers)
        assert r.status_code == 422 and r.mimetype == "application/problem+json"
        return r.get_json()

    body, _, mac = token.partition(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    for bad in (forged, "garbage", token + "x", "." + mac):
        assert problem(f"/v1/circuits?page_token={bad}")["errors"][0]["path"] == (
            "/query/page_token"
        )
    # a token belongs to its listing, its filters and its tenant
    assert problem(f"/v1/jobs?page_token={token}")["errors"][0]["path"] == "/query/page_token"
    problem(f"/v1/circuits?page_token={token}&created_after=2020-01-01T00:00:00Z")
    problem(f"/v1/circuits?page_token={token}", headers=other)
    for query in ("page_size=-1", "page_size=x", "created_after=yesterday", "status=asleep"):
        path = "/v1/jobs?" + query
        assert problem(path)["errors"][0]["path"] == "/query/" + query.split("=")[0]


def test_the_circuit_listing(service_settings):
    c, s, other = tenant_client(service_settings)
    ids = []
    for i in range(4):  # a millisecond apart at least: listed in this order
        ids.append(
            c.post("/v1/circuits", json={"expression": f"sin(x) * {i + 2}"}).get_json()["id"]
        )
        time.sleep(0.002)
    job = c.post("/v1/gradients", json={"circuit_id": ids[0]}).get_json()
    work.run_gradient(runtime(s), job["id"], "test")
    result = c.get(f"/v1/jobs/{job['id']}").get_json()["result"]["circuit_id"]
    listed = c.get("/v1/circuits").get_json()["circuits"]
    assert [x["id"] for x in listed] == [result, *ids[::-1]]  # derived ones too, newest first
    item = listed[-1]
    assert item["inputs"] == ["x"] and item["outputs"] == ["f"] and item["size"] >= 1
    assert item["stored_bytes"] > 0 and item["stored_at"].endswith("Z")
    assert c.get("/v1/circuits", headers=other).get_json() == {
        "circuits": [], "next_page_token": ""
    }  # fmt: skip
    c.post("/v1/circuits", json={"expression": "sin(x) * 3"})  # stored again: newest now
    assert c.get("/v1/circuits?page_size=1").get_json()["circuits"][0]["id"] == ids[1]


def keys_and_bytes(s) -> tuple[int, int]:
    r = redis.Redis.from_url(s.redis_url)
    keys = [k for k in r.scan_iter(match=s.key_prefix + "*", count=1000)]
    keys = [k for k in keys if b":secret" not in k and b":rate:" not in k]
    return len(keys), sum(r.memory_usage(k, samples=0) or 0 for k in keys)


def big_expression(seed: int, terms: int = 1500) -> str:
    rng = np.random.default_rng(seed)
    return " + ".join(f"{rng.normal():.17g}*sin({rng.normal():.17g}*x + y)" for _ in range(terms))


def test_deleting_reclaims_the_bytes(service_settings):
    c, s, other = tenant_client(service_settings, chunk_bytes=8192)
    before = keys_and_bytes(s)
    summary = c.post("/v1/circuits", json={"expression": big_expression(1)}).get_json()
    cid = summary["id"]
    manifest = runtime(s).blobs.manifest(cid)
    assert manifest["chunks"] >= 3  # manifest, chunks, readers, the tenant's index
    stored = keys_and_bytes(s)
    assert stored[0] == before[0] + 3 + manifest["chunks"] and stored[1] > before[1] + 20_000
    usage = c.get("/v1/usage").get_json()
    assert usage["tenant"]["circuits"] == 1 and usage["tenant"]["circuit_bytes"] > 20_000
    assert usage["store"]["used_bytes"] > 0 and usage["retention_seconds"] == s.retention_seconds

    assert c.delete(f"/v1/circuits/{cid}").status_code == 204
    assert c.get(f"/v1/circuits/{cid}").status_code == 404
    assert c.delete(f"/v1/circuits/{cid}").status_code == 404
    assert keys_and_bytes(s) == before  # every key of it gone, every byte back
    assert c.get("/v1/usage").get_json()["tenant"] == {
        "circuits": 0, "circuit_bytes": 0, "jobs": 0, "job_bytes": 0, "bytes": 0
    }  # fmt: skip


def test_a_shared_circuit_stays_until_its_last_tenant_deletes_it(service_settings):
    c, s, other = tenant_client(service_settings)
    body = {"expression": "x * y * z + 1"}
    cid = c.post("/v1/circuits", json=body).get_json()["id"]
    assert c.post("/v1/circuits", json=body, headers=other).status_code == 201
    assert c.delete(f"/v1/circuits/{cid}").status_code == 204
    assert c.get(f"/v1/circuits/{cid}").status_code == 404
    assert c.get(f"/v1/circuits/{cid}", headers=other).status_code == 200
    assert c.delete(f"/v1/circuits/{cid}", headers=other).status_code == 204
    assert not runtime(s).blobs.exists(cid)


def test_a_circuit_a_queued_job_reads_is_kept_until_the_job_is_final(service_settings):
    c, s, _ = tenant_client(service_settings)
    rt = runtime(s)
    cid = c.post("/v1/circuits", json={"expression": "exp(x) * y"}).get_json()["id"]
    job = c.post("/v1/gradients", json={"circuit_id": cid}).get_json()
    assert c.delete(f"/v1/circuits/{cid}").status_code == 204
    assert c.get(f"/v1/circuits/{cid}").status_code == 404  # gone for the tenant at once
    assert rt.blobs.exists(cid)  # kept for the job
    assert work.run_gradient(rt, job["id"], "test") == "succeeded"
    c.get("/v1/usage")  # reclaims what was kept for jobs now final
    assert not rt.blobs.exists(cid)
    result = c.get(f"/v1/jobs/{job['id']}").get_json()["result"]["circuit_id"]
    assert c.get(f"/v1/circuits/{result}").status_code == 200


def test_every_key_expires_and_listings_never_show_expired_things(service_settings):
    c, s, _ = tenant_client(service_settings, retention_seconds=3)
    rt = runtime(s)
    cid = c.post("/v1/circuits", json={"expression": "x*x + y"}).get_json()["id"]
    job = c.post("/v1/gradients", json={"circuit_id": cid}).get_json()
    work.run_gradient(rt, job["id"], "test")
    c.post("/v1/evaluations", json={"circuit_id": cid, "points": [{"x": 1, "y": 2}]})
    c.get("/v1/circuits?page_size=1")  # a page token: the signing key
    rt.heartbeat("test-worker")
    r = redis.Redis.from_url(s.redis_url)
    celery = (b"_kombu", b"unacked", s.queue.encode())
    for key in r.scan_iter(match=s.key_prefix + "*", count=1000):
        rest = key[len(s.key_prefix) :]
        if rest.startswith(celery) or key == s.queue.encode():
            continue
        longest = 3600 if rest == b"workers" else s.retention_seconds + 300  # chunks' grace
        assert 0 < r.ttl(key) <= longest, key
    assert len(c.get("/v1/jobs").get_json()["jobs"]) == 2
    time.sleep(3.5)
    assert c.get("/v1/circuits").get_json()["circuits"] == []
    assert c.get("/v1/jobs").get_json()["jobs"] == []
    assert c.get(f"/v1/circuits/{cid}").status_code == 404


def test_a_full_store_refuses_writes_and_serves_reads(small_redis, service_settings):
    s = replace(
        service_settings,
        redis_url=small_redis.url,
        key_prefix=f"full{uuid.uuid4().hex[:6]}:",
        rate_limit=1000,  # the limiter writes: a full store must not make it refuse reads
    )
    c = create_app(s).test_client()
    rt = runtime(s)
    cid = c.post("/v1/circuits", json={"expression": "x*y"}).get_json()["id"]
    job = c.post("/v1/gradients", json={"circuit_id": cid}).get_json()["id"]
    work.run_gradient(rt, job, "test")
    r = redis.Redis.from_url(small_redis.url)
    filler = np.random.default_rng(0).bytes(64 * 1024)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        for i in range(100_000):
            r.set(f"{s.key_prefix}filler:{i}", filler)
    # at the brim, whatever request buffers come and go: the limit just under what is used
    limit = r.config_get("maxmemory")["maxmemory"]
    r.config_set("maxmemory", r.info("memory")["used_memory"] - 64 * 1024)
    try:
        refused = c.post("/v1/circuits", json={"expression": big_expression(2, 300)})
        assert refused.status_code == 503 and int(refused.headers["Retry-After"]) > 0
        assert c.post("/v1/gradients", json={"expression": "q*q"}).status_code == 503
        assert c.get(f"/v1/circuits/{cid}").status_code == 200
        assert c.get(f"/v1/jobs/{job}").get_json()["status"] == "succeeded"
        assert c.get("/v1/jobs").get_json()["jobs"][0]["id"] == job
        assert c.get("/v1/circuits").status_code == 200
        assert c.get("/v1/usage").status_code == 200
    finally:
        r.config_set("maxmemory", limit)
        for key in r.scan_iter(match=f"{s.key_prefix}*"):
            r.delete(key)


@pytest.fixture(scope="module")
def small_redis(tmp_path_factory):
    from circuitgrad.service.embedded_redis import EmbeddedRedis

    with EmbeddedRedis(
        tmp_path_factory.mktemp("small-redis"), maxmemory="4mb", appendonly=False
    ) as server:
        yield server


def test_created_filters_take_rfc3339_times(service_settings):
    c, s, _ = tenant_client(service_settings)
    c.post("/v1/circuits", json={"expression": "x - 7"})
    now = datetime.now(UTC)
    for when, count in (("2000-01-01T00:00:00Z", 1), ("2000-01-01T00:00:00+02:00", 1)):
        got = c.get("/v1/circuits", query_string={"created_after": when}).get_json()
        assert len(got["circuits"]) == count
    later = now.replace(year=now.year + 1).isoformat()
    assert c.get("/v1/circuits", query_string={"created_after": later}).get_json()["circuits"] == []
