"""relu.tighten_bounds: registered, sound, never looser, keeps identities, clear errors."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _model(net, *, formulation="bigm", extra=True):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    if extra:
        m.budget = pyo.Constraint(expr=sum(m.x.values()) <= 0.0)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    return m


def _sampled_preactivations(net, n=100_000, seed=0, budget=True):
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, net.n_inputs))
    if budget:
        x = x[x.sum(axis=1) <= 0.0]
    return net.preactivations(x)


@pytest.mark.parametrize("method", ["interval", "lp", "milp"])
def test_tighten_bounds_is_sound_tighter_and_keeps_optimum(method):
    net = random_network((3, 20, 20, 1), seed=21)
    m = _model(net)
    pyo.SolverFactory("scip_direct").solve(m)
    before_opt, before = pyo.value(m.obj), m.nn.bounds
    out, inp = m.nn.outputs[0], m.nn.inputs[0]
    xf = pyo.TransformationFactory("relu.tighten_bounds")
    xf.apply_to(m, method=method, time_limit_per_neuron=2.0)
    after = m.nn.bounds
    for k in range(after.n_layers):
        assert np.all(after.lower[k] >= before.lower[k]) and np.all(
            after.upper[k] <= before.upper[k]
        )
    for z, lo, up in zip(_sampled_preactivations(net), after.lower, after.upper):
        assert np.all(z >= lo) and np.all(z <= up)
    if method != "interval":
        # optimization-based bounds are strictly tighter than interval ones somewhere
        assert any(np.any(after.upper[k] < before.upper[k] - 1e-9) for k in range(after.n_layers))
        assert sum(int(after.stable(k).sum()) for k in range(2)) >= sum(
            int(before.stable(k).sum()) for k in range(2)
        )
    assert m.nn.outputs[0] is out and m.nn.inputs[0] is inp
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(before_opt, abs=1e-6)
    assert m.nn.prediction_error() < 1e-6


def test_input_constraints_tighten_bounds():
    net = random_network((2, 10, 1), seed=2)
    plain, constrained = _model(net, extra=False), _model(net, extra=True)
    for m in (plain, constrained):
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")
    width = lambda b: sum(float(np.sum(u - l)) for l, u in zip(b.lower, b.upper))  # noqa: E731
    assert width(constrained.nn.bounds) < width(plain.nn.bounds)


def test_model_context_uses_output_constraints():
    net = random_network((2, 16, 16, 2), seed=5)
    m = _model(net, extra=False)
    # a constraint on a network output: only the whole-model context can use it
    m.cap = pyo.Constraint(
        expr=m.nn.outputs[1]
        <= float(
            np.quantile(net.forward(np.random.default_rng(0).uniform(-1, 1, (5000, 2)))[:, 1], 0.3)
        )
    )
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp", context="network")
    pyo.SolverFactory("scip_direct").solve(m)
    opt_network, network_bounds = pyo.value(m.obj), m.nn.bounds
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp", context="model")
    model_bounds = m.nn.bounds
    assert model_bounds.upper[-1][1] < network_bounds.upper[-1][1]  # the output cap is seen
    assert "lp-model" in model_bounds.methods
    # sound for every point of the box that satisfies the output constraint
    x = np.random.default_rng(1).uniform(-1, 1, (100_000, 2))
    x = x[net.forward(x)[:, 1] <= pyo.value(m.cap.upper)]
    for z, lo, up in zip(net.preactivations(x), model_bounds.lower, model_bounds.upper):
        assert np.all(z >= lo) and np.all(z <= up)
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(opt_network, abs=1e-6)


def test_targets_and_bad_options():
    net = random_network((2, 6, 1), seed=1)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.a = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.b = pr.ReluNetworkBlock(network=net, inputs=m.x)
    xf = pyo.TransformationFactory("relu.tighten_bounds")
    assert xf is not None
    xf.apply_to(m, method="lp", targets=[m.a])
    # the first layer's interval bounds are exact; LP tightening starts at layer 1
    assert m.a.bounds.methods[1:] == ["lp"] and set(m.b.bounds.methods) == {"interval"}
    with pytest.raises(pr.UnknownOptionError, match="Valid options: .*method"):
        xf.apply_to(m, methd="lp")
    with pytest.raises(pr.UnknownOptionError, match="method"):
        xf.apply_to(m, method="simplex")
    with pytest.raises(pr.UnknownOptionError, match="context"):
        xf.apply_to(m, context="world")
    with pytest.raises(pr.UnknownOptionError, match=r"target 'x\[0\]' is a VarData, not a block"):
        xf.apply_to(m, targets=[m.x])
    m.empty = pyo.Block()
    with pytest.raises(pr.UnknownOptionError, match="no ReluNetworkBlock"):
        xf.apply_to(m, targets=[m.empty])


def test_options_dict_is_merged_with_keywords():
    net = random_network((2, 6, 1), seed=1)

    def two_blocks():
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(2), bounds=(-1, 1))
        m.a = pr.ReluNetworkBlock(network=net, inputs=m.x)
        m.b = pr.ReluNetworkBlock(network=net, inputs=m.x)
        return m

    xf = pyo.TransformationFactory("relu.tighten_bounds")
    m = two_blocks()
    xf.apply_to(m, options={"method": "lp", "targets": [m.a]})
    assert m.a.bounds.methods[1:] == ["lp"] and set(m.b.bounds.methods) == {"interval"}
    # the dict's targets with the keyword's method (which wins over the dict's)
    m = two_blocks()
    xf.apply_to(m, options={"method": "interval", "targets": [m.b]}, method="lp")
    assert m.b.bounds.methods[1:] == ["lp"] and set(m.a.bounds.methods) == {"interval"}
    m = two_blocks()
    xf.apply_to(m, options={"targets": [m.a]}, targets=[m.b], method="lp")
    assert m.b.bounds.methods[1:] == ["lp"] and set(m.a.bounds.methods) == {"interval"}
    xf.apply_to(m, options=None, method="lp")  # None: no options from the dict
    assert m.a.bounds.methods[1:] == ["lp"]
    with pytest.raises(pr.UnknownOptionError, match="Valid options: .*method"):
        xf.apply_to(m, options={"methd": "lp"})
    with pytest.raises(pr.UnknownOptionError, match="method"):
        xf.apply_to(m, options={"method": "simplex"})
    with pytest.raises(pr.UnknownOptionError, match="options=.*not a dict"):
        xf.apply_to(m, options=[("method", "lp")])


def test_infeasible_input_constraints_raise():
    net = random_network((2, 6, 1), seed=1)
    m = _model(net, extra=False)
    m.bad = pyo.Constraint(expr=m.x[0] + m.x[1] >= 3.0)
    with pytest.raises(pr.InfeasibleBoxError):
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")


def test_tightened_bigm_formulation_runs_obbt():
    net = random_network((2, 20, 20, 1), seed=4)
    m = _model(net, formulation="tightened_bigm", extra=False)
    assert m.nn.bounds.methods[1:] == ["lp", "lp"]
    ref = _model(net, extra=False)
    assert m.nn.summary()["binaries"] <= ref.nn.summary()["binaries"]
    assert m.nn.summary()["max_M"] <= ref.nn.summary()["max_M"]


@pytest.mark.parametrize("formulation", ["ReluBigMFormulation", "FullSpaceNNFormulation"])
def test_omlt_blocks_get_tightened_bounds_written_back(formulation):
    omlt = pytest.importorskip("omlt")
    from omlt import neuralnet

    from pyomo_relu.io.omlt import to_omlt

    net = random_network((2, 16, 16, 1), seed=3)
    m = pyo.ConcreteModel()
    m.nn = omlt.OmltBlock()
    nd = to_omlt(net, [-1, -1], [1, 1])
    m.nn.build_formulation(getattr(neuralnet, formulation)(nd))
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    pyo.SolverFactory("scip_direct").solve(m)
    before_opt = pyo.value(m.obj)
    hidden = list(nd.layers)[2]  # second hidden layer: LP is tighter than interval there
    before = [m.nn.layer[id(hidden)].zhat[j].bounds for j in range(16)]
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")
    after = [m.nn.layer[id(hidden)].zhat[j].bounds for j in range(16)]
    assert all(a[0] >= b[0] and a[1] <= b[1] for a, b in zip(after, before))
    assert any(a[1] < b[1] - 1e-9 for a, b in zip(after, before))
    assert m.nn.layer[id(hidden)]._big_m_ub_relu[0].value == pytest.approx(after[0][1])
    from pyomo_relu.bounds.lp import lp_bounds

    reference = lp_bounds(net, [-1, -1], [1, 1])
    assert np.allclose([a[1] for a in after], reference.upper[1])
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(before_opt, abs=1e-6)
