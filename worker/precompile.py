"""The engine's kernels compiled in the background, into Numba's on-disk cache.

    python -m circuitgrad.worker.precompile [--progress]

A fresh installation has no compiled kernels; compiling them all takes a minute or more.
Meanwhile every process runs them as Python on small inputs (``engine/jit.py``) and
switches to the compiled code as soon as this process has put it on disk. It runs the
engine on small circuits in every mode (compiled mode: ``CIRCUITGRAD_ENGINE_MODE``),
at low priority, one at a time per cache (a lock file), printing with ``--progress``::

    compiling the engine's kernels in the background (first start only)... 12/22

and writes a marker when done: ``needed()`` is then False for this installation (the
engine's files where they are, as they are — Numba's cache keys — this Numba, this
Python, this ``NUMBA_CACHE_DIR``). ``circuitgrad serve`` starts it every time (it stops
at once when the marker is there) and local mode when ``needed()``;
``CIRCUITGRAD_BACKGROUND_COMPILE=0`` stops both from doing so.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

MESSAGE = "compiling the engine's kernels in the background (first start only)..."


def _engine_dir() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("circuitgrad.engine")
    return Path(next(iter(spec.submodule_search_locations)))


def fingerprint() -> str:
    """What Numba's cache of the engine depends on: the sources (path, size, time), Numba,
    Python, the cache's location."""
    from importlib.metadata import version  # not numba itself: a second of importing

    h = hashlib.sha256(f"{version('numba')} {sys.version} {sys.executable}".encode())
    h.update(os.environ.get("NUMBA_CACHE_DIR", "").encode())
    for path in sorted(_engine_dir().rglob("*.py")):
        st = path.stat()
        h.update(f"{path} {st.st_size} {st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


def _folder() -> Path:
    from circuitgrad.engine.cachedir import cache_dir

    folder = cache_dir()
    if folder is None:
        raise OSError("no writable cache folder for the kernels")
    return folder


def marker() -> Path:
    return _folder() / f"compiled-{fingerprint()}"


def enabled() -> bool:
    """``CIRCUITGRAD_BACKGROUND_COMPILE`` is not ``0``."""
    return os.environ.get("CIRCUITGRAD_BACKGROUND_COMPILE", "1").strip().lower() not in (
        "0",
        "no",
        "false",
    )


def needed() -> bool:
    """Whether the kernels of this installation still have to be compiled (this imports
    the engine: ``circuitgrad serve`` starts the compiler regardless, which stops at once
    when there is nothing to do)."""
    if not enabled():
        return False
    try:
        return not marker().exists()
    except OSError:
        return False


def start_detached() -> subprocess.Popen | None:
    """Start the compiler on its own (it outlives its starter: local mode, one CLI call),
    if ``needed()``."""
    if not needed():
        return None
    return subprocess.Popen(
        [sys.executable, "-m", "circuitgrad.worker.precompile"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def workload() -> None:
    """The engine on small circuits, every kernel on the argument types the service uses."""
    import numpy as np

    from circuitgrad.engine.building.generate import equation1, random_dag
    from circuitgrad.engine.building.parser import parse_expression
    from circuitgrad.engine.core.measures import measures
    from circuitgrad.engine.evaluation.evaluate import evaluate
    from circuitgrad.engine.evaluation.verify import verify
    from circuitgrad.engine.formats.codec import from_msgpack, to_json, to_msgpack
    from circuitgrad.engine.passes.gradient import differentiate

    scaled = parse_expression("3*sin(x)")  # a scaled derivative: the gate emitter
    for c in (equation1(), random_dag(50, n_inputs=3, seed=0, n_outputs=2), scaled):
        for mode in ("backward", "forward", "auto", "jvp", "vjp"):
            g = differentiate(c, mode=mode, include_value=mode == "forward")
            evaluate(g.circuit, np.ones(g.circuit.n_inputs))
            evaluate(g.circuit, np.ones((64, g.circuit.n_inputs)))
            verify(c, g.circuit, g.mode, include_value=mode == "forward")  # every job's check
            from_msgpack(to_msgpack(g.circuit, packed=True))
            to_json(g.circuit)
            measures(g.circuit)
        differentiate(c, simplify=False)
        differentiate(c, mode="backward", provenance=True)  # the gradient's picture


def compile_all(progress: bool) -> float:
    from circuitgrad.engine import jit

    done = threading.Event()

    def report():
        shown = -1
        while not done.wait(5.0):
            n = jit.compiled_entries()
            if n != shown:
                print(f"{MESSAGE} {n}/{len(jit.ENTRIES)}", flush=True)
                shown = n

    if progress:
        print(f"{MESSAGE} 0/{len(jit.ENTRIES)}", flush=True)
        threading.Thread(target=report, daemon=True).start()
    t = time.monotonic()
    try:
        workload()
    finally:
        done.set()
    return time.monotonic() - t


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m circuitgrad.worker.precompile")
    parser.add_argument("--progress", action="store_true", help="print progress lines")
    args = parser.parse_args(argv)
    os.environ["CIRCUITGRAD_ENGINE_MODE"] = "compiled"  # before the engine is imported
    try:
        os.nice(10)  # the service comes first
    except OSError:
        pass
    folder = _folder()
    with open(folder / "compile.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return 0  # another process compiles them right now
        if marker().exists():
            return 0
        seconds = compile_all(args.progress)
        from circuitgrad.engine import jit

        marker().write_text(f"compiled in {seconds:.1f} s\n")
        if args.progress:
            n, total = jit.compiled_entries(), len(jit.ENTRIES)
            print(f"compiled the engine's kernels in {seconds:.0f} s ({n}/{total})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
