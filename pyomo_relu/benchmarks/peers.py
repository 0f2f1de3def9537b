"""Side by side: our formulations against OMLT, PySCIPOpt-ML and gurobi-ml on the same networks.

``python -m pyomo_relu.benchmarks.peers`` solves every network of :data:`NETWORKS`
under every configuration of :data:`CONFIGS`, in that order, one solve at a time
and **one subprocess per solve**: a worker process imports everything, loads the
network, then times the model building and the solve, checks the solution against
the network's forward pass and writes one result; imports are not timed.

================== =====================================================================
``omlt_bigm``      OMLT's ``FullSpaceNN``-style ``ReluBigMFormulation`` (its own interval
                   bounds) in Pyomo, solved by Pyomo's ``scip_direct`` at SCIP defaults
``pyscipopt_ml``   PySCIPOpt-ML's default (SOS1) formulation of the network as a torch
                   ``nn.Sequential``, in a PySCIPOpt model at SCIP defaults
``gurobi_ml``      gurobi-ml's formulation of the same ``nn.Sequential`` in gurobipy,
                   one thread; a model over the pip licence's size limit (about 2000
                   variables and rows) is recorded as too large, not solved
``ours_quickstart`` the README quick start: ``ReluNetworkBlock`` with its default
                   formulation (big-M with interval bounds), ``scip_direct`` at SCIP defaults
``ours_tightened_bigm`` ``formulation="tightened_bigm"`` + :func:`pyomo_relu.solve_model`
``ours_auto``      ``formulation="auto"`` + :func:`pyomo_relu.solve_model` (the default pipeline)
================== =====================================================================

Every configuration gets the same wall-clock budget (``--limit``) for building and
solving: the solver's time limit is what building left of it.  A row records the
status, the total, building and solving wall times, the solver's own time, nodes,
best objective, bound and gap, the model size, the solution's inputs, the objective
recomputed by the network's forward pass at those inputs (and its difference from
the reported one) and, for a proven optimum, that it is not worse than the best of
10^5 sampled inputs.  Peers are imported only in the worker that needs them; one
that is missing gives a row with status ``not_installed`` and the pip command.

The networks (cached as ONNX under ``benchmarks/data/peers/``, trained with
``train_mlp`` and seeded when missing): a 5-input sum-of-sines surrogate
5-64x3-1, an Ackley-5 surrogate 5-25x3-1, a CSTR surrogate 3-20x4-1, a random
network in ACAS Xu's shape 5-50x6-5 (maximize output 0), the peaks surrogates
2-25-25-1 and 2-50x3-1.  ``--oil`` runs the oil production problem
(:mod:`.problems.oil`, its seven network variants, networks cached under
``data/peers/oil``) instead, for OMLT and ours only: PySCIPOpt-ML and gurobi-ml
build models in their own modeling layers, and this problem is written in Pyomo.

Rows are appended to the CSV (``--out``, default ``benchmarks/results/peers.csv``)
as they finish; a rerun skips the (network, configuration, limit) rows already
there.  ``--report-only`` regenerates the markdown table (:mod:`.peers_report`)
from the CSV without solving.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import UnknownOptionError
from ..network import Activation, DenseLayer, ReluNetwork

__all__ = [
    "CONFIGS",
    "NETWORKS",
    "QUICK_NETWORKS",
    "OIL_NETWORKS",
    "FIELDS",
    "PeerNetwork",
    "load_network",
    "solve_one",
    "run",
    "main",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATA_DIR = Path(__file__).resolve().parent / "data" / "peers"
DEFAULT_CSV = RESULTS_DIR / "peers.csv"

#: the configurations, in the order they run on every network
CONFIGS = (
    "omlt_bigm",
    "pyscipopt_ml",
    "gurobi_ml",
    "ours_quickstart",
    "ours_tightened_bigm",
    "ours_auto",
)
#: the configurations of the oil problem (see the module docstring)
OIL_CONFIGS = ("omlt_bigm", "ours_quickstart", "ours_tightened_bigm", "ours_auto")
#: pip packages of the peers (the ``peers`` extra)
PIP = {
    "omlt_bigm": "omlt",
    "pyscipopt_ml": "pyscipopt-ml",
    "gurobi_ml": "gurobipy gurobi-machinelearning",
}
#: the pip licence of gurobipy: models up to this many variables and this many rows
GUROBI_PIP_LIMIT = 2000
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


# -- networks -----------------------------------------------------------------------
@dataclass(frozen=True)
class PeerNetwork:
    """One benchmark network: optimize output ``output`` over the box ``[lower, upper]``.

    ``make()`` trains or draws the network; :func:`load_network` caches it as
    ``data/peers/<name>.onnx``.
    """

    name: str
    description: str
    lower: tuple
    upper: tuple
    sense: str
    make: Callable[[], ReluNetwork]
    output: int = 0

    def box(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lb, ub)`` as float64 arrays."""
        return np.asarray(self.lower, dtype=np.float64), np.asarray(self.upper, dtype=np.float64)


def _trained(spec_name: str, hidden: tuple) -> Callable[[], ReluNetwork]:
    """A maker training a surrogate of the named box function (seeded, :mod:`.problems._box`)."""

    def make() -> ReluNetwork:
        from ..training import train_mlp
        from .problems import _box

        spec = _box_spec(spec_name)
        X, y = _box.samples(spec, spec.samples["full"], seed=0)
        lb, ub = spec.box()
        result = train_mlp(
            X, y, hidden=hidden, epochs=spec.epochs["full"], batch_size=64, lr=3e-3, seed=0,
            input_bounds=(lb.tolist(), ub.tolist()),
        )  # fmt: skip
        return result.network

    return make


def _box_spec(name: str):
    from .problems import ackley, peaks, process, sines

    return {
        "sines5": sines.SPEC,
        "ackley5": ackley.SPECS[5],
        "cstr": process.SPEC,
        "peaks2": peaks.PEAKS2,
    }[name]


def _random_network(sizes: tuple, seed: int) -> ReluNetwork:
    """Seeded He-uniform ReLU network with the layer widths ``sizes`` (linear output)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.uniform(-1.0, 1.0, size=(n_out, n_in)) * np.sqrt(6.0 / n_in)
        b = rng.uniform(-1.0, 1.0, size=n_out) / np.sqrt(n_in)
        last = k == len(sizes) - 2
        layers.append(DenseLayer(w, b, Activation.LINEAR if last else Activation.RELU))
    return ReluNetwork(layers)


def _acas() -> ReluNetwork:
    from .problems.acas import acas_network

    return acas_network(seed=0)


NETWORKS = {
    n.name: n
    for n in (
        PeerNetwork("sines5_64x3", "sum of sin(3 x_i), 5-64x3-1", (-2.0,) * 5, (2.0,) * 5, "min",
                    _trained("sines5", (64, 64, 64))),
        PeerNetwork("ackley5_25x3", "Ackley-5, 5-25x3-1", (-3.5,) * 5, (3.5,) * 5, "min",
                    _trained("ackley5", (25, 25, 25))),
        PeerNetwork("cstr_20x4", "CSTR margin (unit cube), 3-20x4-1", (0.0,) * 3, (1.0,) * 3,
                    "min", _trained("cstr", (20, 20, 20, 20))),
        PeerNetwork("acas_50x6", "random, ACAS Xu shape 5-50x6-5, max y0", (-1.0,) * 5,
                    (1.0,) * 5, "max", _acas),
        PeerNetwork("peaks_25x2", "peaks, 2-25-25-1", (-2.0,) * 2, (2.0,) * 2,
                    "min", _trained("peaks2", (25, 25))),
        PeerNetwork("peaks_50x3", "peaks, 2-50x3-1", (-2.0,) * 2, (2.0,) * 2,
                    "min", _trained("peaks2", (50, 50, 50))),
        # a tiny random network for the quick test; not in the default list
        PeerNetwork("tiny", "random 3-8-8-1", (-1.0,) * 3, (1.0,) * 3, "min",
                    lambda: _random_network((3, 8, 8, 1), seed=3)),
    )
}  # fmt: skip
DEFAULT_NETWORKS = tuple(n for n in NETWORKS if n != "tiny")
QUICK_NETWORKS = ("peaks_25x2", "cstr_20x4")
#: the oil problem's network sets, one per training variant (``oil_<variant>``)
OIL_NETWORKS = (
    "oil_plain",
    "oil_l1_weak",
    "oil_l1_strong",
    "oil_stability",
    "oil_clipped",
    "oil_dropout",
    "oil_plain_alt",
)


def get_network(name: str) -> PeerNetwork:
    """The benchmark network ``name``; UnknownOptionError lists the valid names."""
    try:
        return NETWORKS[name]
    except KeyError:
        raise UnknownOptionError(
            f"unknown peers network {name!r}; valid: {', '.join(NETWORKS)}, "
            f"{', '.join(OIL_NETWORKS)}."
        ) from None


def load_network(name: str, *, data_dir: Path = DATA_DIR) -> ReluNetwork:
    """The network ``name`` from ``data_dir/<name>.onnx``, made (and saved there) if missing."""
    from ..io.onnx import load_onnx, save_onnx

    path = Path(data_dir) / f"{name}.onnx"
    if path.exists():
        return load_onnx(path)
    net = get_network(name).make()
    path.parent.mkdir(parents=True, exist_ok=True)
    save_onnx(net, path)
    return load_onnx(path)


def load_oil_networks(name: str, *, data_dir: Path = DATA_DIR) -> dict:
    """The ten oil networks of ``oil_<variant>`` (trained once, cached under ``data_dir/oil``)."""
    from .problems import oil
    from .problems._common import select_variants

    variant = name.removeprefix("oil_")
    (v,) = select_variants([variant])
    return {
        k: t.network for k, t in oil.train_networks(v, cache_dir=Path(data_dir) / "oil").items()
    }


# -- the configurations (each runs inside a worker) -----------------------------------
@dataclass
class Solved:
    """What one configuration produced (times in wall seconds)."""

    status: str
    objective: float | None = None
    bound: float | None = None
    x: list | None = None
    build_s: float | None = None
    solve_s: float | None = None
    solver_s: float | None = None
    nodes: int | None = None
    n_vars: int | None = None
    n_rows: int | None = None
    n_binaries: int | None = None
    note: str = ""
    #: the solved Pyomo model (oil: its network blocks are checked), not written out
    model: object = None


def _status(word: str) -> str:
    return {
        "convergenceCriteriaSatisfied": "optimal",
        "maxTimeLimit": "time_limit",
        "timelimit": "time_limit",
    }.get(word, word)


def _pyomo_size(m) -> dict:
    import pyomo.environ as pyo

    variables = list(m.component_data_objects(pyo.Var, active=True, descend_into=True))
    rows = sum(1 for _ in m.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    return {
        "n_vars": len(variables),
        "n_rows": rows,
        "n_binaries": sum(1 for v in variables if v.is_binary()),
    }


def _pyomo_box_model(problem: PeerNetwork, net: ReluNetwork, formulation: str):
    """``opt f_NN(x)_k`` over the box with our block or an OMLT block; returns the model."""
    import pyomo.environ as pyo

    from .problems._common import embed

    lb, ub = problem.box()
    m = pyo.ConcreteModel(name=problem.name)
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (float(lb[i]), float(ub[i])))
    if formulation == "default":  # the README quick start: the block's default formulation
        from ..block import ReluNetworkBlock

        m.f = ReluNetworkBlock(network=net, inputs=m.x)
    else:
        embed(m, "f", net, [m.x[i] for i in range(net.n_inputs)], formulation=formulation)
    sense = pyo.minimize if problem.sense == "min" else pyo.maximize
    m.obj = pyo.Objective(expr=m.f.outputs[problem.output], sense=sense)
    return m


def _scip_direct(m, budget: float) -> dict:
    """Pyomo's ``scip_direct`` at SCIP defaults (quiet), the way ``SolverFactory`` runs it.

    The new-interface object is the one ``pyo.SolverFactory("scip_direct")`` wraps; its
    results carry SCIP's own time and node count, which the legacy results drop.
    """
    from pyomo.contrib.solver.common.factory import SolverFactory

    res = SolverFactory("scip_direct").solve(
        m,
        time_limit=budget,
        load_solutions=False,
        raise_exception_on_nonoptimal_result=False,
        solver_options={"display/verblevel": 0},
    )
    has_sol = res.solution_status.name != "noSolution"
    if has_sol:
        res.solution_loader.load_vars()
    return {
        "status": _status(res.termination_condition.name),
        "objective": res.incumbent_objective if has_sol else None,
        "bound": res.objective_bound,
        "solver_s": getattr(res.timing_info, "scip_time", None),
        "nodes": res.extra_info.value().get("NNodes"),
    }


def _builder(problem, net, formulation: str) -> Callable:
    """The model builder of ``problem``: the box model, or the oil model for ``oil_*``."""
    if isinstance(problem, PeerNetwork):
        return lambda: _pyomo_box_model(problem, net, formulation)
    from .problems.oil import build_oil

    form = "bigm" if formulation == "default" else formulation  # the block's default is bigm

    def build():
        m, blocks = build_oil(net, formulation=form)
        m.peer_blocks = blocks  # read by the checks after the solve
        return m

    return build


def _x_of(m) -> list:
    import pyomo.environ as pyo

    return [pyo.value(m.x[i], exception=False) for i in m.x]


def _run_pyomo(build_model: Callable, limit: float, *, solve: str) -> Solved:
    """Build ``build_model()`` and solve it with ``scip_direct`` or :func:`solve_model`, timed."""
    start = time.perf_counter()
    m = build_model()
    build = time.perf_counter() - start
    budget = max(limit - build, 1.0)
    t0 = time.perf_counter()
    if solve == "scip_direct":
        out = _scip_direct(m, budget)
    else:
        from ..solving import solve_model

        o = solve_model(m, time_limit=budget)
        out = {
            "status": o.status,
            "objective": o.objective if o.has_solution else None,
            "bound": o.bound,
            "solver_s": o.seconds,
            "nodes": o.nodes,
        }
    solve_s = time.perf_counter() - t0
    x = _x_of(m) if out["objective"] is not None and hasattr(m, "x") else None
    return Solved(x=x, build_s=build, solve_s=solve_s, model=m, **out, **_pyomo_size(m))


def _run_omlt(problem, net, limit) -> Solved:
    return _run_pyomo(_builder(problem, net, "omlt_bigm"), limit, solve="scip_direct")


def _run_quickstart(problem, net, limit) -> Solved:
    return _run_pyomo(_builder(problem, net, "default"), limit, solve="scip_direct")


def _run_tightened(problem, net, limit) -> Solved:
    return _run_pyomo(_builder(problem, net, "tightened_bigm"), limit, solve="solve_model")


def _run_auto(problem, net, limit) -> Solved:
    return _run_pyomo(_builder(problem, net, "auto"), limit, solve="solve_model")


def _run_pyscipopt_ml(problem, net, limit) -> Solved:
    from pyscipopt import Model
    from pyscipopt_ml.add_predictor import add_predictor_constr

    from ..io.torch import to_torch

    seq = to_torch(net)
    lb, ub = problem.box()
    start = time.perf_counter()
    scip = Model()
    scip.hideOutput()
    x = np.array([[scip.addVar(f"x{i}", lb=lb[i], ub=ub[i]) for i in range(net.n_inputs)]])
    y = np.array([[scip.addVar(f"y{j}", lb=None, ub=None) for j in range(net.n_outputs)]])
    add_predictor_constr(scip, seq, x, y, unique_naming_prefix="nn_")
    scip.setObjective(y[0, problem.output], "minimize" if problem.sense == "min" else "maximize")
    build = time.perf_counter() - start
    scip.setParam("limits/time", max(limit - build, 1.0))
    t0 = time.perf_counter()
    scip.optimize()
    solve_s = time.perf_counter() - t0
    has_sol = scip.getNSols() > 0
    sol = scip.getBestSol() if has_sol else None
    return Solved(
        status=_status(scip.getStatus()),
        objective=scip.getObjVal() if has_sol else None,
        bound=scip.getDualbound(),
        x=[scip.getSolVal(sol, v) for v in x[0]] if has_sol else None,
        build_s=build,
        solve_s=solve_s,
        solver_s=scip.getSolvingTime(),
        nodes=scip.getNNodes(),
        n_vars=scip.getNVars(),
        n_rows=scip.getNConss(),
        n_binaries=scip.getNBinVars(),
    )


def _run_gurobi_ml(problem, net, limit) -> Solved:
    import gurobipy as gp
    from gurobi_ml import add_predictor_constr

    from ..io.torch import to_torch

    seq = to_torch(net)
    lb, ub = problem.box()
    env = gp.Env(empty=True)
    env.setParam("OutputFlag", 0)
    env.start()
    start = time.perf_counter()
    g = gp.Model(env=env)
    x = g.addMVar(net.n_inputs, lb=lb, ub=ub, name="x")
    y = g.addMVar(net.n_outputs, lb=-gp.GRB.INFINITY, name="y")
    add_predictor_constr(g, seq, x, y)
    sense = gp.GRB.MINIMIZE if problem.sense == "min" else gp.GRB.MAXIMIZE
    g.setObjective(y[problem.output], sense)
    g.update()
    build = time.perf_counter() - start
    size = {
        "n_vars": g.NumVars,
        "n_rows": g.NumConstrs + g.NumGenConstrs,
        "n_binaries": g.NumBinVars,
    }
    g.Params.Threads = 1
    g.Params.TimeLimit = max(limit - build, 1.0)
    t0 = time.perf_counter()
    try:
        g.optimize()
    except gp.GurobiError as exc:
        if exc.errno == gp.GRB.Error.SIZE_LIMIT_EXCEEDED:
            return Solved(
                status="too_large", build_s=build, note="too large for the pip licence", **size
            )
        raise
    solve_s = time.perf_counter() - t0
    has_sol = g.SolCount > 0
    status = {gp.GRB.OPTIMAL: "optimal", gp.GRB.TIME_LIMIT: "time_limit"}.get(
        g.Status, str(g.Status)
    )
    return Solved(
        status=status,
        objective=g.ObjVal if has_sol else None,
        bound=g.ObjBound,
        x=[float(v) for v in x.X] if has_sol else None,
        build_s=build,
        solve_s=solve_s,
        solver_s=g.Runtime,
        nodes=int(g.NodeCount),
        **size,
    )


RUNNERS = {
    "omlt_bigm": _run_omlt,
    "pyscipopt_ml": _run_pyscipopt_ml,
    "gurobi_ml": _run_gurobi_ml,
    "ours_quickstart": _run_quickstart,
    "ours_tightened_bigm": _run_tightened,
    "ours_auto": _run_auto,
}


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


def _row(network: str, config: str, limit: float, solved: Solved, checks: dict) -> dict:
    from ..solving import relative_gap

    total = None if solved.build_s is None else solved.build_s + (solved.solve_s or 0.0)
    row = {
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
        return _row(network, config, limit, Solved("not_expressible", note=note), {})
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
        return _row(network, config, limit, Solved("not_installed", note=note), {})
    checks = check_oil_solution(net, solved) if is_oil else check_box_solution(problem, net, solved)
    return _row(network, config, limit, solved, checks)


# -- the runner (one subprocess per solve) ----------------------------------------------
def _worker_command(network: str, config: str, limit: float, result: Path, data_dir: Path):
    return [
        sys.executable, "-m", "pyomo_relu.benchmarks.peers", "--worker", network, config,
        "--limit", repr(float(limit)), "--result", str(result), "--data-dir", str(data_dir),
    ]  # fmt: skip


def _failed(network, config, limit, status: str, note: str) -> dict:
    return _row(network, config, limit, Solved(status, note=note), {})


def run_in_subprocess(
    network: str, config: str, limit: float, *, data_dir: Path = DATA_DIR, timeout=None
) -> dict:
    """:func:`solve_one` in a fresh Python process; a crash or an overrun becomes a row too.

    ``timeout`` (default ``3 * limit + 180`` s) ends a worker that overruns its limit
    (status ``killed``); a worker that exits without a result gives status ``crashed``
    with the last line of its error output.
    """
    timeout = 3 * limit + 180 if timeout is None else timeout
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="pyomo_relu_peers_") as tmp:
        result = Path(tmp) / "row.json"
        cmd = _worker_command(network, config, limit, result, Path(data_dir))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return _failed(network, config, limit, "killed", f"no result after {timeout:.0f} s")
        if result.exists():
            return json.loads(result.read_text())
        lines = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()]
        note = f"exit {proc.returncode}: " + (lines[-1][:300] if lines else "no error output")
        return _failed(network, config, limit, "crashed", note)


def _key(row) -> tuple:
    return (row["network"], row["config"], float(row["limit"]))


def read_rows(csv_path: Path) -> list[dict]:
    """The rows of a peers CSV (empty when the file does not exist)."""
    path = Path(csv_path)
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _append(csv_path: Path, row: dict) -> None:
    path = Path(csv_path)
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
        if header != FIELDS:
            raise UnknownOptionError(
                f"{path} has the columns {header}, not those of this benchmark ({FIELDS}); "
                "move it away or pass another --out."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _describe(row: dict) -> str:
    status = row["status"]
    if status == "optimal":
        text = f"optimal {float(row['total_s']):.1f} s, obj {float(row['objective']):.6g}"
    elif row.get("objective") not in (None, ""):
        gap = row.get("gap")
        text = f"{status}, best {float(row['objective']):.6g}, gap {gap}"
    else:
        text = f"{status} {row.get('note') or ''}".strip()
    if row.get("forward_ok") is not None and row.get("forward_ok") != "":
        text += f", forward {'ok' if str(row['forward_ok']) == 'True' else 'MISMATCH'}"
    return text


def run(
    *,
    networks=None,
    configs=None,
    limit: float = 60.0,
    csv_path: Path = DEFAULT_CSV,
    data_dir: Path = DATA_DIR,
    oil: bool = False,
    quick: bool = False,
    resume: bool = True,
) -> Path:
    """Solve every (network, configuration) not yet in ``csv_path``, appending a row each.

    Networks run one after the other, each under every configuration in :data:`CONFIGS`
    order (the oil networks under :data:`OIL_CONFIGS` plus the peers' ``not_expressible``
    rows).  Returns the CSV path.
    """
    if networks is None:
        networks = OIL_NETWORKS if oil else (QUICK_NETWORKS if quick else DEFAULT_NETWORKS)
    for name in networks:
        if name not in OIL_NETWORKS:
            get_network(name)
    configs = list(CONFIGS if configs is None else configs)
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise UnknownOptionError(
            f"unknown peers configuration(s) {unknown}; valid: {', '.join(CONFIGS)}."
        )
    csv_path = Path(csv_path)
    if not resume and csv_path.exists():
        csv_path.replace(csv_path.with_suffix(".csv.bak"))
    done = {_key(r) for r in read_rows(csv_path)}
    jobs = [(n, c) for n in networks for c in configs if (n, c, float(limit)) not in done]
    print(f"peers: {len(jobs)} solves to run ({len(done)} rows already in {csv_path}), "
          f"limit {limit:g} s", flush=True)  # fmt: skip
    for k, (network, config) in enumerate(jobs, 1):
        print(f"[{k}/{len(jobs)}] {network} {config} ...", end=" ", flush=True)
        row = run_in_subprocess(network, config, limit, data_dir=data_dir)
        _append(csv_path, row)
        print(_describe(row), flush=True)
    return csv_path


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pyomo_relu.benchmarks.peers",
        description="Side-by-side benchmark: pyomo_relu against OMLT, PySCIPOpt-ML and gurobi-ml.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"networks {','.join(QUICK_NETWORKS)} at a 10 s limit (a few minutes)",
    )
    p.add_argument(
        "--oil",
        action="store_true",
        help="the oil problem's seven network variants (default limit 300 s)",
    )
    p.add_argument(
        "--limit",
        type=float,
        default=None,
        metavar="S",
        help="wall seconds per solve, building included (default 60; 10 with --quick, "
        "300 with --oil)",
    )
    p.add_argument(
        "--networks",
        type=_names,
        default=None,
        metavar="LIST",
        help=f"comma-separated subset of {','.join(NETWORKS)} or {','.join(OIL_NETWORKS)}",
    )
    p.add_argument(
        "--configs",
        type=_names,
        default=None,
        metavar="LIST",
        help=f"comma-separated subset of {','.join(CONFIGS)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="CSV",
        help="results CSV (default benchmarks/results/peers.csv, peers_oil.csv with --oil); "
        "the markdown table is written next to it",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        metavar="DIR",
        help="where the networks are cached as ONNX (default benchmarks/data/peers)",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="start a new CSV (the old one is kept as .csv.bak) instead of skipping done rows",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="only regenerate the markdown table from the CSV(s)",
    )
    p.add_argument("--worker", nargs=2, metavar=("NETWORK", "CONFIG"), help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p  # fmt: skip


def _limit(args) -> float:
    if args.limit is not None:
        if not (args.limit > 0 and math.isfinite(args.limit)):
            raise UnknownOptionError(
                f"--limit must be a positive number of seconds, not {args.limit}."
            )
        return float(args.limit)
    return 10.0 if args.quick else (300.0 if args.oil else 60.0)


def _descriptions() -> dict:
    out = {
        n: f"{p.description} over [{p.lower[0]:g}, {p.upper[0]:g}]^{len(p.lower)}"
        for n, p in NETWORKS.items()
    }
    out.update(
        {n: f"oil production, network variant {n.removeprefix('oil_')}" for n in OIL_NETWORKS}
    )
    return out


def main(argv=None) -> int:
    """Command line of the benchmark (see the module docstring)."""
    args = _parser().parse_args(argv)
    limit = _limit(args)
    if args.worker:
        row = solve_one(*args.worker, limit, data_dir=args.data_dir)
        Path(args.result).write_text(json.dumps(row))
        return 0
    from .peers_report import write_report

    csv_path = args.out or (RESULTS_DIR / ("peers_oil.csv" if args.oil else "peers.csv"))
    if not args.report_only:
        run(
            networks=args.networks,
            configs=args.configs,
            limit=limit,
            csv_path=csv_path,
            data_dir=args.data_dir,
            oil=args.oil,
            quick=args.quick,
            resume=not args.no_resume,
        )
    md = write_report(csv_path, descriptions=_descriptions())
    print(f"wrote {md} from {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
