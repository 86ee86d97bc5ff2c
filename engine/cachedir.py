"""Where the engine keeps its generated files: the kernels module (``kernels.py``) and what
its compiler leaves there. Numba's own cache follows ``NUMBA_CACHE_DIR`` (or sits next
to the sources). Imports nothing heavy: ``circuitgrad serve`` asks before anything runs.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def cache_dir() -> Path | None:
    """``CIRCUITGRAD_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/circuitgrad/kernels``, else a
    folder in the temporary directory: the first one writable (None: none is)."""
    base = os.environ.get("CIRCUITGRAD_KERNEL_CACHE")
    candidates = [Path(base)] if base else []
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates += [
        Path(xdg) / "circuitgrad" / "kernels",
        Path(tempfile.gettempdir()) / f"circuitgrad-kernels-{os.getuid()}",
    ]
    for d in candidates:
        try:
            d.mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            continue
    return None
