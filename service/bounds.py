"""Every job is bounded before it runs; synchronous work is bounded before it starts.

A gradient's raw result is predicted (``engine.passes.predict``: dependency bitsets, at
most 16 sweeps of 64 seeds each way, O(wires × sweeps)) and so is the work of its pass
(one sweep over the circuit's vertices and wires per 64 seeds: ``wrt`` inputs forward,
``of`` outputs backward). A request whose mode — for ``auto``, the mode the engine will
pick, the smaller predicted result — is over either limit is a 422 at submission, naming
the prediction and the limit; it never becomes a job.
"""

from __future__ import annotations

from circuitgrad.engine.core.circuit import Circuit
from circuitgrad.engine.core.layout import DIRECTIONAL_MODES
from circuitgrad.engine.passes.gradient import choose_mode
from circuitgrad.engine.passes.predict import SEEDS_PER_SWEEP, predicted_size
from circuitgrad.worker.settings import Settings

from .errors import Invalid


def sweeps(seeds: int) -> int:
    return -(-seeds // SEEDS_PER_SWEEP)


def check_gradient(c: Circuit, options: dict, s: Settings) -> dict:
    """The predicted raw sizes of both Jacobian modes, or of the directional mode asked for
    (422 when the request is over a limit)."""
    if options["mode"] in DIRECTIONAL_MODES:  # one or two sweeps: only the size can be large
        mode = options["mode"]
        size = predicted_size(c, mode, options["wrt"], options["of"])
        if size > s.max_result_gates:
            raise Invalid(
                errors=[
                    (
                        "/mode",
                        f"{mode} would build about {round(size):,} gates; the limit is "
                        f"{s.max_result_gates:,} (CIRCUITGRAD_MAX_RESULT_GATES)",
                    )
                ]
            )
        return {mode: size}
    picked, sizes = choose_mode(c, options["wrt"], options["of"])
    mode = options["mode"] if options["mode"] != "auto" else picked
    n_wrt = len(c.inputs) if options["wrt"] is None else len(options["wrt"])
    n_of = len(c.output_names) if options["of"] is None else len(options["of"])
    passes = sweeps(n_wrt if mode == "forward" else n_of)
    work = passes * (c.n_vertices + c.n_wires)
    chosen = "auto picks the smaller, " if options["mode"] == "auto" else ""
    errors = []
    if sizes[mode] > s.max_result_gates:
        other = "backward" if mode == "forward" else "forward"
        errors.append(
            f"{chosen}{mode} mode would build about {round(sizes[mode]):,} gates "
            f"({other}: about {round(sizes[other]):,}); the limit is {s.max_result_gates:,} "
            "(CIRCUITGRAD_MAX_RESULT_GATES)"
        )
    if work > s.max_job_work:
        seeds = "wrt inputs" if mode == "forward" else "of outputs"
        errors.append(
            f"{chosen}{mode} mode would take about {work:,} steps ({passes:,} sweeps, one per "
            f"{SEEDS_PER_SWEEP} {seeds}, of {c.n_vertices + c.n_wires:,} vertices and "
            f"wires); the limit is {s.max_job_work:,} (CIRCUITGRAD_MAX_JOB_WORK)"
        )
    if errors:
        raise Invalid(errors=[("/mode", message) for message in errors])
    return sizes


def sync_work(c: Circuit, points: int) -> int:
    """The work of evaluating ``c`` at ``points`` points: (vertices + outputs) × points."""
    return (c.n_vertices + len(c.output_names)) * points


def check_evaluation(c: Circuit, points: int, s: Settings) -> None:
    """422 for an evaluation job over the work or the values limit (its values are answered
    in one response, ``GET /v1/jobs/{id}/values``)."""
    errors = []
    work, values = sync_work(c, points), points * len(c.output_names)
    if work > s.max_eval_work:
        errors.append(
            f"{points:,} points of a circuit of {c.n_vertices:,} vertices and "
            f"{len(c.output_names):,} outputs would take about {work:,} steps; the limit is "
            f"{s.max_eval_work:,} (CIRCUITGRAD_MAX_EVAL_WORK)"
        )
    if values > s.max_eval_values:
        errors.append(
            f"{points:,} points × {len(c.output_names):,} outputs would give {values:,} values; "
            f"the limit is {s.max_eval_values:,} (CIRCUITGRAD_MAX_EVAL_VALUES)"
        )
    if errors:
        raise Invalid(errors=[("/points", message) for message in errors])


def evaluates_synchronously(c: Circuit, points: int, s: Settings) -> bool:
    """Small enough to answer in the request: under both the point and the work limits
    (``CIRCUITGRAD_MAX_SYNC_POINTS``, ``CIRCUITGRAD_MAX_SYNC_WORK``)."""
    return points <= s.max_sync_points and sync_work(c, points) <= s.max_sync_work
