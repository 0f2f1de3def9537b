"""P3 ``oil``: production optimization with embedded well and riser networks.

Grimstad & Andersson, "ReLU networks as surrogate models in mixed-integer
linear programs", Comput. Chem. Eng. 131 (2019); simulated data of their
public repository (MIT license, shipped in ``data/oil_production``).

Layout: 8 wells, each routed to one of two manifolds or shut in (16 binary
routings, at most one per well); each manifold feeds a riser to a separator at
fixed pressure (0.20 and 0.30, bara x 0.01).

* well ``i``: network PWH -> QOIL; gas = GOR_i QOIL, water = WCT_i/(100-WCT_i) QOIL.
  A well that is routed nowhere is shut in: its rates are zero and its well
  curve is relaxed (``|QOIL - NN(PWH)| <= M (1 - on)`` with ``M`` from the
  network's interval output bounds).  (In the original model a well could only
  stop by the network predicting zero at a high wellhead pressure; a surrogate
  that predicts a small positive rate there would make shutting in impossible.)
* riser ``r``: one network (QOIL, QGAS, QWAT, PUS) -> PDS, used for both risers,
  with its output fixed to the separator pressure, so it determines the
  manifold pressure PUS ("used backwards");
* mass balance of each phase at wells and manifolds; flows on an unused
  edge are zero (``q <= q_max y``);
* pressure drop on a routed edge: ``PWH_i - PUS_r = dp >= 0`` (choke only drops
  pressure), relaxed by ``M (1 - y)`` with ``M`` the sum of both pressure
  ranges when the route is off;
* total riser gas <= 3.40; objective: maximize total oil through the risers.

Ten networks in one model: the case the paper singles out as harder.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from ...bounds import interval_bounds
from ._common import TrainedNet, Variant, data_path, embed, read_csv, train_cached

__all__ = ["NAME", "train_networks", "build_oil", "input_boxes", "block_networks", "check"]

NAME = "oil"
N_WELLS = 8
PWH_LB = 0.3
PWH_UB = np.array([1.65329, 1.55873, 1.76193, 1.51174, 1.44545, 1.32290, 1.62300, 1.24020])
QOIL_UB = np.array([0.240734, 0.284504, 0.190091, 0.162084, 0.090637, 0.232649, 0.269781, 0.323648])
GOR = 1e-3 * np.array([1053, 805, 789, 790, 633, 745, 742, 759], dtype=float)
WCT = np.array([12.7, 23.7, 41.7, 55.4, 54.81, 27.0, 0.0, 0.0])
WOR = WCT / (100.0 - WCT)
P_SEP = (0.20, 0.30)
GAS_CAPACITY = 3.40
#: riser inputs QOIL, QGAS, QWAT, PUS and output PDS bounds
RISER_LB = np.array([0.04, 0.024, 0.0, 0.299867])
RISER_UB = np.array([1.6, 1.92, 0.96, 2.09987])
PDS_BOUNDS = (0.005022, 1.33179)
#: hidden layers (wells, riser): published shallow and deep architectures
HIDDEN = {
    "full": ((20, 20), (50, 50)),
    "alt": ((10, 10, 10, 10), (20, 20, 20, 20, 20)),
    "quick": ((10, 10), (20, 20)),
}
EPOCHS = {"full": (1500, 150), "quick": (400, 40)}
WELLS = [f"well_{i + 1}" for i in range(N_WELLS)]
RISERS = ("riser_1", "riser_2")


def train_networks(
    variant: Variant, *, cache_dir, quick: bool = False, seed: int = 0
) -> dict[str, TrainedNet]:
    """The 8 well networks and the riser network of ``variant`` (cached)."""
    mode = "quick" if quick else "full"
    options = dict(variant.options)
    arch = options.pop("arch", mode)
    (h_well, h_riser), (e_well, e_riser) = HIDDEN[arch], EPOCHS[mode]
    out = {}
    for i, name in enumerate(WELLS):
        data = read_csv(data_path("oil_production", "wells", f"{name}.csv"), ["PWH", "QOIL"])
        opts = {
            "hidden": h_well,
            "epochs": e_well,
            "batch_size": 16,
            "lr": 3e-3,
            "seed": seed,
            "input_bounds": ([PWH_LB], [PWH_UB[i]]),
            **options,
        }
        out[name] = train_cached(
            f"oil-{name}-{variant.name}", data[:, :1], data[:, 1], opts, cache_dir
        )
    data = read_csv(
        data_path("oil_production", "flowlines", "flowline_1.csv"),
        ["QOIL", "QGAS", "QWAT", "PUS", "PDS"],
    )
    opts = {
        "hidden": h_riser,
        "epochs": e_riser,
        "batch_size": 64,
        "lr": 3e-3,
        "seed": seed,
        "input_bounds": (RISER_LB, RISER_UB),
        **options,
    }
    out["riser"] = train_cached(
        f"oil-riser-{variant.name}", data[:, :4], data[:, 4], opts, cache_dir
    )
    return out


def block_networks(networks: dict) -> dict:
    """Block name -> network (the riser network is embedded twice)."""
    out = {name: networks[name] for name in WELLS}
    out.update({r: networks["riser"] for r in RISERS})
    return out


def input_boxes(networks: dict) -> dict:
    """Input box of every embedded network, keyed by block name."""
    out = {name: (np.array([PWH_LB]), PWH_UB[i : i + 1].copy()) for i, name in enumerate(WELLS)}
    out.update({r: (RISER_LB.copy(), RISER_UB.copy()) for r in RISERS})
    return out


def _network_rows(m, networks, formulation, bounds):
    blocks = {}
    for i, name in enumerate(WELLS):
        blocks[name] = embed(
            m, name, networks[name], [m.pwh[i]], formulation=formulation, bounds=bounds.get(name)
        )
    # the well curve holds when the well produces (routed somewhere), see the module docstring
    spread = {}
    for i, name in enumerate(WELLS):
        out = interval_bounds(networks[name], [PWH_LB], [PWH_UB[i]])
        lo, up = out.lower[-1][0], out.upper[-1][0]
        spread[i] = (max(0.0, -lo) + QOIL_UB[i] + 1e-6, max(0.0, up) + 1e-6)
    on = {i: sum(m.y[i, r] for r in m.R) for i in m.W}
    m.well_curve_ge = pyo.Constraint(
        m.W, rule=lambda _m, i: m.qo[i] - blocks[WELLS[i]].outputs[0] >= -spread[i][1] * (1 - on[i])
    )
    m.well_curve_le = pyo.Constraint(
        m.W, rule=lambda _m, i: m.qo[i] - blocks[WELLS[i]].outputs[0] <= spread[i][0] * (1 - on[i])
    )
    for r, name in enumerate(RISERS):
        ins = [m.rqo[r], m.rqg[r], m.rqw[r], m.pm[r]]
        blocks[name] = embed(
            m, name, networks["riser"], ins, formulation=formulation, bounds=bounds.get(name)
        )
    m.separator = pyo.Constraint(m.R, rule=lambda _m, r: blocks[RISERS[r]].outputs[0] == P_SEP[r])
    return blocks


def build_oil(networks: dict, *, formulation: str = "bigm", bounds=None):
    """The production optimization model (see the module docstring).

    Parameters
    ----------
    networks : dict
        ``well_1`` ... ``well_8`` (1 -> 1) and ``riser`` (4 -> 1) ReluNetworks.
    formulation : str
        A formulation of :class:`~pyomo_relu.ReluNetworkBlock` or ``"omlt_bigm"``.
    bounds : dict, optional
        NeuronBounds per block name (``well_i``, ``riser_1``, ``riser_2``).

    Returns
    -------
    (ConcreteModel, dict)
        The model (objective ``m.obj``) and its 10 network blocks by name.
    """
    bounds = bounds or {}
    m = pyo.ConcreteModel(name="oil")
    m.W, m.R = pyo.RangeSet(0, N_WELLS - 1), pyo.RangeSet(0, 1)
    m.pwh = pyo.Var(m.W, bounds=lambda _m, i: (PWH_LB, float(PWH_UB[i])))
    m.qo = pyo.Var(m.W, bounds=lambda _m, i: (0.0, float(QOIL_UB[i])))
    m.pm = pyo.Var(m.R, bounds=(float(RISER_LB[3]), float(RISER_UB[3])))
    m.rqo = pyo.Var(m.R, bounds=(float(RISER_LB[0]), float(RISER_UB[0])))
    m.rqg = pyo.Var(m.R, bounds=(float(RISER_LB[1]), float(RISER_UB[1])))
    m.rqw = pyo.Var(m.R, bounds=(float(RISER_LB[2]), float(RISER_UB[2])))
    # edges well -> manifold: routing binary, phase flows, pressure drop
    m.y = pyo.Var(m.W, m.R, domain=pyo.Binary)
    m.eqo = pyo.Var(m.W, m.R, bounds=lambda _m, i, r: (0.0, float(QOIL_UB[i])))
    m.eqg = pyo.Var(m.W, m.R, bounds=lambda _m, i, r: (0.0, float(GOR[i] * QOIL_UB[i])))
    m.eqw = pyo.Var(m.W, m.R, bounds=lambda _m, i, r: (0.0, float(WOR[i] * QOIL_UB[i])))
    m.dp = pyo.Var(m.W, m.R, bounds=lambda _m, i, r: (0.0, float(PWH_UB[i] - RISER_LB[3])))
    blocks = _network_rows(m, networks, formulation, bounds)

    m.route_once = pyo.Constraint(m.W, rule=lambda _m, i: sum(m.y[i, r] for r in m.R) <= 1)
    m.oil_off = pyo.Constraint(
        m.W, m.R, rule=lambda _m, i, r: m.eqo[i, r] <= QOIL_UB[i] * m.y[i, r]
    )
    # gas and water follow oil on every edge, so they vanish with it
    m.gas_edge = pyo.Constraint(m.W, m.R, rule=lambda _m, i, r: m.eqg[i, r] == GOR[i] * m.eqo[i, r])
    m.wat_edge = pyo.Constraint(m.W, m.R, rule=lambda _m, i, r: m.eqw[i, r] == WOR[i] * m.eqo[i, r])
    m.well_oil = pyo.Constraint(m.W, rule=lambda _m, i: m.qo[i] == sum(m.eqo[i, r] for r in m.R))
    m.man_oil = pyo.Constraint(m.R, rule=lambda _m, r: m.rqo[r] == sum(m.eqo[i, r] for i in m.W))
    m.man_gas = pyo.Constraint(m.R, rule=lambda _m, r: m.rqg[r] == sum(m.eqg[i, r] for i in m.W))
    m.man_wat = pyo.Constraint(m.R, rule=lambda _m, r: m.rqw[r] == sum(m.eqw[i, r] for i in m.W))

    def big_m(i):
        return float((PWH_UB[i] - PWH_LB) + (RISER_UB[3] - RISER_LB[3]))

    m.dp_le = pyo.Constraint(
        m.W,
        m.R,
        rule=lambda _m, i, r: m.pwh[i] - m.pm[r] - m.dp[i, r] <= big_m(i) * (1 - m.y[i, r]),
    )
    m.dp_ge = pyo.Constraint(
        m.W,
        m.R,
        rule=lambda _m, i, r: m.pwh[i] - m.pm[r] - m.dp[i, r] >= -big_m(i) * (1 - m.y[i, r]),
    )
    m.gas_capacity = pyo.Constraint(expr=sum(m.rqg[r] for r in m.R) <= GAS_CAPACITY)
    m.obj = pyo.Objective(expr=sum(m.rqo[r] for r in m.R), sense=pyo.maximize)
    return m, blocks


def check(m, blocks, networks, *, solved: bool, tol: float = 1e-6) -> dict:
    """Feasibility of the solution's non-network rows, recomputed in numpy."""
    y = np.array([[pyo.value(m.y[i, r]) for r in m.R] for i in m.W])
    eqo = np.array([[pyo.value(m.eqo[i, r]) for r in m.R] for i in m.W])
    pwh = np.array([pyo.value(m.pwh[i]) for i in m.W])
    pm = np.array([pyo.value(m.pm[r]) for r in m.R])
    gas = float(sum(pyo.value(m.rqg[r]) for r in m.R))
    routed = np.round(y) > 0.5
    dp_ok = all(pwh[i] - pm[r] >= -1e-5 for i in range(N_WELLS) for r in range(2) if routed[i, r])
    flow_ok = bool(np.all(eqo[~routed] <= tol))
    return {
        "routes": "".join(
            "12"[int(np.argmax(y[i]))] if routed[i].any() else "0" for i in range(N_WELLS)
        ),
        "gas": round(gas, 6),
        "grid_ok": bool(dp_ok and flow_ok and gas <= GAS_CAPACITY + 1e-6) if solved else None,
    }
