"""How long pictures take: equation (1), its gradients, and summaries of large circuits.

    python bench/drawing.py

Prints the time to draw equation (1) (SVG and DOT), its backward and forward gradient
circuits with provenance (differentiate + draw), and the summaries of random circuits of
10³ (drawn gate by gate up to the limit: here past it with max_gates=400), 10⁴, 10⁵ and
10⁶ gates. Each figure is the best of a few runs after one warm-up (which loads the
compiled code from Numba's cache). The 10⁵-gate summary should take well under a second.
"""

from __future__ import annotations

import time

from circuitgrad.engine import differentiate, draw, parse_expression
from circuitgrad.engine.building import generate

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"


def best(f, runs: int = 5) -> float:
    f()  # warm up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return min(times)


def show(what: str, seconds: float) -> None:
    unit, scale = ("ms", 1e3) if seconds < 1 else ("s", 1.0)
    print(f"{what:<58} {seconds * scale:9.2f} {unit}")


def main() -> None:
    c = parse_expression(EQ1)
    show("equation (1): SVG", best(lambda: draw(c)))
    show("equation (1): DOT", best(lambda: draw(c, "dot")))
    for mode in ("backward", "forward"):

        def picture(mode=mode):
            g = differentiate(c, mode=mode, provenance=True)
            return draw(g.circuit, provenance=g.provenance)

        show(f"equation (1): {mode} gradient with provenance, SVG", best(picture))
    g = generate.random_dag(300)
    show("random circuit of 300 gates: drawn gate by gate, SVG", best(lambda: draw(g), 3))
    for k in (3, 4, 5, 6):
        big = generate.random_dag(10**k)
        runs = 5 if k < 6 else 3
        show(f"random circuit of 10^{k} gates: summary SVG", best(lambda b=big: draw(b), runs))


if __name__ == "__main__":
    main()
