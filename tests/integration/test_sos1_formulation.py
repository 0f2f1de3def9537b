"""The registered ``sos1`` formulation: exact with SCIP, and clear errors outside its scope.

Its scope is ReLU networks and solvers that take SOS constraints.  A clipped-ReLU
network is refused when the block is built (the block is left as it was), and
``solve_model`` with HiGHS refuses a model that has SOS constraints, naming the
block, the formulation and the fix.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _model(net, formulation="sos1"):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    return m


def test_registered_by_name_without_binaries():
    assert "sos1" in pr.formulation_names()
    m = _model(random_network((2, 8, 8, 1), seed=1))
    stats = m.nn.build_stats
    assert m.nn.formulation == "sos1" and stats.encoding == "sos1"
    assert stats.binaries == 0 and stats.unstable > 0
    assert len(m.nn.mip.sos) == stats.unstable  # one SOS1 set per unstable neuron


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver", ["solve_model", "scip_direct"])
def test_optimum_equals_bigm_and_the_forward_pass(seed, solver):
    net = random_network((3, 8, 8, 1), seed=seed)
    ref = solve_model(_model(net, "bigm")).objective
    m = _model(net)
    if solver == "solve_model":
        out = solve_model(m, time_limit=60)
        assert out.status == "optimal"
    else:
        pyo.SolverFactory(solver).solve(m)
    assert pyo.value(m.obj) == pytest.approx(ref, abs=1e-6)
    assert m.nn.prediction_error() < 1e-6
    assert abs(net.forward(m.nn.input_values())[0] - ref) < 1e-6


def test_clipped_relu_is_refused_when_built_and_a_rebuild_leaves_the_block():
    clipped = random_network((2, 6, 1), seed=2, clipped=True, cap=0.5)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    with pytest.raises(
        pr.NotApplicableError,
        match=r"nn \(formulation 'sos1'\): layer 0 of the network is a clipped ReLU \(cap 0.5\)"
        r".*ReLU networks only.*use formulation 'bigm' or 'tightened_bigm'",
    ):
        m.nn = pr.ReluNetworkBlock(network=clipped, inputs=m.x, formulation="sos1")
    m.ok = pr.ReluNetworkBlock(network=clipped, inputs=m.x, formulation="bigm")
    rows = len(list(m.ok.mip.component_data_objects(pyo.Constraint)))
    with pytest.raises(pr.NotApplicableError, match="formulation 'sos1'"):
        m.ok.rebuild(formulation="sos1")
    assert m.ok.formulation == "bigm"
    assert len(list(m.ok.mip.component_data_objects(pyo.Constraint))) == rows


@pytest.mark.parametrize("time_limit", [None, 10.0])
def test_highs_is_refused_with_the_block_and_the_fix(time_limit):
    if not pyo.SolverFactory("appsi_highs").available():
        pytest.skip("appsi_highs not available")
    net = random_network((2, 8, 8, 1), seed=3)
    m = _model(net)
    with pytest.raises(
        pr.NotApplicableError,
        match=r"block 'nn' \(formulation 'sos1'\) has SOS constraints.*HiGHS.*"
        r"solver='scip_direct'.*rebuild\(formulation='tightened_bigm'\)",
    ):
        solve_model(m, solver="appsi_highs", time_limit=time_limit)
    # the fix the message names works, and gives the same optimum as SCIP on sos1
    ref = solve_model(m).objective
    m.nn.rebuild(formulation="tightened_bigm")
    out = solve_model(m, solver="appsi_highs", time_limit=time_limit)
    assert out.status == "optimal" and out.objective == pytest.approx(ref, abs=1e-6)


def test_highs_solves_an_sos1_block_without_unstable_neurons():
    """No unstable neuron, no SOS constraint: nothing for HiGHS to refuse."""
    if not pyo.SolverFactory("appsi_highs").available():
        pytest.skip("appsi_highs not available")
    net = pr.ReluNetwork.from_arrays(
        [np.array([[1.0], [-1.0]]), np.array([[1.0, 1.0]])],
        [np.array([5.0, -5.0]), np.array([0.0])],
    )
    m = _model(net)
    assert m.nn.mip.component("sos") is None
    out = solve_model(m, solver="appsi_highs")
    assert out.objective == pytest.approx(6.0)
