"""circuitgrad.engine — circuits, their gradient circuits, and evaluation.

Pure computation: no I/O besides the CLI, nothing of the service. Layers:
``circuit`` (the IR) ← ``ops`` (the op table) ← ``templates``/``partials`` (derivative rules
applied op by op) ← ``sweeps``/``propagate`` (forward and backward) ← ``directional`` (jvp,
vjp, hvp) ← ``gradient`` (options, auto mode, certificate), with ``layout`` naming every
mode's result; ``simplify``, ``evaluate``, ``verify`` (a result checked against its source),
``codec``/``validate``/``packed``, ``builder``/``expr``/``parser``, ``measures`` beside them;
``drawing`` pictures circuits (SVG or DOT text; it registers itself as
``Circuit._repr_svg_``).

The public names are imported here explicitly; some share a name with their module
(``simplify``, ``evaluate``, ``gradient``, ``measures``), and importing them last makes the
package attribute the function whatever imported the module first.
"""

from .building.builder import CircuitBuilder
from .building.expr import Expr, build, inputs
from .building.parser import parse_expression
from .core.circuit import Circuit
from .core.layout import MODES
from .core.ops import OPS
from .drawing import draw
from .errors import Cancelled, CircuitError, ErrorItem
from .formats.codec import (
    content_id,
    dump,
    from_document,
    from_json,
    from_msgpack,
    load,
    to_document,
    to_json,
    to_msgpack,
    to_packed,
)
from .passes.predict import predicted_size
from .passes.propagate import backward_propagate, forward_propagate

from .evaluation.evaluate import evaluate, evaluate_reference  # isort: skip
from .evaluation.verify import verify  # isort: skip
from .passes.gradient import ENGINE_VERSION, Gradient, differentiate, gradient, hvp, jvp, vjp  # isort: skip  # noqa: E501
from .core.measures import measures  # isort: skip
from .passes.simplify import simplify  # isort: skip

__all__ = [
    "ENGINE_VERSION", "OPS", "Cancelled", "Circuit", "CircuitBuilder", "CircuitError",
    "ErrorItem", "Expr", "Gradient", "MODES", "backward_propagate", "build", "content_id",
    "differentiate", "draw", "dump", "evaluate", "evaluate_reference", "forward_propagate",
    "from_document", "from_json", "from_msgpack", "gradient", "hvp", "inputs", "jvp", "load",
    "measures", "parse_expression", "predicted_size", "simplify", "to_document", "to_json",
    "to_msgpack", "to_packed", "verify", "vjp",
]  # fmt: skip
