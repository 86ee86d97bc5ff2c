"""The lecture's backpropagation walk-through: y = (x₁ + x₂ + x₁x₂)(x₁ + x₂).

    u₁ = x₁ + x₂,  u₂ = x₁·x₂,  u₃ = u₁ + u₂,  y = u₁·u₃

The circuit is built in Python with the engine's expression builder (gates named as in
the lecture), uploaded, and differentiated by backpropagation on the service. The gradient
circuit is downloaded and printed gate by gate, and its values are checked against the
lecture's closed form ∂y/∂x₁ = 2x₁ + 2x₂ + 2x₁x₂ + x₂² (and symmetrically for x₂).
"""

import numpy as np

from circuitgrad.client import Client
from circuitgrad.engine.building.expr import build, inputs
from circuitgrad.engine.formats.codec import to_document


def lecture_circuit():
    x1, x2 = inputs("x1 x2")
    u1 = x1 + x2
    u2 = x1 * x2
    u3 = u1 + u2
    return build({"y": u1 * u3})


def main() -> None:
    with Client() as client:
        y = client.upload(lecture_circuit())
        print(f"C: {y.inputs} -> {y.outputs}; size {y.size}, wires {y.wires}, depth {y.depth}")
        for label, simplify in (("raw", False), ("simplified", True)):
            job = y.gradient(mode="backward", simplify=simplify)
            grad = job.wait(timeout=60).result
            print(
                f"∇C {label}: size {grad.size}, wires {grad.wires}, depth {grad.depth}"
                f"  (Theorem 3: at most 3·{y.wires} + {y.nodes} = {3 * y.wires + y.nodes})"
            )

        print("\nthe simplified gradient circuit, gate by gate:")
        doc = to_document(grad.download())
        n = len(doc["inputs"])
        names = {i: name for i, name in enumerate(doc["inputs"])}
        for k, gate in enumerate(doc["gates"]):
            v = n + k
            names[v] = f"v{v}"
            args = ", ".join(names[a] for a in gate.get("args", []))
            extra = {key: gate[key] for key in ("value", "coeffs", "p") if key in gate}
            outs = [doc["output_names"][i] for i, o in enumerate(doc["outputs"]) if o == v]
            shown = f"  = {' = '.join(outs)}" if outs else ""
            print(f"  v{v} = {gate['op']}({args}){' ' + str(extra) if extra else ''}{shown}")

        rng = np.random.default_rng(3)
        points = rng.uniform(-2, 2, size=(6, 2))
        got = grad.evaluate(points)  # columns: dy/dx1, dy/dx2
        x1, x2 = points.T
        expected = np.c_[
            2 * x1 + 2 * x2 + 2 * x1 * x2 + x2**2, 2 * x1 + 2 * x2 + 2 * x1 * x2 + x1**2
        ]
        print(
            f"\n{'x1':>8} {'x2':>8} {'dy/dx1':>10} {'lecture':>10} {'dy/dx2':>10} {'lecture':>10}"
        )
        for (a, c), (g1, g2), (e1, e2) in zip(points, got, expected, strict=True):
            print(f"{a:8.3f} {c:8.3f} {g1:10.4f} {e1:10.4f} {g2:10.4f} {e2:10.4f}")
        print(f"largest difference: {np.abs(got - expected).max():.1e}")
        assert np.allclose(got, expected, rtol=1e-12, atol=1e-12)


if __name__ == "__main__":
    main()
