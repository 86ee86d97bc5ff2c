"""``circuitgrad grad|eval|stats`` through the SDK's ``Remote`` backend print what the
in-process backend prints. The CLI's ``--url`` hook is the lead's to add (see
client/cli_remote.py); here the backend is swapped in the way that hook will do it."""

from __future__ import annotations

import orjson
import pytest
from sdk_support import KEY_A, free_port

from circuitgrad.client.cli_remote import Remote
from circuitgrad.engine import cli
from circuitgrad.engine.formats.codec import content_id, from_json

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


@pytest.fixture
def remote_url(connect) -> str:
    return connect.url


def run(argv, capsys, monkeypatch, url=None):
    if url is not None:
        monkeypatch.setenv("CIRCUITGRAD_API_KEY", KEY_A)
        monkeypatch.setattr(cli, "backend", lambda args: Remote(url))
    else:
        monkeypatch.setattr(cli, "backend", lambda args: cli.Local())
    status = cli.main(argv)
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.mark.parametrize(
    "argv",
    [
        ["grad", "--expr", EQ1],
        [
            "grad",
            "--expr",
            EQ1,
            "--mode",
            "forward",
            "--wrt",
            "z,x",
            "--include-value",
            "--no-simplify",
        ],
        ["eval", "--expr", EQ1, "--at", "x=1,y=2,z=3", "--at", "x=10,y=3,z=2"],
        ["stats", "--expr", "sin(x*y) + exp(x)/y"],
    ],
)
def test_remote_commands_print_what_local_ones_print(argv, remote_url, capsys, monkeypatch):
    local = run(argv, capsys, monkeypatch)
    remote = run(argv, capsys, monkeypatch, url=remote_url)
    assert remote[0] == local[0] == 0 and remote[2] == ""
    if argv[0] == "grad":  # the same gradient circuit (same content id)
        assert content_id(from_json(remote[1])) == content_id(from_json(local[1]))
    else:
        assert orjson.loads(remote[1]) == orjson.loads(local[1])


def test_remote_invalid_requests_exit_1_with_pointers(remote_url, capsys, monkeypatch):
    status, out, err = run(
        ["grad", "--expr", EQ1, "--wrt", "x,q"], capsys, monkeypatch, url=remote_url
    )
    assert status == 1 and err.startswith("/wrt/1: ")


def test_an_unreachable_service_is_a_usage_error(capsys, monkeypatch):
    url = f"http://127.0.0.1:{free_port()}"
    status, out, err = run(["stats", "--expr", "x*y"], capsys, monkeypatch, url=url)
    assert status == 2 and url in err
