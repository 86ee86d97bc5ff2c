"""The examples run end to end — against the real service and in local mode — and print
their results (each example asserts its own numbers against NumPy or closed forms)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from sdk_support import KEY_A

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SCRIPTS = [
    "equation1_least_squares",
    "u_example",
    "perceptron",
    "det_inv",
    "gradient_sizes",
    "hessian",
]
EXPECTED = {  # one line each example must print
    "equation1_least_squares": "NumPy lstsq:      [10.  3.  2.]",
    "u_example": "largest difference:",
    "perceptron": "training accuracy 95%",
    "det_inv": "the ratio stays bounded",
    "gradient_sizes": "Θ(n·(s+w)) against O(n+s+w)",
    "hessian": "2·AᵀA =",
}


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_and_prints_its_result(name, connect, monkeypatch, capsys):
    monkeypatch.setenv("CIRCUITGRAD_URL", connect.url)
    monkeypatch.setenv("CIRCUITGRAD_API_KEY", KEY_A)
    runpy.run_path(str(EXAMPLES / f"{name}.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert EXPECTED[name] in out
