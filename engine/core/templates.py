"""Array-at-a-time circuit building: the language derivative rules are written in.

A rule receives, for *all* gates of one op at once, the vertex arrays of the gates and
their arguments, and returns one ``Term`` per argument position: the partial
derivative ∂ₐ[g] of the lecture, as ``offset + scale · f₀ · f₁ · …``. ``Vec`` values
behave like circuit values (``cos(a)``, ``-g * r``, ``1 - g * g``); each operation on a
``Vec`` appends one gate per element to the ``Emitter``, so a rule runs once per op, never
once per gate. Products stay symbolic in a ``Term`` so that propagation can fold the
factors into the one multiplication it needs anyway (that is what keeps backward within
Theorem 3's bound of three gates per wire).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .circuit import INDEX

MAX_FACTORS = 3  # factors a partial may keep unmaterialised (see sweeps.py, docs/engine.md)

# Op codes by name, filled in by ``ops`` when it builds the table: the rules are written
# in terms of ops, so the table depends on this module and never the other way round.
CODES: dict[str, int] = {}


def register_codes(codes: dict[str, int]) -> None:
    CODES.clear()
    CODES.update(codes)


class Emitter:
    """Appends gates numbered from ``first_vertex`` on, in batches of equal op and arity."""

    def __init__(self, first_vertex: int):
        self.first = first_vertex
        self.next = first_vertex
        self._chunks: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._consts: dict[float, int] = {}

    def emit(self, code: int, args: list[np.ndarray], coeffs=None, param=0.0) -> np.ndarray:
        """One gate of ``code`` per element: gate i reads ``args[0][i], args[1][i], ...``."""
        count = len(args[0])
        argm = np.empty((count, len(args)), dtype=INDEX)
        for j, a in enumerate(args):
            argm[:, j] = a
        coefm = np.ones((count, len(args)))
        if coeffs is not None:
            for j, c in enumerate(coeffs):
                coefm[:, j] = c
        params = np.broadcast_to(np.asarray(param, dtype=np.float64), (count,))
        self._chunks.append((code, argm, coefm, np.array(params)))
        ids = np.arange(self.next, self.next + count, dtype=INDEX)
        self.next += count
        return ids

    def const(self, value: float) -> int:
        """One shared ``const`` vertex per value."""
        key = float(value)
        if key not in self._consts:
            code = CODES["const"]
            self._chunks.append((code, np.empty((1, 0), INDEX), np.empty((1, 0)), np.array([key])))
            self._consts[key] = self.next
            self.next += 1
        return self._consts[key]

    def consts(self, values, count: int) -> np.ndarray:
        values = np.broadcast_to(np.asarray(values, dtype=np.float64), (count,))
        uniq, inverse = np.unique(values, return_inverse=True)
        ids = np.array([self.const(v) for v in uniq], dtype=INDEX)
        return ids[inverse]

    @property
    def count(self) -> int:
        return self.next - self.first

    @property
    def batches(self) -> int:
        """Batches emitted so far: a mark for ``batch_sizes``."""
        return len(self._chunks)

    def batch_sizes(self, since: int = 0) -> list[tuple[int, int]]:
        """(op code, gates) of every batch emitted after mark ``since``, in vertex order."""
        return [(code, len(p)) for code, _, _, p in self._chunks[since:]]

    def arrays(self):
        """(op, arity, args, coeffs, param) of everything emitted, in vertex order."""
        if not self._chunks:
            e = np.empty(0)
            return e.astype(np.uint8), e.astype(INDEX), e.astype(INDEX), e, e
        op = np.concatenate([np.full(len(p), c, np.uint8) for c, _, _, p in self._chunks])
        arity = np.concatenate([np.full(len(p), a.shape[1], INDEX) for _, a, _, p in self._chunks])
        args = np.concatenate([a.ravel() for _, a, _, _ in self._chunks])
        coeffs = np.concatenate([c.ravel() for _, _, c, _ in self._chunks])
        param = np.concatenate([p for _, _, _, p in self._chunks])
        return op, arity, args, coeffs, param


class Vec:
    """An array of vertices, one per gate of the group a rule works on."""

    __array_priority__ = 100  # numpy scalars/arrays defer to our operators

    def __init__(self, emitter: Emitter, ids: np.ndarray):
        self.E = emitter
        self.ids = ids

    def __len__(self) -> int:
        return len(self.ids)

    def term(self) -> Term:
        return Term(len(self.ids), 0.0, 1.0, (self,))

    def __mul__(self, other):
        return self.term() * other

    __rmul__ = __mul__

    def __neg__(self):
        return -self.term()

    def __add__(self, other):
        return self.term() + other

    __radd__ = __add__

    def __sub__(self, other):
        return self.term() - other

    def __rsub__(self, other):
        return other - self.term()


@dataclass(frozen=True)
class Term:
    """``offset + scale · Π factors`` elementwise; scale/offset scalars or per-gate arrays."""

    n: int
    offset: object
    scale: object
    factors: tuple[Vec, ...] = ()

    def __mul__(self, other):
        if isinstance(other, Vec):
            other = other.term()
        if not isinstance(other, Term):
            return Term(self.n, self.offset * other, self.scale * other, self.factors)
        a, b = self.product_form(), other.product_form()
        return Term(self.n, 0.0, a.scale * b.scale, a.factors + b.factors)

    __rmul__ = __mul__

    def __neg__(self):
        return self * -1.0

    def __add__(self, other):
        if isinstance(other, (Vec, Term)):
            raise TypeError("sum of two vertex terms: materialise one with add()")
        return Term(self.n, self.offset + other, self.scale, self.factors)

    __radd__ = __add__

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def product_form(self) -> Term:
        """The same value with no offset (materialising the sum when there is one)."""
        if np.all(np.asarray(self.offset) == 0):
            return self
        return materialise(self).term()

    @property
    def emitter(self) -> Emitter:
        return self.factors[0].E


@dataclass(frozen=True)
class FactorTerms:
    """The partials of all k argument positions at once, each ``scale · Π factors``:
    ``factors`` is (G, k, MAX_FACTORS), packed to the left, -1 where absent (a rule
    returns this instead of k terms when k is large: no Python loop over positions)."""

    scale: float
    factors: np.ndarray


def as_term(value, n: int) -> Term:
    if isinstance(value, Term):
        return value
    if isinstance(value, Vec):
        return value.term()
    return Term(n, 0.0, value, ())  # a constant partial: no factors


def materialise(t: Term, emitter: Emitter | None = None) -> Vec:
    """A vertex per element computing the term (gates emitted only where needed)."""
    E = emitter or t.emitter
    if not t.factors:
        return Vec(E, E.consts(np.asarray(t.offset) + np.asarray(t.scale), t.n))
    if len(t.factors) == 1:
        base = t.factors[0].ids
    else:
        base = E.emit(CODES["mul"], [f.ids for f in t.factors])
    scale_one = np.all(np.asarray(t.scale) == 1.0)
    offset_zero = np.all(np.asarray(t.offset) == 0.0)
    if scale_one and offset_zero:
        return Vec(E, base)
    if offset_zero:
        return Vec(E, E.emit(CODES["add"], [base], coeffs=[t.scale]))
    one = np.full(t.n, E.const(1.0), dtype=INDEX)
    return Vec(E, E.emit(CODES["add"], [base, one], coeffs=[t.scale, t.offset]))


def apply(op_name: str, *args: Vec | Term, param=0.0) -> Vec:
    """One ``op_name`` gate per element, e.g. ``apply("cos", a)``."""
    vecs = [a if isinstance(a, Vec) else materialise(a) for a in args]
    E = vecs[0].E
    return Vec(E, E.emit(CODES[op_name], [v.ids for v in vecs], param=param))


def product(vecs) -> Term:
    """Π vecs as a symbolic term (the mul rule's Π_{j≠i} aⱼ)."""
    vecs = list(vecs)
    return Term(len(vecs[0]), 0.0, 1.0, tuple(vecs))


def constant(like: Vec, value: float) -> Vec:
    """The shared ``const`` vertex of ``value``, once per element of ``like``."""
    return Vec(like.E, np.full(len(like), like.E.const(value), dtype=INDEX))


def wire_partials(t: Term, n: int):
    """(scale, offset, factors) for one argument position: arrays of length n and an
    (n, MAX_FACTORS) array of factor vertices, -1 where absent.

    A term with more than ``MAX_FACTORS`` factors gets its tail multiplied out (one gate).
    """
    t = as_term(t, n)
    factors = list(t.factors)
    if len(factors) > MAX_FACTORS:
        tail = factors[MAX_FACTORS - 1 :]
        E = factors[0].E
        factors = factors[: MAX_FACTORS - 1] + [Vec(E, E.emit(CODES["mul"], [f.ids for f in tail]))]
    cols = np.full((n, MAX_FACTORS), -1, INDEX)
    for j, f in enumerate(factors):
        cols[:, j] = f.ids
    scale = np.broadcast_to(np.asarray(t.scale, dtype=np.float64), (n,))
    offset = np.broadcast_to(np.asarray(t.offset, dtype=np.float64), (n,))
    if not factors:  # a constant partial is an offset with no product
        offset, scale = offset + scale, np.zeros(n)
    return scale, offset, cols
