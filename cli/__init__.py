"""The ``circuitgrad`` command line.

    circuitgrad grad  CIRCUIT [--mode backward|forward|auto] [--wrt x,y] [--of f]
                      [--include-value] [--no-simplify] [-o OUT.json|OUT.msgpack]
    circuitgrad eval  CIRCUIT (--at x=1,y=2,z=3 ... | --points FILE)
    circuitgrad stats CIRCUIT

CIRCUIT is a ``.json``/``.msgpack`` file, ``-`` for standard input, or ``--expr TEXT``
(with ``--inputs x,y,z`` to fix the input order); each command takes ``--url URL`` to
compute on a service instead of in this process. Exit status: 0 done; 1 the circuit,
expression or request is invalid (one ``path: message`` line per error on stderr);
2 usage (bad arguments, unreadable file).

Other modules add subcommands (the service's ``serve``, ``worker``, ``api``): a module
of ``PLUGINS`` that defines ``register(subparsers)`` adds its parsers there, each with a
``func(args) -> exit status`` default (Python code may also call ``add_command``).
``main`` imports the plugins only when the command is not one of its own, so the engine
commands start without the service's dependencies. The three engine commands go through
a backend: ``Local`` (the engine in this process) or, with ``--url``, the SDK's ``Remote``
(client/cli_remote.py), which offers the same three methods against a service.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from .errors import CircuitError, ErrorItem, pointer

PLUGINS = ("circuitgrad.service.cli",)
MODES = ("backward", "forward", "auto")


class UsageError(Exception):
    """Bad arguments: reported like argparse's own errors, exit status 2."""


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]  # adds the command's arguments
    run: Callable[[argparse.Namespace], int | None]  # the exit status (None: 0)


COMMANDS: dict[str, Command] = {}


def add_command(name: str, help: str, configure, run) -> None:
    """Add subcommand ``name`` (a later registration of the same name replaces it)."""
    COMMANDS[name] = Command(name, help, configure, run)


# -- circuits in, circuits out ------------------------------------------------------------
def add_circuit_argument(p: argparse.ArgumentParser) -> None:
    """CIRCUIT, ``--expr``, ``--inputs`` and ``--url``: for any command that reads a circuit."""
    p.add_argument(
        "circuit",
        nargs="?",
        metavar="CIRCUIT",
        help="a .json or .msgpack circuit file, or - for standard input",
    )
    p.add_argument(
        "--expr",
        metavar="TEXT",
        help="an expression instead of a file (docs/expressions.md), e.g. 'sigmoid(w0 + w1*x1)'",
    )
    p.add_argument(
        "--inputs", type=_names, metavar="x,y,...", help="with --expr: the inputs, in this order"
    )
    p.add_argument(
        "--url",
        default=os.environ.get("CIRCUITGRAD_URL") or None,
        help="compute on the circuitgrad service at URL (default $CIRCUITGRAD_URL; "
        "unset: in this process)",
    )


def read_circuit(args: argparse.Namespace):
    """The circuit named by CIRCUIT or ``--expr``."""
    if args.expr is not None:
        if args.circuit is not None:
            raise UsageError("give CIRCUIT or --expr, not both")
        from .parser import parse_expression

        return parse_expression(args.expr, inputs=args.inputs)
    if args.inputs is not None:
        raise UsageError("--inputs goes with --expr")
    if args.circuit is None:
        raise UsageError("missing CIRCUIT (a .json/.msgpack file, - for standard input, or --expr)")
    from . import codec

    try:
        return codec.load(args.circuit)
    except OSError as e:
        raise UsageError(f"cannot read {args.circuit}: {e.strerror or e}") from None


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",")] if text.strip() else []


def _print_json(value) -> None:
    from .codec import jsonable

    sys.stdout.buffer.write(orjson.dumps(jsonable(value)) + b"\n")
    sys.stdout.buffer.flush()


class Local:
    """The engine in this process."""

    def gradient(self, c, **options):
        from .gradient import differentiate

        return differentiate(c, **options).circuit

    def evaluate(self, c, points: np.ndarray) -> np.ndarray:
        from .evaluate import evaluate

        if len(points) == 0:
            return np.empty((0, len(c.outputs)))
        return evaluate(c, points)

    def stats(self, c) -> dict:
        from .measures import measures

        return measures(c)


def backend(args: argparse.Namespace):
    """``Local``, or with ``--url`` the SDK's ``Remote`` (same three methods; imported only
    then, since the engine does not depend on the client)."""
    url = getattr(args, "url", None)
    if not url:
        return Local()
    try:
        from circuitgrad.client.cli_remote import Remote
    except ImportError as e:
        raise UsageError(f"--url needs the circuitgrad client ({e})") from None
    return Remote(url)


# -- grad ---------------------------------------------------------------------------------
def _configure_grad(p: argparse.ArgumentParser) -> None:
    add_circuit_argument(p)
    p.add_argument(
        "--mode",
        choices=MODES,
        default="backward",
        help="forward or backward propagation, or auto: the smaller (default backward)",
    )
    p.add_argument(
        "--wrt",
        type=_names,
        metavar="x,y,...",
        help="inputs to differentiate by (default all, in input order)",
    )
    p.add_argument(
        "--of", type=_names, metavar="f,g,...", help="outputs to differentiate (default all)"
    )
    p.add_argument(
        "--include-value",
        action="store_true",
        help="the result also outputs the circuit's own outputs, first",
    )
    p.add_argument(
        "--no-simplify",
        dest="simplify",
        action="store_false",
        help="keep the raw result of the propagation",
    )
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write to OUT (.json or .msgpack); default JSON on standard output",
    )


def _run_grad(args: argparse.Namespace) -> int:
    out = args.output
    if out not in (None, "-") and Path(out).suffix.lower() not in (".json", ".msgpack"):
        raise UsageError(f"-o {out}: the file name must end in .json or .msgpack")
    c = read_circuit(args)
    g = backend(args).gradient(
        c,
        mode=args.mode,
        wrt=args.wrt,
        of=args.of,
        include_value=args.include_value,
        simplify=args.simplify,
    )
    from . import codec

    codec.dump(g, out or "-")
    return 0


# -- eval ---------------------------------------------------------------------------------
def _configure_eval(p: argparse.ArgumentParser) -> None:
    add_circuit_argument(p)
    p.add_argument(
        "--at",
        action="append",
        metavar="x=1,y=2,...",
        help="a point (repeatable: one row of values per --at)",
    )
    p.add_argument(
        "--points",
        metavar="FILE",
        help="JSON points, as in the HTTP API: a list "
        "of {input: value} objects or one {input: [values]} object of columns",
    )


def _run_eval(args: argparse.Namespace) -> int:
    if (args.at is None) == (args.points is None):
        raise UsageError("give the points with --at (repeatable) or with --points FILE")
    if args.points == "-" and args.circuit == "-":
        raise UsageError("the circuit and the points cannot both come from standard input")
    c = read_circuit(args)
    if args.at is not None:
        rows = [_parse_at(text) for text in args.at]
        X = points_matrix(c.inputs, rows, ("at",))
    else:
        X = _read_points(args.points, c.inputs)
    Y = backend(args).evaluate(c, X)
    _print_json({"outputs": list(c.output_names), "values": Y.tolist()})
    return 0


def _parse_at(text: str) -> dict[str, float]:
    point: dict[str, float] = {}
    for item in text.split(",") if text.strip() else []:
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise UsageError(f"--at {text}: expected name=value pairs separated by commas")
        if name in point:
            raise UsageError(f"--at {text}: {name} is given twice")
        try:
            point[name] = float(value)
        except ValueError:
            raise UsageError(f"--at {text}: {value.strip()!r} is not a number") from None
    return point


def _read_points(path: str, inputs) -> np.ndarray:
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        points = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise CircuitError(f"not JSON: {e}", "") from None
    base: tuple = ()
    if isinstance(points, dict) and list(points) == ["points"] and "points" not in inputs:
        points, base = points["points"], ("points",)  # an HTTP request body
    return points_matrix(inputs, points, base)


_NONFINITE = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _number(v, where: str, errors: list) -> float:
    if isinstance(v, str) and v in _NONFINITE:
        return _NONFINITE[v]
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        try:
            return float(v)
        except OverflowError:
            pass
    errors.append(ErrorItem(where, 'must be a number (or "NaN", "Infinity", "-Infinity")'))
    return 0.0


def points_matrix(inputs, points, base: tuple = ()) -> np.ndarray:
    """(N, n) values from a list of ``{input: value}`` objects or one object of columns
    ``{input: [values]}``; every input given, nothing else (errors point into ``points``)."""
    inputs = list(inputs)
    known = set(inputs)
    errors: list[ErrorItem] = []
    if isinstance(points, Mapping):
        errors += [ErrorItem(pointer(*base, k), "unknown input") for k in points if k not in known]
        errors += [ErrorItem(pointer(*base, k), "missing input") for k in inputs if k not in points]
        lengths = {len(v) for v in points.values() if isinstance(v, list)}
        for k, v in points.items():
            if k in known and not isinstance(v, list):
                errors.append(ErrorItem(pointer(*base, k), "must be a list of numbers"))
        if len(lengths) > 1:
            errors.append(
                ErrorItem(pointer(*base), f"columns of different lengths {sorted(lengths)}")
            )
        if errors:
            raise CircuitError(errors)
        n = lengths.pop() if lengths else 0
        X = np.empty((n, len(inputs)))
        for j, name in enumerate(inputs):
            for i, v in enumerate(points[name]):
                X[i, j] = _number(v, pointer(*base, name, i), errors)
    elif isinstance(points, list):
        X = np.empty((len(points), len(inputs)))
        for i, row in enumerate(points):
            if not isinstance(row, Mapping):
                errors.append(ErrorItem(pointer(*base, i), "must be an object {input: value}"))
                continue
            errors += [
                ErrorItem(pointer(*base, i, k), "unknown input") for k in row if k not in known
            ]
            for j, name in enumerate(inputs):
                if name not in row:
                    errors.append(ErrorItem(pointer(*base, i, name), "missing input"))
                else:
                    X[i, j] = _number(row[name], pointer(*base, i, name), errors)
    else:
        errors.append(
            ErrorItem(pointer(*base), "must be a list of objects or an object of columns")
        )
    if errors:
        raise CircuitError(errors)
    return X


# -- stats --------------------------------------------------------------------------------
def _run_stats(args: argparse.Namespace) -> int:
    _print_json(backend(args).stats(read_circuit(args)))
    return 0


add_command("grad", "write the gradient (Jacobian) circuit", _configure_grad, _run_grad)
add_command("eval", "evaluate a circuit at points", _configure_eval, _run_eval)
add_command(
    "stats",
    "print size, wires, depth, nodes and op counts as JSON",
    add_circuit_argument,
    _run_stats,
)
_OWN = frozenset(COMMANDS)


# -- main ---------------------------------------------------------------------------------
def _load_plugins() -> list:
    """The plugin modules that import (a plugin whose optional dependency is missing is
    left out; an error inside circuitgrad itself is not hidden)."""
    modules = []
    for name in PLUGINS:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            missing = e.name or ""
            if missing.startswith("circuitgrad") and not name.startswith(missing):
                raise  # a broken import inside circuitgrad itself
    return modules


def make_parser(plugins=()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="circuitgrad",
        description="Gradient circuits: forward propagation and backpropagation as "
        "circuit-to-circuit passes.",
    )
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)
    for command in COMMANDS.values():
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(func=command.run)
    for module in plugins:
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def main(argv=None) -> int:
    """Run one command; the exit status (0 done, 1 invalid circuit or request, 2 usage)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    plugins = [] if argv and argv[0] in _OWN else _load_plugins()
    parser = make_parser(plugins)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse has printed usage or help
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    try:
        return args.func(args) or 0
    except CircuitError as e:
        for item in e.errors:
            print(f"{item.path or '/'}: {item.message}", file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"circuitgrad {args.command_name}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 1


if __name__ == "__main__":
    sys.exit(main())
