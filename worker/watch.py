"""The worker's main process keeps watch over the jobs its pool runs.

``Watch`` is a Celery bootstep of the main process (the pool's processes are busy
computing, often inside one compiled kernel that holds their interpreter). Two threads:

- every ``RENEW_EVERY`` seconds: announce the worker (what ``/v1/ready`` counts), renew
  the leases of the jobs its pool processes are running, and reap — re-queue jobs whose
  lease lapsed (their worker died) or whose message went missing (a Redis restart) — one
  worker at a time, under a lock in Redis;
- a subscriber to the jobs that become final: a job of this worker that was cancelled
  has its pool process stopped at once (SIGKILL; the pool forks a fresh process from this
  warmed-up one), whatever phase it is in, so the worker is free again within a second.

Every Redis call may fail while Redis is away; the threads log it and carry on.
"""

from __future__ import annotations

import logging
import threading
import time

import redis
from celery import bootsteps
from celery.worker import state

from .errors import StoreError
from .jobs import Status
from .runtime import Runtime, runtime

log = logging.getLogger(__name__)

RENEW_EVERY = 3.0  # seconds; well inside the lease (Settings.lease_seconds, 20 s)
REAPER_LOCK_SECONDS = 10


def running_jobs() -> dict[str, list]:
    """Job id -> the requests of this worker's pool processes working on it now."""
    for _ in range(3):  # the event loop changes the set while we copy it
        try:
            requests = list(state.active_requests)
            break
        except RuntimeError:
            continue
    else:
        return {}
    jobs: dict[str, list] = {}
    for request in requests:
        args = request.args or ()
        if args and isinstance(args[0], str):
            jobs.setdefault(args[0], []).append(request)
    return jobs


RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end"


def reap(rt: Runtime, send, owner: str, limit: int = 200) -> int:
    """Re-queue the due jobs (if this process gets the reaper's lock); how many were sent."""
    if not rt.redis.set(rt.keys.reaper(), owner, nx=True, ex=REAPER_LOCK_SECONDS):
        return 0
    sent = 0
    try:
        for job_id in rt.jobs.due(limit):
            outcome, kind, chunks, done = rt.jobs.reap(job_id)
            if outcome == "settle":  # a reused result, due: commit it, or compute it
                rec = rt.jobs.get(job_id)
                if rec is None or rt.jobs.commit_reused(rec):
                    continue
                kind = "gradient"
            elif outcome != "send":
                continue
            if kind == "evaluation":
                for i in range(chunks):
                    if i not in done:
                        send("evaluation", [job_id, i])
            else:
                send("gradient", [job_id])
            sent += 1
            log.warning("job %s re-queued (lease lapsed or message missing)", job_id)
    finally:  # ours only: a lock that expired meanwhile may be another reaper's now
        rt.redis.eval(RELEASE, 1, rt.keys.reaper(), owner)
    return sent


class Watch(bootsteps.StartStopStep):
    requires = {"celery.worker.components:Pool"}

    def __init__(self, worker, **kwargs):
        self.worker = worker
        self._stop = threading.Event()

    def start(self, worker):
        self.rt = runtime()
        self.name = worker.hostname
        for target in (self._keep_watch, self._listen):
            threading.Thread(target=target, name=f"watch-{target.__name__}", daemon=True).start()

    def stop(self, worker):
        self._stop.set()
        try:
            self.rt.forget_worker(self.name)
        except StoreError:
            pass

    def _send(self, kind: str, args: list) -> None:
        from .celery_app import EVALUATE_CHUNK_TASK, GRADIENT_TASK

        name = EVALUATE_CHUNK_TASK if kind == "evaluation" else GRADIENT_TASK
        self.worker.app.send_task(name, args=args)

    def _keep_watch(self) -> None:
        while not self._stop.is_set():
            try:
                self.rt.heartbeat(self.name)
                self.rt.jobs.renew(running_jobs())
                reap(self.rt, self._send, self.name)
            except (StoreError, redis.RedisError) as e:
                log.warning("watch: %s", e)
            except Exception:  # a bug here must not end the watch
                log.exception("watch failed")
            self._stop.wait(RENEW_EVERY)

    def _listen(self) -> None:
        """Stop the pool process of a job as soon as the job is cancelled."""
        while not self._stop.is_set():
            pubsub = self.rt.redis.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.rt.keys.done_channel())
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._stop_if_cancelled(message["data"].decode())
            except (StoreError, redis.RedisError) as e:
                log.warning("watch: cancellations not heard: %s", e)
                time.sleep(0.5)
            finally:
                pubsub.close()

    def _stop_if_cancelled(self, job_id: str) -> None:
        requests = running_jobs().get(job_id)
        if not requests or self.rt.jobs.status(job_id) != Status.CANCELLED:
            return
        for request in requests:
            log.info("job %s cancelled: stopping pool process %s", job_id, request.worker_pid)
            request.terminate(self.worker.pool, signal="SIGKILL")
