"""``circuitgrad circuits``, ``jobs``, ``delete`` and ``usage``: in this process (local mode
keeps what earlier commands of the process stored) and against the real service."""

from __future__ import annotations

import json
import uuid

import pytest


@pytest.fixture
def run(cli):
    return cli


def test_list_jobs_and_circuits_then_delete(run, tmp_path):
    name = f"v{uuid.uuid4().hex[:8]}"
    out_file = tmp_path / "g.json"
    code, _, err = run("grad", "--expr", f"{name} * {name} + 3 * {name}", "-o", str(out_file))
    assert code == 0, err
    code, out, err = run("circuits", "--json", "--limit", "50")
    assert code == 0, err
    listed = [json.loads(line) for line in out.splitlines()]
    source = next(c for c in listed if c["inputs"] == [name] and c["outputs"] == ["f"])
    gradient = next(c for c in listed if c["outputs"] == [f"df/d{name}"])
    assert source["stored_bytes"] > 0 and source["stored_at"].endswith("Z")
    assert listed.index(gradient) < listed.index(source)  # newest first

    code, out, _ = run("jobs", "--status", "succeeded", "--kind", "gradient")
    rows = [line.split("\t") for line in out.splitlines()]
    assert code == 0 and any(r[3:] and r[-1] == source["id"] for r in rows)
    assert all(r[1:3] == ["gradient", "succeeded"] for r in rows)

    code, out, _ = run("circuits", "--limit", "1")
    assert code == 0 and len(out.splitlines()) == 1 and out.count("\t") == 4

    assert run("delete", source["id"], gradient["id"])[0] == 0
    code, out, _ = run("circuits", "--json")
    assert source["id"] not in out and gradient["id"] not in out
    code, _, err = run("delete", source["id"])
    assert code == 2 and source["id"] in err
    code, out, _ = run("usage")
    assert code == 0 and {"tenant", "store"} <= set(json.loads(out))


def test_bad_arguments_are_usage_errors(run):
    assert run("jobs", "--status", "sleeping")[0] == 2
    code, _, err = run("circuits", "--created-after", "yesterday")
    assert code == 1 and "/query/created_after" in err  # an invalid request
