"""Passes from circuit to circuit: per-wire partials (``partials``), forward and backward
propagation (``sweeps``, ``propagate``), their size prediction (``predict``), gradient
requests (``gradient``) and simplification (``simplify``, ``rewrite``). Builds on ``core``."""
