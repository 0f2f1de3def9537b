"""Sound pre-activation bounds: interval arithmetic and optimization-based tightening."""

from .core import NeuronBounds, check_box, pad_outward
from .interval import affine_interval, interval_bounds

__all__ = ["NeuronBounds", "check_box", "pad_outward", "affine_interval", "interval_bounds"]
