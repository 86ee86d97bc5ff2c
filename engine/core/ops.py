"""The op table: every operation of circuit-format.md is one entry here.

An entry says how many arguments the op takes, which parameter it carries, how to
evaluate it and what its partial derivatives ∂ₐ[g] are. Evaluation is one NumPy
expression that works both on arrays (vectorised over points) and, compiled by Numba,
on scalars inside the evaluation tape. Derivative rules are written in the circuit
language of ``templates.py``: they build gates, so a gradient circuit can be
differentiated again, and each runs once for all gates of its op.

Forward propagation, backpropagation, simplification, evaluation and validation all read
this table; adding an op means adding one entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .templates import apply, product, register_codes


@dataclass(frozen=True)
class Op:
    name: str
    code: int
    min_args: int
    max_args: int | None  # None: variadic
    evaluate: Callable | None  # f(a[, b][, p]) on floats or arrays; None for sources/n-ary
    # rule(g, a, b, ..., p, c) for fixed arity, rule(g, args, p, c) for variadic ops (``args``
    # a sequence of Vec); returns one Term/Vec/number per argument, or a (G, k) array of
    # constant partials; p is the (G,) param array, c the (G, k) coefficient array
    partials: Callable | None
    param: str | None = None  # document key of the per-vertex parameter ("value", "p")
    coeffs: bool = False  # takes per-wire coefficients (only add)
    reduction: str | None = None  # "sum" / "product": variadic, evaluated by the kernels
    doc: str = ""
    symbol: str = ""  # how pictures label its gates: "+", "×", "σ"...

    @property
    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args}"
        return str(self.min_args)


# -- partials, in the circuit language -------------------------------------------------
def cos(a):
    return apply("cos", a)


def sin(a):
    return apply("sin", a)


def recip(a):
    return apply("recip", a)


def step(a):
    return apply("step", a)


def sign(a):
    return apply("sign", a)


def power(a, p):
    return apply("pow", a, param=p)


def _mul_partials(g, a, p, c):
    # d(Π a) / d aᵢ = Π_{j≠i} aⱼ
    return [product(a[:i] + a[i + 1 :]) for i in range(len(a))]


def _div_partials(g, a, b, p, c):
    r = recip(b)  # shared by both partials: 1/b and -(a/b)/b
    return [r, -g * r]


# One row per op: name, arity (min, max), evaluate, partials, extras.
# "+ 0.0" in relu/step/sign: NumPy and Numba disagree on the sign of a zero result at -0.0.
# fmt: off
_ENTRIES = [
    ("input", (0, 0), None, None, {"symbol": "x", "doc": "an input variable"}),
    ("const", (0, 0), None, None, {"symbol": "c", "param": "value", "doc": "value"}),
    ("add", (1, None), None, lambda g, a, p, c: c,
     {"symbol": "+", "coeffs": True, "reduction": "sum", "doc": "Σ cᵢ·aᵢ"}),
    ("mul", (2, None), None, _mul_partials, {"symbol": "×", "reduction": "product", "doc": "Π aᵢ"}),
    ("neg", (1, 1), lambda a: -a, lambda g, a, p, c: [-1.0], {"symbol": "−", "doc": "−a"}),
    ("sub", (2, 2), lambda a, b: a - b, lambda g, a, b, p, c: [1.0, -1.0],
     {"symbol": "−", "doc": "a − b"}),
    ("div", (2, 2), lambda a, b: a / b, _div_partials, {"symbol": "÷", "doc": "a / b"}),
    ("recip", (1, 1), lambda a: 1.0 / a, lambda g, a, p, c: [-g * g],
     {"symbol": "1/x", "doc": "1/a"}),
    ("square", (1, 1), lambda a: a * a, lambda g, a, p, c: [2.0 * a],
     {"symbol": "x²", "doc": "a²"}),
    ("pow", (1, 1), lambda a, p: np.power(a, p), lambda g, a, p, c: [p * power(a, p - 1.0)],
     {"symbol": "xᵖ", "param": "p", "doc": "aᵖ"}),
    ("sqrt", (1, 1), lambda a: np.sqrt(a), lambda g, a, p, c: [0.5 * recip(g)],
     {"symbol": "√", "doc": "√a"}),
    ("exp", (1, 1), lambda a: np.exp(a), lambda g, a, p, c: [g], {"symbol": "exp", "doc": "eᵃ"}),
    ("log", (1, 1), lambda a: np.log(a), lambda g, a, p, c: [recip(a)],
     {"symbol": "log", "doc": "ln a"}),
    ("sin", (1, 1), lambda a: np.sin(a), lambda g, a, p, c: [cos(a)],
     {"symbol": "sin", "doc": "sin a"}),
    ("cos", (1, 1), lambda a: np.cos(a), lambda g, a, p, c: [-sin(a)],
     {"symbol": "cos", "doc": "cos a"}),
    ("tanh", (1, 1), lambda a: np.tanh(a), lambda g, a, p, c: [1.0 - g * g],
     {"symbol": "tanh", "doc": "tanh a"}),
    ("sigmoid", (1, 1), lambda a: 1.0 / (1.0 + np.exp(-a)), lambda g, a, p, c: [g * (1.0 - g)],
     {"symbol": "σ", "doc": "1/(1+e⁻ᵃ)"}),
    ("relu", (1, 1), lambda a: np.maximum(a, 0.0) + 0.0, lambda g, a, p, c: [step(a)],
     {"symbol": "relu", "doc": "max(a, 0)"}),
    ("abs", (1, 1), lambda a: np.abs(a), lambda g, a, p, c: [sign(a)],
     {"symbol": "|x|", "doc": "|a|"}),
    ("step", (1, 1), lambda a: np.sign(np.maximum(a, 0.0)) + 0.0, lambda g, a, p, c: [0.0],
     {"symbol": "step", "doc": "1 if a > 0 else 0"}),
    ("sign", (1, 1), lambda a: np.sign(a) + 0.0, lambda g, a, p, c: [0.0],
     {"symbol": "sgn", "doc": "−1, 0 or 1"}),
]
# fmt: on

OPS: tuple[Op, ...] = tuple(
    Op(name, code, lo, hi, ev, rule, **extra)
    for code, (name, (lo, hi), ev, rule, extra) in enumerate(_ENTRIES)
)
BY_NAME: dict[str, Op] = {op.name: op for op in OPS}
register_codes({op.name: op.code for op in OPS})
BY_CODE: tuple[Op, ...] = OPS

INPUT, CONST, ADD, MUL = BY_NAME["input"], BY_NAME["const"], BY_NAME["add"], BY_NAME["mul"]
GATE_OPS: tuple[Op, ...] = tuple(op for op in OPS if op.name != "input")  # allowed in documents
