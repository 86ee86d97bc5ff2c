"""IEEE-754 functions the op table evaluates with, where NumPy has none that fits.

Each is one function with two bodies: the Python body here works on NumPy arrays and
scalars (the NumPy reference evaluator, constant folding, the engine's Python path), and
a Numba ``overload`` gives compiled code (the evaluation kernels) the scalar body that
implements the same convention. A test holds the two to the same bits, signs of zero and
NaNs included (tests/engine/test_kinks.py). The conventions are docs/conventions.md's.

(Not ``numba.vectorize``: its cached ufuncs leave dead weak proxies behind in the process,
which break anything that walks the garbage collector's objects, gevent's monkey-patching
for one.)
"""

from __future__ import annotations

import hashlib
import inspect
import math

import numpy as np
from numba.extending import overload

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _scalar(x):
    """A 0-d result as a NumPy scalar (what the compiled kernels give), else the array."""
    return x[()] if isinstance(x, np.ndarray) and x.ndim == 0 else x


def erf(a):
    return _scalar(_erf(a))


def maximum(a, b):
    """IEEE 754-2019 maximum: NaN if either is NaN; +0 is larger than −0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(all="ignore"):
        tie = np.where(np.signbit(a), b, a)  # equal, or two zeros: the one that is +0
        out = np.where(a > b, a, np.where(b > a, b, np.where(a == b, tie, a + b)))
    return _scalar(out)


def minimum(a, b):
    """IEEE 754-2019 minimum: NaN if either is NaN; −0 is smaller than +0."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(all="ignore"):
        tie = np.where(np.signbit(a), a, b)
        out = np.where(a < b, a, np.where(b < a, b, np.where(a == b, tie, a + b)))
    return _scalar(out)


def where(c, a, b):
    """a where c is nonzero, b where c is ±0, NaN (c itself) where c is NaN."""
    c, a, b = (np.asarray(x, np.float64) for x in (c, a, b))
    return _scalar(np.where(c != c, c, np.where(c != 0.0, a, b)))


# -- the compiled bodies (scalars, inside the kernels) ------------------------------------
@overload(erf)
def _erf_compiled(a):
    return lambda a: math.erf(a)


@overload(maximum)
def _maximum_compiled(a, b):
    def body(a, b):
        if a > b:
            return a
        if b > a:
            return b
        if a == b:  # equal, or two zeros
            return a if math.copysign(1.0, a) > 0.0 else b
        return a + b  # a NaN: propagate it

    return body


@overload(minimum)
def _minimum_compiled(a, b):
    def body(a, b):
        if a < b:
            return a
        if b < a:
            return b
        if a == b:
            return a if math.copysign(1.0, a) < 0.0 else b
        return a + b

    return body


@overload(where)
def _where_compiled(c, a, b):
    def body(c, a, b):
        if c != c:
            return c
        return a if c != 0.0 else b

    return body


def strong_product(columns):
    """Π columns with the strong zero: the plain product, or +0 where that is NaN and
    some factor is ±0 (evaluated left to right, as the kernels do)."""
    acc = np.float64(1.0)
    zero = False
    with np.errstate(all="ignore"):
        for col in columns:
            acc = acc * col
            zero = zero | (np.asarray(col) == 0.0)
        return np.where(np.isnan(acc) & zero, 0.0, acc)


def digest() -> str:
    """Changes with this file: compiled code that calls these functions is cached by
    Numba under keys that must include it."""
    return hashlib.sha256(inspect.getsource(inspect.getmodule(digest)).encode()).hexdigest()
