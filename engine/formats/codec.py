"""The one codec of circuit documents: JSON and msgpack, row and packed form, content ids.

    from_document(doc, base_path="")   decoded document (row or packed form) -> Circuit
    to_document(c) / to_packed(c)      Circuit -> row / packed document (a dict)
    from_json / to_json                bytes <-> Circuit (non-finite numbers as strings)
    from_msgpack / to_msgpack          bytes <-> Circuit (row or packed form)
    content_id(c)                      "c_" + 32 hex digits, the hash of the canonical form
    load(path) / dump(c, path)         by extension: .json, .msgpack ("-": stdin/stdout)
    jsonable(x) / from_jsonable(x)     non-finite floats <-> "NaN", "Infinity", "-Infinity"

The formats are described in docs/circuit-format.md. Every decoding error is a
``CircuitError`` whose items point into the document.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Mapping
from pathlib import Path

import msgpack
import numpy as np
import orjson

from ..core import ops
from ..core.circuit import Circuit
from ..errors import CircuitError, ErrorItem
from ..gcpause import gc_paused
from .checks import NONFINITE
from .packed import PACKED_FORMAT, canonical_gates, from_packed, gate_labels, to_packed
from .validate import ROW_FORMAT, from_rows

__all__ = [
    "from_document",
    "to_document",
    "to_packed",
    "from_json",
    "to_json",
    "from_msgpack",
    "to_msgpack",
    "content_id",
    "load",
    "dump",
    "jsonable",
    "from_jsonable",
]

PACKED_THRESHOLD = 10_000  # gates above which to_msgpack writes the packed form by default
_OP_NAMES = np.array([op.name for op in ops.OPS], dtype=object)


# -- documents ---------------------------------------------------------------------------
def from_document(doc, base_path: str = "") -> Circuit:
    """Validate a decoded document, row or packed form, and build its Circuit.

    Raises ``CircuitError`` listing every problem found (JSON pointers below ``base_path``).
    """
    fmt = doc.get("format") if isinstance(doc, Mapping) else None
    with gc_paused():
        if type(fmt) is str and fmt == PACKED_FORMAT:
            return from_packed(doc, base_path)
        return from_rows(doc, base_path)


def _nonfinite_text(values: list, array: np.ndarray) -> list:
    for k in np.flatnonzero(~np.isfinite(array)).tolist():
        values[k] = (
            "NaN" if math.isnan(values[k]) else ("Infinity" if values[k] > 0 else "-Infinity")
        )
    return values


def _document(c: Circuit, nonfinite_as_text: bool) -> dict:
    op, arity, args, coeffs, param = canonical_gates(c)
    n = c.n_inputs
    ends = np.cumsum(arity)
    starts = (ends - arity).tolist()
    ends = ends.tolist()
    args_list = args.tolist()
    with gc_paused():
        rows = [
            {"op": name, "args": args_list[s:e]}
            for name, s, e in zip(_OP_NAMES[op].tolist(), starts, ends, strict=True)
        ]

        # the few gates that say more than op and args
        coeff_list = coeffs.tolist()
        param_list = param.tolist()
        if nonfinite_as_text:
            _nonfinite_text(coeff_list, coeffs)
            _nonfinite_text(param_list, param)
        gate_of = np.repeat(np.arange(len(op)), arity)
        for i in np.unique(gate_of[coeffs != 1.0]).tolist():
            rows[i]["coeffs"] = coeff_list[starts[i] : ends[i]]
        for o in ops.GATE_OPS:
            if o.param is None:
                continue
            for i in np.flatnonzero(op == o.code).tolist():
                if o.min_args == o.max_args == 0:
                    rows[i] = {"op": o.name, o.param: param_list[i]}
                else:
                    rows[i][o.param] = param_list[i]
        for v, label in gate_labels(c).items():
            rows[v - n]["name"] = label
    return {
        "format": ROW_FORMAT,
        "inputs": list(c.inputs),
        "gates": rows,
        "outputs": c.outputs.tolist(),
        "output_names": list(c.output_names),
    }


def to_document(c: Circuit) -> dict:
    """The row form (non-finite numbers stay floats; ``to_json`` writes them as strings)."""
    return _document(c, nonfinite_as_text=False)


# -- JSON --------------------------------------------------------------------------------
def from_json(data: bytes | str, base_path: str = "") -> Circuit:
    with gc_paused():
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise CircuitError([ErrorItem("", f"malformed JSON: {e}")]) from None
        circuit = from_document(doc, base_path)
        # free the million decoded containers while the collector is still paused: alive
        # at re-enabling, the next allocation would make it walk all of them (≈ 0.3 s)
        del doc
        return circuit


def to_json(c: Circuit) -> bytes:
    return orjson.dumps(_document(c, nonfinite_as_text=True))


def jsonable(x):
    """``x`` with every non-finite float replaced by "NaN", "Infinity" or "-Infinity"
    (lists, tuples, dicts and NumPy arrays are walked; arrays become lists)."""
    if isinstance(x, float):
        if math.isfinite(x):
            return x
        return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f" and np.isfinite(x).all():
            return x.tolist()
        return jsonable(x.tolist())
    if isinstance(x, Mapping):
        return {k: jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return jsonable(x.item())
    return x


def from_jsonable(x):
    """The inverse of ``jsonable``: the strings "NaN", "Infinity", "-Infinity" become floats."""
    if type(x) is str:
        return NONFINITE.get(x, x)
    if isinstance(x, Mapping):
        return {k: from_jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [from_jsonable(v) for v in x]
    return x


# -- msgpack -----------------------------------------------------------------------------
def from_msgpack(data: bytes, base_path: str = "") -> Circuit:
    """A row or packed document in msgpack. Map keys must be strings; no container or
    string may claim more elements than ``data`` has bytes (msgpack's own limits)."""
    with gc_paused():
        try:
            n = len(data)  # nothing may claim more elements than there are bytes
            doc = msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=True,
                use_list=True,
                max_str_len=n,
                max_bin_len=n,
                max_array_len=n,
                max_map_len=n // 2,
                max_ext_len=n,
            )
        except Exception as e:  # the decoder raises several types; all mean a bad body
            detail = str(e) or type(e).__name__
            raise CircuitError([ErrorItem("", f"malformed msgpack: {detail}")]) from None
        return from_document(doc, base_path)


def to_msgpack(c: Circuit, packed: bool | None = None) -> bytes:
    """Row form, or packed form (default: when the circuit has more than 10⁴ gates)."""
    if packed is None:
        packed = c.n_gates > PACKED_THRESHOLD
    doc = to_packed(c) if packed else to_document(c)
    return msgpack.packb(doc, use_bin_type=True)


# -- identity ----------------------------------------------------------------------------
def _op_tag(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


# op codes are ours to renumber; ids must not change when we do, so ops hash by name
_OP_TAGS = np.array([_op_tag(op.name) for op in ops.OPS], dtype="<u4")
assert len(set(_OP_TAGS.tolist())) == len(ops.OPS), "two op names share a tag"


def _hash_strings(h, strings) -> None:
    blobs = [s.encode("utf-8", "surrogatepass") for s in strings]
    h.update(np.array([len(b) for b in blobs], dtype="<u8").tobytes())
    h.update(b"".join(blobs))


def _canonical_floats(x: np.ndarray) -> np.ndarray:
    # every NaN is the one NaN; -0.0 stays itself (1/x tells it from 0.0)
    return np.where(np.isnan(x), np.nan, x).astype("<f8")


def content_id(c: Circuit) -> str:
    """``"c_"`` + 32 hex digits: BLAKE2b-128 of the canonical form (docs/circuit-format.md)."""
    op, arity, args, coeffs, param = canonical_gates(c)
    labels = gate_labels(c)
    h = hashlib.blake2b(digest_size=16, person=b"circuitgrad.id1")
    h.update(b"circuitgrad.canonical/1\0")
    sizes = [c.n_inputs, len(op), len(args), len(c.outputs), len(labels)]
    h.update(np.array(sizes, dtype="<u8").tobytes())
    _hash_strings(h, c.inputs)
    h.update(_OP_TAGS[op].tobytes())
    h.update(arity.astype("<i8").tobytes())
    h.update(args.astype("<i8").tobytes())
    h.update(_canonical_floats(coeffs).tobytes())
    h.update(_canonical_floats(param).tobytes())
    h.update(c.outputs.astype("<i8").tobytes())
    _hash_strings(h, c.output_names)
    h.update(np.array(list(labels), dtype="<i8").tobytes())
    _hash_strings(h, labels.values())
    return "c_" + h.hexdigest()


# -- files -------------------------------------------------------------------------------
def _looks_like_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"{", b"[")


def load(path) -> Circuit:
    """A circuit from a .json or .msgpack file ("-": standard input, either encoding)."""
    if str(path) == "-":
        data = sys.stdin.buffer.read()
        suffix = ""
    else:
        data = Path(path).read_bytes()
        suffix = Path(path).suffix.lower()
    if suffix == ".json" or (suffix != ".msgpack" and _looks_like_json(data)):
        return from_json(data)
    return from_msgpack(data)


def dump(c: Circuit, path, packed: bool | None = None) -> None:
    """Write ``c`` as .json or .msgpack by the file's extension ("-": JSON to standard output)."""
    if str(path) == "-":
        sys.stdout.buffer.write(to_json(c) + b"\n")
        sys.stdout.buffer.flush()
        return
    suffix = Path(path).suffix.lower()
    if suffix == ".json":
        data = to_json(c)
    elif suffix == ".msgpack":
        data = to_msgpack(c, packed)
    else:
        raise ValueError(f"unknown circuit file extension {suffix!r} (use .json or .msgpack)")
    Path(path).write_bytes(data)
