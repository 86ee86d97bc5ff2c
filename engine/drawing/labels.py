"""What pictures write: numbers, gate labels from the op table, vertex names, escaping."""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

from ..core.circuit import Circuit
from ..core.ops import BY_CODE, CONST, INPUT

MINUS = "\u2212"  # a real minus sign: −3, not -3
SUPERSCRIPTS = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def number(value: float) -> str:
    """``−3``, ``5``, ``0.5``, ``1.5e+06``: at most 4 significant digits, a real minus."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return ("−" if value < 0 else "") + "∞"
    text = f"{value:.4g}"
    if text in ("-0", "0"):
        text = "0"
    return text.replace("-", MINUS)


def coefficient(value: float) -> str | None:
    """A wire's label: its coefficient, or None when it is 1."""
    return None if value == 1.0 else number(value)


def gate_label(c: Circuit, v: int) -> str:
    """The op's symbol (``+``, ``×``, ``σ``...); a constant shows its value, an input its
    name; an op with an exponent parameter shows it (``x³``)."""
    code = int(c.op[v])
    if code == INPUT.code:
        return c.inputs[v]
    if code == CONST.code:
        return number(c.param[v])
    op = BY_CODE[code]
    if "ᵖ" in op.symbol:
        p = float(c.param[v])
        exponent = number(p).replace(MINUS, "-")
        fits = p == int(p) and abs(p) < 100
        return op.symbol.replace("ᵖ", exponent.translate(SUPERSCRIPTS) if fits else f"^{exponent}")
    return op.symbol or op.name


def vertex_name(c: Circuit, v: int) -> str:
    """How legends and tooltips name a vertex: an input's name, a gate's label (its
    document "name"), else ``g{k}`` for gate k of the document."""
    if v < c.n_inputs:
        return c.inputs[v]
    return c.labels.get(v) or f"g{v - c.n_inputs}"


def describe(c: Circuit, v: int) -> str:
    """A tooltip: ``g4 = add(x, y, z, g0)``."""
    if v < c.n_inputs:
        return f"input {c.inputs[v]}"
    op = BY_CODE[int(c.op[v])]
    args = c.args[c.arg_offsets[v] : c.arg_offsets[v + 1]]
    if op is CONST:
        return f"{vertex_name(c, v)} = {number(c.param[v])}"
    return f"{vertex_name(c, v)} = {op.name}({', '.join(vertex_name(c, int(a)) for a in args)})"


def text_width(text: str, size: float) -> float:
    """An estimate of the width of ``text`` in a sans-serif font of ``size`` px."""
    wide = sum(1 for ch in text if ch in "mwMW×÷σ√−+")
    return size * (0.58 * len(text) + 0.2 * wide)


def xml(text: str) -> str:
    return escape(str(text), {'"': "&quot;"})
