"""P1 ``peaks``: minimize a ReLU surrogate of MATLAB's peaks function over [-3, 3]^2.

.. math::

    f(x, y) = 3(1-x)^2 e^{-x^2-(y+1)^2} - 10(x/5 - x^3 - y^5) e^{-x^2-y^2}
              - e^{-(x+1)^2-y^2}/3

The true function's global minimum is about -6.551 near (0.228, -1.626).  Used
as the illustrative example of Schweidtmann & Mitsos, "Deterministic global
optimization with artificial neural networks embedded", JOTA 180 (2019).  With
two inputs the linear regions of a surrogate can be counted exactly.

:data:`PEAKS2` is the same function on ``[-2, 2]^2``, the box of Plate et al.
(Optimization and Engineering, 2026), trained on Latin-hypercube samples
(:mod:`._box`); it is registered as the problem ``peaks2``.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from ...network import ReluNetwork
from ._box import BoxFunction, build
from ._common import TrainedNet, Variant, train_cached

__all__ = [
    "NAME",
    "peaks_function",
    "peaks_samples",
    "train_networks",
    "build_peaks",
    "input_boxes",
    "check",
    "PEAKS2",
]

NAME = "peaks"
LOWER, UPPER = -3.0, 3.0
TRUE_MINIMUM = -6.551
TRUE_MINIMIZER = (0.228279, -1.625535)
#: hidden layers of the surrogate in the full and quick suite
HIDDEN = {"full": (30, 30), "quick": (20, 20), "alt": (50, 50, 50)}
EPOCHS = {"full": 200, "quick": 60}


def peaks_function(x) -> np.ndarray:
    """MATLAB's peaks function of points ``x`` with shape (N, 2) or (2,)."""
    x = np.asarray(x, dtype=np.float64)
    u, v = x[..., 0], x[..., 1]
    return (
        3 * (1 - u) ** 2 * np.exp(-(u**2) - (v + 1) ** 2)
        - 10 * (u / 5 - u**3 - v**5) * np.exp(-(u**2) - v**2)
        - np.exp(-((u + 1) ** 2) - v**2) / 3
    )


def peaks_samples(
    n: int = 3000, *, seed: int = 0, box: tuple[float, float] = (LOWER, UPPER)
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform (seeded) samples of the box ``box`` (default [-3, 3]^2) and their values."""
    X = np.random.default_rng(seed).uniform(box[0], box[1], size=(n, 2))
    return X, peaks_function(X)


#: peaks on the suite's box [-3, 3]^2
PEAKS3 = BoxFunction(
    name=NAME,
    function=peaks_function,
    dim=2,
    lower=LOWER,
    upper=UPPER,
    minimum=-6.551133,
    minimizers=(TRUE_MINIMIZER,),
)
#: peaks on Plate et al.'s box [-2, 2]^2 (same minimum, which lies inside it)
PEAKS2 = BoxFunction(
    name="peaks2",
    function=peaks_function,
    dim=2,
    lower=-2.0,
    upper=2.0,
    minimum=-6.551133,
    minimizers=(TRUE_MINIMIZER,),
)


def train_networks(
    variant: Variant, *, cache_dir, quick: bool = False, seed: int = 0
) -> dict[str, TrainedNet]:
    """The surrogate of ``variant`` (trained once, then loaded from ``cache_dir``) as ``{"f":
    TrainedNet}``.

    ``variant.options["arch"] == "alt"`` selects the wider, deeper architecture (3 x 50).
    """
    mode = "quick" if quick else "full"
    options = dict(variant.options)
    arch = options.pop("arch", mode)
    X, y = peaks_samples(3000, seed=seed)
    opts = {
        "hidden": HIDDEN[arch],
        "epochs": EPOCHS[mode],
        "batch_size": 64,
        "lr": 3e-3,
        "seed": seed,
        "input_bounds": ([LOWER] * 2, [UPPER] * 2),
        **options,
    }
    return {"f": train_cached(f"peaks-{variant.name}", X, y, opts, cache_dir)}


def input_boxes(networks: dict) -> dict:
    """Input box of every embedded network, keyed like the blocks."""
    return {"f": (np.full(2, LOWER), np.full(2, UPPER))}


def build_peaks(networks, *, formulation: str = "bigm", bounds=None):
    """Model ``min f_NN(x)`` over ``x in [-3, 3]^2``: :func:`._box.build` on this box.

    ``networks`` is a ReluNetwork or ``{"f": ReluNetwork}``, ``bounds`` optional
    ``{"f": NeuronBounds}``; returns the model (objective ``m.obj``) and ``{"f": block}``.
    """
    return build(PEAKS3, networks, formulation=formulation, bounds=bounds)


def check(m, blocks, networks, *, solved: bool, tol: float = 1e-4) -> dict:
    """Compare the MIP optimum with the network's minimum on a 401 x 401 grid.

    A sound global optimum can never be above the grid minimum (beyond the
    tolerance); ``grid_ok`` is False if it is.
    """
    net = networks if isinstance(networks, ReluNetwork) else networks["f"]
    g = np.linspace(LOWER, UPPER, 401)
    G = np.array(np.meshgrid(g, g)).reshape(2, -1).T
    vals = net.forward(G)[:, 0]
    best = float(vals.min())
    obj = float(pyo.value(m.obj))
    x = np.array([pyo.value(m.x[i]) for i in range(2)])
    return {
        "grid_best": best,
        "grid_ok": (obj <= best + tol) if solved else None,
        "true_f_at_opt": float(peaks_function(x)),
        "x_opt": np.round(x, 4).tolist(),
    }
