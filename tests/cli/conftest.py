"""The command line run in this process, in local mode and against the test stack."""

from __future__ import annotations

import pytest

from circuitgrad.cli.program import main


@pytest.fixture(params=["local", "service"])
def cli(request, capsys, monkeypatch):
    """``cli(*argv)`` runs ``circuitgrad ARGV`` (with ``--url`` of the test stack in the
    ``service`` case): (exit code, stdout, stderr)."""
    monkeypatch.delenv("CIRCUITGRAD_URL", raising=False)
    monkeypatch.delenv("CIRCUITGRAD_API_KEY", raising=False)
    url = None if request.param == "local" else request.getfixturevalue("stack").url

    def run(*argv):
        code = main([*argv, *(["--url", url] if url else [])])
        out, err = capsys.readouterr()
        return code, out, err

    return run
