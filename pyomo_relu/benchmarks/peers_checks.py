"""One solve of the peers benchmark (the worker of :mod:`.peers`) and the checks of its solution.

:func:`solve_one` imports what the configuration needs, loads the network, runs the
configuration (:mod:`.peers_configs`), checks the solution against the network's
forward pass and returns the CSV row (:data:`FIELDS`).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..errors import UnknownOptionError
from ..network import ReluNetwork
from .peers_configs import CONFIGS, OIL_CONFIGS, PIP, RUNNERS, Solved
from .peers_networks import DATA_DIR, PeerNetwork, get_network, load_network, load_oil_networks

__all__ = ["FIELDS", "SAMPLES", "check_box_solution", "check_oil_solution", "make_row", "solve_one"]

SAMPLES = 100_000

FIELDS = [
    "network",
    "config",
    "limit",
    "status",
    "solved",
    "total_s",
    "build_s",
    "solve_s",
    "solver_s",
    "nodes",
    "objective",
    "bound",
    "gap",
    "objective_forward",
    "forward_err",
    "forward_ok",
    "sample_best",
    "sample_ok",
    "n_vars",
    "n_rows",
    "n_binaries",
    "x",
    "note",
]


# -- checks of a solution -------------------------------------------------------------
def _tolerance(value: float) -> float:
    """Absolute tolerance of an objective comparison: 1e-4 relative (SCIP's gap), 1e-4 at least."""
    return 1e-4 * max(1.0, abs(value))


def _sample_best(problem: PeerNetwork, net: ReluNetwork) -> float:
    """The best output ``problem.output`` over 10^5 seeded uniform points of the box."""
    lb, ub = problem.box()
    points = np.random.default_rng(0).uniform(lb, ub, size=(SAMPLES, net.n_inputs))
    values = net.forward(points)[:, problem.output]
    return float(values.min() if problem.sense == "min" else values.max())


def check_box_solution(problem: PeerNetwork, net: ReluNetwork, solved: Solved) -> dict:
    """The forward-pass and sample checks of a solution of a box problem.

    ``objective_forward`` is the network's output at the solution's inputs and
    ``forward_ok`` that the reported objective matches it; ``sample_ok`` (proven optima
    only) that the optimum is not worse than the best of 10^5 sampled inputs.
    """
    best = _sample_best(problem, net)
    out = {"sample_best": best, "objective_forward": None, "forward_err": None}
    out.update(forward_ok=None, sample_ok=None)
    if solved.x is None or solved.objective is None:
        return out
    lb, ub = problem.box()
    x = np.asarray(solved.x, dtype=np.float64)
    inside = bool(np.all(x >= lb - 1e-6) and np.all(x <= ub + 1e-6))
    value = float(net.forward(np.clip(x, lb, ub)[None, :])[0, problem.output])
    err = abs(value - solved.objective)
    out.update(
        objective_forward=value, forward_err=err, forward_ok=inside and err <= _tolerance(value)
    )
    if solved.status == "optimal":
        sign = 1.0 if problem.sense == "min" else -1.0
        out["sample_ok"] = sign * (solved.objective - best) <= _tolerance(best)
    return out


def check_oil_solution(networks: dict, solved: Solved) -> dict:
    """The forward-pass checks of an oil solution: every block, and the objective.

    ``forward_err`` is the largest ``|outputs - forward(inputs)|`` over the ten blocks;
    ``objective_forward`` the oil the well networks predict at the solution's wellhead
    pressures, summed over the routed wells (what the objective must equal);
    ``sample_ok`` the problem's feasibility check (:func:`.problems.oil.check`).
    """
    import pyomo.environ as pyo

    from .problems import oil
    from .problems._common import block_network

    out = {"sample_best": None, "objective_forward": None, "forward_err": None}
    out.update(forward_ok=None, sample_ok=None)
    m = solved.model
    if m is None or solved.objective is None:
        return out
    err = 0.0
    for blk in m.peer_blocks.values():
        ins = np.array([[pyo.value(v) for v in blk.inputs.values()]])
        outs = np.array([pyo.value(v) for v in blk.outputs.values()])
        err = max(err, float(np.max(np.abs(block_network(blk).forward(ins)[0] - outs))))
    value = 0.0
    for i, name in enumerate(oil.WELLS):
        if sum(pyo.value(m.y[i, r]) for r in m.R) > 0.5:
            value += float(networks[name].forward(np.array([[pyo.value(m.pwh[i])]]))[0, 0])
    ok = err <= 1e-4 and abs(value - solved.objective) <= _tolerance(value)
    out.update(objective_forward=value, forward_err=err, forward_ok=ok)
    checked = oil.check(m, m.peer_blocks, networks, solved=solved.status == "optimal")
    out["sample_ok"] = checked["grid_ok"]
    return out


# -- one solve (the worker) -----------------------------------------------------------
def _import_untimed(config: str) -> None:
    """Import what ``config`` will use, so that no import falls into the timed part."""
    import pyomo.contrib.solver.common.factory  # noqa: F401
    import pyomo.environ  # noqa: F401
    import pyscipopt  # noqa: F401

    from .. import block, formulations, solving  # noqa: F401
    from .problems import _common, oil  # noqa: F401

    if config == "omlt_bigm":
        import omlt.neuralnet  # noqa: F401
    elif config == "pyscipopt_ml":
        import pyscipopt_ml.add_predictor  # noqa: F401
    elif config == "gurobi_ml":
        import gurobi_ml  # noqa: F401
        import gurobipy  # noqa: F401


def _round(v, digits=6):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return v
    return round(float(v), digits)


def make_row(network: str, config: str, limit: float, solved: Solved, checks: dict) -> dict:
    """The CSV row (:data:`FIELDS`) of one solve: what ``solved`` says plus the ``checks``."""
    from ..solving import relative_gap

    total = None if solved.build_s is None else solved.build_s + (solved.solve_s or 0.0)
    row = dict.fromkeys(FIELDS)
    row |= {
        "network": network,
        "config": config,
        "limit": limit,
        "status": solved.status,
        "solved": solved.status == "optimal",
        "total_s": _round(total, 3),
        "build_s": _round(solved.build_s, 3),
        "solve_s": _round(solved.solve_s, 3),
        "solver_s": _round(solved.solver_s, 3),
        "nodes": solved.nodes,
        "objective": _round(solved.objective, 8),
        "bound": _round(solved.bound, 8),
        "gap": _round(relative_gap(solved.objective, solved.bound), 6),
        "x": None if solved.x is None else json.dumps([round(float(v), 6) for v in solved.x]),
        "note": solved.note,
        "n_vars": solved.n_vars,
        "n_rows": solved.n_rows,
        "n_binaries": solved.n_binaries,
    }
    row.update({k: (_round(v, 8) if isinstance(v, float) else v) for k, v in checks.items()})
    return row


def solve_one(network: str, config: str, limit: float, *, data_dir: Path = DATA_DIR) -> dict:
    """Solve ``network`` with ``config`` in this process and check the solution; one CSV row.

    A peer package that is missing gives status ``not_installed`` (the note has the pip
    command); ``pyscipopt_ml`` and ``gurobi_ml`` on the oil problem give ``not_expressible``.
    """
    if config not in RUNNERS:
        raise UnknownOptionError(
            f"unknown peers configuration {config!r}; valid: {', '.join(CONFIGS)}."
        )
    is_oil = network.startswith("oil_")
    if is_oil and config not in OIL_CONFIGS:
        note = "the oil model is written in Pyomo; this peer builds models in its own API"
        return make_row(network, config, limit, Solved("not_expressible", note=note), {})
    problem = network if is_oil else get_network(network)
    net = (
        load_oil_networks(network, data_dir=data_dir)
        if is_oil
        else load_network(network, data_dir=data_dir)
    )
    try:
        _import_untimed(config)
        solved = RUNNERS[config](problem, net, limit)
    except ImportError as exc:
        note = f"not installed ({exc.name or exc}): pip install {PIP.get(config, '')}".strip()
        return make_row(network, config, limit, Solved("not_installed", note=note), {})
    checks = check_oil_solution(net, solved) if is_oil else check_box_solution(problem, net, solved)
    return make_row(network, config, limit, solved, checks)
