"""The ``circuitgrad`` command: its parser, the command registry, exit statuses.

    circuitgrad [--version] COMMAND [ARGS]

Exit status: 0 done; 1 the circuit, expression or request is invalid (one line per
offending place on stderr: ``WHERE: POINTER: message``, WHERE being the file, ``--expr``,
``--at``...); 2 usage: bad arguments, an unreadable file, a service that cannot be reached
or refuses the key, a part that is not installed.

A command is a ``Command`` in ``COMMANDS``; ``command()`` adds one (the computing ones live
in ``compute.py``). Modules named in ``PLUGINS`` that define ``register(subparsers)`` add
theirs too: the service's ``serve``, ``api`` and ``worker``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from .errors import Invalid, UsageError

PLUGINS = ("circuitgrad.service.cli",)
INSTALL_HINT = "pip install 'circuitgrad[service]'"


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]  # adds the command's arguments
    run: Callable[[argparse.Namespace], int | None]  # the exit status (None: 0)


COMMANDS: dict[str, Command] = {}


def command(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Decorator: the decorated ``run(args)`` becomes subcommand ``name``."""

    def register(run):
        COMMANDS[name] = Command(name, help, configure, run)
        return run

    return register


def _version() -> str:
    try:
        return version("circuitgrad")
    except PackageNotFoundError:
        return "unknown"


def _plugins() -> list:
    """The plugin modules that import; a plugin whose dependencies are missing is left out
    (its commands then say how to install them), a broken import of ours is not hidden."""
    modules = []
    for name in PLUGINS:
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as e:
            if (e.name or "").startswith("circuitgrad") and not name.startswith(e.name or ""):
                raise
    return modules


def make_parser(plugins=()) -> argparse.ArgumentParser:
    from . import compute, draw, manage  # noqa: F401  -- register the commands

    parser = argparse.ArgumentParser(
        prog="circuitgrad",
        description="Gradient circuits: forward propagation and backpropagation as "
        "circuit-to-circuit passes, in this process or on a circuitgrad service.",
    )
    parser.add_argument("--version", action="version", version=f"circuitgrad {_version()}")
    sub = parser.add_subparsers(dest="command_name", metavar="COMMAND", required=True)
    for c in COMMANDS.values():
        p = sub.add_parser(c.name, help=c.help, description=c.help)
        c.configure(p)
        p.set_defaults(func=c.run)
    for module in plugins:
        register = getattr(module, "register", None)
        if callable(register):
            register(sub)
    return parser


def _missing_dependency(e: ModuleNotFoundError) -> str | None:
    """The message for a third-party module that is not installed, else None."""
    if not e.name or e.name.split(".")[0] == "circuitgrad":
        return None
    return f"this needs the service extra (missing module {e.name!r}): {INSTALL_HINT}"


def main(argv=None) -> int:
    """Run one command; its exit status (0 done, 1 invalid input, 2 usage)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = make_parser(_plugins())
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse printed usage, help or the version
        return e.code if isinstance(e.code, int) else 0 if e.code is None else 2
    name = f"circuitgrad {args.command_name}"
    try:
        return args.func(args) or 0
    except Invalid as e:
        for line in e.lines():
            print(line, file=sys.stderr)
        return 1
    except UsageError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        message = _missing_dependency(e)
        if message is None:
            raise
        print(f"{name}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. piped into head
        return 1
    except KeyboardInterrupt:
        return 130
