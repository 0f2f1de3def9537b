"""The configurations of the peers benchmark (:mod:`.peers`): how each one builds and solves.

Each runner takes a problem (a :class:`~.peers_networks.PeerNetwork`, or the name of
an oil network set), its network(s) and a wall-clock budget in seconds, builds the
model (timed), gives the solver what building left of the budget, solves (timed)
and returns a :class:`Solved`.  The peers' packages are imported by the worker
before the timing starts (:func:`.peers_checks.solve_one`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..network import ReluNetwork
from .peers_networks import PeerNetwork

__all__ = ["CONFIGS", "OIL_CONFIGS", "PIP", "GUROBI_PIP_LIMIT", "Solved", "RUNNERS"]

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
            note = (
                f"too large for the pip licence ({size['n_vars']} variables, {size['n_rows']} rows;"
                f" it allows {GUROBI_PIP_LIMIT} of each)"
            )
            return Solved(status="too_large", build_s=build, note=note, **size)
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
