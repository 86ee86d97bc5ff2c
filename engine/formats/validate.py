"""Validation of the row form of circuit-format.md.

A document from the outside is hostile until proven otherwise: any value may have any
type, lists may be huge, numbers may not fit. Every rule is checked and every problem is
reported as an ``ErrorItem`` (a JSON pointer below ``base_path`` and a message); nothing
but ``CircuitError`` ever leaves this module (an ``AssertionError`` would mean the two
passes below disagree: a bug, which the property tests hunt for).

Gates are checked in two passes that share one rule set:

* ``_scan`` is the fast path: one tight loop that only sorts gates into "plain" and
  "needs a look" and copies their fields into flat lists, then NumPy checks arity bounds,
  vertex order and element types for all gates at once. It decides nothing about
  messages; it only names the gates that are wrong (the *suspects*).
* ``diagnose_gate`` (in ``gate_rules.py``) is the authority on messages: it checks one
  gate slowly and says exactly what is wrong, where. It runs only for suspects.

The checks the packed form shares (inputs, outputs, names, labels) are in ``checks.py``;
they and ``diagnose_gate`` are re-exported here, where the other modules import them from.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..core import ops
from ..core.circuit import INDEX, Circuit
from ..core.ops import MAX_ARGS, MIN_ARGS
from .checks import (
    ABSENT,
    INPUT_NAME,
    MAX_NAME_BYTES,
    NONFINITE,
    Errors,
    as_number,
    assemble,
    check_inputs,
    check_keys,
    check_labels,
    check_output_names,
    check_outputs,
    check_strings,
    describe,
    float_array,
    index_array,
    number_error,
    short,
    vertex_error,
)
from .gate_rules import CODE_OF, GATE_KEYS, diagnose_gate

__all__ = [
    "ROW_FORMAT",
    "TOP_KEYS",
    "from_rows",
    "gates_from_rows",
    "ranges",
    # re-exported from checks and gate_rules
    "NONFINITE",
    "INPUT_NAME",
    "MAX_NAME_BYTES",
    "Errors",
    "short",
    "describe",
    "as_number",
    "number_error",
    "float_array",
    "index_array",
    "vertex_error",
    "check_keys",
    "check_inputs",
    "check_outputs",
    "check_strings",
    "check_output_names",
    "check_labels",
    "assemble",
    "diagnose_gate",
]

ROW_FORMAT = "circuitgrad.circuit/1"
TOP_KEYS = ("format", "inputs", "gates", "outputs", "output_names")

# the gate rules, by op code, as the fast scan reads them
_PARAM_KEY = tuple(op.param for op in ops.OPS)  # by code: "value", "p" or None
_PLAIN = tuple(op.param is None for op in ops.OPS)  # {"op", "args"} says everything


# -- row form: all gates, fast ---------------------------------------------------------
class _Rows:
    """Flat copies of the gates' fields, as the scan found them."""

    __slots__ = (
        "op",
        "arity",
        "args",
        "param_gate",
        "param_val",
        "coef_start",
        "coef_gate",
        "coef_val",
        "labels",
        "suspects",
    )


def _scan(gates: list, n_inputs: int) -> _Rows:
    """One pass over the gates; wrong-looking gates become suspects (with op 0, no args)."""
    code_of, plain, keys_of, param_key = CODE_OF, _PLAIN, GATE_KEYS, _PARAM_KEY
    op, arity, flat = [], [], []
    param_gate, param_val, coef_start, coef_gate, coef_val = [], [], [], [], []
    labels: dict[int, str] = {}
    suspects: list[int] = []
    op_append, arity_append, extend = op.append, arity.append, flat.extend
    empty: list = []
    for g in gates:
        try:
            code = code_of[g["op"]]
            a = g.get("args", ABSENT)
            if type(a) is list and plain[code] and len(g) == 2:
                extend(a)
                arity_append(len(a))
                op_append(code)
                continue
            if a is ABSENT:
                a = empty
            elif type(a) is not list:
                raise TypeError
            if not g.keys() <= keys_of[code]:
                raise KeyError
            key = param_key[code]
            p = g[key] if key is not None else None
            c = g.get("coeffs", ABSENT)
            if c is not ABSENT and (type(c) is not list or len(c) != len(a)):
                raise TypeError
            label = g.get("name", ABSENT)
            if label is not ABSENT and type(label) is not str:
                raise TypeError
        except Exception:  # any surprise: diagnose_gate will say what it is
            suspects.append(len(op))
            op_append(0)
            arity_append(0)
            continue
        i = len(op)
        if key is not None:
            param_gate.append(i)
            param_val.append(p)
        if c is not ABSENT:
            coef_start.append(len(flat))
            coef_gate.append(i)
            coef_val.extend(c)
        if label is not ABSENT:
            labels[n_inputs + i] = label
        extend(a)
        arity_append(len(a))
        op_append(code)
    rows = _Rows()
    rows.op, rows.arity, rows.args = op, arity, flat
    rows.param_gate, rows.param_val = param_gate, param_val
    rows.coef_start, rows.coef_gate, rows.coef_val = coef_start, coef_gate, coef_val
    rows.labels, rows.suspects = labels, suspects
    return rows


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + l)`` for each pair, vectorised."""
    total = int(lengths.sum())
    ends = np.cumsum(lengths)
    return np.repeat(starts - (ends - lengths), lengths) + np.arange(total, dtype=INDEX)


def gates_from_rows(gates: list, n_inputs: int, errs: Errors):
    """(op, arity, args, coeffs, param, labels) of all gates, or None with errors added."""
    rows = _scan(gates, n_inputs)
    G = len(gates)
    op = np.fromiter(rows.op, dtype=np.uint8, count=G)
    arity = np.fromiter(rows.arity, dtype=INDEX, count=G)
    suspects = set(rows.suspects)

    args, bad_wires = index_array(rows.args)
    owner = np.repeat(np.arange(G, dtype=INDEX), arity)
    bad = np.zeros(len(args), dtype=bool)
    bad[bad_wires] = True
    bad |= (args < 0) | (args >= owner + n_inputs)
    suspects.update(owner[bad].tolist())
    suspects.update(np.flatnonzero((arity < MIN_ARGS[op]) | (arity > MAX_ARGS[op])).tolist())

    coef_val, bad_coefs = float_array(rows.coef_val)
    coef_gate = np.array(rows.coef_gate, dtype=INDEX)
    coef_len = arity[coef_gate]
    if bad_coefs:
        suspects.update(np.repeat(coef_gate, coef_len)[bad_coefs].tolist())
    param_val, bad_params = float_array(rows.param_val)
    param_gate = np.array(rows.param_gate, dtype=INDEX)
    suspects.update(param_gate[bad_params].tolist())

    if suspects:
        for i in sorted(suspects):
            diagnose_gate(i, gates[i], n_inputs, errs)
        if not errs.items:  # the fast path saw something the rules do not forbid
            raise AssertionError(f"validation passes disagree on gates {sorted(suspects)[:5]}")
        return None

    coeffs = np.ones(len(args))
    if len(coef_gate):
        coeffs[ranges(np.array(rows.coef_start, dtype=INDEX), coef_len)] = coef_val
    param = np.zeros(G)
    param[param_gate] = param_val
    return op, arity, args, coeffs, param, rows.labels


def from_rows(doc, base_path: str = "") -> Circuit:
    """Validate a row-form document (any decoded value) and build its Circuit."""
    errs = Errors(base_path)
    if not isinstance(doc, Mapping):
        errs.add((), "a circuit document must be an object, got " + describe(doc))
        errs.raise_if_any()
    check_keys(doc, TOP_KEYS, ("inputs", "gates", "outputs"), errs)
    fmt = doc.get("format", ROW_FORMAT)
    if type(fmt) is not str or fmt != ROW_FORMAT:
        shown = short(fmt) if isinstance(fmt, str) else describe(fmt)
        errs.add(("format",), f"unknown format {shown}; expected '{ROW_FORMAT}'")
    names_in = doc.get("inputs", [])
    inputs = check_inputs(names_in, errs)
    n = len(names_in) if isinstance(names_in, list) else None
    gates = doc.get("gates", [])
    built = None
    if not isinstance(gates, list):
        errs.add(("gates",), "must be a list of gates, got " + describe(gates))
    elif n is not None:
        built = gates_from_rows(gates, n, errs)
    n_vertices = n + len(gates) if n is not None and isinstance(gates, list) else None
    outputs = doc.get("outputs", ABSENT)
    m = len(outputs) if isinstance(outputs, list) else None
    if outputs is not ABSENT:
        outputs = check_outputs(outputs, n_vertices, errs)
    names = doc.get("output_names", ABSENT)
    if names is not ABSENT:
        names = check_output_names(names, m, errs)
    elif m is not None:
        names = tuple(f"y{i}" for i in range(m))
    if built is not None:
        check_labels(built[5], errs, lambda v: ("gates", v - n, "name"))
    errs.raise_if_any()
    op, arity, args, coeffs, param, labels = built
    return assemble(inputs, op, arity, args, coeffs, param, outputs, names, labels)
