"""Where a wire's label goes: on its own wire, where no node, other label or other wire is.

Candidate spots along the wire's last segment are scored (overlapping a node or a label
placed before costs most, another wire crossing the label's box less, distance from the
middle a little) and the cheapest wins. Wires and boxes sit in a grid of cells, so each
candidate looks only at what is near it.
"""

from __future__ import annotations

import math
from collections import defaultdict

CELL = 40.0
SPOTS = (0.5, 0.42, 0.58, 0.34, 0.66, 0.27, 0.73, 0.2, 0.8)  # from the lower end up
NODE_OR_LABEL, WIRE, OFF_CENTRE = 100.0, 10.0, 1.0


def _cells(x0, y0, x1, y1):
    for i in range(int(min(x0, x1) // CELL), int(max(x0, x1) // CELL) + 1):
        for j in range(int(min(y0, y1) // CELL), int(max(y0, y1) // CELL) + 1):
            yield i, j


def crosses(seg, box) -> bool:
    """Segment (x0, y0, x1, y1) meets box (cx, cy, half width, half height): Liang-Barsky."""
    x0, y0, x1, y1 = seg
    cx, cy, hw, hh = box
    dx, dy = x1 - x0, y1 - y0
    lo, hi = 0.0, 1.0
    for p, q in (
        (-dx, x0 - (cx - hw)),
        (dx, cx + hw - x0),
        (-dy, y0 - (cy - hh)),
        (dy, cy + hh - y0),
    ):
        if p == 0:
            if q < 0:
                return False
        else:
            t = q / p
            if p < 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
            if lo > hi:
                return False
    return True


def _overlap(a, b) -> bool:
    return abs(a[0] - b[0]) < a[2] + b[2] and abs(a[1] - b[1]) < a[3] + b[3]


class Placer:
    def __init__(self):
        self.segments: dict[tuple[int, int], list[tuple[int, tuple]]] = defaultdict(list)
        self.boxes: dict[tuple[int, int], list[tuple]] = defaultdict(list)

    def add_segment(self, wire: int, seg) -> None:
        """Into the cells along it (sampled every half cell), not its bounding box: a long
        diagonal wire would fill a large box."""
        x0, y0, x1, y1 = seg
        steps = max(1, int(math.hypot(x1 - x0, y1 - y0) / (CELL / 2)))
        cells = {
            (int((x0 + (x1 - x0) * k / steps) // CELL), int((y0 + (y1 - y0) * k / steps) // CELL))
            for k in range(steps + 1)
        }
        for cell in cells:
            self.segments[cell].append((wire, seg))

    def add_box(self, box) -> None:
        cx, cy, hw, hh = box
        for cell in _cells(cx - hw, cy - hh, cx + hw, cy + hh):
            self.boxes[cell].append(box)

    def score(self, box, wire: int) -> float:
        cx, cy, hw, hh = box
        cells = list(_cells(cx - hw, cy - hh, cx + hw, cy + hh))
        hit = {id(b): b for cell in cells for b in self.boxes.get(cell, ()) if _overlap(b, box)}
        near = {(w, seg) for cell in cells for w, seg in self.segments.get(cell, ()) if w != wire}
        return NODE_OR_LABEL * len(hit) + WIRE * sum(crosses(seg, box) for _, seg in near)

    def place(self, wire: int, half_w: float, half_h: float, lower, upper) -> tuple[float, float]:
        """The spot for a label of that size on segment lower → upper; then occupied."""
        best, best_score = None, float("inf")
        for t in SPOTS:
            x = lower[0] + (upper[0] - lower[0]) * t
            y = lower[1] + (upper[1] - lower[1]) * t
            s = self.score((x, y, half_w, half_h), wire) + OFF_CENTRE * abs(t - 0.5) * 10
            if s < best_score:
                best, best_score = (x, y), s
            if best_score == 0:
                break
        self.add_box((best[0], best[1], half_w, half_h))
        return best
