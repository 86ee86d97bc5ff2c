"""Garbage at every endpoint: no request, however malformed, gets a 500 or an HTML page."""

from __future__ import annotations

import msgpack
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.sampled_from(["NaN", "Infinity", "x", "c_", "add", "/"]),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "inputs",
                    "gates",
                    "outputs",
                    "op",
                    "args",
                    "points",
                    "expression",
                    "circuit_id",
                    "circuit",
                    "wrt",
                    "of",
                    "mode",
                    "x",
                    "y",
                    "value",
                    "coeffs",
                    "format",
                    "p",
                ]
            )
            | st.text(max_size=8),
            inner,
            max_size=6,
        )
    ),
    max_leaves=30,
)
BODIES = st.one_of(
    st.binary(max_size=200).map(lambda b: (b, "application/json")),
    st.binary(max_size=200).map(lambda b: (b, "application/msgpack")),
    JSON_VALUES.map(lambda v: (orjson.dumps(v), "application/json")),
    JSON_VALUES.map(lambda v: (msgpack.packb(v), "application/msgpack")),
    st.tuples(
        st.binary(max_size=50),
        st.sampled_from(
            ["text/plain", "", "application/xml", "multipart/form-data", "application/*"]
        ),
    ),
)
IDS = st.sampled_from(["c_00", "nope", "%00", "..", "x" * 300, "c_" + "0" * 32, "🙂"])
METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
PATHS = st.one_of(
    st.just("/v1/circuits"),
    st.just("/v1/gradients"),
    st.just("/v1/evaluations"),
    st.just("/v1/health"),
    st.just("/v1/ready"),
    st.just("/v1/openapi.json"),
    IDS.map(lambda i: f"/v1/circuits/{i}"),
    IDS.map(lambda i: f"/v1/circuits/{i}/evaluate"),
    IDS.map(lambda i: f"/v1/jobs/{i}"),
    IDS.map(lambda i: f"/v1/jobs/{i}/values"),
    st.text(max_size=20).map(lambda t: "/v1/" + t),
)
QUERIES = st.sampled_from(
    ["", "?wait=abc", "?wait=-3", "?wait=0.01", "?form=weird", "?form=", "?x=1&x=2"]
)
ACCEPTS = st.sampled_from(
    [
        "application/json",
        "application/msgpack",
        "text/html",
        "*/*",
        "",
        "application/msgpack;q=0.1, application/json;q=0.9",
    ]
)


@pytest.fixture
def real_ids(app):
    """Ids that exist, so garbage also reaches the deeper code of a known circuit."""
    c = app.test_client()
    cid = c.post("/v1/circuits", json={"expression": "x*y + sin(z)"}).get_json()["id"]
    job = c.post("/v1/gradients", json={"circuit_id": cid}).get_json()["id"]
    return cid, job


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    method=METHODS,
    path=PATHS,
    query=QUERIES,
    body=BODIES,
    accept=ACCEPTS,
    use_real=st.integers(0, 2),
)
def test_no_request_gets_a_500(app, real_ids, method, path, query, body, accept, use_real):
    if use_real == 1:
        path = path.replace("c_00", real_ids[0]).replace("nope", real_ids[1])
    data, ctype = body
    r = app.test_client().open(
        path + query, method=method, data=data, headers={"Content-Type": ctype, "Accept": accept}
    )
    assert r.status_code < 500 or r.status_code == 503, (r.status_code, r.data[:300])
    if r.status_code >= 400 and method != "HEAD":
        problem = r.get_json(force=True)
        assert r.mimetype == "application/problem+json"
        assert problem["status"] == r.status_code and problem["title"] and problem["type"]


def test_garbage_inside_valid_json_at_each_body_endpoint(client, real_ids):
    cid, _ = real_ids
    for path in (
        "/v1/circuits",
        "/v1/gradients",
        "/v1/evaluations",
        f"/v1/circuits/{cid}/evaluate",
    ):
        for doc in (
            None,
            1,
            "x",
            [],
            {},
            {"points": None},
            {"gates": "all"},
            {"inputs": 5},
            {"circuit_id": cid, "points": [[1, 2, 3]]},
            {"expression": 5},
            {"expression": "x" * 5000 + "+"},
            {"circuit": []},
        ):
            r = client.post(path, data=orjson.dumps(doc), content_type="application/json")
            assert 400 <= r.status_code < 500, (path, doc, r.status_code, r.data[:200])
