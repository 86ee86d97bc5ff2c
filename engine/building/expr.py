"""Circuits from Python expressions: the SDK builder.

    x, y, z = inputs("x y z")
    f = (x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2
    c = build(f, names=["f"])          # or build({"f": f})

    t, = inputs("t")
    g = where(t > 0, sqrt(t), 0) + max(t, 1, -t) + t ** t

``Expr`` and its operators are in ``symbolic.py``, the functions (one per op of the table,
``sin``, ``atan2``, ``where``, n-ary ``min``/``max``…) in ``functions.py``; both are
importable from here, where ``build`` lowers expressions into a circuit.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.circuit import Circuit
from ..errors import CircuitError
from .builder import CircuitBuilder
from .functions import *  # noqa: F403 -- the functions are part of this module's interface
from .functions import __all__ as _function_names
from .lowering import INPUT, lower
from .symbolic import Context, Expr, _as_expr, _ctx, const, inputs

__all__ = ["Context", "Expr", "build", "const", "inputs", *_function_names]


# -- building --------------------------------------------------------------------------
def build(*exprs, names=None, inputs=None) -> Circuit:
    """A circuit computing ``exprs`` (or the values of one ``{name: expr}`` mapping).

    Its inputs are the whole ``inputs()`` group in creation order, or ``inputs`` (input
    expressions or names, which must include every input used). Output names default to
    ``y0, y1, ...``; an output gate is labelled with its output's name.
    """
    if len(exprs) == 1 and isinstance(exprs[0], Mapping):
        if names is not None:
            raise TypeError("names given twice: as mapping keys and as names=")
        names = list(exprs[0].keys())
        exprs = tuple(exprs[0].values())
    if len(exprs) == 1 and isinstance(exprs[0], (list, tuple)):
        exprs = tuple(exprs[0])
    outs = [_as_expr(e) for e in exprs]
    if not outs:
        raise CircuitError("a circuit needs at least one output", "/outputs")
    if names is None:
        names = [f"y{i}" for i in range(len(outs))]
    names = list(names)
    ctx = _ctx(*outs)
    if inputs is None:
        input_names = list(ctx.names) if ctx is not None else []
    else:
        input_names = [_input_name(v, ctx, i) for i, v in enumerate(inputs)]
    b = CircuitBuilder(input_names)
    position = {name: i for i, name in enumerate(input_names)}
    known = ctx.names if ctx is not None else []
    vertex_of_input = [position.get(name, -1) for name in known]
    vertices = lower(b, outs, vertex_of_input)
    if len(names) == len(vertices):
        for v, name in zip(vertices, names, strict=True):
            if v >= b.n_inputs and isinstance(name, str):
                b.label(v, name)
    return b.build(vertices, names)


def _input_name(v, ctx: Context | None, i: int) -> str:
    if isinstance(v, Expr):
        if v.kind != INPUT:
            raise CircuitError("inputs= lists input expressions or names", f"/inputs/{i}")
        if ctx is not None and v.ctx is not ctx:
            raise CircuitError("an input from a different inputs() group", f"/inputs/{i}")
        return v.ctx.names[int(v.value)]
    return v
