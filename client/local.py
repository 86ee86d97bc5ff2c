"""Local mode: the HTTP API of http-api.md answered in this process by the engine.

``Client("local")`` talks to a ``LocalService`` through an httpx transport, so the SDK runs
exactly the code it runs against a server — same encodings, same problem documents, same
typed errors — with no server, Redis or worker: for notebooks and tests. Circuits and jobs
live in memory; gradient and evaluation jobs run on a small thread pool, report progress,
and stop when cancelled (the engine's ``should_stop`` hook).
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import numpy as np

from . import wire

GRADIENT_OPTIONS = {"mode", "wrt", "of", "include_value", "simplify"}
_TITLES = {
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
}


class Problem(Exception):
    def __init__(self, status: int, detail: str, errors: list | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors

    def document(self) -> dict:
        doc = {
            "type": "about:blank",
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            doc["errors"] = self.errors
        return doc


def _invalid(exc) -> Problem:
    """An engine ``CircuitError`` as the 422 the service would answer."""
    errors = [{"path": e.path, "message": e.message} for e in exc.errors]
    return Problem(422, str(exc), errors)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _strict(body: Any, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(body, dict):
        raise Problem(422, "the body must be an object", [{"path": "", "message": "not an object"}])
    errors = [{"path": f"/{k}", "message": "unknown field"} for k in body if k not in allowed]
    errors += [{"path": f"/{k}", "message": "required"} for k in sorted(required - set(body))]
    if errors:
        raise Problem(422, "invalid request body", errors)
    return body


class LocalService:
    """An in-memory stand-in for ``circuitgrad serve`` built on the engine."""

    def __init__(self, workers: int = 2):
        self._circuits: dict[str, Any] = {}
        self._jobs: dict[str, dict] = {}
        self._stops: dict[str, threading.Event] = {}  # set: the job should stop
        self._done: dict[str, threading.Event] = {}  # set: the job is final
        self._evaluated: dict[str, dict] = {}  # values of evaluation jobs
        self._by_request: dict[tuple, str] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="circuitgrad-local")

    def transport(self, asynchronous: bool = False):
        return _AsyncTransport(self) if asynchronous else _Transport(self)

    def close(self) -> None:
        """Stop running jobs and the thread pool."""
        with self._lock:
            for event in self._stops.values():
                event.set()
        self._pool.shutdown(wait=True, cancel_futures=True)

    # -- dispatch ------------------------------------------------------------------------
    _ROUTES = [
        ("GET", re.compile(r"/v1/health"), "health"),
        ("GET", re.compile(r"/v1/ready"), "health"),
        ("POST", re.compile(r"/v1/circuits"), "create_circuit"),
        ("GET", re.compile(r"/v1/circuits/(?P<cid>[^/]+)"), "get_circuit"),
        ("POST", re.compile(r"/v1/circuits/(?P<cid>[^/]+)/evaluate"), "evaluate"),
        ("POST", re.compile(r"/v1/gradients"), "submit_gradient"),
        ("POST", re.compile(r"/v1/evaluations"), "submit_evaluation"),
        ("GET", re.compile(r"/v1/jobs/(?P<jid>[^/]+)"), "get_job"),
        ("GET", re.compile(r"/v1/jobs/(?P<jid>[^/]+)/values"), "job_values"),
        ("DELETE", re.compile(r"/v1/jobs/(?P<jid>[^/]+)"), "cancel_job"),
    ]

    def handle(self, request: httpx.Request) -> httpx.Response:
        method, path, headers = request.method, request.url.path, request.headers
        accept = headers.get("accept", "")
        answer_type = wire.MSGPACK if "msgpack" in accept else wire.JSON
        try:
            matches = [
                (verb, name, m)
                for verb, pattern, name in self._ROUTES
                if (m := pattern.fullmatch(path))
            ]
            route = next(((name, m) for verb, name, m in matches if verb == method), None)
            if route is None:
                if matches:
                    raise Problem(405, f"{method} is not allowed on {path}")
                raise Problem(404, f"no such resource {path}")
            name, match = route
            body = self._read(request.content, headers.get("content-type", ""))
            handler = getattr(self, name)
            status, doc, extra = handler(body, request.url.params, **match.groupdict())
        except Problem as p:
            return httpx.Response(
                p.status,
                content=wire.encode(p.document(), wire.JSON),
                headers={"content-type": "application/problem+json"},
            )
        if isinstance(doc, dict):
            content = wire.encode(doc, answer_type)
        else:  # a circuit: the codec writes it
            from circuitgrad.engine.formats import codec

            msgpack = answer_type == wire.MSGPACK
            content = codec.to_msgpack(doc) if msgpack else codec.to_json(doc)
        return httpx.Response(
            status, content=content, headers={"content-type": answer_type, **extra}
        )

    @staticmethod
    def _read(content: bytes, content_type: str):
        if not content:
            return None
        if "msgpack" not in content_type and "json" not in content_type:
            raise Problem(415, f"unsupported media type {content_type!r}")
        try:
            return wire.decode(content, content_type)
        except Exception as exc:
            raise Problem(400, f"unparseable body: {exc}") from exc

    # -- circuits ------------------------------------------------------------------------
    def health(self, body, query):
        return 200, {"status": "ok", "mode": "local"}, {}

    def _store(self, circuit) -> tuple[str, bool]:
        from circuitgrad.engine.formats import codec

        cid = codec.content_id(circuit)
        with self._lock:
            new = cid not in self._circuits
            self._circuits.setdefault(cid, circuit)
        return cid, new

    def _circuit(self, cid: str):
        circuit = self._circuits.get(cid)
        if circuit is None:
            raise Problem(404, f"no circuit {cid}")
        return circuit

    @staticmethod
    def _parse(body) -> Any:
        """A circuit from a document or an ``{"expression": ...}`` body."""
        from circuitgrad.engine.formats import codec
        from circuitgrad.engine.errors import CircuitError
        from circuitgrad.engine.building.parser import parse_expression

        try:
            if isinstance(body, dict) and "expression" in body:
                body = _strict(body, {"expression", "inputs", "output"}, {"expression"})
                return parse_expression(
                    body["expression"], body.get("inputs"), body.get("output") or "f"
                )
            return codec.from_document(body)
        except CircuitError as exc:
            raise _invalid(exc) from exc

    def _info(self, cid: str, circuit) -> dict:
        from circuitgrad.engine.core.measures import measures

        m = measures(circuit)
        return {
            "id": cid,
            **{k: m[k] for k in ("size", "depth", "wires", "nodes")},
            "inputs": list(circuit.inputs),
            "outputs": list(circuit.output_names),
        }

    def create_circuit(self, body, query):
        circuit = self._parse(body)
        cid, new = self._store(circuit)
        return (201 if new else 200), self._info(cid, circuit), {"location": f"/v1/circuits/{cid}"}

    def get_circuit(self, body, query, cid):
        return 200, self._circuit(cid), {}

    def _points(self, circuit, points) -> dict[str, np.ndarray]:
        names = set(circuit.inputs)
        if isinstance(points, list):
            errors = []
            for i, row in enumerate(points):
                if not isinstance(row, dict):
                    errors.append({"path": f"/points/{i}", "message": "a point is an object"})
                    continue
                errors += [
                    {"path": f"/points/{i}/{k}", "message": "not an input"}
                    for k in row
                    if k not in names
                ]
                errors += [
                    {"path": f"/points/{i}", "message": f"missing input {k!r}"}
                    for k in circuit.inputs
                    if k not in row
                ]
            if errors:
                raise Problem(422, "invalid points", errors)
            points = {k: [row[k] for row in points] for k in circuit.inputs}
        if not isinstance(points, dict):
            raise Problem(
                422,
                "points: a list of objects or an object of columns",
                [{"path": "/points", "message": "wrong type"}],
            )
        errors = [
            {"path": f"/points/{k}", "message": "not an input"} for k in points if k not in names
        ]
        errors += [
            {"path": "/points", "message": f"missing input {k!r}"}
            for k in circuit.inputs
            if k not in points
        ]
        if errors:
            raise Problem(422, "invalid points", errors)
        try:
            cols = {k: np.asarray(points[k], dtype=np.float64).reshape(-1) for k in circuit.inputs}
        except (TypeError, ValueError) as exc:
            raise Problem(
                422,
                f"points must be numbers: {exc}",
                [{"path": "/points", "message": "not a number"}],
            ) from exc
        if len({len(c) for c in cols.values()}) > 1:
            raise Problem(
                422,
                "columns of different lengths",
                [{"path": "/points", "message": "columns of different lengths"}],
            )
        return cols

    def _values(self, circuit, points) -> dict:
        from circuitgrad.engine.evaluation.evaluate import evaluate

        cols = self._points(circuit, points)
        n = len(next(iter(cols.values()))) if cols else 1
        values = evaluate(circuit, cols) if cols else evaluate(circuit, np.empty((n, 0)))
        return {"outputs": list(circuit.output_names), "values": np.asarray(values)}

    def evaluate(self, body, query, cid):
        circuit = self._circuit(cid)
        body = _strict(body, {"points"}, {"points"})
        return 200, self._values(circuit, body["points"]), {}

    # -- jobs ----------------------------------------------------------------------------
    def _new_job(self, kind: str, run, key=None, before_start=None) -> dict:
        with self._lock:
            if key is not None and key in self._by_request:
                job = self._jobs[self._by_request[key]]
                if job["status"] not in ("failed", "cancelled"):
                    return dict(job)
            jid = uuid.uuid4().hex
            now = _now()
            job = {
                "id": jid,
                "kind": kind,
                "status": "queued",
                "progress": 0.0,
                "created_at": now,
                "updated_at": now,
                "result": None,
                "error": None,
            }
            self._jobs[jid] = job
            self._stops[jid] = threading.Event()
            self._done[jid] = threading.Event()
            if key is not None:
                self._by_request[key] = jid
        if before_start is not None:
            before_start(jid)
        self._pool.submit(self._work, jid, run)
        return dict(job)

    def _update(self, jid: str, **fields) -> bool:
        """Change a job unless it is already final (a final status never changes)."""
        with self._lock:
            job = self._jobs[jid]
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return False
            job.update(fields, updated_at=_now())
            if job["status"] in ("succeeded", "failed", "cancelled"):
                self._done[jid].set()
            return True

    def _work(self, jid: str, run) -> None:
        from circuitgrad.engine.errors import Cancelled, CircuitError

        stop = self._stops[jid]
        if stop.is_set() or not self._update(jid, status="running"):
            return

        def progress(fraction: float) -> None:
            self._update(jid, progress=float(min(max(fraction, 0.0), 1.0)))

        try:
            result = run(progress, stop.is_set)
        except Cancelled:
            self._update(jid, status="cancelled")
        except CircuitError as exc:
            self._update(jid, status="failed", error=_invalid(exc).document())
        except Exception as exc:  # an engine bug must fail the job, never the pool
            self._update(
                jid, status="failed", error=Problem(500, f"{type(exc).__name__}: {exc}").document()
            )
        else:
            self._update(jid, status="succeeded", progress=1.0, result=result)

    def submit_gradient(self, body, query):
        from circuitgrad.engine.passes.gradient import differentiate

        body = _strict(body, {"circuit_id", "circuit", "expression"} | GRADIENT_OPTIONS)
        sources = [k for k in ("circuit_id", "circuit", "expression") if k in body]
        if len(sources) != 1:
            raise Problem(
                422,
                "give exactly one of circuit_id, circuit, expression",
                [{"path": "", "message": "exactly one of circuit_id, circuit, expression"}],
            )
        if "circuit_id" in body:
            cid = str(body["circuit_id"])
            circuit = self._circuit(cid)
        else:
            source = body.get("circuit") or {"expression": body["expression"]}
            circuit = self._parse(source)
            cid, _ = self._store(circuit)
        options = {k: body[k] for k in GRADIENT_OPTIONS if k in body}
        self._check_names(circuit, options)

        def run(progress, should_stop):
            g = differentiate(circuit, progress=progress, should_stop=should_stop, **options)
            rid, _ = self._store(g.circuit)
            info = self._info(rid, g.circuit)
            del info["id"], info["inputs"]
            return {"circuit_id": rid, **info, "mode": g.mode, "certificate": g.certificate()}

        key = (cid, repr(sorted(options.items())))
        job = self._new_job("gradient", run, key)
        return 202, job, {"location": f"/v1/jobs/{job['id']}"}

    @staticmethod
    def _check_names(circuit, options) -> None:
        """The 422s the service answers at submission: unknown mode, unknown, repeated
        or no names in ``wrt``/``of``."""
        from circuitgrad.engine.errors import CircuitError
        from circuitgrad.engine.passes.gradient import MODES
        from circuitgrad.engine.passes.propagate import resolve

        if options.get("mode", "backward") not in MODES:
            raise Problem(
                422,
                "invalid mode",
                [{"path": "/mode", "message": f"must be one of {', '.join(MODES)}"}],
            )
        try:
            resolve(circuit, options.get("wrt"), options.get("of"))
        except CircuitError as exc:
            raise _invalid(exc) from exc

    def submit_evaluation(self, body, query):
        body = _strict(body, {"circuit_id", "points"}, {"circuit_id", "points"})
        circuit = self._circuit(str(body["circuit_id"]))
        self._points(circuit, body["points"])  # a 422 now rather than a failed job

        def run(progress, should_stop):
            values = self._values(circuit, body["points"])
            self._evaluated[jid_box[0]] = values
            return {
                "outputs": values["outputs"],
                "points": len(values["values"]),
                "values_url": f"/v1/jobs/{jid_box[0]}/values",
            }

        jid_box: list[str] = []
        job = self._new_job("evaluation", run, before_start=jid_box.append)
        return 202, job, {"location": f"/v1/jobs/{job['id']}"}

    def get_job(self, body, query, jid):
        """The job; ``?wait=S`` holds the answer until it is final or S seconds passed."""
        done = self._done.get(jid)
        if done is not None and query.get("wait"):
            done.wait(min(float(query["wait"]), 60.0))
        with self._lock:
            job = self._jobs.get(jid)
            if job is None:
                raise Problem(404, f"no job {jid}")
            return 200, dict(job), {}

    def job_values(self, body, query, jid):
        with self._lock:
            job = self._jobs.get(jid)
            if job is None:
                raise Problem(404, f"no job {jid}")
            if job["kind"] != "evaluation" or job["status"] != "succeeded":
                raise Problem(409, f"job {jid} is a {job['kind']} job, {job['status']}")
        return 200, self._evaluated[jid], {}

    def cancel_job(self, body, query, jid):
        with self._lock:
            job = self._jobs.get(jid)
            if job is None:
                raise Problem(404, f"no job {jid}")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                raise Problem(409, f"job {jid} is already {job['status']}")
            self._stops[jid].set()
            self._done[jid].set()
            job.update(status="cancelled", updated_at=_now())
            return 200, dict(job), {}


class _Transport(httpx.BaseTransport):
    def __init__(self, service: LocalService):
        self.service = service

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        return self.service.handle(request)


class _AsyncTransport(httpx.AsyncBaseTransport):
    def __init__(self, service: LocalService):
        self.service = service

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        return await asyncio.to_thread(self.service.handle, request)
