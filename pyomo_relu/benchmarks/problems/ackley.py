"""``ackley2`` / ``ackley5``: minimize a ReLU surrogate of Ackley's function over [-3.5, 3.5]^d.

.. math::

    f(x) = -20 \\exp\\Big(-0.2 \\sqrt{\\tfrac{1}{d} \\sum_i x_i^2}\\Big)
           - \\exp\\Big(\\tfrac{1}{d} \\sum_i \\cos(2 \\pi x_i)\\Big) + 20 + e

The global minimum is 0 at the origin; many local minima lie near the integer
points.  Plate et al. (Optimization and Engineering, 2026) use it in two
dimensions, Tsay (arXiv 2604.22746, 2026) also in five.  Surrogates are trained
on Latin-hypercube samples: 2000 in 2-D and 5000 in 5-D (500 and 1000 in the
quick suite), see :mod:`._box`.
"""

from __future__ import annotations

import numpy as np

from ._box import BoxFunction

__all__ = ["ackley_function", "ackley_spec", "SPECS"]


def ackley_function(x) -> np.ndarray:
    """Ackley's function of points ``x`` with shape (N, d) or (d,)."""
    x = np.asarray(x, dtype=np.float64)
    d = x.shape[-1]
    root = np.sqrt(np.sum(x**2, axis=-1) / d)
    cosines = np.sum(np.cos(2 * np.pi * x), axis=-1) / d
    return -20.0 * np.exp(-0.2 * root) - np.exp(cosines) + 20.0 + np.e


def ackley_spec(dim: int) -> BoxFunction:
    """The Ackley problem in ``dim`` inputs (``ackley2``, ``ackley5``, ...)."""
    wide = dim > 2
    return BoxFunction(
        name=f"ackley{dim}",
        function=ackley_function,
        dim=dim,
        lower=-3.5,
        upper=3.5,
        minimum=0.0,
        minimizers=((0.0,) * dim,),
        samples={"full": 5000, "quick": 1000} if wide else {"full": 2000, "quick": 500},
        hidden={"full": (25, 25, 25), "quick": (10, 10), "alt": (50,) * 5}
        if wide
        else {"full": (25, 25), "quick": (10, 10), "alt": (25,) * 5},
    )


#: the registered dimensions
SPECS = {2: ackley_spec(2), 5: ackley_spec(5)}
