"""Long polls without polling: wait until a job is final, woken by Redis pub/sub.

Every transition to a final status publishes the job's id (``worker/jobs.py``). One
listener thread per API process receives them and wakes the requests waiting for that
id. A waiter registers before it reads the record, so a completion can never fall
between its read and its wait; if the listener loses Redis, it wakes everybody, and
each waiter reads its record again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict

import redis

log = logging.getLogger(__name__)


class Notifier:
    def __init__(self, r: redis.Redis, channel: str):
        self.r, self.channel = r, channel
        self._waiters: dict[str, set[threading.Event]] = defaultdict(set)
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._ready = threading.Event()
        self._closed = threading.Event()

    def close(self) -> None:
        """Stop listening (the waiters fall back to reading their records)."""
        self._closed.set()

    def _ensure_listening(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # first use in this process (gunicorn forks)
                self._pid = os.getpid()
                self._ready.clear()
                threading.Thread(target=self._listen, name="job-notifier", daemon=True).start()
        self._ready.wait(2.0)

    def _listen(self) -> None:
        while not self._closed.is_set():
            pubsub = self.r.pubsub(ignore_subscribe_messages=True)
            try:
                pubsub.subscribe(self.channel)
                self._ready.set()
                while not self._closed.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None and message["type"] == "message":
                        self._wake(message["data"].decode())
            except redis.RedisError as e:
                if self._closed.is_set():
                    return
                log.warning("job notifications interrupted: %s", e)
                self._ready.clear()
                self._wake_all()
                time.sleep(0.5)
            finally:
                pubsub.close()

    def _wake(self, job_id: str) -> None:
        with self._lock:
            events = self._waiters.get(job_id, ())
            for e in events:
                e.set()

    def _wake_all(self) -> None:
        with self._lock:
            for events in self._waiters.values():
                for e in events:
                    e.set()

    def wait_until(self, job_id: str, timeout: float, read, done):
        """``read()`` until ``done(record)`` or ``timeout`` seconds; the last record read."""
        rec = read()
        if done(rec) or timeout <= 0:
            return rec
        self._ensure_listening()
        deadline = time.monotonic() + timeout
        event = threading.Event()
        with self._lock:
            self._waiters[job_id].add(event)
        try:
            while True:
                rec = read()  # after registering: a completion from now on wakes us
                remaining = deadline - time.monotonic()
                if done(rec) or remaining <= 0:
                    return rec
                # without the listener (Redis trouble), fall back to a slow poll
                event.wait(min(remaining, 1.0 if self._ready.is_set() else 0.1))
                event.clear()
        finally:
            with self._lock:
                events = self._waiters.get(job_id)
                if events is not None:
                    events.discard(event)
                    if not events:
                        del self._waiters[job_id]
