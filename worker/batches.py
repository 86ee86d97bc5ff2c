"""The stored halves of an evaluation job: its points and its values, chunk by chunk.

Chunk ``i`` of job ``j`` is the blob ``points-j-i`` (inputs) and, once a worker has
evaluated it, ``values-j-i`` (outputs). Assembling the values in chunk order gives the
rows in the order the points were sent.
"""

from __future__ import annotations

import numpy as np

from .store import BlobStore


def points_blob(job_id: str, index: int) -> str:
    return f"points-{job_id}-{index}"


def values_blob(job_id: str, index: int) -> str:
    return f"values-{job_id}-{index}"


def chunk_count(n_points: int, n_inputs: int, chunk_points: int, chunk_bytes: int) -> int:
    """Chunks of at most ``chunk_points`` points and about ``chunk_bytes`` of inputs each."""
    per_chunk = max(1, min(chunk_points, chunk_bytes // max(1, 8 * n_inputs)))
    return max(1, -(-n_points // per_chunk))


def store_points(blobs: BlobStore, job_id: str, points: np.ndarray, chunks: int) -> None:
    for i, part in enumerate(np.array_split(points, chunks)):
        blobs.put_array(points_blob(job_id, i), part)


def assemble_values(blobs: BlobStore, job_id: str, chunks: int) -> np.ndarray:
    return np.concatenate([blobs.get_array(values_blob(job_id, i)) for i in range(chunks)])


def discard(blobs: BlobStore, job_id: str, chunks: int, values: bool = True) -> None:
    """Delete the points (and the values) of a job."""
    for i in range(chunks):
        blobs.delete(points_blob(job_id, i))
        if values:
            blobs.delete(values_blob(job_id, i))
