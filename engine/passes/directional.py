"""Directional derivatives as circuits: J·v, uᵀ·J and H·v, each of size O(size + wires).

``jvp``: the source with one tangent input appended per ``wrt`` input, then ONE forward
sweep seeded by all of them at once: the seed of x is the vertex ``tangent[x]``, not the
constant 1, so by linearity of the chain rule every vertex g ends with
Σₓ ∂g/∂x · tangent[x], and the chosen outputs with (J·v)ᵢ.

``vjp``: one cotangent input appended per ``of`` output, then ONE backward sweep seeded by
all of them at once: every vertex g ends with Σᵢ cotangent[fᵢ] · ∂fᵢ/∂g, the ``wrt``
inputs with (uᵀ·J)ⱼ.

Either is one sweep over the partials of ``partials.py``, which the Jacobian modes use
too, so the raw result has at most nodes + k + 3·wires gates (Theorem 3's accounting for
one sweep, k the appended inputs) whatever the numbers of inputs and outputs.

``hvp``: forward over reverse, the JVP of the backward gradient circuit G of the one
output f: H·v = J_{∇f}·v. G has at most nodes + 3·wires gates, the JVP at most
nodes(G) + k + 3·wires(G): O(size + wires) again, with a larger constant (docs/modes.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..core.circuit import INDEX, Circuit
from ..core.layout import Layout
from ..core.ops import INPUT
from .propagate import Sweeps, hooks, propagate


def with_inputs(c: Circuit, names) -> Circuit:
    """``c`` with inputs ``names`` appended after its own (its gates renumbered after them):
    it computes the same outputs and ignores the new inputs."""
    n, k = c.n_inputs, len(names)
    if k == 0:
        return c
    op = np.concatenate([c.op[:n], np.full(k, INPUT.code, np.uint8), c.op[n:]])
    offsets = np.concatenate(
        [c.arg_offsets[: n + 1], np.full(k, c.arg_offsets[n], INDEX), c.arg_offsets[n + 1 :]]
    )
    param = np.concatenate([c.param[:n], np.zeros(k), c.param[n:]])
    args = c.args + k * (c.args >= n)
    outputs = c.outputs + k * (c.outputs >= n)
    labels = {(v + k if v >= n else v): text for v, text in c.labels.items()}
    return Circuit.from_arrays(
        c.inputs + tuple(names), op, offsets, args, c.coeffs, param, outputs,
        c.output_names, labels,
    )  # fmt: skip


def one_sweep(c: Circuit, direction: str, xs, fs, extra, names, values: int) -> Circuit:
    """J·v ("forward": ``extra`` are tangents of the inputs ``xs``) or uᵀ·J ("backward":
    cotangents of the outputs ``fs``) of ``c``, its first ``values`` outputs kept first."""
    n = c.n_inputs
    ext = with_inputs(c, extra)
    seeded = np.arange(n, n + len(extra), dtype=INDEX)  # the appended inputs' vertices
    S = Sweeps(ext, list(xs), list(fs))
    if direction == "forward":
        S.run("forward", list(xs), seeded)
        handles = [S.at(ext.outputs[i]) for i in fs]
    else:
        S.run("backward", [int(ext.outputs[i]) for i in fs], seeded)
        handles = [S.at(x) for x in xs]
    return S.circuit(handles, ext.outputs[:values], names)


def directional(
    c: Circuit,
    lay: Layout,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Circuit:
    """The raw ``jvp`` or ``vjp`` circuit of ``lay`` (no simplification)."""
    tick = hooks(progress, should_stop)
    tick(0.0)
    direction = "forward" if lay.mode == "jvp" else "backward"
    names = list(c.output_names[: lay.values]) + list(lay.derivatives)
    out = one_sweep(c, direction, lay.xs, lay.fs, lay.extra_inputs, names, lay.values)
    tick(1.0)
    return out


def hessian_vector(
    c: Circuit,
    lay: Layout,
    simplify_gradient: bool,
    progress: Callable[[float], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Circuit, Circuit]:
    """(G, H·v): the backward gradient circuit G of the one output (simplified if asked,
    with the source's outputs first under ``include_value``), and the raw JVP of G."""
    tick = hooks(progress, should_stop)
    half = None if progress is None else (lambda f: progress(0.5 * f))
    wrt = [c.inputs[j] for j in lay.xs]
    of = [c.output_names[lay.fs[0]]]
    G = propagate(c, "backward", wrt, of, lay.values > 0, progress=half, should_stop=should_stop)
    if simplify_gradient:
        from .simplify import simplify

        G = simplify(G)
    tick(0.5)
    grads = range(lay.values, lay.values + len(lay.xs))
    names = list(c.output_names[: lay.values]) + list(lay.derivatives)
    out = one_sweep(G, "forward", lay.xs, grads, lay.extra_inputs, names, lay.values)
    tick(1.0)
    return G, out


def one_sweep_bound(c: Circuit, lay: Layout, outputs) -> int:
    """Gates (entries) a raw one-sweep result of ``c`` may have: nodes + k + 3·wires, plus
    one per output that repeats a vertex (its derivative may need its own scaling gate)."""
    repeats = len(outputs) - len(np.unique(np.asarray(outputs, INDEX)))
    return c.n_vertices + len(lay.extra_inputs) + 3 * c.n_wires + repeats
