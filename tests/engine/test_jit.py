"""The interpreted path of the kernels (jit.py) gives what the compiled path gives, bit for
bit: the same gradient circuits, the same simplified circuits, the same values."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from randcircuit import circuits

from circuitgrad.engine import jit
from circuitgrad.engine.building.generate import equation1, random_dag
from circuitgrad.engine.core.measures import measures
from circuitgrad.engine.evaluation.evaluate import evaluate, tape_of
from circuitgrad.engine.evaluation.verify import verify
from circuitgrad.engine.formats.codec import content_id
from circuitgrad.engine.passes.gradient import differentiate
from circuitgrad.engine.passes.simplify import simplify

ARRAYS = ("op", "arg_offsets", "args", "coeffs", "param", "outputs")


def everything(c, X: np.ndarray) -> dict:
    """Every kernel's work on ``c``: gradients (both Jacobian modes, auto, J·v, uᵀ·J),
    simplification, measures, a tape, values at one point and at a batch, the check."""
    out = {"measures": measures(c), "simplified": simplify(c)}
    for mode in ("backward", "forward", "auto", "jvp", "vjp"):
        g = differentiate(c, mode=mode, include_value=mode == "forward")
        out[mode] = g.circuit
        out[mode + " raw"] = g.raw
        T = np.resize(X, (len(X), g.circuit.n_inputs))  # tangents, cotangents: more inputs
        out[mode + " values"] = evaluate(g.circuit, T)
        out[mode + " point"] = evaluate(g.circuit, T[0])
    out["check"] = str(verify(c, out["backward"]))  # NaN compares equal as text
    out["values"] = evaluate(c, X)
    tape = tape_of(out["backward"])
    out["tape"] = (tape.ins, tape.num, tape.pre, tape.n_slots)
    return out


def same(a, b, where: str) -> None:
    if hasattr(a, "op"):  # a circuit: arrays bit for bit, names, labels
        assert content_id(a) == content_id(b), where
        for name in ARRAYS:
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), (where, name)
        assert (a.inputs, a.output_names, a.labels) == (b.inputs, b.output_names, b.labels)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert a.tobytes() == b.tobytes(), where  # NaNs, signed zeros and last bits alike
    elif isinstance(a, tuple):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{where}[{i}]")
    else:
        assert a == b and type(a) is type(b), where


def compare(c, X) -> None:
    with jit.forced("python"):
        interpreted = everything(c, X)
    with jit.forced("compiled"):
        compiled = everything(c, X)
    for key in compiled:
        same(interpreted[key], compiled[key], key)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(circuits(max_gates=12), st.integers(0, 2**31))
def test_interpreted_and_compiled_agree_on_random_circuits(c, seed):
    X = np.random.default_rng(seed).normal(0, 1.5, (5, c.n_inputs))
    X[0, 0] = 0.0  # singular points too: x/0, log 0, sqrt of negatives...
    compare(c, X)


@pytest.mark.parametrize("seed", range(3))
def test_interpreted_and_compiled_agree_on_larger_random_dags(seed):
    c = random_dag(300, n_inputs=4, seed=seed, n_outputs=2)
    compare(c, np.random.default_rng(seed).normal(size=(7, 4)))


def test_equation_1():
    compare(equation1(), np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]))


def test_the_python_path_compiles_nothing():
    """In a process of its own (this one compiled): the whole engine, interpreted, leaves
    every Numba dispatcher uncompiled (none is reached through a module attribute, say)."""
    code = """
import gc
from numba.core.dispatcher import Dispatcher
from circuitgrad.worker.precompile import workload
workload()
def dispatcher(d):
    try:
        return isinstance(d, Dispatcher)
    except ReferenceError:  # a dead weak proxy among the objects
        return False
compiled = [d.py_func.__qualname__ for d in gc.get_objects() if dispatcher(d) and d.signatures]
print(compiled)
"""
    env = {**os.environ, "CIRCUITGRAD_ENGINE_MODE": "python"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_auto_interprets_small_inputs_only(monkeypatch):
    entry = jit.entry(jit.ENTRIES[0].dispatcher)
    assert entry is jit.ENTRIES[0] and len(jit.ENTRIES) >= 20
    calls = []
    monkeypatch.setattr(entry, "_ready", False)
    monkeypatch.setattr(entry, "_from_cache", lambda args: False)
    monkeypatch.setattr(entry, "python", lambda *a: calls.append("python"))
    monkeypatch.setattr(entry, "dispatcher", lambda *a: calls.append("compiled"))
    monkeypatch.setattr(entry, "cost", lambda *a: jit.LIMIT)
    entry(1)
    monkeypatch.setattr(entry, "cost", lambda *a: jit.LIMIT + 1)
    entry(1)
    entry(1)  # compiled once: compiled from then on
    assert calls == ["python", "compiled", "compiled"]
