"""Logs as JSON lines, each carrying the request and the job it is about.

A request id names one API request: the caller's ``X-Request-ID`` or one made up by the
API, returned in the answer's header. It is stored in the record of a job the request
created, so the worker's lines about that job carry it too. Both live in context
variables: ``bind(request_id=..., job_id=...)`` for the duration of a request or a task;
every log record then gets them as fields (``ContextFilter``).

``configure(component)`` sets up the root logger of a process: one JSON object per line
on standard error (``CIRCUITGRAD_LOG_FORMAT=text`` for plain lines), at
``CIRCUITGRAD_LOG_LEVEL``::

    {"time": "2026-11-30T12:00:00.123Z", "level": "INFO", "logger": "circuitgrad.worker",
     "message": "job succeeded", "component": "worker", "pid": 4242,
     "request_id": "9f1c...", "job_id": "eded5361..."}
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("circuitgrad_request_id", default="")
_job_id: ContextVar[str] = ContextVar("circuitgrad_job_id", default="")
REQUEST_ID_SHAPE = re.compile(r"^[A-Za-z0-9._:/+=@-]{1,128}$")
FIELDS = ("request_id", "job_id")


def current_request_id() -> str:
    return _request_id.get()


def current_job_id() -> str:
    return _job_id.get()


def new_request_id(offered: str | None = None) -> str:
    """The caller's id when it is a plausible one (printable, at most 128 characters),
    else a new one."""
    if offered and REQUEST_ID_SHAPE.match(offered):
        return offered
    return uuid.uuid4().hex


def set_context(request_id: str | None = None, job_id: str | None = None) -> list:
    """Set the ids; returns the tokens ``reset_context`` needs."""
    tokens = []
    if request_id is not None:
        tokens.append((_request_id, _request_id.set(request_id)))
    if job_id is not None:
        tokens.append((_job_id, _job_id.set(job_id)))
    return tokens


def reset_context(tokens: list) -> None:
    for var, token in reversed(tokens):
        try:
            var.reset(token)
        except ValueError:  # set in another context (a signal handler's): clear instead
            var.set("")


@contextmanager
def bind(request_id: str | None = None, job_id: str | None = None) -> Iterator[None]:
    tokens = set_context(request_id, job_id)
    try:
        yield
    finally:
        reset_context(tokens)


class ContextFilter(logging.Filter):
    """Adds the component, the request id and the job id to every record."""

    def __init__(self, component: str = ""):
        super().__init__()
        self.component = component

    def filter(self, record: logging.LogRecord) -> bool:
        record.component = getattr(record, "component", None) or self.component
        for name, var in (("request_id", _request_id), ("job_id", _job_id)):
            if not getattr(record, name, None):
                setattr(record, name, var.get())
        return True


def _iso(t: float) -> str:
    ms = int(t * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{ms:03d}Z"


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    class Formatter(JsonFormatter):
        def add_fields(self, log_record, record, message_dict):
            super().add_fields(log_record, record, message_dict)
            log_record["time"] = _iso(record.created)
            log_record["level"] = record.levelname
            log_record["logger"] = record.name
            log_record["pid"] = record.process
            for name in ("component", *FIELDS):
                value = getattr(record, name, "")
                if value:
                    log_record[name] = value
                else:
                    log_record.pop(name, None)

    return Formatter("%(message)s", reserved_attrs=[*_RESERVED, "component", *FIELDS])


_RESERVED = [
    "args", "asctime", "created", "exc_info", "exc_text", "filename", "funcName", "levelname",
    "levelno", "lineno", "module", "msecs", "message", "msg", "name", "pathname", "process",
    "processName", "relativeCreated", "stack_info", "thread", "threadName", "taskName",
]  # fmt: skip


def text_formatter() -> logging.Formatter:
    return logging.Formatter(
        "%(asctime)s %(levelname)s %(component)s[%(process)d] %(name)s: %(message)s"
        " request_id=%(request_id)s job_id=%(job_id)s"
    )


def wants_json(env=None) -> bool:
    env = os.environ if env is None else env
    return env.get("CIRCUITGRAD_LOG_FORMAT", "json").strip().lower() != "text"


def handler(component: str, stream=None) -> logging.Handler:
    h = logging.StreamHandler(stream or sys.stderr)
    h.setFormatter(json_formatter() if wants_json() else text_formatter())
    h.addFilter(ContextFilter(component))
    return h


def configure(component: str, level: str | None = None) -> None:
    """The root logger of this process: one handler, JSON lines (or text), our fields."""
    level = (level or os.environ.get("CIRCUITGRAD_LOG_LEVEL", "INFO")).upper()
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler(component))
    root.setLevel(level)


def logging_dict(component: str, level: str) -> dict:
    """The same as ``configure``, as a ``logging.config.dictConfig`` document (gunicorn's
    ``logconfig_dict``), its loggers included."""
    formatter = "json" if wants_json() else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter, "component": component}},
        "formatters": {
            "json": {"()": json_formatter},
            "text": {"()": text_formatter},
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": formatter,
                "filters": ["context"],
            }
        },
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": [], "propagate": True},
            # the API logs each request itself, with its request id (service/observe.py)
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
