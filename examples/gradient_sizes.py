"""Forward propagation versus backpropagation: gradient circuit sizes as inputs grow.

The lecture: for a circuit with n inputs, s gates and w wires, forward propagation
builds ∇C with Θ(n·(s + w)) gates, backpropagation with O(n + s + w) — at most
3·w + nodes (Theorem 3). The family here,

    f(x₁, …, xₙ) = tₙ,  t₁ = x₁,  tₖ = tanh(tₖ₋₁ · xₖ + xₖ),

a chain (a deep, narrow network) in which every tₖ depends on x₁ … xₖ. Forward
propagation carries up to n partial derivatives through every gate, backpropagation one;
s and w grow linearly in n, so the forward column grows like n² and the backward one
like n. Sizes are of the raw results (``simplify=False``), which is what
the theorems count; the simplified sizes follow. All jobs are submitted first and then
waited for, so the service's workers run them side by side.
"""

from circuitgrad.client import Client
from circuitgrad.engine.building.expr import build, inputs, tanh

SIZES = (2, 4, 8, 16, 32, 64, 128, 256)


def family(n: int):
    xs = inputs([f"x{i}" for i in range(1, n + 1)])
    t = xs[0]
    for x in xs[1:]:
        t = tanh(t * x + x)
    return build({"f": t})


def main() -> None:
    with Client() as client:
        circuits = {n: client.upload(family(n)) for n in SIZES}
        jobs = {
            (n, mode, simplify): ref.gradient(mode=mode, simplify=simplify)
            for n, ref in circuits.items()
            for mode in ("forward", "backward")
            for simplify in (False, True)
        }
        size = {key: job.wait(timeout=300).result.size for key, job in jobs.items()}

        head = (
            f"{'n':>5} {'s':>5} {'w':>5} {'forward':>9} {'backward':>9} {'3w+nodes':>9}"
            f" {'fwd/(n(s+w))':>13} {'bwd/(n+s+w)':>12} {'fwd simp.':>10} {'bwd simp.':>10}"
        )
        print(head)
        for n, ref in circuits.items():
            s, w = ref.size, ref.wires
            fwd, bwd = size[n, "forward", False], size[n, "backward", False]
            print(
                f"{n:>5} {s:>5} {w:>5} {fwd:>9} {bwd:>9} {3 * w + ref.nodes:>9}"
                f" {fwd / (n * (s + w)):>13.3f} {bwd / (n + s + w):>12.3f}"
                f" {size[n, 'forward', True]:>10} {size[n, 'backward', True]:>10}"
            )
            assert bwd <= 3 * w + ref.nodes  # Theorem 3
        print("forward / (n·(s+w)) and backward / (n+s+w) level off: Θ(n·(s+w)) against O(n+s+w)")


if __name__ == "__main__":
    main()
