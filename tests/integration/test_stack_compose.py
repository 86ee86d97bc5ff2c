"""docker-compose.yml: valid against the Compose schema, and the very commands and
environment it gives are what the process stack of these tests runs (the ``stack`` fixture
reads the file), so the two cannot drift apart."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import jsonschema
import yaml

from circuitgrad.service.cli import register

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"  # see data/README.md


def test_compose_file_is_valid_against_the_compose_schema():
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(COMPOSE)


def test_compose_topology():
    redis, api, worker = (COMPOSE["services"][k] for k in ("redis", "api", "worker"))
    flags = " ".join(redis["command"])
    for needed in (
        "--appendonly yes",
        "--appendfsync everysec",
        "--maxmemory-policy noeviction",
        "--maxmemory ",
    ):
        assert needed in flags
    assert any(isinstance(v, str) and v.endswith(":/data") for v in redis["volumes"])
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert "/v1/ready" in " ".join(api["healthcheck"]["test"])
    assert "inspect ping" in " ".join(worker["healthcheck"]["test"])
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert api["depends_on"]["worker"]["condition"] == "service_healthy"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    # safe to expose: secrets generated first, Redis and workers on an internal network
    secrets = COMPOSE["services"]["secrets"]
    assert redis["depends_on"]["secrets"]["condition"] == "service_completed_successfully"
    assert redis["command"][1].endswith("/redis.conf")  # requirepass, generated
    assert COMPOSE["networks"]["backend"]["internal"] is True
    assert redis["networks"] == worker["networks"] == ["backend"]
    assert set(api["networks"]) == {"backend", "frontend"} and "ports" not in redis
    assert secrets["network_mode"] == "none"
    env = api["environment"]
    assert env["CIRCUITGRAD_API_KEYS_FILE"].startswith("/run/circuitgrad-secrets/")
    assert env["CIRCUITGRAD_REDIS_PASSWORD_FILE"].startswith("/run/circuitgrad-secrets/")
    # scalable with --scale worker=N: nothing that two replicas could not share
    assert "container_name" not in worker and "ports" not in worker
    assert (ROOT / "Dockerfile").exists()


def test_every_command_of_the_compose_file_exists():
    import argparse

    parser = argparse.ArgumentParser(prog="circuitgrad")
    register(parser.add_subparsers(dest="command", required=True))
    for name in ("api", "worker", "secrets"):
        command = COMPOSE["services"][name]["command"]
        assert command[0] == "circuitgrad"
        parser.parse_args(command[1:])  # exits on an unknown option
    ping = COMPOSE["services"]["worker"]["healthcheck"]["test"][1]
    words = shlex.split(ping)
    assert words[:2] == ["celery", "-A"]
    __import__(words[2])


def test_the_stack_runs_the_compose_commands(stack):
    """The same words as the compose file but for the address (loopback, a free port) and
    one node name per worker; the same environment but for Redis and the tests' limits."""

    def expected(command, worker=None):
        out = []
        for prev, word in zip(command, command[1:], strict=False):
            if prev == "--port":
                word = str(stack.port)
            elif prev == "--host":
                word = "127.0.0.1"
            elif worker is not None:
                word = word.replace("%h", f"worker{worker}.%h")
            out.append(word)
        return out

    api = COMPOSE["services"]["api"]["command"]
    assert stack.api.args[-(len(api) - 1) :] == expected(api)
    worker = COMPOSE["services"]["worker"]["command"]
    for i, p in enumerate(stack.workers):
        assert p.args[-(len(worker) - 1) :] == expected(worker, i)
    # per machine: one metrics folder for the parts sharing it, no fixed worker port
    per_machine = {"PROMETHEUS_MULTIPROC_DIR", "CIRCUITGRAD_METRICS_PORT"}
    overridden = {"REDIS_URL", "NUMBA_CACHE_DIR", *per_machine, *stack.extra_env}
    for name in ("api", "worker"):
        started = stack.env(name)
        for key, value in COMPOSE["services"][name]["environment"].items():
            assert key in overridden or started[key] == str(value)
    assert len(stack.worker_names()) == 2
    assert httpx.get(stack.url + "/v1/ready").json()["workers"] == 2


def test_the_worker_healthcheck_command_answers(stack):
    """What the compose healthcheck runs, against a live worker of the stack."""
    ping = COMPOSE["services"]["worker"]["healthcheck"]["test"][1]
    name = stack.worker_names()[0]
    words = shlex.split(ping.replace("worker@$$HOSTNAME", name))
    celery = Path(sys.executable).with_name("celery")
    words[0] = str(celery) if celery.exists() else words[0]
    env = {**stack.env("worker")}
    done = subprocess.run(
        words, env=env, capture_output=True, timeout=60, stdin=subprocess.DEVNULL, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert b"pong" in done.stdout


def test_compose_environment_is_what_the_settings_read(tmp_path):
    from circuitgrad.service.secrets import ensure_secrets
    from circuitgrad.worker.settings import Settings

    written = {k: str(v) for k, v in COMPOSE["services"]["worker"]["environment"].items()}
    env = dict(written)
    paths = ensure_secrets(tmp_path)  # what the secrets service writes into its volume
    env["CIRCUITGRAD_REDIS_PASSWORD_FILE"] = str(paths["redis_password"])
    env["CIRCUITGRAD_API_KEYS_FILE"] = str(paths["api_keys"])
    s = Settings.from_env(env)
    password = paths["redis_password"].read_text().strip()
    assert s.redis_url == f"redis://:{password}@redis:6379/0"
    assert [t for _, t in s.api_keys] == ["default"] and s.api_keys[0][0].startswith("cg_")
    assert s.visibility_timeout > s.hard_time_limit > s.soft_time_limit
    own = {"CIRCUITGRAD_METRICS_PORT": "9100"}  # a worker shows its own metrics
    assert COMPOSE["services"]["api"]["environment"] == {
        k: v for k, v in written.items() if k not in own
    }
    assert {k: written[k] for k in own} == own
    assert os.path.isabs(env["NUMBA_CACHE_DIR"])
    assert (
        ensure_secrets(tmp_path) == paths
        and paths["redis_password"].read_text().strip() == password
    )
