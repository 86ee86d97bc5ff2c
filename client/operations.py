"""Every SDK operation, written once, without I/O (the "sans-IO" style of h11).

An operation is a generator: it yields a ``Call`` when it needs an HTTP exchange (and is
sent back the ``httpx.Response``, or the transport exception) and a ``Sleep`` when it
must wait; it returns its result. ``Client`` runs these generators with blocking I/O and
``AsyncClient`` with ``await`` — so retries, polling, batching and error mapping exist
once and the two clients cannot drift apart.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from . import wire
from .errors import ConnectionFailed, JobCancelled, JobFailed, Timeout, from_problem
from .resources import CircuitRef, Job
from .retry import RETRY_STATUSES, PollSchedule, RetryPolicy, parse_retry_after


@dataclass
class Call:
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = None
    accept: str | None = None
    timeout: float | None = None  # None: the client's default
    retry: bool = True
    params: dict[str, Any] | None = None


@dataclass
class Sleep:
    seconds: float


Op = Generator[Any, Any, Any]
PICTURE_TYPES = {"svg": "image/svg+xml", "dot": "text/vnd.graphviz"}


@dataclass
class Settings:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    content_type: str = wire.MSGPACK  # bodies we send and answers we ask for
    eval_job_points: int = 100_000  # batches larger than this go through evaluation jobs
    request_timeout: float | None = 30.0  # seconds an answer may take (long polls add theirs)
    poll: dict[str, float] = field(default_factory=dict)  # PollSchedule overrides


def _path_id(x: Any) -> str:
    return x.id if isinstance(x, CircuitRef | Job) else str(x)


def _is_circuit(x: Any) -> bool:
    from circuitgrad.engine.core.circuit import Circuit

    return isinstance(x, Circuit)


def _built(x: Any) -> Any:
    """An engine ``Expr`` (output ``f``) or ``{name: Expr}`` as a ``Circuit``; else ``x``."""
    from circuitgrad.engine.building.expr import Expr, build

    if isinstance(x, Expr):
        return build({"f": x})
    if isinstance(x, Mapping) and x and all(isinstance(v, Expr) for v in x.values()):
        return build(dict(x))
    return x


class Operations:
    """The operations; subclasses provide ``_run`` (drive a generator) and ``settings``."""

    settings: Settings

    # -- one exchange, with retries ------------------------------------------------------
    def _request(self, call: Call) -> Op:
        """Send ``call`` until it gets a non-error answer; typed errors otherwise."""
        attempt = 0
        while True:
            outcome = yield call
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 400:
                    return outcome
                err = self._api_error(outcome)
                retryable = outcome.status_code in RETRY_STATUSES
            elif isinstance(outcome, httpx.TimeoutException):
                err = Timeout(f"{call.method} {call.path}: no answer in time ({outcome})")
                err.__cause__, retryable = outcome, True
            else:  # any other transport error: nothing was answered
                err = ConnectionFailed(f"{call.method} {call.path}: {outcome}")
                err.__cause__, retryable = outcome, True
            delay = self.settings.retry.delay(attempt, getattr(err, "retry_after", None))
            if not (call.retry and retryable) or delay is None:
                raise err
            yield Sleep(delay)
            attempt += 1

    def _exchange(self, call: Call) -> Op:
        """``_request`` and the decoded body."""
        response = yield from self._request(call)
        return response, wire.decode(response.content, response.headers.get("content-type"))

    @staticmethod
    def _api_error(response: httpx.Response):
        try:
            problem = wire.decode(response.content, response.headers.get("content-type"))
        except Exception:  # a proxy's HTML page, say: keep the status, drop the body
            problem = None
        if not isinstance(problem, dict):
            problem = {"title": response.reason_phrase, "status": response.status_code}
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return from_problem(response.status_code, problem, retry_after)

    def _body(self, obj: Any) -> tuple[bytes, str]:
        ct = self.settings.content_type
        return wire.encode(obj, ct), ct

    # -- circuits ------------------------------------------------------------------------
    def _ref(self, info: Mapping, circuit=None) -> CircuitRef:
        known = {"id", "inputs", "outputs", "size", "depth", "wires", "nodes"}
        return CircuitRef(
            id=str(info["id"]),
            inputs=list(info["inputs"]) if info.get("inputs") is not None else None,
            outputs=list(info["outputs"]) if info.get("outputs") is not None else None,
            size=info.get("size"),
            depth=info.get("depth"),
            wires=info.get("wires"),
            nodes=info.get("nodes"),
            extra={k: v for k, v in info.items() if k not in known},
            _client=self,
            _circuit=circuit,
        )

    def _upload(self, circuit: Any, inputs=None, output=None) -> Op:
        if isinstance(circuit, CircuitRef):
            return circuit
        circuit = _built(circuit)
        ct = self.settings.content_type
        if isinstance(circuit, bytes | bytearray | memoryview):  # a document's bytes, as is
            if inputs is not None or output is not None:
                raise TypeError("inputs= and output= only apply to expressions")
            content, ct = bytes(circuit), wire.sniff(circuit)
        elif isinstance(circuit, str):
            body = {"expression": circuit}
            if inputs is not None:
                body["inputs"] = list(inputs)
            if output is not None:
                body["output"] = output
            content = wire.encode(body, ct)
        else:
            if inputs is not None or output is not None:
                raise TypeError("inputs= and output= only apply to expressions")
            content = wire.circuit_body(circuit, ct)
        call = Call("POST", "/v1/circuits", content, ct, self.settings.content_type)
        _, info = yield from self._exchange(call)
        return self._ref(info, circuit if _is_circuit(circuit) else None)

    def _resolve(self, circuit: Any) -> Op:
        """A ``CircuitRef`` for anything that names or is a circuit (uploading if needed)."""
        if isinstance(circuit, CircuitRef):
            return circuit
        if isinstance(circuit, str):
            return CircuitRef(circuit, _client=self)
        return (yield from self._upload(circuit))

    def _info(self, ref: Any) -> Op:
        """What the service knows of a stored circuit: its names and measures."""
        circuit_id = _path_id(ref)
        ct = self.settings.content_type
        call = Call("GET", f"/v1/circuits/{circuit_id}", accept=ct)
        response = yield from self._request(call)
        circuit = wire.read_circuit(response.content, response.headers.get("content-type"))
        return self._ref(_describe(circuit_id, circuit), circuit)

    def _download(self, ref: Any) -> Op:
        if isinstance(ref, CircuitRef) and ref._circuit is not None:
            return ref._circuit
        call = Call("GET", f"/v1/circuits/{_path_id(ref)}", accept=self.settings.content_type)
        response = yield from self._request(call)
        circuit = wire.read_circuit(response.content, response.headers.get("content-type"))
        if isinstance(ref, CircuitRef):
            ref._circuit = circuit
        return circuit

    # -- evaluation ----------------------------------------------------------------------
    def _evaluate(self, circuit: Any, points: Any, job: bool | None, timeout) -> Op:
        ref = yield from self._resolve(circuit)
        arrays = not isinstance(points, Mapping) and not (
            isinstance(points, list | tuple) and points and isinstance(points[0], Mapping)
        )
        if arrays and ref.inputs is None:
            ref = yield from self._info(ref)
        payload, count, single = wire.points_payload(points, ref.inputs)
        if count == 0:  # nothing to send; the shape still needs the outputs
            if ref.outputs is None:
                ref = yield from self._info(ref)
            return np.empty((0, len(ref.outputs)))
        as_job = job if job is not None else count > self.settings.eval_job_points
        content, ct = self._body(
            {"points": payload} if not as_job else {"circuit_id": ref.id, "points": payload}
        )
        path = "/v1/evaluations" if as_job else f"/v1/circuits/{ref.id}/evaluate"
        response, doc = yield from self._exchange(Call("POST", path, content, ct, ct))
        if response.status_code == 202 or as_job:  # a job, asked for or made by the service
            evaluation = yield from self._wait(self._job(doc, response=response), timeout)
            url = (evaluation.result or {}).get("values_url", f"/v1/jobs/{evaluation.id}/values")
            _, doc = yield from self._exchange(Call("GET", url, accept=ct))
        m = len(ref.outputs) if ref.outputs is not None else None
        values = wire.values_array(doc.get("values"), m)
        return values[0] if single else values

    # -- jobs ----------------------------------------------------------------------------
    def _gradient(self, circuit, expression, options: dict) -> Op:
        if (circuit is None) == (expression is None):
            raise TypeError("give exactly one of a circuit (or its id) and expression=")
        body: dict[str, Any] = {}
        source = None
        ct = self.settings.content_type
        if expression is not None:
            body["expression"] = expression
        elif isinstance(circuit, CircuitRef | str):
            source = circuit if isinstance(circuit, CircuitRef) else None
            body["circuit_id"] = _path_id(circuit)
        elif isinstance(circuit, bytes | bytearray | memoryview):  # upload as is, then by id
            source = yield from self._upload(circuit)
            body["circuit_id"] = source.id
        else:
            circuit = _built(circuit)
            body["circuit"] = wire.circuit_field(circuit, ct)
            if _is_circuit(circuit):
                source = circuit
        for key, value in options.items():
            if value is not None:
                body[key] = list(value) if key in ("wrt", "of") else value
        content = wire.encode(body, ct)
        response, doc = yield from self._exchange(Call("POST", "/v1/gradients", content, ct, ct))
        expect = _expected_names(source, options)
        return self._job(doc, response=response, expect=expect)

    def _job(self, doc: Mapping, job: Job | None = None, response=None, expect=None) -> Job:
        if job is None:
            job = Job(id=str(doc["id"]), _client=self, _expect=expect)
        job.kind = doc.get("kind", job.kind)
        job.status = doc.get("status", job.status)
        job.progress = float(doc.get("progress", job.progress) or 0.0)
        job.created_at = doc.get("created_at", job.created_at)
        job.updated_at = doc.get("updated_at", job.updated_at)
        job.error = doc.get("error")
        job.raw = dict(doc)
        result = doc.get("result")
        if isinstance(result, Mapping) and "circuit_id" in result:
            info = {**(job._expect or {}), **result, "id": result["circuit_id"]}
            info.pop("circuit_id")
            prior = job.result if isinstance(job.result, CircuitRef) else None
            job.result = prior if prior is not None and prior.id == info["id"] else self._ref(info)
        else:
            job.result = result
        header = response.headers.get("retry-after") if response is not None else None
        job._retry_after = parse_retry_after(header)
        return job

    def _get_job(self, job_id: str) -> Op:
        call = Call("GET", f"/v1/jobs/{job_id}", accept=self.settings.content_type)
        response, doc = yield from self._exchange(call)
        return self._job(doc, response=response)

    def _reload(self, job: Job, wait: float = 0.0) -> Op:
        """Fetch the job again; with ``wait`` the service may hold the answer that many
        seconds until the job is final (a long poll)."""
        call = Call("GET", f"/v1/jobs/{job.id}", accept=self.settings.content_type)
        if wait > 0:
            call.params = {"wait": round(wait, 3)}
            base = self.settings.request_timeout
            call.timeout = None if base is None else base + wait
        response, doc = yield from self._exchange(call)
        return self._job(doc, job, response=response)

    def _cancel(self, job: Job) -> Op:
        call = Call("DELETE", f"/v1/jobs/{job.id}", accept=self.settings.content_type)
        response, doc = yield from self._exchange(call)
        return self._job(doc, job, response=response)

    def _wait(self, job: Job, timeout: float | None) -> Op:
        deadline = None if timeout is None else time.monotonic() + timeout
        schedule = PollSchedule(**self.settings.poll)
        while not job.done:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise Timeout(
                    f"job {job.id} still {job.status} ({job.progress:.0%}) after {timeout}s"
                )
            # long poll for up to the next delay; a service that answers sooner without
            # the job being final (no long polls) is asked again only after the delay
            delay = schedule.next_delay(job._retry_after, remaining)
            started = time.monotonic()
            yield from self._reload(job, wait=delay)
            rest = delay - (time.monotonic() - started)
            if not job.done and rest > 0:
                yield Sleep(rest)
        if job.status == "failed":
            raise JobFailed(job, job.error)
        if job.status == "cancelled":
            raise JobCancelled(job, job.error or {"detail": "the job was cancelled"})
        return job

    # -- pictures ------------------------------------------------------------------------
    def _picture(self, path: str, format: str, max_gates: int | None) -> Op:
        """The text of a picture (``GET .../picture``): SVG or Graphviz DOT."""
        if format not in PICTURE_TYPES:
            raise ValueError(f"format must be one of {', '.join(PICTURE_TYPES)}")
        params: dict[str, Any] = {"format": format}
        if max_gates is not None:
            params["max_gates"] = int(max_gates)
        call = Call("GET", path, accept=PICTURE_TYPES[format], params=params)
        response = yield from self._request(call)
        return response.text

    def _circuit_picture(self, circuit: Any, format: str, max_gates: int | None) -> Op:
        ref = yield from self._resolve(circuit)
        return (yield from self._picture(f"/v1/circuits/{ref.id}/picture", format, max_gates))

    # -- operations ----------------------------------------------------------------------
    def _health(self, path: str) -> Op:
        call = Call("GET", path, accept=wire.JSON, retry=False)
        try:
            _, doc = yield from self._exchange(call)
        except Exception:
            if path.endswith("ready"):
                return False
            raise
        return doc if path.endswith("health") else True


def _describe(circuit_id: str, circuit) -> dict:
    from circuitgrad.engine.core.measures import measures

    m = measures(circuit)
    return {
        "id": circuit_id,
        "inputs": list(circuit.inputs),
        "outputs": list(circuit.output_names),
        **{k: m[k] for k in ("size", "depth", "wires", "nodes")},
    }


def _expected_names(source, options: dict) -> dict | None:
    """The result circuit's input and output names, as the engine's layout fixes them."""
    from types import SimpleNamespace

    from circuitgrad.engine.core.layout import layout, output_names
    from circuitgrad.engine.errors import CircuitError

    if isinstance(source, CircuitRef):
        inputs, outputs = source.inputs, source.outputs
    elif source is not None:
        inputs, outputs = list(source.inputs), list(source.output_names)
    else:
        return None
    if inputs is None or outputs is None:
        return None
    names = SimpleNamespace(inputs=list(inputs), output_names=list(outputs))
    o = options
    try:
        lay = layout(names, o.get("mode") or "backward", o.get("wrt"), o.get("of"),
                     bool(o.get("include_value")))  # fmt: skip
    except CircuitError:  # the service said so already
        return None
    return {"inputs": [*inputs, *lay.extra_inputs], "outputs": output_names(names, lay)}
