"""solve_model(heuristic=...): the network heuristic's start solutions and SCIP plugin."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu import scip_plugins
from pyomo_relu.heuristics import evaluate, search
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _model(net, formulation="bigm", sense=pyo.minimize, lb=-1.0, ub=1.0):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(lb, ub))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
    return m


def _violations(m, tol=1e-7) -> list:
    """Names of the active constraints (and binaries) of ``m`` that its values violate."""
    bad = []
    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        body = pyo.value(con.body)
        if (con.lb is not None and body < pyo.value(con.lb) - tol) or (
            con.ub is not None and body > pyo.value(con.ub) + tol
        ):
            bad.append(con.name)
    for v in m.component_data_objects(pyo.Var, descend_into=True):
        if v.is_binary() and v.value is not None and min(v.value, 1 - v.value) > tol:
            bad.append(v.name)
    return bad


@pytest.mark.parametrize(
    "formulation", ["bigm", "tightened_bigm", "scaled_bigm", "tightened_scaled_bigm", "auto"]
)
def test_start_values_satisfy_every_row_of_the_formulation(formulation):
    # auto (tightened_bigm on 3 inputs) gets the values of the formulation it delegated to
    net = random_network((3, 12, 12, 2), seed=5, clipped=formulation == "bigm")
    m = _model(net, formulation)
    problem, why = scip_plugins.network_problem(m)
    assert problem is not None, why
    found = search(net, problem.lb, problem.ub, problem.objective, samples=2000)
    for cand in found.candidates:
        values = scip_plugins.start_values(problem, cand)
        for var in problem.variables:  # every variable of the block gets a value
            assert var in values, var.name
            var.set_value(values[var], skip_validation=True)
        assert _violations(m) == []
        assert np.allclose(m.nn.output_values(), net.forward(cand.inputs), atol=1e-12)


def _no_scip_heuristics(*keep):
    """A callback switching SCIP's own heuristics off, except those named in ``keep``."""

    def off(scip_model, var_map):
        from pyscipopt import SCIP_PARAMSETTING

        scip_model.setHeuristics(SCIP_PARAMSETTING.OFF)
        for name in keep:
            scip_model.setParam(f"heuristics/{name}/freq", 0)

    return off


def _accepted_by_scip(m, problem, candidates) -> list:
    """SCIP's verdict (checkSol on the original problem) on each candidate as a full solution."""
    verdicts = []

    def check(scip_model, var_map):
        out = scip_plugins._Solutions(problem, scip_model, var_map)
        assert out.complete  # the network is the whole model
        for cand in candidates:
            sol = scip_model.createSol()
            out.fill(sol, cand)
            verdicts.append(scip_model.checkSol(sol, printreason=False, original=True))
        scip_model.setParam("limits/nodes", 1)

    solve_model(m, heuristic="off", scip_callbacks=[check])
    return verdicts


def test_scip_accepts_every_heuristic_solution():
    net = random_network((4, 16, 16, 1), seed=8)
    m = _model(net)
    problem, _ = scip_plugins.network_problem(m)
    found = search(net, problem.lb, problem.ub, problem.objective, samples=5000, keep=5)
    # the polished points and sampled ones (with their own activation patterns)
    points = np.random.default_rng(0).uniform(-1, 1, size=(10, 4))
    cands = found.candidates + evaluate(net, points, problem.objective)
    assert len({c.pattern_key for c in cands}) >= 5
    assert _accepted_by_scip(m, problem, cands) == [True] * len(cands)


def test_start_solution_is_the_incumbent_when_scip_stops_at_once():
    net = random_network((5, 32, 32, 1), seed=2)
    m = _model(net)
    # one node and no SCIP heuristics: SCIP's incumbent is the start solution
    out = solve_model(
        m, heuristic="auto", options={"limits/nodes": 1}, scip_callbacks=[_no_scip_heuristics()]
    )
    assert out.has_solution and out.heuristic is not None
    assert out.objective == pytest.approx(out.heuristic["objective"], abs=1e-9)
    assert net.forward(m.nn.input_values())[0] == pytest.approx(out.objective, abs=1e-9)
    off = solve_model(
        _model(net),
        heuristic="off",
        options={"limits/nodes": 1},
        scip_callbacks=[_no_scip_heuristics()],
    )
    assert not off.has_solution or off.objective >= out.objective - 1e-9


@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_heuristic_keeps_the_optimum(sense):
    net = random_network((3, 10, 10, 1), seed=12)
    on, off = _model(net, sense=sense), _model(net, sense=sense)
    a = solve_model(on, heuristic="plugin")
    b = solve_model(off, heuristic="off")
    assert a.status == b.status == "optimal"
    assert a.objective == pytest.approx(b.objective, abs=1e-6)
    assert on.nn.prediction_error() < 1e-6
    assert a.heuristic["objective"] is not None and b.heuristic is None
    # the heuristic's objective is never better than the optimum
    better = (
        a.heuristic["objective"] < a.objective
        if sense == pyo.minimize
        else (a.heuristic["objective"] > a.objective)
    )
    assert not better or abs(a.heuristic["objective"] - a.objective) < 1e-6


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 5000),
    n_in=st.integers(1, 3),
    hidden=st.lists(st.integers(2, 8), min_size=1, max_size=2),
    maximize=st.booleans(),
)
def test_generated_networks_heuristic_never_beats_the_mip_optimum(seed, n_in, hidden, maximize):
    net = random_network((n_in, *hidden, 1), seed=seed)
    sense = pyo.maximize if maximize else pyo.minimize
    m = _model(net, sense=sense)
    out = solve_model(m, heuristic="off")
    assert out.status == "optimal"
    problem, _ = scip_plugins.network_problem(m)
    found = search(net, problem.lb, problem.ub, problem.objective, samples=500, seed=seed)
    best = found.best
    assert net.forward(best.inputs)[0] == pytest.approx(best.objective, abs=1e-12)
    tol = 1e-6 * (1 + abs(out.objective))
    assert (
        (best.objective <= out.objective + tol)
        if maximize
        else (best.objective >= out.objective - tol)
    )


def test_plugin_finds_solutions_when_scip_has_no_other_heuristic():
    from pyscipopt import SCIP_PARAMSETTING

    net = random_network((4, 20, 20, 1), seed=6)
    m = _model(net)
    problem, _ = scip_plugins.network_problem(m)
    plugins = []
    include = scip_plugins.heuristic_callbacks(problem, [], plugin=True, plugins=plugins)

    def heuristics_off(scip_model, var_map):
        scip_model.setHeuristics(SCIP_PARAMSETTING.OFF)  # before the plugin is included

    out = solve_model(
        m, heuristic="off", scip_callbacks=[heuristics_off, *include], options={"limits/nodes": 5}
    )
    assert len(plugins) == 1 and plugins[0].accepted >= 1
    assert out.has_solution and m.nn.prediction_error() < 1e-9


def test_embedded_network_gets_a_partial_start_that_scip_completes():
    net = random_network((2, 10, 10, 1), seed=3)
    m = _model(net)
    # other variables and a row tying them to the inputs: SCIP must complete them
    m.w = pyo.Var(bounds=(-10, 10))
    m.tie = pyo.Constraint(expr=m.w == 2 * m.x[0] - m.x[1])
    m.cap = pyo.Constraint(expr=m.w <= 1.5)
    problem, why = scip_plugins.network_problem(m)
    assert problem is not None, why
    seen = {}

    def complete(scip_model, var_map):
        seen["complete"] = scip_plugins._Solutions(problem, scip_model, var_map).complete
        seen["model"] = scip_model

    out = solve_model(
        m,
        heuristic="auto",
        scip_callbacks=[complete, _no_scip_heuristics("completesol")],
        options={"limits/nodes": 1},
    )
    assert seen["complete"] is False
    assert out.has_solution  # the completed start (SCIP's other heuristics are off)
    assert _violations(m) == [] and m.nn.prediction_error() < 1e-9
    without = solve_model(
        _copy_embedded(net),
        heuristic="off",
        scip_callbacks=[_no_scip_heuristics("completesol")],
        options={"limits/nodes": 1},
    )
    assert not without.has_solution  # so the solution above is the completed start
    full = solve_model(_copy_embedded(net), heuristic="plugin")
    ref = solve_model(_copy_embedded(net), heuristic="off")
    assert full.objective == pytest.approx(ref.objective, abs=1e-6)


def _copy_embedded(net):
    m = _model(net)
    m.w = pyo.Var(bounds=(-10, 10))
    m.tie = pyo.Constraint(expr=m.w == 2 * m.x[0] - m.x[1])
    m.cap = pyo.Constraint(expr=m.w <= 1.5)
    return m


def test_input_rows_of_the_model_bound_the_search():
    net = random_network((2, 10, 10, 1), seed=4)
    m = _model(net)
    m.row = pyo.Constraint(expr=m.x[0] + m.x[1] <= -0.5)
    problem, _ = scip_plugins.network_problem(m)
    a, lo, hi = problem.constraints
    assert np.allclose(a, [[1.0, 1.0]]) and lo[0] == -np.inf and hi[0] == pytest.approx(-0.5)
    out = solve_model(m, heuristic="plugin")
    ref = solve_model(_with_row(net), heuristic="off")
    assert out.status == "optimal" and out.objective == pytest.approx(ref.objective, abs=1e-6)
    x = m.nn.input_values()
    assert x.sum() <= -0.5 + 1e-7


def _with_row(net):
    m = _model(net)
    m.row = pyo.Constraint(expr=m.x[0] + m.x[1] <= -0.5)
    return m


def test_other_objectives_run_no_heuristic():
    net = random_network((2, 6, 1), seed=1)
    m = _model(net)
    m.z = pyo.Var(bounds=(0, 1))
    m.obj.deactivate()
    m.obj2 = pyo.Objective(expr=m.nn.outputs[0] + m.z)  # a variable outside the block
    problem, why = scip_plugins.network_problem(m)
    assert problem is None and "one network block" in why
    assert solve_model(m).heuristic is None
    m.obj2.deactivate()
    m.obj3 = pyo.Objective(expr=m.nn.outputs[0] ** 2)
    assert scip_plugins.network_problem(m) == (None, "the model has no single linear objective")


def test_the_callback_hook_gets_the_scip_model_and_the_variable_map():
    import pyscipopt

    net = random_network((2, 6, 1), seed=1)
    m = _model(net)
    seen = []

    def hook(scip_model, var_map):
        seen.append((type(scip_model), var_map[m.x[0]], scip_model.getStage()))

    out = solve_model(m, heuristic="off", scip_callbacks=[hook])
    assert out.status == "optimal" and len(seen) == 1
    kind, var, stage = seen[0]
    assert issubclass(kind, pyscipopt.Model) and isinstance(var, pyscipopt.scip.Variable)
    assert stage == pyscipopt.SCIP_STAGE.PROBLEM  # loaded, not yet solved


def test_bad_options_are_named():
    m = _model(random_network((2, 4, 1), seed=1))
    with pytest.raises(pr.UnknownOptionError, match="unknown heuristic 'on'; valid: auto"):
        solve_model(m, heuristic="on")
    with pytest.raises(pr.UnknownOptionError, match=r"scip_callbacks\[0\] is 3, not a callable"):
        solve_model(m, scip_callbacks=[3])
    with pytest.raises(pr.UnknownOptionError, match="heuristic_time must be a number"):
        solve_model(m, heuristic_time=-1)
    with pytest.raises(pr.NotApplicableError, match="solver='appsi_highs' is not SCIP"):
        solve_model(m, solver="appsi_highs", scip_callbacks=[lambda s, v: None])


def test_regions_formulation_gets_a_partial_start():
    # the exact region formulation's variables are not filled by the heuristic, so its
    # start must be a partial solution (inputs and outputs) for SCIP to complete, never a
    # full solution with those variables at 0
    net = random_network((2, 6, 6, 1), seed=2)
    m = _model(net, "regions")
    problem, _ = scip_plugins.network_problem(m)
    seen = []

    def check(scip_model, var_map):
        seen.append(scip_plugins._Solutions(problem, scip_model, var_map).complete)

    out = solve_model(m, heuristic="auto", scip_callbacks=[check])
    assert seen == [False]
    assert out.status == "optimal" and m.nn.prediction_error() < 1e-7
    assert out.objective <= out.heuristic["objective"] + 1e-7
