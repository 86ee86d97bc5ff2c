"""Safe to expose (issue 8), against real processes: slow and idle clients cannot starve
the API, every job is bounded before it runs, memory per request is bounded, tenants
cannot observe each other. The time bounds here are the issue's own requirements
(p99 ≤ 1 s under load, a refusal within 2 s), kept generous and marked slow."""

from __future__ import annotations

import re
import select
import socket
import threading
import time
import uuid

import httpx
import msgpack
import numpy as np
import pytest
from api_process import ApiProcess

from circuitgrad.engine.building.generate import random_dag
from circuitgrad.engine.formats.codec import to_packed
from circuitgrad.worker.runtime import runtime

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MSGPACK = {"Content-Type": "application/msgpack"}
MiB = 1 << 20


def open_sockets(url: str, n: int, data: bytes) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    out = []
    for _ in range(n):
        s = socket.create_connection((host, int(port)))
        s.sendall(data)
        out.append(s)
    return out


def test_stalled_connections_and_long_polls_do_not_starve_the_api(stack, http):
    rt = runtime(stack.settings)
    # a job no worker will ever get: its long polls hold for their whole ?wait=30
    fields = {"circuit_id": "c_x", "options": {"mode": "backward"}}  # as GET /v1/jobs shows
    rec, _ = rt.jobs.submit("default", "gradient", uuid.uuid4().hex, fields)
    stalled = open_sockets(stack.url, 200, b"GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Slo")
    polls = open_sockets(
        stack.url, 200, f"GET /v1/jobs/{rec['id']}?wait=30 HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    )
    try:
        time.sleep(2)  # held: the burst of 400 arrivals answered, the long polls waiting
        health, trips = [], []
        deadline = time.monotonic() + 6  # inside the 10 s header timeout of the stalled ones
        k = 0
        with httpx.Client(base_url=stack.url, timeout=30) as c:
            while time.monotonic() < deadline:
                t = time.perf_counter()
                assert c.get("/v1/health").status_code == 200
                health.append(time.perf_counter() - t)
                t = time.perf_counter()
                k += 1
                expr = {"expression": f"a*b + {k}*a + {uuid.uuid4().int % 997}"}
                cid = c.post("/v1/circuits", json=expr).json()["id"]
                r = c.post(f"/v1/circuits/{cid}/evaluate", json={"points": [{"a": 1, "b": 2}]})
                assert r.status_code == 200, r.text
                trips.append(time.perf_counter() - t)
        # everything was still held: no long poll answered, no stalled socket cut off yet
        ready, _, _ = select.select(polls + stalled, [], [], 0)
        assert not ready
    finally:
        for s in stalled + polls:
            s.close()
        rt.jobs.cancel(rec["id"])  # the shared stack's later tests list a final job
    p99_health, p99_trip = np.percentile(health, 99), np.percentile(trips, 99)
    print(f"held 200 + 200: health p99 {p99_health * 1e3:.0f} ms ({len(health)} requests), "
          f"upload+evaluate p99 {p99_trip * 1e3:.0f} ms")  # fmt: skip
    assert p99_health < 1.0 and p99_trip < 1.0


def test_forward_mode_over_the_limit_is_refused_at_submission(http):
    c = random_dag(100_000, n_inputs=2000, seed=8)
    r = http.post("/v1/circuits", content=msgpack.packb(to_packed(c)), headers=MSGPACK)
    cid = r.json()["id"]
    r = http.post("/v1/gradients", json={"circuit_id": cid, "mode": "forward"})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    [error] = r.json()["errors"]
    assert error["path"] == "/mode"
    # about 1.8·10⁸ gates predicted (the 1.9·10⁸ is another random circuit)
    assert re.search(r"forward mode would build about 1\d\d,\d{3},\d{3} gates", error["message"])
    assert "the limit is 20,000,000 (CIRCUITGRAD_MAX_RESULT_GATES)" in error["message"]
    auto = http.post("/v1/gradients", json={"circuit_id": cid, "mode": "auto"})
    assert auto.status_code in (200, 202)  # auto picks backward, within the limit
    # one add gate over many inputs: a small result, but one sweep per 64 inputs
    n = 200_000
    doc = {"inputs": [f"x{i}" for i in range(n)], "gates": [{"op": "add", "args": list(range(n))}],
           "outputs": [n]}  # fmt: skip
    cid = http.post("/v1/circuits", content=msgpack.packb(doc), headers=MSGPACK).json()["id"]
    r = http.post("/v1/gradients", json={"circuit_id": cid, "mode": "forward"})
    assert r.status_code == 422
    assert "(CIRCUITGRAD_MAX_JOB_WORK)" in r.json()["errors"][0]["message"]


def chunked_post(url: str, path: str, content_type: str, total: int, piece: bytes):
    """Send ``total`` bytes chunked as fast as the server reads them, reading its answer
    as soon as there is one: (seconds, bytes sent, the answer's first bytes)."""
    host, port = url.removeprefix("http://").split(":")
    s = socket.create_connection((host, int(port)))
    head = f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
    s.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
    frame = b"%x\r\n" % len(piece) + piece + b"\r\n"
    t, sent, answer = time.monotonic(), 0, b""
    try:
        while sent < total and time.monotonic() - t < 30:
            readable, writable, _ = select.select([s], [s], [], 5)
            if readable:
                answer = s.recv(4096)
                break
            if writable:
                s.sendall(frame)
                sent += len(piece)
        else:
            s.sendall(b"0\r\n\r\n")
        if not answer:
            s.settimeout(30)
            answer = s.recv(4096)
    except OSError:  # the server closed after answering: read what it said
        s.settimeout(5)
        answer = answer or s.recv(4096)
    finally:
        s.close()
    return time.monotonic() - t, sent, answer


@pytest.fixture
def own_api(redis_url, namespace, tmp_path, stack):
    api = ApiProcess(redis_url, namespace, tmp_path / "api.log").start()
    yield api
    api.stop()


def test_hostile_bodies_are_refused_fast_and_leave_no_memory_behind(own_api):
    api = own_api
    with httpx.Client(base_url=api.url, timeout=60) as c:
        cid = c.post("/v1/circuits", json={"expression": "x*y"}).json()["id"]
        for _ in range(20):  # warm: caches, connections, the allocator
            c.post("/v1/gradients", json={"circuit_id": cid, "wrt": ["x"]})
        base_rss, base_peak = api.memory("VmRSS"), api.memory("VmHWM")
        wrt = b'{"circuit_id": "%s", "wrt": %s}' % (cid.encode(), orjson_list(["x"] * 10**7))
        bodies = [
            ("wrt of 10⁷ names", "/v1/gradients", wrt, "application/json"),
            ("10⁷ outputs, JSON", "/v1/circuits", b'{"inputs": ["x"], "gates": [], "outputs": %s}'
             % orjson_list([0] * 10_000_000), "application/json"),
            ("10⁷ outputs, msgpack", "/v1/circuits", msgpack.packb(
                {"format": "circuitgrad.packed/1", "inputs": ["x"], "ops": [], "index": "int32",
                 "op": b"", "arity": b"", "args": b"", "outputs": [0] * 10_000_000}),
             "application/msgpack"),
        ]  # fmt: skip
        for what, path, body, media in bodies:
            t = time.monotonic()
            r = c.post(path, content=body, headers={"Content-Type": media})
            took = time.monotonic() - t
            assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:300])
            assert r.headers["content-type"] == "application/problem+json"
            print(f"{what} ({len(body) / MiB:.0f} MiB): {r.status_code} in {took:.2f} s")
            assert took < 2.0, what
        del wrt, bodies
    pieces = (("application/json", b"1," * (MiB // 2)), ("application/msgpack", b"\x01" * MiB))
    for media, piece in pieces:
        took, sent, answer = chunked_post(api.url, "/v1/circuits", media, 300 * MiB, piece)
        print(f"300 MiB chunked {media}: {answer[:12]!r} after {sent / MiB:.0f} MiB, {took:.2f} s")
        assert answer.startswith(b"HTTP/1.1 413") and b"application/problem+json" in answer
        assert took < 2.0
    peak = api.memory("VmHWM") - base_peak
    with httpx.Client(base_url=api.url, timeout=60) as c:  # still answering, as before
        assert c.get("/v1/health").status_code == 200
    retained = api.memory("VmRSS") - base_rss
    print(f"API peak growth {peak / MiB:.0f} MiB, retained {retained / MiB:.0f} MiB")
    assert peak <= 512 * MiB
    assert retained <= 64 * MiB


def orjson_list(values: list) -> bytes:
    import orjson

    return orjson.dumps(values)


@pytest.fixture
def keyed_api(redis_url, namespace, tmp_path, stack):
    env = {"CIRCUITGRAD_API_KEYS": "ka:tenant-a,kb:tenant-b"}
    api = ApiProcess(redis_url, namespace, tmp_path / "api.log", env).start()
    yield api
    api.stop()


def test_a_second_tenant_sees_what_a_first_computation_shows(keyed_api):
    a, b = ({"Authorization": f"Bearer {k}"} for k in ("ka", "kb"))
    body = {"expression": f"tanh(u) * v + {uuid.uuid4().int % 10**6}"}
    shapes = []
    with httpx.Client(base_url=keyed_api.url, timeout=30) as c:
        for who in (a, b):  # a computes; b asks for what a computed
            r = c.post("/v1/gradients", json=body, headers=who)
            job = r.json()
            headers = sorted(k.lower() for k in r.headers if k.lower() != "date")
            shapes.append((r.status_code, job["status"], job["progress"], sorted(job), headers))
            done = c.get(f"/v1/jobs/{job['id']}?wait=20", headers=who).json()
            assert done["status"] == "succeeded" and done["result"] is not None, done["error"]
            assert done["created_at"] < done["updated_at"]
            got = c.get(f"/v1/circuits/{done['result']['circuit_id']}", headers=who)
            assert got.status_code == 200
    assert shapes[0] == shapes[1]
    assert shapes[0][:3] == (202, "queued", 0.0)


def test_notifications_reach_long_polls_under_gevent(http):
    """The long-poll Notifier (a thread and Redis pub/sub) under gevent's monkey-patching:
    a poll answers when its job completes, well before its ?wait= runs out."""
    results = []

    def poll(job_id):
        t = time.monotonic()
        job = http.get(f"/v1/jobs/{job_id}", params={"wait": 30}).json()
        results.append((job["status"], time.monotonic() - t, job.get("error")))

    jobs = [
        http.post("/v1/gradients", json={"expression": f"w*w*{k}+{uuid.uuid4().int % 991}"}).json()[
            "id"
        ]
        for k in range(10)
    ]
    threads = [threading.Thread(target=poll, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(status == "succeeded" and took < 20 for status, took, _ in results), results
