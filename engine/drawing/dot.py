"""A circuit as Graphviz DOT text, for people who have Graphviz (``dot -Tpdf``): one node
line per vertex, one edge line per wire, drawn bottom to top like the SVG."""

from __future__ import annotations

from ..core.circuit import Circuit
from ..core.ops import BY_CODE, CONST, INPUT
from .colours import Highlight, tint
from .labels import coefficient, describe, gate_label


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(c: Circuit, title: str, highlight: Highlight | None = None) -> str:
    outputs: dict[int, list[str]] = {}
    for v, name in zip(c.outputs, c.output_names, strict=True):
        outputs.setdefault(int(v), []).append(name)
    lines = [
        "digraph circuit {",
        f"  label={_quote(title)}; labelloc=t; rankdir=BT; nodesep=0.35; ranksep=0.6;",
        '  node [fontname="Helvetica", fontsize=12, shape=circle, width=0.45, fixedsize=false];',
        '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.6, color="#5b6470"];',
    ]
    sources = []
    for v in range(c.n_vertices):
        code = int(c.op[v])
        attrs = {"label": gate_label(c, v), "tooltip": describe(c, v)}
        if code == INPUT.code:
            attrs.update(shape="plaintext", fontcolor="#1a3c6e")
            sources.append(v)
        elif code == CONST.code:
            attrs.update(shape="box", style="rounded,filled", fillcolor="#f3f3f3")
            sources.append(v)
        if v in outputs:
            attrs["xlabel"] = ", ".join(outputs[v])
        if highlight is not None and highlight.key[v] is not None:
            colour = highlight.colour[highlight.key[v]]
            attrs.update(style="filled", fillcolor=tint(colour), color=colour)
            attrs["tooltip"] += f" — from {highlight.about[highlight.key[v]]}"
        body = ", ".join(f"{k}={_quote(val)}" for k, val in attrs.items())
        lines.append(f"  v{v} [{body}];")
    owner = c.wire_owner()
    for w in range(c.n_wires):
        v = int(owner[w])
        attrs = {}
        label = coefficient(c.coeffs[w]) if BY_CODE[int(c.op[v])].coeffs else None
        if label is not None:
            attrs["label"] = label
        if highlight is not None and w in highlight.wire_key:
            attrs.update(color=highlight.colour[highlight.wire_key[w]], penwidth="2")
        body = ", ".join(f"{k}={_quote(val)}" for k, val in attrs.items())
        lines.append(f"  v{int(c.args[w])} -> v{v}" + (f" [{body}];" if body else ";"))
    if sources:
        lines.append("  { rank=min; " + " ".join(f"v{v};" for v in sources) + " }")
    lines.append("}")
    return "\n".join(lines) + "\n"
