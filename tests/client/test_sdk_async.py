"""``AsyncClient``: the same surface as ``Client``, awaited — against the real service and
in local mode. Each test runs one coroutine with ``asyncio.run``."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from circuitgrad.client import (
    AsyncClient,
    Conflict,
    JobCancelled,
    NotFound,
    Timeout,
    ValidationError,
)
from circuitgrad.engine.building.expr import build, inputs, tanh
from circuitgrad.engine.formats.codec import content_id

EQ1 = "(x-3*y-3*z+5)**2 + (x-2*y-2*z)**2 + (x+y-5*z-3)**2"
A = np.array([[1.0, -3.0, -3.0], [1.0, -2.0, -2.0], [1.0, 1.0, -5.0]])
B = np.array([-5.0, 0.0, 3.0])


def run(connect, body, **kw):
    async def main():
        async with connect(AsyncClient, **kw) as client:
            return await body(client)

    return asyncio.run(main())


def test_async_circuits_evaluation_and_gradients(connect):
    P = np.random.default_rng(3).normal(size=(5, 3))

    async def body(client):
        f = await client.upload(EQ1)
        assert (f.size, f.wires, f.depth) == (7, 17, 3)
        again = await client.circuit(f.id)
        assert again.measures == f.measures and again.inputs == ["x", "y", "z"]
        circuit = await f.download()
        assert content_id(circuit) == f.id
        values = await f.evaluate(P)
        np.testing.assert_allclose(values[:, 0], ((P @ A.T - B) ** 2).sum(axis=1), rtol=1e-13)
        job = await f.gradient(mode="auto", include_value=True)
        assert job.kind == "gradient" and not isinstance(job.status, type(None))
        assert await job.wait(timeout=60) is job and job.status == "succeeded"
        grad = job.result
        assert grad.outputs == ["f", "df/dx", "df/dy", "df/dz"]
        got = await grad.evaluate([{"x": 1.0, "y": 2.0, "z": 3.0}])
        np.testing.assert_allclose(got[0, 1:], 2 * (A @ [1, 2, 3] - B) @ A)
        same = await client.job(job.id)
        assert (await same.reload()).result.id == grad.id
        return True

    assert run(connect, body)


def test_async_gradients_run_side_by_side(connect):
    async def body(client):
        refs = await asyncio.gather(*(client.upload(f"(x - {k})**2 * y") for k in range(4)))
        jobs = await asyncio.gather(*(r.gradient(wrt=["x"]) for r in refs))
        await asyncio.gather(*(j.wait(timeout=60) for j in jobs))
        values = await asyncio.gather(*(j.result.evaluate({"x": 1.0, "y": 3.0}) for j in jobs))
        return [v[0] for v in values]

    assert run(connect, body) == [2 * (1 - k) * 3 for k in range(4)]


def test_async_errors_and_evaluation_jobs(connect):
    async def body(client):
        with pytest.raises(ValidationError) as info:
            await client.upload(
                {"inputs": ["x"], "gates": [{"op": "sin", "args": [1]}], "outputs": [1]}
            )
        assert "/gates/0/args/0" in [e.path for e in info.value.errors]
        with pytest.raises(NotFound):
            await client.job("0" * 32)
        f = await client.upload(EQ1)
        with pytest.raises(ValidationError):
            await f.gradient(wrt=["nope"])
        P = np.random.default_rng(4).normal(size=(300, 3))
        values = await client.evaluate(f, P, job=True)
        np.testing.assert_allclose(values[:, 0], ((P @ A.T - B) ** 2).sum(axis=1), rtol=1e-13)
        assert (await client.health())["status"] == "ok" and await client.ready() is True

    run(connect, body)


def test_async_cancel_and_wait_timeout(connect):
    xs = inputs([f"x{i}" for i in range(2_000)])
    t = xs[0]
    for x in xs[1:]:
        t = tanh(t * x + x)
    chain = build({"f": t})

    async def body(client):
        job = await client.gradient(chain, mode="forward", simplify=False)
        with pytest.raises(Timeout):
            await job.wait(timeout=0.2)
        deadline = time.monotonic() + 30
        while job.status == "queued" and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
            await job.reload()
        assert (await job.cancel()).status == "cancelled"
        with pytest.raises(JobCancelled):
            await job.wait(timeout=10)
        with pytest.raises(Conflict):
            await job.cancel()

    run(connect, body)
