"""Validation of circuit documents: every rule of circuit-format.md, located errors, and
hostile input that must only ever produce CircuitError."""

from __future__ import annotations

import copy
import math
import time

import msgpack
import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spec_examples import EQ1

from circuitgrad.engine.core.ops import BY_NAME
from circuitgrad.engine.errors import MAX_ERRORS, CircuitError
from circuitgrad.engine.formats import codec, validate


def eq1():
    return copy.deepcopy(EQ1)


def errors_of(doc, base_path="") -> list[tuple[str, str]]:
    with pytest.raises(CircuitError) as info:
        codec.from_document(doc, base_path)
    assert info.value.errors, "a CircuitError must say what is wrong"
    return [(e.path, e.message) for e in info.value.errors]


def edit(path, value=None, delete=False):
    """A function that changes a copy of EQ1 at ``path`` (a tuple of keys)."""

    def apply():
        doc = eq1()
        node = doc
        for key in path[:-1]:
            node = node[key]
        if delete:
            del node[path[-1]]
        else:
            node[path[-1]] = value
        return doc

    return apply


# (document, expected pointer, a fragment of the message)
CASES = [
    # top level
    (lambda: [EQ1], "", "must be an object"),
    (edit(("weights",), [1]), "/weights", "unknown key 'weights'"),
    (edit(("format",), "circuitgrad.circuit/2"), "/format", "unknown format"),
    (edit(("format",), None), "/format", "unknown format"),
    (edit(("inputs",), delete=True), "", "missing 'inputs'"),
    (edit(("gates",), delete=True), "", "missing 'gates'"),
    (edit(("outputs",), delete=True), "", "missing 'outputs'"),
    # inputs
    (edit(("inputs",), "xyz"), "/inputs", "must be a list"),
    (edit(("inputs", 1), None), "/inputs/1", "must be an input name"),
    (edit(("inputs", 1), math.nan), "/inputs/1", "must be an input name"),
    (edit(("inputs", 0), "1x"), "/inputs/0", "must match"),
    (edit(("inputs", 0), "x y"), "/inputs/0", "must match"),
    (edit(("inputs", 0), "é"), "/inputs/0", "must match"),
    (edit(("inputs", 0), "a" * 1025), "/inputs/0", "longer than 1024 bytes"),
    (edit(("inputs", 2), "x"), "/inputs/2", "duplicate input name 'x' (also input 0)"),
    # gates as a whole, and each gate's shape
    (edit(("gates",), {"0": {"op": "const"}}), "/gates", "must be a list"),
    (edit(("gates", 4), [4]), "/gates/4", "must be an object"),
    (edit(("gates", 4, "op"), delete=True), "/gates/4", "missing 'op'"),
    (edit(("gates", 4, "op"), 8), "/gates/4/op", "must be an op name"),
    (edit(("gates", 4, "op"), "sqaure"), "/gates/4/op", "unknown op 'sqaure'"),
    (edit(("gates", 4, "op"), "input"), "/gates/4/op", "'input' is not a gate op"),
    (edit(("gates", 4, "wieght"), 2), "/gates/4/wieght", "unknown key 'wieght'"),
    (edit(("gates", 4, "coeffs"), [2]), "/gates/4/coeffs", "only allowed for add"),
    (edit(("gates", 4, "value"), 2), "/gates/4/value", "only allowed for const"),
    (edit(("gates", 4, "p"), 2), "/gates/4/p", "only allowed for pow"),
    # args
    (edit(("gates", 4, "args"), 4), "/gates/4/args", "must be a list of vertex numbers"),
    (edit(("gates", 4, "args"), {"0": 4}), "/gates/4/args", "must be a list of vertex numbers"),
    (edit(("gates", 4, "args", 0), True), "/gates/4/args/0", "must be a vertex number"),
    (edit(("gates", 4, "args", 0), 4.0), "/gates/4/args/0", "must be a vertex number"),
    (edit(("gates", 4, "args", 0), "4"), "/gates/4/args/0", "must be a vertex number"),
    (edit(("gates", 4, "args", 0), None), "/gates/4/args/0", "must be a vertex number"),
    (edit(("gates", 4, "args", 0), -1), "/gates/4/args/0", "vertex numbers start at 0"),
    (
        edit(("gates", 4, "args", 0), 7),
        "/gates/4/args/0",
        "refers to vertex 7, which is not before gate 4 (vertex 7)",
    ),
    (
        edit(("gates", 4, "args", 0), 9),
        "/gates/4/args/0",
        "refers to vertex 9, which is not before gate 4 (vertex 7)",
    ),
    (edit(("gates", 4, "args", 0), 2**64), "/gates/4/args/0", "very large integer"),
    (edit(("gates", 1, "args", 3), 10**30), "/gates/1/args/3", "very large integer"),
    # arity
    (edit(("gates", 4, "args"), [4, 5]), "/gates/4/args", "square takes 1 argument(s), got 2"),
    (edit(("gates", 4, "args"), []), "/gates/4/args", "square takes 1 argument(s), got 0"),
    (edit(("gates", 7, "op"), "mul"), "/gates/7/args", None),  # valid: mul of 3 args
    (
        edit(("gates", 4), {"op": "mul", "args": [4]}),
        "/gates/4/args",
        "mul takes at least 2 argument(s), got 1",
    ),
    (edit(("gates", 0, "args"), [0]), "/gates/0/args", "const takes 0 argument(s), got 1"),
    (edit(("gates", 2, "args"), delete=True), "/gates/2", "missing 'args'"),
    # coeffs
    (edit(("gates", 1, "coeffs"), [1, 2]), "/gates/1/coeffs", "has 2 entries but args has 4"),
    (edit(("gates", 1, "coeffs"), 1), "/gates/1/coeffs", "must be a list of numbers"),
    (edit(("gates", 1, "coeffs", 2), "x"), "/gates/1/coeffs/2", "must be a number"),
    (edit(("gates", 1, "coeffs", 2), "nan"), "/gates/1/coeffs/2", "must be a number"),
    (edit(("gates", 1, "coeffs", 2), False), "/gates/1/coeffs/2", "must be a number"),
    (edit(("gates", 1, "coeffs", 2), None), "/gates/1/coeffs/2", "must be a number"),
    (edit(("gates", 1, "coeffs", 2), [1]), "/gates/1/coeffs/2", "must be a number"),
    (edit(("gates", 1, "coeffs", 2), 10**400), "/gates/1/coeffs/2", "too large for a float64"),
    # value, p, name
    (edit(("gates", 0, "value"), delete=True), "/gates/0", "missing 'value'"),
    (edit(("gates", 0, "value"), True), "/gates/0/value", "must be a number"),
    (edit(("gates", 0, "value"), "1"), "/gates/0/value", "must be a number"),
    (edit(("gates", 4), {"op": "pow", "args": [4]}), "/gates/4", "missing 'p'"),
    (edit(("gates", 4), {"op": "pow", "args": [4], "p": "two"}), "/gates/4/p", "must be a number"),
    (edit(("gates", 7, "name"), 7), "/gates/7/name", "must be a string"),
    (edit(("gates", 7, "name"), math.nan), "/gates/7/name", "must be a string"),
    (edit(("gates", 7, "name"), "\ud800"), "/gates/7/name", "not valid Unicode"),
    # outputs, output_names
    (edit(("outputs",), 10), "/outputs", "must be a list"),
    (edit(("outputs",), []), "/outputs", "at least one vertex"),
    (edit(("outputs", 0), 11), "/outputs/0", "refers to vertex 11, but the circuit has only 11"),
    (edit(("outputs", 0), -2), "/outputs/0", "vertex numbers start at 0"),
    (edit(("outputs", 0), True), "/outputs/0", "must be a vertex number"),
    (edit(("outputs", 0), 10.0), "/outputs/0", "must be a vertex number"),
    (edit(("output_names",), "f"), "/output_names", "must be a list"),
    (edit(("output_names",), ["f", "g"]), "/output_names", "has 2 names but outputs has 1"),
    (edit(("output_names", 0), None), "/output_names/0", "must be an output name"),
]


@pytest.mark.parametrize("make, path, fragment", CASES)
def test_each_rule_is_reported_at_its_place(make, path, fragment):
    doc = make()
    if fragment is None:  # a control: the edit keeps the document valid
        codec.from_document(doc)
        return
    errors = errors_of(doc)
    assert errors[0][0] == path, errors
    assert fragment in errors[0][1], errors


def test_duplicate_output_names_and_two_outputs():
    doc = eq1()
    doc["outputs"] = [10, 9]
    doc["output_names"] = ["f", "f"]
    assert errors_of(doc) == [("/output_names/1", "duplicate output name 'f' (also output 0)")]
    doc["output_names"] = ["f", "g"]
    c = codec.from_document(doc)
    assert c.output_names == ("f", "g") and c.outputs.tolist() == [10, 9]


def test_default_output_names():
    doc = eq1()
    del doc["output_names"]
    doc["outputs"] = [10, 0, 3]
    assert codec.from_document(doc).output_names == ("y0", "y1", "y2")


def test_base_path_prefixes_every_pointer():
    doc = eq1()
    doc["gates"][4]["args"] = [15]
    assert errors_of(doc, "/circuit") == [
        ("/circuit/gates/4/args/0", "refers to vertex 15, which is not before gate 4 (vertex 7)")
    ]


def test_errors_are_collected_in_document_order():
    doc = eq1()
    doc["inputs"][1] = "x"
    doc["gates"][2]["args"][0] = 99
    doc["gates"][5]["op"] = "tangent"
    doc["gates"][6]["colour"] = "red"
    doc["outputs"] = [11]
    assert [p for p, _ in errors_of(doc)] == [
        "/inputs/1",
        "/gates/2/args/0",
        "/gates/5/op",
        "/gates/6/colour",
        "/outputs/0",
    ]


def test_error_count_is_capped():
    doc = {"inputs": ["x"], "gates": [{"op": "sin", "args": [900]}] * 500, "outputs": [0]}
    errors = errors_of(doc)
    assert len(errors) == MAX_ERRORS
    assert errors[0] == (
        "/gates/0/args/0",
        "refers to vertex 900, which is not before gate 0 (vertex 1)",
    )


def test_zero_inputs_and_zero_gates_are_fine():
    c = codec.from_document({"inputs": [], "gates": [{"op": "const", "value": 2}], "outputs": [0]})
    assert c.n_inputs == 0 and c.param.tolist() == [2.0]
    c = codec.from_document({"inputs": ["x"], "gates": [], "outputs": [0, 0]})
    assert c.n_gates == 0 and c.outputs.tolist() == [0, 0]


def test_input_names_accept_the_documented_alphabet():
    names = ["x", "_", "W1[0][3]", "a.b_c", "Z" * 1024]
    doc = {"inputs": names, "gates": [], "outputs": [0]}
    assert codec.from_document(doc).inputs == tuple(names)


def test_numbers_may_be_ints_floats_or_nonfinite_strings():
    doc = {
        "inputs": ["x"],
        "gates": [
            {"op": "const", "value": "NaN"},
            {"op": "const", "value": "-Infinity"},
            {"op": "pow", "args": [0], "p": 2**70},
            {"op": "add", "args": [0, 1, 2], "coeffs": ["Infinity", -0.0, 3]},
        ],
        "outputs": [4],
    }
    c = codec.from_document(doc)
    assert math.isnan(c.param[1]) and c.param[2] == -math.inf and c.param[3] == 2.0**70
    cs = c.coeffs[c.arg_offsets[4] : c.arg_offsets[5]].tolist()
    assert cs == [math.inf, 0.0, 3.0] and math.copysign(1, cs[1]) == -1


def test_const_may_carry_empty_args():
    c = codec.from_document(
        {"inputs": [], "gates": [{"op": "const", "args": [], "value": 1}], "outputs": [0]}
    )
    assert c.n_wires == 0


# -- hostile input -----------------------------------------------------------------------
def nested(depth: int):
    x: list = []
    for _ in range(depth):
        x = [x]
    return x


@pytest.mark.parametrize(
    "junk",
    [
        None,
        True,
        0,
        2**80,
        -(2**80),
        math.nan,
        "gates",
        b"\x00",
        [],
        {},
        nested(100_000),
        {"op": nested(100_000)},
        [[None] * 5],
        {"op": "add", "args": nested(50_000)},
    ],
)
def test_junk_anywhere_is_a_circuit_error(junk):
    for path in [
        ("inputs",),
        ("gates",),
        ("gates", 3),
        ("gates", 3, "args"),
        ("gates", 3, "args", 0),
        ("gates", 0, "value"),
        ("gates", 1, "coeffs"),
        ("gates", 1, "coeffs", 0),
        ("outputs",),
        ("outputs", 0),
        ("output_names",),
        ("output_names", 0),
        ("gates", 7, "name"),
        ("format",),
    ]:
        doc = edit(path, junk)()
        try:
            codec.from_document(doc)
        except CircuitError as e:
            assert e.errors
    with pytest.raises(CircuitError):
        codec.from_document(junk)


def test_deep_json_and_msgpack_are_errors():
    with pytest.raises(CircuitError):
        codec.from_json(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(CircuitError):
        codec.from_msgpack(b"\x91" * 100_000 + b"\xc0")


def test_huge_lists_of_junk_fail_fast():
    t0 = time.perf_counter()
    doc = {"inputs": ["x"], "gates": [None] * 1_000_000, "outputs": [0]}
    assert len(errors_of(doc)) == MAX_ERRORS
    doc = {"inputs": ["x"], "gates": [{"op": "sin", "args": [0]}] * 1_000_000 + [7], "outputs": [0]}
    assert errors_of(doc) == [("/gates/1000000", "a gate must be an object, got the integer 7")]
    assert time.perf_counter() - t0 < 30  # generous: only guards against a hang


# -- a property: mutations of valid documents --------------------------------------------
JUNK = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    1.5,
    2.0,
    math.nan,
    math.inf,
    2**63,
    2**64,
    -(2**63) - 1,
    10**30,
    "",
    "x",
    "NaN",
    "Infinity",
    "add",
    "const",
    "input",
    [],
    [0],
    [None],
    {},
    {"op": "sin"},
    {"op": "add", "args": [0]},
    nested(30),
    [1.5, True],
    {"x": [[{}]]},
]
KEYS = [
    "op",
    "args",
    "coeffs",
    "value",
    "p",
    "name",
    "format",
    "inputs",
    "gates",
    "outputs",
    "output_names",
    "junk",
    "",
]


def places(doc, where=()):
    yield where, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from places(v, where + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from places(v, where + (i,))


def resolve(doc, pointer: str):
    """The value a JSON pointer names (KeyError/IndexError if it names nothing)."""
    node = doc
    for token in pointer.split("/")[1:]:
        token = token.replace("~1", "/").replace("~0", "~")
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


@st.composite
def mutated_documents(draw):
    doc = eq1()
    if draw(st.booleans()):  # a bigger valid document too
        doc = codec.to_document(codec.from_document(doc))
        for i in range(draw(st.integers(0, 30))):
            doc["gates"].append(
                {
                    "op": draw(st.sampled_from(["sin", "neg", "square"])),
                    "args": [draw(st.integers(0, 10 + i))],
                }
            )
    for _ in range(draw(st.integers(1, 4))):
        spots = list(places(doc))
        where, node = spots[draw(st.integers(0, len(spots) - 1))]
        parent = resolve(doc, "".join(f"/{k}" for k in where[:-1])) if where else None
        kind = draw(st.sampled_from(["replace", "delete", "add_key", "append", "shift", "swap"]))
        junk = draw(st.sampled_from(JUNK))
        if kind == "replace" and where:
            parent[where[-1]] = copy.deepcopy(junk)
        elif kind == "delete" and where:
            del parent[where[-1]]
        elif kind == "add_key" and isinstance(node, dict):
            node[draw(st.sampled_from(KEYS))] = copy.deepcopy(junk)
        elif kind == "append" and isinstance(node, list):
            node.append(copy.deepcopy(junk))
        elif kind == "shift" and where and type(node) is int:
            parent[where[-1]] = node + draw(st.integers(-12, 12))
        elif kind == "swap" and isinstance(node, list) and len(node) > 1:
            i, j = draw(st.integers(0, len(node) - 1)), draw(st.integers(0, len(node) - 1))
            node[i], node[j] = node[j], node[i]
    return doc


def slow_gate_errors(doc) -> list[tuple[str, str]]:
    """What diagnose_gate says about every gate, without the fast path's triage."""
    errs = validate.Errors("")
    try:
        for i, g in enumerate(doc["gates"]):
            validate.diagnose_gate(i, g, len(doc["inputs"]), errs)
    except CircuitError:
        pass
    return [(e.path, e.message) for e in errs.items]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_documents())
def test_mutated_documents_give_a_circuit_or_located_errors(doc):
    try:
        c = codec.from_document(doc)
    except CircuitError as e:
        assert 0 < len(e.errors) <= MAX_ERRORS
        for item in e.errors:
            resolve(doc, item.path)  # every pointer names a place in the document
        gate_scan = (
            isinstance(doc, dict)
            and isinstance(doc.get("inputs"), list)
            and isinstance(doc.get("gates"), list)
        )
        if gate_scan:  # the fast path flagged exactly the gates the slow checker objects to
            fast = [(p, m) for p, m in e.errors if p.startswith("/gates/")]
            slow = slow_gate_errors(doc)
            if len(e.errors) < MAX_ERRORS:
                assert fast == slow
            else:
                assert fast == slow[: len(fast)]
    else:
        assert slow_gate_errors(doc) == []
        again = codec.from_json(codec.to_json(c))
        assert codec.content_id(again) == codec.content_id(c)
        for v, g in enumerate(doc["gates"]):  # what was built is what the document says
            v += len(doc["inputs"])
            assert BY_NAME[g["op"]].code == c.op[v]
            assert c.args_of(v).tolist() == g.get("args", [])


@settings(max_examples=200, deadline=None)
@given(mutated_documents())
def test_mutated_documents_through_json_and_msgpack(doc):
    """The same documents as bytes: decoding never raises anything but CircuitError."""
    for encode, load in [
        (lambda d: orjson.dumps(codec.jsonable(d)), codec.from_json),
        (msgpack.packb, codec.from_msgpack),
    ]:
        try:
            data = encode(doc)
        except (OverflowError, TypeError, orjson.JSONEncodeError):
            continue  # integers beyond 64 bits: the encoder cannot write this document
        try:
            load(data)
        except CircuitError:
            pass


def test_slow_and_fast_paths_agree_on_a_large_valid_document():
    doc = eq1()
    rng = np.random.default_rng(1)
    for i in range(2000):
        doc["gates"].append({"op": "mul", "args": rng.integers(0, 11 + i, 3).tolist()})
    c = codec.from_document(doc)
    assert slow_gate_errors(doc) == []
    assert c.n_gates == 2008 and c.n_wires == 17 + 6000
