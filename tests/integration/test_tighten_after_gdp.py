"""relu.tighten_bounds on a GDP model: before the GDP transformation it works, after it it refuses.

A GDP transformation (gdp.bigm, gdp.hull) copies a Disjunct's rows, relaxed, into
its reformulation block.  Rebuilding a network block in such a Disjunct would
leave those copies on the deleted variables of the old formulation, so the
transformation refuses with an error that says to tighten first.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.core.expr.visitor import identify_variables

import pyomo_relu as pr
from pyomo_relu.errors import NotApplicableError
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip

TIGHTEN = pyo.TransformationFactory("relu.tighten_bounds")
NET = random_network((2, 6, 6, 1), seed=1)


def superstructure():
    """Build unit A (a network) or unit B (a constant yield 0); maximize the yield."""
    from pyomo.gdp import Disjunct, Disjunction

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.y = pyo.Var(bounds=(-10, 10))
    m.unit_a, m.unit_b = Disjunct(), Disjunct()
    m.unit_a.nn = pr.ReluNetworkBlock(network=NET, inputs=m.x)
    m.unit_a.link = pyo.Constraint(expr=m.y == m.unit_a.nn.outputs[0])
    m.unit_b.link = pyo.Constraint(expr=m.y == 0.0)
    m.choice = Disjunction(expr=[m.unit_a, m.unit_b])
    m.outside = pr.ReluNetworkBlock(network=NET, inputs=m.x)  # a network in no disjunct
    m.obj = pyo.Objective(expr=m.y + 1e-3 * m.outside.outputs[0], sense=pyo.maximize)
    return m


def dangling_rows(m) -> list:
    """Active constraints of ``m`` that use a variable no longer in the model."""
    bad = []
    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        for v in identify_variables(con.body, include_fixed=True):
            if v.model() is not m:
                bad.append(con.name)
                break
    return bad


@pytest.mark.parametrize("gdp", ["gdp.bigm", "gdp.hull"])
@pytest.mark.parametrize("context", ["network", "model"])
@pytest.mark.parametrize("target", ["block", "disjunct", "model"])
def test_tightening_a_transformed_disjunct_is_refused(gdp, context, target):
    m = superstructure()
    pyo.TransformationFactory(gdp).apply_to(m)
    before = m.unit_a.nn.bounds
    targets = {"block": m.unit_a.nn, "disjunct": m.unit_a, "model": None}[target]
    with pytest.raises(NotApplicableError) as err:
        TIGHTEN.apply_to(m, method="lp", context=context, targets=targets)
    message = str(err.value)
    assert "'unit_a.nn'" in message and "'unit_a'" in message
    assert "before gdp.bigm" in message and "relaxedDisjuncts" in message
    # nothing changed: the block keeps its rows and bounds, and the model stays whole
    assert m.unit_a.nn.bounds is before
    assert dangling_rows(m) == []


@requires_scip
@pytest.mark.parametrize("gdp", ["gdp.bigm", "gdp.hull"])
def test_tightening_before_the_transformation_is_used_by_the_solve(gdp):
    m = superstructure()
    TIGHTEN.apply_to(m, method="lp", targets=m.unit_a.nn)
    assert m.unit_a.nn.bounds.methods[-1].startswith("lp")
    pyo.TransformationFactory(gdp).apply_to(m)
    assert dangling_rows(m) == []
    out = solve_model(m)
    g = np.linspace(-1, 1, 201)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    assert out.status == "optimal"
    assert out.objective >= max(NET.forward(grid)[:, 0].max(), 0.0) - 1e-6


@requires_scip
def test_a_network_outside_the_transformed_disjuncts_can_still_be_tightened():
    m = superstructure()
    pyo.TransformationFactory("gdp.bigm").apply_to(m)
    TIGHTEN.apply_to(m, method="lp", targets=m.outside)
    assert m.outside.bounds.methods[-1].startswith("lp")
    assert dangling_rows(m) == []
    out = solve_model(m)
    assert out.status == "optimal" and m.outside.prediction_error() < 1e-6
