"""Ideal single-neuron cuts (pyomo_relu.scip_cuts): valid, strongest of their family, and a
SCIP separator that keeps the MIP optimum and never weakens the root bound."""

from __future__ import annotations

import itertools

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.errors import NotApplicableError, UnknownOptionError
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]

pyscipopt = pytest.importorskip("pyscipopt")
scip_cuts = pytest.importorskip("pyomo_relu.scip_cuts")
OFF = pyscipopt.SCIP_PARAMSETTING.OFF


def _model(net, sense=pyo.maximize, formulation="bigm", box=1.0):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-box, box))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
    return m


def _neurons(m):
    return scip_cuts._collect(scip_cuts._blocks(m))


def _subset_rhs(data, n, values, subset):
    """Right side of the inequality of ``subset`` (entries of neuron ``n``) at ``values``."""
    entries = np.flatnonzero(data.neuron == n)
    d = values[data.d[n]]
    total = data.bias[n] * d
    for e in entries:
        x = values[data.var[e]]
        if e in subset:
            total += data.w[e] * (x - data.lo_w[e] * (1 - d))
        else:
            total += data.w[e] * data.hi_w[e] * d
    return total


def _network_point(m, data, x):
    """Values of every collected variable at the network's evaluation at input ``x``."""
    net, blk = m.nn.network, m.nn
    pre = net.preactivations(x[None, :])
    values = np.zeros(len(data.variables))
    position = {id(v): i for i, v in enumerate(data.variables)}
    for i, v in enumerate(blk.inputs.values()):
        if id(v) in position:
            values[position[id(v)]] = x[i]
    for (k, j), y in blk.mip.y.items():
        if id(y) in position:
            values[position[id(y)]] = max(pre[k][0, j], 0.0)
    for (k, j), d in blk.mip.d.items():
        if id(d) in position:
            values[position[id(d)]] = float(pre[k][0, j] > 0)
    return values


def test_most_violated_is_the_maximum_over_every_subset():
    net = random_network((4, 6, 1), seed=3)
    m = _model(net)
    data = _neurons(m)
    assert data.n > 0
    rng = np.random.default_rng(0)
    for _ in range(20):
        values = rng.uniform(-1, 1, len(data.variables))
        values[data.d] = rng.uniform(0, 1, data.n)  # a fractional LP point
        values[data.y] = rng.uniform(0, 3, data.n)
        violation, in_set, d_coef, rhs = scip_cuts.most_violated(data, values)
        for n in range(data.n):
            entries = np.flatnonzero(data.neuron == n)
            worst = max(
                values[data.y[n]] - _subset_rhs(data, n, values, set(s))
                for r in range(len(entries) + 1)
                for s in itertools.combinations(entries, r)
            )
            assert violation[n] == pytest.approx(worst, abs=1e-9)
            # the returned cut is the inequality of the chosen subset, written as a row
            chosen = set(entries[in_set[entries]])
            lhs = (
                values[data.y[n]]
                - sum(data.w[e] * values[data.var[e]] for e in chosen)
                - d_coef[n] * values[data.d[n]]
            )
            assert lhs - rhs[n] == pytest.approx(violation[n], abs=1e-9)


def test_every_inequality_holds_at_network_points():
    net = random_network((3, 8, 8, 1), seed=5)
    m = _model(net)
    data = _neurons(m)
    rng = np.random.default_rng(1)
    for _ in range(300):
        values = _network_point(m, data, rng.uniform(-1, 1, net.n_inputs))
        violation, *_ = scip_cuts.most_violated(data, values)
        assert np.all(violation <= 1e-9)


def _solve(m, *, cuts, root=False, time_limit=60, **options):
    s, var_map = scip_cuts.to_scip(m)
    s.hideOutput()
    s.setParam("limits/time", time_limit)
    if root:  # the root LP bound alone: nothing but the LP and the cuts moves it
        s.setPresolve(OFF)
        s.setHeuristics(OFF)
        s.setSeparating(OFF)
        s.setParam("branching/leastinf/priority", 10**6)  # no strong branching
        s.setParam("limits/nodes", 1)
    sepa = scip_cuts.ideal_cuts(m, **options)(s, var_map) if cuts else None
    s.optimize()
    return s, sepa


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(4, 10),
    depth=st.integers(1, 2),
    maximize=st.booleans(),
)
def test_optimum_is_unchanged_and_root_bound_no_worse(seed, width, depth, maximize):
    net = random_network((2,) + (width,) * depth + (1,), seed=seed)
    sense = pyo.maximize if maximize else pyo.minimize
    m = _model(net, sense=sense)
    plain, _ = _solve(m, cuts=False)
    cut, sepa = _solve(m, cuts=True, frequency=1)
    assert plain.getStatus() == cut.getStatus() == "optimal"
    assert cut.getObjVal() == pytest.approx(plain.getObjVal(), abs=1e-6, rel=1e-6)
    root_plain, _ = _solve(m, cuts=False, root=True)
    root_cut, _ = _solve(m, cuts=True, root=True)
    sign = 1.0 if maximize else -1.0  # a maximum's dual bound is an upper bound
    assert sign * root_cut.getDualbound() <= sign * root_plain.getDualbound() + 1e-6


def test_cuts_strengthen_the_root_bound_of_a_wide_network():
    net = random_network((3, 16, 16, 1), seed=2)
    m = _model(net)
    plain, _ = _solve(m, cuts=False, root=True)
    cut, sepa = _solve(m, cuts=True, root=True)
    assert sepa.n_cuts > 0
    # maximize: the root's upper bound drops
    assert cut.getDualbound() < plain.getDualbound() - 1e-3


def test_cuts_keep_the_optimum_of_tightened_and_scaled_formulations():
    net = random_network((2, 10, 10, 1), seed=11)
    want = None
    for formulation in ("bigm", "tightened_bigm", "scaled_bigm"):
        m = _model(net, sense=pyo.minimize, formulation=formulation)
        s, sepa = _solve(m, cuts=True, frequency=1)
        assert s.getStatus() == "optimal"
        want = s.getObjVal() if want is None else want
        assert s.getObjVal() == pytest.approx(want, abs=1e-6)


def test_clear_errors():
    net = random_network((2, 6, 1), seed=0)
    with pytest.raises(UnknownOptionError, match="frequency"):
        scip_cuts.ideal_cuts(_model(net), frequency=-2)
    with pytest.raises(UnknownOptionError, match="Valid options"):
        scip_cuts.ideal_cuts(_model(net), max_cut=3)
    with pytest.raises(NotApplicableError, match="big-M formulation"):
        scip_cuts.ideal_cuts(_model(net, formulation="regions"))
    with pytest.raises(NotApplicableError, match="not a ReluNetworkBlock"):
        scip_cuts.ideal_cuts([_model(net).x])
    m = _model(net)
    s, var_map = scip_cuts.to_scip(m)
    del var_map[m.x[0]]
    with pytest.raises(NotApplicableError, match=r"x\[0\].*not in var_map"):
        scip_cuts.ideal_cuts(m)(s, var_map)


def test_warns_when_scip_runs_no_separation_rounds():
    m = _model(random_network((2, 6, 1), seed=1))
    s, var_map = scip_cuts.to_scip(m)
    s.hideOutput()
    s.setParam("separating/maxroundsroot", 0)  # what solve_model's settings="relu" sets
    sepa = scip_cuts.ideal_cuts(m)(s, var_map)
    with pytest.warns(UserWarning, match="no separation rounds"):
        s.optimize()
    assert sepa.n_cuts == 0 and s.getStatus() == "optimal"
