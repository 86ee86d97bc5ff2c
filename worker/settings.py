"""Settings of the service and the workers, read once from the environment.

Every knob has a documented default (docs/operations.md); the API, the workers and the
``circuitgrad serve`` stack all read the same variables, so one environment describes a
deployment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from urllib.parse import quote, urlsplit, urlunsplit

MiB = 1 << 20
DAY = 86400
DEFAULT_TENANT = "default"


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(float(raw))
    except ValueError as e:
        raise ValueError(f"{name}={raw!r} is not a number") from e


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    return float(raw) if raw else default


def _secret(env: Mapping[str, str], name: str) -> str:
    """The contents of the file named by ``name`` (a Docker/Compose secret), stripped; empty
    when the variable is unset. A named file that cannot be read is an error at start."""
    path = env.get(name, "").strip()
    if not path:
        return ""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().strip()
    except OSError as e:
        raise ValueError(f"{name}={path!r} cannot be read: {e}") from e


def with_password(url: str, password: str) -> str:
    """``url`` with ``password`` as its Redis password (the user part kept, if any)."""
    if not password:
        return url
    parts = urlsplit(url)
    user = parts.username or ""
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def parse_api_keys(text: str) -> tuple[tuple[str, str], ...]:
    """``"key1:tenantA,key2:tenantB"`` (or one per line) -> ((key, tenant), ...); a bare key
    is its own tenant."""
    keys = {}
    for item in text.replace("\n", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, _, tenant = item.partition(":")
        keys[key.strip()] = tenant.strip() or key.strip()
    return tuple(keys.items())


@dataclass(frozen=True)
class Settings:
    redis_url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "cg:"  # every Redis key of ours (and kombu's) starts with it
    queue: str = "circuitgrad"  # the Celery queue
    # storage
    chunk_bytes: int = 4 * MiB  # largest Redis value a blob is split into
    zstd_level: int = 3
    retention_seconds: int = 7 * DAY  # circuits, results and job records
    # limits
    max_body_bytes: int = 256 * MiB
    max_circuit_nodes: int = 50_000_000  # inputs + gates of one circuit
    max_sync_points: int = 100_000  # larger evaluate batches become an evaluation job
    eval_chunk_points: int = 100_000  # points per task of an evaluation job
    max_wait_seconds: float = 30.0  # longest ?wait= on GET /v1/jobs/{id}
    max_drawn_gates: int = 400  # larger circuits are pictured as a summary
    max_json_body_bytes: int = 64 * MiB  # JSON bodies decode to ~10x their size
    max_document_items: int = 8_000_000  # values of one decoded body (~70 bytes each)
    max_circuit_inputs: int = 1_000_000
    max_circuit_outputs: int = 1_000_000
    max_result_gates: int = 20_000_000  # predicted raw gradient size of one job
    max_job_work: int = 1_000_000_000  # predicted sweeps x (vertices + wires) of one job
    max_sync_work: int = 50_000_000  # (vertices + outputs) x points of a synchronous evaluation
    max_eval_work: int = 20_000_000_000  # the same of an evaluation job (about a minute)
    max_eval_values: int = 10_000_000  # points x outputs of an evaluation job (80 MB)
    circuit_cache_bytes: int = 256 * MiB  # decoded circuits kept per API/worker process
    # the HTTP front (gunicorn with gevent)
    header_timeout: float = 10.0  # seconds to send a request's headers (and keep-alive idle)
    body_timeout: float = 30.0  # seconds a request body (or a response) may stall
    api_connections: int = 1000  # open connections per API process
    # Celery
    soft_time_limit: int = 1800
    hard_time_limit: int = 1860
    visibility_timeout: int = 2400  # must exceed the hard limit: unacked work comes back after it
    restore_interval: int = 10  # seconds between sweeps that restore unacked messages
    max_deliveries: int = 3  # a job that keeps killing its worker fails after this many
    # leases (worker/jobs.py): a running job's claim lapses this long after its worker's
    # last renewal, then the job is queued again; a queued job whose message was not
    # picked up is sent again after requeue_after seconds, then twice as long, ...
    lease_seconds: float = 20.0
    requeue_after_seconds: float = 15.0
    requeue_max_seconds: float = 300.0
    store_patience_seconds: float = 120.0  # a worker retries result writes this long
    job_memory_bytes: int = 4 << 30  # address space a pool process may add for one job; 0: no limit
    # tenancy
    api_keys: tuple[tuple[str, str], ...] = ()  # (key, tenant) pairs; none: no auth
    rate_limit: int = 2000  # requests per second per tenant; 0 disables
    warm_up: bool = True

    def __post_init__(self):
        if self.visibility_timeout <= self.hard_time_limit:
            raise ValueError(
                "CIRCUITGRAD_VISIBILITY_TIMEOUT must exceed CIRCUITGRAD_HARD_TIME_LIMIT, "
                "or a running job would be delivered twice"
            )
        if self.soft_time_limit >= self.hard_time_limit:
            raise ValueError("CIRCUITGRAD_SOFT_TIME_LIMIT must be below the hard limit")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        d = cls()
        hard = _int(env, "CIRCUITGRAD_HARD_TIME_LIMIT", d.hard_time_limit)
        return cls(
            redis_url=with_password(
                env.get("REDIS_URL") or d.redis_url, _secret(env, "CIRCUITGRAD_REDIS_PASSWORD_FILE")
            ),
            key_prefix=env.get("CIRCUITGRAD_KEY_PREFIX", d.key_prefix),
            queue=env.get("CIRCUITGRAD_QUEUE") or d.queue,
            chunk_bytes=_int(env, "CIRCUITGRAD_CHUNK_BYTES", d.chunk_bytes),
            zstd_level=_int(env, "CIRCUITGRAD_ZSTD_LEVEL", d.zstd_level),
            retention_seconds=_int(env, "CIRCUITGRAD_RETENTION_SECONDS", d.retention_seconds),
            max_body_bytes=_int(env, "CIRCUITGRAD_MAX_BODY_BYTES", d.max_body_bytes),
            max_circuit_nodes=_int(env, "CIRCUITGRAD_MAX_CIRCUIT_NODES", d.max_circuit_nodes),
            max_sync_points=_int(env, "CIRCUITGRAD_MAX_SYNC_POINTS", d.max_sync_points),
            eval_chunk_points=_int(env, "CIRCUITGRAD_EVAL_CHUNK_POINTS", d.eval_chunk_points),
            max_wait_seconds=_float(env, "CIRCUITGRAD_MAX_WAIT_SECONDS", d.max_wait_seconds),
            max_drawn_gates=_int(env, "CIRCUITGRAD_MAX_DRAWN_GATES", d.max_drawn_gates),
            max_json_body_bytes=_int(env, "CIRCUITGRAD_MAX_JSON_BODY_BYTES", d.max_json_body_bytes),
            max_document_items=_int(env, "CIRCUITGRAD_MAX_DOCUMENT_ITEMS", d.max_document_items),
            max_circuit_inputs=_int(env, "CIRCUITGRAD_MAX_CIRCUIT_INPUTS", d.max_circuit_inputs),
            max_circuit_outputs=_int(env, "CIRCUITGRAD_MAX_CIRCUIT_OUTPUTS", d.max_circuit_outputs),
            max_result_gates=_int(env, "CIRCUITGRAD_MAX_RESULT_GATES", d.max_result_gates),
            max_job_work=_int(env, "CIRCUITGRAD_MAX_JOB_WORK", d.max_job_work),
            max_sync_work=_int(env, "CIRCUITGRAD_MAX_SYNC_WORK", d.max_sync_work),
            max_eval_work=_int(env, "CIRCUITGRAD_MAX_EVAL_WORK", d.max_eval_work),
            max_eval_values=_int(env, "CIRCUITGRAD_MAX_EVAL_VALUES", d.max_eval_values),
            circuit_cache_bytes=_int(env, "CIRCUITGRAD_CIRCUIT_CACHE_BYTES", d.circuit_cache_bytes),
            header_timeout=_float(env, "CIRCUITGRAD_HEADER_TIMEOUT", d.header_timeout),
            body_timeout=_float(env, "CIRCUITGRAD_BODY_TIMEOUT", d.body_timeout),
            api_connections=_int(env, "CIRCUITGRAD_API_CONNECTIONS", d.api_connections),
            soft_time_limit=_int(
                env,
                "CIRCUITGRAD_SOFT_TIME_LIMIT",
                hard - 60 if hard > 120 else max(1, hard * 3 // 4),
            ),
            hard_time_limit=hard,
            visibility_timeout=_int(
                env, "CIRCUITGRAD_VISIBILITY_TIMEOUT", max(d.visibility_timeout, hard + 60)
            ),
            restore_interval=_int(env, "CIRCUITGRAD_RESTORE_INTERVAL", d.restore_interval),
            max_deliveries=_int(env, "CIRCUITGRAD_MAX_DELIVERIES", d.max_deliveries),
            lease_seconds=_float(env, "CIRCUITGRAD_LEASE_SECONDS", d.lease_seconds),
            requeue_after_seconds=_float(
                env, "CIRCUITGRAD_REQUEUE_AFTER_SECONDS", d.requeue_after_seconds
            ),
            requeue_max_seconds=_float(
                env, "CIRCUITGRAD_REQUEUE_MAX_SECONDS", d.requeue_max_seconds
            ),
            store_patience_seconds=_float(
                env, "CIRCUITGRAD_STORE_PATIENCE_SECONDS", d.store_patience_seconds
            ),
            job_memory_bytes=_int(env, "CIRCUITGRAD_JOB_MEMORY_BYTES", d.job_memory_bytes),
            api_keys=parse_api_keys(
                env.get("CIRCUITGRAD_API_KEYS", "")
                + ","
                + _secret(env, "CIRCUITGRAD_API_KEYS_FILE")
            ),
            rate_limit=_int(env, "CIRCUITGRAD_RATE_LIMIT", d.rate_limit),
            warm_up=env.get("CIRCUITGRAD_WARM_UP", "1").strip().lower() not in ("0", "false", "no"),
        )


@cache
def settings() -> Settings:
    """The process's settings (environment read on first use)."""
    return Settings.from_env()
