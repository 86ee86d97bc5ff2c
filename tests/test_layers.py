"""The layers of README.md, checked: import-linter's contracts in pyproject.toml hold, and
the checker does find a broken one (so a green run means something)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip


def test_the_contracts_of_pyproject_are_kept():
    done = lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout and "6 kept" in done.stdout


def test_a_broken_contract_is_reported(tmp_path):
    config = tmp_path / "contracts.ini"
    config.write_text(
        "[importlinter]\n"
        "root_packages =\n    circuitgrad.cli\n    circuitgrad.client\n"
        "[importlinter:contract:cli-without-client]\n"
        "name = The CLI does not use the SDK (false: it is built on it)\n"
        "type = forbidden\nsource_modules = circuitgrad.cli\n"
        "forbidden_modules = circuitgrad.client\n"
    )
    done = lint("--config", str(config))
    assert done.returncode == 1 and "BROKEN" in done.stdout
