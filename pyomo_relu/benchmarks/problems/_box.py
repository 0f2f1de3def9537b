"""Surrogates of test functions whose output is minimized directly over a box.

Plate et al., "Optimization over trained ReLU networks: tightening, scaling and
regularization", Optimization and Engineering (2026), DOI 10.1007/s11081-026-10075-8,
benchmark three such problems (peaks on ``[-2, 2]^2``, Himmelblau on ``[-5, 5]^2``,
Ackley on ``[-3.5, 3.5]^d``); Tsay (arXiv 2604.22746, 2026) reuses them.  A
:class:`BoxFunction` describes one of them: the function, the box, its true
global minimizers and the training settings of its surrogate.  The functions
here turn a description into the problem interface of the suite
(``train_networks``, ``build``, ``input_boxes``, ``check``).

Training data are Latin-hypercube samples of the box (``scipy.stats.qmc``,
seeded; a seeded numpy Latin hypercube when scipy is missing).  The check of a
solution compares the MIP optimum with the network's minimum over a dense grid
(two inputs: 401 x 401 points) or a large seeded sample (more inputs: 10^6
points): a global optimum can never lie above it, beyond a tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ...network import ReluNetwork
from ._common import TrainedNet, Variant, embed, train_cached

__all__ = [
    "BoxFunction",
    "latin_hypercube",
    "samples",
    "train",
    "train_networks",
    "input_boxes",
    "build",
    "check",
    "network_minimum",
    "distance_to_minimizers",
]

#: points per axis of the grid of a two-input network; samples of a wider one
GRID_POINTS = 401
SAMPLE_POINTS = 1_000_000


@dataclass(frozen=True)
class BoxFunction:
    """A test function minimized over the box ``[lower, upper]^dim`` and its surrogate's training.

    Attributes
    ----------
    name : str
    function : callable
        ``(N, dim) array -> (N,) array``.
    dim : int
    lower, upper : float
    minimum : float
        The true global minimum value.
    minimizers : tuple of tuple of float
        The true global minimizers (all of them).
    samples : dict
        Latin-hypercube training samples, ``{"full": n, "quick": n}`` (20% are held out).
    hidden : dict
        Hidden layers of the suite's surrogate, ``{"full", "quick", "alt"}``.
    epochs : dict
        ``{"full": n, "quick": n}``.
    """

    name: str
    function: Callable
    dim: int
    lower: float
    upper: float
    minimum: float
    minimizers: tuple
    samples: dict = field(default_factory=lambda: {"full": 2000, "quick": 500})
    hidden: dict = field(
        default_factory=lambda: {"full": (25, 25), "quick": (10, 10), "alt": (25,) * 5}
    )
    epochs: dict = field(default_factory=lambda: {"full": 200, "quick": 40})

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lb, ub)`` as float64 arrays of length ``dim``."""
        return np.full(self.dim, self.lower), np.full(self.dim, self.upper)


def latin_hypercube(n: int, dim: int, lower: float, upper: float, *, seed: int) -> np.ndarray:
    """``n`` seeded Latin-hypercube points of ``[lower, upper]^dim`` (one per stratum and axis)."""
    try:
        from scipy.stats import qmc
    except ImportError:  # a seeded numpy Latin hypercube: permuted strata, uniform within each
        rng = np.random.default_rng(seed)
        strata = np.stack([rng.permutation(n) for _ in range(dim)], axis=1)
        unit = (strata + rng.uniform(size=(n, dim))) / n
    else:
        unit = qmc.LatinHypercube(d=dim, rng=np.random.default_rng(seed)).random(n)
    return lower + (upper - lower) * unit


def samples(spec: BoxFunction, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Latin-hypercube samples of the box and the function's values there."""
    X = latin_hypercube(n, spec.dim, spec.lower, spec.upper, seed=seed)
    return X, np.asarray(spec.function(X), dtype=np.float64)


def train(
    spec: BoxFunction,
    hidden,
    options: dict,
    *,
    cache_dir,
    quick: bool = False,
    seed: int = 0,
    tag: str = "",
) -> TrainedNet:
    """A surrogate with hidden layers ``hidden`` trained with ``train_mlp`` options ``options``.

    Trained once on the mode's Latin-hypercube samples, then loaded from ``cache_dir``.
    """
    mode = "quick" if quick else "full"
    X, y = samples(spec, spec.samples[mode], seed=seed)
    lb, ub = spec.box()
    opts = {
        "hidden": tuple(hidden),
        "epochs": spec.epochs[mode],
        "batch_size": 64,
        "lr": 3e-3,
        "seed": seed,
        "input_bounds": (lb.tolist(), ub.tolist()),
        **options,
    }
    return train_cached(f"{spec.name}-{tag or 'net'}", X, y, opts, cache_dir)


def train_networks(
    spec: BoxFunction, variant: Variant, *, cache_dir, quick: bool = False, seed: int = 0
) -> dict[str, TrainedNet]:
    """The suite's surrogate of ``variant`` as ``{"f": TrainedNet}``.

    ``variant.options["arch"] == "alt"`` selects the problem's second (deeper) architecture.
    """
    options = dict(variant.options)
    arch = options.pop("arch", "quick" if quick else "full")
    net = train(
        spec, spec.hidden[arch], options, cache_dir=cache_dir, quick=quick, seed=seed,
        tag=variant.name,
    )  # fmt: skip
    return {"f": net}


def input_boxes(spec: BoxFunction, networks: dict) -> dict:
    """Input box of the embedded network, keyed like the block."""
    return {"f": spec.box()}


def _network(networks) -> ReluNetwork:
    return networks if isinstance(networks, ReluNetwork) else networks["f"]


def build(spec: BoxFunction, networks, *, formulation: str = "bigm", bounds=None):
    """Model ``min f_NN(x)`` over the box.

    Parameters
    ----------
    spec : BoxFunction
    networks : ReluNetwork or dict {"f": ReluNetwork}
    formulation : str
        A formulation of :class:`~pyomo_relu.ReluNetworkBlock` or ``"omlt_bigm"``.
    bounds : dict {"f": NeuronBounds}, optional
        Precomputed bounds (e.g. LP-tightened).

    Returns
    -------
    (ConcreteModel, dict)
        The model (inputs ``m.x``, objective ``m.obj``) and ``{"f": block}``.
    """
    import pyomo.environ as pyo

    net = _network(networks)
    bounds = bounds or {}
    m = pyo.ConcreteModel(name=spec.name)
    m.x = pyo.Var(range(spec.dim), bounds=(spec.lower, spec.upper))
    inputs = [m.x[i] for i in range(spec.dim)]
    blk = embed(m, "f", net, inputs, formulation=formulation, bounds=bounds.get("f"))
    m.obj = pyo.Objective(expr=blk.outputs[0], sense=pyo.minimize)
    return m, {"f": blk}


def network_minimum(spec: BoxFunction, net: ReluNetwork) -> tuple[float, np.ndarray, str]:
    """The network's smallest output on a dense grid (2 inputs) or a large sample, where, and how.

    Two inputs: a 401 x 401 grid of the box; more: 10^6 seeded uniform points (in chunks).
    """
    if spec.dim == 2:
        g = np.linspace(spec.lower, spec.upper, GRID_POINTS)
        points = np.array(np.meshgrid(g, g)).reshape(2, -1).T
        vals = net.forward(points)[:, 0]
        k = int(np.argmin(vals))
        return float(vals[k]), points[k], f"grid {GRID_POINTS}x{GRID_POINTS}"
    rng = np.random.default_rng(12345)
    best, where = np.inf, None
    for _ in range(SAMPLE_POINTS // 100_000):
        chunk = rng.uniform(spec.lower, spec.upper, size=(100_000, spec.dim))
        vals = net.forward(chunk)[:, 0]
        k = int(np.argmin(vals))
        if vals[k] < best:
            best, where = float(vals[k]), chunk[k]
    return best, where, f"sample {SAMPLE_POINTS:.0e}"


def distance_to_minimizers(spec: BoxFunction, x) -> float:
    """Euclidean distance from ``x`` to the nearest true global minimizer."""
    mins = np.asarray(spec.minimizers, dtype=np.float64).reshape(-1, spec.dim)
    return float(np.min(np.linalg.norm(mins - np.asarray(x, dtype=np.float64), axis=1)))


def check(spec: BoxFunction, m, blocks, networks, *, solved: bool, tol: float = 1e-4) -> dict:
    """Compare the MIP optimum with the network's grid/sample minimum and the true minimum.

    ``grid_ok`` is False when a solved optimum lies above the grid/sample minimum by more
    than ``tol * max(1, |minimum|)`` (SCIP's default relative gap is 1e-4), which a sound
    global optimum cannot do; None when the solve did not prove optimality.
    """
    import pyomo.environ as pyo

    net = _network(networks)
    best, _, how = network_minimum(spec, net)
    obj = float(pyo.value(m.obj))
    x = np.array([pyo.value(m.x[i]) for i in range(spec.dim)], dtype=np.float64)
    return {
        "grid_best": best,
        "grid": how,
        "grid_ok": (obj <= best + tol * max(1.0, abs(best))) if solved else None,
        "true_f_at_opt": float(spec.function(x[None, :])[0]),
        "true_minimum": spec.minimum,
        "distance_to_minimizer": distance_to_minimizers(spec, x),
        "x_opt": np.round(x, 4).tolist(),
    }
