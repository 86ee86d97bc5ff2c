"""The rules of one row-form gate: the tables both validation passes read (``validate``'s
fast scan and ``diagnose_gate``), and ``diagnose_gate``, the authority on messages."""

from __future__ import annotations

from collections.abc import Mapping

from ..core import ops
from .checks import ABSENT, Errors, as_number, describe, number_error, short, vertex_error

CODE_OF = {op.name: op.code for op in ops.GATE_OPS}
GATE_KEYS = tuple(  # by code: the keys a gate of that op may have
    frozenset(
        {"op", "args", "name"}
        | ({op.param} if op.param else set())
        | ({"coeffs"} if op.coeffs else set())
    )
    for op in ops.OPS
)
# which op a gate key belongs to, for "'p' is only allowed for pow"
_KEY_OWNER = {"coeffs": [o.name for o in ops.GATE_OPS if o.coeffs]}
for _op in ops.GATE_OPS:
    if _op.param:
        _KEY_OWNER.setdefault(_op.param, []).append(_op.name)


def diagnose_gate(i: int, g, n_inputs: int, errs: Errors) -> None:
    """Every problem of gate ``i`` (vertex ``n_inputs + i``), located."""
    at = ("gates", i)
    v = n_inputs + i
    if not isinstance(g, Mapping):
        errs.add(at, "a gate must be an object, got " + describe(g))
        return
    name = g.get("op", ABSENT)
    op = None
    if name is ABSENT:
        errs.add(at, "missing 'op'")
    elif type(name) is not str:
        errs.add(at + ("op",), "must be an op name (a string), got " + describe(name))
    elif name == "input":
        errs.add(at + ("op",), "'input' is not a gate op; inputs are listed in 'inputs'")
    elif name not in CODE_OF:
        errs.add(at + ("op",), f"unknown op {short(name)}")
    else:
        op = ops.BY_NAME[name]
    allowed = GATE_KEYS[op.code] if op else GATE_KEYS[0] | _KEY_OWNER.keys()
    for key in g:
        if key in allowed:
            continue
        if key in _KEY_OWNER:
            owners = " and ".join(_KEY_OWNER[key])
            errs.add(at + (key,), f"'{key}' is only allowed for {owners}, not for {op.name}")
        elif isinstance(key, str):
            errs.add(
                at + (key,),
                f"unknown key {short(key)} (a gate has op, args, coeffs, value, p, name)",
            )
        else:
            errs.add(at, f"unknown key {describe(key)}")

    args = g.get("args", ABSENT)
    n_args = None
    if args is ABSENT:
        n_args = 0
        if op and op.min_args > 0:
            errs.add(at, f"missing 'args'; {op.name} takes {op.arity_text} argument(s)")
            n_args = None
    elif type(args) is not list:
        errs.add(at + ("args",), "must be a list of vertex numbers, got " + describe(args))
    else:
        n_args = len(args)
        if op and not (
            op.min_args <= n_args <= (op.max_args if op.max_args is not None else n_args)
        ):
            errs.add(at + ("args",), f"{op.name} takes {op.arity_text} argument(s), got {n_args}")
        for j, x in enumerate(args):
            message = vertex_error(x, v, i)
            if message:
                errs.add(at + ("args", j), message)

    if op and op.param and op.param not in g:
        errs.add(at, f"missing '{op.param}', which {op.name} requires")
    x = g.get(op.param, ABSENT) if op and op.param else ABSENT
    if x is not ABSENT and as_number(x) is None:
        errs.add(at + (op.param,), number_error(x))

    coeffs = g.get("coeffs", ABSENT)
    if coeffs is not ABSENT:
        if type(coeffs) is not list:
            errs.add(at + ("coeffs",), "must be a list of numbers, got " + describe(coeffs))
        else:
            if n_args is not None and len(coeffs) != n_args:
                errs.add(at + ("coeffs",), f"has {len(coeffs)} entries but args has {n_args}")
            for j, x in enumerate(coeffs):
                if as_number(x) is None:
                    errs.add(at + ("coeffs", j), number_error(x))

    label = g.get("name", ABSENT)
    if label is not ABSENT and type(label) is not str:
        errs.add(at + ("name",), "must be a string, got " + describe(label))
