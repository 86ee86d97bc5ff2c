"""The served OpenAPI document: it validates, lists every route, describes every answer
(statuses, headers, both encodings, problems) as the API really gives it, names the server
the request reached, and a client generated from it runs the quick start on a live stack.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace

import msgpack
import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from circuitgrad.service.app import create_app
from circuitgrad.worker import work
from circuitgrad.worker.runtime import runtime

SPEC = "/v1/openapi.json"
JSON, MSGPACK, PROBLEM = "application/json", "application/msgpack", "application/problem+json"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
PUBLIC = {
    "/",
    "/v1/health",
    "/v1/ready",
    "/v1/openapi.json",
    "/v1/docs",
    "/v1/docs/assets/{name}",
    "/metrics",
}
EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


@pytest.fixture
def doc_app(service_settings, monkeypatch):
    monkeypatch.delenv("CIRCUITGRAD_PUBLIC_URL", raising=False)
    return create_app(service_settings)


@pytest.fixture
def doc(doc_app) -> dict:
    r = doc_app.test_client().get(SPEC)
    assert r.status_code == 200 and r.mimetype == JSON
    return r.get_json()


def ref(name: str, kind: str = "schemas") -> dict:
    return {"$ref": f"#/components/{kind}/{name}"}


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def headers_of(doc: dict, response: dict) -> dict:
    """name -> header object, references resolved."""
    out = {}
    for name, h in response.get("headers", {}).items():
        if "$ref" in h:
            h = doc["components"]["headers"][h["$ref"].rpartition("/")[2]]
        out[name] = h
    return out


def required_headers(doc: dict, response: dict) -> set[str]:
    return {name for name, h in headers_of(doc, response).items() if h.get("required")}


def json_schema(doc, response) -> dict:
    return response["content"][JSON]["schema"]


# -- the document ------------------------------------------------------------------------
def test_the_document_validates_and_lists_every_route(doc, doc_app):
    validate(doc)  # OpenAPI 3.1, $refs resolved (it used to fail: tag "Jobs" twice)
    assert doc["openapi"].startswith("3.")
    assert [t["name"] for t in doc["tags"]] == ["Circuits", "Jobs", "Pictures", "Operations"]

    def openapi_path(rule: str) -> str:
        return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)

    # Flask's static route (the playground's files) is out of scope; HEAD and OPTIONS are
    # Flask's automatic answers
    routes = {
        (openapi_path(rule.rule), method.lower())
        for rule in doc_app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    documented = {(path, method) for path, method, _ in operations(doc)}
    assert documented == routes
    assert {(SPEC, "get"), ("/v1/docs", "get"), ("/v1/jobs/{job_id}", "delete")} <= documented
    assert "text/html" in doc["paths"]["/v1/docs"]["get"]["responses"]["200"]["content"]
    assert "text/html" in doc["paths"]["/"]["get"]["responses"]["200"]["content"]
    picture = doc["paths"]["/v1/circuits/{circuit_id}/picture"]["get"]["responses"]["200"]
    assert set(picture["content"]) == {"image/svg+xml", "text/vnd.graphviz"}


def test_second_answers_are_responses_of_their_own(doc):
    paths = doc["paths"]
    upload = paths["/v1/circuits"]["post"]["responses"]
    for status in ("201", "200"):  # new to this tenant, or had already
        assert json_schema(doc, upload[status]) == ref("CircuitSummary")
        assert required_headers(doc, upload[status]) == {"Location"}
    for path in ("/v1/gradients", "/v1/evaluations"):
        r = paths[path]["post"]["responses"]
        assert json_schema(doc, r["202"]) == json_schema(doc, r["200"]) == ref("Job")
        assert required_headers(doc, r["202"]) == {"Location", "Retry-After"}
        assert required_headers(doc, r["200"]) == {"Location"}  # final: no Retry-After
    evaluate = paths["/v1/circuits/{circuit_id}/evaluate"]["post"]["responses"]
    assert json_schema(doc, evaluate["202"]) == ref("Job")
    assert required_headers(doc, evaluate["202"]) == {"Location", "Retry-After"}
    # small batches answer values; a large batch whose job is final already, that job
    assert json_schema(doc, evaluate["200"]) == {"oneOf": [ref("Values"), ref("Job")]}
    assert set(headers_of(doc, evaluate["200"])) == {"Location"}
    assert required_headers(doc, evaluate["200"]) == set()

    fetch = paths["/v1/circuits/{circuit_id}"]["get"]
    assert required_headers(doc, fetch["responses"]["200"]) == {"ETag", "Cache-Control"}
    not_modified = fetch["responses"]["304"]
    assert "content" not in not_modified
    assert required_headers(doc, not_modified) == {"ETag", "Cache-Control"}
    assert {"in": "header", "name": "If-None-Match"}.items() <= next(
        p for p in fetch["parameters"] if p["name"] == "If-None-Match"
    ).items()


def test_every_error_is_a_problem_and_shared_ones_are_everywhere(doc):
    body_errors = {"400", "413", "415", "422"}
    for path, method, op in operations(doc):
        responses = op["responses"]
        for status, response in responses.items():
            if status[0] in "45":
                assert response["content"] == {PROBLEM: {"schema": ref("Problem")}}, (path, status)
        assert "500" in responses
        if path in PUBLIC:
            assert op["security"] == []  # no key needed, no 401 and no rate limit
            assert not {"401", "429"} & set(responses), path
        else:
            assert {"401", "429", "503"} <= set(responses), (path, method)
            assert required_headers(doc, responses["401"]) == {"WWW-Authenticate"}
        for status in ("429", "503"):
            if status in responses:
                assert required_headers(doc, responses[status]) == {"Retry-After"}
        if "requestBody" in op:
            assert body_errors <= set(responses), (path, method)
    assert {"ApiKey": []} in doc["security"] and doc["components"]["securitySchemes"]["ApiKey"]
    assert "405" in doc["info"]["description"]  # no operation can answer it: described once


def test_every_body_is_also_msgpack(doc):
    def check(content: dict, where):
        msgpack_schema = content[MSGPACK]["schema"]
        assert msgpack_schema["type"] == "string" and msgpack_schema["format"] == "binary"
        assert msgpack_schema["contentMediaType"] == MSGPACK
        carried, json_doc = msgpack_schema["contentSchema"], content[JSON]["schema"]
        if json_doc in (ref("CircuitDocument"), ref("CircuitUpload")):
            assert carried == {"oneOf": [json_doc, ref("PackedCircuit")]}, where
        else:
            assert carried == json_doc, where

    bodies = 0
    for path, method, op in operations(doc):
        if "requestBody" in op:
            check(op["requestBody"]["content"], (path, method))
            bodies += 1
        for status, response in op["responses"].items():
            if status == "204":  # no body
                assert "content" not in response, (path, method)
            elif (
                status[0] == "2"
                and JSON in response.get("content", {})
                and path not in (SPEC, "/v1/docs", "/metrics")
            ):
                check(response["content"], (path, method, status))
    assert bodies == 4
    assert set(doc["paths"][SPEC]["get"]["responses"]["200"]["content"]) == {JSON}


def test_servers_follow_the_request(doc_app):
    client = doc_app.test_client()
    for base in (
        "http://localhost",
        "https://api.example.org:8443",
        "http://10.1.2.3:8000/circuitgrad",  # mounted under a script root
        "http://localhost",  # not the first host's, cached
    ):
        doc = client.get(SPEC, base_url=base).get_json()
        assert doc["servers"][0]["url"] == base
    assert "servers" not in doc_app.spec  # no request, no configuration: no servers


def test_servers_from_the_configured_public_url(service_settings, monkeypatch):
    monkeypatch.setenv("CIRCUITGRAD_PUBLIC_URL", "https://circuitgrad.example.com/api/")
    app = create_app(service_settings)
    for base in ("http://localhost", "http://10.1.2.3:8000"):
        doc = app.test_client().get(SPEC, base_url=base).get_json()
        assert [s["url"] for s in doc["servers"]] == ["https://circuitgrad.example.com/api"]
        validate(doc)
    assert app.spec["servers"][0]["url"] == "https://circuitgrad.example.com/api"
    assert "CIRCUITGRAD_PUBLIC_URL" in doc["info"]["description"]


# -- the API answers as documented -------------------------------------------------------
def conforms(doc: dict, path: str, method: str, r) -> None:
    """``r`` (a test client response) is a documented answer of the operation: its status,
    media type, required headers and body."""
    op = doc["paths"][path][method]
    assert str(r.status_code) in op["responses"], (path, method, r.status_code, r.data[:200])
    response = op["responses"][str(r.status_code)]
    missing = required_headers(doc, response) - set(r.headers.keys())
    assert not missing, (path, method, r.status_code, missing)
    if "content" not in response:
        assert r.data == b""
        return
    assert r.mimetype in response["content"], (path, method, r.status_code, r.mimetype)
    schema = response["content"][r.mimetype]["schema"]
    if r.mimetype == MSGPACK:
        schema, body = schema["contentSchema"], msgpack.unpackb(r.data)
    elif r.mimetype not in (JSON, PROBLEM):  # a page, a picture, a script: text
        schema, body = schema, r.get_data(as_text=r.mimetype != "image/png")
        if r.mimetype == "image/png":
            return
    else:
        body = json.loads(r.data)
    # the components travel with the schema so that its $refs resolve
    Draft202012Validator({**schema, "components": doc["components"]}).validate(body)


def test_the_answers_are_the_documented_ones(doc, doc_app, service_settings):
    c = doc_app.test_client()
    rt = runtime(service_settings)
    mp = {"Accept": MSGPACK}
    seen = []

    def call(method: str, template: str, url: str, **kw):
        r = getattr(c, method)(url, **kw)
        conforms(doc, template, method, r)
        seen.append((method, template, r.status_code))
        return r

    name = f"x_{uuid.uuid4().hex[:8]}"  # a circuit new to this session
    body = {"expression": f"{name} * y + sin(y)"}
    first = call("post", "/v1/circuits", "/v1/circuits", json=body)
    again = call(
        "post",
        "/v1/circuits",
        "/v1/circuits",
        data=msgpack.packb(body),
        headers={"Content-Type": MSGPACK, **mp},
    )
    assert (first.status_code, again.status_code) == (201, 200)
    cid = first.get_json()["id"]
    one = "/v1/circuits/{circuit_id}"
    etag = call("get", one, f"/v1/circuits/{cid}").headers["ETag"]
    call("get", one, f"/v1/circuits/{cid}", headers={"If-None-Match": etag})
    call("get", one, f"/v1/circuits/{cid}", headers=mp)
    call("get", one, f"/v1/circuits/{cid}?form=packed", headers=mp)
    call("get", one, "/v1/circuits/c_nope")
    call("get", one, f"/v1/circuits/{cid}?form=weird")

    job = call("post", "/v1/gradients", "/v1/gradients", json={"circuit_id": cid}).get_json()
    assert seen[-1][2] == 202
    work.run_gradient(rt, job["id"], "test-openapi")
    call("post", "/v1/gradients", "/v1/gradients", json={"circuit_id": cid})
    assert seen[-1][2] == 200
    jobs = "/v1/jobs/{job_id}"
    done = call("get", jobs, f"/v1/jobs/{job['id']}?wait=1").get_json()
    call("get", jobs, f"/v1/jobs/{job['id']}", headers=mp)
    call("get", jobs, f"/v1/jobs/{job['id']}?wait=abc")
    call("get", jobs, "/v1/jobs/nope")
    call("delete", jobs, f"/v1/jobs/{job['id']}")  # final already: 409
    call("get", "/v1/jobs/{job_id}/values", f"/v1/jobs/{job['id']}/values")  # no values: 409

    evaluate = "/v1/circuits/{circuit_id}/evaluate"
    gid = done["result"]["circuit_id"]
    point = {name: 1.0, "y": 2.0}
    call("post", evaluate, f"/v1/circuits/{gid}/evaluate", json={"points": [point]})
    call("post", evaluate, f"/v1/circuits/{gid}/evaluate", json={"points": [{"y": 1}]})
    call("post", evaluate, f"/v1/circuits/{gid}/evaluate", data=b"{", content_type=JSON)
    call("post", evaluate, f"/v1/circuits/{gid}/evaluate", data=b"1", content_type="text/plain")
    call("post", "/v1/evaluations", "/v1/evaluations", json={"circuit_id": "c_nope", "points": []})

    picture = "/v1/circuits/{circuit_id}/picture"
    call("get", picture, f"/v1/circuits/{cid}/picture")
    call("get", picture, f"/v1/circuits/{gid}/picture?format=dot&max_gates=2")
    call("get", picture, f"/v1/circuits/{cid}/picture?format=png")
    call("get", picture, "/v1/circuits/c_nope/picture")
    job_picture = "/v1/jobs/{job_id}/picture"
    call("get", job_picture, f"/v1/jobs/{job['id']}/picture")
    call("get", job_picture, f"/v1/jobs/{job['id']}/picture?format=dot")
    call("get", job_picture, "/v1/jobs/nope/picture")

    listed = call("get", "/v1/circuits", "/v1/circuits?page_size=2").get_json()
    call("get", "/v1/circuits", "/v1/circuits", headers=mp)
    token = listed["next_page_token"]
    call("get", "/v1/circuits", f"/v1/circuits?page_size=2&page_token={token}")
    call("get", "/v1/circuits", "/v1/circuits?page_token=forged")
    call("get", "/v1/jobs", "/v1/jobs?status=succeeded&kind=gradient")
    call("get", "/v1/jobs", "/v1/jobs?status=sleeping")
    call("get", "/v1/usage", "/v1/usage")
    call("delete", one, f"/v1/circuits/{cid}")
    call("delete", one, f"/v1/circuits/{cid}")  # gone: 404
    call("get", "/metrics", "/metrics")
    call("get", "/v1/health", "/v1/health")
    call("get", "/v1/health", "/v1/health", headers=mp)
    call("get", SPEC, SPEC)
    call("get", "/v1/docs", "/v1/docs")
    call("get", "/", "/")
    assets = "/v1/docs/assets/{name}"
    for name in ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "nope.js"):
        call("get", assets, f"/v1/docs/assets/{name}")
    statuses = {s for _, _, s in seen}
    assert {200, 201, 202, 204, 304, 400, 404, 409, 415, 422} <= statuses


def test_key_rate_and_store_errors_are_the_documented_ones(doc, service_settings):
    keyed = create_app(replace(service_settings, api_keys=(("k1", "t1"),), rate_limit=1))
    c = keyed.test_client()
    r = c.get("/v1/jobs/nope")
    assert r.status_code == 401
    conforms(doc, "/v1/jobs/{job_id}", "get", r)
    answers = [c.get("/v1/jobs/nope", headers={"Authorization": "Bearer k1"}) for _ in range(4)]
    limited = [r for r in answers if r.status_code == 429]
    assert limited  # 4 requests, at most 2 one-second windows, 1 request each
    conforms(doc, "/v1/jobs/{job_id}", "get", limited[0])

    down = create_app(replace(service_settings, redis_url="redis://127.0.0.1:1/0"))
    r = down.test_client().get("/v1/jobs/nope")
    assert r.status_code == 503
    conforms(doc, "/v1/jobs/{job_id}", "get", r)
