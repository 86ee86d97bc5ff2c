"""The op table: every operation of the circuit format is one entry here.

An entry says how many arguments the op takes, which parameter it carries, how to
evaluate it, what its partial derivatives ∂ₐ[g] are and what it does at its kinks and
IEEE special values. Evaluation is one NumPy expression that works both on arrays
(vectorised over points) and, compiled by Numba, on scalars inside the evaluation tape
(``scalar.py`` has the few functions NumPy lacks). Derivative rules are written in the
circuit language of ``templates.py`` (the longer ones in ``derivatives.py``): they build
gates, so a gradient circuit can be differentiated again, and each runs once for all
gates of its op.

Forward propagation, backpropagation, simplification, evaluation and validation all read
this table; adding an op means adding one entry (and its finite-difference case).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import derivatives as d
from . import scalar
from .templates import register_codes

# n-ary ops evaluated by the kernels' reduction loop: from −0.0 (the exact identity of +)
# or 1, the folded constant arguments first, then the others in argument order
SUM, PRODUCT, STRONG_PRODUCT = "sum", "product", "strong_product"
IDENTITY = {SUM: -0.0, PRODUCT: 1.0, STRONG_PRODUCT: 1.0}


@dataclass(frozen=True)
class Op:
    name: str
    code: int
    min_args: int
    max_args: int | None  # None: variadic
    evaluate: Callable | None  # f(a[, b[, c]][, p]) on floats or arrays; None for sources/n-ary
    # rule(g, a, b, ..., p, c) for fixed arity, rule(g, args, p, c) for variadic ops (``args``
    # a sequence of Vec); returns one Term/Vec/number per argument, or a (G, k) array of
    # constant partials; p is the (G,) param array, c the (G, k) coefficient array
    partials: Callable | None
    param: str | None = None  # document key of the per-vertex parameter ("value", "p")
    coeffs: bool = False  # takes per-wire coefficients (only add)
    reduction: str | None = None  # SUM / PRODUCT / STRONG_PRODUCT: variadic, kernel loop
    # its derivatives rely on strong-zero chain products: a circuit holding it is
    # differentiated with ``mul0`` products, so a zero derivative times an infinite or NaN
    # partial stays zero (the branch a ``where`` did not take leaks nothing)
    strong_zero: bool = False
    doc: str = ""
    kink: str = ""  # the convention at kinks and IEEE special values (docs/conventions.md)
    symbol: str = ""  # how pictures label its gates: "+", "×", "σ"...

    @property
    def arity_text(self) -> str:
        if self.max_args is None:
            return f"at least {self.min_args}"
        return str(self.min_args)


def _unary(f):
    """A rule for a unary op whose one partial is ``f(g, a)``."""
    return lambda g, a, p, c: [f(g, a)]


ZERO1, ZERO2 = (lambda g, a, p, c: [0.0]), (lambda g, a, b, p, c: [0.0, 0.0])
_CMP = "0 or 1; a NaN operand gives 0 (ne: 1), as IEEE comparisons; derivative 0 everywhere"

# One row per op: name, arity (min, max), evaluate, partials, extras.
# "+ 0.0" in relu/step/sign: NumPy and Numba disagree on the sign of a zero result at -0.0.
# fmt: off
_ENTRIES = [
    ("input", (0, 0), None, None, {"symbol": "x", "doc": "an input variable"}),
    ("const", (0, 0), None, None, {"symbol": "c", "param": "value", "doc": "value"}),
    ("add", (1, None), None, lambda g, a, p, c: c,
     {"symbol": "+", "coeffs": True, "reduction": SUM, "doc": "Σ cᵢ·aᵢ"}),
    ("mul", (2, None), None, d.mul_partials, {"symbol": "×", "reduction": PRODUCT, "doc": "Π aᵢ"}),
    ("neg", (1, 1), lambda a: -a, lambda g, a, p, c: [-1.0], {"symbol": "−", "doc": "−a"}),
    ("sub", (2, 2), lambda a, b: a - b, lambda g, a, b, p, c: [1.0, -1.0],
     {"symbol": "−", "doc": "a − b"}),
    ("div", (2, 2), lambda a, b: a / b, d.div_partials, {"symbol": "÷", "doc": "a / b"}),
    ("recip", (1, 1), lambda a: 1.0 / a, _unary(lambda g, a: -g * g),
     {"symbol": "1/x", "doc": "1/a"}),
    ("square", (1, 1), lambda a: a * a, _unary(lambda g, a: 2.0 * a),
     {"symbol": "x²", "doc": "a²"}),
    ("pow", (1, 1), lambda a, p: np.power(a, p), lambda g, a, p, c: [p * d.power(a, p - 1.0)],
     {"symbol": "xᵖ", "param": "p", "doc": "aᵖ, a constant p"}),
    ("sqrt", (1, 1), lambda a: np.sqrt(a), _unary(lambda g, a: 0.5 * d.recip(g)),
     {"symbol": "√",
      "doc": "√a", "kink": "√−0 = −0; the derivative 1/(2√a) is +∞ at +0, −∞ at −0"}),
    ("exp", (1, 1), lambda a: np.exp(a), _unary(lambda g, a: g), {"symbol": "exp", "doc": "eᵃ"}),
    ("log", (1, 1), lambda a: np.log(a), _unary(lambda g, a: d.recip(a)),
     {"symbol": "log", "doc": "ln a"}),
    ("sin", (1, 1), lambda a: np.sin(a), _unary(lambda g, a: d.cos(a)),
     {"symbol": "sin", "doc": "sin a"}),
    ("cos", (1, 1), lambda a: np.cos(a), _unary(lambda g, a: -d.sin(a)),
     {"symbol": "cos", "doc": "cos a"}),
    ("tanh", (1, 1), lambda a: np.tanh(a), _unary(lambda g, a: 1.0 - g * g),
     {"symbol": "tanh", "doc": "tanh a"}),
    ("sigmoid", (1, 1), lambda a: 1.0 / (1.0 + np.exp(-a)), _unary(lambda g, a: g * (1.0 - g)),
     {"symbol": "σ", "doc": "1/(1+e⁻ᵃ)"}),
    ("relu", (1, 1), lambda a: np.maximum(a, 0.0) + 0.0, _unary(lambda g, a: d.step(a)),
     {"symbol": "relu",
      "doc": "max(a, 0)", "kink": "relu(±0) = +0; derivative step(a): 0 at ±0, NaN at NaN"}),
    ("abs", (1, 1), lambda a: np.abs(a), _unary(lambda g, a: d.sign(a)),
     {"symbol": "|x|", "doc": "|a|", "kink": "|±0| = +0; derivative sign(a): 0 at ±0, NaN at NaN"}),
    ("step", (1, 1), lambda a: np.sign(np.maximum(a, 0.0)) + 0.0, ZERO1,
     {"symbol": "step", "doc": "1 if a > 0 else 0",
      "kink": "step(±0) = +0, step(NaN) = NaN; derivative 0 everywhere, also at 0"}),
    ("sign", (1, 1), lambda a: np.sign(a) + 0.0, ZERO1,
     {"symbol": "sgn",
      "doc": "−1, 0 or 1", "kink": "sign(±0) = +0 (not −0), sign(NaN) = NaN; derivative 0"}),
    # -- issue 11 ----------------------------------------------------------------------
    ("tan", (1, 1), lambda a: np.tan(a), _unary(lambda g, a: 1.0 + g * g),
     {"symbol": "tan", "doc": "tan a"}),
    ("asin", (1, 1), lambda a: np.arcsin(a), d.asin_partials,
     {"symbol": "asin", "doc": "arcsin a", "kink": "derivative +∞ at ±1"}),
    ("acos", (1, 1), lambda a: np.arccos(a), d.acos_partials,
     {"symbol": "acos", "doc": "arccos a", "kink": "derivative −∞ at ±1"}),
    ("atan", (1, 1), lambda a: np.arctan(a), d.atan_partials,
     {"symbol": "atan", "doc": "arctan a"}),
    ("sinh", (1, 1), lambda a: np.sinh(a), _unary(lambda g, a: d.cosh(a)),
     {"symbol": "sinh", "doc": "sinh a"}),
    ("cosh", (1, 1), lambda a: np.cosh(a), _unary(lambda g, a: d.sinh(a)),
     {"symbol": "cosh", "doc": "cosh a"}),
    ("asinh", (1, 1), lambda a: np.arcsinh(a),
     _unary(lambda g, a: d.recip(d.hypot(a, d.constant(a, 1.0)))),
     {"symbol": "asinh", "doc": "arsinh a"}),
    ("acosh", (1, 1), lambda a: np.arccosh(a), _unary(lambda g, a: d.recip(d.sinh(g))),
     {"symbol": "acosh", "doc": "arcosh a (a ≥ 1)", "kink": "derivative +∞ at 1"}),
    ("atanh", (1, 1), lambda a: np.arctanh(a), d.atanh_partials,
     {"symbol": "atanh", "doc": "artanh a", "kink": "±∞ at ±1, derivative +∞ there"}),
    ("log1p", (1, 1), lambda a: np.log1p(a), _unary(lambda g, a: d.recip(a + 1.0)),
     {"symbol": "log1p", "doc": "ln(1 + a)"}),
    ("expm1", (1, 1), lambda a: np.expm1(a), _unary(lambda g, a: d.exp(a)),
     {"symbol": "expm1", "doc": "eᵃ − 1"}),
    ("log2", (1, 1), lambda a: np.log2(a), _unary(lambda g, a: d.recip(a) * (1.0 / d.LN2)),
     {"symbol": "log₂", "doc": "log₂ a"}),
    ("log10", (1, 1), lambda a: np.log10(a), _unary(lambda g, a: d.recip(a) * (1.0 / d.LN10)),
     {"symbol": "log₁₀", "doc": "log₁₀ a"}),
    ("erf", (1, 1), lambda a: scalar.erf(a), d.erf_partials, {"symbol": "erf", "doc": "erf a"}),
    ("floor", (1, 1), lambda a: np.floor(a), ZERO1,
     {"symbol": "⌊x⌋",
      "doc": "⌊a⌋", "kink": "floor(−0) = −0; derivative 0 everywhere, also at integers"}),
    ("ceil", (1, 1), lambda a: np.ceil(a), ZERO1,
     {"symbol": "⌈x⌉",
      "doc": "⌈a⌉", "kink": "ceil(−0.5) = −0; derivative 0 everywhere, also at integers"}),
    ("hypot", (2, 2), lambda a, b: np.hypot(a, b), d.hypot_partials,
     {"symbol": "hypot",
      "doc": "√(a² + b²) without overflow", "kink": "partials 0 at (0, 0), as abs'(0)"}),
    ("atan2", (2, 2), lambda a, b: np.arctan2(a, b), d.atan2_partials,
     {"symbol": "atan2",
      "doc": "the angle of (b, a): atan2(y, x)", "kink": "partials NaN at (0, 0)"}),
    ("min", (2, 2), lambda a, b: scalar.minimum(a, b), d.min_partials,
     {"symbol": "min", "doc": "the smaller of a and b",
      "kink": "NaN if either is NaN; min(−0, +0) = −0; at a tie (−0 = +0 too) the derivative "
              "goes to the first argument; NaN partials at NaN and at a tie of infinities"}),
    ("max", (2, 2), lambda a, b: scalar.maximum(a, b), d.max_partials,
     {"symbol": "max", "doc": "the larger of a and b",
      "kink": "NaN if either is NaN; max(−0, +0) = +0; at a tie (−0 = +0 too) the derivative "
              "goes to the first argument; NaN partials at NaN and at a tie of infinities"}),
    ("powv", (2, 2), lambda a, b: np.power(a, b), d.powv_partials,
     {"symbol": "xʸ", "doc": "aᵇ, both circuits", "strong_zero": True,
      "kink": "with strong-zero products: ∂/∂b is 0 where aᵇ = 0 (a = 0, b > 0), "
              "∂/∂a is 0 where b = 0"}),
    ("lt", (2, 2), lambda a, b: (a < b) + 0.0, ZERO2,
     {"symbol": "<", "doc": "1 if a < b else 0", "kink": _CMP}),
    ("le", (2, 2), lambda a, b: (a <= b) + 0.0, ZERO2,
     {"symbol": "≤", "doc": "1 if a ≤ b else 0", "kink": _CMP}),
    ("gt", (2, 2), lambda a, b: (a > b) + 0.0, ZERO2,
     {"symbol": ">", "doc": "1 if a > b else 0", "kink": _CMP}),
    ("ge", (2, 2), lambda a, b: (a >= b) + 0.0, ZERO2,
     {"symbol": "≥", "doc": "1 if a ≥ b else 0", "kink": _CMP}),
    ("eq", (2, 2), lambda a, b: (a == b) + 0.0, ZERO2,
     {"symbol": "=", "doc": "1 if a = b else 0", "kink": _CMP}),
    ("ne", (2, 2), lambda a, b: (a != b) + 0.0, ZERO2,
     {"symbol": "≠", "doc": "1 if a ≠ b else 0", "kink": _CMP}),
    ("where", (3, 3), lambda c, a, b: scalar.where(c, a, b), d.where_partials,
     {"symbol": "?:", "doc": "a if c ≠ 0 else b", "strong_zero": True,
      "kink": "c = ±0 selects b; c = NaN gives NaN (value, ∂/∂a, ∂/∂b); ∂/∂c = 0 everywhere; "
              "only the chosen branch's derivative flows, in every mode and order"}),
    ("mul0", (2, None), None, d.mul0_partials,
     {"symbol": "×₀", "reduction": STRONG_PRODUCT, "strong_zero": True,
      "doc": "Π aᵢ with a strong zero: +0 where a factor is ±0 and Π aᵢ would be NaN",
      "kink": "equals mul wherever mul is not NaN"}),
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
MUL0 = BY_NAME["mul0"]
GATE_OPS: tuple[Op, ...] = tuple(op for op in OPS if op.name != "input")  # allowed in documents
# the table's columns by op code, for vectorised and compiled code (validation, the tape,
# simplification, the packed form)
UNBOUNDED = 2**62  # max_args of an n-ary op: more arguments than any circuit holds
MIN_ARGS = np.array([op.min_args for op in OPS], np.int64)
MAX_ARGS = np.array([UNBOUNDED if op.max_args is None else op.max_args for op in OPS], np.int64)
HAS_PARAM = np.array([op.param is not None for op in OPS])
HAS_COEFFS = np.array([op.coeffs for op in OPS])
STRONG_ZERO = np.array([op.strong_zero for op in OPS])


def needs_strong_zero(op_codes: np.ndarray) -> bool:
    """Whether a circuit with these op codes is differentiated with ``mul0`` products."""
    return bool(STRONG_ZERO[op_codes].any())


def evaluation_digest() -> str:
    """Changes with the code evaluations call outside their own lambdas (``scalar.py``)."""
    return scalar.digest()
