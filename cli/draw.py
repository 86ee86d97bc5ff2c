"""``circuitgrad draw``: a circuit, or its gradient, as a picture, through the SDK.

    circuitgrad draw CIRCUIT [-o OUT.svg|OUT.dot] [--format svg|dot] [--max-gates N]
                     [--gradient [--mode backward|forward|auto|jvp|vjp|hvp] [--wrt x,y]
                                 [--of f] [--include-value] [--no-simplify] [--no-verify]]

The picture comes from the service (``GET /v1/circuits/{id}/picture``, or for
``--gradient`` the gradient job's ``GET /v1/jobs/{id}/picture``, coloured by where each
gate comes from), local (``Client("local")``) or at ``--url``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .compute import add_gradient_arguments, connect, gradient_job, say, upload
from .errors import UsageError, located
from .program import command
from .sources import add_circuit_arguments, read_source

SUFFIXES = {".svg": "svg", ".dot": "dot", ".gv": "dot"}


def _configure(p: argparse.ArgumentParser) -> None:
    add_circuit_arguments(p)
    p.add_argument(
        "-o", "--output", metavar="OUT", help="write to OUT (.svg, .dot); default standard output"
    )
    p.add_argument(
        "--format", choices=("svg", "dot"), help="svg or dot (default: from OUT's suffix, or svg)"
    )
    p.add_argument(
        "--max-gates",
        type=int,
        metavar="N",
        help="draw gate by gate up to N gates, else a summary (at most the service's limit)",
    )
    p.add_argument(
        "--gradient",
        action="store_true",
        help="draw the gradient circuit, its gates coloured by what produced them",
    )
    add_gradient_arguments(p, note=" (with --gradient)")


def picture_format(args: argparse.Namespace) -> str:
    if args.format is not None:
        return args.format
    if args.output in (None, "-"):
        return "svg"
    suffix = Path(args.output).suffix.lower()
    if suffix not in SUFFIXES:
        raise UsageError(f"-o {args.output}: the file name must end in .svg, .dot or .gv")
    return SUFFIXES[suffix]


@command("draw", "draw a circuit, or its gradient circuit, as SVG or Graphviz DOT", _configure)
def run_draw(args: argparse.Namespace) -> int:
    fmt = picture_format(args)
    if args.max_gates is not None and args.max_gates < 1:
        raise UsageError("--max-gates must be at least 1")
    source = read_source(args)
    with connect(args) as client:
        ref = upload(client, source)
        if args.gradient:
            job = gradient_job(client, ref, source, args)
            with located("result"):
                text = job.picture(format=fmt, max_gates=args.max_gates)
        else:
            with located(source.where):
                text = ref.picture(format=fmt, max_gates=args.max_gates)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot write {args.output}: {e.strerror or e}") from None
    what = "gradient circuit" if args.gradient else "circuit"
    say(args, f"wrote {args.output}: the {what} as {fmt.upper()} ({len(text):,} characters)")
    return 0
