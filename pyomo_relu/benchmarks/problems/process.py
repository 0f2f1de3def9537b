"""``cstr``: the operating point of a continuous stirred-tank reactor, from a ReLU surrogate.

A CSTR runs the series reaction A -> B -> C (both first order, Arrhenius rates);
B is the product.  The inputs are the temperature ``T`` in [320, 380] K, the
residence time ``tau`` in [0.5, 10] h and the feed concentration ``c0`` in
[1, 3] mol/L.  The steady-state balances give

.. math::

    c_A = \\frac{c_0}{1 + k_1 \\tau}, \\qquad
    c_B = \\frac{k_1 \\tau c_A}{1 + k_2 \\tau}, \\qquad
    k_j = A_j e^{-E_j / (R T)}

with :math:`A_1 = 4 \\cdot 10^6`, :math:`E_1 = 50` kJ/mol, :math:`A_2 = 2 \\cdot 10^{11}`,
:math:`E_2 = 90` kJ/mol (1/h).  The cost to minimize is the negative margin

.. math::

    f(T, \\tau, c_0) = -(12 c_B - 2 c_0 - 0.02 (T - 320) - 0.6 \\tau)

(product value less feed, heating and holding costs).  A hotter reactor makes B
faster but destroys it faster still (:math:`E_2 > E_1`), and a longer residence
time converts more A but costs more, so the optimum lies inside the box in ``T``
and ``tau``: about -9.1635 at ``(370.34, 5.370, 3)`` (L-BFGS-B from the best
point of a 241 x 191 x 81 grid).  The surrogate (3-20x4-1) is trained on 3000
Latin-hypercube samples (:mod:`._box`).
"""

from __future__ import annotations

import numpy as np

from ._box import BoxFunction

__all__ = ["cstr_cost", "SPEC", "LOWER", "UPPER"]

R_GAS = 8.314
#: the box of (T [K], tau [h], c0 [mol/L])
LOWER = np.array([320.0, 0.5, 1.0])
UPPER = np.array([380.0, 10.0, 3.0])


def cstr_cost(x) -> np.ndarray:
    """The negative margin of the reactor at points ``x`` = (T, tau, c0), shape (N, 3) or (3,)."""
    x = np.asarray(x, dtype=np.float64)
    T, tau, c0 = x[..., 0], x[..., 1], x[..., 2]
    k1 = 4.0e6 * np.exp(-50_000.0 / (R_GAS * T))
    k2 = 2.0e11 * np.exp(-90_000.0 / (R_GAS * T))
    ca = c0 / (1.0 + k1 * tau)
    cb = k1 * tau * ca / (1.0 + k2 * tau)
    return -(12.0 * cb - 2.0 * c0 - 0.02 * (T - 320.0) - 0.6 * tau)


def _unit(x) -> np.ndarray:
    """``x`` in [0, 1]^3 mapped to the reactor box."""
    return LOWER + (UPPER - LOWER) * np.asarray(x, dtype=np.float64)


def _cost_on_unit_box(x) -> np.ndarray:
    return cstr_cost(_unit(x))


#: the surrogate problem on the unit cube (inputs scaled to [0, 1]; a BoxFunction's box is a
#: cube, the reactor's is not); ``_unit`` maps a solution back to (T, tau, c0)
SPEC = BoxFunction(
    name="cstr",
    function=_cost_on_unit_box,
    dim=3,
    lower=0.0,
    upper=1.0,
    minimum=-9.163459,
    minimizers=(
        tuple(((np.array([370.33755, 5.370145, 3.0]) - LOWER) / (UPPER - LOWER)).tolist()),
    ),
    samples={"full": 3000, "quick": 800},
    hidden={"full": (20, 20, 20, 20), "quick": (10, 10, 10), "alt": (20,) * 6},
)


def to_physical(x) -> np.ndarray:
    """A point of the unit cube as the reactor's (T, tau, c0)."""
    return _unit(x)
