"""Request documents: strict parsing into what the views need, errors with JSON pointers.

Circuit documents and expressions are the engine codec's and parser's business; this
module checks the request around them (which fields, which types) and the points of an
evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from circuitgrad.engine.building.parser import parse_expression
from circuitgrad.engine.core.layout import MODES
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.errors import MAX_ERRORS, pointer
from circuitgrad.engine.formats.codec import from_document
from circuitgrad.engine.formats.validate import describe, float_array, number_error
from circuitgrad.worker.settings import Settings

from .errors import Invalid, PayloadTooLarge
from .offload import OFFLOAD_GATES, cpu

EXPRESSION_KEYS = ("expression", "inputs", "output")
SOURCE_KEYS = ("circuit_id", "circuit", "expression")
OPTION_DEFAULTS = {
    "mode": "backward",
    "wrt": None,
    "of": None,
    "include_value": False,
    "simplify": True,
    "verify": True,
}


def require_object(doc, where: str = "") -> Mapping:
    if not isinstance(doc, Mapping):
        raise Invalid(errors=[(where, f"must be an object, got {describe(doc)}")])
    return doc


def check_keys(doc: Mapping, allowed, where: str = "") -> None:
    unknown = [k for k in doc if k not in allowed]
    if unknown:
        raise Invalid(errors=[(where + pointer(k), "unknown field") for k in unknown[:MAX_ERRORS]])


OFFLOAD_CHARS = 100_000  # expressions and documents this large are parsed off the loop


def _length(x) -> int:
    return len(x) if isinstance(x, list | bytes) else 0


def check_declared(doc, s: Settings, where: str = "") -> None:
    """413 for a circuit document (or expression request) that declares more inputs,
    outputs or vertices than the limits, before anything is built from it."""
    if not isinstance(doc, Mapping):
        return
    inputs, outputs = _length(doc.get("inputs")), _length(doc.get("outputs"))
    nodes = inputs + _length(doc.get("gates", doc.get("op")))
    for count, limit, what, name in (
        (inputs, s.max_circuit_inputs, "inputs", "CIRCUITGRAD_MAX_CIRCUIT_INPUTS"),
        (outputs, s.max_circuit_outputs, "outputs", "CIRCUITGRAD_MAX_CIRCUIT_OUTPUTS"),
        (nodes, s.max_circuit_nodes, "vertices", "CIRCUITGRAD_MAX_CIRCUIT_NODES"),
    ):
        if count > limit:
            raise PayloadTooLarge(
                f"{where or '/'}: the circuit has {count:,} {what}; the limit is {limit:,} ({name})"
            )


def circuit_of(doc, s: Settings, where: str = ""):
    """A Circuit from a circuit document or an ``{"expression": ...}`` object."""
    require_object(doc, where)
    check_declared(doc, s, where)
    if "expression" in doc:
        check_keys(doc, EXPRESSION_KEYS, where)
        if "inputs" in doc and not isinstance(doc["inputs"], list):  # null is no default
            raise Invalid(errors=[(f"{where}/inputs", "must be a list of input names")])
        text = doc["expression"]
        big = isinstance(text, str) and len(text) > OFFLOAD_CHARS
        c = cpu(parse_expression, text, doc.get("inputs"), doc.get("output", "f"), heavy=big)
    else:
        big = _length(doc.get("gates", doc.get("op"))) > OFFLOAD_GATES
        c = cpu(from_document, doc, where, heavy=big)
    limit = s.max_circuit_nodes
    if c.n_vertices > limit:
        raise PayloadTooLarge(
            f"the circuit has {c.n_vertices:,} vertices; the limit is {limit:,} "
            "(CIRCUITGRAD_MAX_CIRCUIT_NODES)"
        )
    return c


def measured(c) -> dict:
    """The measures of a circuit about to be stored (a large one's off the loop)."""
    return cpu(measures, c, heavy=c.n_vertices > OFFLOAD_GATES)


@dataclass(frozen=True)
class GradientRequest:
    circuit_id: str | None  # exactly one of circuit_id and circuit
    circuit: object | None
    options: dict  # mode, wrt, of, include_value, simplify, verify


def gradient_request(doc, s: Settings) -> GradientRequest:
    require_object(doc)
    given = [k for k in SOURCE_KEYS if k in doc]
    allowed = set(SOURCE_KEYS) | set(OPTION_DEFAULTS)
    if "expression" in doc:
        allowed |= set(EXPRESSION_KEYS)
    check_keys(doc, allowed)
    if len(given) != 1:
        raise Invalid(
            errors=[
                (
                    "",
                    "give exactly one of circuit_id, circuit and expression"
                    + (f" (got {', '.join(given)})" if given else ""),
                )
            ]
        )
    options = gradient_options(doc)
    if given[0] == "circuit_id":
        if not isinstance(doc["circuit_id"], str):
            raise Invalid(errors=[("/circuit_id", "must be a string")])
        return GradientRequest(doc["circuit_id"], None, options)
    if given[0] == "circuit":
        return GradientRequest(None, circuit_of(doc["circuit"], s, "/circuit"), options)
    source = {k: doc[k] for k in EXPRESSION_KEYS if k in doc}
    return GradientRequest(None, circuit_of(source, s), options)


def gradient_options(doc: Mapping) -> dict:
    errors = []
    options = {k: doc.get(k, default) for k, default in OPTION_DEFAULTS.items()}
    if options["mode"] not in MODES:
        errors.append(("/mode", f"must be one of {', '.join(MODES)}, got {describe(doc['mode'])}"))
    for key in ("include_value", "simplify", "verify"):
        if not isinstance(options[key], bool):
            errors.append((pointer(key), f"must be true or false, got {describe(options[key])}"))
    for key in ("wrt", "of"):
        names = options[key]
        if names is None and key not in doc:
            continue
        if not isinstance(names, list):
            errors.append((pointer(key), f"must be a list of names, got {describe(names)}"))
            continue
        for i, x in enumerate(names):
            if not isinstance(x, str):
                errors.append((pointer(key, i), f"must be a name, got {describe(x)}"))
                if len(errors) >= MAX_ERRORS:
                    break
    if errors:
        raise Invalid(errors=errors[:MAX_ERRORS])
    return options


# -- points ------------------------------------------------------------------------------
def points_of(doc, inputs: tuple[str, ...], extra_keys=()) -> np.ndarray:
    """``{"points": [...]}`` (objects) or ``{"points": {name: [...]}}`` (columns) as an
    (N, n) float64 array in input order."""
    require_object(doc)
    check_keys(doc, ("points", *extra_keys))
    if "points" not in doc:
        raise Invalid(errors=[("/points", "is required")])
    points = doc["points"]
    if isinstance(points, list):
        return _rows(points, inputs)
    if isinstance(points, Mapping):
        return _columns(points, inputs)
    raise Invalid(
        errors=[
            (
                "/points",
                "must be a list of objects or an object of columns, got " + describe(points),
            )
        ]
    )


def _rows(points: list, inputs: tuple[str, ...]) -> np.ndarray:
    n = len(inputs)
    names = set(inputs)
    errors = []  # (point, pointer, message): sorted by point at the end
    for i, p in enumerate(points):
        if not isinstance(p, Mapping):
            errors.append((i, pointer("points", i), f"must be an object, got {describe(p)}"))
        elif len(p) != n or not names.issuperset(p):
            errors += [(i, pointer("points", i, k), "unknown input") for k in p if k not in names]
            errors += [(i, pointer("points", i, k), "missing input") for k in inputs if k not in p]
        if len(errors) >= MAX_ERRORS:
            break
    well_formed = not errors
    if not well_formed:  # the values of the points that are well-formed objects, too
        points = [p if isinstance(p, Mapping) and names.issuperset(p) else {} for p in points]
    flat = [p.get(k, 0.0) for p in points for k in inputs]
    values, bad = float_array(flat)
    errors += [
        (j // n, pointer("points", j // n, inputs[j % n]), number_error(flat[j])) for j in bad
    ]
    if errors:
        errors.sort(key=lambda e: e[0])  # stable: a point's shape before its values
        raise Invalid(errors=[(path, message) for _, path, message in errors[:MAX_ERRORS]])
    return values.reshape(len(points), n)


def _columns(points: Mapping, inputs: tuple[str, ...]) -> np.ndarray:
    errors = [(pointer("points", k), "unknown input") for k in points if k not in inputs]
    errors += [(pointer("points", k), "missing input") for k in inputs if k not in points]
    if errors:
        raise Invalid(errors=errors[:MAX_ERRORS])
    columns = []
    for k in inputs:
        col = points[k]
        if isinstance(col, bytes):  # msgpack: little-endian float64 values
            if len(col) % 8:
                errors.append((pointer("points", k), "binary columns hold float64 values"))
                continue
            columns.append(np.frombuffer(col, dtype="<f8"))
        elif isinstance(col, list):
            values, bad = float_array(col)
            errors += [(pointer("points", k, j), number_error(col[j])) for j in bad]
            columns.append(values)
        else:
            errors.append((pointer("points", k), f"must be a list of numbers, got {describe(col)}"))
    if errors:
        raise Invalid(errors=errors[:MAX_ERRORS])
    lengths = [len(c) for c in columns]
    if len(set(lengths)) > 1:
        raise Invalid(
            errors=[
                (pointer("points", k), f"has {m} values, {inputs[0]} has {lengths[0]}")
                for k, m in zip(inputs, lengths, strict=True)
                if m != lengths[0]
            ]
        )
    if not columns:
        return np.zeros((0, 0))
    return np.stack(columns, axis=1)
