"""Prometheus metrics: what the worker observes, and what is read from Redis at scrape time.

The API exposes them at ``/metrics`` (``service/observe.py``), its own request metrics
with them. Under gunicorn and Celery a metric is written by many processes: with
``PROMETHEUS_MULTIPROC_DIR`` set (``circuitgrad serve`` sets it, and docker-compose.yml)
each process writes its values to files there and a scrape adds them up
(``registry()``). ``circuitgrad api`` and ``circuitgrad worker`` empty that folder when
they start (``clean_multiproc_dir``), unless ``CIRCUITGRAD_METRICS_SHARED`` says a
supervisor did (``serve``, whose API then shows the workers' metrics too). A worker on
another machine shows its own at ``CIRCUITGRAD_METRICS_PORT``.

Observed where jobs are created (``JobStore.submit``) and in the worker (each task,
``worker/observe.py``)::

    circuitgrad_jobs_submitted_total{kind}            jobs created
    circuitgrad_jobs_finished_total{kind, status}     jobs that became final
    circuitgrad_job_duration_seconds{kind, outcome}   run time of a task (a gradient
                                                      job, a chunk of an evaluation job)
    circuitgrad_job_result_bytes{kind}                stored bytes of each result

Read from Redis at scrape time (``StoreCollector``)::

    circuitgrad_store_up                              1 when Redis answered the scrape
    circuitgrad_store_used_bytes / _max_bytes / _keys Redis used_memory, maxmemory, keys
    circuitgrad_queue_depth                           messages waiting in the job queue
    circuitgrad_queue_unacked                         messages delivered, not yet done
    circuitgrad_workers_live                          workers heard from in the last 20 s
    circuitgrad_worker_heartbeat_age_seconds{worker}  since each worker's last heartbeat
"""

from __future__ import annotations

import glob
import os
import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
SHARED_ENV = "CIRCUITGRAD_METRICS_SHARED"
BYTES_BUCKETS = tuple(float(4**k) for k in range(4, 16))  # 256 B .. 1 GiB
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)
# kombu's Redis transport keeps a priority queue as up to four lists
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")

JOBS_SUBMITTED = Counter("circuitgrad_jobs_submitted_total", "Jobs created", ["kind"])
JOBS_FINISHED = Counter(
    "circuitgrad_jobs_finished_total", "Jobs that became final in a worker", ["kind", "status"]
)
JOB_DURATION = Histogram(
    "circuitgrad_job_duration_seconds",
    "Run time of a task in a worker: a gradient job, or one chunk of an evaluation job",
    ["kind", "outcome"],
    buckets=SECONDS_BUCKETS,
)
RESULT_BYTES = Histogram(
    "circuitgrad_job_result_bytes",
    "Stored (compressed) bytes of a result: a gradient circuit, a chunk of values",
    ["kind"],
    buckets=BYTES_BUCKETS,
)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def clean_multiproc_dir() -> None:
    """Make the multiprocess folder (if one is set) and empty it, unless shared."""
    folder = os.environ.get(MULTIPROC_ENV)
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    if os.environ.get(SHARED_ENV):
        return
    for path in glob.glob(os.path.join(folder, "*.db")):
        try:
            os.remove(path)
        except OSError:
            pass


def mark_dead(pid: int) -> None:
    if multiprocess():
        from prometheus_client import multiprocess as mp

        mp.mark_process_dead(pid)


def registry(*extra) -> CollectorRegistry:
    """What a scrape shows: every process's metrics (multiprocess mode) or this one's,
    plus ``extra`` collectors."""
    if multiprocess():
        from prometheus_client import multiprocess as mp

        reg = CollectorRegistry()
        mp.MultiProcessCollector(reg)
    else:
        from prometheus_client import REGISTRY

        reg = CollectorRegistry()
        reg.register(_Forward(REGISTRY))
    for collector in extra:
        reg.register(collector)
    return reg


class _Forward:
    """Another registry's metrics, inside this one (the process's default registry)."""

    def __init__(self, source):
        self.source = source

    def collect(self):
        yield from self.source.collect()


def serve_metrics(port: int) -> None:
    """An HTTP server of this machine's worker metrics (a worker without an API beside)."""
    from prometheus_client import start_http_server

    start_http_server(port, registry=registry())


class StoreCollector:
    """Gauges read from Redis at each scrape (never an error: ``store_up`` 0 instead)."""

    def __init__(self, rt, stale_seconds: float = 20.0):
        self.rt, self.stale = rt, stale_seconds

    def describe(self):
        return []  # computed at scrape time: nothing to check at registration

    def collect(self):
        up = GaugeMetricFamily("circuitgrad_store_up", "1 when Redis answered this scrape")
        try:
            gauges = list(self._read())
        except Exception:  # Redis down: say so, and nothing else
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from gauges

    def _read(self):
        rt = self.rt
        r, keys, s = rt.redis, rt.keys, rt.settings
        pipe = r.pipeline(transaction=False)
        pipe.info("memory")
        pipe.dbsize()
        queue = s.key_prefix + s.queue
        for suffix in PRIORITY_SUFFIXES:
            pipe.llen(queue + suffix)
        pipe.hlen(s.key_prefix + "unacked")
        pipe.zrange(keys.workers(), 0, -1, withscores=True)
        memory, nkeys, *rest = pipe.execute()
        depths, unacked, beats = rest[: len(PRIORITY_SUFFIXES)], rest[-2], rest[-1]

        def gauge(name, doc, value):
            g = GaugeMetricFamily(name, doc)
            g.add_metric([], value)
            return g

        yield gauge(
            "circuitgrad_store_used_bytes", "Redis used_memory", memory.get("used_memory", 0)
        )
        yield gauge(
            "circuitgrad_store_max_bytes", "Redis maxmemory (0: none)", memory.get("maxmemory", 0)
        )
        yield gauge("circuitgrad_store_keys", "Keys in the Redis database", nkeys)
        yield gauge("circuitgrad_queue_depth", "Messages waiting in the job queue", sum(depths))
        yield gauge("circuitgrad_queue_unacked", "Messages delivered, not yet done", unacked)
        now = time.time()
        live = sum(1 for _, t in beats if now - t <= self.stale)
        yield gauge("circuitgrad_workers_live", "Workers heard from recently", live)
        ages = GaugeMetricFamily(
            "circuitgrad_worker_heartbeat_age_seconds",
            "Seconds since each worker's last heartbeat",
            labels=["worker"],
        )
        for name, t in beats:
            ages.add_metric([name.decode()], max(0.0, now - t))
        yield ages
