"""A derivative circuit checked against its source by directional central differences.

    verify(source, result, mode, wrt, of, include_value, seed=0) -> the verification record

A derivative along a direction v is a number the source alone gives, so a handful of
evaluations checks a result whatever its number of inputs and outputs. At each of a few
seeded points x, with v a random unit direction over the ``wrt`` inputs (others fixed):

    backward/forward/auto   (J·v)ᵢ from the result at x             vs  Dᵢ = dfᵢ along v
    jvp                     jvp[fᵢ] at (x, tangent = v)             vs  Dᵢ
    vjp                     vjp·v at (x, cotangent = u), u random   vs  d(uᵀf) along v
    hvp                     wᵀ·hvp at (x, tangent = v), w random    vs  the mixed second
                                                                       difference along v, w

A first difference D(h) = (f(x+hv) − f(x−hv))/2h, h = 3e-4; the mixed second difference
(f(x+hv+hw) − f(x+hv−hw) − f(x−hv+hw) + f(x−hv−hw))/4h², h = 1e-3: steps large enough
that the rounding of deep circuits stays small against the derivative. Each is also taken
with step 2h; when the two disagree by more than 10 % a kink or a jump lies between (relu,
abs, step...) and the comparison is not smooth.

The relative error of a comparison is |a − D| / max(|a|, |D|, noise/τ), with noise the
rounding of the difference (256 ulps of the largest |f| it used, over h or h²) plus twice
|D(h) − D(2h)|: an error within the differences' own noise is no error. A point with a
comparison that is not smooth, whose error exceeds τ = 1e-4, or whose noise would hide an
error of τ is taken again with a step 100 times smaller, and each comparison then counts
at the step whose differences are the more precise (the smaller noise): a kink or a jump
within 2h, or a function too wiggly for h (sin(3000·x) aliases), gives a large gap and so
a large noise at h, while a wrong result shows at any step (its errors are of order 1). A
comparison smooth at neither step, or with a value that is not finite, is skipped.

The check passes when every error is at most τ and fails otherwise; with nothing to
compare (a source that is NaN at every sampled point, or nowhere smooth) ``passed`` is None
and ``reason`` says why. The points are the first finite ones of ``CANDIDATES`` seeded
candidates (``candidates``): the same request, the same points. Cost: POINTS (CANDIDATES
when some are not finite) + 4·POINTS evaluations of the source (8·POINTS for hvp; as many
again for points taken again) and POINTS of the result, on tapes written without lowering
(``direct.py``): one pass over each circuit, then the runs.
"""

from __future__ import annotations

import numpy as np

from ..core.circuit import Circuit
from ..core.layout import JACOBIAN_MODES, layout
from .direct import direct_tape, run

POINTS = 3  # points checked
CANDIDATES = 8  # seeded candidate points, the first finite ones are used
STEP = 3e-4  # h of the first differences (points and directions are of order 1)
STEP2 = 1e-3  # h of the mixed second differences (hvp)
FINER = 100  # a point not smooth or off at h is taken again at h / FINER
TOLERANCE = 1e-4  # τ
ROUNDING = 256 * np.finfo(float).eps  # per unit of |f|, the rounding allowed in f
SMOOTH = 0.1  # D(h) and D(2h) further apart than this (relative): a kink or jump between
LISTED = 64  # vectors longer than this are left out of the record (regenerate them)
METHOD = "directional central differences of the source"


def candidates(n: int, seed: int = 0) -> np.ndarray:
    """The (CANDIDATES, n) candidate points: even rows uniform in [-1, 1], odd rows in
    [0.25, 2] (inside the domains of log, sqrt, recip)."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1.0, 1.0, (CANDIDATES, n))
    X[1::2] = rng.uniform(0.25, 2.0, (CANDIDATES // 2, n))
    return X


def _units(rng, count: int, k: int) -> np.ndarray:
    V = rng.normal(size=(count, k))
    return V / np.linalg.norm(V, axis=1, keepdims=True)


def _listed(vectors: np.ndarray) -> list | None:
    return vectors.tolist() if vectors.shape[1] <= LISTED else None


def _smooth(d1, d2, rounding) -> np.ndarray:
    """Where the differences with steps h and 2h are finite and agree: no kink between."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(d1) & np.isfinite(d2) & np.isfinite(rounding)
        return finite & (np.abs(d1 - d2) <= SMOOTH * np.maximum(np.abs(d1), np.abs(d2)) + rounding)


def _judge(a, d1, d2, rounding):
    """(errors, usable, noise, sharp) of analytic values ``a`` against differences with
    steps h and 2h; ``sharp`` where the noise is below τ·max(|a|, |D|), so that an error
    of more than τ would show."""
    with np.errstate(all="ignore"):
        noise = rounding + 2 * np.abs(d1 - d2)
        usable = np.isfinite(a) & _smooth(d1, d2, rounding)
        size = np.maximum(np.abs(a), np.abs(d1))
        errors = np.abs(a - d1) / np.maximum(np.maximum(size, noise / TOLERANCE), 1e-300)
    return np.where(usable, errors, 0.0), usable, noise, noise <= TOLERANCE * size


def _shifts(mode: str, V: np.ndarray, W: np.ndarray) -> np.ndarray:
    """(rows, P, n): the displacements of each point, in units of h."""
    if mode == "hvp":  # steps 1 and 2, signs of v and w: s·(a·v + b·w)
        rows = [(s, a, b) for s in (1.0, 2.0) for a in (1.0, -1.0) for b in (1.0, -1.0)]
        return np.stack([s * (a * V + b * W) for s, a, b in rows])
    return np.stack([s * V for s in (1.0, -1.0, 2.0, -2.0)])  # ±h·v, ±2h·v


def _analytic(mode: str, R: np.ndarray, m: int, k: int, v, w) -> np.ndarray:
    """(P, compared): what the result says of each compared quantity."""
    if mode in JACOBIAN_MODES:
        return np.einsum("pij,pj->pi", R.reshape(len(R), m, k), v)  # J·v
    if mode == "jvp":
        return R
    return np.einsum("pj,pj->p", R, v if mode == "vjp" else w)[:, None]  # (uᵀJ)·v, wᵀ(Hv)


def _usable_points(f, X: np.ndarray, fs) -> list[int]:
    """The first POINTS candidates with the most finite outputs (at least one); only the
    first POINTS are evaluated when all their outputs are finite, the usual case."""
    with np.errstate(all="ignore"):
        finite = np.isfinite(run(f, X[:POINTS])[:, fs]).sum(axis=1)
        if finite.min(initial=len(fs)) < len(fs) or len(finite) < POINTS:
            finite = np.isfinite(run(f, X)[:, fs]).sum(axis=1)
    return [int(i) for i in np.argsort(-finite, kind="stable") if finite[i] > 0][:POINTS]


def _differences(f, mode: str, fs, x, V, W, u, h: float):
    """(D(h), D(2h), rounding), each (P, compared): the differences of the source (its
    direct tape f) at the points x along V (and W for hvp; of uᵀf for vjp), and the
    rounding they may carry."""
    P, n = x.shape
    shifts = _shifts(mode, V, W)
    rows = (x[None] + h * shifts).transpose(1, 0, 2).reshape(-1, n)
    F = run(f, rows)[:, fs].reshape(P, len(shifts), len(fs))
    fabs = np.abs(F)
    if mode == "vjp":  # one scalar function per point: uᵀf
        fabs = np.einsum("prm,pm->pr", fabs, np.abs(u))[:, :, None]
        F = np.einsum("prm,pm->pr", F, u)[:, :, None]
    if mode == "hvp":  # f(++) − f(+−) − f(−+) + f(−−), with steps h and 2h
        quad = F[:, 0::4] - F[:, 1::4] - F[:, 2::4] + F[:, 3::4]
        d1, d2, scale = quad[:, 0] / (4 * h * h), quad[:, 1] / (16 * h * h), h * h
    else:
        d1, d2, scale = (F[:, 0] - F[:, 1]) / (2 * h), (F[:, 2] - F[:, 3]) / (4 * h), h
    return d1, d2, ROUNDING * fabs.max(axis=1) / scale


def verify(
    source: Circuit,
    result: Circuit,
    mode: str = "backward",
    wrt=None,
    of=None,
    include_value: bool = False,
    seed: int = 0,
) -> dict:
    """The verification record of ``result``, the ``mode`` derivative of ``source`` for this
    request (see the module docstring and docs/modes.md)."""
    lay = layout(source, mode, wrt, of, include_value)
    xs, fs = list(lay.xs), list(lay.fs)
    n, k, m = source.n_inputs, len(xs), len(fs)
    h = STEP2 if mode == "hvp" else STEP
    record = {"method": METHOD, "passed": None, "max_relative_error": None,
              "tolerance": TOLERANCE, "step": h, "seed": seed}  # fmt: skip
    X = candidates(n, seed)
    f = direct_tape(source)  # a few points: no lowering (direct.py)
    order = _usable_points(f, X, fs)
    if not order:
        reason = f"the source is not finite at any of the {CANDIDATES} sampled points"
        empty = {"points": [], "candidates": [], "directions": [], "checked": 0, "skipped": 0,
                 "refined": 0}  # fmt: skip
        return {**record, **empty, "reason": reason}
    P, x = len(order), X[order]
    rng = np.random.default_rng([seed, 1])
    v, u, w = _units(rng, P, k), _units(rng, P, m), _units(rng, P, k)
    V, W = np.zeros((P, n)), np.zeros((P, n))
    V[:, xs], W[:, xs] = v, w

    seeded = {"jvp": v, "hvp": v, "vjp": u}.get(mode)
    at = x if seeded is None else np.concatenate([x, seeded], axis=1)
    a = _analytic(mode, run(direct_tape(result), at)[:, lay.values :], m, k, v, w)
    errors, usable, noise, sharp = _judge(a, *_differences(f, mode, fs, x, V, W, u, h))
    again = np.flatnonzero((~usable | ~sharp | (errors > TOLERANCE)).any(axis=1))
    if len(again):  # a kink, a jump or a wiggle within 2h? the same points, a finer step
        finer = _differences(f, mode, fs, x[again], V[again], W[again], u[again], h / FINER)
        e2, u2, n2, _ = _judge(a[again], *finer)
        take = u2 & (~usable[again] | (n2 < noise[again]))  # the more precise of the two
        errors[again] = np.where(take, e2, errors[again])
        usable[again] |= u2

    checked = int(usable.sum())
    record.update(points=_listed(x), candidates=order, directions=_listed(v), checked=checked,
                  skipped=int(usable.size - checked), refined=len(again))  # fmt: skip
    if mode == "vjp":
        record["cotangents"] = _listed(u)
    if mode == "hvp":
        record["cross_directions"] = _listed(w)
    if checked == 0:
        record["reason"] = "no finite, smooth comparison at the sampled points"
        return record
    worst = float(errors.max())
    record.update(passed=worst <= TOLERANCE, max_relative_error=worst)
    return record
