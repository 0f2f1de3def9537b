"""Solving a Pyomo model with SCIP (or HiGHS) and reporting what came out, solver independent.

One place for the solver plumbing that the CLI, the demo and the benchmarks
share: Pyomo 6.10's ``scip_direct`` / ``scip_persistent`` (new solver
interface) and APPSI's HiGHS, a time limit that is not an error (the best
solution and the proven bound are kept), SCIP's node count and gap.

A model without a finite optimum is reported as ``"unbounded"`` with the
variables that go unbounded (solvers often say "infeasible or unbounded", or
worse); see :func:`_no_finite_optimum`.  A time-limited HiGHS solve runs in a
process of its own that is stopped at the limit, because HiGHS' presolve does
not look at its clock (see :func:`_run_highs_bounded`; on Linux the process is
forked, elsewhere spawned, and the calling script then needs the usual
``if __name__ == "__main__"`` guard).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

from ._options import seconds_option
from .errors import NotApplicableError, SolverUnavailableError, UnknownOptionError

__all__ = [
    "SOLVERS",
    "SCIP_SETTINGS",
    "HEURISTICS",
    "Outcome",
    "get_solver",
    "solve_model",
    "relative_gap",
]

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


#: choices of ``solve_model(heuristic=...)``.  "auto": when the objective is linear in one
#: network block's inputs and outputs, the network heuristic's points are SCIP's start
#: solutions; "plugin": those and its SCIP plugin during the solve; "off": neither.  SCIP
#: only (HiGHS solves without it).  The plugin is not the default: in
#: benchmarks/results/heuristic.md it found no better incumbent and slowed proofs.
HEURISTICS = ("auto", "plugin", "off")

#: default seconds of the start search: this, or a tenth of the time limit if less
HEURISTIC_TIME = 1.0


@dataclass
class Outcome:
    """What a MIP solve produced, solver independent.

    ``status`` is ``"optimal"``, ``"time_limit"``, ``"infeasible"``, ``"unbounded"`` (the
    model has points but no finite optimum), ``"infeasible_or_unbounded"`` (the solver could
    not tell, and the check of :func:`solve_model` ran out of time) or the solver's own word.
    For ``"unbounded"``, ``unbounded_variables`` names the variables along which the
    objective improves without end (when they could be found) and ``note`` says what to do.
    """

    status: str
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    nodes: int | None
    unbounded_variables: tuple = ()
    note: str | None = None
    heuristic: dict | None = None


class _Run(NamedTuple):
    """What one solver call returned; ``load`` writes its solution into the model."""

    termination: str
    has_solution: bool
    primal: float | None
    dual: float | None
    seconds: float | None
    nodes: int | None
    load: Callable[[], None]


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
    heuristic: str = "auto",
    heuristic_time: float | None = None,
    scip_callbacks=None,
) -> Outcome:
    """Solve ``m`` and load the best solution found (if any) into its variables.

    Parameters
    ----------
    m : pyomo.environ.ConcreteModel
    solver : {"scip_direct", "scip_persistent", "appsi_highs"}
        ``scip_*`` use Pyomo's new solver interface (``pyomo.contrib.solver``),
        ``appsi_highs`` the APPSI interface of HiGHS.
    time_limit : float, optional
        Seconds; reaching it is not an error (see ``Outcome.status``).  The start search of
        the network heuristic counts inside it.
    tee : bool
        Stream the solver log to stdout.
    options : dict, optional
        Solver parameters passed through unchanged (e.g. ``{"timing/clocktype": 1}``
        for SCIP's CPU clock); HiGHS options for ``appsi_highs``.  They override ``settings``.
    settings : {"relu", "default"}
        Named SCIP parameter set (:data:`SCIP_SETTINGS`); ignored for HiGHS.
    heuristic : {"auto", "plugin", "off"}
        The network primal heuristic (:data:`HEURISTICS`, docs/solving.md), SCIP only.
        ``"auto"``: when the objective is linear in the inputs and outputs of one
        ``ReluNetworkBlock``, the best points of a sampling and activation-pattern LP search
        (:func:`pyomo_relu.heuristics.search`) become SCIP's start solutions; on other
        models nothing happens.  ``"plugin"``: also a SCIP heuristic plugin that polishes
        the network inputs of LP solutions during the solve.  ``"off"``.
    heuristic_time : float, optional
        Seconds of the start search; default 1 s, or a tenth of ``time_limit`` if less.
    scip_callbacks : sequence of callables, optional
        ``f(scip_model, var_map)``, called after the model is loaded into SCIP and
        before it is solved, with the ``pyscipopt.Model`` and a map from Pyomo variables
        to SCIP variables: for plugins (heuristics, separators, event handlers) and start
        solutions.  SCIP only.

    Returns
    -------
    Outcome
        Status, objective of the best solution, proven bound, relative gap,
        solver time and node count.

    Raises
    ------
    UnknownOptionError
        For an unknown solver, settings or heuristic name, a negative time limit, a
        callback that is not callable, or a solver parameter the solver does not know
        (or a value of the wrong type).
    SolverUnavailableError
        If the solver is not installed (the message names the pip package).
    NotApplicableError
        For ``appsi_highs`` and a model with SOS constraints (e.g. a block with
        the ``sos1`` formulation); the message names the block and the fix.  For
        ``scip_callbacks`` with HiGHS.
    """
    if settings not in SCIP_SETTINGS:
        raise UnknownOptionError(
            f"unknown SCIP settings {settings!r}; valid: {', '.join(SCIP_SETTINGS)}."
        )
    if heuristic not in HEURISTICS:
        raise UnknownOptionError(
            f"solve_model: unknown heuristic {heuristic!r}; valid: {', '.join(HEURISTICS)}."
        )
    time_limit = seconds_option(time_limit, "solve_model")
    heuristic_time = seconds_option(heuristic_time, "solve_model", name="heuristic_time")
    callbacks = _check_callbacks(scip_callbacks, solver)
    opt = get_solver(solver)
    if SOLVERS[solver][0] == "contrib":
        options = {**SCIP_SETTINGS[settings], **(options or {})}
        _check_scip_options(options)
    else:
        _check_highs_options(options or {})
    start = time.perf_counter()
    report = None
    if SOLVERS[solver][0] == "contrib" and heuristic != "off":
        budget = _heuristic_budget(heuristic_time, time_limit)
        found, report = _network_heuristic(m, heuristic, budget)
        callbacks = found + callbacks
    remaining = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 0)
    if SOLVERS[solver][0] == "contrib":
        res = _run_contrib(
            opt, m, time_limit=remaining, tee=tee, options=options, callbacks=callbacks
        )
    else:
        res = _run_appsi(opt, m, time_limit=remaining, tee=tee, options=options or {})
    status = _status(res.termination)
    budget = None if time_limit is None else max(time_limit - (time.perf_counter() - start), 0.0)
    diagnosis = _no_finite_optimum(
        m, status, res.has_solution, lambda: _feasible(m, solver, budget, options or {})
    )
    if diagnosis is not None:
        status, names, note = diagnosis
    else:
        names, note = (), None
    unbounded = status == "unbounded"
    if res.has_solution and not unbounded:  # an unbounded solve's "solution" is a far-out ray
        res.load()
    wall = time.perf_counter() - start
    primal, dual = (None, _infinite_bound(m)) if unbounded else (res.primal, res.dual)
    return Outcome(
        status=status,
        has_solution=bool(res.has_solution) and not unbounded,
        objective=None if primal is None else float(primal),
        bound=None if dual is None else float(dual),
        gap=relative_gap(primal, dual),
        seconds=float(wall if res.seconds is None else res.seconds),
        nodes=None if res.nodes is None else int(res.nodes),
        unbounded_variables=tuple(names),
        note=note,
        heuristic=_heuristic_report(report),
    )


def _check_callbacks(callbacks, solver: str) -> list:
    """The ``scip_callbacks`` as a list, checked (callables, and a SCIP solver)."""
    if callbacks is None:
        return []
    if callable(callbacks) or isinstance(callbacks, (str, bytes)):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    for i, f in enumerate(callbacks):
        if not callable(f):
            raise UnknownOptionError(
                f"solve_model: scip_callbacks[{i}] is {f!r}, not a callable; pass functions "
                "f(scip_model, var_map)."
            )
    if callbacks and SOLVERS.get(solver, ("",))[0] != "contrib":
        raise NotApplicableError(
            f"solve_model: scip_callbacks receive a pyscipopt.Model, but solver={solver!r} is "
            "not SCIP; use solver='scip_direct' or drop the callbacks."
        )
    return callbacks


def _heuristic_budget(heuristic_time, time_limit) -> float:
    if heuristic_time is not None:
        return heuristic_time if time_limit is None else min(heuristic_time, time_limit)
    return HEURISTIC_TIME if time_limit is None else min(HEURISTIC_TIME, 0.1 * time_limit)


def _network_heuristic(m, heuristic: str, budget: float):
    """``(callbacks, report)`` of the network heuristic on ``m`` (no callbacks if it does not
    apply)."""
    from . import scip_plugins
    from .heuristics import search

    problem, _ = scip_plugins.network_problem(m)
    if problem is None or budget <= 0:  # a zero time limit: stop at once, search nothing
        return [], None
    found = search(
        problem.block.network,
        problem.lb,
        problem.ub,
        problem.objective,
        constraints=problem.constraints,
        points=_current_inputs(problem.block),
        time_limit=budget,
    )
    candidates = [c for c in found.candidates if c.violation <= 1e-9]
    plugins: list = []
    callbacks = scip_plugins.heuristic_callbacks(
        problem, candidates, plugin=heuristic == "plugin", plugins=plugins
    )
    return callbacks, {"search": found, "plugins": plugins}


def _current_inputs(block):
    """The block's input values as one point, if all are set (e.g. a previous solution)."""
    values = [v.value for v in block.inputs.values()]
    return None if any(v is None for v in values) else [values]


def _heuristic_report(report) -> dict | None:
    if report is None:
        return None
    found = report["search"]
    return {
        "objective": None if found.best is None else found.best.objective,
        "seconds": found.seconds,
        "evaluated": found.evaluated,
        "lps": found.lps,
        "starts": len(found.candidates),
        "plugin_submitted": sum(p.submitted for p in report["plugins"]),
        "plugin_accepted": sum(p.accepted for p in report["plugins"]),
    }


# -- a model without a finite optimum ------------------------------------------------
def _no_finite_optimum(m, status: str, has_solution: bool, feasible):
    """``(status, variable names, note)`` when ``m`` has no finite optimum or proves infeasible.

    Solvers answer an unbounded MIP in several ways: "unbounded", "infeasible or
    unbounded" (big-M rows and presolve make SCIP and HiGHS stop there), or even a finite
    "optimum" at a huge value when an objective variable lies in no constraint.  This
    settles them: an objective variable that is unbounded in the improving direction and
    in no active constraint makes a feasible model unbounded; "infeasible or unbounded" is
    told apart by solving the model with a zero objective (``feasible()``: True, False, or
    None when that solve could not tell, e.g. out of time).  A feasible model whose LP
    relaxation is unbounded is itself unbounded (Meyer 1974, for rational data); the
    variables with a nonzero entry in the relaxation's unbounded ray are named.  Returns
    None when nothing changes.
    """
    lacking, free = _objective_variables_without_bound(m)
    if status not in ("unbounded", "infeasible_or_unbounded") and not (free and has_solution):
        return None
    if status == "infeasible_or_unbounded" and not has_solution:
        found = feasible()
        if found is None:
            return None
        if not found:
            return "infeasible", (), "the model's constraints admit no point."
    names = [v.name for v in free] or _ray_variables(m) or [v.name for v in lacking]
    shown = ", ".join(repr(n) for n in names[:10]) + (", ..." if len(names) > 10 else "")
    where = f" along the variable(s) {shown}" if names else ""
    note = (
        "no finite optimum: the model has points, and its objective improves without bound"
        f"{where}; give those variables bounds (or constraints that limit them) and solve again."
    )
    return "unbounded", tuple(names), note


def _active_objective(m):
    import pyomo.environ as pyo

    objectives = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    return objectives[0] if len(objectives) == 1 else None


def _objective_variables_without_bound(m):
    """Objective variables without a bound in the improving direction; those in no constraint.

    Returns ``(lacking, free)``: the unfixed variables of the (linear part of the) objective
    whose coefficient improves the objective in a direction in which the variable has no
    bound, and the ones of those that no active constraint uses.
    """
    import pyomo.environ as pyo
    from pyomo.core.expr.visitor import identify_variables
    from pyomo.repn import generate_standard_repn

    obj = _active_objective(m)
    if obj is None:
        return [], []
    repn = generate_standard_repn(obj.expr, quadratic=False, compute_values=True)
    improving = 1.0 if obj.sense == pyo.minimize else -1.0  # decrease for minimize
    lacking = []
    for var, coef in zip(repn.linear_vars, repn.linear_coefs):
        if var.fixed or coef == 0:
            continue
        down = improving * float(coef) > 0  # the objective improves as the variable decreases
        if (var.lb if down else var.ub) is None:
            lacking.append(var)
    if not lacking:
        return [], []
    used = set()
    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        used.update(id(v) for v in identify_variables(con.body, include_fixed=False))
    return lacking, [v for v in lacking if id(v) not in used]


def _ray_variables(m) -> list:
    """Names of the variables of an unbounded ray of ``m``'s LP relaxation (HiGHS), largest first.

    Empty when the relaxation is not linear, not unbounded, or HiGHS gives no ray.
    """
    import highspy
    import numpy as np

    from ._highs import run_highs

    if _active_objective(m) is None:
        return []
    try:
        columns, data = _highs_arrays(m)
    except (ValueError, TypeError, RuntimeError):  # nonlinear or unsupported components
        return []
    data["integrality"] = None  # the LP relaxation
    h = _highs_from_arrays(data)
    h.setOptionValue("presolve", "off")  # the ray must belong to the LP as given
    run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kUnbounded:
        return []
    _, has_ray, ray = h.getPrimalRay()
    ray = np.abs(np.asarray(ray, dtype=np.float64))
    if not has_ray or ray.size != len(columns) or not ray.any():
        return []
    order = [j for j in np.argsort(-ray, kind="stable") if ray[j] > 1e-9 * ray.max()]
    return [columns[j].name for j in order]


def _highs_arrays(m):
    """``(columns, data)``: the active linear model ``m`` as HiGHS arrays (plain numpy data).

    ``columns`` are the Pyomo variables in column order; ``data`` holds the column bounds,
    costs, objective offset and sense, row bounds, the column-wise matrix and integrality.
    Raises ValueError (or a Pyomo error) for components that are not linear.
    """
    import numpy as np
    import pyomo.environ as pyo
    from pyomo.repn.plugins.standard_form import LinearStandardFormCompiler

    form = LinearStandardFormCompiler().write(m, mixed_form=True, set_sense=None)
    columns = list(form.columns)
    n = len(columns)
    obj = _active_objective(m)
    cost = np.zeros(n) if form.c.shape[0] == 0 else np.asarray(form.c.toarray()[0], float)
    offset = 0.0 if form.c.shape[0] == 0 else float(np.asarray(form.c_offset)[0])
    a = form.A.tocsc()
    kinds = np.array([row.bound_type for row in form.rows], dtype=int)
    rhs = np.asarray(form.rhs, dtype=np.float64)
    data = {
        "col_lo": np.array([-np.inf if v.lb is None else float(v.lb) for v in columns]),
        "col_hi": np.array([np.inf if v.ub is None else float(v.ub) for v in columns]),
        "cost": cost,
        "offset": offset,
        "maximize": obj is not None and obj.sense == pyo.maximize,
        "row_lo": np.where(kinds == 1, -np.inf, rhs),
        "row_hi": np.where(kinds == -1, np.inf, rhs),
        "start": a.indptr.astype(np.int32),
        "index": a.indices.astype(np.int32),
        "value": a.data.astype(np.float64),
        "integrality": np.array([v.is_integer() for v in columns], dtype=bool),
    }
    return columns, data


def _highs_from_arrays(data):
    """A quiet ``highspy.Highs`` holding the model of :func:`_highs_arrays`."""
    import highspy
    import numpy as np

    from ._highs import new_highs

    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = len(data["cost"]), len(data["row_lo"])
    lp.col_cost_, lp.offset_ = data["cost"], data["offset"]
    lp.col_lower_ = np.where(np.isfinite(data["col_lo"]), data["col_lo"], -inf)
    lp.col_upper_ = np.where(np.isfinite(data["col_hi"]), data["col_hi"], inf)
    lp.row_lower_ = np.where(np.isfinite(data["row_lo"]), data["row_lo"], -inf)
    lp.row_upper_ = np.where(np.isfinite(data["row_hi"]), data["row_hi"], inf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_ = data["start"], data["index"]
    lp.a_matrix_.value_ = data["value"]
    if data["maximize"]:
        lp.sense_ = highspy.ObjSense.kMaximize
    if data["integrality"] is not None and data["integrality"].any():
        lp.integrality_ = [
            highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
            for i in data["integrality"]
        ]
    h = new_highs()
    h.passModel(lp)
    return h


def _feasible(m, solver: str, time_limit, options: dict):
    """Whether ``m`` has a point: solve it with a zero objective (True, False or None).

    The model's objectives are deactivated for that solve and restored after it; no values
    are loaded.  None when the solve ends without an answer (time limit, numerical trouble).
    """
    import pyomo.environ as pyo
    from pyomo.common.modeling import unique_component_name

    if time_limit is not None and time_limit <= 0:
        return None
    active = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    name = unique_component_name(m, "feasibility_objective")
    for obj in active:
        obj.deactivate()
    m.add_component(name, pyo.Objective(expr=0.0))
    try:
        run = _run_contrib if SOLVERS[solver][0] == "contrib" else _run_appsi
        res = run(get_solver(solver), m, time_limit=time_limit, tee=False, options=options)
    finally:
        m.del_component(name)
        for obj in active:
            obj.activate()
    if res.has_solution:
        return True
    return False if _status(res.termination) == "infeasible" else None


def _infinite_bound(m) -> float:
    """The objective bound of an unbounded model: -inf when minimizing, inf when maximizing."""
    import pyomo.environ as pyo

    obj = _active_objective(m)
    return -math.inf if obj is None or obj.sense == pyo.minimize else math.inf


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
def _scip_log_without_deadlock(opt=None, callbacks=()):
    """Let SCIP run without holding Python's GIL inside Pyomo's SCIP interfaces.

    Pyomo captures SCIP's log through a pipe that a Python thread drains, while
    ``pyscipopt.Model.optimize`` holds the GIL: once a solve has written more
    than the pipe's buffer (64 KiB, a few hundred log lines) both sides wait
    forever.  Inside this context the interfaces create models whose
    ``optimize`` is pyscipopt's ``optimizeNogil``, so the log is drained while
    SCIP runs.  Without ``optimizeNogil`` (old pyscipopt) the model's own
    ``optimize`` runs.

    The same ``optimize`` first calls each of ``callbacks`` with the loaded model and the
    interface's map from Pyomo to SCIP variables (``opt``'s), after the interface has set
    the model's parameters: the ``scip_callbacks`` of :func:`solve_model`.
    """
    import pyscipopt
    from pyomo.contrib.solver.solvers.scip import base, scip_direct

    modules = [
        mod for mod in (base, scip_direct) if hasattr(mod, "scip")
    ]  # where the interfaces find pyscipopt
    nogil = hasattr(pyscipopt.Model, "optimizeNogil")
    if not modules or not (nogil or callbacks):
        yield
        return

    class _Model(pyscipopt.Model):
        def optimize(self):
            if callbacks:
                var_map = opt._pyomo_var_to_solver_var_map
                for f in callbacks:
                    f(self, var_map)
            self.optimizeNogil() if nogil else super().optimize()

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


def _run_contrib(opt, m, *, time_limit, tee, options, callbacks=()):
    """Pyomo's new solver interface (scip_direct, scip_persistent).

    Without ``tee`` SCIP prints nothing (``display/verblevel = 0`` unless the
    caller sets it), and SCIP runs without the GIL (see
    :func:`_scip_log_without_deadlock`), so long solves with a log never hang.
    ``callbacks`` are called with the loaded model just before it is solved.
    """
    if not tee:
        options = {"display/verblevel": 0, **options}
    with _scip_log_without_deadlock(opt, callbacks):
        res = opt.solve(
            m,
            tee=tee,
            time_limit=time_limit,
            load_solutions=False,
            raise_exception_on_nonoptimal_result=False,
            solver_options=options,
        )
    has_sol = res.solution_status.name != "noSolution"
    seconds = getattr(res.timing_info, "scip_time", None)
    nodes = res.extra_info.value().get("NNodes")
    return _Run(
        res.termination_condition.name,
        has_sol,
        res.incumbent_objective,
        res.objective_bound,
        seconds,
        nodes,
        res.solution_loader.load_vars,
    )


def _refuse_sos(m) -> None:
    """HiGHS has no SOS constraints: refuse a model with one, naming its block and the fix."""
    import pyomo.environ as pyo

    sos = next(m.component_data_objects(pyo.SOSConstraint, active=True, descend_into=True), None)
    if sos is None:
        return
    owner = sos.parent_block()
    while owner is not None and not hasattr(owner, "build_stats"):
        owner = owner.parent_block()
    where = (
        "the model"
        if owner is None
        else (f"block {owner.name!r} (formulation {owner.formulation!r})")
    )
    raise NotApplicableError(
        f"solve_model: {where} has SOS constraints ({sos.name}), which HiGHS (appsi_highs) does "
        "not support; solve with solver='scip_direct' (or 'scip_persistent'), or rebuild the "
        "block with a formulation without them, e.g. block.rebuild(formulation='tightened_bigm')."
    )


def _run_appsi(opt, m, *, time_limit, tee, options):
    """The APPSI interface (appsi_highs); no solver time or node count is reported.

    With a time limit the solve runs in a separate process instead
    (:func:`_run_highs_bounded`), so that the limit holds in HiGHS' presolve too.
    """
    from pyomo.common.errors import PyomoException

    _refuse_sos(m)
    if time_limit is not None:
        return _run_highs_bounded(m, time_limit=time_limit, tee=tee, options=options)
    opt.highs_options.update(options)
    opt.config.stream_solver = tee
    opt.config.time_limit = time_limit
    opt.config.load_solution = False
    try:
        res = opt.solve(m)
    except PyomoException:
        _raise_if_nonlinear(m)
        raise
    has_sol = res.best_feasible_objective is not None
    return _Run(
        res.termination_condition.name,
        has_sol,
        res.best_feasible_objective,
        res.best_objective_bound,
        None,
        None,
        res.solution_loader.load_vars,
    )


def _raise_if_nonlinear(m) -> None:
    """NotApplicableError naming the first nonlinear objective or constraint of ``m``, if any."""
    nonlinear = _first_nonlinear(m)
    if nonlinear is not None:
        raise NotApplicableError(
            f"solve_model: appsi_highs solves linear (MILP) models only, but {nonlinear} is "
            "nonlinear; "
            "use solver='scip_direct' (SCIP solves MINLPs) or write it linearly."
        ) from None


#: a time-limited HiGHS process is stopped this long (seconds, plus 5 % of the limit) after
#: its limit has passed; HiGHS itself stops well within it wherever it checks the limit
_HIGHS_GRACE = 0.25
#: seconds a HiGHS process may take to start and read its model before that is an error
_HIGHS_STARTUP = 600.0

#: HiGHS model status -> the termination names of Pyomo's solver interfaces (see _status)
_HIGHS_TERMINATION = {
    "kOptimal": "optimal",
    "kTimeLimit": "maxTimeLimit",
    "kInfeasible": "infeasible",
    "kUnbounded": "unbounded",
    "kUnboundedOrInfeasible": "infeasibleOrUnbounded",
    "kInterrupt": "interrupted",
}


def _run_highs_bounded(m, *, time_limit, tee, options) -> _Run:
    """HiGHS on ``m`` with a time limit that holds in every phase, presolve included.

    HiGHS checks its ``time_limit`` only at some points: its MIP presolve and the set-up
    of the MIP search can run far past it (34 s for a limit of 0.3 s on a big-M model of
    a 3 x 400 network).  The model therefore goes, as arrays, to HiGHS in a process of its
    own, which is stopped once the limit has passed by :data:`_HIGHS_GRACE` (plus 5 %);
    the solve then ends with ``time_limit`` and no solution (HiGHS had none yet).  The
    limit counts from the moment HiGHS starts, after the model is written, as in APPSI.
    """
    import multiprocessing

    from pyomo.common.errors import PyomoException

    from .errors import SolverError

    try:
        columns, data = _highs_arrays(m)
    except (ValueError, TypeError, PyomoException):
        _raise_if_nonlinear(m)
        raise
    methods = multiprocessing.get_all_start_methods()
    ctx = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_highs_worker, args=(send, data, dict(options), time_limit, tee), daemon=True
    )
    proc.start()
    send.close()
    try:
        if not receive.poll(_HIGHS_STARTUP):
            raise SolverError(f"solve_model: HiGHS did not start within {_HIGHS_STARTUP} s.")
        receive.recv()  # HiGHS starts now
        result = receive.recv() if receive.poll(time_limit * 1.05 + _HIGHS_GRACE) else None
    except EOFError:
        raise SolverError(
            f"solve_model: the HiGHS process ended without a result (exit code "
            f"{proc.exitcode}); solve without a time limit or with solver='scip_direct'."
        ) from None
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        receive.close()
    if result is None:  # stopped while HiGHS did not look at its clock
        return _Run("maxTimeLimit", False, None, None, None, None, lambda: None)
    termination, primal, dual, seconds, nodes, values = result

    def load():
        for var, value in zip(columns, values):
            var.set_value(float(value), skip_validation=True)

    return _Run(termination, values is not None, primal, dual, seconds, nodes, load)


def _highs_worker(conn, data, options, time_limit, tee) -> None:
    """Solve the model of :func:`_highs_arrays` in this (separate) process; send the result.

    Sends ``"started"`` just before HiGHS runs, then ``(termination, objective, bound,
    seconds, nodes, column values or None)``.
    """
    import highspy
    import numpy as np

    from ._highs import run_highs

    # a forked process inherits HiGHS' thread scheduler without its worker threads
    highspy.Highs.resetGlobalScheduler(False)
    h = _highs_from_arrays(data)
    h.setOptionValue("output_flag", bool(tee))
    for name, value in options.items():
        h.setOptionValue(name, value)
    h.setOptionValue("time_limit", float(time_limit))
    conn.send("started")
    start = time.perf_counter()
    run_highs(h)
    seconds = time.perf_counter() - start
    status, info = h.getModelStatus(), h.getInfo()
    termination = _HIGHS_TERMINATION.get(status.name, status.name)
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    mip = data["integrality"] is not None and bool(data["integrality"].any())
    primal = float(info.objective_function_value) if feasible else None
    if mip:
        dual = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    else:
        dual = primal if termination == "optimal" else None
    values = np.asarray(h.getSolution().col_value, dtype=np.float64) if feasible else None
    nodes = int(info.mip_node_count) if mip else None
    conn.send((termination, primal, dual, seconds, nodes, values))
    conn.close()


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
