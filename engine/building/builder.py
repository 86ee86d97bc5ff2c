"""Incremental circuit construction with hash-consing.

``CircuitBuilder`` appends vertices to growable typed arrays and returns their numbers,
so every argument is an earlier vertex by construction. Adding a gate equal to one that
exists (same op, same arguments in order, same coefficients, same parameter) returns the
existing vertex: equal sub-expressions become one vertex as they are built.

    b = CircuitBuilder(["x", "y"])
    s = b.gate("add", [0, 1], coeffs=[1, -2])
    f = b.gate("square", [s])
    c = b.build([f], ["f"])

This is the Python-facing building API (the expression layer lowers into it); the
per-gate work is one dict lookup and a few appends.
"""

from __future__ import annotations

import operator
import re
import struct
from array import array

import numpy as np

from ..core.circuit import INDEX, Circuit
from ..core.ops import BY_NAME, CONST, INPUT
from ..errors import CircuitError, pointer

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*\Z")
MAX_NAME_BYTES = 1024

_pack = struct.Struct("<d").pack  # a float's bits: keeps -0.0 and 0.0 (and NaNs) apart


def check_input_name(name, where: str) -> str:
    """``name`` if it is a valid input name (circuit-format.md), else CircuitError at ``where``."""
    if not isinstance(name, str):
        raise CircuitError(f"an input name must be a string, not {type(name).__name__}", where)
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise CircuitError(f"input name longer than {MAX_NAME_BYTES} bytes", where)
    if not NAME_RE.match(name):
        raise CircuitError(
            f"invalid input name {name!r}: expected [A-Za-z_][A-Za-z0-9_.[\\]]*", where
        )
    return name


class CircuitBuilder:
    """Builds a circuit vertex by vertex. Inputs first (``input`` or the constructor), then
    constants and gates; ``build`` freezes a copy, so building may go on afterwards."""

    def __init__(self, inputs=()):
        self._inputs: list[str] = []
        self._input_vertex: dict[str, int] = {}
        self._op = array("B")
        self._offsets = array("q", [0])
        self._args = array("q")
        self._coeffs = array("d")
        self._param = array("d")
        self._labels: dict[int, str] = {}
        self._seen: dict[tuple, int] = {}  # hash-consing: gate key -> vertex
        for name in inputs:
            self.input(name)

    # -- shape ---------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return len(self._inputs)

    @property
    def n_vertices(self) -> int:
        return len(self._op)

    def __len__(self) -> int:
        return len(self._op)

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self._inputs)

    def input_vertex(self, name: str) -> int:
        return self._input_vertex[name]

    # -- adding vertices -------------------------------------------------------------
    def input(self, name: str) -> int:
        """A new input vertex (inputs must all come before the first gate)."""
        n = len(self._inputs)
        where = pointer("inputs", n)
        if len(self._op) > n:
            raise CircuitError("inputs must be added before any gate", where)
        check_input_name(name, where)
        if name in self._input_vertex:
            raise CircuitError(f"duplicate input name {name!r}", where)
        self._input_vertex[name] = n
        self._inputs.append(name)
        self._op.append(INPUT.code)
        self._offsets.append(len(self._args))
        self._param.append(0.0)
        return n

    def const(self, value: float, name: str | None = None) -> int:
        """The ``const`` vertex of ``value`` (one per value, bit for bit)."""
        return self._add(CONST.code, (), None, float(value), name)

    def gate(self, op_name: str, args=(), coeffs=None, param=None, name: str | None = None) -> int:
        """The vertex of gate ``op_name(args)``, new or existing. ``coeffs`` only for ``add``
        (default all 1), ``param`` the value of a ``const`` or the exponent of a ``pow``."""
        where = pointer("gates", len(self._op) - len(self._inputs))
        op = BY_NAME.get(op_name) if isinstance(op_name, str) else None
        if op is None or op is INPUT:
            raise CircuitError(f"unknown op {op_name!r}", where + "/op")
        try:
            args = tuple(operator.index(a) for a in args)
        except TypeError:
            raise CircuitError("args must be vertex numbers (integers)", where + "/args") from None
        k, n = len(args), len(self._op)
        if k < op.min_args or (op.max_args is not None and k > op.max_args):
            raise CircuitError(
                f"{op.name} takes {op.arity_text} argument(s), got {k}", where + "/args"
            )
        for j, a in enumerate(args):
            if not 0 <= a < n:
                raise CircuitError(
                    f"argument {a} is not an earlier vertex (0..{n - 1})", where + f"/args/{j}"
                )
        if coeffs is not None:
            if not op.coeffs:
                raise CircuitError(f"{op.name} takes no coeffs", where + "/coeffs")
            coeffs = tuple(float(c) for c in coeffs)
            if len(coeffs) != k:
                raise CircuitError(f"{k} args but {len(coeffs)} coeffs", where + "/coeffs")
        if op.param is None:
            if param is not None:
                raise CircuitError(f"{op.name} takes no parameter", where)
            param = 0.0
        elif param is None:
            raise CircuitError(f"{op.name} needs {op.param!r}", where + f"/{op.param}")
        else:
            param = float(param)
        if name is not None and not isinstance(name, str):
            raise CircuitError("a gate name must be a string", where + "/name")
        return self._add(op.code, args, coeffs, param, name)

    def label(self, vertex: int, name: str) -> None:
        """Name a vertex for people and pictures (the first name given stays)."""
        self._labels.setdefault(vertex, name)

    def _add(self, code: int, args: tuple, coeffs, param: float, name) -> int:
        """Hash-consed append; arguments already checked. ``coeffs`` None means all ones."""
        if code == _ADD_CODE:
            wire_key = _coeff_bytes(coeffs, len(args))
        else:
            wire_key = None
        key = (code, args, wire_key, _pack(param) if code in _PARAM_CODES else None)
        v = self._seen.get(key)
        if v is None:
            v = len(self._op)
            self._seen[key] = v
            self._op.append(code)
            self._args.extend(args)
            self._offsets.append(len(self._args))
            if coeffs is None:
                self._coeffs.extend(_ONES[: len(args)] if len(args) <= 64 else [1.0] * len(args))
            else:
                self._coeffs.extend(coeffs)
            self._param.append(param)
        if name is not None:
            self._labels.setdefault(v, name)
        return v

    # -- result ------------------------------------------------------------------------
    def build(self, outputs, output_names=None) -> Circuit:
        """A circuit with these output vertices (names default to ``y0, y1, ...``)."""
        try:
            outputs = [operator.index(v) for v in outputs]
        except TypeError:
            raise CircuitError("outputs must be vertex numbers", "/outputs") from None
        if not outputs:
            raise CircuitError("a circuit needs at least one output", "/outputs")
        n = len(self._op)
        for i, v in enumerate(outputs):
            if not 0 <= v < n:
                raise CircuitError(f"output {v} is not a vertex (0..{n - 1})", f"/outputs/{i}")
        if output_names is None:
            output_names = [f"y{i}" for i in range(len(outputs))]
        output_names = list(output_names)
        if len(output_names) != len(outputs):
            raise CircuitError(
                f"{len(output_names)} output names for {len(outputs)} outputs", "/output_names"
            )
        seen: set[str] = set()
        for i, name in enumerate(output_names):
            if not isinstance(name, str):
                raise CircuitError("an output name must be a string", f"/output_names/{i}")
            if name in seen:
                raise CircuitError(f"duplicate output name {name!r}", f"/output_names/{i}")
            seen.add(name)
        return Circuit.from_arrays(
            self._inputs,
            _copy(self._op, np.uint8),
            _copy(self._offsets, INDEX),
            _copy(self._args, INDEX),
            _copy(self._coeffs, np.float64),
            _copy(self._param, np.float64),
            np.asarray(outputs, dtype=INDEX),
            output_names,
            self._labels,
        )


_ADD_CODE = BY_NAME["add"].code
_PARAM_CODES = frozenset(op.code for op in BY_NAME.values() if op.param is not None)
_ONES = array("d", [1.0] * 64)


def _coeff_bytes(coeffs, k: int) -> bytes:
    if coeffs is None:
        return _ONES[:k].tobytes() if k <= 64 else array("d", [1.0] * k).tobytes()
    return array("d", coeffs).tobytes()


def _copy(a: array, dtype) -> np.ndarray:
    return np.frombuffer(a, dtype=dtype).copy() if len(a) else np.empty(0, dtype)
