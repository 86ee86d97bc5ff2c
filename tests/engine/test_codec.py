"""Codecs: round trips through every form and encoding, content identity, the packed form's
validation, non-finite numbers, files."""

from __future__ import annotations

import hashlib
import io
import math
import random
import re
import sys

import msgpack
import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from spec_examples import EQ1_JSON

from circuitgrad.engine.core import ops
from circuitgrad.engine.core.circuit import INDEX, Circuit
from circuitgrad.engine.errors import CircuitError
from circuitgrad.engine.formats import codec

CODE = {op.name: op.code for op in ops.OPS}


def canonical_bits(x: np.ndarray) -> list[int]:
    """Float bits with every NaN made one NaN (as the formats promise), -0.0 kept."""
    return np.where(np.isnan(x), np.nan, x).view(np.uint64).tolist()


def assert_same(a: Circuit, b: Circuit) -> None:
    assert a.inputs == b.inputs
    assert a.op.tolist() == b.op.tolist()
    assert a.arg_offsets.tolist() == b.arg_offsets.tolist()
    assert a.args.tolist() == b.args.tolist()
    assert canonical_bits(a.coeffs) == canonical_bits(b.coeffs)
    assert canonical_bits(a.param) == canonical_bits(b.param)
    assert a.outputs.tolist() == b.outputs.tolist()
    assert a.output_names == b.output_names
    assert dict(a.labels) == dict(b.labels)


def every_form(c: Circuit) -> list[Circuit]:
    return [
        codec.from_json(codec.to_json(c)),
        codec.from_json(codec.to_json(c).decode()),
        codec.from_msgpack(codec.to_msgpack(c, packed=False)),
        codec.from_msgpack(codec.to_msgpack(c, packed=True)),
        codec.from_document(codec.to_document(c)),
        codec.from_document(codec.to_packed(c)),
    ]


# -- equation (1) ------------------------------------------------------------------------
def test_equation_1_document_loads_as_the_spec_says():
    c = codec.from_json(EQ1_JSON)
    assert c.inputs == ("x", "y", "z")
    assert c.n_gates == 8 and c.n_wires == 17 and c.n_vertices == 11
    names = ["input"] * 3 + ["const", "add", "add", "add", "square", "square", "square", "add"]
    assert c.op.tolist() == [CODE[k] for k in names]
    assert c.arity().tolist() == [0, 0, 0, 0, 4, 3, 4, 1, 1, 1, 3]
    assert c.args.tolist() == [0, 1, 2, 3, 0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert c.coeffs.tolist() == [1, -3, -3, 5, 1, -2, -2, 1, 1, -5, -3] + [1] * 6
    assert c.param.tolist() == [0, 0, 0, 1] + [0] * 7
    assert c.outputs.tolist() == [10] and c.output_names == ("f",)
    assert dict(c.labels) == {10: "f"}


def test_equation_1_written_back():
    c = codec.from_json(EQ1_JSON)
    doc = codec.to_document(c)
    spec = orjson.loads(EQ1_JSON)
    assert doc == spec  # ints and floats compare equal; key order aside, it is the spec's text
    assert list(doc) == ["format", "inputs", "gates", "outputs", "output_names"]
    assert "args" not in doc["gates"][0] and "coeffs" not in doc["gates"][4]
    assert list(doc["gates"][7]) == ["op", "args", "name"]


def test_content_id_follows_the_documented_layout():
    """An independent implementation of docs/circuit-format.md's canonical layout."""
    c = codec.from_json(EQ1_JSON)

    def u64(*xs):
        return b"".join(x.to_bytes(8, "little") for x in xs)

    def strings(xs):
        blobs = [x.encode() for x in xs]
        return u64(*[len(b) for b in blobs]) + b"".join(blobs)

    def tag(name):
        return hashlib.blake2b(name.encode(), digest_size=4).digest()

    def f64(xs):
        return np.array(xs, dtype="<f8").tobytes()

    def i64(xs):
        return np.array(xs, dtype="<i8").tobytes()

    gates = ["const", "add", "add", "add", "square", "square", "square", "add"]
    data = (
        b"circuitgrad.canonical/1\0"
        + u64(3, 8, 17, 1, 1)
        + strings("xyz")
        + b"".join(tag(g) for g in gates)
        + i64([0, 4, 3, 4, 1, 1, 1, 3])
        + i64(c.args.tolist())
        + f64(c.coeffs.tolist())
        + f64([1, 0, 0, 0, 0, 0, 0, 0])
        + i64([10])
        + strings(["f"])
        + i64([10])
        + strings(["f"])
    )
    expected = hashlib.blake2b(data, digest_size=16, person=b"circuitgrad.id1").hexdigest()
    assert codec.content_id(c) == "c_" + expected
    assert re.fullmatch(r"c_[0-9a-f]{32}", codec.content_id(c))


# -- round trips -------------------------------------------------------------------------
FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, math.nan, math.inf, -math.inf]),
)
NAMES = st.text(max_size=6)


@st.composite
def circuits(draw, max_gates=12):
    n = draw(st.integers(0, 3))
    op, rows, coeffs, param = [0] * n, [[] for _ in range(n)], [[] for _ in range(n)], [0.0] * n
    labels = {}
    for _ in range(draw(st.integers(0 if n else 1, max_gates))):
        v = len(op)
        spec = draw(st.sampled_from(ops.GATE_OPS))
        if v == 0:
            spec = ops.CONST
        hi = spec.max_args if spec.max_args is not None else spec.min_args + 3
        k = draw(st.integers(spec.min_args, hi))
        rows.append([draw(st.integers(0, v - 1)) for _ in range(k)])
        coeffs.append([draw(FLOATS) if spec.coeffs else 1.0 for _ in range(k)])
        param.append(draw(FLOATS) if spec.param else 0.0)
        op.append(spec.code)
        if draw(st.booleans()):
            labels[v] = draw(NAMES)
    V = len(op)
    outputs = draw(st.lists(st.integers(0, V - 1), min_size=1, max_size=3))
    names = draw(
        st.one_of(
            st.none(), st.lists(NAMES, min_size=len(outputs), max_size=len(outputs), unique=True)
        )
    )
    offsets = np.zeros(V + 1, INDEX)
    np.cumsum([len(r) for r in rows], out=offsets[1:])
    return Circuit.from_arrays(
        [f"x{i}" for i in range(n)],
        op,
        offsets,
        [a for r in rows for a in r],
        [x for r in coeffs for x in r],
        param,
        outputs,
        names,
        labels,
    )


@settings(max_examples=300, deadline=None)
@given(circuits())
def test_every_form_round_trips_to_the_same_circuit_and_id(c):
    cid = codec.content_id(c)
    for back in every_form(c):
        assert_same(back, c)
        assert codec.content_id(back) == cid


@settings(max_examples=100, deadline=None)
@given(circuits(), st.randoms(use_true_random=False))
def test_key_order_does_not_matter(c, rnd):
    def shuffled(x):
        if isinstance(x, dict):
            items = list(x.items())
            rnd.shuffle(items)
            return {k: shuffled(v) for k, v in items}
        if isinstance(x, list):
            return [shuffled(v) for v in x]
        return x

    for doc in (codec.to_document(c), codec.to_packed(c)):
        back = codec.from_msgpack(msgpack.packb(shuffled(doc)))
        assert codec.content_id(back) == codec.content_id(c)
    back = codec.from_json(orjson.dumps(codec.jsonable(shuffled(codec.to_document(c)))))
    assert codec.content_id(back) == codec.content_id(c)


def random_big(G: int, seed: int = 0) -> Circuit:
    """A random DAG straight from arrays: mixed unary and binary ops, some consts and pow."""
    rng = np.random.default_rng(seed)
    n = 5
    V = n + G
    names = ["sin", "exp", "add", "mul", "div", "const", "pow", "add"]
    op = np.array([CODE[k] for k in names], np.uint8)[rng.integers(0, len(names), G)]
    arity = np.where(np.isin(op, [CODE["add"], CODE["mul"], CODE["div"]]), 2, 1)
    arity[op == CODE["const"]] = 0
    offsets = np.zeros(V + 1, INDEX)
    np.cumsum(np.r_[np.zeros(n, INDEX), arity], out=offsets[1:])
    owner = np.repeat(np.arange(n, V), arity)
    args = (rng.random(len(owner)) * owner).astype(INDEX)
    coeffs = np.where(np.repeat(op == CODE["add"], arity), rng.normal(size=len(owner)), 1.0)
    param = np.r_[
        np.zeros(n), np.where(np.isin(op, [CODE["const"], CODE["pow"]]), rng.normal(size=G), 0.0)
    ]
    return Circuit.from_arrays(
        [f"x{i}" for i in range(n)],
        np.r_[np.zeros(n, np.uint8), op],
        offsets,
        args,
        coeffs,
        param,
        [V - 1, V - 2],
        ["f", "g"],
        {n + 7: "seven", V - 1: "last"},
    )


def test_a_larger_random_circuit_round_trips():
    c = random_big(30_000)
    for back in every_form(c):
        assert_same(back, c)
        assert codec.content_id(back) == codec.content_id(c)


def test_to_msgpack_packs_large_circuits_by_default():
    small, large = random_big(100), random_big(10_001)
    assert msgpack.unpackb(codec.to_msgpack(small))["format"] == "circuitgrad.circuit/1"
    assert msgpack.unpackb(codec.to_msgpack(large))["format"] == "circuitgrad.packed/1"


# -- identity ----------------------------------------------------------------------------
def eq1_with(**changes) -> Circuit:
    c = codec.from_json(EQ1_JSON)
    fields = dict(
        inputs=c.inputs,
        op=c.op,
        arg_offsets=c.arg_offsets,
        args=c.args,
        coeffs=c.coeffs,
        param=c.param,
        outputs=c.outputs,
        output_names=c.output_names,
        labels=c.labels,
    )
    fields.update(changes)
    return Circuit.from_arrays(**fields)


def test_all_ones_coeffs_are_the_same_as_absent():
    doc = orjson.loads(EQ1_JSON)
    doc["gates"][7]["coeffs"] = [1, 1.0, 1]
    assert codec.content_id(codec.from_document(doc)) == codec.content_id(codec.from_json(EQ1_JSON))


def test_what_changes_the_id_and_what_does_not():
    base = codec.content_id(eq1_with())
    param = eq1_with().param.copy()
    coeffs = eq1_with().coeffs.copy()

    def with_param(i, x):
        p = param.copy()
        p[i] = x
        return codec.content_id(eq1_with(param=p))

    def with_coeff(i, x):
        w = coeffs.copy()
        w[i] = x
        return codec.content_id(eq1_with(coeffs=w))

    assert codec.content_id(eq1_with(labels={})) != base
    assert codec.content_id(eq1_with(labels={10: "g"})) != base
    assert codec.content_id(eq1_with(output_names=["g"])) != base
    assert codec.content_id(eq1_with(inputs=["x", "y", "w"])) != base
    assert with_param(3, 2.0) != base
    assert with_param(3, 0.0) != with_param(3, -0.0)  # 1/x tells them apart
    payload = np.array([0x7FF8000000000001, 0xFFF8000000000000], dtype=np.uint64).view(float)
    assert with_param(3, payload[0]) == with_param(3, payload[1]) == with_param(3, math.nan)
    assert with_coeff(0, 2.0) != base
    # what a document cannot say does not count: parameters of a square, coefficients of a
    # square's wire, labels of inputs
    assert with_param(7, 5.0) == base
    assert with_coeff(11, 5.0) == base
    assert codec.content_id(eq1_with(labels={10: "f", 0: "input x"})) == base


# -- non-finite numbers ------------------------------------------------------------------
def test_nonfinite_numbers_travel_as_strings_in_json():
    doc = {
        "inputs": ["x"],
        "gates": [
            {"op": "const", "value": "NaN"},
            {"op": "pow", "args": [0], "p": "-Infinity"},
            {"op": "add", "args": [0, 1, 2], "coeffs": ["Infinity", -0.0, 1]},
        ],
        "outputs": [3],
    }
    c = codec.from_document(doc)
    text = codec.to_json(c)
    back = orjson.loads(text)
    assert back["gates"][0] == {"op": "const", "value": "NaN"}
    assert back["gates"][1]["p"] == "-Infinity"
    assert back["gates"][2]["coeffs"] == ["Infinity", -0.0, 1.0]
    assert_same(codec.from_json(text), c)
    # the row document keeps floats; msgpack carries them natively
    assert math.isnan(codec.to_document(c)["gates"][0]["value"])
    assert_same(codec.from_msgpack(codec.to_msgpack(c, packed=False)), c)


def test_jsonable_and_back():
    x = {
        "v": [1.0, math.nan, (math.inf, -math.inf)],
        "a": np.array([[1.0, np.nan]]),
        "s": np.float64(-np.inf),
        "n": 3,
        "t": "x",
    }
    j = codec.jsonable(x)
    assert j == {
        "v": [1.0, "NaN", ["Infinity", "-Infinity"]],
        "a": [[1.0, "NaN"]],
        "s": "-Infinity",
        "n": 3,
        "t": "x",
    }
    orjson.dumps(j)  # is JSON now
    back = codec.from_jsonable(j)
    assert math.isnan(back["v"][1]) and back["v"][2] == [math.inf, -math.inf]
    assert back["s"] == -math.inf and back["t"] == "x"
    assert codec.jsonable(np.arange(3.0)) == [0.0, 1.0, 2.0]


# -- malformed bodies --------------------------------------------------------------------
@pytest.mark.parametrize("data", [b"", b"{", b'{"inputs": [1,]}', b"[NaN]", b"\xff", "\ud800"])
def test_malformed_json(data):
    with pytest.raises(CircuitError) as info:
        codec.from_json(data)
    (item,) = info.value.errors
    assert item.path == "" and item.message.startswith("malformed JSON")
    if data == b"{":
        assert "line 1 column 2" in item.message


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x81",
        b"\x81\xa1a",
        msgpack.packb({"a": 1}) + b"\x00",
        b"\xdd\xff\xff\xff\xff",
        b"\xc6\xff\xff\xff\xff",
        msgpack.packb({1: 2}),
        msgpack.packb({(1,): 2}),
        b"\x81\xa2\xff\xfe\x01",
        b"\x91" * 5000,
    ],
)
def test_malformed_msgpack(data):
    with pytest.raises(CircuitError) as info:
        codec.from_msgpack(data)
    (item,) = info.value.errors
    assert item.path == "" and item.message.startswith("malformed msgpack")


def test_msgpack_values_that_are_not_circuits():
    for doc, path in [
        ([1, 2], ""),
        ({b"inputs": []}, ""),
        ({"inputs": [], "gates": [], "outputs": [msgpack.ExtType(1, b"")]}, "/outputs/0"),
    ]:
        with pytest.raises(CircuitError) as info:
            codec.from_msgpack(msgpack.packb(doc))
        assert info.value.errors[0].path == path


# -- packed form -------------------------------------------------------------------------
def test_packed_layout_of_equation_1():
    doc = codec.to_packed(codec.from_json(EQ1_JSON))
    assert doc["format"] == "circuitgrad.packed/1" and doc["index"] == "int32"
    assert doc["ops"] == [op.name for op in ops.OPS]
    assert np.frombuffer(doc["op"], np.uint8).tolist() == [
        CODE[k] for k in ["const", "add", "add", "add", "square", "square", "square", "add"]
    ]
    assert np.frombuffer(doc["arity"], "<i4").tolist() == [0, 4, 3, 4, 1, 1, 1, 3]
    assert len(doc["args"]) == 17 * 4 and len(doc["coeffs"]) == 17 * 8
    assert np.frombuffer(doc["param"], "<f8").tolist() == [1, 0, 0, 0, 0, 0, 0, 0]
    assert doc["labels"] == {"10": "f"}
    assert doc["outputs"] == [10] and doc["output_names"] == ["f"]


def test_packed_without_optional_arrays_and_with_int64():
    c = codec.from_json(EQ1_JSON)
    doc = codec.to_packed(c)
    doc["index"] = "int64"
    for key in ("arity", "args"):
        doc[key] = np.frombuffer(doc[key], "<i4").astype("<i8").tobytes()
    assert codec.content_id(codec.from_document(doc)) == codec.content_id(c)
    bare = {
        "format": "circuitgrad.packed/1",
        "inputs": ["x"],
        "ops": ["sin"],
        "index": "int32",
        "op": b"\x00",
        "arity": np.int32(1).tobytes(),
        "args": np.int32(0).tobytes(),
        "outputs": [1],
    }
    s = codec.from_document(bare)
    assert s.op.tolist() == [0, CODE["sin"]] and s.coeffs.tolist() == [1.0]
    assert s.output_names == ("y0",) and s.param.tolist() == [0.0, 0.0]


def test_packed_op_table_travels_with_the_document():
    c = codec.from_json(EQ1_JSON)
    doc = codec.to_packed(c)
    names = list(reversed(doc["ops"]))
    position = {name: j for j, name in enumerate(names)}
    doc["ops"] = names
    doc["op"] = bytes(position[ops.BY_CODE[k].name] for k in doc["op"])
    assert_same(codec.from_document(doc), c)


def packed_eq1(**changes):
    doc = codec.to_packed(codec.from_json(EQ1_JSON))
    doc.update(changes)
    return doc


def patched(key, dtype, index, value):
    doc = packed_eq1()
    a = np.frombuffer(doc[key], dtype).copy()
    a[index] = value
    doc[key] = a.tobytes()
    return doc


PACKED_CASES = [
    (lambda: {k: v for k, v in packed_eq1().items() if k != "ops"}, "", "missing 'ops'"),
    (lambda: packed_eq1(extra=1), "/extra", "unknown key 'extra'"),
    (lambda: packed_eq1(index="int16"), "/index", "must be 'int32' or 'int64'"),
    (lambda: packed_eq1(ops="add"), "/ops", "must be a list"),
    (lambda: packed_eq1(ops=["input", "const", "plus"]), "/ops/2", "unknown op 'plus'"),
    (lambda: packed_eq1(op=[1, 2]), "/op", "must be binary data"),
    (lambda: packed_eq1(args="0,1"), "/args", "must be binary data"),
    (lambda: packed_eq1(arity=b"\x00" * 7), "/arity", "has 7 bytes; expected 32"),
    (lambda: packed_eq1(args=b"\x00" * 5), "/args", "not a whole number of int32"),
    (lambda: packed_eq1(coeffs=b"\x00" * 8), "/coeffs", "has 8 bytes; expected 136"),
    (lambda: packed_eq1(param=b""), "/param", "has 0 bytes; expected 64"),
    (lambda: patched("op", np.uint8, 2, 250), "/op", "gate 2 has op code 250, but 'ops' has only"),
    (lambda: patched("op", np.uint8, 2, 0), "/op", "which is 'input', not a gate op"),
    (
        lambda: patched("arity", "<i4", 4, 2),
        "/arity",
        "gate 4 (square) has 2 arguments; square takes 1",
    ),
    (lambda: patched("arity", "<i4", 1, -1), "/arity", "gate 1 (add) has -1 arguments"),
    (lambda: patched("arity", "<i4", 1, 2**31 - 1), "/arity", "gate 1 (add) has 2147483647"),
    (lambda: patched("arity", "<i4", 1, 3), "/args", "has 17 wires but the arities add up to 16"),
    (
        lambda: patched("args", "<i4", 11, 7),
        "/args",
        "wire 11 (argument 0 of gate 4) refers to vertex 7, which is not before gate 4 (vertex 7)",
    ),
    (lambda: patched("args", "<i4", 0, -3), "/args", "refers to vertex -3"),
    (
        lambda: patched("coeffs", "<f8", 11, 2.0),
        "/coeffs",
        "wire 11 (argument 0 of gate 4, a square) has coefficient 2.0",
    ),
    (lambda: patched("coeffs", "<f8", 12, math.nan), "/coeffs", "has coefficient nan"),
    (lambda: patched("param", "<f8", 4, 0.5), "/param", "gate 4 (square) has parameter 0.5"),
    (lambda: packed_eq1(outputs=[11]), "/outputs/0", "only 11 vertices"),
    (lambda: packed_eq1(outputs=b"\x0a"), "/outputs", "must be a list"),
    (lambda: packed_eq1(output_names=["f", "g"]), "/output_names", "has 2 names"),
    (lambda: packed_eq1(labels={"010": "f"}), "/labels/010", "written in decimal"),
    (lambda: packed_eq1(labels={"ten": "f"}), "/labels/ten", "written in decimal"),
    (lambda: packed_eq1(labels={"0": "x"}), "/labels/0", "is not a gate"),
    (lambda: packed_eq1(labels={"11": "x"}), "/labels/11", "is not a gate"),
    (lambda: packed_eq1(labels={"10": 10}), "/labels/10", "must be a name"),
    (lambda: packed_eq1(labels=[["10", "f"]]), "/labels", "must be a map"),
    (lambda: packed_eq1(inputs=["x", "x", "z"]), "/inputs/1", "duplicate input name"),
]


@pytest.mark.parametrize("make, path, fragment", PACKED_CASES)
def test_packed_rules_are_reported_at_their_place(make, path, fragment):
    doc = make()
    for load in (codec.from_document, lambda d: codec.from_msgpack(msgpack.packb(d))):
        with pytest.raises(CircuitError) as info:
            load(doc)
        first = info.value.errors[0]
        assert (first.path, fragment in first.message) == (path, True), info.value.errors


def test_packed_errors_are_located_and_capped():
    doc = packed_eq1(args=np.full(17, 99, "<i4").tobytes())
    with pytest.raises(CircuitError) as info:
        codec.from_document(doc, "/circuit")
    assert [e.path for e in info.value.errors] == ["/circuit/args"] * 17
    big = random_big(1000)
    doc = codec.to_packed(big)
    doc["args"] = np.full(len(doc["args"]) // 4, 10**6, "<i4").tobytes()
    with pytest.raises(CircuitError) as info:
        codec.from_document(doc)
    assert len(info.value.errors) == 50


@settings(max_examples=300, deadline=None)
@given(circuits(max_gates=8), st.data())
def test_corrupted_packed_bytes_only_give_circuit_errors(c, data):
    doc = codec.to_packed(c)
    key = data.draw(st.sampled_from(["op", "arity", "args", "coeffs", "param"]))
    raw = bytearray(doc.get(key, b""))
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["flip", "cut", "grow"]))
        if kind == "flip" and raw:
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        elif kind == "cut" and raw:
            del raw[data.draw(st.integers(0, len(raw) - 1)) :]
        else:
            raw += bytes(data.draw(st.lists(st.integers(0, 255), max_size=9)))
    doc[key] = bytes(raw)
    try:
        back = codec.from_msgpack(msgpack.packb(doc))
    except CircuitError as e:
        assert e.errors and all(err.path.startswith("/") for err in e.errors)
    else:
        assert (back.args < np.repeat(np.arange(back.n_vertices), back.arity())).all()
        assert codec.content_id(codec.from_json(codec.to_json(back))) == codec.content_id(back)


# -- files -------------------------------------------------------------------------------
def test_load_and_dump_by_extension(tmp_path):
    c = random_big(500)
    for name, packed in [("c.json", None), ("c.msgpack", False), ("d.msgpack", True)]:
        codec.dump(c, tmp_path / name, packed=packed)
        assert_same(codec.load(tmp_path / name), c)
        assert_same(codec.load(str(tmp_path / name)), c)
    (tmp_path / "c.bin").write_bytes(codec.to_json(c))  # unknown extension: sniffed
    assert_same(codec.load(tmp_path / "c.bin"), c)
    with pytest.raises(ValueError, match="extension"):
        codec.dump(c, tmp_path / "c.txt")


def test_load_from_stdin_and_dump_to_stdout(monkeypatch, capsysbinary):
    c = codec.from_json(EQ1_JSON)
    for data in (EQ1_JSON, codec.to_msgpack(c)):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
        assert_same(codec.load("-"), c)
    codec.dump(c, "-")
    assert_same(codec.from_json(capsysbinary.readouterr().out), c)


def test_documents_from_python_may_use_any_key_order():
    doc = orjson.loads(EQ1_JSON)
    items = list(doc.items())
    random.Random(3).shuffle(items)
    gates = [dict(reversed(list(g.items()))) for g in doc["gates"]]
    shuffled = dict(items) | {"gates": gates}
    assert codec.content_id(codec.from_document(shuffled)) == codec.content_id(
        codec.from_json(EQ1_JSON)
    )
