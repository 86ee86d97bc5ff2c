"""Lowering of expression trees (``expr.Expr``) into a ``CircuitBuilder``.

An expression node has a ``kind`` (one of the codes below), ``items``, ``value``, ``name``,
``ctx`` and a creation ``serial``:

    INPUT  an input; ``value`` = its index in ``ctx.names``
    LIN    a linear combination; ``items`` = ((node, coeff), ...), ``value`` = constant
           offset (a constant is a combination with no items)
    MUL    a product; ``items`` = factors
    OP     one op gate; ``items`` = args, ``name`` = the op's name, ``value`` = parameter

The rules are in ``lower`` below and in docs/expressions.md.
"""

from __future__ import annotations

import struct
from typing import Protocol

from ..core.ops import BY_NAME
from ..errors import CircuitError
from ..gcpause import gc_paused
from .builder import CircuitBuilder

INPUT, LIN, MUL, OP = range(4)  # expression node kinds


class Node(Protocol):
    """What lowering reads of an expression node (``expr.Expr`` is one; this module does
    not import it, so that expressions depend on their lowering and not the reverse)."""

    kind: int
    items: tuple
    value: float
    name: str
    ctx: object
    serial: int


_ADD, _NEG, _MULC = BY_NAME["add"].code, BY_NAME["neg"].code, BY_NAME["mul"].code
_CODE = {op.name: op.code for op in BY_NAME.values()}


def lower(b: CircuitBuilder, outputs: list[Node], vertex_of_input: list[int]) -> list[int]:
    """Add the gates computing ``outputs`` to ``b``; their vertices.

    Rules (docs/expressions.md):
    - a linear combination (product) used exactly once, by another linear combination
      (product), is merged into it; used more than once, it is one vertex of its own;
    - equal sub-expressions are one node, so equal terms merge their coefficients
      (``sin(x) + sin(x)`` is ``2·sin(x)``); terms whose coefficient is 0 are dropped;
    - a combination lowers to its term when that is ``1·u``, to ``neg u`` for ``-1·u``, to a
      constant when no term is left, else to one ``add`` whose constant offset is the
      coefficient of a ``const 1`` argument, last;
    - only what an output reaches is emitted: constants first, then gates by depth (then in
      order of creation), the layered order of the lecture's figures.
    Every pass is a loop (an expression is created after its operands, so the creation
    serial is a topological order): depth is not limited by Python's recursion.
    """
    with gc_paused():
        merged, nodes = _uses(outputs)
        nodes.sort(key=_serial)  # operands first
        plan = _Plan(vertex_of_input)
        node_of: dict[int, int] = {}
        for e in nodes:
            if id(e) not in merged:
                node_of[id(e)] = plan.node(e, merged, node_of)
        return plan.emit(b, [node_of[id(e)] for e in outputs])


_bits = struct.Struct("<d").pack  # constants are equal when their bits are


def _serial(e: Node) -> int:
    return e.serial


def _uses(outputs: list[Node]):
    """(ids of the expressions merged into their only user, every reachable Expr)."""
    refs: dict[int, int] = {}
    nested: set[int] = set()  # combinations inside a combination, products inside a product
    nodes: list[Node] = []
    stack: list[Node] = []
    for e in outputs:
        k = id(e)
        if k in refs:
            refs[k] += 1
        else:
            refs[k] = 1
            stack.append(e)
    while stack:
        e = stack.pop()
        nodes.append(e)
        kind = e.kind
        if kind == INPUT:
            continue
        for c in [t for t, _ in e.items] if kind == LIN else e.items:
            k = id(c)
            r = refs.get(k)
            if r is None:
                refs[k] = 1
                stack.append(c)
                if c.kind == kind and kind != OP:
                    nested.add(k)
            else:
                refs[k] = r + 1
    return {k for k in nested if refs[k] == 1}, nodes


class _Plan:
    """Nodes before emission, hash-consed: an input (its vertex, an int), a constant (its
    value, a float) or a gate (code, argument nodes, coeffs, param)."""

    def __init__(self, vertex_of_input: list[int]):
        self.vertex_of_input = vertex_of_input
        self.data: list = []
        self.depth: list[int] = []
        self.seen: dict = {}  # gate key / constant bits / input vertex -> node

    def _leaf(self, key, value) -> int:
        n = self.seen.get(key)
        if n is None:
            n = self.seen[key] = len(self.data)
            self.data.append(value)
            self.depth.append(0)
        return n

    def const(self, value: float) -> int:
        return self._leaf(_bits(value), float(value))

    def gate(self, code: int, args: tuple, coeffs, param: float) -> int:
        key = (code, args, coeffs, param)
        n = self.seen.get(key)
        if n is None:
            n = self.seen[key] = len(self.data)
            depth = self.depth
            self.data.append(key)
            if len(args) == 1:
                depth.append(depth[args[0]] + 1)
            else:
                depth.append(1 + max([depth[a] for a in args]))
        return n

    def node(self, e: Node, merged: set[int], node_of: dict[int, int]) -> int:
        kind = e.kind
        if kind == OP:
            args = tuple([node_of[id(a)] for a in e.items])
            return self.gate(_CODE[e.name], args, None, e.value)
        if kind == MUL:
            factors = []
            stack = list(reversed(e.items))
            while stack:
                f = stack.pop()
                if id(f) in merged:
                    stack.extend(reversed(f.items))
                else:
                    factors.append(node_of[id(f)])
            return self.gate(_MULC, tuple(factors), None, 0.0)
        if kind == INPUT:
            v = self.vertex_of_input[int(e.value)]
            if v < 0:
                name = e.ctx.names[int(e.value)]
                raise CircuitError(f"input {name!r} is used but not in inputs=", "/inputs")
            return self._leaf(("input", v), v)
        terms, offset = self._terms(e, merged, node_of)
        if not terms:
            return self.const(offset)
        if offset == 0.0 and len(terms) == 1:
            ((n, c),) = terms.items()
            if c == 1.0:
                return n  # 1·u is u
            if c == -1.0:
                return self.gate(_NEG, (n,), None, 0.0)
        if offset != 0.0:
            terms[self.const(1.0)] = offset  # (a term of its own: no input is a constant)
        return self.gate(_ADD, tuple(terms), tuple(terms.values()), 0.0)

    def _terms(self, e: Node, merged: set[int], node_of: dict[int, int]):
        """({node: coefficient} in order of first appearance, without zeros; offset) of a
        combination: the combinations merged into it expanded, constants in the offset."""
        data = self.data
        offset = e.value
        items = e.items
        if len(items) == 1 and id(items[0][0]) not in merged:  # the common c·u + offset
            n, c = node_of[id(items[0][0])], items[0][1]
            if type(data[n]) is float:
                return {}, offset + c * data[n]
            return ({n: c} if c != 0.0 else {}), offset
        terms: dict[int, float] = {}
        stack = list(reversed(items))
        while stack:
            t, c = stack.pop()
            if id(t) in merged:
                offset += c * t.value
                stack.extend([(u, c * k) for u, k in reversed(t.items)])
            else:
                n = node_of[id(t)]
                if type(data[n]) is float:  # a shared combination that is a constant
                    offset += c * data[n]
                else:
                    terms[n] = terms.get(n, 0.0) + c
        return {n: c for n, c in terms.items() if c != 0.0}, offset

    def emit(self, b: CircuitBuilder, roots: list[int]) -> list[int]:
        """What the roots reach: constants first, then gates level by level."""
        data, depth = self.data, self.depth
        live = bytearray(len(data))
        for r in roots:
            live[r] = 1
        gates = []
        for n in range(len(data) - 1, -1, -1):  # arguments have smaller numbers
            if live[n] and type(data[n]) is tuple:
                gates.append(n)
                for a in data[n][1]:
                    live[a] = 1
        gates.reverse()
        gates.sort(key=depth.__getitem__)  # stable: creation order within a level
        vertex = [-1] * len(data)
        for n in [a for g in gates for a in data[g][1]] + roots:  # constants by first use
            d = data[n]
            if type(d) is int:
                vertex[n] = d
            elif type(d) is float and vertex[n] < 0:
                vertex[n] = b.const(d)
        add = b._add
        for n in gates:
            code, args, coeffs, param = data[n]
            vertex[n] = add(code, tuple([vertex[a] for a in args]), coeffs, param, None)
        return [vertex[r] for r in roots]
