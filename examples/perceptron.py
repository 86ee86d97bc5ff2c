"""Training the lecture's perceptron on its table of students.

    f(w₀, w₁, w₂, w₃) = Σ_s (ŷ(s) − σ(w₀ + w₁x₁(s) + w₂x₂(s) + w₃x₃(s)))²

x₁ is the homework average, x₂ the project grade, x₃ the hours studied per week and ŷ
whether the student got an A. The lecture shows four rows (Alice, Bob, Charlie, Zack);
``students.csv`` completes them with sixteen made-up but plausible students. Features
are standardised (z-scores) before they become constants of the circuit, which only
rescales the weights and lets one step size suit all of them.

The loss is built as an engine circuit with the expression builder and uploaded; the
service differentiates it, and gradient descent evaluates the gradient circuit once per
step. The first gradient is checked against a NumPy formula.
"""

import csv
from pathlib import Path

import numpy as np

from circuitgrad.client import Client
from circuitgrad.engine.building.expr import build, inputs, sigmoid

TABLE = Path(__file__).with_name("students.csv")
STEPS, RATE = 300, 0.5


def load_students():
    with TABLE.open() as f:
        rows = list(csv.DictReader(f))
    names = [r["name"] for r in rows]
    X = np.array([[float(r[k]) for k in ("homework", "project", "hours")] for r in rows])
    y = np.array([1.0 if r["got_A"] == "yes" else 0.0 for r in rows])
    return names, X, y


def loss_circuit(Z: np.ndarray, y: np.ndarray):
    w0, w1, w2, w3 = inputs("w0 w1 w2 w3")
    total = 0.0
    for (z1, z2, z3), target in zip(Z, y, strict=True):
        total = total + (target - sigmoid(w0 + z1 * w1 + z2 * w2 + z3 * w3)) ** 2
    return build({"f": total})


def numpy_gradient(w, Z1, y):
    p = 1.0 / (1.0 + np.exp(-(Z1 @ w)))
    return Z1.T @ (-2.0 * (y - p) * p * (1.0 - p))


def main() -> None:
    names, X, y = load_students()
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std
    with Client() as client:
        f = client.upload(loss_circuit(Z, y))
        print(
            f"loss circuit over {len(names)} students: size {f.size}, wires {f.wires}, "
            f"depth {f.depth}"
        )
        sizes = {
            m: f.gradient(mode=m, simplify=False).wait(timeout=60).result.size
            for m in ("forward", "backward")
        }
        print(
            f"∇f raw sizes with 4 parameters: forward {sizes['forward']}, "
            f"backward {sizes['backward']} (the same order: only 4 parameters)"
        )
        grad = f.gradient(include_value=True).wait(timeout=60).result

        w = np.zeros(4)
        Z1 = np.c_[np.ones(len(Z)), Z]
        first = grad.evaluate(w)[1:]
        print(
            f"first gradient {np.round(first, 6)}; NumPy formula agrees to "
            f"{np.abs(first - numpy_gradient(w, Z1, y)).max():.1e}"
        )
        print(f"\n{'step':>5} {'loss':>10}   weights (w0, w1, w2, w3) on standardised features")
        for step in range(STEPS + 1):
            row = grad.evaluate(w)
            if step % 50 == 0:
                print(f"{step:>5} {row[0]:10.5f}   {np.round(w, 4)}")
            w = w - RATE * row[1:]

        p = 1.0 / (1.0 + np.exp(-(Z1 @ w)))
        print(f"\n{'student':<9} {'x1':>4} {'x2':>4} {'x3':>4} {'A?':>4} {'σ(...)':>8}")
        for name, x, target, prob in zip(names, X, y, p, strict=True):
            print(
                f"{name:<9} {x[0]:4.0f} {x[1]:4.0f} {x[2]:4.0f} {'yes' if target else 'no':>4}"
                f" {prob:8.3f}"
            )
        raw = w[1:] / std
        print(
            f"\nin the lecture's units: σ({w[0] - raw @ mean:.3f} + {raw[0]:.3f}·x1 + "
            f"{raw[1]:.3f}·x2 + {raw[2]:.3f}·x3)"
        )
        print(f"training accuracy {np.mean((p > 0.5) == (y > 0.5)):.0%}")


if __name__ == "__main__":
    main()
