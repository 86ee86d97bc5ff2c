"""The computing commands, each a few SDK calls:

    circuitgrad grad  CIRCUIT [--mode backward|forward|auto|jvp|vjp|hvp] [--wrt x,y]
                      [--of f] [--include-value] [--no-simplify] [--no-verify]
                      [-o OUT.json|OUT.msgpack]
    circuitgrad eval  CIRCUIT (--at x=1,y=2,z=3 ... | --points FILE)
    circuitgrad stats CIRCUIT

CIRCUIT is a file, ``-`` or ``--expr TEXT`` (``sources.py``). Every command runs on
``Client("local")`` — the service's app in this process — or, with ``--url``, on a service.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import orjson

from circuitgrad.client import CircuitRef, Client
from circuitgrad.engine.core.layout import MODES
from circuitgrad.engine.formats.codec import dump, jsonable

from .errors import Invalid, UsageError, located
from .program import command
from .sources import (
    STDIN,
    Source,
    add_circuit_arguments,
    names,
    parse_at,
    read_json,
    read_source,
)

WHAT = {"jvp": "J·v", "vjp": "uᵀ·J", "hvp": "H·v"}  # what a directional mode's outputs are
JOB_TIMEOUT_SECONDS = None  # wait for a job as long as it takes (Ctrl-C stops)


def connect(args: argparse.Namespace) -> Client:
    """The SDK client: the service at ``--url``, else the local one."""
    with located("--url"):
        return Client(args.url or "local", api_key=args.api_key, timeout=60.0)


def upload(client: Client, source: Source) -> CircuitRef:
    with located(source.where):
        if source.inputs is not None:
            return client.upload(source.value, inputs=source.inputs)
        return client.upload(source.value)


def print_json(value) -> None:
    sys.stdout.buffer.write(orjson.dumps(jsonable(value)) + b"\n")
    sys.stdout.buffer.flush()


def say(args: argparse.Namespace, message: str) -> None:
    print(f"circuitgrad {args.command_name}: {message}", file=sys.stderr, flush=True)


# -- grad ---------------------------------------------------------------------------------
def add_gradient_arguments(p: argparse.ArgumentParser, note: str = "") -> None:
    """The options of a gradient job (``gradient_job`` reads them); ``note`` ends each help."""
    p.add_argument(
        "--mode",
        choices=MODES,
        default="backward",
        help="the Jacobian by forward or backward propagation, or auto: the smaller "
        "(default backward); jvp, vjp, hvp: J·v, uᵀ·J, H·v as circuits with inputs "
        f"tangent[x] / cotangent[f] (docs/modes.md){note}",
    )
    p.add_argument(
        "--wrt",
        type=names,
        metavar="x,y,...",
        help=f"inputs to differentiate by (default all){note}",
    )
    p.add_argument(
        "--of", type=names, metavar="f,g,...", help=f"outputs to differentiate (default all){note}"
    )
    p.add_argument(
        "--include-value",
        action="store_true",
        help=f"the result also outputs the circuit's own outputs, first{note}",
    )
    p.add_argument(
        "--no-simplify",
        dest="simplify",
        action="store_false",
        help=f"keep the raw result of the propagation{note}",
    )
    p.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help=f"skip the check of the result by central differences (very large circuits){note}",
    )


def _configure_grad(p: argparse.ArgumentParser) -> None:
    add_circuit_arguments(p)
    add_gradient_arguments(p)
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="write to OUT (.json or .msgpack); default JSON on standard output",
    )


def gradient_job(client: Client, ref: CircuitRef, source: Source, args):
    """Submit the gradient ``add_gradient_arguments``'s options ask for and wait for it;
    errors located."""
    with located("request"):
        job = client.gradient(
            ref,
            mode=args.mode,
            wrt=args.wrt,
            of=args.of,
            include_value=args.include_value,
            simplify=args.simplify,
            verify=args.verify,
        )
    with located(source.where):
        job.wait(timeout=JOB_TIMEOUT_SECONDS)
    return job


def describe_gradient(job, out: str) -> list[str]:
    """What ``grad`` says on stderr: where it wrote what, and why that mode."""
    result = job.result
    cert = (job.raw.get("result") or {}).get("certificate") or {}
    mode = (job.raw.get("result") or {}).get("mode") or cert.get("mode", "?")
    where = "standard output" if out in (None, "-") else out
    count = len(result.outputs or [])
    what = (
        f"{count} {WHAT[mode]} outputs ({mode})"
        if mode in WHAT
        else f"{count} partial derivative outputs by {mode} propagation"
    )
    lines = [
        f"wrote {where}: {what} (size {result.size}, {result.wires} wires, depth {result.depth})"
    ]
    predicted = cert.get("predicted")
    if predicted:
        sizes = ", ".join(f"{k} {round(v):,}" for k, v in sorted(predicted.items()))
        lines.append(f"auto mode chose {mode}: predicted raw sizes {sizes}")
    if "theorem3_bound" in cert:
        raw = cert.get("raw", {}).get("size")
        within = "within" if cert.get("within_bound") else "NOT within"
        lines.append(f"raw size {raw}, {within} Theorem 3's bound {cert['theorem3_bound']}")
    check = cert.get("verification")
    if check is not None:
        lines.append(describe_check(check))
    return lines


def describe_check(check: dict) -> str:
    if check.get("passed") is None:
        return f"not verified: {check.get('reason', 'no comparison could be made')}"
    verdict = "verified" if check["passed"] else "VERIFICATION FAILED"
    return (
        f"{verdict} by central differences at {len(check.get('candidates', []))} points: "
        f"max relative error {check['max_relative_error']:.2g} "
        f"(tolerance {check['tolerance']:g})"
    )


@command("grad", "write the gradient (Jacobian), J·v, uᵀ·J or H·v circuit", _configure_grad)
def run_grad(args: argparse.Namespace) -> int:
    out = args.output
    if out not in (None, "-") and Path(out).suffix.lower() not in (".json", ".msgpack"):
        raise UsageError(f"-o {out}: the file name must end in .json or .msgpack")
    source = read_source(args)
    with connect(args) as client:
        ref = upload(client, source)
        job = gradient_job(client, ref, source, args)
        with located("result"):
            circuit = job.result.download()
    dump(circuit, out or "-")
    for line in describe_gradient(job, out):
        say(args, line)
    return 0


# -- eval ---------------------------------------------------------------------------------
def _configure_eval(p: argparse.ArgumentParser) -> None:
    add_circuit_arguments(p)
    p.add_argument(
        "--at",
        action="append",
        metavar="x=1,y=2,...",
        help="a point (repeatable: one row of values per --at)",
    )
    p.add_argument(
        "--points",
        metavar="FILE",
        help="JSON points, as in the HTTP API: a list of {input: value} objects, one "
        '{input: [values]} object of columns, or a {"points": ...} request body',
    )


def read_points(args: argparse.Namespace) -> tuple[str, object]:
    """(where, points) from ``--at`` or ``--points``."""
    if (args.at is None) == (args.points is None):
        raise UsageError("give the points with --at (repeatable) or with --points FILE")
    if args.points == "-" and args.circuit == "-":
        raise UsageError("the circuit and the points cannot both come from standard input")
    if args.at is not None:
        return "--at", [parse_at(text) for text in args.at]
    points = read_json(args.points)
    if isinstance(points, dict) and list(points) == ["points"]:
        points = points["points"]  # an HTTP request body
    return (STDIN if args.points == "-" else args.points), points


@command("eval", "evaluate a circuit at points", _configure_eval)
def run_eval(args: argparse.Namespace) -> int:
    where, points = read_points(args)
    source = read_source(args)
    with connect(args) as client:
        ref = upload(client, source)
        if isinstance(points, list) and not points:  # no points: no values
            values = np.empty((0, len(ref.outputs or [])))
        elif not isinstance(points, list | dict):
            raise Invalid(where, [("", "must be a list of objects or an object of columns")])
        else:
            with located(where):
                values = client.evaluate(ref, points, timeout=JOB_TIMEOUT_SECONDS)
    values = np.atleast_2d(values) if values.ndim == 1 else values
    print_json({"outputs": list(ref.outputs or []), "values": values.tolist()})
    return 0


# -- stats --------------------------------------------------------------------------------
MEASURES = ("size", "wires", "depth", "nodes", "ops")


@command("stats", "print size, wires, depth, nodes and op counts as JSON", add_circuit_arguments)
def run_stats(args: argparse.Namespace) -> int:
    source = read_source(args)
    with connect(args) as client:
        ref = upload(client, source)
    found = {**ref.measures, "ops": ref.extra.get("ops")}
    print_json({k: found[k] for k in MEASURES})
    return 0
