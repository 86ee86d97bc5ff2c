"""The SDK's two resources: a stored circuit (``CircuitRef``) and a job (``Job``).

Both are plain records of what the service said, with methods that delegate to the
client that made them. With a ``Client`` the methods return values; with an
``AsyncClient`` they return coroutines to await — one class serves both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FINAL = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(eq=False, repr=False)
class CircuitRef:
    """A circuit stored by the service, named by its content id.

    ``inputs``/``outputs`` (names) and the measures are what the service reported; a
    field the service did not report is ``None``. The same id works from any machine:
    ``client.circuit(id)``.
    """

    id: str
    inputs: list[str] | None = None
    outputs: list[str] | None = None
    size: int | None = None
    depth: int | None = None
    wires: int | None = None
    nodes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # any further fields reported
    _client: Any = None
    _circuit: Any = None  # the engine Circuit, once uploaded from or downloaded here

    @property
    def measures(self) -> dict[str, int | None]:
        return {"size": self.size, "depth": self.depth, "wires": self.wires, "nodes": self.nodes}

    def download(self):
        """The engine ``Circuit`` (fetched once, then kept: a circuit never changes)."""
        return self._client.download(self)

    def evaluate(self, points, **options):
        """Values at ``points`` as a NumPy array; see ``Client.evaluate``."""
        return self._client.evaluate(self, points, **options)

    @property
    def verification(self) -> dict[str, Any] | None:
        """For a derivative computed by the service: the record of its check by central
        differences (``passed``, ``max_relative_error``, ``points``...; docs/modes.md), or
        None when it was not checked (``verify=False``) or this is not a result."""
        return (self.extra.get("certificate") or {}).get("verification")

    def gradient(self, **options):
        """Submit the gradient of this circuit; returns a ``Job``. See ``Client.gradient``."""
        return self._client.gradient(self, **options)

    def picture(self, format: str = "svg", max_gates: int | None = None):
        """The picture of this circuit: SVG text (or DOT with ``format="dot"``); a summary
        past ``max_gates`` gates. See ``Client.picture``."""
        return self._client.picture(self, format=format, max_gates=max_gates)

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a stored circuit as its picture, fetched from the service."""
        return _shown(self._client, lambda: self.picture())

    def delete(self):
        """Delete this circuit for this tenant; see ``Client.delete``."""
        return self._client.delete(self)

    def jvp(self, **options):
        """Submit J·v of this circuit as a circuit; see ``Client.jvp``."""
        return self._client.jvp(self, **options)

    def vjp(self, **options):
        """Submit uᵀ·J of this circuit as a circuit; see ``Client.vjp``."""
        return self._client.vjp(self, **options)

    def hvp(self, **options):
        """Submit H·v of this circuit's one output as a circuit; see ``Client.hvp``."""
        return self._client.hvp(self, **options)

    def __eq__(self, other) -> bool:
        return isinstance(other, CircuitRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{k}={v!r}"
            for k, v in (("inputs", self.inputs), ("outputs", self.outputs), *self.measures.items())
            if v is not None
        )
        return f"CircuitRef({self.id!r}{', ' + shown if shown else ''})"


@dataclass(eq=False, repr=False)
class Job:
    """A gradient or evaluation job. ``status`` is one of ``queued``, ``running``,
    ``succeeded``, ``failed``, ``cancelled``; the last three are final.

    ``result`` is a ``CircuitRef`` for a succeeded gradient job (the gradient circuit) and
    the result document for other kinds; ``error`` is the problem document of a failed one.
    Attributes show the last answer: ``reload()`` asks again, ``wait()`` polls until final.
    """

    id: str
    kind: str = "gradient"
    status: str = "queued"
    progress: float = 0.0
    created_at: str | None = None
    updated_at: str | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict)  # the last job document as sent
    _client: Any = None
    _retry_after: float | None = None  # the last answer's Retry-After, if any
    _expect: dict[str, Any] | None = None  # what we know of the result before it exists

    @property
    def done(self) -> bool:
        return self.status in FINAL

    def reload(self):
        """Fetch the job again; updates this object and returns it."""
        return self._client._reload_job(self)

    def wait(self, timeout: float | None = None):
        """Poll until final (quickly at first, then backing off, honouring ``Retry-After``).

        Returns this job when it succeeded; raises ``JobFailed`` (``JobCancelled``) when it
        failed (was cancelled) and ``Timeout`` when ``timeout`` seconds pass first.
        """
        return self._client._wait_job(self, timeout)

    def picture(self, format: str = "svg", max_gates: int | None = None):
        """The picture of a succeeded gradient job's result: SVG text (or DOT), the source
        circuit's gates set apart from the added ones, each added gate coloured by the
        source wire (backward) or vertex (forward) whose derivative rule produced it."""
        return self._client._job_picture(self, format, max_gates)

    def cancel(self):
        """Cancel the job; a running job stops promptly and writes no result.

        Returns this job, now ``cancelled``; cancelling a job that is already final
        raises ``Conflict``."""
        return self._client._cancel_job(self)

    def __repr__(self) -> str:
        tail = f", result={self.result!r}" if self.result is not None else ""
        return (
            f"Job({self.id!r}, kind={self.kind!r}, status={self.status!r}, "
            f"progress={self.progress:.2f}{tail})"
        )


def _shown(client, fetch) -> str | None:
    """A picture for Jupyter, or None (then it shows the repr): never with an async
    client (a coroutine is no picture), never an exception in a display hook."""
    if client is None or getattr(client, "_asynchronous", False):
        return None
    try:
        return fetch()
    except Exception:
        return None
