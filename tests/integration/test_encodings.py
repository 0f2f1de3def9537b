"""Per-neuron encodings: the SOS1 formulation against the forward pass and big-M (SCIP)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.formulations import (
    SOS1,
    BuildStats,
    LayerFormulation,
    encoding_names,
    get_encoding,
)
from tests.conftest import block_model, random_network, requires_scip

NETS = [
    ((2, 6, 1), 0),
    ((3, 5, 5, 2), 1),
    ((1, 8, 4, 1), 2),
    ((4, 6, 3, 1), 3),
    ((2, 4, 4, 4, 1), 4),
]


def _model(net, formulation, sense=None):
    return block_model(net, formulation, sense=sense)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("sizes, seed", NETS)
def test_sos1_fixed_inputs_reproduce_forward(sizes, seed):
    net = random_network(sizes, seed=seed)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        m = _model(net, SOS1())
        m.obj = pyo.Objective(expr=sum(m.nn.outputs.values()))
        x = rng.uniform(-1, 1, net.n_inputs)
        for i in range(net.n_inputs):
            m.x[i].fix(float(x[i]))
        pyo.SolverFactory("scip_direct").solve(m)
        np.testing.assert_allclose(m.nn.output_values(), net.forward(x), atol=1e-6, rtol=1e-6)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("sizes, seed", NETS)
@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_sos1_optimum_equals_bigm_optimum(sizes, seed, sense):
    net = random_network(sizes, seed=seed)
    values = {}
    for name, formulation in (("bigm", "bigm"), ("sos1", SOS1())):
        m = _model(net, formulation, sense)
        res = pyo.SolverFactory("scip_direct").solve(m)
        assert res.solver.termination_condition == pyo.TerminationCondition.optimal
        assert m.nn.prediction_error() < 1e-6
        values[name] = pyo.value(m.obj)
    assert values["sos1"] == pytest.approx(values["bigm"], abs=1e-6, rel=1e-6)


def test_sos1_block_has_no_binaries_and_one_sos_set_per_unstable_neuron():
    net = random_network((3, 8, 8, 1), seed=5)
    m = _model(net, SOS1())
    stats = m.nn.build_stats
    assert isinstance(stats, BuildStats) and stats.encoding == "sos1"
    assert stats.binaries == 0 and m.nn.summary()["binaries"] == 0
    assert stats.unstable > 0 and len(m.nn.mip.sos) == stats.unstable
    assert not any(v.is_binary() for v in m.nn.mip.component_data_objects(pyo.Var))


def test_sos1_refuses_clipped_relu_naming_the_layer_or_the_neuron():
    net = random_network((2, 6, 1), seed=0, clipped=True, cap=0.5)
    # the formulation refuses the network before any row is written, naming the layer
    with pytest.raises(pr.NotApplicableError, match=r"layer 0 of the network is a clipped ReLU"):
        _model(net, SOS1())
    # the encoding itself, in a formulation without that check, names the neuron
    bare = LayerFormulation("bare_sos1", "SOS1 without the ReLU check", encoding="sos1")
    with pytest.raises(pr.NotApplicableError, match=r"neuron \(0, \d+\).*'bigm' encoding"):
        _model(net, bare)


def test_unknown_encoding_lists_valid_names():
    assert {"bigm", "partition", "sos1"} <= set(encoding_names())
    with pytest.raises(pr.UnknownOptionError, match="valid names: bigm, partition, sos1"):
        get_encoding("indicator")
    with pytest.raises(pr.UnknownOptionError, match="valid names: bigm, partition, sos1"):
        LayerFormulation("mine", "my formulation", encoding="indicator")


def test_build_stats_match_the_summary_and_the_model():
    net = random_network((3, 8, 8, 1), seed=6)
    m = _model(net, "bigm")
    stats, summary = m.nn.build_stats, m.nn.summary()
    assert stats.binaries == summary["binaries"] and stats.encoding == "bigm"
    assert stats.variables == sum(1 for _ in m.nn.mip.component_data_objects(pyo.Var))
    box = len(m.nn.mip.input_box) if m.nn.mip.component("input_box") is not None else 0
    assert stats.rows + box == summary["constraints"]
    with pytest.raises(AttributeError):
        stats.binaries = 0  # frozen


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", ["bigm", "scaled_bigm", "tightened_scaled_bigm"])
def test_preactivation_values_equal_the_forward_pass(formulation):
    net = random_network((2, 6, 6, 1), seed=7)
    m = _model(net, formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    x = np.array([0.3, -0.6])
    for i in range(2):
        m.x[i].fix(float(x[i]))
    pyo.SolverFactory("scip_direct").solve(m)
    a = x
    for k, layer in enumerate(net.layers):
        z = layer.weights @ a + layer.bias
        got = [pyo.value(m.nn.preactivation(k, j)) for j in range(layer.n_out)]
        np.testing.assert_allclose(got, z, atol=1e-6)
        a = np.maximum(z, 0.0)
    with pytest.raises(pr.BlockArgumentError, match="not a neuron"):
        m.nn.preactivation(5, 0)
