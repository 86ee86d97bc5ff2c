"""Circuits written gate by gate, and random ones with the patterns the simplifier's rules
look for: shared by the simplification tests."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from circuitgrad.engine.core.circuit import INDEX, Circuit
from circuitgrad.engine.core.ops import BY_CODE, BY_NAME, GATE_OPS, OPS
from circuitgrad.engine.passes.simplify import simplify

VALUES = [0.0, 1.0, -1.0, 2.0, 0.5, -3.0, 1.5, -0.0, np.inf, -np.inf, np.nan, 1e-300, 1e300]
COEFFS = [1.0, -1.0, 2.0, 0.5, 0.0, -3.0]
POWERS = [0.0, 1.0, 2.0, -1.0, 3.0, 0.5, -2.0]


class Rows:
    """A circuit written gate by gate: ``r.gate("add", a, b, coeffs=[1, 2])`` -> vertex."""

    def __init__(self, inputs):
        self.inputs = list(inputs)
        self.ops, self.param = [0] * len(inputs), [0.0] * len(inputs)
        self.args, self.coeffs = [[] for _ in inputs], [[] for _ in inputs]

    def gate(self, op, *args, coeffs=None, p=0.0):
        self.ops.append(BY_NAME[op].code)
        self.args.append([int(a) for a in args])
        self.coeffs.append([float(c) for c in coeffs] if coeffs is not None else [1.0] * len(args))
        self.param.append(float(p))
        return len(self.ops) - 1

    def const(self, value):
        return self.gate("const", p=value)

    def circuit(self, outputs, names=None, labels=None):
        offsets = np.zeros(len(self.ops) + 1, INDEX)
        np.cumsum([len(a) for a in self.args], out=offsets[1:])
        return Circuit.from_arrays(
            self.inputs,
            self.ops,
            offsets,
            [a for row in self.args for a in row],
            [c for row in self.coeffs for c in row],
            self.param,
            outputs,
            names,
            labels,
        )


def gates(c):
    """The gates as readable tuples: (op, args[, coeffs]) / ("const", value) / ("pow", args, p)."""
    rows = []
    for v in range(c.n_inputs, c.n_vertices):
        op = BY_CODE[c.op[v]]
        lo, hi = c.arg_offsets[v], c.arg_offsets[v + 1]
        if op.name == "const":
            rows.append(("const", float(c.param[v])))
        elif op.name == "add":
            rows.append(("add", c.args[lo:hi].tolist(), c.coeffs[lo:hi].tolist()))
        elif op.name == "pow":
            rows.append(("pow", c.args[lo:hi].tolist(), float(c.param[v])))
        else:
            rows.append((op.name, c.args[lo:hi].tolist()))
    return rows


def simplified(inputs, build, *outputs):
    """Build a circuit with ``build(rows, *input_vertices)`` returning outputs; simplify."""
    r = Rows(inputs)
    outs = build(r, *range(len(inputs)))
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    return simplify(r.circuit(outs))


# -- random circuits over every op, with the patterns the rules look for ----------------
@st.composite
def circuits(draw, max_steps=24):
    n = draw(st.integers(1, 3))
    r = Rows([f"x{i}" for i in range(n)])

    def any_vertex():
        return draw(st.integers(0, len(r.ops) - 1))

    def const():
        return r.const(draw(st.sampled_from(VALUES)))

    def random_gate(op):
        hi = op.max_args if op.max_args is not None else op.min_args + 3
        args = [any_vertex() for _ in range(draw(st.integers(op.min_args, hi)))]
        coeffs = [draw(st.sampled_from(COEFFS)) for _ in args] if op.coeffs else None
        p = draw(st.sampled_from(POWERS)) if op.name == "pow" else 0.0
        return r.gate(op.name, *args, coeffs=coeffs, p=p)

    def duplicate():
        gates_ = [v for v in range(n, len(r.ops))]
        if not gates_:
            return const()
        v = draw(st.sampled_from(gates_))
        args, coeffs = list(r.args[v]), list(r.coeffs[v])
        if BY_CODE[r.ops[v]].reduction:  # the same gate written in another order
            order = draw(st.permutations(range(len(args))))
            args, coeffs = [args[i] for i in order], [coeffs[i] for i in order]
        return r.gate(BY_CODE[r.ops[v]].name, *args, coeffs=coeffs, p=r.param[v])

    def pattern():
        x, y = any_vertex(), any_vertex()
        k = draw(st.sampled_from(range(21)))
        if k == 0:
            return r.gate("mul", *draw(st.permutations([x, r.const(1.0)])))  # x·1
        if k == 1:
            return r.gate("add", x, r.const(0.0), coeffs=[1, draw(st.sampled_from(COEFFS))])
        if k == 2:
            return r.gate("add", x, y, coeffs=[draw(st.sampled_from(COEFFS)), 0.0])  # 0·y
        if k == 3:
            return r.gate("add", x, coeffs=[draw(st.sampled_from([1.0, 2.0]))])
        if k == 4:
            return r.gate("neg", r.gate("neg", x))
        if k == 5:
            return r.gate("mul", x, r.const(draw(st.sampled_from([0.0, -0.0]))), y)
        if k == 6:
            return r.gate("pow", x, p=draw(st.sampled_from([0.0, 1.0, 2.0, -1.0])))
        if k == 7:
            return r.gate("mul", const(), x)
        if k == 8:
            return r.gate("mul", x, x)
        if k == 9:
            return r.gate(draw(st.sampled_from(["sub", "div"])), x, const())
        if k == 10:
            return r.gate(draw(st.sampled_from(["sub", "div"])), const(), x)
        if k == 11:
            return r.gate(draw(st.sampled_from(["square", "abs"])), r.gate("neg", x))
        if k == 12:  # like terms
            return r.gate("add", x, y, x, coeffs=[draw(st.sampled_from(COEFFS)) for _ in "xyx"])
        if k == 13:  # constant terms to merge
            return r.gate("add", x, const(), const(), coeffs=[1.0, 2.0, -1.0])
        if k == 14:  # constant factors to merge
            return r.gate("mul", x, const(), y, const())
        if k == 16:  # a constant condition
            return r.gate("where", const(), x, y)
        if k == 17:  # x + x, signed zeros to drop or keep
            return r.gate("add", x, x, coeffs=[draw(st.sampled_from([1.0, -1.0, 2.0]))] * 2)
        if k == 18:
            return r.gate("add", x, const(), y, coeffs=[1.0, draw(st.sampled_from(COEFFS)), 1.0])
        if k == 19:
            return r.gate("mul0", *draw(st.permutations([x, const(), y])))
        if k == 20:
            return r.gate("mul", x, y, const(), x)  # order matters beyond two arguments
        op = draw(st.sampled_from([op for op in OPS if op.evaluate]))  # all constant
        p = draw(st.sampled_from(POWERS)) if op.param else 0.0
        return r.gate(op.name, *[const() for _ in range(op.min_args)], p=p)

    for _ in range(draw(st.integers(1, max_steps))):
        kind = draw(st.sampled_from(["op", "op", "const", "duplicate", "pattern", "pattern"]))
        if kind == "op":
            random_gate(draw(st.sampled_from([op for op in GATE_OPS if op.name != "const"])))
        elif kind == "const":
            const()
        elif kind == "duplicate":
            duplicate()
        else:
            pattern()
    V = len(r.ops)
    outputs = [V - 1] + draw(st.lists(st.integers(0, V - 1), max_size=2))
    labelled = draw(st.lists(st.integers(n, V - 1), max_size=4)) if V > n else []
    return r.circuit(outputs, labels={v: f"g{v}" for v in labelled})


points = st.integers(0, 2**32 - 1).map(
    lambda seed: (
        np.random.default_rng(seed).choice([-2, -1, -0.5, 0, 0.25, 1, 1.5, 2.5], (12, 3))
        + np.random.default_rng(seed + 1).uniform(-0.1, 0.1, (12, 3)) * (np.arange(12) % 2)[:, None]
    )
)
