"""Equation (1) of the lecture and gradient descent to its least-squares solution.

    f(x, y, z) = (x - 3y - 3z + 5)² + (x - 2y - 2z)² + (x + y - 5z - 3)²  =  ‖A·v - b‖²

The service parses the expression, backpropagation gives the gradient circuit (smaller
than forward propagation's, as Figure 3 is smaller than Figure 2), and gradient descent,
one evaluation of that circuit per step, walks to the solution of the least-squares
problem, which NumPy finds directly. Steps follow Barzilai and Borwein: plain gradient
descent whose step size is learnt from the last two gradients.

Run against a service (``circuitgrad serve``):

    CIRCUITGRAD_URL=http://127.0.0.1:8000 python examples/equation1_least_squares.py

``CIRCUITGRAD_URL=local`` runs the engine in this process instead.
"""

import numpy as np

from circuitgrad.client import Client

EQUATION_1 = "(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2"
A = np.array([[1.0, -3.0, -3.0], [1.0, -2.0, -2.0], [1.0, 1.0, -5.0]])
b = np.array([-5.0, 0.0, 3.0])


def main() -> None:
    with Client() as client:
        f = client.upload(EQUATION_1)
        print(f"f: size {f.size}, wires {f.wires}, depth {f.depth}  (Figure 1: 7, 17, 3)")
        forward = f.gradient(mode="forward", simplify=False).wait(timeout=60).result
        backward = f.gradient(mode="backward", simplify=False).wait(timeout=60).result
        print(
            f"∇f by forward propagation: size {forward.size}; by backpropagation: "
            f"size {backward.size} (Theorem 3 bound 3·w + nodes = {3 * f.wires + f.nodes})"
        )
        # one circuit for the value and the gradient: outputs f, df/dx, df/dy, df/dz
        grad = f.gradient(include_value=True).wait(timeout=60).result
        print(f"∇f simplified, with the value: {grad.outputs}, size {grad.size}")

        v = np.zeros(3)
        value, g = split(grad.evaluate(v))
        step = 0.01
        print(f"\n{'step':>4} {'f':>14} {'|∇f|':>12}   (x, y, z)")
        for k in range(1, 201):
            v_next = v - step * g
            value_next, g_next = split(grad.evaluate(v_next))
            s, yk = v_next - v, g_next - g
            step = float(s @ s / (s @ yk)) if s @ yk > 0 else step
            v, value, g = v_next, value_next, g_next
            if k % 5 == 0 or np.linalg.norm(g) < 1e-9:
                print(f"{k:>4} {value:>14.6e} {np.linalg.norm(g):>12.3e}   {np.round(v, 6)}")
            if np.linalg.norm(g) < 1e-9:
                break

        exact = np.linalg.lstsq(A, b, rcond=None)[0]
        print(f"\ngradient descent: {v}")
        print(f"NumPy lstsq:      {exact}   (difference {np.abs(v - exact).max():.1e})")
        assert np.allclose(v, exact, atol=1e-6)


def split(row: np.ndarray) -> tuple[float, np.ndarray]:
    return float(row[0]), row[1:]


if __name__ == "__main__":
    main()
