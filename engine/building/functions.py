"""One Python function per op of the table, for ``Expr`` values and numbers alike.

    sin(x), atan2(y, x), hypot(a, b), where(x > 0, sqrt(x), 0), max(a, b, c), x ** y

Each makes its gate (functions are never folded, not even on numbers: ``sin(2)`` is a
``sin`` gate on the constant 2). ``min``/``max`` take any number of arguments and build a
balanced tree of two-argument gates; ``function(name, *args)`` is the expression
language's call, by op name.
"""

from __future__ import annotations

from ..core.ops import BY_NAME
from ..errors import CircuitError
from .symbolic import Expr, _apply, _as_expr, _power

_MIN_MAX = ("min", "max")  # two-argument ops that functions fold over any number of args


def _fixed(op_name: str, py_name: str | None = None):
    op = BY_NAME[op_name]

    def f(*args) -> Expr:
        if len(args) != op.min_args:
            raise TypeError(f"{op_name} takes {op.arity_text} argument(s), got {len(args)}")
        return _apply(op.name, *args)

    f.__name__ = f.__qualname__ = py_name or op_name
    f.__doc__ = f"One ``{op.name}`` gate: {op.doc}."
    return f


# fmt: off
(exp, log, sin, cos, tanh, sigmoid, relu, sqrt, square, recip, step, sign, tan, asin, acos,
 atan, sinh, cosh, asinh, acosh, atanh, log1p, expm1, log2, log10, erf, floor, ceil) = (
    _fixed(name) for name in (
        "exp", "log", "sin", "cos", "tanh", "sigmoid", "relu", "sqrt", "square", "recip",
        "step", "sign", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh",
        "atanh", "log1p", "expm1", "log2", "log10", "erf", "floor", "ceil"))
abs_ = _fixed("abs", "abs_")
hypot, atan2, powv, where = (_fixed(name) for name in ("hypot", "atan2", "powv", "where"))
lt, le, gt, ge, eq, ne = (_fixed(name) for name in ("lt", "le", "gt", "ge", "eq", "ne"))
# fmt: on


def _tree(op_name: str, args) -> Expr:
    """``op_name`` over one or more arguments as a balanced tree of two-argument gates."""
    level = [_as_expr(a) for a in args]
    if not level:
        raise CircuitError(f"{op_name} takes at least 1 argument, got 0")
    while len(level) > 1:
        pairs = [_apply(op_name, *level[i : i + 2]) for i in range(0, len(level) - 1, 2)]
        level = pairs + level[len(level) - len(level) % 2 :]
    return level[0]


def max(*args) -> Expr:  # noqa: A001 -- the op's name, as in the expression language
    """The largest argument: ``max`` gates in a balanced tree (at a tie the derivative goes
    to the first of the tied arguments, as it does at each gate)."""
    return _tree("max", args)


def min(*args) -> Expr:  # noqa: A001
    """The smallest argument: ``min`` gates in a balanced tree."""
    return _tree("min", args)


def power(e, p) -> Expr:
    """``e ** p`` (same lowering as the operator: ``pow`` for a constant p, else ``powv``)."""
    return _power(_as_expr(e), _as_expr(p))


def function(name: str, *args) -> Expr:
    """The op called ``name`` applied as in the expression language: fixed-arity ops make
    their gate; ``add``/``mul``/``sub``/``div``/``neg`` mean the operators; ``pow(a, b)``
    is ``a ** b``; ``min``/``max`` take one or more arguments."""
    op = BY_NAME.get(name)
    if op is None or op.name in ("input", "const"):
        known = ", ".join(sorted(o for o in BY_NAME if o not in ("input", "const")))
        raise CircuitError(f"unknown function {name!r}; the functions are {known}")
    args = [_as_expr(a) for a in args]
    if op.name == "pow":
        if len(args) != 2:
            raise CircuitError(f"pow takes 2 arguments (base, exponent), got {len(args)}")
        return _power(args[0], args[1])
    if op.name in _MIN_MAX:
        return _tree(op.name, args)
    k = len(args)
    if k < op.min_args or (op.max_args is not None and k > op.max_args):
        raise CircuitError(f"{name} takes {op.arity_text} argument(s), got {k}")
    if name == "add":
        total = args[0]
        for a in args[1:]:
            total = total + a
        return total
    if name == "mul":
        total = args[0]
        for a in args[1:]:
            total = total * a
        return total
    if name == "neg":
        return -args[0]
    if name == "sub":
        return args[0] - args[1]
    if name == "div":
        return args[0] / args[1]
    return _apply(op.name, *args)


__all__ = [
    "abs_", "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "ceil", "cos", "cosh",
    "eq", "erf", "exp", "expm1", "floor", "function", "ge", "gt", "hypot", "le", "log",
    "log10", "log1p", "log2", "lt", "max", "min", "ne", "power", "powv", "recip", "relu",
    "sigmoid", "sign", "sin", "sinh", "sqrt", "square", "step", "tan", "tanh", "where",
]  # fmt: skip
