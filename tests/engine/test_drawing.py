"""Pictures of circuits (engine/drawing): read back as XML and checked for what they must
show — op symbols, coefficients, names, bottom-to-top layers, few crossings, provenance
colours — plus DOT and the summary of large circuits."""

import itertools
import re
import xml.etree.ElementTree as ET
from collections import Counter

import pytest

from circuitgrad.engine import differentiate, draw, parse_expression
from circuitgrad.engine.building import generate
from circuitgrad.engine.core.ops import OPS
from circuitgrad.engine.drawing import too_large
from circuitgrad.engine.drawing.layout import count_crossings
from circuitgrad.engine.drawing.svg import layout_of

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # valid XML, or this raises
    assert root.tag == SVG + "svg"
    assert root[0].tag == SVG + "title" and root[0].text
    return root


def classes(e: ET.Element) -> set[str]:
    return set(e.get("class", "").split())


def nodes(root, kind: str | None = None) -> list[ET.Element]:
    return [
        g
        for g in root.iter(SVG + "g")
        if "node" in classes(g) and (kind is None or kind in classes(g))
    ]


def texts(e: ET.Element, cls: str | None = None) -> list[str]:
    return [t.text for t in e.iter(SVG + "text") if cls is None or cls in classes(t)]


def centre_y(g: ET.Element) -> float:
    shape = next(s for s in g if s.tag in (SVG + "circle", SVG + "rect"))
    if shape.tag == SVG + "circle":
        return float(shape.get("cy"))
    return float(shape.get("y")) + float(shape.get("height")) / 2


@pytest.fixture(scope="module")
def eq1():
    return parse_expression(EQ1)


def test_every_op_has_a_picture_symbol():
    assert all(op.symbol for op in OPS)
    assert {op.name: op.symbol for op in OPS}.items() >= {
        "add": "+", "mul": "×", "div": "÷", "sub": "−", "exp": "exp", "sin": "sin",
        "square": "x²", "sqrt": "√", "sigmoid": "σ",
    }.items()  # fmt: skip


def test_equation_1_is_drawn_as_the_lecture_draws_it(eq1):
    root = parse(draw(eq1))
    assert root[0].text == "f(x, y, z)"
    gates = nodes(root, "gate")
    assert Counter(texts(g, "symbol")[0] for g in gates) == {"+": 4, "x²": 3}
    # the coefficients of the three weighted sums, with real minus signs; 1 is not written
    assert Counter(texts(root, "coeff")) == {"−3": 3, "−2": 2, "5": 1, "−5": 1}
    assert [t for g in nodes(root, "input") for t in texts(g, "name")] == ["x", "y", "z"]
    assert [t for g in nodes(root) for t in texts(g, "output-name")] == ["f"]
    assert [texts(g)[-1] for g in nodes(root, "const")] == ["1"]
    # bottom to top: inputs and constants below every gate, the output above all
    sources = [centre_y(g) for g in nodes(root, "input") + nodes(root, "const")]
    output = next(g for g in gates if texts(g, "output-name"))
    assert min(sources) > max(centre_y(g) for g in gates)
    assert centre_y(output) < min(centre_y(g) for g in gates if g is not output)
    # every wire has an arrowhead and says which vertices it joins
    wires = [p for p in root.iter(SVG + "path") if "wire" in classes(p)]
    assert len(wires) == eq1.n_wires and all(p.get("marker-end") for p in wires)


def _anchors(d: str) -> list[tuple[float, float]]:
    """The points a drawn wire passes (its path's end points of each segment)."""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)]
    pairs = list(zip(numbers[::2], numbers[1::2], strict=True))
    return [pairs[0]] + pairs[3::3]  # M p0, then C c1 c2 p for each segment


def _cross(p, q, r, s) -> bool:
    def side(a, b, c):
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    return side(p, q, r) * side(p, q, s) < 0 and side(r, s, p) * side(r, s, q) < 0


def drawn_crossings(root) -> int:
    """Crossings of the drawn wires, counted on the picture itself: pairs of segments
    (between consecutive anchors) that properly intersect."""
    segments = []
    for p in root.iter(SVG + "path"):
        if "wire" in classes(p):
            pts = _anchors(p.get("d"))
            segments += [(p.get("data-wire"), a, b) for a, b in zip(pts, pts[1:], strict=False)]
    return sum(
        _cross(a, b, c, d)
        for (w1, a, b), (w2, c, d) in itertools.combinations(segments, 2)
        if w1 != w2
    )


def test_equation_1_has_no_avoidable_crossing(eq1):
    """x, y, z each feed all three sums: a K₃,₃ between two layers, which forces 9
    crossings in any order; the constant's wires to the first and third sums add 3. The
    layout's 12 is the least over every order of those two layers (the upper ones are
    chains), and the picture has exactly those."""
    lay = layout_of(eq1)
    down = [[] for _ in lay.layer]
    for chain in lay.paths:
        for p, q in itertools.pairwise(chain):
            down[q].append(p)
    upper = [list(o) for o in lay.order[2:]]
    least = min(
        count_crossings([list(a), list(b), *upper], down)
        for a in itertools.permutations(lay.order[0])
        for b in itertools.permutations(lay.order[1])
    )
    assert lay.crossings == least == 12
    assert drawn_crossings(parse(draw(eq1))) == 12


@pytest.mark.parametrize("simplify", [True, False])
def test_the_backward_gradient_shows_where_each_gate_comes_from(eq1, simplify):
    g = differentiate(eq1, mode="backward", simplify=simplify, provenance=True)
    root = parse(draw(g.circuit, provenance=g.provenance))
    gates = nodes(root, "gate")
    source = [n for n in gates if "source" in classes(n)]
    added = [n for n in gates if "added" in classes(n)]
    assert source and added and len(source) + len(added) == len(gates)
    # Figure 3: the three partials are sums added by backpropagation
    assert sorted(t for n in added for t in texts(n, "output-name")) == [
        "df/dx",
        "df/dy",
        "df/dz",
    ]
    legend = {e.get("data-key") for e in root.iter(SVG + "g") if "legend-entry" in classes(e)}
    colours = {}
    for n in added:  # every added gate has a provenance colour, named in the legend
        key, colour = n.get("data-from"), n.get("data-colour")
        assert re.fullmatch(r"w\d+", key) and re.fullmatch(r"#[0-9a-f]{6}", colour)
        assert key in legend
        assert colours.setdefault(key, colour) == colour
    assert len(set(colours.values())) == len(colours)  # one colour per source wire
    # the source wires that produced gates are drawn in their colour
    coloured = {p.get("data-from") for p in root.iter(SVG + "path") if p.get("data-from")}
    assert coloured == set(colours)
    assert all("added" not in classes(n) and not n.get("data-from") for n in source)


def test_at_most_three_gates_per_source_wire():
    """Theorem 3's accounting: each wire's rule gate, product and share of a sum."""
    for seed in range(3):
        c = generate.random_dag(300, seed=seed)
        g = differentiate(c, mode="backward", simplify=False, provenance=True)
        per_wire = Counter(int(o) for o in g.provenance.origin if o >= 0)
        assert max(per_wire.values()) <= 3
        assert all(0 <= w < c.n_wires for w in per_wire)


def test_forward_gradients_are_coloured_by_source_vertex(eq1):
    g = differentiate(eq1, mode="forward", simplify=False, provenance=True)
    root = parse(draw(g.circuit, provenance=g.provenance))
    added = [n for n in nodes(root) if "added" in classes(n)]
    assert added and all(re.fullmatch(r"v\d+", n.get("data-from")) for n in added)
    assert all(n.get("data-colour") for n in added)


def test_dot_has_a_node_per_vertex_and_an_edge_per_wire(eq1):
    dot = draw(eq1, "dot")
    assert dot.startswith("digraph ") and dot.rstrip().endswith("}")
    assert len(re.findall(r"^\s+v\d+ \[", dot, re.M)) == eq1.n_vertices
    assert len(re.findall(r"^\s+v\d+ -> v\d+", dot, re.M)) == eq1.n_wires
    assert "rankdir=BT" in dot and 'label="−3"' in dot
    g = differentiate(eq1, provenance=True)
    coloured = draw(g.circuit, "dot", provenance=g.provenance)
    assert "fillcolor=" in coloured


def test_a_large_circuit_is_summarised_not_drawn():
    c = generate.random_dag(10**5)
    reason = too_large(c)
    assert reason == (
        f"circuit of {c.n_gates:,} gates: above the 400-gate drawing limit; summary shown"
    )
    root = parse(draw(c))
    assert "summary" in classes(root)
    assert reason in texts(root)
    ops = {
        g.get("data-op"): int(g.get("data-count"))
        for g in root.iter(SVG + "g")
        if "op" in classes(g)
    }
    assert sum(ops.values()) == c.n_gates
    bars = [r for r in root.iter(SVG + "rect") if r.get("data-depth")]
    assert 1 <= len(bars) <= 48
    assert f"{c.n_inputs:,} inputs: x0, x1" in " ".join(texts(root))
    assert draw(c, "dot").startswith("digraph summary")
    # the limit is a parameter: equation (1) is a summary at 5 gates
    assert "summary" in classes(parse(draw(parse_expression(EQ1), max_gates=5)))


def test_circuits_show_themselves_in_jupyter(eq1):
    svg = eq1._repr_svg_()
    assert parse(svg)[0].text == "f(x, y, z)"


def test_provenance_does_not_change_the_result():
    from circuitgrad.engine import content_id

    c = generate.random_dag(400, seed=7)
    for mode in ("backward", "forward"):
        for simplify in (True, False):
            plain = differentiate(c, mode=mode, simplify=simplify, wrt=list(c.inputs[:3]))
            traced = differentiate(
                c, mode=mode, simplify=simplify, wrt=list(c.inputs[:3]), provenance=True
            )
            assert content_id(plain.circuit) == content_id(traced.circuit)
            p = traced.provenance
            assert len(p.origin) == len(p.copy_of) == traced.circuit.n_vertices
            assert (p.copy_of[: c.n_inputs] == range(c.n_inputs)).all()
            assert ((p.origin == -1) == (p.copy_of >= 0)).all()


@pytest.mark.parametrize("expression", ["x", "x + 0*y", "3"])
@pytest.mark.parametrize("mode", ["backward", "forward"])
@pytest.mark.parametrize("simplify", [True, False])
def test_gradients_of_circuits_without_active_gates_have_provenance(expression, mode, simplify):
    """No gate for the derivative rules to run on (an input as output, a constant, an
    input multiplied away): the provenance is of the copied source alone, and draws."""
    c = parse_expression(expression, inputs=["x", "y"])
    g = differentiate(c, mode=mode, simplify=simplify, provenance=True)
    assert len(g.provenance.origin) == g.circuit.n_vertices
    root = parse(draw(g.circuit, provenance=g.provenance))
    labels = ", ".join(t for n in nodes(root) for t in texts(n, "output-name"))
    assert sorted(labels.split(", ")) == ["df/dx", "df/dy"]  # outputs sharing a vertex: one label
