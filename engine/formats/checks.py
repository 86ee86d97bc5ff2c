"""The checks both document forms (row and packed) share, and how they describe values.

A document from the outside is hostile until proven otherwise: any value may have any
type, lists may be huge, numbers may not fit. Every problem is reported to an ``Errors``
as a JSON pointer below ``base_path`` and a message; nothing but ``CircuitError`` leaves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

import numpy as np

from ..core.circuit import INDEX, MAX_NAME_BYTES, Circuit
from ..errors import MAX_ERRORS, CircuitError, ErrorItem, pointer

NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
INPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*")
ABSENT = object()  # doc.get(key, ABSENT): a key that is not there (None is JSON null)

_I64 = 2**63


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
    out_of_range = np.flatnonzero((arr < 0) | (arr >= limit))[:MAX_ERRORS].tolist()
    bad = sorted(set(bad[:MAX_ERRORS]) | set(out_of_range))[:MAX_ERRORS]  # Errors stops there
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
