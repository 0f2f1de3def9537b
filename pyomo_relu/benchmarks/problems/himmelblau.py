"""``himmelblau``: minimize a ReLU surrogate of Himmelblau's function over [-5, 5]^2.

.. math::

    f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2

Four global minima, all of value 0: (3, 2), (-2.805118, 3.131313),
(-3.779310, -3.283186) and (3.584428, -1.848127).  One of the three benchmark
problems of Plate et al. (Optimization and Engineering, 2026); the surrogate is
trained on 2000 Latin-hypercube samples (500 in the quick suite), see
:mod:`._box`.
"""

from __future__ import annotations

import numpy as np

from ._box import BoxFunction

__all__ = ["NAME", "SPEC", "himmelblau_function"]

NAME = "himmelblau"


def himmelblau_function(x) -> np.ndarray:
    """Himmelblau's function of points ``x`` with shape (N, 2) or (2,)."""
    x = np.asarray(x, dtype=np.float64)
    u, v = x[..., 0], x[..., 1]
    return (u**2 + v - 11) ** 2 + (u + v**2 - 7) ** 2


SPEC = BoxFunction(
    name=NAME,
    function=himmelblau_function,
    dim=2,
    lower=-5.0,
    upper=5.0,
    minimum=0.0,
    minimizers=(
        (3.0, 2.0),
        (-2.805118, 3.131313),
        (-3.779310, -3.283186),
        (3.584428, -1.848127),
    ),
)
