"""Random circuits over every op of the table, for property tests.

Arguments of ops with a restricted domain are guarded so that finite differences have
something to check: made positive (log, sqrt, div's divisor…) by ``add(square(a), 0.5)``,
at least 1.5 (acosh) by ``add(square(a), 1.5)``, inside (−0.9, 0.9) (asin, acos, atanh)
by ``add(tanh(a); 0.9)``, or kept small (exp, sinh, tan…: overflow and poles) by
``tanh(a)``; a ``where``'s condition is ``gt(a, 0.2718…)``, so that no point lies on its
switching set, where the derivative is the chosen branch's by convention and finite
differences may see another; everything else draws arguments from any earlier vertex.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from circuitgrad.engine.core.circuit import INDEX, Circuit
from circuitgrad.engine.core.ops import BY_NAME, GATE_OPS

P, ONE, UNIT, SMALL = "positive", "above one", "inside (-1, 1)", "small"
SWITCH = "a condition"
THRESHOLD = 0.2718281828459045  # a value no input or gate here takes by chance
GUARDS = {  # op -> the guard of each argument position (None: any vertex)
    "log": [P], "sqrt": [P], "recip": [P], "div": [None, P], "pow": [P], "log2": [P],
    "log10": [P], "log1p": [P], "acosh": [ONE], "asin": [UNIT], "acos": [UNIT],
    "atanh": [UNIT], "exp": [SMALL], "expm1": [SMALL], "sinh": [SMALL], "cosh": [SMALL],
    "tan": [SMALL], "powv": [P, SMALL], "atan2": [None, P],  # atan2: a pole at (0, 0)
    "where": [SWITCH],
}  # fmt: skip


@st.composite
def circuits(draw, max_inputs=4, max_gates=14, ops=None, max_outputs=2):
    names = ops or [op.name for op in GATE_OPS]
    n = draw(st.integers(1, max_inputs))
    op, rows, coeffs, param = [0] * n, [[] for _ in range(n)], [[] for _ in range(n)], [0.0] * n

    def push(name, args, cs=None, p=0.0):
        op.append(BY_NAME[name].code)
        rows.append(list(args))
        coeffs.append(list(cs) if cs is not None else [1.0] * len(args))
        param.append(p)
        return len(op) - 1

    def earlier():
        return draw(st.integers(0, len(op) - 1))

    def guard(kind, a):
        if kind in (P, ONE):
            lift = push("const", [], p=0.5 if kind == P else 1.5)
            return push("add", [push("square", [a]), lift], [1.0, 1.0])
        if kind == UNIT:
            return push("add", [push("tanh", [a])], [0.9])
        if kind == SWITCH:
            return push("gt", [a, push("const", [], p=THRESHOLD)])
        return push("tanh", [a]) if kind == SMALL else a

    for _ in range(draw(st.integers(1, max_gates))):
        name = draw(st.sampled_from(names))
        spec = BY_NAME[name]
        if name == "const":
            push("const", [], p=draw(st.floats(-3, 3, allow_nan=False)))
            continue
        hi = spec.max_args if spec.max_args is not None else spec.min_args + 2
        k = draw(st.integers(spec.min_args, hi))
        args = [earlier() for _ in range(k)]
        for j, kind in enumerate(GUARDS.get(name, [])):
            args[j] = guard(kind, args[j])
        weights = st.sampled_from([1.0, -1.0, 0.5, 2.0, -3.0])
        cs = [draw(weights) for _ in args] if name == "add" else None
        p = draw(st.sampled_from([2.0, 3.0, 0.5, -1.0, 1.5])) if name == "pow" else 0.0
        push(name, args, cs, p)
    V = len(op)
    m = draw(st.integers(1, max_outputs))
    outputs = [V - 1] + [draw(st.integers(0, V - 1)) for _ in range(m - 1)]
    offsets = np.zeros(V + 1, INDEX)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    return Circuit.from_arrays(
        [f"x{i}" for i in range(n)],
        op,
        offsets,
        [a for r in rows for a in r],
        [c for r in coeffs for c in r],
        param,
        outputs,
        [f"f{i}" for i in range(m)],
    )


points = st.lists(st.floats(-2, 2, allow_nan=False), min_size=1, max_size=8)
