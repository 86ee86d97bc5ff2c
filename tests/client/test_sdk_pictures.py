"""Pictures through the SDK, on the real service and in local mode (the ``sdk`` fixture
runs each test in both): CircuitRef.picture, Job.picture, and what Jupyter shows."""

import xml.etree.ElementTree as ET

from circuitgrad.client import AsyncClient

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
SVG = "{http://www.w3.org/2000/svg}"


def test_a_circuit_and_its_gradient_as_pictures(sdk):
    f = sdk.upload(EQ1)
    root = ET.fromstring(f.picture())
    assert root[0].text == "f(x, y, z)"
    assert {"−3", "−2", "5", "x", "y", "z"} <= {t.text for t in root.iter(SVG + "text")}
    assert f.picture(format="dot").startswith("digraph")
    assert "summary shown" in f.picture(max_gates=3)
    assert ET.fromstring(f._repr_svg_())[0].text == "f(x, y, z)"  # Jupyter's display hook
    assert sdk.picture(f.id) == f.picture()

    job = f.gradient(mode="forward").wait(timeout=60)
    root = ET.fromstring(job.picture())
    assert root[0].text == "∇f(x, y, z) by forward propagation"
    added = [g for g in root.iter(SVG + "g") if "added" in g.get("class", "").split()]
    assert added and all(g.get("data-from", "").startswith("v") for g in added)


def test_no_picture_for_an_async_client_display_hook():
    client = AsyncClient("http://127.0.0.1:9")  # never contacted
    ref = client._ref({"id": "c_x"})
    assert ref._repr_svg_() is None  # Jupyter then shows the repr
