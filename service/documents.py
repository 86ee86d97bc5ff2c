"""JSON Schemas of the request documents, as exact as JSON Schema allows.

The views parse and check bodies themselves (the engine's codec, ``requests.py``); these
schemas say in the OpenAPI document everything about a request that the server enforces
and JSON Schema can express — which keys (no others), which types, op names and their
arity, name patterns, non-empty and duplicate-free lists, the configured list limits — so
that a request the schema rejects is rejected by the server too. What JSON Schema cannot
express stays a 422 for a schema-valid request: that a gate's arguments come before it,
that ``coeffs`` has one entry per argument, that ``wrt`` names are the circuit's inputs,
that an expression parses, that a forward gradient is within the size limit.

``request_schemas(settings)`` replaces the components apiflask derived from the
marshmallow classes of ``schemas.py`` (same names, so the operations' references stay).
"""

from __future__ import annotations

from circuitgrad.engine.building.parser import MAX_LENGTH as EXPRESSION_LENGTH
from circuitgrad.engine.building.parser import MAX_NAME_LENGTH as EXPRESSION_NAME_LENGTH
from circuitgrad.engine.core import ops
from circuitgrad.engine.core.layout import MODES
from circuitgrad.engine.formats.checks import INPUT_NAME, MAX_NAME_BYTES
from circuitgrad.worker.settings import Settings

NONFINITE = ["NaN", "Infinity", "-Infinity"]
NUMBER = {
    "description": 'a number; in JSON also "NaN", "Infinity" or "-Infinity"',
    "anyOf": [{"type": "number"}, {"type": "string", "enum": NONFINITE}],
}
NAME = {
    "type": "string",
    "pattern": f"^{INPUT_NAME.pattern}$",
    "maxLength": MAX_NAME_BYTES,
    "description": "an input name",
}
CIRCUIT_ID = {
    "type": "string",
    "pattern": "^c_[0-9a-f]{32}$",
    "example": "c_895ffcd634b32b5893a8aef90503a6eb",
}
JOB_ID = {"type": "string", "pattern": "^[0-9a-f]{32}(-[0-9]+)?$"}
VERTEX = {"type": "integer", "minimum": 0}
LABEL = {"type": "string", "description": "a gate's name; it does not change the function"}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _args(low: int, high: int | None) -> dict:
    out = {"type": "array", "items": VERTEX, "minItems": low}
    if high is not None:
        out["maxItems"] = high
    return out


def gate_schema() -> dict:
    """One alternative per kind of op: its name(s), its arguments, its own keys."""
    variants = []
    by_shape: dict[tuple, list[str]] = {}
    for o in ops.GATE_OPS:
        if o.min_args == o.max_args == 0:  # const
            props = {"op": {"type": "string", "enum": [o.name]}, o.param: NUMBER, "name": LABEL}
            variants.append(_object(props, ["op", o.param]))
            continue
        by_shape.setdefault((o.min_args, o.max_args, bool(o.coeffs), o.param), []).append(o.name)
    for (low, high, coeffs, param), names in by_shape.items():
        props = {"op": {"type": "string", "enum": names}, "args": _args(low, high)}
        required = ["op", "args"]
        if coeffs:
            props["coeffs"] = {"type": "array", "items": NUMBER, "minItems": low}
        if param:
            props[param] = NUMBER
            required.append(param)
        props["name"] = LABEL
        variants.append(_object(props, required))
    return {"description": "a gate of circuit-format.md", "oneOf": variants}


def _object(properties: dict, required: list[str], description: str = "") -> dict:
    out = {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }
    if description:
        out["description"] = description
    return out


def _names(item: dict, limit: int) -> dict:
    return {"type": "array", "items": item, "uniqueItems": True, "maxItems": limit}


def _options(s: Settings) -> dict:
    wrt = {**_names(NAME, s.max_circuit_inputs), "minItems": 1}
    of = {**_names({"type": "string"}, s.max_circuit_outputs), "minItems": 1}
    return {
        "mode": {"type": "string", "enum": list(MODES), "default": "backward"},
        "wrt": {**wrt, "description": "input names (default: all inputs)"},
        "of": {**of, "description": "output names (default: all outputs)"},
        "include_value": {"type": "boolean", "default": False},
        "simplify": {"type": "boolean", "default": True},
        "verify": {
            "type": "boolean",
            "default": True,
            "description": "check the result against the source at a few seeded points "
            "(directional central differences; the record is in result.certificate)",
        },
    }


def request_schemas(s: Settings) -> dict[str, dict]:
    document = _object(
        {
            "format": {"type": "string", "enum": ["circuitgrad.circuit/1"]},
            "inputs": _names(NAME, s.max_circuit_inputs),
            "gates": {"type": "array", "items": _ref("Gate"), "maxItems": s.max_circuit_nodes},
            "outputs": {
                "type": "array",
                "items": VERTEX,
                "minItems": 1,
                "maxItems": s.max_circuit_outputs,
            },
            "output_names": _names({"type": "string"}, s.max_circuit_outputs),
        },
        ["inputs", "gates", "outputs"],
        "circuitgrad.circuit/1, the row form (msgpack bodies may use the packed form)",
    )
    expression = {
        "expression": {
            "type": "string",
            "minLength": 1,
            "maxLength": EXPRESSION_LENGTH,
            "example": "(x-3*y-3*z+5)**2",
        },
        "inputs": {**_names(NAME, s.max_circuit_inputs), "description": "their order"},
        "output": {
            "type": "string",
            "minLength": 1,
            "maxLength": EXPRESSION_NAME_LENGTH,
            "description": "the output's name (f)",
        },
    }
    options = _options(s)
    row = {"type": "object", "additionalProperties": NUMBER, "propertyNames": NAME}
    columns = {
        "type": "object",
        "additionalProperties": {"type": "array", "items": NUMBER},
        "propertyNames": NAME,
    }
    points = {
        "description": "one object per point, or one column of values per input",
        "oneOf": [{"type": "array", "items": _ref("Point")}, _ref("Columns")],
    }
    return {
        "Gate": gate_schema(),
        "CircuitDocument": document,
        "ExpressionUpload": _object(expression, ["expression"], "a circuit by an expression"),
        "CircuitUpload": {
            "description": "a circuit document, or an expression",
            "oneOf": [_ref("CircuitDocument"), _ref("ExpressionUpload")],
        },
        "GradientOfCircuitId": _object(
            {"circuit_id": CIRCUIT_ID, **options}, ["circuit_id"], "a stored circuit"
        ),
        "GradientOfCircuit": _object(
            {"circuit": _ref("CircuitDocument"), **options}, ["circuit"], "a circuit document"
        ),
        "GradientOfExpression": _object({**expression, **options}, ["expression"], "an expression"),
        "GradientIn": {
            "description": "exactly one of circuit_id, circuit and expression, plus options",
            "oneOf": [
                _ref("GradientOfCircuitId"),
                _ref("GradientOfCircuit"),
                _ref("GradientOfExpression"),
            ],
        },
        "Point": {**row, "description": "a value for every input, by name"},
        "Columns": {**columns, "description": "the values of every input, by name"},
        "Points": _object({"points": points}, ["points"]),
        "EvaluationIn": _object(
            {"circuit_id": CIRCUIT_ID, "points": points}, ["circuit_id", "points"]
        ),
    }


PATH_PARAMETERS = {"circuit_id": CIRCUIT_ID, "job_id": JOB_ID}
