"""What a derivative circuit takes and gives, by mode: the one place that names them.

Every mode's result keeps the source's inputs, in order, and may append inputs that seed
the derivative; its outputs are the source's outputs (with ``include_value``) followed by
the derivatives:

    mode                      extra inputs            outputs
    backward/forward/auto     —                       d{f}/d{x}   for f in of, x in wrt
    jvp   (J·v)               tangent[x]   x in wrt   jvp[f]      f in of
    vjp   (uᵀ·J)              cotangent[f] f in of    vjp[x]      x in wrt
    hvp   (∇(∇f·v))           tangent[x]   x in wrt   hvp[x]      x in wrt (one output f)

A seeded name that the source already uses gets the first free numbered prefix instead:
``tangent_2[x]`` (then ``tangent_3``, ...) for all of the request's extra inputs when one of
the ``tangent[...]`` names is an input of the source, likewise for ``cotangent`` and the
output prefixes against the source's output names. So a JVP of a JVP circuit works (its
inputs ``x, tangent[x]`` get the tangents ``tangent_2[x], tangent_2[tangent[x]]``) and names
never depend on ``include_value``. Input names stay within circuit-format.md's pattern.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import count

from ..errors import MAX_ERRORS, CircuitError, ErrorItem, pointer
from .circuit import MAX_NAME_BYTES

JACOBIAN_MODES = ("backward", "forward", "auto")
DIRECTIONAL_MODES = ("jvp", "vjp", "hvp")
MODES = JACOBIAN_MODES + DIRECTIONAL_MODES


@dataclass(frozen=True)
class Layout:
    """The inputs and outputs of one request's result."""

    mode: str
    xs: tuple[int, ...]  # the wrt inputs' positions, in wrt order
    fs: tuple[int, ...]  # the of outputs' positions, in of order
    extra_inputs: tuple[str, ...]  # appended after the source's inputs
    derivatives: tuple[str, ...]  # the derivative outputs' names, after any values
    values: int  # leading outputs that are the source's own (include_value), else 0


def _shown(x, limit: int = 40) -> str:
    """``repr(x)`` for a message, cut short (a name may be huge, an integer too long)."""
    if isinstance(x, str):
        text = repr(x[:limit])
        return text if len(x) <= limit else text[:-1] + "…" + text[-1]
    if x is None or isinstance(x, bool | float) or (isinstance(x, int) and abs(x) < 10**18):
        return repr(x)
    return "a very large integer" if isinstance(x, int) else f"a {type(x).__name__}"


def resolve(c, wrt=None, of=None) -> tuple[list[int], list[int]]:
    """Input positions for ``wrt`` and output positions for ``of`` (names, or None = all).

    ``c`` needs only ``inputs`` and ``output_names``. A list longer than the circuit's
    names is refused before any name is looked at, and errors stop at ``MAX_ERRORS``: a
    hostile list of 10⁷ names costs O(1)."""

    def pick(names, known, key):
        if names is None:
            return list(range(len(known)))
        if isinstance(names, str):
            names = [names]
        if len(names) > len(known):  # before looking at any name: O(1) for a huge list
            raise CircuitError(
                f"has {len(names)} names; the circuit has only {len(known)} {key} names",
                pointer(key),
            )
        index = {n: i for i, n in enumerate(known)}
        errors, seen, picked = [], set(), []
        for i, n in enumerate(names):
            if not isinstance(n, str) or n not in index:
                errors.append(
                    (pointer(key, i), f"{_shown(n)} is not one of the circuit's {key} names")
                )
            elif n in seen:
                errors.append((pointer(key, i), f"{_shown(n)} is named twice"))
            else:
                seen.add(n)
                picked.append(index[n])
            if len(errors) >= MAX_ERRORS:
                break
        if not names:
            errors.append((pointer(key), "is empty: the Jacobian would have no entries"))
        if errors:
            raise CircuitError([ErrorItem(p, m) for p, m in errors])
        return picked

    xs = pick(wrt, c.inputs, "wrt")
    fs = pick(of, c.output_names, "of")
    if not c.inputs:
        raise CircuitError("the circuit has no inputs: the Jacobian would have no entries", "/wrt")
    return xs, fs


def prefixed(prefix: str, names, taken) -> list[str]:
    """``prefix[n]`` for each name, under the first of ``prefix``, ``prefix_2``, ... that
    makes none of them a name in ``taken``."""
    taken = set(taken)
    for i in count(1):
        p = prefix if i == 1 else f"{prefix}_{i}"
        out = [f"{p}[{n}]" for n in names]
        if taken.isdisjoint(out):
            return out
    raise AssertionError("unreachable")


def jacobian_names(inputs, output_names, xs, fs) -> list[str]:
    wrt = [f"/d{inputs[j]}" for j in xs]
    return [f"d{output_names[i]}{x}" for i in fs for x in wrt]


def layout(c, mode: str, wrt=None, of=None, include_value: bool = False) -> Layout:
    """The result's layout for ``mode``, or a CircuitError naming the place (``/mode``,
    ``/wrt/1``, ``/of``...). ``c`` needs only ``inputs`` and ``output_names``."""
    if mode not in MODES:
        raise CircuitError(f"unknown mode {mode!r}; one of {', '.join(MODES)}", "/mode")
    xs, fs = resolve(c, wrt, of)
    inputs, outputs = list(c.inputs), list(c.output_names)
    wrt_names, of_names = [inputs[j] for j in xs], [outputs[i] for i in fs]
    extra: list[str] = []
    where = "wrt"
    if mode in JACOBIAN_MODES:
        names = jacobian_names(inputs, outputs, xs, fs)
    elif mode == "jvp":
        extra = prefixed("tangent", wrt_names, inputs)
        names = prefixed("jvp", of_names, outputs)
    elif mode == "vjp":
        extra, where = prefixed("cotangent", of_names, inputs), "of"
        names = prefixed("vjp", wrt_names, outputs)
    else:
        if len(fs) != 1:
            shown = ", ".join(of_names[:5]) + (", ..." if len(of_names) > 5 else "")
            raise CircuitError(
                f"hvp needs one scalar output; name it with of (this request has {shown})",
                "/of",
            )
        extra = prefixed("tangent", wrt_names, inputs)
        names = prefixed("hvp", wrt_names, outputs)
    for i, name in enumerate(extra):
        if len(name.encode()) > MAX_NAME_BYTES:
            raise CircuitError(
                f"the seeded input {name[:40]}... would be longer than {MAX_NAME_BYTES} bytes",
                pointer(where, i),
            )
    values = len(outputs) if include_value else 0
    unique_outputs(outputs[:values] + names, include_value)
    return Layout(mode, tuple(xs), tuple(fs), tuple(extra), tuple(names), values)


def unique_outputs(names: list[str], include_value: bool) -> None:
    """Output names must be unique: a CircuitError naming the ones that would repeat (an
    output called ``df/dx`` beside ``f``, with ``include_value``)."""
    if len(set(names)) == len(names):
        return
    seen, twice = set(), []
    for n in names:
        if n in seen and n not in twice:
            twice.append(n)
        seen.add(n)
    shown = ", ".join(repr(n) for n in twice[:5])
    where = "/include_value" if include_value else "/of"
    raise CircuitError(f"the result's output names would not be unique: {shown}", where)


def output_names(c, lay: Layout) -> list[str]:
    """All output names of the result: the source's (with ``include_value``), then the
    derivatives."""
    return list(c.output_names)[: lay.values] + list(lay.derivatives)
