"""Solving a Pyomo model with SCIP (or HiGHS) and reporting what came out, solver independent.

One place for the solver plumbing that the CLI, the demo and the benchmarks
share: Pyomo 6.10's ``scip_direct`` / ``scip_persistent`` (new solver
interface) and APPSI's HiGHS, a time limit that is not an error (the best
solution and the proven bound are kept), SCIP's node count and gap.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass

from ._options import seconds_option
from .errors import NotApplicableError, SolverUnavailableError, UnknownOptionError

__all__ = ["SOLVERS", "SCIP_SETTINGS", "Outcome", "get_solver", "solve_model", "relative_gap"]

#: solver name -> (interface, pip package that provides it)
SOLVERS = {
    "scip_direct": ("contrib", "pyscipopt"),
    "scip_persistent": ("contrib", "pyscipopt"),
    "appsi_highs": ("appsi", "highspy"),
}

#: named SCIP parameter sets.  "relu": no cutting-plane rounds.  On big-M models of
#: ReLU networks SCIP's separators cost far more than they prune: on the shipped
#: peaks surrogate (48 binaries) SCIP needs 2.6 s with its defaults and 0.45 s
#: without cuts (more nodes, each much cheaper); see the same-settings tables of
# benchmarks/results/suite.md.
SCIP_SETTINGS = {
    "default": {},
    "relu": {"separating/maxrounds": 0, "separating/maxroundsroot": 0},
}


@dataclass
class Outcome:
    """What a MIP solve produced, solver independent."""

    status: str  # optimal | time_limit | infeasible | ...
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    nodes: int | None


def relative_gap(primal, dual) -> float | None:
    """SCIP's gap |primal - dual| / min(|primal|, |dual|) (0 if equal, inf if signs differ)."""
    if primal is None or dual is None or not (math.isfinite(primal) and math.isfinite(dual)):
        return None
    if primal == dual:
        return 0.0
    if primal * dual <= 0:
        return math.inf
    return abs(primal - dual) / min(abs(primal), abs(dual))


def get_solver(name: str):
    """A ready solver object for ``name`` (see ``SOLVERS``).

    Raises
    ------
    UnknownOptionError
        If ``name`` is not one of :data:`SOLVERS` (the message lists them).
    SolverUnavailableError
        If the solver is not installed (the message names the pip package).
    """
    if name not in SOLVERS:
        raise UnknownOptionError(
            f"unknown solver {name!r}; valid: {', '.join(SOLVERS)} (other Pyomo solvers: call "
            "pyomo.environ.SolverFactory(name).solve(m) directly)."
        )
    kind, package = SOLVERS[name]
    if kind == "contrib":
        from pyomo.contrib.solver.common.factory import SolverFactory

        opt = SolverFactory(name)
    else:
        from pyomo.contrib.appsi.solvers import Highs

        opt = Highs()
    if not opt.available():
        raise SolverUnavailableError(
            f"solver {name!r} is not available ({package} is missing or too old); install it with: "
            f"pip install {package}"
        )
    return opt


def solve_model(
    m,
    *,
    solver: str = "scip_direct",
    time_limit: float | None = None,
    tee: bool = False,
    options: dict | None = None,
    settings: str = "relu",
) -> Outcome:
    """Solve ``m`` and load the best solution found (if any) into its variables.

    Parameters
    ----------
    m : pyomo.environ.ConcreteModel
    solver : {"scip_direct", "scip_persistent", "appsi_highs"}
        ``scip_*`` use Pyomo's new solver interface (``pyomo.contrib.solver``),
        ``appsi_highs`` the APPSI interface of HiGHS.
    time_limit : float, optional
        Seconds; reaching it is not an error (see ``Outcome.status``).
    tee : bool
        Stream the solver log to stdout.
    options : dict, optional
        Solver parameters passed through unchanged (e.g. ``{"timing/clocktype": 1}``
        for SCIP's CPU clock); HiGHS options for ``appsi_highs``.  They override ``settings``.
    settings : {"relu", "default"}
        Named SCIP parameter set (:data:`SCIP_SETTINGS`); ignored for HiGHS.

    Returns
    -------
    Outcome
        Status, objective of the best solution, proven bound, relative gap,
        solver time and node count.

    Raises
    ------
    UnknownOptionError
        For an unknown solver or settings name, a negative time limit, or a
        solver parameter the solver does not know (or a value of the wrong type).
    SolverUnavailableError
        If the solver is not installed (the message names the pip package).
    """
    if settings not in SCIP_SETTINGS:
        raise UnknownOptionError(
            f"unknown SCIP settings {settings!r}; valid: {', '.join(SCIP_SETTINGS)}."
        )
    time_limit = seconds_option(time_limit, "solve_model")
    opt = get_solver(solver)
    if SOLVERS[solver][0] == "contrib":
        options = {**SCIP_SETTINGS[settings], **(options or {})}
        _check_scip_options(options)
    else:
        _check_highs_options(options or {})
    start = time.perf_counter()
    run = _run_contrib if SOLVERS[solver][0] == "contrib" else _run_appsi
    termination, has_sol, primal, dual, seconds, nodes = run(
        opt, m, time_limit=time_limit, tee=tee, options=options or {}
    )
    wall = time.perf_counter() - start
    return Outcome(
        status=_status(termination),
        has_solution=bool(has_sol),
        objective=None if primal is None else float(primal),
        bound=None if dual is None else float(dual),
        gap=relative_gap(primal, dual),
        seconds=float(wall if seconds is None else seconds),
        nodes=None if nodes is None else int(nodes),
    )


def _check_scip_options(options: dict) -> None:
    """Reject SCIP parameters that SCIP does not know, or values it cannot take, before solving."""
    import pyscipopt

    scratch = pyscipopt.Model()
    scratch.hideOutput()
    for name, value in options.items():
        try:
            scratch.getParam(name)
        except KeyError:
            raise UnknownOptionError(
                f"solve_model: SCIP has no parameter {name!r}; see SCIP's parameter list "
                "(e.g. 'limits/gap', 'limits/nodes', 'display/verblevel')."
            ) from None
        try:
            scratch.setParam(name, value)
        except (TypeError, ValueError, LookupError) as exc:
            raise UnknownOptionError(
                f"solve_model: SCIP parameter {name!r} cannot take the value {value!r} ({exc})."
            ) from None


def _check_highs_options(options: dict) -> None:
    """Reject HiGHS options that HiGHS does not know, or values it cannot take, before solving."""
    if not options:
        return
    import highspy
    from pyomo.common.tee import capture_output

    with capture_output(capture_fd=True):  # HiGHS greets on stdout when created
        scratch = highspy.Highs()
    scratch.setOptionValue("output_flag", False)  # HiGHS prints its own complaint otherwise
    for name, value in options.items():
        try:
            status = scratch.setOptionValue(name, value)
        except (TypeError, ValueError) as exc:
            status = exc
        if status != highspy.HighsStatus.kOk:
            raise UnknownOptionError(
                f"solve_model: HiGHS rejects the option {name}={value!r} (unknown name or wrong "
                "type); "
                "see the HiGHS option list (e.g. 'mip_rel_gap', 'threads')."
            )


@contextmanager
def _scip_log_without_deadlock():
    """Let SCIP run without holding Python's GIL inside Pyomo's SCIP interfaces.

    Pyomo captures SCIP's log through a pipe that a Python thread drains, while
    ``pyscipopt.Model.optimize`` holds the GIL: once a solve has written more
    than the pipe's buffer (64 KiB, a few hundred log lines) both sides wait
    forever.  Inside this context the interfaces create models whose
    ``optimize`` is pyscipopt's ``optimizeNogil``, so the log is drained while
    SCIP runs.  Without ``optimizeNogil`` (old pyscipopt) nothing changes.
    """
    import pyscipopt
    from pyomo.contrib.solver.solvers.scip import base, scip_direct

    modules = [
        mod for mod in (base, scip_direct) if hasattr(mod, "scip")
    ]  # where the interfaces find pyscipopt
    if not hasattr(pyscipopt.Model, "optimizeNogil") or not modules:
        yield
        return

    class _Model(pyscipopt.Model):
        def optimize(self):
            self.optimizeNogil()

    class _Pyscipopt:
        Model = _Model

        def __getattr__(self, name):
            return getattr(pyscipopt, name)

    originals = [mod.scip for mod in modules]
    for mod in modules:
        mod.scip = _Pyscipopt()
    try:
        yield
    finally:
        for mod, original in zip(modules, originals):
            mod.scip = original


def _run_contrib(opt, m, *, time_limit, tee, options):
    """Pyomo's new solver interface (scip_direct, scip_persistent).

    Without ``tee`` SCIP prints nothing (``display/verblevel = 0`` unless the
    caller sets it), and SCIP runs without the GIL (see
    :func:`_scip_log_without_deadlock`), so long solves with a log never hang.
    """
    if not tee:
        options = {"display/verblevel": 0, **options}
    with _scip_log_without_deadlock():
        res = opt.solve(
            m,
            tee=tee,
            time_limit=time_limit,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options=options,
        )
    has_sol = res.solution_status.name != "noSolution"
    if has_sol:
        res.solution_loader.load_vars()
    seconds = getattr(res.timing_info, "scip_time", None)
    nodes = res.extra_info.value().get("NNodes")
    return (
        res.termination_condition.name,
        has_sol,
        res.incumbent_objective,
        res.objective_bound,
        seconds,
        nodes,
    )


def _run_appsi(opt, m, *, time_limit, tee, options):
    """The APPSI interface (appsi_highs); no solver time or node count is reported."""
    from pyomo.common.errors import PyomoException

    opt.highs_options.update(options)
    opt.config.stream_solver = tee
    opt.config.time_limit = time_limit
    opt.config.load_solution = False
    try:
        res = opt.solve(m)
    except PyomoException:
        nonlinear = _first_nonlinear(m)
        if nonlinear is None:
            raise
        raise NotApplicableError(
            f"solve_model: appsi_highs solves linear (MILP) models only, but {nonlinear} is "
            "nonlinear; "
            "use solver='scip_direct' (SCIP solves MINLPs) or write it linearly."
        ) from None
    has_sol = res.best_feasible_objective is not None
    if has_sol:
        res.solution_loader.load_vars()
    return (
        res.termination_condition.name,
        has_sol,
        res.best_feasible_objective,
        res.best_objective_bound,
        None,
        None,
    )


def _first_nonlinear(m):
    """A description of the first active objective or constraint of ``m`` that is not linear, or
    None."""
    import pyomo.environ as pyo

    for ctype, what in ((pyo.Objective, "the objective"), (pyo.Constraint, "the constraint")):
        for comp in m.component_data_objects(ctype, active=True, descend_into=True):
            expr = comp.expr if ctype is pyo.Objective else comp.body
            if expr.polynomial_degree() not in (0, 1):
                return f"{what} {comp.name!r}"
    return None


def _status(termination: str) -> str:
    return {
        "convergenceCriteriaSatisfied": "optimal",
        "optimal": "optimal",
        "maxTimeLimit": "time_limit",
        "provenInfeasible": "infeasible",
        "infeasible": "infeasible",
        "unbounded": "unbounded",
        "infeasibleOrUnbounded": "infeasible_or_unbounded",
        "interrupted": "interrupted",
    }.get(termination, termination)
