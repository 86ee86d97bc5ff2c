"""Redis restarts under a running stack: workers keep consuming (kombu ≥ 5.4), the API
answers 503 while it is gone, and nothing stored before is lost (append-only file)."""

from __future__ import annotations

import time

import httpx
import pytest

from circuitgrad.service.embedded_redis import EmbeddedRedis

pytestmark = pytest.mark.integration


def test_workers_keep_consuming_after_a_redis_restart(tmp_path, process_stack):
    server = EmbeddedRedis(tmp_path / "redis").start()
    stack = process_stack(server.url, "restart", tmp_path, workers=1)
    try:
        stack.start()
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            before = http.post("/v1/gradients", json={"expression": "a*b"}).json()
            before = http.get(f"/v1/jobs/{before['id']}", params={"wait": 20}).json()
            assert before["status"] == "succeeded"
            time.sleep(1.1)  # appendfsync everysec

            server.stop()
            r = http.get(f"/v1/jobs/{before['id']}")
            assert r.status_code == 503 and "Retry-After" in r.headers
            server.start()

            deadline = time.monotonic() + 60
            while True:  # the API reconnects at once; the worker within a few seconds
                r = http.post("/v1/gradients", json={"expression": "a*b*b"})
                if r.status_code in (200, 202):
                    job = http.get(f"/v1/jobs/{r.json()['id']}", params={"wait": 20}).json()
                    if job["status"] == "succeeded":
                        break
                assert time.monotonic() < deadline, (r.status_code, r.text)
            assert http.get(f"/v1/jobs/{before['id']}").json()["status"] == "succeeded"
            cid = before["result"]["circuit_id"]
            assert http.get(f"/v1/circuits/{cid}").status_code == 200
    finally:
        stack.stop()
        server.stop()
