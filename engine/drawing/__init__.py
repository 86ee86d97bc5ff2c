"""Pictures of circuits: ``draw(c)`` is an SVG document (or DOT text) as a string.

Drawn as the lecture draws circuits: inputs and constants at the bottom, outputs at the
top, a layer per depth (``layout.py``), op symbols on the gates, coefficients on the
wires of weighted sums (``svg.py``, ``dot.py``). A gradient circuit drawn with its
provenance (``passes.provenance``) shows the source circuit's gates apart from the added
ones, each added gate in the colour of the source wire (backward) or vertex (forward)
whose derivative rule produced it (``colours.py``). A circuit past ``max_gates`` becomes
a summary instead (``summary.py``): never a hairball, never a long wait.

Builds on ``core``; does no I/O.
"""

from __future__ import annotations

from ..core.circuit import Circuit, register_picture
from ..core.measures import measures
from .colours import highlight as _highlight
from .dot import to_dot
from .summary import summary_dot, summary_svg
from .svg import render

DEFAULT_MAX_GATES = 400
FORMATS = ("svg", "dot")
MEDIA_TYPES = {"svg": "image/svg+xml", "dot": "text/vnd.graphviz"}


def too_large(c: Circuit, max_gates: int = DEFAULT_MAX_GATES) -> str | None:
    """Why ``c`` is not drawn gate by gate at this limit, or None when it is."""
    wires_limit, inputs_limit = 4 * max_gates, max_gates
    if c.n_gates > max_gates:
        what, limit = f"{c.n_gates:,} gates", f"{max_gates:,}-gate"
    elif c.n_inputs > inputs_limit:
        what, limit = f"{c.n_inputs:,} inputs", f"{inputs_limit:,}-input"
    elif c.n_wires > wires_limit:
        what, limit = f"{c.n_wires:,} wires", f"{wires_limit:,}-wire"
    else:
        return None
    return f"circuit of {what}: above the {limit} drawing limit; summary shown"


def default_title(c: Circuit) -> str:
    args = ", ".join(c.inputs[:6]) + (", …" if c.n_inputs > 6 else "")
    outs = ", ".join(c.output_names[:4]) + (", …" if len(c.output_names) > 4 else "")
    return f"{outs}({args})" if len(c.output_names) == 1 else f"({outs}) of ({args})"


def caption(c: Circuit) -> str:
    m = measures(c)
    return f"size {m['size']}, depth {m['depth']}, {m['wires']} wires, {m['nodes']} nodes"


def draw(
    c: Circuit,
    format: str = "svg",
    *,
    max_gates: int = DEFAULT_MAX_GATES,
    provenance=None,
    title: str | None = None,
    subtitle: str | None = None,
) -> str:
    """The picture of ``c`` as ``format`` "svg" or "dot" text.

    ``provenance`` (a ``passes.provenance.Provenance`` of ``c``) colours a gradient
    circuit by where its gates come from. Past ``max_gates`` gates (or as many inputs,
    or four times as many wires) the picture is a summary that says so.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
    title = title or default_title(c)
    reason = too_large(c, max_gates)
    if reason is not None:
        return summary_svg(c, title, reason) if format == "svg" else summary_dot(c, title, reason)
    marks = None if provenance is None else _highlight(c, provenance)
    if format == "dot":
        return to_dot(c, title, marks)
    return render(c, title, caption(c) if subtitle is None else subtitle, marks)


register_picture(lambda c: draw(c))

__all__ = ["DEFAULT_MAX_GATES", "FORMATS", "MEDIA_TYPES", "draw", "too_large"]
