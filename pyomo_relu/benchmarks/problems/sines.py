"""``sines5``: minimize a ReLU surrogate of a sum of sines over [-2, 2]^5.

.. math::

    f(x) = \\sum_{i=1}^{5} \\sin(3 x_i)

Each term has two minimizers in ``[-2, 2]``, ``x_i = -\\pi/6`` and ``x_i = \\pi/2``,
so the function has :math:`2^5 = 32` global minimizers, all of value -5, and many
local ones: a separable but strongly multimodal test of a five-input surrogate.
The surrogate (5-64x3-1) is trained on 5000 Latin-hypercube samples (:mod:`._box`).
"""

from __future__ import annotations

import itertools

import numpy as np

from ._box import BoxFunction

__all__ = ["sines_function", "SPEC"]

DIM = 5
#: the minimizers of sin(3 t) on [-2, 2]
_AXIS_MINIMIZERS = (-np.pi / 6, np.pi / 2)


def sines_function(x) -> np.ndarray:
    """``sum_i sin(3 x_i)`` of points ``x`` with shape (N, d) or (d,)."""
    x = np.asarray(x, dtype=np.float64)
    return np.sum(np.sin(3.0 * x), axis=-1)


SPEC = BoxFunction(
    name="sines5",
    function=sines_function,
    dim=DIM,
    lower=-2.0,
    upper=2.0,
    minimum=-float(DIM),
    minimizers=tuple(itertools.product(_AXIS_MINIMIZERS, repeat=DIM)),
    samples={"full": 5000, "quick": 1000},
    hidden={"full": (64, 64, 64), "quick": (16, 16, 16), "alt": (64,) * 5},
)
