"""``differentiate``: a gradient request from options to result and its size certificate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..core.circuit import Circuit
from ..core.layout import MODES, Layout, layout, resolve
from ..core.measures import measures
from ..errors import CircuitError
from .directional import directional, hessian_vector, one_sweep_bound
from .predict import predicted_sizes
from .propagate import activity, propagate
from .provenance import Provenance, copies

# bump when results for the same request may differ (2: ops; 3: modes; 4: pairs sorted)
ENGINE_VERSION = "4"
__all__ = ["ENGINE_VERSION", "MODES", "Gradient", "differentiate", "gradient", "jvp", "vjp", "hvp"]


@dataclass(frozen=True)
class Gradient:
    circuit: Circuit  # the result circuit (simplified unless asked otherwise)
    mode: str  # the mode actually used
    source_circuit: Circuit  # the differentiated circuit
    raw_circuit: Circuit  # the result before simplification
    # Theorem 3: 3·m·wires + nodes of the source for m outputs (backward); for one sweep
    # (jvp, vjp; hvp's over the gradient circuit) nodes + k + 3·wires (directional.py)
    bound: int | None
    predicted: dict | None = None  # auto mode: predicted raw sizes of both modes
    layout: Layout | None = None  # the result's inputs and outputs
    gradient_circuit: Circuit | None = None  # hvp: the gradient circuit it differentiated
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
        if self.gradient_circuit is not None:
            out["gradient"] = measures(self.gradient_circuit)
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
    """The derivative of ``c``'s outputs ``of`` by its inputs ``wrt`` as a circuit: the
    Jacobian (``backward``, ``forward``, ``auto``), J·v (``jvp``), uᵀ·J (``vjp``) or H·v
    (``hvp``); ``core/layout.py`` names the result's inputs and outputs. With
    ``provenance`` (Jacobian modes), also where each of its vertices comes from
    (``provenance.py``)."""
    lay = layout(c, mode, wrt, of, include_value)
    if provenance and mode not in ("backward", "forward", "auto"):
        raise CircuitError(f"provenance is recorded for Jacobians, not for {mode}", "/mode")
    predicted, G, trace = None, None, None
    if mode == "auto":
        mode, predicted = choose_mode(c, wrt, of)
    # the pass reports 0..0.9 of the progress; simplification the rest
    scaled = None if progress is None else (lambda f: progress(0.9 * f))
    hooks = {"progress": scaled, "should_stop": should_stop}
    if mode in ("forward", "backward"):
        raw = propagate(c, mode, wrt, of, include_value, **hooks, provenance=provenance)
        if provenance:
            raw, origin = raw
            trace = np.column_stack([origin, copies(c, raw)])
        # Theorem 3 per output: rule gates are shared, each output adds ≤ 2 gates per wire
        bound = 3 * len(lay.fs) * c.n_wires + c.n_vertices if mode == "backward" else None
    elif mode in ("jvp", "vjp"):
        raw = directional(c, lay, **hooks)
        bound = one_sweep_bound(c, lay, c.outputs[list(lay.fs)])
    else:
        G, raw = hessian_vector(c, lay, simplify, **hooks)
        bound = one_sweep_bound(G, lay, G.outputs[lay.values :])
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
    if trace is not None:
        by = "wire" if mode == "backward" else "vertex"
        trace = Provenance(by, trace[:, 0].copy(), np.maximum(trace[:, 1], -1), c)
    return Gradient(result, mode, c, raw, bound, predicted, lay, G, trace)


def gradient(c: Circuit, **options) -> Circuit:
    """Just the result circuit of ``differentiate``."""
    return differentiate(c, **options).circuit


def jvp(c: Circuit, wrt=None, of=None, **options) -> Circuit:
    """J·v as a circuit: inputs ``c``'s then ``tangent[x]`` per ``wrt`` input, outputs
    ``jvp[f]`` per ``of`` output (options as ``differentiate``)."""
    return differentiate(c, "jvp", wrt, of, **options).circuit


def vjp(c: Circuit, wrt=None, of=None, **options) -> Circuit:
    """uᵀ·J as a circuit: inputs ``c``'s then ``cotangent[f]`` per ``of`` output, outputs
    ``vjp[x]`` per ``wrt`` input."""
    return differentiate(c, "vjp", wrt, of, **options).circuit


def hvp(c: Circuit, wrt=None, of=None, **options) -> Circuit:
    """H·v of the one output ``of`` as a circuit: inputs ``c``'s then ``tangent[x]`` per
    ``wrt`` input, outputs ``hvp[x]`` per ``wrt`` input."""
    return differentiate(c, "hvp", wrt, of, **options).circuit
