"""Validation of the row form of circuit-format.md, and the checks both forms share.

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
* ``diagnose_gate`` is the authority on messages: it checks one gate slowly and says
  exactly what is wrong, where. It runs only for suspects.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from . import ops
from .circuit import INDEX, Circuit
from .errors import MAX_ERRORS, CircuitError, ErrorItem, pointer

ROW_FORMAT = "circuitgrad.circuit/1"
NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*")
MAX_NAME_BYTES = 1024
TOP_KEYS = ("format", "inputs", "gates", "outputs", "output_names")

_I64 = 2**63
_CODE_OF = {op.name: op.code for op in ops.GATE_OPS}
_MIN_ARGS = np.array([op.min_args for op in ops.OPS], dtype=INDEX)
_MAX_ARGS = np.array([INDEX(2**62) if op.max_args is None else op.max_args for op in ops.OPS])
_PARAM_KEY = tuple(op.param for op in ops.OPS)  # by code: "value", "p" or None
_PLAIN = tuple(op.param is None for op in ops.OPS)  # {"op", "args"} says everything
_GATE_KEYS = tuple(
    frozenset(
        {"op", "args", "name"}
        | ({op.param} if op.param else set())
        | ({"coeffs"} if op.coeffs else set())
    )
    for op in ops.OPS
)
# which op a gate key belongs to, for "'p' is only allowed for pow"
_KEY_OWNER = {"coeffs": [o.name for o in ops.GATE_OPS if o.coeffs]}
for _op in ops.GATE_OPS:
    if _op.param:
        _KEY_OWNER.setdefault(_op.param, []).append(_op.name)
_ABSENT = object()


class Errors:
    """Collects located errors; stops the validation once ``MAX_ERRORS`` are found."""

    def __init__(self, base: str):
        self.base = base
        self.items: list[ErrorItem] = []

    def add(self, parts: tuple, message: str) -> None:
        self.items.append(ErrorItem(self.base + pointer(*parts), message))
        if len(self.items) >= MAX_ERRORS:
            raise CircuitError(self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise CircuitError(self.items)


# -- describing values without trusting them ------------------------------------------
def short(s: str, limit: int = 40) -> str:
    """A string quoted for a message, cut to ``limit`` characters."""
    text = s[:limit].encode("unicode_escape", "backslashreplace").decode("ascii")
    return "'" + text + ("…'" if len(s) > limit else "'")


def describe(x) -> str:
    """What a value is, for 'expected …, got …' (never the repr of something huge)."""
    if x is None:
        return "null"
    if x is True or x is False:
        return "a boolean"
    if isinstance(x, str):
        return "the string " + short(x)
    if isinstance(x, int):
        return f"the integer {x}" if -(10**18) < x < 10**18 else "a very large integer"
    if isinstance(x, float):
        return f"the number {x!r}"
    if isinstance(x, Mapping):
        return "an object"
    if isinstance(x, list | tuple):
        return "a list"
    if isinstance(x, bytes | bytearray):
        return "binary data"
    return "a value of type " + type(x).__name__


def as_number(x) -> float | None:
    """A float64 from a document number (ints, floats, the non-finite strings), else None."""
    if type(x) is int or isinstance(x, float):
        try:
            return float(x)
        except OverflowError:
            return None
    if type(x) is str:
        return NONFINITE.get(x)
    return None


def number_error(x) -> str:
    if type(x) is int:
        return "is too large for a float64"
    return 'must be a number (or "NaN", "Infinity", "-Infinity"), got ' + describe(x)


def float_array(values: list) -> tuple[np.ndarray, list[int]]:
    """Document numbers as float64, and the positions that are not numbers."""
    if set(map(type, values)) <= {float, int}:
        try:
            return np.array(values, dtype=np.float64), []
        except OverflowError:
            pass
    out = np.zeros(len(values))
    bad = []
    for j, x in enumerate(values):
        f = as_number(x)
        if f is None:
            bad.append(j)
        else:
            out[j] = f
    return out, bad


def index_array(values: list) -> tuple[np.ndarray, list[int]]:
    """Document integers as int64 (bools and floats are not integers), and the bad positions."""
    if set(map(type, values)) <= {int}:
        try:
            return np.fromiter(values, dtype=INDEX, count=len(values)), []
        except OverflowError:
            pass
    bad = [j for j, x in enumerate(values) if type(x) is not int or not -_I64 <= x < _I64]
    clean = [0 if type(x) is not int or not -_I64 <= x < _I64 else x for x in values]
    return np.array(clean, dtype=INDEX), bad


def vertex_error(x, v: int | None = None, gate: int | None = None) -> str | None:
    """The message for a vertex reference ``x`` (None when it is fine)."""
    if type(x) is not int:
        return "must be a vertex number (an integer), got " + describe(x)
    if x < 0:
        return (
            f"refers to vertex {x}; vertex numbers start at 0"
            if x > -_I64
            else ("is a very large negative integer; vertex numbers start at 0")
        )
    if v is not None and x >= v:
        what = f"refers to vertex {x}" if x < 10**18 else "is a very large integer"
        if gate is None:
            return f"{what}, but the circuit has only {v} vertices"
        return f"{what}, which is not before gate {gate} (vertex {v})"
    return None


# -- the parts both forms share --------------------------------------------------------
def check_keys(doc: Mapping, allowed, required, errs: Errors, where: tuple = ()) -> None:
    for key in doc:
        if key not in allowed:
            if isinstance(key, str):
                errs.add(where + (key,), f"unknown key {short(key)}")
            else:
                errs.add(where, f"unknown key {describe(key)}")
    for key in required:
        if key not in doc:
            errs.add(where, f"missing '{key}'")


def check_inputs(names, errs: Errors) -> tuple[str, ...] | None:
    if not isinstance(names, list):
        errs.add(("inputs",), "must be a list of input names, got " + describe(names))
        return None
    seen: dict[str, int] = {}
    ok = True
    for j, s in enumerate(names):
        if type(s) is not str:
            errs.add(("inputs", j), "must be an input name (a string), got " + describe(s))
        elif len(s) > MAX_NAME_BYTES:  # passing names are ASCII: characters are bytes
            errs.add(("inputs", j), f"input name is longer than {MAX_NAME_BYTES} bytes")
        elif not INPUT_NAME.fullmatch(s):
            errs.add(("inputs", j), f"input name {short(s)} must match {INPUT_NAME.pattern}")
        elif s in seen:
            errs.add(("inputs", j), f"duplicate input name {short(s)} (also input {seen[s]})")
        else:
            seen[s] = j
            continue
        ok = False
    return tuple(names) if ok else None


def check_outputs(outputs, n_vertices: int | None, errs: Errors) -> np.ndarray | None:
    """``outputs`` as int64 (None when wrong); ``n_vertices`` None when unknown."""
    if not isinstance(outputs, list):
        errs.add(("outputs",), "must be a list of vertex numbers, got " + describe(outputs))
        return None
    if not outputs:
        errs.add(("outputs",), "must name at least one vertex")
        return None
    arr, bad = index_array(outputs)
    limit = n_vertices if n_vertices is not None else _I64
    bad = sorted(set(bad) | set(np.flatnonzero((arr < 0) | (arr >= limit)).tolist()))
    for j in bad:
        errs.add(("outputs", j), vertex_error(outputs[j], n_vertices))
    return None if bad or n_vertices is None else arr


def check_strings(values: list, what: str, errs: Errors, where: tuple) -> bool:
    """Each a string that UTF-8 can carry (no lone surrogates)."""
    ok = True
    for j, s in enumerate(values):
        if type(s) is not str:
            errs.add(where + (j,), f"must be {what} (a string), got " + describe(s))
            ok = False
    if ok:
        try:
            "".join(values).encode("utf-8")
        except UnicodeEncodeError:
            for j, s in enumerate(values):
                if not s.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == s:
                    errs.add(where + (j,), f"{what} is not valid Unicode text")
                    ok = False
    return ok


def check_output_names(names, m: int | None, errs: Errors) -> tuple[str, ...] | None:
    if not isinstance(names, list):
        errs.add(("output_names",), "must be a list of names, got " + describe(names))
        return None
    if m is not None and len(names) != m:
        errs.add(("output_names",), f"has {len(names)} names but outputs has {m} entries")
        return None
    if not check_strings(names, "an output name", errs, ("output_names",)):
        return None
    seen: dict[str, int] = {}
    for j, s in enumerate(names):
        if s in seen:
            errs.add(
                ("output_names", j), f"duplicate output name {short(s)} (also output {seen[s]})"
            )
            return None
        seen[s] = j
    return tuple(names)


def check_labels(labels: dict[int, str], errs: Errors, path_of) -> None:
    """Gate names must be text UTF-8 can carry; ``path_of(vertex)`` locates one."""
    try:
        "".join(labels.values()).encode("utf-8")
    except UnicodeEncodeError:
        for v, s in labels.items():
            if not s.encode("utf-8", "surrogatepass").decode("utf-8", "replace") == s:
                errs.add(path_of(v), "name is not valid Unicode text")


# -- row form: one gate, slowly and precisely -------------------------------------------
def diagnose_gate(i: int, g, n_inputs: int, errs: Errors) -> None:
    """Every problem of gate ``i`` (vertex ``n_inputs + i``), located."""
    at = ("gates", i)
    v = n_inputs + i
    if not isinstance(g, Mapping):
        errs.add(at, "a gate must be an object, got " + describe(g))
        return
    name = g.get("op", _ABSENT)
    op = None
    if name is _ABSENT:
        errs.add(at, "missing 'op'")
    elif type(name) is not str:
        errs.add(at + ("op",), "must be an op name (a string), got " + describe(name))
    elif name == "input":
        errs.add(at + ("op",), "'input' is not a gate op; inputs are listed in 'inputs'")
    elif name not in _CODE_OF:
        errs.add(at + ("op",), f"unknown op {short(name)}")
    else:
        op = ops.BY_NAME[name]
    allowed = _GATE_KEYS[op.code] if op else _GATE_KEYS[0] | _KEY_OWNER.keys()
    for key in g:
        if key in allowed:
            continue
        if key in _KEY_OWNER:
            owners = " and ".join(_KEY_OWNER[key])
            errs.add(at + (key,), f"'{key}' is only allowed for {owners}, not for {op.name}")
        elif isinstance(key, str):
            errs.add(
                at + (key,),
                f"unknown key {short(key)} (a gate has op, args, coeffs, value, p, name)",
            )
        else:
            errs.add(at, f"unknown key {describe(key)}")

    args = g.get("args", _ABSENT)
    n_args = None
    if args is _ABSENT:
        n_args = 0
        if op and op.min_args > 0:
            errs.add(at, f"missing 'args'; {op.name} takes {op.arity_text} argument(s)")
            n_args = None
    elif type(args) is not list:
        errs.add(at + ("args",), "must be a list of vertex numbers, got " + describe(args))
    else:
        n_args = len(args)
        if op and not (
            op.min_args <= n_args <= (op.max_args if op.max_args is not None else n_args)
        ):
            errs.add(at + ("args",), f"{op.name} takes {op.arity_text} argument(s), got {n_args}")
        for j, x in enumerate(args):
            message = vertex_error(x, v, i)
            if message:
                errs.add(at + ("args", j), message)

    if op and op.param and op.param not in g:
        errs.add(at, f"missing '{op.param}', which {op.name} requires")
    x = g.get(op.param, _ABSENT) if op and op.param else _ABSENT
    if x is not _ABSENT and as_number(x) is None:
        errs.add(at + (op.param,), number_error(x))

    coeffs = g.get("coeffs", _ABSENT)
    if coeffs is not _ABSENT:
        if type(coeffs) is not list:
            errs.add(at + ("coeffs",), "must be a list of numbers, got " + describe(coeffs))
        else:
            if n_args is not None and len(coeffs) != n_args:
                errs.add(at + ("coeffs",), f"has {len(coeffs)} entries but args has {n_args}")
            for j, x in enumerate(coeffs):
                if as_number(x) is None:
                    errs.add(at + ("coeffs", j), number_error(x))

    label = g.get("name", _ABSENT)
    if label is not _ABSENT and type(label) is not str:
        errs.add(at + ("name",), "must be a string, got " + describe(label))


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
    code_of, plain, keys_of, param_key = _CODE_OF, _PLAIN, _GATE_KEYS, _PARAM_KEY
    op, arity, flat = [], [], []
    param_gate, param_val, coef_start, coef_gate, coef_val = [], [], [], [], []
    labels: dict[int, str] = {}
    suspects: list[int] = []
    op_append, arity_append, extend = op.append, arity.append, flat.extend
    empty: list = []
    for g in gates:
        try:
            code = code_of[g["op"]]
            a = g.get("args", _ABSENT)
            if type(a) is list and plain[code] and len(g) == 2:
                extend(a)
                arity_append(len(a))
                op_append(code)
                continue
            if a is _ABSENT:
                a = empty
            elif type(a) is not list:
                raise TypeError
            if not g.keys() <= keys_of[code]:
                raise KeyError
            key = param_key[code]
            p = g[key] if key is not None else None
            c = g.get("coeffs", _ABSENT)
            if c is not _ABSENT and (type(c) is not list or len(c) != len(a)):
                raise TypeError
            label = g.get("name", _ABSENT)
            if label is not _ABSENT and type(label) is not str:
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
        if c is not _ABSENT:
            coef_start.append(len(flat))
            coef_gate.append(i)
            coef_val.extend(c)
        if label is not _ABSENT:
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
    suspects.update(np.flatnonzero((arity < _MIN_ARGS[op]) | (arity > _MAX_ARGS[op])).tolist())

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


def assemble(inputs, op, arity, args, coeffs, param, outputs, output_names, labels) -> Circuit:
    """A Circuit from gate-only arrays (inputs get op 0, no args, param 0)."""
    n = len(inputs)
    V = n + len(op)
    op_all = np.zeros(V, dtype=np.uint8)
    op_all[n:] = op
    offsets = np.zeros(V + 1, dtype=INDEX)
    np.cumsum(arity, out=offsets[n + 1 :])
    param_all = np.zeros(V)
    param_all[n:] = param
    return Circuit.from_arrays(
        inputs, op_all, offsets, args, coeffs, param_all, outputs, output_names, labels
    )


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
    outputs = doc.get("outputs", _ABSENT)
    m = len(outputs) if isinstance(outputs, list) else None
    if outputs is not _ABSENT:
        outputs = check_outputs(outputs, n_vertices, errs)
    names = doc.get("output_names", _ABSENT)
    if names is not _ABSENT:
        names = check_output_names(names, m, errs)
    elif m is not None:
        names = tuple(f"y{i}" for i in range(m))
    if built is not None:
        check_labels(built[5], errs, lambda v: ("gates", v - n, "name"))
    errs.raise_if_any()
    op, arity, args, coeffs, param, labels = built
    return assemble(inputs, op, arity, args, coeffs, param, outputs, names, labels)
