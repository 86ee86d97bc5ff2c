"""Errors raised by the engine.

    CircuitError            a document, expression or request is invalid; .errors names each place
    Cancelled               a pass stopped because its caller asked it to

Every place is a JSON pointer (RFC 6901) into the document the caller sent, e.g.
``/gates/12/args/1``, so the service can hand the list on unchanged.
"""

from __future__ import annotations

from typing import NamedTuple

MAX_ERRORS = 50  # errors collected per document before validation stops looking


class ErrorItem(NamedTuple):
    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class CircuitError(ValueError):
    """An invalid circuit document, expression or gradient request.

    ``errors`` lists every offending place found (at most ``MAX_ERRORS``), each a
    JSON pointer and a message.
    """

    def __init__(self, errors: list[ErrorItem] | ErrorItem | str, path: str = ""):
        if isinstance(errors, str):
            errors = [ErrorItem(path, errors)]
        elif isinstance(errors, ErrorItem):
            errors = [errors]
        self.errors: list[ErrorItem] = list(errors)[:MAX_ERRORS]
        shown = "; ".join(f"{e.path or '/'}: {e.message}" for e in self.errors[:5])
        more = len(self.errors) - 5
        super().__init__(shown + (f" (and {more} more)" if more > 0 else ""))


class Cancelled(Exception):
    """Raised inside a pass when its ``should_stop`` hook returns true."""


def pointer(*parts: object) -> str:
    """JSON pointer from path parts, escaping ``~`` and ``/`` as RFC 6901 says."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)
