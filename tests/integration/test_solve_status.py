"""solve_model tells unbounded models from infeasible ones and names the unbounded variables."""

from __future__ import annotations

import math

import pyomo.environ as pyo
import pytest

from pyomo_relu.solving import solve_model
from tests.conftest import block_model, random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]

SOLVERS = ["scip_direct", "scip_persistent", "appsi_highs"]


@pytest.fixture
def net():
    return random_network((2, 8, 8, 1), seed=1)


def loosely_tied(net, sense=pyo.minimize):
    """``min t`` (or ``max t``) with a free ``t`` that one row ties loosely to the network."""
    m = block_model(net, "bigm")
    m.t = pyo.Var()
    if sense == pyo.minimize:
        m.tie = pyo.Constraint(expr=m.t <= m.nn.outputs[0] + 1)
    else:
        m.tie = pyo.Constraint(expr=m.t >= m.nn.outputs[0] - 1)
    m.obj = pyo.Objective(expr=m.t, sense=sense)
    return m


def assert_unbounded(out, names, bound):
    assert out.status == "unbounded"
    assert not out.has_solution and out.objective is None and out.bound == bound
    assert set(names) <= set(out.unbounded_variables)
    assert "no finite optimum" in out.note and all(repr(n) in out.note for n in names)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_free_variable_loosely_tied_to_the_network_is_unbounded(net, solver, sense):
    m = loosely_tied(net, sense)
    out = solve_model(m, solver=solver)
    assert_unbounded(out, ["t"], -math.inf if sense == pyo.minimize else math.inf)
    assert m.t.value is None  # no far-out "solution" was loaded


@pytest.mark.parametrize("solver", SOLVERS)
def test_objective_variable_in_no_constraint_is_unbounded(net, solver):
    # SCIP answers this one with a finite "optimum" at t = -1e5
    m = block_model(net, "bigm")
    m.t = pyo.Var()
    m.obj = pyo.Objective(expr=m.t + m.nn.outputs[0])
    assert_unbounded(solve_model(m, solver=solver), ["t"], -math.inf)


@pytest.mark.parametrize("solver", SOLVERS)
def test_unbounded_direction_through_two_variables_names_both(net, solver):
    # the solvers stop at "infeasible or unbounded" here; the ray of the relaxation names t, s
    m = block_model(net, "bigm")
    m.t, m.s = pyo.Var(), pyo.Var()
    m.tie = pyo.Constraint(expr=m.t == m.nn.outputs[0] + m.s)
    m.obj = pyo.Objective(expr=m.t)
    out = solve_model(m, solver=solver)
    assert_unbounded(out, ["t", "s"], -math.inf)


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_model_with_an_unbounded_relaxation_is_infeasible(net, solver):
    # 2 y = 1 has no integer solution, while the LP relaxation is unbounded along t
    m = loosely_tied(net)
    m.y = pyo.Var(within=pyo.Integers, bounds=(-5, 5))
    m.odd = pyo.Constraint(expr=2 * m.y == 1)
    out = solve_model(m, solver=solver)
    assert out.status == "infeasible" and not out.has_solution
    assert out.unbounded_variables == ()


@pytest.mark.parametrize("solver", SOLVERS)
def test_infeasible_network_model_stays_infeasible(net, solver):
    m = block_model(net, "bigm", sense=pyo.minimize)
    m.t = pyo.Var()
    m.obj.deactivate()
    m.obj2 = pyo.Objective(expr=m.t + m.nn.outputs[0])
    m.far = pyo.Constraint(expr=m.nn.outputs[0] >= 1e6)
    out = solve_model(m, solver=solver)
    assert out.status == "infeasible" and not out.has_solution


@pytest.mark.parametrize("solver", SOLVERS)
def test_bounded_model_keeps_its_optimum(net, solver):
    m = loosely_tied(net)
    m.t.setlb(-3.0)
    out = solve_model(m, solver=solver)
    assert out.status == "optimal" and out.has_solution
    assert out.objective == pytest.approx(-3.0) and m.t.value == pytest.approx(-3.0)
    assert out.unbounded_variables == () and out.note is None
