"""pyomo_relu.solving: named SCIP settings keep the optimum; bad names are clear errors."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.solving import SCIP_SETTINGS, solve_model
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _model(net):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    return m


@pytest.mark.parametrize("seed", [3, 4])
def test_settings_give_the_same_optimum(seed):
    net = random_network((2, 12, 12, 1), seed=seed)
    values = {}
    for name in SCIP_SETTINGS:
        m = _model(net)
        out = solve_model(m, settings=name)
        assert out.status == "optimal" and m.nn.prediction_error() < 1e-6
        values[name] = out.objective
    assert np.ptp(list(values.values())) < 1e-6


def test_relu_settings_turn_cuts_off_and_options_override():
    assert SCIP_SETTINGS["relu"]["separating/maxroundsroot"] == 0
    m = _model(random_network((2, 6, 1), seed=1))
    out = solve_model(m, settings="relu", options={"limits/nodes": 1})
    assert out.nodes is not None and out.nodes <= 1


def test_unknown_settings_name():
    m = _model(random_network((2, 4, 1), seed=1))
    with pytest.raises(pr.UnknownOptionError, match="unknown SCIP settings 'fast'; valid: default, relu"):
        solve_model(m, settings="fast")
