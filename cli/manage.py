"""What a service holds for you, each a few SDK calls:

    circuitgrad circuits [--created-after T] [--created-before T] [--limit N] [--json]
    circuitgrad jobs     [--status S] [--kind K] [--created-after T] ... [--json]
    circuitgrad delete   ID [ID ...]
    circuitgrad usage

Newest first, one line per item (tab-separated columns, or with ``--json`` one JSON
object per line). They mean something with ``--url`` (``$CIRCUITGRAD_URL``): local mode
starts empty at every command.
"""

from __future__ import annotations

import argparse
import sys
from itertools import islice

from circuitgrad.client import NotFound
from circuitgrad.client.catalog import JOB_KINDS, JOB_STATUSES

from .compute import connect, print_json
from .errors import UsageError, located
from .program import command
from .sources import add_service_arguments


def _listing_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--created-after", metavar="TIME", help="RFC 3339, e.g. 2026-11-30T00:00:00Z")
    p.add_argument("--created-before", metavar="TIME", help="RFC 3339")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="at most N items")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    add_service_arguments(p)


def _jobs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", choices=JOB_STATUSES)
    p.add_argument("--kind", choices=JOB_KINDS)
    _listing_arguments(p)


def _line(*columns) -> None:
    sys.stdout.write("\t".join("" if c is None else str(c) for c in columns) + "\n")


@command("circuits", "list the service's circuits of this key's tenant, newest first",
         _listing_arguments)  # fmt: skip
def run_circuits(args: argparse.Namespace) -> int:
    with connect(args) as client, located("--url"):
        found = client.circuits(
            created_after=args.created_after, created_before=args.created_before
        )
        for ref in islice(found, args.limit):
            if args.json:
                print_json({"id": ref.id, "inputs": ref.inputs, "outputs": ref.outputs,
                            **ref.measures, **ref.extra})  # fmt: skip
            else:
                io = f"{','.join(ref.inputs or [])} -> {','.join(ref.outputs or [])}"
                _line(
                    ref.id, ref.extra.get("stored_at"), ref.size, ref.extra.get("stored_bytes"), io
                )
    return 0


@command("jobs", "list the service's jobs of this key's tenant, newest first", _jobs_arguments)
def run_jobs(args: argparse.Namespace) -> int:
    with connect(args) as client, located("--url"):
        found = client.jobs(
            status=args.status,
            kind=args.kind,
            created_after=args.created_after,
            created_before=args.created_before,
        )
        for job in islice(found, args.limit):
            if args.json:
                print_json(job.raw)
            else:
                _line(job.id, job.kind, job.status, job.created_at, job.raw.get("circuit_id"))
    return 0


def _delete_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("ids", nargs="+", metavar="ID", help="circuit ids")
    add_service_arguments(p)


@command("delete", "delete circuits of this key's tenant from the service", _delete_arguments)
def run_delete(args: argparse.Namespace) -> int:
    missing = []
    with connect(args) as client, located("--url"):
        for circuit_id in args.ids:
            try:
                client.delete(circuit_id)
            except NotFound:
                missing.append(circuit_id)
    if missing:
        raise UsageError(f"no such circuit: {', '.join(missing)}")
    return 0


@command("usage", "what this key's tenant holds on the service, and the store's size",
         add_service_arguments)  # fmt: skip
def run_usage(args: argparse.Namespace) -> int:
    with connect(args) as client, located("--url"):
        print_json(client.usage())
    return 0
