"""Sound pre-activation bounds: interval arithmetic and optimization-based tightening (OBBT).

Every method is registered in :mod:`.registry` (``interval``, ``symbolic``, ``lp``, ``milp``, and
``sampled``, an inner estimate for tests);
:func:`get_bound_method` finds one by name.
"""

from .core import LayerPieces, NeuronBounds, Provenance, Scope, check_box, pad_outward
from .interval import affine_interval, interval_bounds
from .lp import lp_bounds
from .milp import milp_bounds
from .parallel import tighten
from .registry import BoundMethod, bound_method_names, get_bound_method, register_bound_method
from .report import TighteningReport
from .sampled import sampled_bounds
from .symbolic import symbolic_bounds

__all__ = [
    "NeuronBounds",
    "check_box",
    "pad_outward",
    "affine_interval",
    "interval_bounds",
    "lp_bounds",
    "milp_bounds",
    "tighten",
    "TighteningReport",
    "BoundMethod",
    "register_bound_method",
    "get_bound_method",
    "bound_method_names",
    "sampled_bounds",
    "symbolic_bounds",
    "Provenance",
    "Scope",
    "LayerPieces",
]
