"""circuitgrad.cli — the ``circuitgrad`` command line, a front end above the SDK.

Every computing command goes through ``circuitgrad.client``: ``Client("local")`` (the
service's own app in this process) or ``Client(url)`` with ``--url``/``$CIRCUITGRAD_URL``,
so local and remote share one path. Imports the client and the engine's codec; the
service only for ``serve``/``api``/``worker``, and only when one of those runs.
"""

from .program import main

__all__ = ["main"]
