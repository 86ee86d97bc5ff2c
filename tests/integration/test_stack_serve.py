"""``circuitgrad serve``: one command starts an embedded Redis, the workers and the API;
Ctrl-C (SIGINT) stops all of it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from circuitgrad.service.embedded_redis import free_port

pytestmark = pytest.mark.integration


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def processes_mentioning(text: str) -> list[int]:
    """Live processes whose command line or environment contains ``text``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().split(")")[-1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and (text.encode() in cmd or text.encode() in env):
            found.append(int(pid))
    return found


# invalid requests: (method, path, content type, body)
INVALID = [
    ("POST", "/v1/circuits", "application/json", b'{"expression": "x +* y"}'),
    ("POST", "/v1/circuits", "application/json", b'{"inputs": ["x"], "outputs": [7], "gates": '
     b'[{"op": "nope", "args": [3]}, {"op": "add", "args": [0], "coeffs": [1, "two"]}]}'),
    ("POST", "/v1/circuits", "application/json", b'{"inputs": ["x"'),
    ("POST", "/v1/circuits", "text/plain", b"x*y"),
    ("POST", "/v1/gradients", "application/json", b'{"expression": "x*y", "wrt": ["q"]}'),
    ("POST", "/v1/gradients", "application/json", b'{"expression": "x*y", "mode": 3}'),
    ("POST", "/v1/gradients", "application/json", b'{"expression": "x*y", "colour": "red"}'),
    ("GET", "/v1/jobs/no-such-job", None, None),
    ("DELETE", "/v1/circuits/c_0", None, None),
    ("POST", "/v1/circuits", "application/msgpack", b"\xc1"),
]  # fmt: skip


def assert_same_problems(url: str) -> None:
    """Local mode and ``circuitgrad serve`` answer every invalid request byte for byte alike."""
    from circuitgrad.client.local import local_transport

    with (
        httpx.Client(base_url=url, timeout=30) as served,
        httpx.Client(base_url="http://local", transport=local_transport()) as local,
    ):
        for method, path, content_type, body in INVALID:
            headers = {"content-type": content_type} if content_type else {}
            a = served.request(method, path, content=body, headers=headers)
            b = local.request(method, path, content=body, headers=headers)
            assert 400 <= a.status_code < 500, (path, a.status_code, a.text)
            assert a.headers["content-type"] == "application/problem+json"
            assert (a.status_code, a.headers["content-type"], a.content) == (
                b.status_code,
                b.headers["content-type"],
                b.content,
            ), (method, path, body)


def test_serve_with_embedded_redis_then_ctrl_c(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["CIRCUITGRAD_DATA_DIR"] = str(tmp_path / "data")  # marks every process of the stack
    script = os.path.join(os.path.dirname(sys.executable), "circuitgrad")
    log = open(tmp_path / "serve.log", "wb")  # a file: a full pipe would stall the stack
    p = subprocess.Popen(
        [script, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert p.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                if httpx.get(url + "/v1/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        with httpx.Client(base_url=url, timeout=30) as http:
            job = http.post("/v1/gradients", json={"expression": "x*x*y"}).json()
            job = http.get(f"/v1/jobs/{job['id']}", params={"wait": 20}).json()
            assert job["status"] == "succeeded"
            values = http.post(
                f"/v1/circuits/{job['result']['circuit_id']}/evaluate",
                json={"points": [{"x": 3, "y": 2}]},
            ).json()["values"]
            assert values == [[12.0, 9.0]]
        assert_same_problems(url)
        data = str(tmp_path / "data")
        stack = processes_mentioning(data)  # redis-server (its --dir), workers, API (env)
        assert len(stack) >= 4 and (tmp_path / "data" / "redis" / "appendonly.aof").exists()
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        assert p.wait(60) == 0
        assert not listening(port)
        assert processes_mentioning(data) == []
    finally:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
