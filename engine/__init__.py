"""circuitgrad.engine — circuits, their gradient circuits, and evaluation.

Pure computation: no I/O besides the CLI, nothing of the service. Layers:
``circuit`` (the IR) ← ``ops`` (the op table) ← ``templates``/``partials`` (derivative rules
applied op by op) ← ``sweeps``/``propagate`` (forward and backward) ← ``gradient`` (options,
auto mode, certificate); ``simplify``, ``evaluate``, ``codec``/``validate``/``packed``,
``builder``/``expr``/``parser``, ``measures`` beside them.

Public names are imported lazily, so ``import circuitgrad.engine`` stays cheap.
"""

from importlib import import_module

_EXPORTS = {
    "Circuit": "circuit",
    "CircuitError": "errors",
    "ErrorItem": "errors",
    "Cancelled": "errors",
    "OPS": "ops",
    "from_document": "codec",
    "to_document": "codec",
    "from_json": "codec",
    "to_json": "codec",
    "from_msgpack": "codec",
    "to_msgpack": "codec",
    "to_packed": "codec",
    "content_id": "codec",
    "load": "codec",
    "dump": "codec",
    "inputs": "expr",
    "build": "expr",
    "Expr": "expr",
    "parse_expression": "parser",
    "CircuitBuilder": "builder",
    "forward_propagate": "propagate",
    "backward_propagate": "propagate",
    "differentiate": "gradient",
    "gradient": "gradient",
    "Gradient": "gradient",
    "ENGINE_VERSION": "gradient",
    "simplify": "simplify",
    "evaluate": "evaluate",
    "evaluate_reference": "evaluate",
    "measures": "measures",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
