"""The expression language: text -> circuit, safely.

    parse_expression("(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2")

Hand-written: a regular-expression tokenizer over ASCII and an operator-precedence
(shunting-yard) parser with explicit stacks, so no ``eval``, no Python ``ast``, and no
recursion at all — nesting is bounded by ``max_depth``, text by ``max_length`` and
``max_tokens``; a hostile text costs linear time and fails with a ``CircuitError``.
Expressions are built with ``expr.py``, so text and Python give the same circuits.
The grammar, precedences and functions are in docs/expressions.md.

Every error is ``CircuitError`` at path ``/expression`` whose message starts with the
character offset: ``at offset 7: expected a number, a name, '(' or a sign, found ')'``.
"""

from __future__ import annotations

import math
import re

from ..core.circuit import Circuit
from ..core.ops import BY_NAME
from ..errors import CircuitError, pointer
from ..gcpause import gc_paused
from .expr import Context, Expr, build, const, function

MAX_LENGTH = 1 << 20  # characters (bytes for bytes input)
MAX_TOKENS = 1 << 18
MAX_DEPTH = 500  # pending operators and open parentheses at once
MAX_NAME_LENGTH = 1024
PATH = "/expression"

FUNCTIONS = frozenset(op.name for op in BY_NAME.values() if op.name not in ("input", "const"))
CONSTANTS = {"pi": math.pi, "e": math.e}  # unless the name is an input or an output

_TOKEN = re.compile(
    r"""
      (?P<space>[ \t\r\f\v]+|\#[^\n]*)
    | (?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
    | (?P<name>[A-Za-z_][A-Za-z0-9_.\[\]]*)
    | (?P<op>\*\*|[-+*/^]|[<>=!]=|[<>])
    | (?P<punct>[(),=;\n])
    """,
    re.VERBOSE,
)

# binary operators: precedence, right-associative
_BINARY = {"+": (1, False), "-": (1, False), "*": (2, False), "/": (2, False), "**": (4, True)}
_COMPARISONS = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
_BINARY |= {symbol: (0, False) for symbol in _COMPARISONS}  # below + and -; never chained
_UNARY_PREC = 3  # between * and **: -x**2 is -(x**2), -x*y is (-x)*y

NUM, NAME, OP, SEP, END = "number", "name", "op", "sep", "end"


def _fail(offset: int, message: str):
    raise CircuitError(f"at offset {offset}: {message}", PATH)


def tokenize(text: str, max_tokens: int = MAX_TOKENS) -> list[tuple[str, object, int]]:
    """(kind, value, offset) triples ending with END. Kinds: ``number`` (float value),
    ``name``, ``op`` (``+ - * / ** < <= > >= == !=``; ``^`` reads as ``**``), ``sep`` (``;``
    or a newline outside parentheses), punctuation as itself (``( ) , =``)."""
    tokens: list[tuple[str, object, int]] = []
    depth = 0
    pos = 0
    for m in _TOKEN.finditer(text):
        if m.start() != pos:
            _unexpected(text, pos)
        pos = m.end()
        kind = m.lastgroup
        if kind == "space":
            continue
        s = m.group()
        start = m.start()
        if kind == "num":
            tokens.append((NUM, float(s), start))
        elif kind == "name":
            if len(s) > MAX_NAME_LENGTH:
                _fail(start, f"name longer than {MAX_NAME_LENGTH} characters")
            tokens.append((NAME, s, start))
        elif kind == "op":
            tokens.append((OP, "**" if s == "^" else s, start))
        elif s == "\n" or s == ";":
            if s == "\n" and depth > 0:
                continue  # inside parentheses a newline is a space
            tokens.append((SEP, s, start))
        else:
            depth += 1 if s == "(" else -1 if s == ")" and depth > 0 else 0
            tokens.append((s, s, start))
        if len(tokens) > max_tokens:
            _fail(start, f"more than {max_tokens} tokens")
    if pos != len(text):
        _unexpected(text, pos)
    tokens.append((END, None, len(text)))
    return tokens


def _unexpected(text: str, pos: int):
    ch = text[pos]
    _fail(pos, f"unexpected character {ch!r} (U+{ord(ch):04X})")


def _describe(token) -> str:
    kind, value, _ = token
    if kind == NUM:
        return f"number {value!r}"
    if kind == NAME:
        return f"name {value!r}"
    if kind == END:
        return "end of input"
    if kind == SEP:
        return "end of line" if value == "\n" else "';'"
    return f"'{value}'"


class _Parser:
    def __init__(self, tokens, ctx: Context, fixed_inputs: bool, max_depth: int):
        self.tokens = tokens
        self.ctx = ctx
        self.fixed = fixed_inputs
        self.max_depth = max_depth
        self.defined: dict[str, Expr] = {}  # outputs of earlier statements

    # -- statements ------------------------------------------------------------------
    def program(self, output: str) -> dict[str, Expr]:
        toks, i = self.tokens, 0
        statements: list[tuple[str | None, Expr, int]] = []
        while True:
            while toks[i][0] == SEP:
                i += 1
            if toks[i][0] == END:
                break
            start = toks[i][2]
            target = None
            if toks[i][0] == NAME and toks[i + 1][0] == "=":
                target, i = toks[i][1], i + 2
            value, i = self.expression(i)
            if target is not None:
                if target in self.defined:
                    _fail(start, f"output {target!r} is defined twice")
                if self.ctx.get(target) is not None:
                    _fail(start, f"{target!r} is an input; an output needs another name")
                self.defined[target] = value
            statements.append((target, value, start))
        if not statements:
            _fail(toks[i][2], "expected an expression, found end of input")
        if len(statements) == 1 and statements[0][0] is None:
            return {output: statements[0][1]}
        for target, _, start in statements:
            if target is None:
                _fail(start, "with several statements each needs a name, as in 'f = ...'")
        return dict(self.defined)

    def name(self, name: str, offset: int) -> Expr:
        e = self.defined.get(name)
        if e is not None:
            return e
        e = self.ctx.get(name)
        if e is not None:
            return e
        if name in CONSTANTS:
            return const(CONSTANTS[name])
        if self.fixed:
            known = ", ".join(self.ctx.names[:20]) or "none"
            _fail(offset, f"unknown input {name!r} (inputs: {known})")
        return self.ctx.input(name)

    # -- one expression: shunting-yard with explicit stacks ----------------------------
    def expression(self, i: int) -> tuple[Expr, int]:
        toks = self.tokens
        values: list[Expr] = []
        # pending operators: [kind, symbol, offset, precedence, right-associative];
        # pending groups: ["(" or "call", name, offset, commas so far, offset of the "("]
        pending: list[list] = []
        want_operand = True
        while True:
            kind, value, offset = toks[i]
            if want_operand:
                if kind == NUM:
                    values.append(const(value))
                    want_operand = False
                elif kind == NAME and toks[i + 1][0] == "(":
                    if value not in FUNCTIONS:
                        known = ", ".join(sorted(FUNCTIONS))
                        _fail(offset, f"unknown function {value!r}; the functions are {known}")
                    pending.append(["call", value, offset, 0, toks[i + 1][2]])
                    i += 1
                    if toks[i + 1][0] == ")":  # f(): no argument
                        i += 1
                        self.call(values, pending.pop(), 0)
                        want_operand = False
                elif kind == NAME:
                    values.append(self.name(value, offset))
                    want_operand = False
                elif kind == "(":
                    pending.append(["(", "(", offset, 0, offset])
                elif kind == OP and value in ("+", "-"):
                    pending.append(["unary", value, offset, _UNARY_PREC, False])
                elif kind == SEP and value == "\n":
                    pass  # a line ending in an operator continues on the next
                else:
                    _fail(
                        offset,
                        f"expected a number, a name, '(' or a sign, found {_describe(toks[i])}",
                    )
                if len(pending) > self.max_depth:
                    _fail(offset, f"nesting deeper than {self.max_depth}")
            elif kind == OP:
                prec, right = _BINARY[value]
                if value in _COMPARISONS and self.comparison_pending(pending):
                    _fail(offset, "comparisons do not chain: use parentheses, as in (a < b) < c")
                while pending and pending[-1][0] in ("binary", "unary"):
                    top = pending[-1][3]
                    if top > prec or (top == prec and not right):
                        self.reduce(values, pending.pop())
                    else:
                        break
                pending.append(["binary", value, offset, prec, right])
                want_operand = True
            elif kind == ")" or kind == ",":
                self.reduce_to_group(values, pending)
                if not pending:
                    if kind == ",":
                        _fail(offset, "',' outside the arguments of a function")
                    _fail(offset, "unmatched ')'")
                group = pending[-1]
                if kind == ",":
                    if group[0] != "call":
                        _fail(offset, "',' outside the arguments of a function")
                    group[3] += 1
                    want_operand = True
                else:
                    pending.pop()
                    if group[0] == "call":
                        self.call(values, group, group[3] + 1)
            elif kind == SEP or kind == END:
                self.reduce_to_group(values, pending)
                if pending:
                    found, opened = _describe(toks[i]), pending[-1][4]
                    _fail(offset, f"expected ')' to close '(' at offset {opened}, found {found}")
                return values[0], i
            else:
                _fail(offset, f"expected an operator, ')' or the end, found {_describe(toks[i])}")
            i += 1

    @staticmethod
    def comparison_pending(pending) -> bool:
        """A comparison waits for its right operand in the innermost group."""
        for op in reversed(pending):
            if op[0] not in ("binary", "unary"):
                return False
            if op[0] == "binary" and op[1] in _COMPARISONS:
                return True
        return False

    def reduce_to_group(self, values, pending):
        while pending and pending[-1][0] in ("binary", "unary"):
            self.reduce(values, pending.pop())

    def reduce(self, values: list[Expr], op: list):
        kind, symbol = op[0], op[1]
        if kind == "unary":
            if symbol == "-":
                values[-1] = -values[-1]
            return
        b = values.pop()
        a = values[-1]
        if symbol == "+":
            values[-1] = a + b
        elif symbol == "-":
            values[-1] = a - b
        elif symbol == "*":
            values[-1] = a * b
        elif symbol == "/":
            values[-1] = a / b
        elif symbol in _COMPARISONS:
            values[-1] = function(_COMPARISONS[symbol], a, b)
        else:
            values[-1] = a**b

    def call(self, values: list[Expr], group: list, argc: int):
        name, offset = group[1], group[2]
        args = values[len(values) - argc :] if argc else []
        del values[len(values) - argc :]
        try:
            values.append(function(name, *args))
        except CircuitError as e:
            _fail(offset, e.errors[0].message)


def parse_program(
    text,
    inputs=None,
    output: str = "f",
    *,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_tokens: int = MAX_TOKENS,
) -> tuple[list[str], dict[str, Expr]]:
    """(input names, {output name: Expr}) of ``text``; see ``parse_expression``."""
    text = _as_text(text, max_length)
    if not isinstance(output, str) or not output or len(output) > MAX_NAME_LENGTH:
        raise CircuitError("output must be a name (a non-empty string)", "/output")
    ctx = Context()
    if inputs is not None:
        if isinstance(inputs, str) or not hasattr(inputs, "__iter__"):
            raise CircuitError("inputs must be a list of names", "/inputs")
        for k, name in enumerate(inputs):
            if isinstance(name, str) and ctx.get(name) is not None:
                raise CircuitError(f"duplicate input name {name!r}", pointer("inputs", k))
            ctx.input(name)
    with gc_paused():
        tokens = tokenize(text, max_tokens)
        outputs = _Parser(tokens, ctx, inputs is not None, max_depth).program(output)
    return list(ctx.names), outputs


def parse_expression(
    text,
    inputs=None,
    output: str = "f",
    *,
    max_length: int = MAX_LENGTH,
    max_depth: int = MAX_DEPTH,
    max_tokens: int = MAX_TOKENS,
) -> Circuit:
    """The circuit of ``text``: one expression (its output called ``output``) or statements
    ``f = ...; g = ...`` (one output each, in order). Inputs in order of first appearance,
    or exactly ``inputs`` (unknown names are then an error; unused ones stay inputs)."""
    names, outputs = parse_program(
        text, inputs, output, max_length=max_length, max_depth=max_depth, max_tokens=max_tokens
    )
    return build(outputs, inputs=names)


def _as_text(text, max_length: int) -> str:
    if isinstance(text, (bytes, bytearray, memoryview)):
        if len(text) > max_length:
            raise CircuitError(f"expression longer than {max_length} bytes", PATH)
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise CircuitError(f"at byte {e.start}: not valid UTF-8", PATH) from None
    if not isinstance(text, str):
        raise CircuitError(f"an expression must be a string, not {type(text).__name__}", PATH)
    if len(text) > max_length:
        raise CircuitError(f"expression longer than {max_length} characters", PATH)
    return text
