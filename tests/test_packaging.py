"""The distribution as users get it: a built (not editable) wheel imports and runs."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
    )
    (path,) = out.glob("circuitgrad-*.whl")
    return path


def test_wheel_maps_the_top_level_folders_into_one_namespace(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for package in ("engine", "service", "worker", "client"):
        assert f"circuitgrad/{package}/__init__.py" in names
    assert not any(n.startswith(("engine/", "service/", "worker/", "client/")) for n in names)
    assert not any(n.startswith("circuitgrad/__init__") for n in names)  # a namespace package
    assert "circuitgrad/engine/drawing/__init__.py" in names
    for page in ("index.html", "playground.css", "playground.js"):  # the playground ships
        assert f"circuitgrad/service/static/{page}" in names


def test_installed_wheel_imports_and_runs(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
    )
    script = "\n".join(
        [
            "import circuitgrad.engine as e",
            "import circuitgrad.client, circuitgrad.service, circuitgrad.worker",
            f"assert e.__file__.startswith({str(target)!r}), e.__file__",
            "c = e.parse_expression('(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2')",
            "g = e.differentiate(c).circuit",
            "print(e.evaluate(g, [[1.0, 2.0, 3.0]]).tolist())",
        ]
    )
    # run outside the source tree, with the wheel's copy first on the path
    env = {**os.environ, "PYTHONPATH": str(target)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[[-66.0, 60.0, 240.0]]"
