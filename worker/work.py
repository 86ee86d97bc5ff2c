"""What a task does: load a job, run the engine, store the result, update the record.

An engine error becomes a ``failed`` job carrying a problem document, never a crashed
worker; so does a job that outgrows its memory budget. A cancelled job records no result:
the engine polls ``should_stop`` between chunks of work, and the worker's main process
stops a cancelled job's process from outside (worker/watch.py). Result writes that fail
because Redis is away are tried again for a while (``patiently``).
"""

from __future__ import annotations

import logging
import os
import time

from circuitgrad.engine.errors import Cancelled, CircuitError
from circuitgrad.engine.evaluation.evaluate import evaluate
from circuitgrad.engine.evaluation.verify import verify
from circuitgrad.engine.passes.gradient import Gradient, differentiate

from . import batches
from .errors import BlobMissing, StoreError, StoreFull, StoreUnavailable
from .jobs import FINAL
from .problems import invalid, problem
from .runtime import Runtime

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.2  # seconds between progress writes
CANCEL_CHECK_EVERY = 0.05  # seconds between reads of the cancellation flag


class Hooks:
    """The engine's ``progress`` and ``should_stop`` callbacks for one job, throttled. The
    store being away is no reason to stop computing: a progress write that fails is
    skipped, and a cancellation that cannot be read is not assumed (the worker's main
    process also stops a cancelled job from outside: worker/watch.py)."""

    def __init__(self, rt: Runtime, job_id: str):
        self.rt, self.job_id = rt, job_id
        self._last_progress = self._last_check = time.monotonic()  # just claimed: running
        self._written = 0.0
        self._stopped = False

    def progress(self, fraction: float) -> None:
        """Written at most every PROGRESS_EVERY seconds, but every tenth reached is written
        (0.9 marks the start of simplification: phases stay visible)."""
        t = time.monotonic()
        new_tenth = int(fraction * 10) > int(self._written * 10)
        if (t - self._last_progress >= PROGRESS_EVERY or new_tenth) and fraction < 1.0:
            self._last_progress, self._written = t, fraction
            try:
                self.rt.jobs.progress(self.job_id, fraction)
            except StoreUnavailable:
                pass

    def should_stop(self, force: bool = False) -> bool:
        t = time.monotonic()
        if not self._stopped and (force or t - self._last_check >= CANCEL_CHECK_EVERY):
            self._last_check = t
            try:
                self._stopped = self.rt.jobs.status(self.job_id) in (None, *FINAL)
            except StoreUnavailable:
                pass
        return self._stopped


def patiently(rt: Runtime, write):
    """``write()``, tried again while the store is away (a Redis restart), for up to the
    configured patience: a computed result is not thrown away because Redis blinked."""
    deadline = time.monotonic() + rt.settings.store_patience_seconds
    delay = 0.25
    while True:
        try:
            return write()
        except StoreUnavailable:
            if time.monotonic() + delay > deadline:
                raise
            log.warning("store unavailable; retrying a result write in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def holder_is_dead(holder: dict, worker: str) -> bool:
    """The lease's holder is a process of this same worker that no longer exists."""
    if holder.get("worker") != worker or not (holder.get("worker_pid") or "").isdigit():
        return False
    try:
        os.kill(int(holder["worker_pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def exhausted_problem(tries: int) -> dict:
    return problem(
        500,
        "worker-lost",
        "Worker lost",
        f"the job stopped its worker {tries} times and is given up",
    )


def amount(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n >> 20} MiB"


def memory_problem(limit: int) -> dict:
    return problem(
        507,
        "memory-budget",
        "Memory budget exceeded",
        f"the job needed more memory than its budget of {amount(limit)} "
        "(CIRCUITGRAD_JOB_MEMORY_BYTES); a smaller circuit, fewer inputs (forward mode) or "
        "backward mode may fit",
    )


def claim(rt: Runtime, job_id: str, worker: str) -> tuple[str, dict | None]:
    s = rt.settings
    exhausted = exhausted_problem(s.max_deliveries)
    outcome, job = rt.jobs.claim(job_id, worker, s.max_deliveries, exhausted)
    if outcome == "busy" and holder_is_dead(job, worker):  # our own pool process died
        outcome, job = rt.jobs.claim(job_id, worker, s.max_deliveries, exhausted, True)
    return outcome, job if outcome == "claimed" else None


def run_gradient(rt: Runtime, job_id: str, worker: str) -> str:
    """Compute a gradient job; returns what happened (for logs and tests)."""
    outcome, job = claim(rt, job_id, worker)
    if job is None:
        return outcome
    hooks = Hooks(rt, job_id)
    try:
        c = rt.circuits.get(job["circuit_id"])
        options = dict(job["options"])
        check = options.pop("verify", True)  # jobs from before the option: checked
        g = differentiate(c, progress=hooks.progress, should_stop=hooks.should_stop, **options)
        cert = g.certificate()
        if check and hooks.should_stop(force=True):
            return "cancelled"
        checked = verification(g, options) if check else None
        done = -1
        while done < 0:  # stored again if its last reader deleted it between the two steps
            meta, _ = patiently(rt, lambda: rt.circuits.put(g.circuit, measured=cert["result"]))
            result = gradient_result(meta, g, cert, checked)
            # a result finished after a cancellation is not recorded; its circuit, which
            # other jobs may share (ids are content hashes), expires with the retention
            done = patiently(rt, lambda: rt.jobs.succeed(job, result))  # noqa: B023
        return "succeeded" if done else "cancelled"
    except Cancelled:
        return "cancelled"
    except CircuitError as e:
        rt.jobs.fail(job_id, invalid(e.errors, "the engine rejected the request"))
        return "failed"
    except BlobMissing:  # retryable: storing the circuit again makes a new job of it
        missing = problem(404, "not-found", "Not found", "the job's circuit is no longer stored")
        rt.jobs.fail(job_id, missing, retryable=True)
        return "failed"
    except StoreFull as e:
        rt.jobs.fail(job_id, store_full_problem(e), retryable=True)
        return "failed"


# what the check may raise on a circuit it did not foresee; anything else is a bug that
# fails the job as any other (time limits and cancellation pass through)
CHECK_ERRORS = (ArithmeticError, ValueError, TypeError, IndexError, MemoryError)


def verification(g: Gradient, options: dict) -> dict:
    """The result checked against its source at seeded points (engine ``verify``); the
    check never fails the job: if it cannot run, it says so in the record."""
    try:
        return verify(
            g.source_circuit, g.circuit, g.mode, options.get("wrt"), options.get("of"),
            options.get("include_value", False),
        )  # fmt: skip
    except CHECK_ERRORS as e:
        log.exception("the check of a %s result could not run", g.mode)
        return {"passed": None, "reason": f"the check could not run: {type(e).__name__}: {e}"}


def gradient_result(meta: dict, g, cert: dict, checked: dict | None = None) -> dict:
    """The result summary with its size certificate (source, raw and result measures) and
    the record of its check (``checked``, absent when the request said ``verify: false``)."""
    raw = cert["raw"]
    certificate = {
        "mode": cert["mode"],
        "source": cert["source"],
        "raw": raw,
        "result": cert["result"],
    }
    if g.bound is not None:
        certificate["theorem3_bound"] = g.bound
        certificate["within_bound"] = raw["size"] <= g.bound
    if cert.get("predicted") is not None:
        certificate["predicted"] = cert["predicted"]
    if cert.get("gradient") is not None:
        certificate["gradient"] = cert["gradient"]
    if checked is not None:
        certificate["verification"] = checked
    return {
        "circuit_id": meta["id"],
        "size": meta["size"],
        "depth": meta["depth"],
        "wires": meta["wires"],
        "nodes": meta["nodes"],
        "outputs": meta["outputs"],
        "mode": g.mode,
        "certificate": certificate,
    }


def store_full_problem(e: Exception) -> dict:
    return problem(
        503, "store-full", "Store full", f"the store refused a write at its memory limit: {e}"
    )


# -- evaluation jobs ---------------------------------------------------------------------
def run_evaluation_chunk(rt: Runtime, job_id: str, index: int, worker: str = "worker") -> str:
    """Evaluate chunk ``index`` of an evaluation job; the last chunk done completes the job."""
    job = rt.jobs.get(job_id)
    if job is None:
        return "missing"
    if job["status"] in FINAL:
        return "final"
    tries = rt.jobs.begin_chunk(job_id, index, worker)
    if tries < 0:
        return "final"
    if tries > rt.settings.max_deliveries:
        rt.jobs.fail(job_id, exhausted_problem(tries - 1))
        return "exhausted"
    chunks = int(job["chunks"])
    try:
        if not rt.blobs.exists(batches.values_blob(job_id, index)):
            c = rt.circuits.get(job["circuit_id"])
            values = evaluate(c, rt.blobs.get_array(batches.points_blob(job_id, index)))
            if rt.jobs.status(job_id) in FINAL:
                return "final"
            patiently(rt, lambda: rt.blobs.put_array(batches.values_blob(job_id, index), values))
        result = {
            "outputs": job["options"]["outputs"],
            "points": job["options"]["points"],
            "chunks": chunks,
        }
        done = patiently(rt, lambda: rt.jobs.chunk_done(job_id, index, chunks, result))
        if done == 0:  # cancelled or failed meanwhile: keep nothing
            batches.discard(rt.blobs, job_id, chunks)
            return "final"
        if done == 2:
            batches.discard(rt.blobs, job_id, chunks, values=False)  # inputs not needed now
        return "succeeded" if done == 2 else "chunk-done"
    except BlobMissing:  # retryable: submitting the points again makes a new job
        detail = "the job's circuit or points are no longer stored"
        rt.jobs.fail(job_id, problem(404, "not-found", "Not found", detail), retryable=True)
        return "failed"
    except StoreFull as e:
        rt.jobs.fail(job_id, store_full_problem(e), retryable=True)
        return "failed"


def fail_unexpected(rt: Runtime, job_id: str, exc: BaseException) -> None:
    """A bug or a time limit: the job fails with a problem document instead of hanging."""
    try:
        rt.jobs.fail(
            job_id, problem(500, "job-error", "Job failed", f"{type(exc).__name__}: {exc}")
        )
    except StoreError:
        log.exception("could not record the failure of job %s", job_id)
