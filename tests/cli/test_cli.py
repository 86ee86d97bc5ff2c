"""The ``circuitgrad`` command line: grad, eval, stats, errors and exit statuses, run in
this process (``Client("local")``) and against the real service (``--url``): one path."""

import io
import json
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from circuitgrad.cli import program as cli_main
from circuitgrad.cli.program import main
from circuitgrad.engine import evaluate, parse_expression
from circuitgrad.engine.formats import codec

EQ1 = "(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2"
CLI = [sys.executable, "-m", "circuitgrad.cli"]


def eq1(x, y, z):
    return (x - 3 * y - 3 * z + 5) ** 2 + (x - 2 * y - 2 * z) ** 2 + (x + y - 5 * z - 3) ** 2


def grad_eq1(x, y, z):
    """Equations (3) and (4) of the lecture."""
    a, b, d = x - 3 * y - 3 * z + 5, x - 2 * y - 2 * z, x + y - 5 * z - 3
    return [2 * a + 2 * b + 2 * d, -6 * a - 4 * b + 2 * d, -6 * a - 4 * b - 10 * d]


@pytest.fixture(params=["local", "service"])
def where(request, monkeypatch):
    """None: in this process; else the URL of the session's real service."""
    monkeypatch.delenv("CIRCUITGRAD_URL", raising=False)
    monkeypatch.delenv("CIRCUITGRAD_API_KEY", raising=False)
    if request.param == "local":
        return None
    return request.getfixturevalue("stack").url


@pytest.fixture
def run(capsys, monkeypatch, where):
    def run(*argv, stdin: bytes | None = None):
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        argv = list(argv)
        if where is not None and argv and argv[0] in ("grad", "eval", "stats"):
            argv += ["--url", where]
        code = main(argv)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def eq1_file(tmp_path):
    path = tmp_path / "eq1.json"
    codec.dump(parse_expression(EQ1), path)
    return path


# -- stats ----------------------------------------------------------------------------------
def test_stats_of_equation_1(run, eq1_file, tmp_path):
    expression_doc = tmp_path / "expr.json"
    expression_doc.write_text(json.dumps({"expression": EQ1}))  # what POST /v1/circuits takes
    for argv in (
        ["stats", "--expr", EQ1],
        ["stats", str(eq1_file)],
        ["stats", str(expression_doc)],
    ):
        code, out, err = run(*argv)
        assert code == 0 and err == ""
        m = json.loads(out)
        assert (m["size"], m["wires"], m["depth"], m["nodes"]) == (7, 17, 3, 11)
        assert m["ops"] == {"const": 1, "add": 4, "square": 3}


def test_stats_from_standard_input(run, eq1_file):
    data = codec.to_msgpack(parse_expression(EQ1))
    code, out, _ = run("stats", "-", stdin=data)
    assert code == 0 and json.loads(out)["size"] == 7
    code, out, _ = run("stats", "-", stdin=eq1_file.read_bytes())
    assert code == 0 and json.loads(out)["size"] == 7


# -- grad -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["backward", "forward", "auto"])
def test_grad_writes_the_jacobian_circuit(run, mode):
    code, out, err = run("grad", "--expr", EQ1, "--mode", mode)
    assert code == 0
    g = codec.from_json(out)
    assert g.inputs == ("x", "y", "z")
    assert g.output_names == ("df/dx", "df/dy", "df/dz")
    P = np.random.default_rng(0).normal(scale=2, size=(10, 3))
    np.testing.assert_allclose(evaluate(g, P), np.array(grad_eq1(*P.T)).T, rtol=1e-12, atol=1e-9)
    # stderr says what was written, by which mode, and in auto mode why
    lines = err.splitlines()
    assert lines[0].startswith("circuitgrad grad: wrote standard output: 3 partial derivative")
    chosen = "backward" if mode == "auto" else mode
    assert f"by {chosen} propagation" in lines[0]
    if mode == "auto":
        assert "auto mode chose backward: predicted raw sizes backward" in err
        assert "forward" in err.split("predicted raw sizes")[1]
    else:
        assert "auto mode" not in err


def test_grad_options(run, tmp_path):
    out_file = tmp_path / "g.msgpack"
    argv = ["grad", "--expr", "f = x*y + z; g = sin(x)", "--wrt", "y,x", "--of", "f"]
    code, _, err = run(*argv, "--include-value", "--no-simplify", "-o", str(out_file))
    assert code == 0 and f"wrote {out_file}:" in err
    g = codec.load(out_file)
    assert g.output_names == ("f", "g", "df/dy", "df/dx")  # all own outputs, then ∂f
    code, out, _ = run("eval", str(out_file), "--at", "x=2,y=3,z=5")
    assert code == 0
    assert json.loads(out) == {
        "outputs": ["f", "g", "df/dy", "df/dx"],
        "values": [[11.0, np.sin(2.0), 2.0, 3.0]],
    }
    json_file = tmp_path / "g.json"
    code, _, _ = run(*argv, "-o", str(json_file))
    assert code == 0 and codec.load(json_file).output_names == ("df/dy", "df/dx")
    assert json_file.read_bytes().lstrip().startswith(b"{")


def test_grad_of_a_gradient_file(run, tmp_path):
    first = tmp_path / "d1.json"
    assert run("grad", "--expr", "x**3 * y", "-o", str(first))[0] == 0
    second = tmp_path / "d2.msgpack"
    code, _, _ = run("grad", str(first), "--of", "df/dx", "--wrt", "x", "-o", str(second))
    assert code == 0
    code, out, _ = run("eval", str(second), "--at", "x=2,y=3")
    assert code == 0 and json.loads(out)["values"] == [[36.0]]  # d²(x³y)/dx² = 6xy


@pytest.mark.parametrize("mode", ["jvp", "vjp", "hvp"])
def test_grad_writes_directional_circuits_and_says_they_were_verified(run, tmp_path, mode):
    out_file = tmp_path / f"{mode}.json"
    code, _, err = run("grad", "--expr", "x*x*y + sin(y)", "--mode", mode, "-o", str(out_file))
    assert code == 0
    lines = err.splitlines()
    what = {"jvp": "1 J·v outputs (jvp)", "vjp": "2 uᵀ·J outputs (vjp)", "hvp": "2 H·v outputs"}
    assert what[mode] in lines[0]
    assert lines[-1].startswith("circuitgrad grad: verified by central differences at 3 points")
    seeds = "cotangent[f]=2" if mode == "vjp" else "tangent[x]=1,tangent[y]=-1"
    code, out, _ = run("eval", str(out_file), "--at", f"x=2,y=0,{seeds}")
    doc = json.loads(out)
    expected = {  # ∇ = (2xy, x² + cos y), H = [[2y, 2x], [2x, −sin y]] at (2, 0)
        "jvp": (["jvp[f]"], [[-5.0]]),
        "vjp": (["vjp[x]", "vjp[y]"], [[0.0, 10.0]]),
        "hvp": (["hvp[x]", "hvp[y]"], [[-4.0, 4.0]]),
    }[mode]
    assert code == 0 and (doc["outputs"], doc["values"]) == (expected[0], expected[1])


def test_grad_no_verify_and_hvp_of_several_outputs(run):
    code, _, err = run("grad", "--expr", "x*y", "--no-verify")
    assert code == 0 and "verified" not in err
    code, out, err = run("grad", "--expr", "f = x*y; g = x", "--mode", "hvp")
    assert code == 1 and out == "" and "/of: hvp needs one scalar output" in err


# -- eval -----------------------------------------------------------------------------------
def test_eval_at_points(run):
    code, out, err = run("eval", "--expr", EQ1, "--at", "x=1,y=2,z=3", "--at", "z=0, y=0, x=0")
    assert code == 0 and err == ""
    assert json.loads(out) == {"outputs": ["f"], "values": [[eq1(1, 2, 3)], [eq1(0, 0, 0)]]}


def test_eval_points_files(run, tmp_path):
    points = tmp_path / "p.json"
    expected = [[eq1(1, 2, 3)], [eq1(-1, 0.5, 2)]]
    for doc in (
        [{"x": 1, "y": 2, "z": 3}, {"x": -1, "y": 0.5, "z": 2}],
        {"x": [1, -1], "y": [2, 0.5], "z": [3, 2]},
        {"points": {"x": [1, -1], "y": [2, 0.5], "z": [3, 2]}},
    ):
        points.write_text(json.dumps(doc))
        code, out, _ = run("eval", "--expr", EQ1, "--points", str(points))
        assert code == 0 and json.loads(out)["values"] == expected


def test_eval_non_finite_values_as_strings(run, tmp_path):
    points = tmp_path / "p.json"
    points.write_text(json.dumps([{"x": "NaN"}, {"x": "-Infinity"}, {"x": 0}]))
    code, out, _ = run("eval", "--expr", "f = x * 1; g = log(x)", "--points", str(points))
    assert code == 0
    assert json.loads(out)["values"] == [["NaN", "NaN"], ["-Infinity", "NaN"], [0.0, "-Infinity"]]


def test_eval_with_no_points_and_no_inputs(run, tmp_path):
    points = tmp_path / "p.json"
    points.write_text("[]")
    code, out, _ = run("eval", "--expr", "x + 1", "--points", str(points))
    assert code == 0 and json.loads(out) == {"outputs": ["f"], "values": []}
    code, out, _ = run("eval", "--expr", "2 * 3", "--at", "")
    assert code == 0 and json.loads(out)["values"] == [[6.0]]


# -- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, lines",
    [
        (["stats", "--expr", "x + (y"], ["--expr: /expression: at offset 6: expected ')'"]),
        (["grad", "--expr", "x*y", "--wrt", "q"], ["request: /wrt/0: "]),
        (["grad", "--expr", "x*y", "--mode", "auto", "--of", "nope"], ["request: /of/0: "]),
        (["eval", "--expr", "x*y", "--at", "x=1"], ["--at: /points/y: missing input"]),
        (["eval", "--expr", "x*y", "--at", "x=1,y=2,w=3"], ["--at: /points/w: unknown input"]),
        (
            ["stats", "--expr", "x", "--inputs", "y"],
            ["--expr: /expression: at offset 0: unknown input 'x'"],
        ),
    ],
)
def test_invalid_requests_exit_1_with_located_messages(run, argv, lines):
    code, out, err = run(*argv)
    assert code == 1 and out == ""
    got = err.strip().splitlines()
    assert len(got) == len(lines), got
    for line, start in zip(got, lines, strict=True):
        assert line.startswith(start), line


def test_errors_in_files_name_the_file(run, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"inputs": ["x"], "gates": [{"op": "sin", "args": [3]},
                                                          {"op": "nope", "args": [0]}],
                               "outputs": [1]}))  # fmt: skip
    code, out, err = run("stats", str(bad))
    assert code == 1 and out == ""
    lines = err.strip().splitlines()
    assert any(line.startswith(f"{bad}: /gates/0/args/0: ") for line in lines), lines
    assert any(line.startswith(f"{bad}: /gates/1/op: ") for line in lines), lines
    expression = tmp_path / "expr.json"
    expression.write_text(json.dumps({"expression": "x +* y"}))
    code, _, err = run("grad", str(expression))
    assert code == 1 and err.startswith(f"{expression}: /expression: at offset 3")
    points = tmp_path / "p.json"
    points.write_text('[{"x": true}, 3, {"x": "one"}]')
    code, _, err = run("eval", "--expr", "x", "--points", str(points))
    assert code == 1
    places = [line.split(": ")[1] for line in err.strip().splitlines()]
    assert all(line.startswith(f"{points}: ") for line in err.strip().splitlines())
    assert places == ["/points/0/x", "/points/1", "/points/2/x"]
    points.write_text("{not json")
    code, _, err = run("eval", "--expr", "x", "--points", str(points))
    assert code == 1 and err.startswith(f"{points}: /: not JSON")


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
def test_usage_errors_exit_2(run, argv):
    code, out, err = run(*argv)
    assert code == 2 and out == "" and err


def test_an_unreachable_service_is_a_usage_error(capsys, unused_url):
    code = main(["stats", "--expr", "x", "--url", unused_url])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("circuitgrad stats: error:") and "Connection" in err


@pytest.fixture
def unused_url():
    from circuitgrad.service.embedded_redis import free_port

    return f"http://127.0.0.1:{free_port()}"


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("grad", "eval", "stats", "serve"))
    assert main(["grad", "--help"]) == 0 and "--include-value" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.startswith("circuitgrad 0.")


# -- extension ------------------------------------------------------------------------------
def test_plugins_register_subcommands(capsys, monkeypatch):
    plugin = types.ModuleType("fake_cli_plugin")

    def register(subparsers):
        p = subparsers.add_parser("hello", help="say hello")
        p.add_argument("--name", default="world")
        p.set_defaults(func=lambda args: print(f"hello {args.name}") or 3)

    plugin.register = register
    monkeypatch.setitem(sys.modules, "fake_cli_plugin", plugin)
    monkeypatch.setattr(cli_main, "PLUGINS", ("fake_cli_plugin", "no_such_module_anywhere"))
    assert main(["hello", "--name", "lecture"]) == 3
    assert capsys.readouterr().out == "hello lecture\n"
    main(["--help"])
    assert "hello" in capsys.readouterr().out


def test_a_missing_dependency_says_how_to_install_it(capsys, monkeypatch):
    def needs_redis(args):
        raise ModuleNotFoundError("No module named 'redis'", name="redis")

    monkeypatch.setitem(
        cli_main.COMMANDS, "needy", cli_main.Command("needy", "?", lambda p: None, needs_redis)
    )
    assert main(["needy"]) == 2
    err = capsys.readouterr().err
    assert "missing module 'redis'" in err and "pip install 'circuitgrad[service]'" in err


def test_console_script_exit_statuses():
    env = {k: v for k, v in os.environ.items() if k != "CIRCUITGRAD_URL"}
    done = subprocess.run(
        [*CLI, "stats", "--expr", "sin(x)"], capture_output=True, timeout=120, env=env
    )
    assert done.returncode == 0 and json.loads(done.stdout)["size"] == 1
    done = subprocess.run(
        [*CLI, "stats", "--expr", "sin(x"], capture_output=True, timeout=120, env=env
    )
    assert done.returncode == 1 and done.stderr.startswith(b"--expr: /expression: at offset 5")
    done = subprocess.run([*CLI, "stats"], capture_output=True, timeout=120, env=env)
    assert done.returncode == 2
