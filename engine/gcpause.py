"""``gc_paused()``: the cyclic garbage collector off for the duration of a block."""

from __future__ import annotations

import gc
from contextlib import contextmanager


@contextmanager
def gc_paused():
    """Pause the cyclic garbage collector. Building a circuit or a document allocates many
    small containers that are all alive (and acyclic); the collections this triggers again
    and again find nothing and would cost more than the building itself (pausing makes big
    documents load several times faster)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
