"""P2 ``reformer``: auto-thermal reformer flowsheet surrogate (process design).

Data: the auto-thermal reformer example of OMLT (Ceccon et al., "OMLT:
Optimization & machine learning toolkit", JMLR 23 (2022)), generated from an
IDAES flowsheet: 2,800 points on a 70 x 40 grid of the two inputs.

* inputs: ``Bypass Fraction`` in [0.1, 0.8], ``NG Steam Ratio`` in [0.8, 1.2];
* outputs (12): Steam Flow, Reformer Duty, AR, C2H6, C3H8, C4H10, CH4, CO, CO2,
  H2, H2O, N2 (``O2`` is unused);
* problem: maximize the H2 mole fraction subject to N2 mole fraction <= 0.34.

The networks are trained on standardized inputs and outputs and the scaling
is folded into the exported network, so the model is in physical units.  The
12 outputs share the hidden layers; only two of them enter the model, and the
N2 limit cuts the feasible input region, so tightening that uses the model's
constraint can matter here.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from ...network import ReluNetwork
from ._common import TrainedNet, Variant, data_path, embed, read_csv, train_cached

__all__ = [
    "NAME",
    "INPUTS",
    "OUTPUTS",
    "reformer_data",
    "train_networks",
    "build_reformer",
    "input_boxes",
    "check",
]

NAME = "reformer"
INPUTS = ("Bypass Fraction", "NG Steam Ratio")
OUTPUTS = (
    "Steam Flow",
    "Reformer Duty",
    "AR",
    "C2H6",
    "C3H8",
    "C4H10",
    "CH4",
    "CO",
    "CO2",
    "H2",
    "H2O",
    "N2",
)
LB, UB = np.array([0.1, 0.8]), np.array([0.8, 1.2])
H2, N2 = OUTPUTS.index("H2"), OUTPUTS.index("N2")
N2_MAX = 0.34
HIDDEN = {"full": (20, 20, 20), "quick": (10, 10, 10, 10), "alt": (10, 10, 10, 10)}
EPOCHS = {"full": 200, "quick": 60}


def reformer_data() -> tuple[np.ndarray, np.ndarray]:
    """(X (2800, 2), Y (2800, 12)) from the shipped CSV file."""
    table = read_csv(data_path("reformer", "reformer.csv"), list(INPUTS) + list(OUTPUTS))
    return table[:, :2], table[:, 2:]


def train_networks(
    variant: Variant, *, cache_dir, quick: bool = False, seed: int = 0
) -> dict[str, TrainedNet]:
    """The surrogate of ``variant`` as ``{"reformer": TrainedNet}`` (cached)."""
    mode = "quick" if quick else "full"
    options = dict(variant.options)
    arch = options.pop("arch", mode)
    X, Y = reformer_data()
    opts = {
        "hidden": HIDDEN[arch],
        "epochs": EPOCHS[mode],
        "batch_size": 64,
        "lr": 3e-3,
        "seed": seed,
        "input_bounds": (LB, UB),
        **options,
    }
    trained = train_cached(f"reformer-{variant.name}", X, Y, opts, cache_dir)
    trained.network = ReluNetwork(trained.network.layers, input_names=INPUTS, output_names=OUTPUTS)
    return {"reformer": trained}


def input_boxes(networks: dict) -> dict:
    return {"reformer": (LB.copy(), UB.copy())}


def build_reformer(networks, *, formulation: str = "bigm", bounds=None):
    """Model ``max H2(x)`` s.t. ``N2(x) <= 0.34``, ``x`` in the input box.

    Parameters
    ----------
    networks : ReluNetwork or dict {"reformer": ReluNetwork}
    formulation : str
        A formulation of :class:`~pyomo_relu.ReluNetworkBlock` or ``"omlt_bigm"``.
    bounds : dict {"reformer": NeuronBounds}, optional

    Returns
    -------
    (ConcreteModel, dict)
    """
    net = networks if isinstance(networks, ReluNetwork) else networks["reformer"]
    bounds = bounds or {}
    m = pyo.ConcreteModel(name="reformer")
    m.x = pyo.Var(range(2), bounds=lambda _m, i: (float(LB[i]), float(UB[i])))
    blk = embed(
        m, "reformer", net, [m.x[0], m.x[1]], formulation=formulation, bounds=bounds.get("reformer")
    )
    m.n2_limit = pyo.Constraint(expr=blk.outputs[N2] <= N2_MAX)
    m.obj = pyo.Objective(expr=blk.outputs[H2], sense=pyo.maximize)
    return m, {"reformer": blk}


def check(m, blocks, networks, *, solved: bool, tol: float = 1e-5) -> dict:
    """Compare the optimum with the network on a 301 x 301 grid and with the data.

    ``grid_best`` is the best network value among grid points that satisfy the
    N2 limit; a global optimum cannot be below it.  ``data_best`` is the best H2
    of a data point with N2 <= 0.34 (the flowsheet, not the surrogate).
    """
    net = networks if isinstance(networks, ReluNetwork) else networks["reformer"]
    g0, g1 = np.linspace(LB[0], UB[0], 301), np.linspace(LB[1], UB[1], 301)
    G = np.array(np.meshgrid(g0, g1)).reshape(2, -1).T
    P = net.forward(G)
    ok = P[:, N2] <= N2_MAX
    best = float(P[ok, H2].max()) if ok.any() else float("nan")
    X, Y = reformer_data()
    feas = Y[:, N2] <= N2_MAX
    obj = float(pyo.value(m.obj))
    x = np.array([pyo.value(m.x[i]) for i in range(2)])
    return {
        "grid_best": best,
        "grid_ok": (obj >= best - tol) if solved and ok.any() else None,
        "data_best": float(Y[feas, H2].max()),
        "x_opt": np.round(x, 4).tolist(),
    }
