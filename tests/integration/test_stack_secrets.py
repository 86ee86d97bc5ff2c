"""docker-compose.yml's secrets as processes: the ``secrets`` service's command generates
an API key and Redis's password, Redis runs the compose command (its generated
``redis.conf`` sets ``requirepass``), and the API and workers, given the compose
environment (secret files' paths rewritten to where they are here), need the key and
reach Redis with the password."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from circuitgrad.service.embedded_redis import free_port, redis_server_executable

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRETS = "/run/circuitgrad-secrets"
ROOT = Path(__file__).resolve().parents[2]


def circuitgrad_command() -> list[str]:
    script = Path(sys.executable).with_name("circuitgrad")
    return [str(script)] if script.exists() else [sys.executable, "-m", "circuitgrad.cli"]


def test_the_compose_secrets_are_required(tmp_path, process_stack):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    folder = tmp_path / "secrets"

    def here(word: str) -> str:
        return word.replace(SECRETS, str(folder))

    command = [here(w) for w in compose["secrets"]["command"]]
    done = subprocess.run(
        circuitgrad_command() + command[1:], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert str(folder / "api_keys") in done.stdout
    key = (folder / "api_keys").read_text().split(":")[0]
    password = (folder / "redis_password").read_text().strip()
    assert key not in done.stdout and password not in done.stdout  # where, never what

    port = free_port()
    words = [here(w) for w in compose["redis"]["command"]]
    words[0] = redis_server_executable()
    words += ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path), "--save", ""]
    server = subprocess.Popen(words, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    authed = redis.Redis.from_url(f"redis://:{password}@127.0.0.1:{port}/0")
    stack = None
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                authed.ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(url).set("x", 1)
        env = {
            name: here(compose["api"]["environment"][name])
            for name in ("CIRCUITGRAD_API_KEYS_FILE", "CIRCUITGRAD_REDIS_PASSWORD_FILE")
        }
        logs = tmp_path / "logs"
        logs.mkdir()
        stack = process_stack(url, "cgsecrets", logs, workers=1, env=env)
        names = f"{stack.namespace}:workers"
        stack.worker_names = lambda: [n.decode() for n in authed.zrange(names, 0, -1)]
        stack.start()
        with httpx.Client(base_url=stack.url, timeout=30) as http:
            r = http.post("/v1/gradients", json={"expression": "x*y"})
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
            bearer = {"Authorization": f"Bearer {key}"}
            job = http.post("/v1/gradients", json={"expression": "x*y"}, headers=bearer).json()
            job = http.get(f"/v1/jobs/{job['id']}?wait=20", headers=bearer).json()
            assert job["status"] == "succeeded"
    finally:
        if stack is not None:
            stack.stop()
        server.terminate()
        server.wait(10)
