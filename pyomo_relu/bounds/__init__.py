"""Sound pre-activation bounds: interval arithmetic and optimization-based tightening (OBBT)."""

from .core import NeuronBounds, check_box, pad_outward
from .interval import affine_interval, interval_bounds
from .lp import lp_bounds
from .milp import milp_bounds
from .parallel import tighten
from .report import TighteningReport

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
]
