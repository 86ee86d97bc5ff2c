"""Random circuits over every op of the table, for property tests.

Arguments of ops with a restricted domain (log, sqrt, recip, div's divisor, pow) are made
positive by a guard ``add(square(a), 0.5)`` so that finite differences have something to
check; everything else draws arguments from any earlier vertex.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from circuitgrad.engine.core.circuit import INDEX, Circuit
from circuitgrad.engine.core.ops import BY_NAME, GATE_OPS

POSITIVE_ARGS = {"log": [0], "sqrt": [0], "recip": [0], "div": [1], "pow": [0]}
SMOOTH_ONLY = {"exp"}  # exp of exp of ... overflows; guard its argument with tanh


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

    def positive(a):
        return push("add", [push("square", [a]), push("const", [], p=0.5)], [1.0, 1.0])

    for _ in range(draw(st.integers(1, max_gates))):
        name = draw(st.sampled_from(names))
        spec = BY_NAME[name]
        if name == "const":
            push("const", [], p=draw(st.floats(-3, 3, allow_nan=False)))
            continue
        hi = spec.max_args if spec.max_args is not None else spec.min_args + 2
        k = draw(st.integers(spec.min_args, hi))
        args = [earlier() for _ in range(k)]
        for j in POSITIVE_ARGS.get(name, []):
            args[j] = positive(args[j])
        if name in SMOOTH_ONLY:
            args = [push("tanh", [a]) for a in args]
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
