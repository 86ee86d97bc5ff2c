"""IEEE-754 functions the op table evaluates with, where NumPy has none that fits.

Each is a NumPy ufunc compiled by Numba (``numba.vectorize``), so the same compiled code
runs on arrays (the NumPy reference evaluator, constant folding) and on scalars inside
the compiled evaluation kernels: the two can never disagree on a sign of zero or a NaN.
The conventions they implement are docs/conventions.md's.
"""

from __future__ import annotations

import hashlib
import inspect
import math

import numba
import numpy as np

_F1 = ["float64(float64)"]
_F2 = ["float64(float64, float64)"]
_F3 = ["float64(float64, float64, float64)"]


@numba.vectorize(_F1, cache=True)
def erf(a):
    return math.erf(a)


@numba.vectorize(_F2, cache=True)
def maximum(a, b):
    """IEEE 754-2019 maximum: NaN if either is NaN; +0 is larger than −0."""
    if a > b:
        return a
    if b > a:
        return b
    if a == b:  # equal, or two zeros
        return a if math.copysign(1.0, a) > 0.0 else b
    return a + b  # a NaN: propagate it


@numba.vectorize(_F2, cache=True)
def minimum(a, b):
    """IEEE 754-2019 minimum: NaN if either is NaN; −0 is smaller than +0."""
    if a < b:
        return a
    if b < a:
        return b
    if a == b:
        return a if math.copysign(1.0, a) < 0.0 else b
    return a + b


@numba.vectorize(_F3, cache=True)
def where(c, a, b):
    """a where c is nonzero, b where c is ±0, NaN (c itself) where c is NaN."""
    if c != c:
        return c
    return a if c != 0.0 else b


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
