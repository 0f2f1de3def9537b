"""Process design with a trained ReLU surrogate: reactor temperature and size selection.

A first-order reaction A -> B runs in a continuous reactor fed with F = 2 m3/h
of A at c_in = 1 kmol/m3.  Its conversion follows Arrhenius kinetics,

    X(T, tau) = 1 - exp(-k0 exp(-Ea / (R T)) tau),   tau = V / F,

which we pretend is known only through samples (as from a simulator or a
plant) and replace by a ReLU network trained on them.  Decisions: the reactor
temperature T in [600, 700] K (continuous) and one of three reactor sizes
(binary selection).  Profit = product value - feed cost - heating cost -
annualized reactor cost, with a cap on how much B the market takes.

The network enters the model as a ``ReluNetworkBlock``, once with the
LP-tightened big-M formulation and once with ``regions`` (the surrogate has two
inputs, so its linear regions can be enumerated and the network written
without any big-M); SCIP solves both mixed-integer models, and each solution
is checked against the forward pass and against the true kinetics.

Run:  python examples/process_design.py     (a few seconds; uses torch when installed)
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

import pyomo_relu as pr

K0, EA_R = 1.0e5, 8000.0  # pre-exponential factor 1/h, activation energy / R in K
F, C_IN = 2.0, 1.0  # feed m3/h, feed concentration kmol/m3
SIZES = {"small": 2.0, "medium": 4.0, "large": 8.0}  # reactor volumes m3
CAPITAL = {"small": 20.0, "medium": 32.0, "large": 55.0}  # annualized cost per hour of operation
PRICE_B, COST_A, HEAT = 80.0, 25.0, 0.12  # per kmol B, per kmol A, per K above 600 K and hour
DEMAND = 1.6  # kmol/h of B the market takes
T_LO, T_HI, TAU_LO, TAU_HI = 600.0, 700.0, 0.25, 4.0


def conversion(T, tau):
    """True first-order conversion (the 'simulator')."""
    return 1.0 - np.exp(-K0 * np.exp(-EA_R / np.asarray(T)) * np.asarray(tau))


def samples(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(T_LO, T_HI, n), rng.uniform(TAU_LO, TAU_HI, n)])
    return X, conversion(X[:, 0], X[:, 1]) + rng.normal(0, 0.003, n)  # noisy measurements


def train_surrogate(X, y) -> pr.ReluNetwork:
    """2 -> 16 -> 16 -> 1 ReLU net with torch; without torch a random-feature ReLU net fit by least
    squares."""
    try:
        from pyomo_relu.training import train_mlp
    except ImportError:
        rng = np.random.default_rng(1)
        mu, sd = X.mean(0), X.std(0)
        W = rng.normal(size=(60, 2)) / sd
        b = rng.normal(size=60) - W @ mu
        H = np.maximum(X @ W.T + b, 0.0)
        coef, *_ = np.linalg.lstsq(np.column_stack([H, np.ones(len(X))]), y, rcond=None)
        return pr.ReluNetwork.from_arrays([W, coef[None, :-1]], [b, coef[-1:]])
    result = train_mlp(X, y, hidden=(16, 16), epochs=150, seed=0)
    print(f"surrogate: validation MSE {result.val_mse:.2e}")
    return result.network


def build_model(net: pr.ReluNetwork, formulation: str = "tightened_bigm") -> pyo.ConcreteModel:
    m = pyo.ConcreteModel(name="reactor design")
    m.size = pyo.Var(list(SIZES), domain=pyo.Binary)
    m.one_size = pyo.Constraint(expr=sum(m.size.values()) == 1)
    m.T = pyo.Var(bounds=(T_LO, T_HI))
    m.tau = pyo.Var(bounds=(TAU_LO, TAU_HI))
    m.residence = pyo.Constraint(expr=m.tau == sum(SIZES[s] / F * m.size[s] for s in SIZES))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=[m.T, m.tau], formulation=formulation)
    m.X = pyo.Var(bounds=(0.0, 1.0))
    m.surrogate = pyo.Constraint(expr=m.X == m.nn.outputs[0])
    # mass balance: B formed = converted A; unconverted A leaves with the product stream
    m.prod_B = pyo.Var(bounds=(0.0, None))
    m.balance = pyo.Constraint(expr=m.prod_B == F * C_IN * m.X)
    m.sold_B = pyo.Var(bounds=(0.0, DEMAND))
    m.market = pyo.Constraint(expr=m.sold_B <= m.prod_B)
    m.profit = pyo.Objective(
        expr=PRICE_B * m.sold_B
        - COST_A * F * C_IN
        - HEAT * (m.T - T_LO)
        - sum(CAPITAL[s] * m.size[s] for s in SIZES),
        sense=pyo.maximize,
    )
    return m


def solve_and_check(net: pr.ReluNetwork, formulation: str) -> float:
    """Build, solve and check one formulation; returns the optimal profit."""
    import time

    start = time.perf_counter()
    m = build_model(net, formulation)
    res = pyo.SolverFactory("scip_direct").solve(m, tee=False)
    seconds = time.perf_counter() - start
    summary = m.nn.summary()
    print(
        f"\n[{formulation}] SCIP: {res.solver.termination_condition}, build + solve {seconds:.2f} "
        "s, "
        f"{summary['binaries']} binaries"
        + (f" ({summary['regions']} linear regions)" if "regions" in summary else "")
    )
    size = next(s for s in SIZES if pyo.value(m.size[s]) > 0.5)
    T, tau, Xs = pyo.value(m.T), pyo.value(m.tau), pyo.value(m.X)
    print(f"decision: {size} reactor ({SIZES[size]:g} m3, tau = {tau:.2f} h), T = {T:.1f} K")
    print(
        f"conversion: surrogate {Xs:.4f}, true kinetics {float(conversion(T, tau)):.4f}; "
        f"B produced {pyo.value(m.prod_B):.3f} kmol/h, sold {pyo.value(m.sold_B):.3f}"
    )
    print(f"profit {pyo.value(m.profit):.2f} per hour")
    err = m.nn.prediction_error()
    print(f"check: max |MIP output - forward pass| = {err:.2e}")
    if err > 1e-5:
        raise SystemExit("the MIP solution disagrees with the network's forward pass")
    return pyo.value(m.profit)


def main() -> None:
    X, y = samples()
    net = train_surrogate(X, y)
    profits = [solve_and_check(net, f) for f in ("tightened_bigm", "regions")]
    if abs(profits[0] - profits[1]) > 1e-5 * max(1.0, abs(profits[0])):
        raise SystemExit(f"the two formulations disagree: {profits}")
    # every size with its best temperature, from the network on a fine grid: the MIP must not be
    # beaten
    grid = np.linspace(T_LO, T_HI, 2001)
    best = max(
        PRICE_B
        * min(
            DEMAND,
            F * C_IN * float(net.forward(np.column_stack([grid, np.full_like(grid, v / F)]))[i, 0]),
        )
        - COST_A * F * C_IN
        - HEAT * (grid[i] - T_LO)
        - CAPITAL[s]
        for s, v in SIZES.items()
        for i in range(len(grid))
    )
    print(f"\ngrid search over the surrogate: best profit {best:.2f} (MIP {profits[0]:.2f})")
    if best > profits[0] + 1e-5 * max(1.0, abs(profits[0])):
        raise SystemExit("a grid point beats the MIP optimum")


if __name__ == "__main__":
    main()
