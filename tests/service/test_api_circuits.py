"""Circuits through the Flask app (test client) on a real Redis: upload, fetch, evaluate."""

from __future__ import annotations

import math

import msgpack
import numpy as np
import pytest

from circuitgrad.engine.building.generate import equation1, random_dag
from circuitgrad.engine.evaluation.evaluate import evaluate_reference
from circuitgrad.engine.formats.codec import (
    content_id,
    from_json,
    from_msgpack,
    to_document,
    to_packed,
)

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


def f_eq1(x, y, z):
    return (x - 3 * y - 3 * z + 5) ** 2 + (x - 2 * y - 2 * z) ** 2 + (x + y - 5 * z - 3) ** 2


def mp(doc) -> bytes:
    return msgpack.packb(doc, use_bin_type=True)


def test_upload_expression_gives_the_lecture_measures(client):
    r = client.post("/v1/circuits", json={"expression": EQ1})
    assert r.status_code in (200, 201)
    body = r.get_json()
    assert r.headers["Location"] == f"/v1/circuits/{body['id']}"
    # Figure 1: size 7, depth 3 (the parser may order the sum differently, not its size)
    assert (body["size"], body["depth"], body["inputs"], body["outputs"]) == (
        7,
        3,
        list("xyz"),
        ["f"],
    )


def test_same_circuit_same_id_in_every_encoding(client):
    c = equation1()
    first = client.post("/v1/circuits", json=to_document(c))
    again = client.post("/v1/circuits", data=mp(to_document(c)), content_type="application/msgpack")
    packed = client.post("/v1/circuits", data=mp(to_packed(c)), content_type="application/msgpack")
    ids = {r.get_json()["id"] for r in (first, again, packed)}
    assert ids == {content_id(c)}
    assert again.status_code == packed.status_code == 200  # stored already
    assert (first.get_json()["size"], first.get_json()["wires"]) == (7, 17)


def test_fetch_is_immutable_with_etag_and_304(client):
    cid = client.post("/v1/circuits", json=to_document(equation1())).get_json()["id"]
    r = client.get(f"/v1/circuits/{cid}")
    assert r.status_code == 200 and r.mimetype == "application/json"
    assert r.headers["ETag"] == f'"{cid}"'
    assert "immutable" in r.headers["Cache-Control"]
    assert content_id(from_json(r.data)) == cid
    assert (
        client.get(f"/v1/circuits/{cid}", headers={"If-None-Match": f'"{cid}"'}).status_code == 304
    )


def test_fetch_msgpack_rows_or_packed(client):
    small = equation1()
    big = random_dag(12_000, n_inputs=4, seed=3)
    for c, fmt in ((small, "circuitgrad.circuit/1"), (big, "circuitgrad.packed/1")):
        cid = client.post(
            "/v1/circuits", data=mp(to_packed(c)), content_type="application/msgpack"
        ).get_json()["id"]
        r = client.get(f"/v1/circuits/{cid}", headers={"Accept": "application/msgpack"})
        assert r.mimetype == "application/msgpack"
        assert msgpack.unpackb(r.data).get("format") == fmt
        assert content_id(from_msgpack(r.data)) == cid
    r = client.get(f"/v1/circuits/{cid}?form=rows", headers={"Accept": "application/msgpack"})
    assert msgpack.unpackb(r.data)["format"] == "circuitgrad.circuit/1"


def test_evaluate_rows_and_columns(client):
    cid = client.post("/v1/circuits", json={"expression": EQ1}).get_json()["id"]
    pts = [(1.0, 2.0, 3.0), (0.5, -1.0, 2.0)]
    r = client.post(
        f"/v1/circuits/{cid}/evaluate",
        json={"points": [dict(zip("xyz", p, strict=True)) for p in pts]},
    )
    assert r.status_code == 200
    assert r.get_json() == {"outputs": ["f"], "values": [[f_eq1(*p)] for p in pts]}
    cols = {k: [p[i] for p in pts] for i, k in enumerate("xyz")}
    r = client.post(f"/v1/circuits/{cid}/evaluate", json={"points": cols})
    assert r.get_json()["values"] == [[f_eq1(*p)] for p in pts]


def test_evaluate_non_finite_in_and_out(client):
    cid = client.post("/v1/circuits", json={"expression": "log(x) + y"}).get_json()["id"]
    points = [{"x": 0, "y": 1}, {"x": -1, "y": 0}, {"x": 1, "y": "Infinity"}]
    r = client.post(f"/v1/circuits/{cid}/evaluate", json={"points": points})
    assert r.get_json()["values"] == [["-Infinity"], ["NaN"], ["Infinity"]]
    r = client.post(
        f"/v1/circuits/{cid}/evaluate",
        headers={"Accept": "application/msgpack"},
        data=mp({"points": {"x": np.array([0.0, 1.0]).tobytes(), "y": [1, math.nan]}}),
        content_type="application/msgpack",
    )
    values = msgpack.unpackb(r.data)["values"]
    assert values[0] == [-math.inf] and math.isnan(values[1][0])


def test_evaluate_matches_reference_on_a_random_circuit(client):
    c = random_dag(500, n_inputs=5, seed=7)
    cid = client.post(
        "/v1/circuits", data=mp(to_packed(c)), content_type="application/msgpack"
    ).get_json()["id"]
    X = np.random.default_rng(0).normal(size=(50, 5))
    r = client.post(
        f"/v1/circuits/{cid}/evaluate",
        json={"points": {f"x{i}": X[:, i].tolist() for i in range(5)}},
    )
    np.testing.assert_allclose(r.get_json()["values"], evaluate_reference(c, X), rtol=1e-12)


BAD_POINTS = [
    ({"points": [{"x": 1, "y": 2}]}, "/points/0/z", "missing"),
    (
        {"points": [{"x": 1, "y": 2, "z": 3}] * 3 + [{"x": 1, "y": 2, "z": 3, "w": 4}]},
        "/points/3/w",
        "unknown",
    ),
    ({"points": [{"x": 1, "y": "2", "z": 3}]}, "/points/0/y", "number"),
    ({"points": [{"x": 1, "y": True, "z": 3}]}, "/points/0/y", "number"),
    ({"points": [5]}, "/points/0", "object"),
    ({"points": {"x": [1], "y": [2]}}, "/points/z", "missing"),
    ({"points": {"x": [1], "y": [2], "z": [3, 4]}}, "/points/z", "values"),
    ({"points": {"x": [1], "y": [None], "z": [3]}}, "/points/y/0", "number"),
    ({"points": "x"}, "/points", "list"),
    ({}, "/points", "required"),
    ({"points": [], "extra": 1}, "/extra", "unknown"),
]


@pytest.mark.parametrize("body, path, word", BAD_POINTS)
def test_evaluate_invalid_points_name_the_place(client, body, path, word):
    cid = client.post("/v1/circuits", json={"expression": EQ1}).get_json()["id"]
    r = client.post(f"/v1/circuits/{cid}/evaluate", json=body)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    errors = r.get_json()["errors"]
    assert any(e["path"] == path and word in e["message"] for e in errors), errors


DOC = {"inputs": ["x", "y"], "gates": [{"op": "mul", "args": [0, 1]}], "outputs": [2]}
INVALID_DOCUMENTS = [
    # a forward reference (how a cycle shows up) and a self reference
    ({**DOC, "gates": [{"op": "sin", "args": [3]}, {"op": "sin", "args": [2]}]}, "/gates/0/args/0"),
    ({**DOC, "gates": [{"op": "sin", "args": [2]}]}, "/gates/0/args/0"),
    ({**DOC, "gates": [{"op": "frobnicate", "args": [0]}]}, "/gates/0/op"),
    ({**DOC, "gates": [{"op": "square", "args": [0, 1]}]}, "/gates/0/args"),
    ({**DOC, "inputs": ["x", "x"]}, "/inputs/1"),
    (
        {
            **DOC,
            "output_names": ["f"],
            "outputs": [2, 2],
        },
        "/output_names",
    ),
    ({**DOC, "outputs": [2, 2], "output_names": ["f", "f"]}, "/output_names/1"),
    ({**DOC, "gates": [{"op": "mul", "args": [0, 1], "coeffs": [1, 2]}]}, "/gates/0/coeffs"),
    ({**DOC, "gates": [{"op": "mul", "args": [0, 1], "colour": "red"}]}, "/gates/0/colour"),
    ({**DOC, "colour": "red"}, "/colour"),
    ({**DOC, "outputs": []}, "/outputs"),
    ({**DOC, "outputs": [9]}, "/outputs/0"),
    ({**DOC, "inputs": ["1x", "y"]}, "/inputs/0"),
    ({**DOC, "gates": [{"op": "const", "value": "lots"}]}, "/gates/0/value"),
    ({"expression": "x +* y"}, "/expression"),
    ({"expression": "x", "unknown": 1}, "/unknown"),
    ([1, 2, 3], ""),
]


@pytest.mark.parametrize("doc, path", INVALID_DOCUMENTS)
def test_invalid_documents_are_422_with_their_path(client, doc, path):
    for body, ctype in ((None, None), (mp(doc), "application/msgpack")):
        r = (
            client.post("/v1/circuits", json=doc)
            if body is None
            else client.post("/v1/circuits", data=body, content_type=ctype)
        )
        assert r.status_code == 422, r.get_json()
        problem = r.get_json()
        assert problem["status"] == 422 and problem["type"].endswith(":invalid")
        assert any(e["path"].startswith(path) for e in problem["errors"]), problem["errors"]


def test_invalid_circuit_inside_a_gradient_request_is_pointed_into(client):
    doc = {**DOC, "gates": [{"op": "frobnicate", "args": [0]}]}
    r = client.post("/v1/gradients", json={"circuit": doc})
    assert r.status_code == 422
    assert [e["path"] for e in r.get_json()["errors"]] == ["/circuit/gates/0/op"]


def test_malformed_bodies_are_400(client):
    assert (
        client.post(
            "/v1/circuits", data=b'{"inputs": [', content_type="application/json"
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/v1/circuits", data=b"\xc1\xc1", content_type="application/msgpack"
        ).status_code
        == 400
    )
    assert client.post("/v1/circuits", data=b"", content_type="application/json").status_code == 400


def test_wrong_media_type_is_415(client):
    for ctype in ("text/plain", "application/xml", None):
        r = client.post("/v1/circuits", data=b"{}", content_type=ctype)
        assert r.status_code == 415 and r.get_json()["status"] == 415


def test_unknown_ids_are_404(client):
    assert client.get("/v1/circuits/c_00000000000000000000000000000000").status_code == 404
    assert client.post("/v1/circuits/nope/evaluate", json={"points": []}).status_code == 404
    assert client.post("/v1/gradients", json={"circuit_id": "c_nope"}).status_code == 404
    assert client.get("/v1/jobs/nope").status_code == 404
    assert client.delete("/v1/jobs/nope").status_code == 404


def test_body_over_the_limit_is_413(service_settings):
    from dataclasses import replace

    from circuitgrad.service.app import create_app

    small = create_app(replace(service_settings, max_body_bytes=1000)).test_client()
    r = small.post(
        "/v1/circuits", data=b"[" + b"1," * 1000 + b"1]", content_type="application/json"
    )
    assert r.status_code == 413 and r.mimetype == "application/problem+json"


def test_circuit_over_the_size_limit_is_413(service_settings):
    from dataclasses import replace

    from circuitgrad.service.app import create_app

    small = create_app(replace(service_settings, max_circuit_nodes=100)).test_client()
    for c in (random_dag(200, n_inputs=2),):
        for body in (to_document(c), to_packed(c)):
            r = small.post("/v1/circuits", data=mp(body), content_type="application/msgpack")
            assert r.status_code == 413
    r = small.post("/v1/circuits", json={"expression": "+".join(f"sin(x*{i})" for i in range(60))})
    assert r.status_code == 413
