"""The CLI's two kinds of failure, and SDK errors turned into them.

    UsageError   exit 2: bad arguments, unreadable file, service unreachable or missing
    Invalid      exit 1: the input is invalid; ``items`` are (JSON pointer, message) pairs
                 located in ``where`` (a file name, ``--expr``, ``--at``...)

``located(where)`` wraps SDK calls: a 422, a 413 or a failed job becomes ``Invalid`` naming
``where``; every other SDK error (connection, key, timeout, no local mode) a ``UsageError``.
"""

from __future__ import annotations

from contextlib import contextmanager

from circuitgrad.client import CircuitgradError, JobFailed, PayloadTooLarge, ValidationError


class UsageError(Exception):
    """Bad arguments or environment: reported like argparse's errors, exit status 2."""


class Invalid(Exception):
    def __init__(self, where: str, items: list[tuple[str, str]]):
        self.where, self.items = where, items
        super().__init__("; ".join(f"{p or '/'}: {m}" for p, m in items))

    def lines(self) -> list[str]:
        return [f"{self.where}: {path or '/'}: {message}" for path, message in self.items]


@contextmanager
def located(where: str):
    """SDK errors inside as ``Invalid`` (located in ``where``) or ``UsageError``."""
    try:
        yield
    except (ValidationError, PayloadTooLarge, JobFailed) as e:
        items = [(item.path, item.message) for item in e.errors]
        if not items:
            detail = (e.problem or {}).get("detail") if isinstance(e, JobFailed) else e.detail
            items = [("", detail or str(e))]
        raise Invalid(where, items) from e
    except CircuitgradError as e:
        raise UsageError(str(e)) from e
