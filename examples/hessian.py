"""A Hessian by differentiating twice.

A gradient circuit is an ordinary circuit (circuit-format.md), so it can be
differentiated again: the gradient of ∇f is the Hessian, outputs ``ddf/dx/dy`` row-major.

    f(x, y, z) = x²·y + sin(x·z) + eʸ·z

is checked against its Hessian worked out by hand and against central differences of
the gradient circuit; for equation (1), the Hessian is the constant 2·AᵀA.
"""

import numpy as np

from circuitgrad.client import Client

F = "x**2*y + sin(x*z) + exp(y)*z"
EQUATION_1 = "(x - 3*y - 3*z + 5)**2 + (x - 2*y - 2*z)**2 + (x + y - 5*z - 3)**2"
A = np.array([[1.0, -3.0, -3.0], [1.0, -2.0, -2.0], [1.0, 1.0, -5.0]])


def hessian_by_hand(x, y, z):
    s, c = np.sin(x * z), np.cos(x * z)
    return np.array(
        [
            [2 * y - z**2 * s, 2 * x, c - x * z * s],
            [2 * x, z * np.exp(y), np.exp(y)],
            [c - x * z * s, np.exp(y), -(x**2) * s],
        ]
    )


def main() -> None:
    with Client() as client:
        f = client.upload(F)
        grad = f.gradient().wait(timeout=60).result
        hess = grad.gradient().wait(timeout=60).result
        print(f"f: size {f.size}; ∇f: size {grad.size}, outputs {grad.outputs}")
        print(f"∇∇f: size {hess.size}, outputs {hess.outputs}")

        points = np.array([[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-2.0, 1.0, 0.25]])
        H = hess.evaluate(points).reshape(-1, 3, 3)
        h = 1e-5
        shifted = (points[:, None, :] + h * np.eye(3)[None, :, :]).reshape(-1, 3)
        back = (points[:, None, :] - h * np.eye(3)[None, :, :]).reshape(-1, 3)
        # one batch for all shifted points: column j of H from ∇f(p ± h·eⱼ)
        diff = (grad.evaluate(shifted) - grad.evaluate(back)).reshape(-1, 3, 3) / (2 * h)
        for p, Hp, Dp in zip(points, H, diff, strict=True):
            exact = hessian_by_hand(*p)
            print(f"\nat (x, y, z) = {tuple(p.tolist())}:\n{np.round(Hp, 6)}")
            print(
                f"  by hand: max difference {np.abs(Hp - exact).max():.1e}; central "
                f"differences of ∇f: {np.abs(Hp - Dp.T).max():.1e}"
            )
            assert np.allclose(Hp, exact, rtol=1e-12, atol=1e-12)
            assert np.allclose(Hp, Dp.T, rtol=1e-6, atol=1e-6)
            assert np.allclose(Hp, Hp.T, atol=1e-12)

        eq1 = client.upload(EQUATION_1)
        hess1 = eq1.gradient().wait(timeout=60).result.gradient().wait(timeout=60).result
        H1 = hess1.evaluate({"x": 0.0, "y": 0.0, "z": 0.0}).reshape(3, 3)
        print(
            f"\nequation (1): the Hessian is constant, size {hess1.size} after "
            f"simplification\n{H1}\n2·AᵀA =\n{2 * A.T @ A}"
        )
        assert np.allclose(H1, 2 * A.T @ A)


if __name__ == "__main__":
    main()
