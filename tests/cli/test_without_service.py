"""Without the ``service`` extra (simulated: ``redis`` cannot be imported), the commands
that need it say how to install it, in one line and exit status 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HINT = "pip install 'circuitgrad[service]'"


@pytest.fixture
def without_redis(tmp_path):
    """An environment in which ``import redis`` fails as it does when it is not installed."""
    (tmp_path / "redis.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'redis'\", name='redis')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("CIRCUITGRAD_URL", "REDIS_URL")}
    env["PYTHONPATH"] = str(tmp_path)
    return env


def circuitgrad(env, *argv):
    return subprocess.run(
        [sys.executable, "-m", "circuitgrad.cli", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_says_how_to_install_the_service(without_redis):
    done = circuitgrad(without_redis, "serve", "--port", "1")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "missing module 'redis'" in done.stderr and HINT in done.stderr


def test_local_mode_says_how_to_install_the_service(without_redis):
    done = circuitgrad(without_redis, "grad", "--expr", "x*y")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert "Client('local')" in done.stderr and HINT in done.stderr and "redis" in done.stderr


def test_the_version_needs_nothing_more(without_redis):
    done = circuitgrad(without_redis, "--version")
    assert done.returncode == 0 and done.stdout.startswith("circuitgrad ")
