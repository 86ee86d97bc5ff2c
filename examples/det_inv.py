"""DET → INV through backpropagation (lecture, section 5), checked against NumPy.

Cramer's rule says INV(X)ᵢⱼ = ∂DET(X)/∂Xⱼᵢ / DET(X): the inverse is the transposed gradient
of the determinant divided by the determinant. So a circuit for DET of size s gives,
through backpropagation, a circuit for INV of size O(s) (Theorem 3).

DET here is Gaussian elimination without pivoting (Θ(n³) gates with divisions), built
with the engine's expression builder. One gradient job with ``include_value`` gives a
circuit whose outputs are DET and its n² partial derivatives; one batched evaluation
then inverts a thousand random matrices, compared with ``numpy.linalg.inv``.
"""

import numpy as np

from circuitgrad.client import Client
from circuitgrad.engine.building.expr import build, inputs

N = 4
MATRICES = 1000


def entry(i: int, j: int) -> str:
    return f"X[{i}][{j}]"


def det_circuit(n: int):
    xs = inputs([entry(i, j) for i in range(n) for j in range(n)])
    M = [[xs[i * n + j] for j in range(n)] for i in range(n)]
    det = 1.0
    for k in range(n):
        det = det * M[k][k]
        for i in range(k + 1, n):
            factor = M[i][k] / M[k][k]
            for j in range(k + 1, n):
                M[i][j] = M[i][j] - factor * M[k][j]
    return build({"det": det})


def main() -> None:
    with Client() as client:
        det = client.upload(det_circuit(N))
        print(f"DET of {N}×{N}: size {det.size}, wires {det.wires}, depth {det.depth}")
        job = det.gradient(mode="backward", include_value=True)
        grad = job.wait(timeout=120).result
        raw = det.gradient(mode="backward", simplify=False).wait(timeout=120).result
        print(
            f"[DET, ∇DET]: size {grad.size} (raw ∇DET {raw.size}; Theorem 3 bound "
            f"{3 * det.wires + det.nodes}); ratio to DET {grad.size / det.size:.1f}"
        )

        rng = np.random.default_rng(0)
        X = rng.normal(size=(MATRICES, N, N)) + N * np.eye(N)  # well-conditioned on average
        out = grad.evaluate(X.reshape(MATRICES, N * N))  # inputs in row-major order
        dets, gradients = out[:, 0], out[:, 1:].reshape(MATRICES, N, N)
        inverses = np.transpose(gradients, (0, 2, 1)) / dets[:, None, None]

        expected = np.linalg.inv(X)
        det_error = np.abs(dets - np.linalg.det(X)).max() / np.abs(dets).max()
        error = np.abs(inverses - expected).max()
        print(
            f"{MATRICES} matrices in one evaluation: max |DET - numpy.linalg.det| / max|DET| "
            f"= {det_error:.1e}, max |INV - numpy.linalg.inv| = {error:.1e}"
        )
        print(
            f"first matrix:\n{np.round(X[0], 3)}\nits inverse from ∇DET/DET:\n"
            f"{np.round(inverses[0], 5)}"
        )
        assert det_error < 1e-12 and error < 1e-9

        print(f"\n{'n':>3} {'size DET':>9} {'size [DET, ∇DET]':>17} {'ratio':>6}")
        jobs = {n: client.upload(det_circuit(n)) for n in (2, 3, 4, 6, 8, 12)}
        grads = {n: ref.gradient(include_value=True) for n, ref in jobs.items()}
        for n, ref in jobs.items():
            size = grads[n].wait(timeout=120).result.size
            print(f"{n:>3} {ref.size:>9} {size:>17} {size / ref.size:>6.2f}")
        print("the ratio stays bounded: INV costs O(size of DET), as Theorem 3 promises")


if __name__ == "__main__":
    main()
