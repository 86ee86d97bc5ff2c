"""The pictures of the API (GET /v1/circuits/{id}/picture, GET /v1/jobs/{id}/picture), and
the public pages (the playground, the docs' assets), through Flask's test client; gradient
jobs run in this process (``work.run_gradient``)."""

import re
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import replace

import pytest

from circuitgrad.service.app import create_app
from circuitgrad.worker import work
from circuitgrad.worker.runtime import runtime

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
SVG = "{http://www.w3.org/2000/svg}"


def svg_of(r) -> ET.Element:
    assert r.status_code == 200, r.data[:300]
    assert r.mimetype == "image/svg+xml"
    root = ET.fromstring(r.data)
    assert root.tag == SVG + "svg" and root[0].tag == SVG + "title"
    return root


def node_groups(root, *cls: str) -> list[ET.Element]:
    return [g for g in root.iter(SVG + "g") if {"node", *cls} <= set(g.get("class", "").split())]


def all_text(root) -> list[str]:
    return [t.text for t in root.iter(SVG + "text")]


@pytest.fixture
def eq1_id(client) -> str:
    r = client.post("/v1/circuits", json={"expression": EQ1})
    assert r.status_code in (200, 201)
    return r.get_json()["id"]


def gradient_job(client, service_settings, body: dict) -> str:
    r = client.post("/v1/gradients", json=body)
    job = r.get_json()
    if r.status_code == 202:
        work.run_gradient(runtime(service_settings), job["id"], "test-pictures")
    return job["id"]


def test_a_circuit_picture(client, eq1_id):
    root = svg_of(client.get(f"/v1/circuits/{eq1_id}/picture"))
    texts = all_text(root)
    assert Counter(t for t in texts if t in ("+", "x²")) == {"+": 4, "x²": 3}
    assert {"−3", "−2", "5", "−5", "x", "y", "z", "f"} <= set(texts)
    r = client.get(f"/v1/circuits/{eq1_id}/picture?format=dot")
    assert r.status_code == 200 and r.mimetype == "text/vnd.graphviz"
    dot = r.get_data(as_text=True)
    assert dot.startswith("digraph") and len(re.findall(r"^\s+v\d+ -> v\d+", dot, re.M)) == 17
    assert client.get("/v1/circuits/c_nope/picture").status_code == 404
    bad = client.get(f"/v1/circuits/{eq1_id}/picture?format=png")
    assert bad.status_code == 422
    assert bad.get_json()["errors"][0]["path"] == "/query/format"


def test_past_the_limit_the_picture_is_a_summary(service_settings, eq1_id):
    small = create_app(replace(service_settings, max_drawn_gates=5)).test_client()
    for url in (f"/v1/circuits/{eq1_id}/picture", f"/v1/circuits/{eq1_id}/picture?max_gates=99"):
        root = svg_of(small.get(url))  # ?max_gates= cannot raise the configured limit
        assert "summary" in root.get("class").split()
        assert "circuit of 8 gates: above the 5-gate drawing limit; summary shown" in all_text(root)
    default = create_app(service_settings).test_client()
    root = svg_of(default.get(f"/v1/circuits/{eq1_id}/picture?max_gates=3"))
    assert "circuit of 8 gates: above the 3-gate drawing limit; summary shown" in all_text(root)


@pytest.mark.parametrize(("mode", "key"), [("backward", r"w\d+"), ("forward", r"v\d+")])
def test_a_gradient_job_picture_shows_provenance(client, service_settings, eq1_id, mode, key):
    job_id = gradient_job(client, service_settings, {"circuit_id": eq1_id, "mode": mode})
    root = svg_of(client.get(f"/v1/jobs/{job_id}/picture"))
    name = "backpropagation" if mode == "backward" else "forward propagation"
    assert root[0].text == f"∇f(x, y, z) by {name}"
    source, added = node_groups(root, "source"), node_groups(root, "added")
    assert source and added
    assert all(re.fullmatch(key, g.get("data-from")) and g.get("data-colour") for g in added)
    assert {"df/dx", "df/dy", "df/dz"} <= set(all_text(root))
    if mode == "backward":
        assert any("within Theorem 3" in t for t in all_text(root) if t)
    dot = client.get(f"/v1/jobs/{job_id}/picture?format=dot")
    assert dot.status_code == 200 and "fillcolor" in dot.get_data(as_text=True)


def test_the_raw_gradient_and_a_summary_of_it(client, service_settings, eq1_id):
    body = {"circuit_id": eq1_id, "simplify": False}
    job_id = gradient_job(client, service_settings, body)
    root = svg_of(client.get(f"/v1/jobs/{job_id}/picture"))
    assert len(node_groups(root, "gate", "source")) == 7  # all the source's gates, dead too
    root = svg_of(client.get(f"/v1/jobs/{job_id}/picture?max_gates=4"))
    assert "summary" in root.get("class").split()


def test_only_succeeded_gradient_jobs_have_pictures(client, eq1_id):
    name = f"u{uuid.uuid4().hex[:8]}"  # a new circuit: its job stays queued (no worker)
    job = client.post("/v1/gradients", json={"expression": f"{name} * sin({name})"}).get_json()
    r = client.get(f"/v1/jobs/{job['id']}/picture")
    assert r.status_code == 409 and r.mimetype == "application/problem+json"
    assert client.get("/v1/jobs/nope/picture").status_code == 404


def test_the_playground_and_the_docs_need_no_key(service_settings):
    keyed = create_app(replace(service_settings, api_keys=(("k1", "t1"),))).test_client()
    page = keyed.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'href="v1/docs"' in html  # relative: the page also works under a prefix
    for asset in re.findall(r'(?:src|href)="(static/[^"]+)"', html):
        r = keyed.get("/" + asset)
        assert r.status_code == 200, asset
    docs = keyed.get("/v1/docs").get_data(as_text=True)
    assert "//" not in re.sub(r"https?://(127\.0\.0\.1|localhost)", "", docs.split("<script>")[0])
    for asset in re.findall(r'(?:src|href)="(docs/assets/[^"]+)"', docs):
        r = keyed.get("/v1/" + asset)
        assert r.status_code == 200, asset
    assert keyed.get("/v1/docs/assets/swagger-ui-bundle.js").mimetype == "text/javascript"
    assert keyed.get("/v1/circuits/c_x/picture").status_code == 401
