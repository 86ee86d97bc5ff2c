"""``Client`` and ``AsyncClient``: one surface, two ways of doing the I/O.

The public methods are written once in ``_Surface``; each hands an operation (a
generator from ``operations.py``) to ``_run``. ``Client._run`` drives it with blocking
calls and returns the result; ``AsyncClient._run`` is a coroutine function, so on an
``AsyncClient`` every method returns an awaitable instead.

``base_url`` ``"local"`` runs the service's own app in this process (``local.py``): no
server, the same surface, the same errors.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx

from . import wire
from .catalog import CatalogOperations, query
from .operations import Call, Operations, Settings, Sleep
from .resources import CircuitRef, Job
from .retry import RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8000"
LOCAL_URLS = ("local", "local:", "local://")
DEFAULT_TIMEOUT = 30.0
USER_AGENT = "circuitgrad-python/0.1"


def _seconds(timeout) -> float | None:
    """The read timeout of a number or an ``httpx.Timeout``."""
    if isinstance(timeout, httpx.Timeout):
        return timeout.read
    return None if timeout is None else float(timeout)


class _Surface(Operations, CatalogOperations):
    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout | None = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        wire_format: str = "msgpack",
        eval_job_points: int = 100_000,
        retry: RetryPolicy | None = None,
        transport: Any = None,
        headers: dict[str, str] | None = None,
    ):
        base_url = base_url or os.environ.get("CIRCUITGRAD_URL") or DEFAULT_URL
        api_key = api_key if api_key is not None else os.environ.get("CIRCUITGRAD_API_KEY")
        if wire_format not in wire.WIRES:
            raise ValueError(f"wire_format must be one of {sorted(wire.WIRES)}")
        self.local = base_url.strip().lower() in LOCAL_URLS
        if self.local:
            if transport is None:
                from .local import local_transport

                transport = local_transport(asynchronous=self._asynchronous)
            base_url = "http://local"
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.settings = Settings(
            retry=retry or RetryPolicy(max_retries=max_retries),
            content_type=wire.WIRES[wire_format],
            eval_job_points=eval_job_points,
            request_timeout=_seconds(timeout),
        )
        sent = {"user-agent": USER_AGENT, **(headers or {})}
        if api_key:
            sent["authorization"] = f"Bearer {api_key}"
        self._http = self._http_client(self.base_url, timeout, transport, sent)

    _asynchronous = False

    def _request_of(self, call: Call) -> httpx.Request:
        headers = {}
        if call.content_type:
            headers["content-type"] = call.content_type
        if call.accept:
            headers["accept"] = f"{call.accept}, application/problem+json"
        timeout = httpx.USE_CLIENT_DEFAULT if call.timeout is None else call.timeout
        return self._http.build_request(
            call.method,
            call.path,
            content=call.body,
            headers=headers,
            params=call.params,
            timeout=timeout,
        )

    # -- circuits ------------------------------------------------------------------------
    def upload(self, circuit: Any, *, inputs=None, output: str | None = None) -> CircuitRef:
        """Store a circuit; returns its ``CircuitRef`` (id, names, measures).

        ``circuit`` is an engine ``Circuit``, a circuit document (dict, row or packed form),
        the bytes of a JSON or msgpack document (sent as they are), or an expression string
        such as ``"(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2"`` (then ``inputs`` orders the inputs
        and ``output`` names the output, default ``f``).
        Uploading the same circuit again returns the same id.
        """
        return self._run(self._upload(circuit, inputs, output))

    def circuit(self, circuit_id: str) -> CircuitRef:
        """The ``CircuitRef`` of a circuit stored earlier (from any machine), by id."""
        return self._run(self._info(circuit_id))

    def download(self, circuit: CircuitRef | str):
        """The stored circuit as an engine ``Circuit``."""
        return self._run(self._download(circuit))

    def evaluate(
        self, circuit: Any, points: Any, *, job: bool | None = None, timeout: float | None = None
    ):
        """The circuit's outputs at ``points`` as a NumPy array.

        ``circuit`` is a ``CircuitRef``, an id, or a circuit to upload first. ``points``: a
        dict of numbers (one point: returns shape ``(m,)``), a dict of columns, a list of
        dicts, or an array of shape ``(n,)`` or ``(N, n)`` in input order (returns
        ``(N, m)``, one column per output). Batches over ``eval_job_points`` points (or any,
        with ``job=True``) run as an evaluation job, waited for up to ``timeout`` seconds.
        """
        return self._run(self._evaluate(circuit, points, job, timeout))

    def picture(self, circuit: Any, *, format: str = "svg", max_gates: int | None = None) -> str:
        """The picture of a circuit as text: SVG (``format="svg"``) or Graphviz DOT
        (``"dot"``). Inputs at the bottom, outputs at the top; a circuit of more than
        ``max_gates`` gates (at most the service's limit, 400 by default) is pictured as
        a summary. ``circuit``: a ``CircuitRef``, an id, or a circuit to upload first."""
        return self._run(self._circuit_picture(circuit, format, max_gates))

    # -- jobs ----------------------------------------------------------------------------
    def gradient(
        self,
        circuit: Any = None,
        *,
        expression: str | None = None,
        mode: str = "backward",
        wrt: list[str] | None = None,
        of: list[str] | None = None,
        include_value: bool = False,
        simplify: bool = True,
        verify: bool = True,
    ) -> Job:
        """Submit a derivative of ``circuit`` (a ``CircuitRef``, an id, an engine ``Circuit``
        or a document) or of ``expression``; returns the ``Job``.

        ``mode``: the Jacobian by ``"backward"`` (backpropagation), ``"forward"`` or
        ``"auto"``; ``"jvp"`` (J·v), ``"vjp"`` (uᵀ·J) or ``"hvp"`` (H·v of one output) as
        circuits with seed inputs ``tangent[x]``/``cotangent[f]`` (docs/modes.md). ``wrt``:
        input names (default all, in order); ``of``: output names (default all);
        ``include_value``: the result also outputs the original outputs, first;
        ``simplify``: simplify the result; ``verify``: the service checks the result by
        central differences and records it (``job.result.verification``). ``job.wait()
        .result`` is the result circuit's ``CircuitRef``.
        """
        options = {
            "mode": mode,
            "wrt": wrt,
            "of": of,
            "include_value": include_value,
            "simplify": simplify,
            "verify": None if verify else False,  # sent only when off: the default
        }
        return self._run(self._gradient(circuit, expression, options))

    def jvp(self, circuit: Any = None, **options) -> Job:
        """``gradient(mode="jvp")``: J·v as a circuit, inputs ``tangent[x]`` per ``wrt``
        input, outputs ``jvp[f]`` per ``of`` output."""
        return self.gradient(circuit, mode="jvp", **options)

    def vjp(self, circuit: Any = None, **options) -> Job:
        """``gradient(mode="vjp")``: uᵀ·J as a circuit, inputs ``cotangent[f]`` per ``of``
        output, outputs ``vjp[x]`` per ``wrt`` input."""
        return self.gradient(circuit, mode="vjp", **options)

    def hvp(self, circuit: Any = None, **options) -> Job:
        """``gradient(mode="hvp")``: H·v of one output (``of``) as a circuit, inputs
        ``tangent[x]`` and outputs ``hvp[x]`` per ``wrt`` input."""
        return self.gradient(circuit, mode="hvp", **options)

    def job(self, job_id: str) -> Job:
        """A job by id, as it is now."""
        return self._run(self._get_job(job_id))

    def _reload_job(self, job: Job):
        return self._run(self._reload(job))

    def _wait_job(self, job: Job, timeout: float | None):
        return self._run(self._wait(job, timeout))

    def _cancel_job(self, job: Job):
        return self._run(self._cancel(job))

    def _job_picture(self, job: Job, format: str, max_gates: int | None):
        return self._run(self._picture(f"/v1/jobs/{job.id}/picture", format, max_gates))

    # -- what the tenant holds -------------------------------------------------------------
    def circuits(self, *, created_after=None, created_before=None, page_size: int | None = None):
        """The tenant's circuits (``CircuitRef``), newest first, page by page as iterated
        (an async iterator on ``AsyncClient``). ``created_after``/``created_before``: a
        datetime (naive: UTC) or an RFC 3339 string; ``extra`` holds ``stored_at`` and
        ``stored_bytes``."""
        params = query(
            page_size=page_size, created_after=created_after, created_before=created_before
        )
        return self._paginate("/v1/circuits", params)

    def jobs(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        created_after=None,
        created_before=None,
        page_size: int | None = None,
    ):
        """The tenant's jobs (``Job``), newest first, filtered by ``status`` (queued,
        running, succeeded, failed, cancelled), ``kind`` (gradient, evaluation) and
        creation time; page by page as iterated (async on ``AsyncClient``)."""
        params = query(
            page_size=page_size,
            created_after=created_after,
            created_before=created_before,
            status=status,
            kind=kind,
        )
        return self._paginate("/v1/jobs", params)

    def delete(self, circuit: CircuitRef | str) -> None:
        """Delete a circuit for this tenant (``NotFound`` if it has none such). The service
        frees its storage once no tenant has it and no running job reads it."""
        return self._run(self._delete_circuit(circuit))

    def usage(self) -> dict:
        """``{"tenant": {circuits, circuit_bytes, jobs, job_bytes, bytes}, "store": {...},
        "retention_seconds"}``: what this tenant holds, and the store as a whole."""
        return self._run(self._usage())

    # -- operations ----------------------------------------------------------------------
    def health(self) -> dict:
        """The service's health document; raises if it does not answer."""
        return self._run(self._health("/v1/health"))

    def ready(self) -> bool:
        """True when the service's store and at least one worker answer."""
        return self._run(self._health("/v1/ready"))

    def __repr__(self) -> str:
        where = "local" if self.local else self.base_url
        return f"{type(self).__name__}({where!r})"


class Client(_Surface):
    """A blocking client. ``Client("local")`` runs the engine in this process.

    >>> client = Client("http://127.0.0.1:8000")
    >>> f = client.upload("(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2")
    >>> grad = f.gradient().wait().result
    >>> grad.evaluate({"x": 1, "y": 2, "z": 3})
    """

    @staticmethod
    def _http_client(base_url, timeout, transport, headers):
        return httpx.Client(
            base_url=base_url, timeout=timeout, transport=transport, headers=headers
        )

    def _run(self, op):
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    value = None
                else:
                    try:
                        value = self._http.send(self._request_of(step))
                    except httpx.TransportError as exc:
                        value = exc
                step = op.send(value)
        except StopIteration as stop:
            return stop.value

    def _paginate(self, path: str, params: dict):
        token = ""
        while True:
            items, token = self._run(self._page(path, params, token))
            yield from items
            if not token:
                return

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class AsyncClient(_Surface):
    """The same surface as ``Client``; every method returns an awaitable.

    >>> async with AsyncClient() as client:
    ...     f = await client.upload("x*y + sin(x)")
    ...     job = await f.gradient()
    ...     await job.wait()
    """

    _asynchronous = True

    @staticmethod
    def _http_client(base_url, timeout, transport, headers):
        return httpx.AsyncClient(
            base_url=base_url, timeout=timeout, transport=transport, headers=headers
        )

    async def _run(self, op):
        import asyncio

        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    value = None
                else:
                    try:
                        value = await self._http.send(self._request_of(step))
                    except httpx.TransportError as exc:
                        value = exc
                step = op.send(value)
        except StopIteration as stop:
            return stop.value

    async def _paginate(self, path: str, params: dict):
        token = ""
        while True:
            items, token = await self._run(self._page(path, params, token))
            for item in items:
                yield item
            if not token:
                return

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()
