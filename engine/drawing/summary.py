"""The picture of a circuit too large to draw: what it is made of, in linear time.

An op histogram (bars), gates per depth layer (bars, layers grouped into at most
``MAX_BARS`` bins), the counts and first names of inputs and outputs, and the reason no
drawing is shown. Everything comes from a few array passes (bincount, the compiled depth
sweep of ``core.measures``), so 10⁶ gates take well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.circuit import Circuit
from ..core.measures import depths
from ..core.ops import BY_CODE, CONST, INPUT
from .labels import text_width, xml

MAX_BARS = 48  # depth layers shown as at most this many bars
NAMES_SHOWN = 6
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


@dataclass
class Summary:
    gates: int  # document gates (constants included)
    size: int  # gates that are not constants
    wires: int
    depth: int
    ops: list[tuple[str, str, int]]  # (name, symbol, count), most frequent first
    layers: list[tuple[int, int, int]]  # (first depth, last depth, gates)
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def summarise(c: Circuit) -> Summary:
    counts = np.bincount(c.op[c.n_inputs :], minlength=len(BY_CODE))
    d = depths(c)
    gate_depths = d[c.n_inputs :][c.op[c.n_inputs :] != CONST.code]
    top = int(d.max(initial=0))
    per_layer = np.bincount(gate_depths, minlength=top + 1)[1:]  # layer 0: sources only
    bins = []
    if top:
        edges = np.linspace(1, top + 1, min(top, MAX_BARS) + 1).round().astype(int)
        sums = np.add.reduceat(per_layer, edges[:-1] - 1) if len(per_layer) else []
        spans = zip(edges[:-1], edges[1:], sums, strict=True)
        bins = [(int(a), int(b) - 1, int(n)) for a, b, n in spans]
    ops = [
        (BY_CODE[k].name, BY_CODE[k].symbol, int(n))
        for k, n in enumerate(counts)
        if n and k != INPUT.code
    ]
    ops.sort(key=lambda o: -o[2])
    return Summary(
        gates=c.n_gates,
        size=int(c.n_gates - counts[CONST.code]),
        wires=c.n_wires,
        depth=top,
        ops=ops,
        layers=bins,
        inputs=c.inputs,
        outputs=c.output_names,
    )


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    more = len(names) - NAMES_SHOWN
    return shown + (f", … ({more:,} more)" if more > 0 else "")


def summary_svg(c: Circuit, title: str, reason: str) -> str:
    s = summarise(c)
    W = 760
    lines = [
        f"{s.size:,} gates ({s.gates - s.size:,} constants), {s.wires:,} wires, depth {s.depth:,}",
        f"{len(s.inputs):,} inputs: {_names(s.inputs)}",
        f"{len(s.outputs):,} outputs: {_names(s.outputs)}",
    ]
    y0 = 112
    ops_h = 22 * max(len(s.ops), 1)
    layers_top = y0 + 40 + ops_h + 40
    H = layers_top + 210
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
        f'viewBox="0 0 {W} {H}" class="circuit summary">',
        f"<title>{xml(title)}</title>",
        f"<style>svg {{ font-family: {FONT}; }} text {{ font-size: 13px; fill: #222; }} "
        ".caption { font-size: 15px; font-weight: bold; } .reason { fill: #8a4b00; } "
        ".bar { fill: #4e79a7; } .axis { stroke: #999; } .small { font-size: 11px; fill: #555; }"
        "</style>",
        f'<rect width="{W}" height="{H}" fill="#fff"/>',
        f'<text class="caption" x="24" y="30">{xml(title)}</text>',
        f'<text class="reason" x="24" y="52">{xml(reason)}</text>',
    ]
    for i, line in enumerate(lines):
        out.append(f'<text class="stats" x="24" y="{74 + 18 * i}">{xml(line)}</text>')
    out.append(_op_bars(s, y0 + 30, W))
    out.append(_layer_bars(s, layers_top, W))
    out.append("</svg>")
    return "\n".join(out)


def _op_bars(s: Summary, y: float, W: float) -> str:
    out = [f'<g class="ops"><text class="caption" x="24" y="{y - 8}">gates by op</text>']
    largest = max((n for _, _, n in s.ops), default=1)
    label_w = max((text_width(f"{sym} {name}", 13) for name, sym, _ in s.ops), default=40) + 34
    span = W - label_w - 120
    for i, (name, symbol, n) in enumerate(s.ops):
        top = y + 22 * i
        length = max(1.0, span * n / largest)
        out.append(
            f'<g class="op" data-op="{name}" data-count="{n}">'
            f'<text x="24" y="{top + 14}">{xml(symbol)} {xml(name)}</text>'
            f'<rect class="bar" x="{label_w:.0f}" y="{top + 3}" width="{length:.1f}" height="14"/>'
            f'<text x="{label_w + length + 6:.0f}" y="{top + 14}">{n:,}</text></g>'
        )
    out.append("</g>")
    return "".join(out)


def _layer_bars(s: Summary, y: float, W: float) -> str:
    title = "gates per depth layer" + (
        f" (layers grouped by {s.layers[0][1] - s.layers[0][0] + 1})"
        if s.layers and s.layers[0][1] > s.layers[0][0]
        else ""
    )
    out = [f'<g class="layers"><text class="caption" x="24" y="{y - 8}">{xml(title)}</text>']
    if not s.layers:
        out.append(f'<text x="24" y="{y + 20}">no gates</text></g>')
        return "".join(out)
    chart_h, left, right = 150.0, 60.0, W - 24
    base = y + chart_h
    largest = max(n for _, _, n in s.layers) or 1
    step = (right - left) / len(s.layers)
    out.append(f'<line class="axis" x1="{left}" y1="{base}" x2="{right}" y2="{base}"/>')
    out.append(f'<text class="small" x="24" y="{y + 12}">{largest:,}</text>')
    for i, (a, b, n) in enumerate(s.layers):
        h = chart_h * n / largest
        x = left + i * step
        span = f"{a}" if a == b else f"{a}–{b}"
        out.append(
            f'<rect class="bar" data-depth="{span}" data-count="{n}" x="{x + 1:.1f}" '
            f'y="{base - h:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}">'
            f"<title>depth {span}: {n:,} gates</title></rect>"
        )
    out.append(f'<text class="small" x="{left}" y="{base + 16}">depth 1</text>')
    out.append(
        f'<text class="small" x="{right}" y="{base + 16}" text-anchor="end">{s.depth:,}</text>'
    )
    out.append("</g>")
    return "".join(out)


def summary_dot(c: Circuit, title: str, reason: str) -> str:
    """The same summary for Graphviz users: one note node."""
    s = summarise(c)
    ops = "\\l".join(f"{name}: {n:,}" for name, _, n in s.ops)
    text = (
        f"{title}\\n{reason}\\l{s.size:,} gates, {s.wires:,} wires, depth {s.depth:,}\\l"
        f"{len(s.inputs):,} inputs, {len(s.outputs):,} outputs\\l{ops}\\l"
    )
    text = text.replace('"', '\\"')
    return f'digraph summary {{\n  summary [shape=note, label="{text}"];\n}}\n'
