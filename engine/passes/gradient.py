"""``differentiate``: a gradient request from options to result and its size certificate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..core.circuit import Circuit
from ..core.measures import measures
from ..errors import CircuitError
from .predict import predicted_sizes
from .propagate import activity, propagate, resolve
from .provenance import Provenance, copies

ENGINE_VERSION = "2"  # bump when results for the same request may differ (2: issue 11)
MODES = ("backward", "forward", "auto")


@dataclass(frozen=True)
class Gradient:
    circuit: Circuit  # the Jacobian circuit (simplified unless asked otherwise)
    mode: str  # the mode actually used
    source_circuit: Circuit  # the differentiated circuit
    raw_circuit: Circuit  # the result before simplification
    bound: int | None  # Theorem 3: 3·m·wires + nodes of the source for m outputs (backward)
    predicted: dict | None = None  # auto mode: predicted raw sizes of both modes
    provenance: Provenance | None = None  # where each vertex of ``circuit`` comes from

    # measures are computed when asked for: the pass itself never needs them
    @cached_property
    def source(self) -> dict:
        return measures(self.source_circuit)

    @cached_property
    def raw(self) -> dict:
        return measures(self.raw_circuit)

    def certificate(self) -> dict:
        out = {
            "mode": self.mode,
            "source": self.source,
            "raw": self.raw,
            "result": measures(self.circuit),
        }
        if self.bound is not None:
            out["theorem3_bound"] = self.bound
        if self.predicted is not None:
            out["predicted"] = self.predicted
        return out


def choose_mode(c: Circuit, wrt=None, of=None) -> tuple[str, dict]:
    """The mode whose raw result is predicted smaller (backward on a tie)."""
    xs, fs = resolve(c, wrt, of)
    sizes = predicted_sizes(c, xs, fs, *activity(c, xs, fs))
    return ("forward" if sizes["forward"] < sizes["backward"] else "backward"), sizes


def differentiate(
    c: Circuit,
    mode: str = "backward",
    wrt=None,
    of=None,
    include_value: bool = False,
    simplify: bool = True,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    provenance: bool = False,
) -> Gradient:
    """The Jacobian of ``c``'s outputs ``of`` by its inputs ``wrt`` as a circuit; with
    ``provenance``, also where each of its vertices comes from (``provenance.py``)."""
    if mode not in MODES:
        raise CircuitError(f"unknown mode {mode!r}; one of {', '.join(MODES)}", "/mode")
    predicted = None
    if mode == "auto":
        mode, predicted = choose_mode(c, wrt, of)
    # the pass reports 0..0.9 of the progress; simplification the rest
    scaled = None if progress is None else (lambda f: progress(0.9 * f))
    hooks = {"progress": scaled, "should_stop": should_stop}
    raw = propagate(c, mode, wrt, of, include_value, **hooks, provenance=provenance)
    trace = None
    if provenance:
        raw, origin = raw
        trace = np.column_stack([origin, copies(c, raw)])
    result = raw
    if simplify:
        from .simplify import simplify as simplify_pass

        result = simplify_pass(raw) if trace is None else simplify_pass(raw, carry=trace)
        if trace is not None:
            result, trace = result
        if should_stop is not None and should_stop():
            from ..errors import Cancelled

            raise Cancelled()
    if progress is not None:
        progress(1.0)
    # Theorem 3 per output: rule gates are shared, each output adds ≤ 2 gates per wire
    m = len(resolve(c, wrt, of)[1])
    bound = 3 * m * c.n_wires + c.n_vertices if mode == "backward" else None
    if trace is not None:
        by = "wire" if mode == "backward" else "vertex"
        trace = Provenance(by, trace[:, 0].copy(), np.maximum(trace[:, 1], -1), c)
    return Gradient(result, mode, c, raw, bound, predicted, trace)


def gradient(c: Circuit, **options) -> Circuit:
    """Just the Jacobian circuit of ``differentiate``."""
    return differentiate(c, **options).circuit
