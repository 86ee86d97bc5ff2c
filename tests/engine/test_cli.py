"""The ``circuitgrad`` command line: grad, eval, stats, errors and exit statuses."""

import io
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

codec = pytest.importorskip("circuitgrad.engine.formats.codec")
pytest.importorskip("circuitgrad.engine.passes.gradient")
pytest.importorskip("circuitgrad.engine.evaluation.evaluate")
pytest.importorskip("circuitgrad.engine.core.measures")

from circuitgrad.engine import cli  # noqa: E402
from circuitgrad.engine.cli import main  # noqa: E402
from circuitgrad.engine.building.parser import parse_expression  # noqa: E402

EQ1 = "(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2"


def eq1(x, y, z):
    return (x - 3 * y - 3 * z + 5) ** 2 + (x - 2 * y - 2 * z) ** 2 + (x + y - 5 * z - 3) ** 2


def grad_eq1(x, y, z):
    """Equations (3) and (4) of the lecture."""
    a, b, d = x - 3 * y - 3 * z + 5, x - 2 * y - 2 * z, x + y - 5 * z - 3
    return [2 * a + 2 * b + 2 * d, -6 * a - 4 * b + 2 * d, -6 * a - 4 * b - 10 * d]


@pytest.fixture(autouse=True)
def in_process(monkeypatch):
    monkeypatch.delenv("CIRCUITGRAD_URL", raising=False)  # else the CLI would go remote


def run(capsys, *argv, stdin: bytes | None = None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def eq1_file(tmp_path):
    path = tmp_path / "eq1.json"
    codec.dump(parse_expression(EQ1), path)
    return path


# -- stats ----------------------------------------------------------------------------------
def test_stats_of_equation_1(capsys, eq1_file):
    for argv in (["stats", "--expr", EQ1], ["stats", str(eq1_file)]):
        code, out, err = run(capsys, *argv)
        assert code == 0 and err == ""
        m = json.loads(out)
        assert (m["size"], m["wires"], m["depth"], m["nodes"]) == (7, 17, 3, 11)
        assert m["ops"] == {"const": 1, "add": 4, "square": 3}


def test_stats_from_standard_input(capsys, monkeypatch, eq1_file):
    data = codec.to_msgpack(parse_expression(EQ1))
    code, out, _ = run(capsys, "stats", "-", stdin=data, monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["size"] == 7
    code, out, _ = run(capsys, "stats", "-", stdin=eq1_file.read_bytes(), monkeypatch=monkeypatch)
    assert code == 0 and json.loads(out)["size"] == 7


# -- grad -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["backward", "forward", "auto"])
def test_grad_writes_the_jacobian_circuit(capsys, mode):
    code, out, err = run(capsys, "grad", "--expr", EQ1, "--mode", mode)
    assert code == 0 and err == ""
    g = codec.from_json(out)
    assert g.inputs == ("x", "y", "z")
    assert g.output_names == ("df/dx", "df/dy", "df/dz")
    rng = np.random.default_rng(0)
    P = rng.normal(scale=2, size=(10, 3))
    from circuitgrad.engine.evaluation.evaluate import evaluate

    np.testing.assert_allclose(evaluate(g, P), np.array(grad_eq1(*P.T)).T, rtol=1e-12, atol=1e-9)


def test_grad_options(capsys, tmp_path):
    out_file = tmp_path / "g.msgpack"
    argv = ["grad", "--expr", "f = x*y + z; g = sin(x)", "--wrt", "y,x", "--of", "f"]
    code, _, _ = run(capsys, *argv, "--include-value", "--no-simplify", "-o", str(out_file))
    assert code == 0
    g = codec.load(out_file)
    assert g.output_names == ("f", "g", "df/dy", "df/dx")  # all own outputs, then ∂f
    code, out, _ = run(capsys, "eval", str(out_file), "--at", "x=2,y=3,z=5")
    assert code == 0
    assert json.loads(out) == {
        "outputs": ["f", "g", "df/dy", "df/dx"],
        "values": [[11.0, np.sin(2.0), 2.0, 3.0]],
    }
    json_file = tmp_path / "g.json"
    code, _, _ = run(capsys, *argv, "-o", str(json_file))
    assert code == 0 and codec.load(json_file).output_names == ("df/dy", "df/dx")
    assert json_file.read_bytes().lstrip().startswith(b"{")


def test_grad_of_a_gradient_file(capsys, tmp_path):
    first = tmp_path / "d1.json"
    assert run(capsys, "grad", "--expr", "x**3 * y", "-o", str(first))[0] == 0
    second = tmp_path / "d2.msgpack"
    code, _, _ = run(capsys, "grad", str(first), "--of", "df/dx", "--wrt", "x", "-o", str(second))
    assert code == 0
    code, out, _ = run(capsys, "eval", str(second), "--at", "x=2,y=3")
    assert code == 0 and json.loads(out)["values"] == [[36.0]]  # d²(x³y)/dx² = 6xy


# -- eval -----------------------------------------------------------------------------------
def test_eval_at_points(capsys):
    code, out, err = run(
        capsys, "eval", "--expr", EQ1, "--at", "x=1,y=2,z=3", "--at", "z=0, y=0, x=0"
    )
    assert code == 0 and err == ""
    assert json.loads(out) == {"outputs": ["f"], "values": [[eq1(1, 2, 3)], [eq1(0, 0, 0)]]}


def test_eval_points_files(capsys, tmp_path):
    points = tmp_path / "p.json"
    expected = [[eq1(1, 2, 3)], [eq1(-1, 0.5, 2)]]
    for doc in (
        [{"x": 1, "y": 2, "z": 3}, {"x": -1, "y": 0.5, "z": 2}],
        {"x": [1, -1], "y": [2, 0.5], "z": [3, 2]},
        {"points": {"x": [1, -1], "y": [2, 0.5], "z": [3, 2]}},
    ):
        points.write_text(json.dumps(doc))
        code, out, _ = run(capsys, "eval", "--expr", EQ1, "--points", str(points))
        assert code == 0 and json.loads(out)["values"] == expected


def test_eval_non_finite_values_as_strings(capsys, tmp_path):
    points = tmp_path / "p.json"
    points.write_text(json.dumps([{"x": "NaN"}, {"x": "-Infinity"}, {"x": 0}]))
    code, out, _ = run(capsys, "eval", "--expr", "f = x * 1; g = log(x)", "--points", str(points))
    assert code == 0
    assert json.loads(out)["values"] == [["NaN", "NaN"], ["-Infinity", "NaN"], [0.0, "-Infinity"]]


def test_eval_with_no_points_and_no_inputs(capsys, tmp_path):
    points = tmp_path / "p.json"
    points.write_text("[]")
    code, out, _ = run(capsys, "eval", "--expr", "x + 1", "--points", str(points))
    assert code == 0 and json.loads(out) == {"outputs": ["f"], "values": []}
    code, out, _ = run(capsys, "eval", "--expr", "2 * 3", "--at", "")
    assert code == 0 and json.loads(out)["values"] == [[6.0]]


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, lines",
    [
        (["stats", "--expr", "x + (y"], ["/expression: at offset 6: expected ')'"]),
        (["grad", "--expr", "x*y", "--wrt", "q"], ["/wrt/0: "]),
        (["grad", "--expr", "x*y", "--mode", "auto", "--of", "nope"], ["/of/0: "]),
        (["eval", "--expr", "x*y", "--at", "x=1"], ["/at/0/y: missing input"]),
        (["eval", "--expr", "x*y", "--at", "x=1,y=2,w=3"], ["/at/0/w: unknown input"]),
        (
            ["stats", "--expr", "x", "--inputs", "y"],
            ["/expression: at offset 0: unknown input 'x'"],
        ),
    ],
)
def test_invalid_requests_exit_1_with_located_messages(capsys, argv, lines):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == ""
    got = err.strip().splitlines()
    assert len(got) == len(lines)
    for line, start in zip(got, lines, strict=True):
        assert line.startswith(start), line


def test_invalid_circuit_files_exit_1(capsys, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"inputs": ["x"], "gates": [{"op": "sin", "args": [3]},
                                                          {"op": "nope", "args": [0]}],
                               "outputs": [1]}))  # fmt: skip
    code, out, err = run(capsys, "stats", str(bad))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert any(line.startswith("/gates/0/args/0: ") for line in lines)
    assert any(line.startswith("/gates/1/op: ") for line in lines)
    points = tmp_path / "p.json"
    points.write_text('[{"x": true}, 3, {"x": "one"}]')
    code, _, err = run(capsys, "eval", "--expr", "x", "--points", str(points))
    assert code == 1
    assert [line.split(":")[0] for line in err.strip().splitlines()] == ["/0/x", "/1", "/2/x"]
    points.write_text("{not json")
    assert run(capsys, "eval", "--expr", "x", "--points", str(points))[0] == 1


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["stats"],
        ["stats", "a.json", "--expr", "x"],
        ["stats", "/no/such/file.json"],
        ["grad", "--expr", "x", "--mode", "sideways"],
        ["grad", "--expr", "x", "-o", "out.txt"],
        ["eval", "--expr", "x"],
        ["eval", "--expr", "x", "--at", "x=1", "--points", "p.json"],
        ["eval", "--expr", "x", "--at", "x=one"],
        ["eval", "--expr", "x", "--at", "x"],
        ["eval", "--expr", "x", "--at", "x=1,x=2"],
        ["eval", "--expr", "x", "--points", "/no/such/points.json"],
        ["stats", "c.json", "--inputs", "x"],
    ],
)
def test_usage_errors_exit_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err


def test_help_exits_0(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "grad" in out and "eval" in out and "stats" in out
    code, out, _ = run(capsys, "grad", "--help")
    assert code == 0 and "--include-value" in out


# -- extension ------------------------------------------------------------------------------
def test_plugins_register_subcommands(capsys, monkeypatch):
    plugin = types.ModuleType("fake_cli_plugin")

    def register(subparsers):
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.name}") or 3)

    plugin.register = register
    monkeypatch.setitem(sys.modules, "fake_cli_plugin", plugin)
    monkeypatch.setattr(cli, "PLUGINS", ("fake_cli_plugin", "no_such_module_anywhere"))
    code, out, _ = run(capsys, "hello", "--name", "lecture")
    assert code == 3 and out == "hello lecture\n"
    code, out, _ = run(capsys, "--help")
    assert "hello" in out


def test_add_command(capsys, monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))
    cli.add_command(
        "size", "print the size", cli.add_circuit_argument,
        lambda args: print(cli.backend(args).stats(cli.read_circuit(args))["size"]),
    )  # fmt: skip
    code, out, _ = run(capsys, "size", "--expr", EQ1)
    assert code == 0 and out == "7\n"


def test_url_selects_the_remote_backend(capsys, monkeypatch):
    remote = pytest.importorskip("circuitgrad.client.cli_remote")
    calls = []

    class FakeRemote(cli.Local):  # the engine, but recording that it was chosen
        def __init__(self, url):
            calls.append(url)

    monkeypatch.setattr(remote, "Remote", FakeRemote)
    code, out, _ = run(capsys, "stats", "--expr", EQ1, "--url", "http://service:8000")
    assert code == 0 and json.loads(out)["size"] == 7 and calls == ["http://service:8000"]
    monkeypatch.setenv("CIRCUITGRAD_URL", "http://from-env")
    assert (
        run(capsys, "eval", "--expr", "x", "--at", "x=2")[1]
        == '{"outputs":["f"],"values":[[2.0]]}\n'
    )
    assert calls[-1] == "http://from-env"


def test_console_script_exit_statuses():
    cmd = [sys.executable, "-m", "circuitgrad.engine.cli"]
    env = {k: v for k, v in os.environ.items() if k != "CIRCUITGRAD_URL"}
    done = subprocess.run(
        [*cmd, "stats", "--expr", "sin(x)"], capture_output=True, timeout=120, env=env
    )
    assert done.returncode == 0 and json.loads(done.stdout)["size"] == 1
    done = subprocess.run(
        [*cmd, "stats", "--expr", "sin(x"], capture_output=True, timeout=120, env=env
    )
    assert done.returncode == 1 and done.stderr.startswith(b"/expression: at offset 5")
    done = subprocess.run([*cmd, "stats"], capture_output=True, timeout=120, env=env)
    assert done.returncode == 2
