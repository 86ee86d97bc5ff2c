"""A circuit as a self-contained SVG document: the layout of ``layout.py`` drawn bottom to
top, gates as circles with their op symbol, wires as curves with arrowheads, weighted-sum
coefficients on their wires, input names under the inputs, output names above the
outputs; with a provenance ``Highlight``, the added gates in the colour of the source wire
or vertex that produced them and a legend.

Every node is a ``<g class="node ...">`` with ``data-vertex`` (and for gradients
``class="... source"`` or ``"... added"`` with ``data-from``); every wire a
``<path class="wire" data-wire=...>``: tests and scripts can read the picture back.
"""

from __future__ import annotations

import math

from ..core.circuit import Circuit
from ..core.ops import BY_CODE, CONST, INPUT
from .colours import Highlight, tint
from .labels import coefficient, describe, gate_label, number, text_width, xml
from .layout import Layout, layout
from .placement import Placer

FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"
GATE_R = 17.0  # gate radius
INPUT_R = 6.0
CONST_H = 22.0
SYMBOL_PX, SMALL_PX, LABEL_PX, NAME_PX = 16, 12, 12, 14
EDGE = "#5b6470"
MARGIN = 28.0
STEEPEST = math.cos(math.radians(50))  # wires meet nodes at most this far from vertical
HEADER = 70.0  # room for the caption, and the output names, above the picture
LEGEND_HEADING = "where each added gate comes from"

STYLE = f"""
svg {{ font-family: {FONT}; }}
.caption {{ font-size: 15px; font-weight: bold; fill: #222; }}
.subcaption {{ font-size: 12px; fill: #555; }}
.wire {{ fill: none; stroke: {EDGE}; stroke-width: 1.3; }}
.wire.coloured {{ stroke-width: 2.4; }}
.coeff {{ font-size: {LABEL_PX}px; fill: #9c1c1c; font-style: italic; text-anchor: middle;
  paint-order: stroke; stroke: #fff; stroke-width: 4px; stroke-linejoin: round; }}
.node circle, .node rect {{ fill: #fff; stroke: #333; stroke-width: 1.4; }}
.node text {{ text-anchor: middle; fill: #111; }}
.node .symbol {{ font-size: {SYMBOL_PX}px; }}
.node .symbol.small {{ font-size: {SMALL_PX}px; }}
.const rect {{ fill: #f3f3f3; stroke: #888; }}
.const text {{ font-size: {SMALL_PX}px; }}
.name {{ font-size: {NAME_PX}px; font-weight: bold; text-anchor: middle; fill: #1a3c6e; }}
.output-name {{ font-size: {NAME_PX}px; font-weight: bold; text-anchor: middle; fill: #0b5d1e; }}
.gate-id {{ font-size: 10px; fill: #777; }}
.source circle {{ fill: #fff; stroke: #333; }}
.shared circle, .shared rect {{ stroke-dasharray: 3 2; }}
.node.input circle {{ fill: #333; stroke: #333; }}
.legend text {{ font-size: 12px; fill: #222; }}
.legend .heading {{ font-weight: bold; font-size: 13px; }}
"""


def node_width(c: Circuit, v: int) -> float:
    code = int(c.op[v])
    if code == INPUT.code:
        return max(28.0, text_width(c.inputs[v], NAME_PX))
    label = gate_label(c, v)
    if code == CONST.code:
        return text_width(label, SMALL_PX) + 14
    return max(2 * GATE_R, text_width(label, _symbol_px(label)) + 12)


def _symbol_px(label: str) -> int:
    return SYMBOL_PX if len(label) <= 2 else SMALL_PX


def _radius(c: Circuit, v: int, width: float) -> float:
    """How far from its centre a wire stops at vertex v."""
    code = int(c.op[v])
    if code == INPUT.code:
        return INPUT_R + 2
    if code == CONST.code:
        return CONST_H / 2 + 1
    return width / 2 + 1


def render(
    c: Circuit,
    title: str,
    caption: str = "",
    highlight: Highlight | None = None,
) -> str:
    """The SVG document of ``c`` (its layout computed here)."""
    lay = layout_of(c)
    widths = [node_width(c, v) for v in range(c.n_vertices)]
    legend = highlight.legend() if highlight is not None else []
    legend_w = max((text_width(t, 12) for _, t, _ in legend), default=0.0)
    legend_w = max(legend_w, text_width(LEGEND_HEADING, 13)) + 60 if legend else 0.0
    left, top = MARGIN, MARGIN + HEADER
    picture_w = lay.width + 2 * MARGIN
    width = max(picture_w + legend_w, text_width(title, 15) + 2 * MARGIN, 260.0)
    height = max(lay.height + top + MARGIN + 26, top + 30 + 18 * len(legend))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" class="circuit">',
        f"<title>{xml(title)}</title>",
        f"<style>{STYLE}</style>",
        _defs(highlight),
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#fff"/>',
        f'<text class="caption" x="{MARGIN}" y="{MARGIN}">{xml(title)}</text>',
    ]
    if caption:
        out.append(f'<text class="subcaption" x="{MARGIN}" y="{MARGIN + 18}">{xml(caption)}</text>')
    xs = [x + left for x in lay.x]
    ys = [y + top + 6 for y in lay.y]
    out.append('<g class="wires">')
    placer = Placer()
    for v in range(c.n_vertices):
        placer.add_box((xs[v], ys[v], widths[v] / 2 + 2, widths[v] / 2 + 2))
    for w, path in enumerate(lay.paths):
        for p, q in zip(path, path[1:], strict=False):
            placer.add_segment(w, (xs[p], ys[p], xs[q], ys[q]))
    labels = []
    for w, path in enumerate(lay.paths):
        out.append(_wire(c, w, path, xs, ys, widths, highlight, placer, labels))
    out.append("</g>")
    out.append('<g class="coeffs">' + "".join(labels) + "</g>")
    out.append('<g class="nodes">')
    names = _output_names(c)
    for v in range(c.n_vertices):
        out.append(_node(c, v, xs[v], ys[v], widths[v], highlight, names.get(v)))
    out.append("</g>")
    if legend:
        out.append(_legend(legend, picture_w + 10, top))
    out.append("</svg>")
    return "\n".join(out)


def _defs(highlight: Highlight | None) -> str:
    colours = {EDGE} | (set(highlight.colour.values()) if highlight else set())
    markers = "".join(
        f'<marker id="{_marker(col)}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" markerUnits="strokeWidth" orient="auto">'
        f'<path d="M0,0 L10,5 L0,10 z" fill="{col}"/></marker>'
        for col in sorted(colours)
    )
    return f"<defs>{markers}</defs>"


def _marker(colour: str) -> str:
    return "arrow-" + colour.lstrip("#")


def _wire(c, w, path, xs, ys, widths, highlight, placer, labels) -> str:
    pts = [(xs[n], ys[n]) for n in path]
    a, v = path[0], path[-1]
    ra = _radius(c, a, widths[a]) if a < c.n_vertices else 0.0
    rv = _radius(c, v, widths[v])
    d = _curve(pts, ra, rv)
    colour, cls, extra = EDGE, "wire", ""
    key = highlight.wire_key.get(w) if highlight is not None else None
    if key is not None:
        colour, cls = highlight.colour[key], "wire coloured"
        extra = f' data-from="{key}" stroke="{colour}" style="stroke:{colour}"'
    label = coefficient(c.coeffs[w]) if BY_CODE[int(c.op[v])].coeffs else None
    if label is not None:
        labels.append(_coefficient_label(label, pts[-2], pts[-1], w, placer))
    return (
        f'<path class="{cls}" data-wire="{w}" data-from-vertex="{a}" data-to-vertex="{v}"{extra}'
        f' d="{d}" marker-end="url(#{_marker(colour)})"/>'
    )


def _curve(pts, r_start, r_end) -> str:
    """A smooth path through ``pts`` (bottom to top): vertical tangents at the bends,
    leaving the first node and reaching the last one along the radius."""
    (x0, y0), (x1, y1) = pts[0], pts[1]
    ux, uy = _steep(x1 - x0, y1 - y0, -1.0)
    start = (x0 + ux * r_start, y0 + uy * r_start)
    (xp, yp), (xn, yn) = pts[-2], pts[-1]
    vx, vy = _steep(xp - xn, yp - yn, 1.0)
    end = (xn + vx * r_end, yn + vy * r_end)
    anchors = [start, *pts[1:-1], end]
    d = [f"M{start[0]:.1f},{start[1]:.1f}"]
    for i in range(1, len(anchors)):
        (px, py), (qx, qy) = anchors[i - 1], anchors[i]
        k = abs(qy - py) * 0.45
        c1 = (px + ux * k, py + uy * k) if i == 1 else (px, py - k)
        c2 = (qx + vx * k, qy + vy * k) if i == len(anchors) - 1 else (qx, qy + k)
        d.append(f"C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {qx:.1f},{qy:.1f}")
    return " ".join(d)


def _unit(dx: float, dy: float) -> tuple[float, float]:
    n = math.hypot(dx, dy) or 1.0
    return dx / n, dy / n


def _steep(dx: float, dy: float, down: float) -> tuple[float, float]:
    """The unit direction toward (dx, dy), but at most 50° off the vertical (``down`` = 1:
    below the node, -1: above it): wires leave upward and arrive from below, even when
    their other end is far to the side."""
    ux, uy = _unit(dx, dy)
    if uy * down < STEEPEST:
        uy = STEEPEST * down
        ux = math.copysign(math.sqrt(1 - uy * uy), ux)
    return ux, uy


def _coefficient_label(text, lower, upper, w, placer: Placer) -> str:
    """The coefficient on the wire's last segment, where it overlaps least."""
    half_w, half_h = text_width(text, LABEL_PX) / 2 + 1, LABEL_PX / 2
    x, y = placer.place(w, half_w, half_h, lower, upper)
    return (
        f'<text class="coeff" data-wire="{w}" x="{x:.1f}" y="{y + LABEL_PX * 0.35:.1f}">'
        f"{xml(text)}</text>"
    )


def _output_names(c: Circuit) -> dict[int, str]:
    names: dict[int, list[str]] = {}
    for v, name in zip(c.outputs, c.output_names, strict=True):
        names.setdefault(int(v), []).append(name)
    return {v: ", ".join(n) for v, n in names.items()}


def _node(c, v, x, y, width, highlight, output_name) -> str:
    code = int(c.op[v])
    kind = "input" if code == INPUT.code else "const" if code == CONST.code else "gate"
    cls = ["node", kind]
    attrs = f' data-vertex="{v}" data-op="{BY_CODE[code].name}"'
    fill = stroke = None
    if highlight is not None:
        role = highlight.role[v]
        cls.append(role)
        key = highlight.key[v]
        if key is not None:
            fill, stroke = tint(highlight.colour[key]), highlight.colour[key]
            attrs += f' data-from="{key}" data-colour="{stroke}"'
            attrs += f' data-from-label="{xml(highlight.about[key])}"'
    tip = describe(c, v)
    if highlight is not None and highlight.key[v] is not None:
        tip += f" — from {highlight.about[highlight.key[v]]}"
    parts = [f'<g class="{" ".join(cls)}"{attrs}>', f"<title>{xml(tip)}</title>"]
    paint = f' style="fill:{fill};stroke:{stroke}"' if fill else ""
    if kind == "input":
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{INPUT_R}"/>')
        parts.append(
            f'<text class="name" x="{x:.1f}" y="{y + INPUT_R + NAME_PX + 2:.1f}">'
            f"{xml(c.inputs[v])}</text>"
        )
    elif kind == "const":
        parts.append(
            f'<rect x="{x - width / 2:.1f}" y="{y - CONST_H / 2:.1f}" width="{width:.1f}" '
            f'height="{CONST_H}" rx="5"{paint}/>'
        )
        value = xml(number(c.param[v]))
        parts.append(f'<text x="{x:.1f}" y="{y + SMALL_PX * 0.35:.1f}">{value}</text>')
    else:
        label = gate_label(c, v)
        px = _symbol_px(label)
        small = " small" if px == SMALL_PX else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{width / 2:.1f}"{paint}/>')
        parts.append(
            f'<text class="symbol{small}" x="{x:.1f}" y="{y + px * 0.35:.1f}">{xml(label)}</text>'
        )
        if highlight is not None and highlight.role[v] == "source":
            name = highlight.source_name[v]
            if name:
                parts.append(
                    f'<text class="gate-id" x="{x + width / 2 + 2:.1f}" '
                    f'y="{y - width / 2 + 4:.1f}" text-anchor="start">{xml(name)}</text>'
                )
    if output_name is not None:
        top = y - (INPUT_R if kind == "input" else CONST_H / 2 if kind == "const" else width / 2)
        parts.append(
            f'<text class="output-name" x="{x:.1f}" y="{top - 8:.1f}">{xml(output_name)}</text>'
        )
    parts.append("</g>")
    return "".join(parts)


def _legend(lines, x, y) -> str:
    out = [f'<g class="legend" transform="translate({x:.0f},{y:.0f})">']
    out.append(f'<text class="heading" x="0" y="0">{LEGEND_HEADING}</text>')
    out.append('<circle cx="8" cy="18" r="7" fill="#fff" stroke="#333" stroke-width="1.4"/>')
    out.append('<text x="22" y="22">the source circuit</text>')
    for i, (colour, text, key) in enumerate(lines):
        cy = 40 + 18 * i
        out.append(
            f'<g class="legend-entry" data-key="{key}"><circle cx="8" cy="{cy}" r="7" '
            f'fill="{tint(colour)}" stroke="{colour}" stroke-width="1.6"/>'
            f'<text x="22" y="{cy + 4}">{xml(text)}</text></g>'
        )
    out.append("</g>")
    return "".join(out)


def layout_of(c: Circuit) -> Layout:
    """The layout ``render`` uses (tests count its crossings)."""
    owner = c.wire_owner()
    labelled = [
        BY_CODE[int(c.op[owner[w]])].coeffs and c.coeffs[w] != 1.0 for w in range(c.n_wires)
    ]
    widths = [node_width(c, v) for v in range(c.n_vertices)]
    return layout(c, widths, labelled=labelled)
