"""The SDK's listings, deletion and usage: local mode and a live service, sync and async."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from circuitgrad.client import AsyncClient, CircuitRef, Job, NotFound


def test_list_delete_and_usage(connect):
    client = connect()
    tag = uuid.uuid4().hex[:8]  # the service mode's tenant is shared with other tests
    refs = [client.upload(f"x_{tag} * {i + 2} + y") for i in range(5)]
    since = datetime.now(UTC) - timedelta(minutes=5)
    listed = list(client.circuits(page_size=2, created_after=since))
    ids = [r.id for r in listed]
    assert all(isinstance(r, CircuitRef) for r in listed)
    assert {r.id for r in refs} <= set(ids) and len(ids) == len(set(ids))
    mine = [r for r in listed if r.id in {x.id for x in refs}]
    assert mine[0].inputs == [f"x_{tag}", "y"] and mine[0].extra["stored_bytes"] > 0

    job = refs[0].gradient()
    job.wait(timeout=60)
    jobs = list(client.jobs(status="succeeded", kind="gradient", page_size=3))
    assert job.id in {j.id for j in jobs} and all(isinstance(j, Job) for j in jobs)
    assert all(j.status == "succeeded" for j in jobs)
    assert job.id not in {j.id for j in client.jobs(status="queued")}

    usage = client.usage()
    assert usage["tenant"]["circuits"] >= 6 and usage["tenant"]["bytes"] > 0
    refs[1].delete()
    client.delete(refs[2].id)
    remaining = {r.id for r in client.circuits(created_after=since)}
    assert refs[1].id not in remaining and refs[2].id not in remaining
    assert refs[3].id in remaining
    with pytest.raises(NotFound):
        refs[1].delete()
    with pytest.raises(ValueError):
        client.jobs(status="sleeping")


def test_async_listing(connect):
    async def run():
        async with connect(AsyncClient) as client:
            ref = await client.upload(f"q_{uuid.uuid4().hex[:8]} * 3")
            seen = [r.id async for r in client.circuits(page_size=1)]
            assert ref.id in seen
            await client.delete(ref)
            return ref.id, [r.id async for r in client.circuits()]

    deleted, remaining = asyncio.run(run())
    assert deleted not in remaining
