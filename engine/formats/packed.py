"""The packed form ``circuitgrad.packed/1``: a circuit as typed arrays (docs/circuit-format.md).

Gates travel as little-endian binaries (op codes, arities, arguments, coefficients,
parameters), so a large circuit is decoded by ``np.frombuffer`` and validated by a few
vectorised comparisons instead of one Python object per gate. Sizes are implied by the
binaries' lengths and checked against each other before anything is allocated, so a
hostile document cannot make us allocate more than a small multiple of its own size.

``canonical_gates`` is also here: the gate arrays exactly as a document carries them,
which is what both writers and the content id (codec.py) read.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core import ops
from ..core.circuit import INDEX, Circuit
from ..core.ops import HAS_COEFFS, HAS_PARAM, MAX_ARGS, MIN_ARGS
from ..errors import MAX_ERRORS
from .validate import (
    Errors,
    assemble,
    check_inputs,
    check_keys,
    check_labels,
    check_output_names,
    check_outputs,
    describe,
    short,
)

PACKED_FORMAT = "circuitgrad.packed/1"
PACKED_KEYS = (
    "format",
    "inputs",
    "ops",
    "index",
    "op",
    "arity",
    "args",
    "coeffs",
    "param",
    "outputs",
    "output_names",
    "labels",
)
REQUIRED = ("format", "inputs", "ops", "index", "op", "arity", "args", "outputs")
INDEX_TYPES = {"int32": np.dtype("<i4"), "int64": np.dtype("<i8")}
F64 = np.dtype("<f8")
_PARAM_OPS = " and ".join(op.name for op in ops.OPS if op.param)  # for messages
_COEFF_OPS = " and ".join(op.name for op in ops.OPS if op.coeffs)


def canonical_gates(c: Circuit):
    """(op, arity, args, coeffs, param) of the gates only, as a document carries them:
    coefficients of wires into ops without coefficients are 1 and parameters of ops
    without a parameter are 0, whatever the arrays held."""
    n = c.n_inputs
    op = c.op[n:]
    arity = np.diff(c.arg_offsets[n:])
    first = int(c.arg_offsets[n])
    args = c.args[first:]
    coeffs = np.where(np.repeat(HAS_COEFFS[op], arity), c.coeffs[first:], 1.0)
    param = np.where(HAS_PARAM[op], c.param[n:], 0.0)
    return op, arity, args, coeffs, param


def gate_labels(c: Circuit) -> dict[int, str]:
    """Labels a document can carry: names of gates (not of inputs), by vertex."""
    n, V = c.n_inputs, c.n_vertices
    return {int(v): s for v, s in sorted(c.labels.items()) if n <= v < V}


def to_packed(c: Circuit) -> dict:
    op, arity, args, coeffs, param = canonical_gates(c)
    fits32 = max(c.n_vertices, len(args)) < 2**31
    index = "int32" if fits32 else "int64"
    dtype = INDEX_TYPES[index]
    doc = {
        "format": PACKED_FORMAT,
        "inputs": list(c.inputs),
        "ops": [o.name for o in ops.OPS],
        "index": index,
        "op": op.astype(np.uint8).tobytes(),
        "arity": arity.astype(dtype).tobytes(),
        "args": args.astype(dtype).tobytes(),
    }
    if not np.all(coeffs == 1.0):
        doc["coeffs"] = coeffs.astype(F64).tobytes()
    if param.view(np.uint64).any():  # bitwise, so a const -0.0 is kept
        doc["param"] = param.astype(F64).tobytes()
    doc["outputs"] = c.outputs.tolist()
    doc["output_names"] = list(c.output_names)
    labels = gate_labels(c)
    if labels:
        doc["labels"] = {str(v): s for v, s in labels.items()}
    return doc


# -- reading ---------------------------------------------------------------------------
def _binary(doc: Mapping, key: str, errs: Errors) -> bytes | None:
    x = doc.get(key)
    if x is None and key not in doc:
        return None
    if not isinstance(x, bytes | bytearray):
        errs.add((key,), "must be binary data (a msgpack bin), got " + describe(x))
        return None
    return x


def _op_table(names, errs: Errors) -> np.ndarray | None:
    """Internal op code for each position of the document's ``ops`` list."""
    if not isinstance(names, list) or not 0 < len(names) <= 256:
        errs.add(("ops",), "must be a list of 1 to 256 op names, got " + describe(names))
        return None
    table = np.zeros(len(names), dtype=np.uint8)
    for j, name in enumerate(names):
        op = ops.BY_NAME.get(name) if type(name) is str else None
        if op is None:
            shown = short(name) if isinstance(name, str) else describe(name)
            errs.add(("ops", j), f"unknown op {shown}")
        else:
            table[j] = op.code
    return table


def _labels(labels, n: int, V: int, errs: Errors) -> dict[int, str]:
    if not isinstance(labels, Mapping):
        errs.add(("labels",), "must be a map from vertex number to name, got " + describe(labels))
        return {}
    out = {}
    for key, name in labels.items():
        if not (
            type(key) is str
            and key.isascii()
            and key.isdigit()
            and (key == "0" or key[0] != "0")
            and len(key) < 20
        ):
            errs.add(
                ("labels",) + ((key,) if isinstance(key, str) else ()),
                "keys must be vertex numbers written in decimal, got " + describe(key),
            )
        elif not n <= int(key) < V:
            errs.add(
                ("labels", key), f"vertex {key} is not a gate (gates are vertices {n} to {V - 1})"
            )
        elif type(name) is not str:
            errs.add(("labels", key), "must be a name (a string), got " + describe(name))
        else:
            out[int(key)] = name
    return out


def _report(errs: Errors, where: str, bad: np.ndarray, message) -> None:
    """One error per offending index, ``message(index)``, as many as the cap allows."""
    for k in np.flatnonzero(bad)[:MAX_ERRORS].tolist():
        errs.add((where,), message(k))  # raises once the cap is reached


def from_packed(doc: Mapping, base_path: str = "") -> Circuit:
    """Validate a packed document (a decoded msgpack map) and build its Circuit."""
    errs = Errors(base_path)
    check_keys(doc, PACKED_KEYS, REQUIRED, errs)
    names_in = doc.get("inputs", [])
    inputs = check_inputs(names_in, errs)
    n = len(names_in) if isinstance(names_in, list) else 0
    table = _op_table(doc.get("ops"), errs) if "ops" in doc else None
    index = doc.get("index")
    dtype = INDEX_TYPES.get(index) if type(index) is str else None
    if dtype is None and "index" in doc:
        errs.add(("index",), "must be 'int32' or 'int64', got " + describe(index))
    raw = {key: _binary(doc, key, errs) for key in ("op", "arity", "args", "coeffs", "param")}
    errs.raise_if_any()

    # sizes: every length follows from the binaries' own lengths; check before allocating
    G = len(raw["op"])
    size = dtype.itemsize
    expected = {"arity": G * size, "param": G * 8}
    if len(raw["args"]) % size:
        errs.add(("args",), f"has {len(raw['args'])} bytes, not a whole number of {index}")
    W = len(raw["args"]) // size
    expected["coeffs"] = W * 8
    for key, nbytes in expected.items():
        if raw[key] is not None and len(raw[key]) != nbytes:
            errs.add(
                (key,),
                f"has {len(raw[key])} bytes; expected {nbytes} (one "
                f"{'float64' if key in ('param', 'coeffs') else index} per "
                f"{'wire' if key == 'coeffs' else 'gate'})",
            )
    errs.raise_if_any()

    op_raw = np.frombuffer(raw["op"], dtype=np.uint8).astype(INDEX)
    arity = np.frombuffer(raw["arity"], dtype=dtype).astype(INDEX)
    known = op_raw < len(table)
    _report(
        errs,
        "op",
        ~known,
        lambda k: f"gate {k} has op code {op_raw[k]}, but 'ops' has only {len(table)} entries",
    )
    op = table[np.where(known, op_raw, 0)]
    _report(
        errs,
        "op",
        known & (op == ops.INPUT.code),
        lambda k: f"gate {k} has op code {op_raw[k]}, which is 'input', not a gate op",
    )
    lo, hi = MIN_ARGS[op], np.minimum(MAX_ARGS[op], W)
    _report(
        errs,
        "arity",
        known & (op != 0) & ((arity < lo) | (arity > hi)),
        lambda k: (
            f"gate {k} ({ops.BY_CODE[op[k]].name}) has {arity[k]} arguments; "
            f"{ops.BY_CODE[op[k]].name} takes {ops.BY_CODE[op[k]].arity_text}"
        ),
    )
    errs.raise_if_any()
    total = int(arity.sum())  # each arity is in [0, W]: no overflow
    if total != W:
        errs.add(("args",), f"has {W} wires but the arities add up to {total}")
        errs.raise_if_any()

    V = n + G
    args = np.frombuffer(raw["args"], dtype=dtype).astype(INDEX)
    gate_of = np.repeat(np.arange(G, dtype=INDEX), arity)
    starts = np.cumsum(arity) - arity
    _report(
        errs,
        "args",
        (args < 0) | (args >= gate_of + n),
        lambda k: (
            f"wire {k} (argument {k - starts[gate_of[k]]} of gate {gate_of[k]}) refers to vertex "
            f"{int(args[k])}, which is not before gate {gate_of[k]} (vertex {n + gate_of[k]})"
        ),
    )
    coeffs = np.ones(W)
    if raw["coeffs"] is not None:
        coeffs = np.frombuffer(raw["coeffs"], dtype=F64).astype(np.float64)
        off_add = ~np.repeat(HAS_COEFFS[op], arity) & (coeffs != 1.0)
        _report(
            errs,
            "coeffs",
            off_add,
            lambda k: (
                f"wire {k} (argument {k - starts[gate_of[k]]} of gate {gate_of[k]}, a "
                f"{ops.BY_CODE[op[gate_of[k]]].name}) has coefficient {float(coeffs[k])!r}; "
                f"only {_COEFF_OPS} wires carry coefficients other than 1"
            ),
        )
    param = np.zeros(G)
    if raw["param"] is not None:
        param = np.frombuffer(raw["param"], dtype=F64).astype(np.float64)
        _report(
            errs,
            "param",
            ~HAS_PARAM[op] & (param != 0.0),
            lambda k: (
                f"gate {k} ({ops.BY_CODE[op[k]].name}) has parameter {float(param[k])!r}; "
                f"only {_PARAM_OPS} carry one"
            ),
        )
        param = np.where(HAS_PARAM[op], param, 0.0)  # -0.0 on a sin gate is no parameter
    outputs = doc.get("outputs")
    m = len(outputs) if isinstance(outputs, list) else None
    outputs = check_outputs(outputs, V, errs)
    names = doc.get("output_names")
    if names is not None or "output_names" in doc:
        names = check_output_names(names, m, errs)
    labels = _labels(doc.get("labels", {}), n, V, errs)
    check_labels(labels, errs, lambda v: ("labels", str(v)))
    errs.raise_if_any()
    return assemble(inputs, op, arity, args, coeffs, param, outputs, names, labels)
