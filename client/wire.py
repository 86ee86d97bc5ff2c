"""What the SDK puts on the wire and reads back: envelopes, points and values.

Circuits themselves go through the engine's codec (``circuitgrad.engine.formats.codec``), which
owns the circuit document; this module only wraps them. msgpack is the default: it
carries float64 and non-finite numbers natively and the codec's packed form (typed arrays
as binaries) for large circuits. In JSON, non-finite numbers are the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"`` (http-api.md, Conventions).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import msgpack
import numpy as np
import orjson

from .errors import ErrorItem, ValidationError

MSGPACK = "application/msgpack"
JSON = "application/json"
WIRES = {"msgpack": MSGPACK, "json": JSON}


# -- envelopes -------------------------------------------------------------------------
def _msgpack_default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def _json_number(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def json_safe(obj: Any) -> Any:
    """``obj`` with arrays as lists and non-finite floats as their JSON strings."""
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f" and not np.isfinite(obj).all():
            return [json_safe(x) for x in obj.tolist()]
        return obj.tolist()
    if isinstance(obj, float | np.floating):
        return _json_number(float(obj))
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [json_safe(v) for v in obj]
    return obj


def encode(body: Any, content_type: str) -> bytes:
    if content_type == MSGPACK:
        return msgpack.packb(body, use_bin_type=True, default=_msgpack_default)
    return orjson.dumps(json_safe(body))


def sniff(document: bytes) -> str:
    """The media type of a document's bytes: JSON starts with ``{`` (after white space), a
    msgpack map with a map header byte."""
    head = bytes(document[:64]).lstrip()
    return JSON if head[:1] in (b"{", b"[") else MSGPACK


def decode(content: bytes, content_type: str | None) -> Any:
    """A response body by its media type (JSON and problem+json, or msgpack)."""
    if not content:
        return None
    if content_type and "msgpack" in content_type:
        return msgpack.unpackb(content, raw=False, strict_map_key=False)
    return orjson.loads(content)


# -- circuits --------------------------------------------------------------------------
def circuit_body(circuit: Any, content_type: str) -> bytes:
    """An upload body for an engine ``Circuit`` (codec) or a circuit document (dict)."""
    if isinstance(circuit, Mapping):
        return encode(dict(circuit), content_type)
    from circuitgrad.engine.formats import codec

    if content_type == MSGPACK:
        return codec.to_msgpack(circuit)  # the codec picks the packed form for large ones
    return codec.to_json(circuit)


def circuit_field(circuit: Any, content_type: str) -> dict:
    """A circuit as a value inside a larger body (``{"circuit": ...}`` of a gradient)."""
    if isinstance(circuit, Mapping):
        return dict(circuit)
    from circuitgrad.engine.formats import codec

    if content_type == MSGPACK and circuit.n_gates > codec.PACKED_THRESHOLD:
        return codec.to_packed(circuit)  # binaries: msgpack only
    return codec.to_document(circuit)


def read_circuit(content: bytes, content_type: str | None):
    """A downloaded circuit document as an engine ``Circuit``."""
    from circuitgrad.engine.formats import codec

    if content_type and "msgpack" in content_type:
        return codec.from_msgpack(content)
    return codec.from_json(content)


# -- points and values -----------------------------------------------------------------
def _invalid(path: str, message: str) -> ValidationError:
    err = ValidationError({"title": "Invalid points", "status": 422, "detail": message})
    err.errors = [ErrorItem(path, message)]
    return err


def points_payload(points: Any, inputs: Sequence[str] | None) -> tuple[Any, int | None, bool]:
    """Points as the ``points`` field of an evaluation, their count, and whether the
    caller gave one point (then one row of values comes back, not a matrix).

    Accepted: ``{"x": 1.0, "y": 2.0}`` (one point), ``{"x": array, "y": array}`` (columns,
    scalars broadcast), ``[{"x": 1, "y": 2}, ...]`` (rows), and NumPy arrays or nested
    lists of shape ``(n,)`` or ``(N, n)`` with columns in the circuit's input order.
    """
    if isinstance(points, Mapping):
        cols = {str(k): np.asarray(v, dtype=np.float64) for k, v in points.items()}
        if any(a.ndim > 1 for a in cols.values()):
            bad = next(k for k, a in cols.items() if a.ndim > 1)
            raise _invalid(f"/points/{bad}", "a column must be a number or a 1-D array")
        lengths = {a.shape[0] for a in cols.values() if a.ndim == 1}
        if not lengths:
            return {k: a.reshape(1) for k, a in cols.items()}, 1, True
        if len(lengths) > 1:
            raise _invalid("/points", f"columns have different lengths {sorted(lengths)}")
        n = lengths.pop()
        return {k: np.broadcast_to(a, (n,)) for k, a in cols.items()}, n, False
    if isinstance(points, Sequence) and points and isinstance(points[0], Mapping):
        keys = list(points[0])
        if (
            keys
            and all(isinstance(p, Mapping) and list(p) == keys for p in points)
            and all(type(v) in (int, float) for p in points for v in p.values())
        ):  # plain numbers: as columns; anything else (or no inputs) as rows
            cols = {k: np.array([p[k] for p in points], dtype=np.float64) for k in keys}
            return cols, len(points), False
        return [dict(p) if isinstance(p, Mapping) else p for p in points], len(points), False
    arr = np.asarray(points, dtype=np.float64)
    if inputs is None:
        raise _invalid("/points", "array points need the circuit's input names")
    if arr.size == 0 and arr.ndim <= 2 and (arr.ndim < 2 or arr.shape[1] in (0, len(inputs))):
        return {name: np.empty(0) for name in inputs}, 0, False  # no points: no values
    single = arr.ndim == 1
    if single:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(inputs):
        raise _invalid(
            "/points",
            f"array points must have shape (n,) or (N, n) with n = {len(inputs)} inputs "
            f"{list(inputs)}, got {np.shape(points)}",
        )
    return {name: arr[:, j] for j, name in enumerate(inputs)}, arr.shape[0], single


def values_array(values: Any, n_outputs: int | None = None) -> np.ndarray:
    """``values`` of an evaluation (rows of floats; JSON strings for non-finite) as (N, m)."""
    arr = np.asarray(values if values is not None else [], dtype=np.float64)
    if arr.ndim == 2:
        return arr
    if arr.size == 0:
        return arr.reshape(0, n_outputs or 0)
    return arr.reshape(len(arr), -1)
