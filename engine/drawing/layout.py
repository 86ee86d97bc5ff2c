"""A layered (Sugiyama-style) layout, drawn bottom to top as the lecture draws circuits.

1. Layers by depth (longest path from the sources): inputs and constants at layer 0 (the
   bottom), every gate one layer above its deepest argument.
2. A wire spanning several layers gets a dummy node on each layer it passes, so every
   segment joins adjacent layers (past ``dummy_budget`` dummies, long wires stay straight
   lines and take no part in the ordering).
3. Crossing reduction: an initial upward barycenter pass, then sweeps down and up, each
   layer sorted by the barycenter of its neighbours in the layer just swept; the order
   with the fewest crossings wins. Inputs keep their order (x, y, z...), constants float.
4. Coordinates: each layer is pulled toward the mean of its neighbours' positions under
   the order and minimum spacing (a weighted isotonic regression, pool-adjacent-violators),
   alternately down and up; dummies weigh more, so long wires straighten.

Plain Python on lists: drawable circuits have a few hundred gates.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core.circuit import Circuit
from ..core.measures import depths

SWEEPS = 6  # down-and-up crossing-reduction rounds
PLACEMENT_ROUNDS = 12  # coordinate relaxation rounds
DUMMY_WEIGHT = 4.0  # how much more a dummy wants to sit straight between its neighbours


@dataclass
class Layout:
    layer: list[int]  # per node: real vertices 0..V-1, then dummies
    x: list[float]
    y: list[float]
    order: list[list[int]]  # per layer, bottom first: its nodes left to right
    paths: list[list[int]]  # per wire: the nodes it passes, argument first, gate last
    crossings: int  # between segments of adjacent layers (straight long wires not counted)
    width: float
    height: float


def vertex_layers(c: Circuit) -> list[int]:
    """Sources (inputs and constants) on layer 0, each gate one above its deepest argument."""
    return [int(d) for d in depths(c)]


def layout(
    c: Circuit,
    widths: list[float],
    *,
    layer_gap: float = 96.0,
    gap: float = 40.0,
    dummy_width: float = 6.0,
    dummy_budget: int = 4000,
    margin: float = 0.0,
    labelled: list[bool] | None = None,
) -> Layout:
    """Positions for the vertices of ``c`` (node ``widths`` in drawing units) and the
    route of every wire. A layer that many ``labelled`` wires enter gets more room below
    it, for their labels."""
    V = c.n_vertices
    layer = vertex_layers(c)
    width = list(widths)
    heavy = [1.0] * V
    long_total = sum(
        max(layer[v] - layer[int(a)] - 1, 0)
        for v in range(V)
        for a in c.args[c.arg_offsets[v] : c.arg_offsets[v + 1]]
    )
    use_dummies = long_total <= dummy_budget
    owner = c.wire_owner()
    paths = []
    for w in range(c.n_wires):
        a, v = int(c.args[w]), int(owner[w])
        chain = [a]
        if use_dummies:
            for L in range(layer[a] + 1, layer[v]):
                chain.append(len(layer))
                layer.append(L)
                width.append(dummy_width)
                heavy.append(DUMMY_WEIGHT)
        chain.append(v)
        paths.append(chain)
    n = len(layer)
    up: list[list[int]] = [[] for _ in range(n)]
    down: list[list[int]] = [[] for _ in range(n)]
    for chain in paths:
        for p, q in zip(chain, chain[1:], strict=False):
            if layer[q] == layer[p] + 1:
                up[p].append(q)
                down[q].append(p)
    top = max(layer, default=0)
    order: list[list[int]] = [[] for _ in range(top + 1)]
    for node in range(n):
        order[layer[node]].append(node)
    is_input = [node < c.n_inputs for node in range(n)]
    rank = {int(v): i for i, v in reversed(list(enumerate(c.outputs)))}
    tie = [(rank.get(node, len(rank)), node) for node in range(n)]
    order = _reduce_crossings(order, up, down, is_input, tie)
    x = _place(order, up, down, width, heavy, gap)
    left = min((x[i] - width[i] / 2 for i in range(n)), default=0.0)
    right = max((x[i] + width[i] / 2 for i in range(n)), default=0.0)
    x = [xi - left + margin for xi in x]
    busy = [0] * (top + 1)
    for w, chain in enumerate(paths):
        if labelled is not None and labelled[w]:
            busy[layer[chain[-1]]] += 1
    widest = max(len(nodes) for nodes in order)  # wide layers: long slanted wires
    layer_gap *= 1.0 + min(1.0, max(0, widest - 12) / 40)
    below = [min(layer_gap + 7.0 * max(0, b - 4), 2.0 * layer_gap) for b in busy]
    height = [0.0] * (top + 1)  # of each layer above the bottom one
    for L in range(1, top + 1):
        height[L] = height[L - 1] + below[L]
    y = [margin + height[top] - height[L] for L in layer]
    return Layout(
        layer, x, y, order, paths, count_crossings(order, down), right - left, height[top]
    )


# -- ordering -------------------------------------------------------------------------------
def _barycenters(nodes, neighbours, pos) -> list[float]:
    out = []
    for node in nodes:
        nb = neighbours[node]
        out.append(sum(pos[m] for m in nb) / len(nb) if nb else pos[node])
    return out


def _sorted_layer(nodes, neighbours, pos, is_input, tie) -> list[int]:
    """``nodes`` by the barycenter of their neighbours (ties: outputs in output order,
    then vertex order); inputs keep their relative order in the slots inputs take."""
    bary = _barycenters(nodes, neighbours, pos)
    ranked = [node for _, _, node in sorted(zip(bary, [tie[m] for m in nodes], nodes, strict=True))]
    fixed = iter(sorted(node for node in nodes if is_input[node]))
    return [next(fixed) if is_input[node] else node for node in ranked]


def _positions(order) -> dict[int, float]:
    return {node: float(i) for nodes in order for i, node in enumerate(nodes)}


def _reduce_crossings(order, up, down, is_input, tie) -> list[list[int]]:
    order = [list(nodes) for nodes in order]
    order[0] = sorted(order[0], key=lambda node: (not is_input[node], node))
    pos = _positions(order)
    for L in range(1, len(order)):  # initial: place each layer under what feeds it
        order[L] = _sorted_layer(order[L], down, pos, is_input, tie)
        pos.update({node: float(i) for i, node in enumerate(order[L])})
    best, best_count = [list(nodes) for nodes in order], count_crossings(order, down)
    for _ in range(SWEEPS):
        if best_count == 0:
            break
        for layers, neighbours in (
            (range(len(order) - 2, -1, -1), up),
            (range(1, len(order)), down),
        ):
            for L in layers:
                order[L] = _sorted_layer(order[L], neighbours, pos, is_input, tie)
                pos.update({node: float(i) for i, node in enumerate(order[L])})
            count = count_crossings(order, down)
            if count < best_count:
                best, best_count = [list(nodes) for nodes in order], count
    return best


def count_crossings(order, down) -> int:
    """Crossings of segments between adjacent layers: inversions of the lower ends once the
    segments are sorted by their upper ends (a Fenwick tree per layer pair)."""
    pos = _positions(order)
    total = 0
    for L in range(1, len(order)):
        lower = [
            int(pos[p]) for q in order[L] for p in sorted(down[q], key=pos.__getitem__)
        ]  # upper ends ascending, as order[L] lists them
        size = len(order[L - 1]) + 1
        tree = [0] * (size + 1)
        seen = 0
        for p in lower:
            # segments seen so far whose lower end is right of p cross this one
            i, below = p + 1, 0
            while i > 0:
                below += tree[i]
                i -= i & -i
            total += seen - below
            i = p + 1
            while i <= size:
                tree[i] += 1
                i += i & -i
            seen += 1
    return total


# -- coordinates ----------------------------------------------------------------------------
def _place(order, up, down, width, heavy, gap) -> list[float]:
    n = len(width)
    x = [0.0] * n
    for nodes in order:
        offset = _offsets(nodes, width, gap)
        mid = offset[-1] / 2 if nodes else 0.0
        for node, o in zip(nodes, offset, strict=True):
            x[node] = o - mid
    for r in range(PLACEMENT_ROUNDS):
        layers = range(len(order)) if r % 2 == 0 else range(len(order) - 1, -1, -1)
        for L in layers:
            nodes = order[L]
            if not nodes:
                continue
            desired = []
            for node in nodes:
                nb = up[node] + down[node]
                desired.append(sum(x[m] for m in nb) / len(nb) if nb else x[node])
            placed = _fit(desired, [heavy[m] for m in nodes], _offsets(nodes, width, gap))
            for node, xi in zip(nodes, placed, strict=True):
                x[node] = xi
    return x


def _offsets(nodes, width, gap) -> list[float]:
    """Each node's least distance from the first one of its layer."""
    out, at = [], 0.0
    for i, node in enumerate(nodes):
        if i:
            at += (width[nodes[i - 1]] + width[node]) / 2 + gap
        out.append(at)
    return out


def _fit(desired, weight, offset) -> list[float]:
    """x closest to ``desired`` (weighted least squares) with x[i+1] - x[i] ≥ the spacing
    in ``offset``: with y = x - offset the constraint is y non-decreasing, an isotonic
    regression solved by pool-adjacent-violators."""
    blocks: list[list[float]] = []  # [weight, weighted sum, count]
    for d, w, o in zip(desired, weight, offset, strict=True):
        blocks.append([w, w * (d - o), 1])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][0] > blocks[-1][1] / blocks[-1][0]:
            w2, s2, k2 = blocks.pop()
            blocks[-1][0] += w2
            blocks[-1][1] += s2
            blocks[-1][2] += k2
    y = []
    for w, s, k in blocks:
        y += [s / w] * int(k)
    return [yi + o for yi, o in zip(y, offset, strict=True)]
