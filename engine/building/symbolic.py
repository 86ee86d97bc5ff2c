"""Symbolic circuit values: ``Expr``, its operators and the input groups (``Context``).

An ``Expr`` is an immutable symbolic value; nothing is built until ``expr.build``, which
lowers the expressions into a ``CircuitBuilder`` (``lowering.py``; the rules are in
docs/expressions.md). Arithmetic keeps linear combinations and products symbolic so that
``a + b - 3*c + 5`` becomes ONE ``add`` gate with coefficients and ``a*b*c`` one ``mul``.
Operators on two numbers are folded at once (IEEE-754, never raising); functions
(``functions.py``) always make a gate. Comparisons ``< <= > >=`` make ``lt``/``le``/
``gt``/``ge`` gates; ``==`` is identity, so an ``Expr`` has no truth value.

Each ``inputs()`` call makes one group (a ``Context``); an expression may combine inputs of
one group only, and its circuit's inputs are the whole group in creation order.
"""

from __future__ import annotations

import itertools
import numbers

import numpy as np

from ..errors import CircuitError, pointer
from .builder import check_input_name
from .lowering import INPUT, LIN, MUL, OP

_SERIALS = itertools.count()


class Context:
    """The inputs of one ``inputs()`` call (or of one parsed text)."""

    __slots__ = ("names", "_exprs")

    def __init__(self, names=()):
        self.names: list[str] = []
        self._exprs: dict[str, Expr] = {}
        for name in names:
            self.input(name)

    def input(self, name: str) -> Expr:
        """The input called ``name``, created (as the next input) when new."""
        e = self._exprs.get(name) if isinstance(name, str) else None
        if e is None:
            check_input_name(name, pointer("inputs", len(self.names)))
            e = Expr(INPUT, self, (), float(len(self.names)))
            self._exprs[name] = e
            self.names.append(name)
        return e

    def get(self, name: str) -> Expr | None:
        return self._exprs.get(name)


class Expr:
    """A circuit value. Kinds: an input (``value`` = its index in the context), a linear
    combination (``items`` = ((Expr, coeff), ...), ``value`` = constant offset; a constant is
    one with no items), a product (``items`` = factors) or an op (``items`` = args, ``name``,
    ``value`` = parameter)."""

    __slots__ = ("ctx", "kind", "items", "value", "name", "serial")
    __array_ufunc__ = None  # numpy scalars defer to our reflected operators

    def __init__(self, kind: int, ctx: Context | None, items: tuple, value: float, name=""):
        self.kind = kind
        self.ctx = ctx
        self.items = items
        self.value = value
        self.name = name
        self.serial = next(_SERIALS)  # creation order: children before parents

    @property
    def is_const(self) -> bool:
        return self.kind == LIN and not self.items

    def __repr__(self) -> str:
        if self.kind == INPUT:
            return f"<Expr input {self.ctx.names[int(self.value)]!r}>"
        if self.is_const:
            return f"<Expr const {self.value!r}>"
        what = {LIN: "linear combination", MUL: "product", OP: self.name}[self.kind]
        return f"<Expr {what} of {len(self.items)}>"

    # -- arithmetic ------------------------------------------------------------------
    def __add__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _combine(self, 1.0, other, 1.0)

    def __radd__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _combine(other, 1.0, self, 1.0)

    def __sub__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _combine(self, 1.0, other, -1.0)

    def __rsub__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _combine(other, 1.0, self, -1.0)

    def __neg__(self):
        return _scale(self, -1.0)

    def __pos__(self):
        return self

    def __mul__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _multiply(self, other)

    def __rmul__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _multiply(other, self)

    def __truediv__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _divide(self, other)

    def __rtruediv__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _divide(other, self)

    def __pow__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _power(self, other)

    def __rpow__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _power(other, self)

    def __abs__(self):
        return _apply("abs", self)

    # comparisons make gates (0 or 1); == and != stay identity (an Expr is hashable):
    # write eq(a, b), ne(a, b)
    def __lt__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("lt", self, other)

    def __le__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("le", self, other)

    def __gt__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("gt", self, other)

    def __ge__(self, other):
        other = _coerce(other)
        return NotImplemented if other is None else _apply("ge", self, other)

    def __bool__(self):
        raise TypeError(
            "an expression has no truth value: a comparison makes a gate (use where(c, a, b)); "
            "a < b < c does not chain"
        )


# -- constructors ----------------------------------------------------------------------
def const(value) -> Expr:
    """A constant (belongs to no input group, so it combines with any)."""
    return Expr(LIN, None, (), float(value))


def inputs(names) -> tuple[Expr, ...]:
    """New inputs, one group: ``inputs("x y z")`` or ``inputs(["x", "y", "z"])``."""
    if isinstance(names, str):
        names = names.replace(",", " ").split()
    ctx = Context()
    exprs = []
    for name in names:
        if ctx.get(name) is not None:
            raise CircuitError(f"duplicate input name {name!r}", pointer("inputs", len(exprs)))
        exprs.append(ctx.input(name))
    return tuple(exprs)


def _coerce(v) -> Expr | None:
    if isinstance(v, Expr):
        return v
    if isinstance(v, bool):  # most likely x == y or x != y, which compare identity
        raise TypeError(
            "a bool is not a circuit value; == and != compare expressions by identity: "
            "write eq(a, b) or ne(a, b)"
        )
    if isinstance(v, numbers.Real):
        return Expr(LIN, None, (), float(v))
    return None


def _as_expr(v) -> Expr:
    e = _coerce(v)
    if e is None:
        raise TypeError(f"expected an expression or a number, not {type(v).__name__}")
    return e


def _ctx(*exprs: Expr) -> Context | None:
    found = None
    for e in exprs:
        if e.ctx is not None:
            if found is not None and e.ctx is not found:
                raise CircuitError("expressions from different inputs() groups cannot be combined")
            found = e.ctx
    return found


def _fold(f, *values: float) -> Expr:
    with np.errstate(all="ignore"):  # IEEE-754: 1/0 is inf, never an exception
        return const(float(f(*(np.float64(v) for v in values))))


def _combine(a: Expr, ca: float, b: Expr, cb: float) -> Expr:
    """ca·a + cb·b, constants folded into the offset."""
    if a.is_const and b.is_const:
        return const(ca * a.value + cb * b.value)
    items, offset = [], 0.0
    for e, c in ((a, ca), (b, cb)):
        if e.is_const:
            offset += c * e.value
        else:
            items.append((e, c))
    return Expr(LIN, _ctx(a, b), tuple(items), offset)


def _scale(e: Expr, c: float) -> Expr:
    if e.is_const:
        return const(c * e.value)
    return Expr(LIN, e.ctx, ((e, c),), 0.0)


def _split_scale(e: Expr) -> tuple[float, Expr]:
    """(c, u) with e = c·u, pulling out the factor of a lone scaled term."""
    c = 1.0
    while e.kind == LIN and len(e.items) == 1 and e.value == 0.0:
        e, k = e.items[0]
        c *= k
    return c, e


def _multiply(a: Expr, b: Expr) -> Expr:
    if a.is_const and b.is_const:
        return const(a.value * b.value)
    if a.is_const:
        return _scale(b, a.value)
    if b.is_const:
        return _scale(a, b.value)
    ca, ua = _split_scale(a)
    cb, ub = _split_scale(b)
    prod = Expr(MUL, _ctx(a, b), (ua, ub), 0.0)
    c = ca * cb
    return prod if c == 1.0 else Expr(LIN, prod.ctx, ((prod, c),), 0.0)


def _divide(a: Expr, b: Expr) -> Expr:
    if a.is_const and b.is_const:
        return _fold(np.divide, a.value, b.value)
    if a.is_const and a.value == 1.0:
        return _apply("recip", b)
    return Expr(OP, _ctx(a, b), (a, b), 0.0, "div")


def _power(base: Expr, p: Expr) -> Expr:
    """base ** p: a constant p of 1 -> base, 2 -> square, -1 -> recip, else pow (p a
    parameter); an exponent that is a circuit -> powv(base, p)."""
    if base.is_const and p.is_const:
        return _fold(np.power, base.value, p.value)
    if not p.is_const:
        return _apply("powv", base, p)
    if p.value == 1.0:
        return base
    if p.value == 2.0:
        return _apply("square", base)
    if p.value == -1.0:
        return _apply("recip", base)
    return Expr(OP, base.ctx, (base,), p.value, "pow")


def _apply(op_name: str, *args, param: float = 0.0) -> Expr:
    """One ``op_name`` gate on ``args`` (expressions or numbers)."""
    args = tuple(_as_expr(a) for a in args)
    return Expr(OP, _ctx(*args), args, param, op_name)
