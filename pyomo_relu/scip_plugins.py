"""The network primal heuristic inside SCIP: start solutions and a pyscipopt heuristic plugin.

:func:`network_problem` reads, from a Pyomo model, what the numeric heuristic
(:mod:`pyomo_relu.heuristics`) needs: one :class:`~pyomo_relu.block.ReluNetworkBlock` whose
inputs and outputs carry the whole (linear) objective, the input box (the block's box
intersected with the variables' bounds) and the linear constraints of the model that use
only the block's inputs.  :func:`start_values` turns a network input into values of every
variable of the block's formulation.  :func:`heuristic_callbacks` gives the callables that
:func:`pyomo_relu.solving.solve_model` calls with the loaded ``pyscipopt.Model`` (its
``scip_callbacks`` hook): they add the heuristic's points as start solutions and include
:class:`NetworkHeuristic`, which during the solve polishes the network inputs of SCIP's LP
solution (and incumbent) by the pattern local search and submits what improves the
incumbent (``trySol``).

A network embedded in a larger model (other variables in SCIP) gets *partial* start
solutions: the network's variables are set, SCIP's ``completesol`` heuristic completes the
rest before presolving; the plugin then keeps the other variables of SCIP's incumbent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.core.expr.visitor import identify_variables
from pyomo.repn import generate_standard_repn

from .block import ReluNetworkBlockData
from .heuristics import Candidate, LinearObjective, evaluate, polish, preactivation

__all__ = [
    "NetworkProblem",
    "network_problem",
    "start_values",
    "heuristic_callbacks",
    "NetworkHeuristic",
]


@dataclass
class NetworkProblem:
    """A model's objective as a linear objective of one network block (see :func:`network_problem`).

    ``constraints`` is ``(A, lo, hi)`` of the model's linear rows over the inputs only, or
    None; ``variables`` are every variable of the block (inputs, outputs, formulation).
    """

    block: object
    objective: LinearObjective
    lb: np.ndarray
    ub: np.ndarray
    constraints: tuple | None
    variables: list


def _network_blocks(m) -> list:
    return [
        b
        for b in m.component_data_objects(pyo.Block, active=True, descend_into=True)
        if isinstance(b, ReluNetworkBlockData)
    ]


def _objective_terms(m):
    """``(sense is maximize, constant, [(var, coef)])`` of the active objective, or None."""
    objectives = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        return None
    obj = objectives[0]
    repn = generate_standard_repn(obj.expr, quadratic=False, compute_values=True)
    if repn.nonlinear_expr is not None or not repn.linear_vars:
        return None
    terms = [(v, float(c)) for v, c in zip(repn.linear_vars, repn.linear_coefs) if not v.fixed]
    return obj.sense == pyo.maximize, float(repn.constant), terms


def network_problem(m) -> tuple[NetworkProblem | None, str]:
    """The model's objective as one network block's linear objective; ``(None, why)`` if not.

    Applies when the active objective is linear, every variable in it is an input or an
    output of one :class:`~pyomo_relu.block.ReluNetworkBlock`, and the inputs are continuous.
    """
    found = _objective_terms(m)
    if found is None:
        return None, "the model has no single linear objective"
    maximize, constant, terms = found
    for block in _network_blocks(m):
        inputs, outputs = list(block.inputs.values()), list(block.outputs.values())
        where = ComponentMap((v, ("x", i)) for i, v in enumerate(inputs))
        where.update((v, ("y", j)) for j, v in enumerate(outputs))
        if not all(v in where for v, _ in terms):
            continue
        if any(not v.is_continuous() for v in inputs):
            return None, f"the inputs of {block.name} are not all continuous"
        c_in, c_out = np.zeros(len(inputs)), np.zeros(len(outputs))
        for v, c in terms:
            kind, i = where[v]
            (c_in if kind == "x" else c_out)[i] += c
        lb, ub = _input_box(block, inputs)
        if np.any(lb > ub):
            return None, f"the input box of {block.name} is empty"
        objective = LinearObjective(c_out, c_in, constant, maximize)
        variables = inputs + outputs
        variables += list(block.mip.component_data_objects(pyo.Var, descend_into=True))
        return NetworkProblem(
            block, objective, lb, ub, _input_rows(m, block, inputs), variables
        ), ""
    return None, "the objective is not over the inputs and outputs of one network block"


def _input_box(block, inputs) -> tuple[np.ndarray, np.ndarray]:
    lb = np.array(block.bounds.input_lb, dtype=np.float64)
    ub = np.array(block.bounds.input_ub, dtype=np.float64)
    for i, v in enumerate(inputs):
        lo, hi = (v.value, v.value) if v.fixed else (v.lb, v.ub)
        if lo is not None:
            lb[i] = max(lb[i], float(lo))
        if hi is not None:
            ub[i] = min(ub[i], float(hi))
    return lb, ub


def _input_rows(m, block, inputs):
    """``(A, lo, hi)`` of the active linear constraints of ``m`` (outside ``block``) that use
    only ``inputs``."""
    position = ComponentMap((v, i) for i, v in enumerate(inputs))
    own = {id(c) for c in block.component_data_objects(pyo.Constraint, descend_into=True)}
    rows, lows, highs = [], [], []
    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if id(con) in own:  # the block's own box rows: the box already holds them
            continue
        used = list(identify_variables(con.body, include_fixed=False))
        if not used or not all(v in position for v in used):
            continue
        repn = generate_standard_repn(con.body, quadratic=False, compute_values=True)
        if repn.nonlinear_expr is not None:
            continue
        row = np.zeros(len(inputs))
        for v, c in zip(repn.linear_vars, repn.linear_coefs):
            row[position[v]] += float(c)
        shift = float(repn.constant)
        rows.append(row)
        lows.append(-np.inf if con.lb is None else float(pyo.value(con.lb)) - shift)
        highs.append(np.inf if con.ub is None else float(pyo.value(con.ub)) - shift)
    if not rows:
        return None
    return np.array(rows), np.array(lows), np.array(highs)


# -- values of the formulation's variables ---------------------------------------------
def _layer_values(block, x: np.ndarray) -> ComponentMap | None:
    """Exact values of a layer formulation's variables (z, y, d, d2, s) at input ``x``.

    None for formulations with other variables (their values are left to SCIP).
    """
    from .formulations.layered import LayerFormulation

    formulation, prepared = block._formulation, block.prepared
    # a formulation that delegates (auto) names the one that wrote the rows
    formulation = prepared.info.get("used", formulation)
    known = {"z", "y", "d", "d2", "s"}
    if not isinstance(formulation, LayerFormulation) or set(formulation.encoding.variables) - known:
        return None
    net = prepared.network  # the network as written (rescaled units when rescaled)
    values = ComponentMap()
    a = np.asarray(x, dtype=np.float64)[None, :]
    mip = block.mip
    for k, layer in enumerate(net.layers):
        z = preactivation(layer, a)[0]
        a = layer.activation.apply(z[None, :])
        caps = layer.activation.caps(layer.n_out)
        for name, vals in (
            ("z", z),
            ("y", a[0]),
            ("d", (z > 0.0).astype(float)),
            ("d2", (z > caps).astype(float)),
            ("s", a[0] - z),
        ):
            var = mip.component(name)
            if var is None:
                continue
            for j in range(layer.n_out):
                if (k, j) in var:
                    values[var[k, j]] = float(vals[j])
    return values


def start_values(problem: NetworkProblem, cand: Candidate) -> ComponentMap:
    """Values of the block's variables at the candidate: inputs, outputs, formulation.

    The formulation's variables are filled exactly for the layer formulations (big-M
    family, SOS1); for others only inputs and outputs are set.
    """
    block = problem.block
    values = ComponentMap(zip(block.inputs.values(), cand.inputs.tolist()))
    values.update(zip(block.outputs.values(), cand.outputs.tolist()))
    layer = _layer_values(block, cand.inputs)
    if layer is not None:
        values.update(layer)
    return values


# -- SCIP ------------------------------------------------------------------------------
def _objective_vars(scip_model) -> list:
    """The SCIP variables of the objective (Pyomo's interface adds one for the objective)."""
    return [term.vartuple[0] for term in scip_model.getObjective().terms if len(term.vartuple)]


class _Solutions:
    """Writes candidates into SCIP solutions: the block's variables by ``var_map``."""

    def __init__(self, problem: NetworkProblem, scip_model, var_map):
        self.problem, self.model = problem, scip_model
        self.pairs = [(v, var_map[v]) for v in problem.variables if v in var_map]
        self.inputs = [var_map.get(v) for v in problem.block.inputs.values()]
        # the interface's objective variable (one, with coefficient 1), when it is one
        objective_vars = _objective_vars(scip_model)
        self.objective_vars = objective_vars if len(objective_vars) == 1 else []
        mapped = {s.name for _, s in self.pairs} | {s.name for s in self.objective_vars}
        # complete solutions need every formulation variable; other formulations get partial
        # ones, which SCIP completes
        known = _layer_values(problem.block, problem.lb) is not None
        self.complete = known and all(v.name in mapped for v in scip_model.getVars())

    def fill(self, sol, cand: Candidate, *, other=None) -> None:
        """Set the block's variables and the objective variable in ``sol``.

        With ``other`` (a SCIP solution), every other variable takes its value there.
        The objective is over the block's inputs and outputs only, so the objective
        variable's value is the candidate's objective.
        """
        model = self.model
        if other is not None:
            for var in model.getVars():
                model.setSolVal(sol, var, model.getSolVal(other, var))
        values = start_values(self.problem, cand)
        for pyomo_var, scip_var in self.pairs:
            if pyomo_var in values:
                model.setSolVal(sol, scip_var, values[pyomo_var])
        for var in self.objective_vars:
            model.setSolVal(sol, var, cand.objective)


def _add_starts(problem: NetworkProblem, candidates: list):
    """A callback adding ``candidates`` as start solutions (partial ones in a larger model)."""

    def add(scip_model, var_map) -> None:
        out = _Solutions(problem, scip_model, var_map)
        if not out.complete:
            # the rest of the model is SCIP's to complete, however few variables are known
            scip_model.setParam("heuristics/completesol/maxunknownrate", 1.0)
        for cand in candidates:
            sol = scip_model.createSol() if out.complete else scip_model.createPartialSol()
            out.fill(sol, cand)
            scip_model.addSol(sol, free=True)

    return add


def heuristic_callbacks(
    problem: NetworkProblem, candidates: list, *, plugin: bool, plugins: list | None = None
) -> list:
    """Callables ``f(scip_model, var_map)``: start solutions, and the plugin if ``plugin``.

    Each included :class:`NetworkHeuristic` is appended to ``plugins`` (if given), which
    then tells how many solutions it submitted and SCIP accepted.
    """
    callbacks = [_add_starts(problem, candidates)] if candidates else []
    if plugin:

        def include(scip_model, var_map) -> None:
            heur = NetworkHeuristic(problem, _Solutions(problem, scip_model, var_map))
            if plugins is not None:
                plugins.append(heur)
            scip_model.includeHeur(
                heur,
                "relu_network",
                "forward pass and activation-pattern LP search from the LP solution's inputs",
                "N",
                priority=-1000,
                freq=NetworkHeuristic.FREQUENCY,
                freqofs=0,
                maxdepth=-1,
                timingmask=_after_lp_node(),
            )

        callbacks.append(include)
    return callbacks


def _after_lp_node():
    from pyscipopt import SCIP_HEURTIMING

    return SCIP_HEURTIMING.AFTERLPNODE


def _heur_base():
    from pyscipopt import Heur

    return Heur


class NetworkHeuristic(_heur_base()):
    """SCIP heuristic: polish the network inputs of the LP solution and of the incumbent.

    At every :attr:`FREQUENCY`-th node (after its LP), the network's inputs in SCIP's LP
    solution and in its best solution are evaluated by the forward pass and improved by the
    activation-pattern local search (:func:`pyomo_relu.heuristics.polish`, at most
    :attr:`BUDGET` seconds a call); the result is submitted by ``trySol`` when it beats the
    incumbent, so SCIP checks it against the whole model.  Inputs already searched from are
    skipped.
    """

    FREQUENCY = 10
    BUDGET = 0.05

    def __init__(self, problem: NetworkProblem, solutions: _Solutions):
        self.problem, self.solutions = problem, solutions
        self.seen: set = set()
        self.submitted = 0
        self.accepted = 0

    def _inputs(self, sol) -> np.ndarray | None:
        if any(v is None for v in self.solutions.inputs):
            return None
        x = np.array([self.model.getSolVal(sol, v) for v in self.solutions.inputs])
        return np.clip(x, self.problem.lb, self.problem.ub)

    def heurexec(self, heurtiming, nodeinfeasible):
        from pyscipopt import SCIP_RESULT

        model, p = self.model, self.problem
        best = model.getBestSol() if model.getNSols() else None
        if not self.solutions.complete and best is None:
            return {"result": SCIP_RESULT.DIDNOTRUN}
        starts = [self._inputs(None)] + ([self._inputs(best)] if best is not None else [])
        deadline = time.perf_counter() + self.BUDGET
        result = SCIP_RESULT.DIDNOTFIND
        for x in starts:
            key = None if x is None else np.round(x, 9).tobytes()
            if key is None or key in self.seen:
                continue
            self.seen.add(key)
            cand = evaluate(p.block.network, x, p.objective, p.constraints)[0]
            cand = polish(
                p.block.network, cand, p.lb, p.ub, p.objective, p.constraints, deadline=deadline
            )
            if best is not None and not p.objective.is_better(cand.objective, model.getObjVal()):
                continue
            if cand.violation > 1e-9:
                continue
            sol = model.createOrigSol(self)  # checked in the original problem
            self.solutions.fill(sol, cand, other=best)
            self.submitted += 1
            if model.trySol(sol):
                self.accepted += 1
                result = SCIP_RESULT.FOUNDSOL
        return {"result": result}
