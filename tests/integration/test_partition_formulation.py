"""The partition formulations (P-split) with SCIP: exact optima, relaxations between big-M and hull.

* The MIP optimum equals the big-M optimum and the forward pass at the solution,
  for every number of groups, both strategies, ReLU and clipped-ReLU networks
  (a clipped neuron whose cap is reachable gets the big-M rows).
* The LP relaxation is never weaker than big-M's with the same bounds, and
  with one input per group it is the convex hull of a single neuron: its LP
  optimum equals the MIP optimum for every linear objective.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.formulations import Partition, TightenedPartition
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _model(net, formulation, c=None, box=1.0):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-box, box))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    c = np.zeros(net.n_inputs) if c is None else c
    expr = m.nn.outputs[0] + sum(float(c[i]) * m.x[i] for i in range(net.n_inputs))
    m.obj = pyo.Objective(expr=expr, sense=pyo.maximize)
    return m


def _optimum(m) -> float:
    out = solve_model(m, time_limit=60)
    assert out.status == "optimal"
    return out.objective


def _lp_optimum(m) -> float:
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
    return _optimum(m)


@pytest.mark.parametrize(
    "form",
    [
        Partition(n_parts=1),
        Partition(),
        Partition(n_parts=3, strategy="by_weight"),
        Partition(n_parts=16),
        TightenedPartition(n_parts=2),
        TightenedPartition(n_parts=4, strategy="by_weight"),
    ],
    ids=lambda f: f"{f.name}-{f.encoding.name}",
)
@pytest.mark.parametrize("clipped", [False, True])
def test_optimum_equals_bigm_and_forward(form, clipped):
    for seed in range(3):
        net = random_network((3, 8, 8, 1), seed=seed, clipped=clipped, cap=0.7)
        ref = _optimum(_model(net, "bigm"))
        m = _model(net, form)
        assert _optimum(m) == pytest.approx(ref, abs=1e-6)
        assert m.nn.prediction_error() < 1e-6
        assert abs(net.forward(m.nn.input_values())[0] - ref) < 1e-6
        # no more binaries than big-M; clipped neurons with a reachable cap use d2
        stats = m.nn.build_stats
        assert stats.encoding == form.encoding.name
        assert (m.nn.mip.component("d2") is not None and len(m.nn.mip.d2) > 0) == (
            clipped and stats.binaries > stats.unstable
        )


@pytest.mark.parametrize("parts", [1, 2, 4])
def test_fixed_inputs_reproduce_the_forward_pass(parts):
    net = random_network((4, 10, 10, 2), seed=5)
    m = _model(net, Partition(n_parts=parts))
    rng = np.random.default_rng(parts)
    for x in rng.uniform(-1, 1, size=(5, 4)):
        for i in range(4):
            m.x[i].fix(float(x[i]))
        _optimum(m)
        np.testing.assert_allclose(m.nn.output_values(), net.forward(x), atol=1e-6)


def _one_neuron(seed, n_in=3):
    rng = np.random.default_rng(seed)
    return pr.ReluNetwork.from_arrays(
        [rng.normal(size=(1, n_in)), np.ones((1, 1))], [rng.normal(size=1) * 0.3, np.zeros(1)]
    )


def test_one_input_per_group_is_the_convex_hull_of_a_neuron():
    """With P = n the LP relaxation of one neuron is exact for every linear objective."""
    rng = np.random.default_rng(0)
    gaps = []
    for seed in range(8):
        net = _one_neuron(seed)
        c = rng.normal(size=3)
        exact = _optimum(_model(net, "bigm", c))
        hull = _lp_optimum(_model(net, Partition(n_parts=3), c))
        bigm = _lp_optimum(_model(net, "bigm", c))
        assert hull == pytest.approx(exact, abs=1e-6)
        assert bigm >= hull - 1e-7
        gaps.append(bigm - exact)
    assert max(gaps) > 1e-3  # big-M's relaxation is weaker on some of them


@pytest.mark.parametrize("seed", range(3))
def test_relaxation_is_never_weaker_than_bigm_and_tightens_with_more_groups(seed):
    net = random_network((4, 12, 12, 1), seed=seed)
    c = np.random.default_rng(seed).normal(size=4) * 0.2
    bigm = _lp_optimum(_model(net, "bigm", c))
    lp = {p: _lp_optimum(_model(net, Partition(n_parts=p), c)) for p in (1, 2, 4)}
    exact = _optimum(_model(net, "bigm", c))
    assert lp[1] == pytest.approx(bigm, abs=1e-6)  # one group: the big-M rows again
    assert bigm + 1e-7 >= lp[2] and lp[2] + 1e-7 >= lp[4] >= exact - 1e-7


def test_tightened_partition_uses_lp_bounds_and_reports_them():
    net = random_network((2, 10, 10, 1), seed=3)
    m = _model(net, "tightened_partition")
    assert m.nn.bounds.methods[1:] == ["lp", "lp"]
    assert m.nn.prepared.report is not None
    loose = _model(net, "partition")
    assert m.nn.build_stats.binaries <= loose.nn.build_stats.binaries
    assert _optimum(m) == pytest.approx(_optimum(loose), abs=1e-6)
    assert m.nn.summary()["formulation"] == "tightened_partition"
