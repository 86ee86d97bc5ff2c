"""Errors of the store and the job records (the worker layer).

    StoreError              the store could not do what was asked
      StoreUnavailable      Redis cannot be reached or is loading (retry later)
      StoreFull             Redis refused a write at its ``maxmemory`` (retry later)
      BlobMissing           no stored blob under that id (never stored, or expired)

The service turns each into a problem document (503 with ``Retry-After``, or 404);
a worker turns them into a failed job that may be resubmitted.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what was asked."""


class StoreUnavailable(StoreError):
    """Redis cannot be reached (connection refused, timed out, loading its data)."""


class StoreFull(StoreError):
    """Redis is at ``maxmemory`` with ``noeviction``: writes are refused, nothing is lost."""


class BlobMissing(StoreError, KeyError):
    """No blob is stored under this id."""

    def __init__(self, blob_id: str):
        super().__init__(blob_id)
        self.blob_id = blob_id

    def __str__(self) -> str:
        return f"no stored blob {self.blob_id!r}"
