"""``circuitgrad draw``: pictures through the SDK, in this process (``Client("local")``) and
on the real service (``--url``)."""

import xml.etree.ElementTree as ET

import pytest

EQ1 = "(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def run(cli):
    return lambda *argv: cli("draw", *argv)


def texts(root) -> set[str]:
    return {t.text for t in root.iter(SVG + "text")}


def test_draw_equation_1(run, tmp_path):
    out = tmp_path / "eq1.svg"
    code, stdout, err = run("--expr", EQ1, "-o", str(out))
    assert code == 0 and stdout == "" and f"wrote {out}" in err
    root = ET.parse(out).getroot()
    assert root[0].tag == SVG + "title" and root[0].text == "f(x, y, z)"
    assert {"x", "y", "z", "f", "+", "x²", "−3", "−2", "5"} <= texts(root)


def test_draw_the_backward_gradient(run, tmp_path):
    out = tmp_path / "grad.svg"
    code, _, err = run("--gradient", "--mode", "backward", "--expr", EQ1, "-o", str(out))
    assert code == 0, err
    root = ET.parse(out).getroot()
    assert root[0].text == "∇f(x, y, z) by backpropagation"
    added = [g for g in root.iter(SVG + "g") if "added" in g.get("class", "").split()]
    assert added and all(g.get("data-from") and g.get("data-colour") for g in added)


def test_draw_dot_on_standard_output_and_usage_errors(run, tmp_path):
    code, out, _ = run("--expr", "x*y + sin(x)", "--format", "dot")
    assert code == 0 and out.startswith("digraph") and "v0 -> " in out
    code, out, _ = run("--expr", "x*y", "-o", str(tmp_path / "p.gv"))
    assert code == 0 and (tmp_path / "p.gv").read_text().startswith("digraph")
    code, _, err = run("--expr", "x*y", "-o", str(tmp_path / "p.png"))
    assert code == 2 and ".svg, .dot or .gv" in err
    code, _, err = run("--expr", "x +* y")
    assert code == 1 and err.startswith("--expr: /expression: at offset 3")
    code, out, _ = run("--expr", EQ1, "--max-gates", "3")
    assert code == 0 and "above the 3-gate drawing limit; summary shown" in out
