"""The circuit IR: one immutable value made of flat arrays.

Vertices are numbered as in the document: inputs ``0 .. n-1``, then gates in order.
Per vertex: an op code (``INPUT`` for inputs), a parameter (the value of a ``const``,
the exponent of a ``pow``, else 0) and a row of arguments in CSR form. Per wire (one
argument entry): the vertex it reads and its coefficient (``add``'s cᵢ, 1 elsewhere).
Every argument is smaller than its gate, so every pass is a single sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

INDEX = np.int64  # vertex numbers and offsets
MAX_NAME_BYTES = 1024  # an input name's longest encoding (circuit-format.md)

# How a circuit pictures itself (``_repr_svg_``): a later stage, ``engine.drawing``,
# registers its ``draw`` here when the engine is imported; core never imports upward.
_PICTURE: list = []


def register_picture(draw) -> None:
    _PICTURE[:] = [draw]


def _frozen(a: np.ndarray, dtype) -> np.ndarray:
    a = np.ascontiguousarray(a, dtype=dtype)
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False, slots=True, weakref_slot=True)
class Circuit:
    """A circuit on flat arrays. Build one with ``Circuit.from_arrays`` (checks nothing),
    the builder, the parser or a codec (those validate)."""

    inputs: tuple[str, ...]
    op: np.ndarray  # uint8 (V,) op code per vertex
    arg_offsets: np.ndarray  # int64 (V+1,) CSR row pointers
    args: np.ndarray  # int64 (W,) argument vertices
    coeffs: np.ndarray  # float64 (W,) per-wire coefficients
    param: np.ndarray  # float64 (V,) const value / pow exponent / 0
    outputs: np.ndarray  # int64 (m,)
    output_names: tuple[str, ...]
    labels: Mapping[int, str] = field(default_factory=dict)  # vertex -> gate "name"

    @classmethod
    def from_arrays(
        cls,
        inputs,
        op,
        arg_offsets,
        args,
        coeffs,
        param,
        outputs,
        output_names=None,
        labels=None,
    ) -> Circuit:
        outputs = _frozen(outputs, INDEX)
        if output_names is None:
            output_names = tuple(f"y{i}" for i in range(len(outputs)))
        return cls(
            tuple(inputs),
            _frozen(op, np.uint8),
            _frozen(arg_offsets, INDEX),
            _frozen(args, INDEX),
            _frozen(coeffs, np.float64),
            _frozen(param, np.float64),
            outputs,
            tuple(output_names),
            MappingProxyType(dict(labels or {})),
        )

    # -- shape -----------------------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return len(self.inputs)

    @property
    def n_vertices(self) -> int:
        """nodes = inputs + all gate entries (constants included)."""
        return len(self.op)

    @property
    def n_wires(self) -> int:
        return len(self.args)

    @property
    def n_gates(self) -> int:
        """Entries of ``gates`` in the document (constants included)."""
        return len(self.op) - len(self.inputs)

    def arity(self) -> np.ndarray:
        return np.diff(self.arg_offsets)

    def args_of(self, v: int) -> np.ndarray:
        return self.args[self.arg_offsets[v] : self.arg_offsets[v + 1]]

    def wire_owner(self) -> np.ndarray:
        """The gate each wire feeds, (W,)."""
        return np.repeat(np.arange(self.n_vertices, dtype=INDEX), self.arity())

    def output_index(self, names) -> list[int]:
        pos = {n: i for i, n in enumerate(self.output_names)}
        return [pos[n] for n in names]

    def with_outputs(self, outputs, output_names) -> Circuit:
        return Circuit.from_arrays(
            self.inputs,
            self.op,
            self.arg_offsets,
            self.args,
            self.coeffs,
            self.param,
            outputs,
            output_names,
            self.labels,
        )

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a circuit as its picture (a summary past a few hundred gates)."""
        return _PICTURE[0](self) if _PICTURE else None

    def __repr__(self) -> str:
        return (
            f"Circuit(inputs={list(self.inputs)!r}, gates={self.n_gates}, wires={self.n_wires}, "
            f"outputs={list(self.output_names)!r})"
        )
