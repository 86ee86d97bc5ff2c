"""Leases and the reaper on a real Redis (no worker processes: the transitions themselves).

A running job's claim lapses unless renewed; a job whose lease lapsed, or whose queued
message was not picked up in time, is handed back for sending; duplicates are dropped."""

from __future__ import annotations

import time
import uuid
from dataclasses import replace

import pytest

from circuitgrad.worker import work
from circuitgrad.worker.runtime import Runtime
from circuitgrad.worker.watch import reap


@pytest.fixture
def settings(service_settings):
    """A namespace of this test's own: the reaper sees only its jobs."""
    return replace(service_settings, key_prefix=f"{service_settings.key_prefix}{uuid.uuid4().hex}:")


@pytest.fixture
def rt(settings):
    return Runtime(settings)


@pytest.fixture
def client(settings):
    from circuitgrad.service.app import create_app

    return create_app(settings).test_client()


def queued_job(client) -> str:
    r = client.post("/v1/gradients", json={"expression": f"sin(a) * {time.time_ns()}"})
    assert r.status_code == 202
    return r.get_json()["id"]


def active(rt) -> dict[str, float]:
    return {k.decode(): s for k, s in rt.redis.zrange(rt.keys.active(), 0, -1, withscores=True)}


def due_now(rt, job_id: str) -> None:
    rt.redis.zadd(rt.keys.active(), {job_id: time.time() - 1})


def test_a_queued_job_is_indexed_and_sent_again_when_not_picked_up(client, rt):
    job_id = queued_job(client)
    recheck = active(rt)[job_id]
    assert time.time() < recheck <= time.time() + rt.settings.requeue_after_seconds
    assert job_id not in rt.jobs.due()  # not yet
    due_now(rt, job_id)
    sent = []
    assert reap(rt, lambda kind, args: sent.append((kind, args)), "test") == 1
    assert sent == [("gradient", [job_id])]
    first = active(rt)[job_id] - time.time()  # rechecked later, then later still
    due_now(rt, job_id)
    reap(rt, lambda *a: None, "test")
    assert active(rt)[job_id] - time.time() > 1.5 * first


def test_a_claimed_job_holds_a_lease_that_renewals_extend(client, rt):
    job_id = queued_job(client)
    outcome, job = work.claim(rt, job_id, "worker-a")
    assert outcome == "claimed" and job["status"] == "running"
    lease = float(job["lease_until"])
    assert abs(lease - (time.time() + rt.settings.lease_seconds)) < 2
    assert active(rt)[job_id] == pytest.approx(lease)
    # a duplicate message while the lease lives is dropped
    assert work.claim(rt, job_id, "worker-b") == ("busy", None)
    time.sleep(0.05)
    assert rt.jobs.renew([job_id, "no-such-job"]) == 1
    assert float(rt.jobs.get(job_id)["lease_until"]) > lease
    # the reaper leaves a live lease alone
    due_now(rt, job_id)
    sent = []
    reap(rt, lambda *a: sent.append(a), "test")
    assert sent == [] and rt.jobs.get(job_id)["status"] == "running"


def test_a_lapsed_lease_sends_the_job_again_and_counts_the_delivery(client, rt):
    job_id = queued_job(client)
    work.claim(rt, job_id, "worker-a")
    rt.redis.hset(rt.keys.job(job_id), "lease_until", time.time() - 1)  # its worker died
    due_now(rt, job_id)
    sent = []
    assert reap(rt, lambda kind, args: sent.append(args), "test") == 1
    assert sent == [[job_id]] and rt.jobs.get(job_id)["status"] == "queued"
    outcome, job = work.claim(rt, job_id, "worker-b")
    assert outcome == "claimed" and job["deliveries"] == 2 and job["worker"] == "worker-b"


def test_a_dead_holder_on_the_same_worker_is_taken_over_at_once(client, rt):
    import subprocess
    import sys

    job_id = queued_job(client)
    work.claim(rt, job_id, "worker-a")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    rt.redis.hset(rt.keys.job(job_id), "worker_pid", dead.pid)  # its pool process died
    outcome, job = work.claim(rt, job_id, "worker-a")  # Celery delivers the message again
    assert outcome == "claimed" and job["deliveries"] == 2
    assert work.claim(rt, job_id, "worker-b")[0] == "busy"  # another node waits for the lease


def test_final_jobs_leave_the_index(client, rt):
    job_id = queued_job(client)
    assert job_id in active(rt)
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 200
    assert job_id not in active(rt)
    job_id = queued_job(client)
    assert work.run_gradient(rt, job_id, "w") == "succeeded"
    assert job_id not in active(rt)
    due_now(rt, "gone-job")
    assert reap(rt, lambda *a: pytest.fail("sent a job that is gone"), "test") == 0
    assert "gone-job" not in active(rt)


def test_an_evaluation_job_sends_only_its_unfinished_chunks(client, rt):
    cid = client.post("/v1/circuits", json={"expression": "2*x + y"}).get_json()["id"]
    points = {"x": list(range(1000)), "y": [1.0] * 1000}  # 1000 > the unit sync limit
    job = client.post("/v1/evaluations", json={"circuit_id": cid, "points": points}).get_json()
    chunks = rt.jobs.get(job["id"])["chunks"]
    assert int(chunks) == 3  # 400 points per chunk in the unit settings
    assert work.run_evaluation_chunk(rt, job["id"], 1) == "chunk-done"
    rt.redis.hset(rt.keys.job(job["id"]), "lease_until", 0)
    due_now(rt, job["id"])
    sent = []
    reap(rt, lambda kind, args: sent.append((kind, args)), "test")
    assert sent == [("evaluation", [job["id"], 0]), ("evaluation", [job["id"], 2])]


def test_one_reaper_at_a_time(client, rt):
    job_id = queued_job(client)
    due_now(rt, job_id)
    rt.redis.set(rt.keys.reaper(), "someone-else", ex=5)
    assert reap(rt, lambda *a: pytest.fail("reaped under another's lock"), "test") == 0
    rt.redis.delete(rt.keys.reaper())
    assert reap(rt, lambda *a: None, "test") == 1


def test_a_reaper_releases_only_its_own_lock(client, rt):
    """A reaper slower than its lock's expiry must not delete the lock another took since."""
    job_id = queued_job(client)
    due_now(rt, job_id)

    def slow_send(kind, args):
        rt.redis.set(rt.keys.reaper(), "the-next-reaper", ex=5)  # ours expired meanwhile

    assert reap(rt, slow_send, "test") == 1
    assert rt.redis.get(rt.keys.reaper()) == b"the-next-reaper"


def test_a_job_looked_at_meanwhile_is_not_sent_twice(client, rt):
    """Two reapers that read the same due list: the second finds the job rescheduled."""
    job_id = queued_job(client)
    due_now(rt, job_id)
    assert rt.jobs.due() == [job_id]
    assert rt.jobs.reap(job_id)[0] == "send"  # the first reaper's look
    assert rt.jobs.reap(job_id)[0] == "alive"  # the second's, from its stale list


def test_a_result_circuit_deleted_before_the_commit_is_not_granted(client, rt):
    """SUCCEED checks the result circuit still exists: no job points at a deleted one."""
    job_id = queued_job(client)
    job = rt.jobs.get(job_id)
    result = {"circuit_id": "c_" + "0" * 32}  # never stored
    assert rt.jobs.succeed(job, result) == -1
    assert rt.jobs.get(job_id)["status"] == "queued"
    assert not rt.redis.exists(rt.keys.acl(result["circuit_id"]))
