"""What the commands read: circuits (files, standard input, ``--expr``) and points.

Circuit files are not decoded here: their bytes go to the service as they are (JSON or
msgpack, a circuit document or an ``{"expression": ...}`` document, exactly what
``POST /v1/circuits`` accepts), so the service's validation, and its located errors,
apply to them; an error names the file.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from .errors import Invalid, UsageError

STDIN = "<stdin>"


@dataclass(frozen=True)
class Source:
    where: str  # what error lines call it: the file name, <stdin> or --expr
    value: object  # what the SDK uploads: file bytes or an expression
    inputs: list[str] | None = None  # --inputs, with --expr


def names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",")] if text.strip() else []


def add_circuit_arguments(p: argparse.ArgumentParser) -> None:
    """CIRCUIT, ``--expr``, ``--inputs``, and where to compute: ``--url``, ``--api-key``."""
    p.add_argument(
        "circuit",
        nargs="?",
        metavar="CIRCUIT",
        help='a .json or .msgpack file: a circuit document or {"expression": ...} as the '
        "API accepts; - for standard input",
    )
    p.add_argument(
        "--expr",
        metavar="TEXT",
        help="an expression instead of a file (docs/expressions.md), e.g. 'sigmoid(w0 + w1*x1)'",
    )
    p.add_argument(
        "--inputs", type=names, metavar="x,y,...", help="with --expr: the inputs, in this order"
    )
    add_service_arguments(p)


def add_service_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--url",
        default=os.environ.get("CIRCUITGRAD_URL") or None,
        help="compute on the circuitgrad service at URL (default $CIRCUITGRAD_URL; unset: "
        "in this process, Client('local'))",
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("CIRCUITGRAD_API_KEY") or None,
        help="the service's API key (default $CIRCUITGRAD_API_KEY)",
    )


def read_bytes(path: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"cannot read {path}: {e.strerror or e}") from None


def read_source(args: argparse.Namespace) -> Source:
    """The circuit named by CIRCUIT or ``--expr``."""
    if args.expr is not None:
        if args.circuit is not None:
            raise UsageError("give CIRCUIT or --expr, not both")
        return Source("--expr", args.expr, args.inputs)
    if args.inputs is not None:
        raise UsageError("--inputs goes with --expr")
    if args.circuit is None:
        raise UsageError("missing CIRCUIT (a .json/.msgpack file, - for standard input, or --expr)")
    data = read_bytes(args.circuit)
    if not data.strip():
        raise Invalid(args.circuit if args.circuit != "-" else STDIN, [("", "the file is empty")])
    return Source(STDIN if args.circuit == "-" else args.circuit, data)


def read_json(path: str):
    """A JSON file (points), decoded; not JSON is invalid input naming the file."""
    data = read_bytes(path)
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        raise Invalid(STDIN if path == "-" else path, [("", f"not JSON: {e}")]) from None


def parse_at(text: str) -> dict[str, float]:
    """``x=1,y=2`` as a point."""
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
