"""``auto`` decides by cost: it never spends long deciding against a cheap fallback.

Times are compared within one test (the machine may be loaded): on a network
whose regions are hopeless for the exact enumeration, ``auto``'s decision takes a
small fraction of the ``tightened_bigm`` preparation it falls back to.
"""

from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.errors import UnknownOptionError
from pyomo_relu.formulations import Auto, TightenedBigM
from pyomo_relu.formulations.auto import tightening_seconds
from pyomo_relu.regions import linear_partition
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip

#: more than 20,000 linear regions on [-3, 3]^2 (He initialisation, no regularization)
HOPELESS = random_network((2, 100, 100, 100, 1), seed=0)


def _block(net, formulation, lo=-1.0, hi=1.0, n=None):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(n or net.n_inputs), bounds=(lo, hi))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    return m


def test_decision_is_a_small_fraction_of_the_fallback_where_regions_is_hopeless():
    lb, ub = np.full(2, -3.0), np.full(2, 3.0)
    bounds = pr.interval_bounds(HOPELESS, lb, ub)
    start = time.perf_counter()
    TightenedBigM().prepare(HOPELESS, bounds)  # what auto falls back to
    tighten = time.perf_counter() - start
    start = time.perf_counter()
    part = linear_partition(HOPELESS, lb, ub, max_regions=20_000, time_limit=120)
    enumerate_ = time.perf_counter() - start
    assert not part.complete and part.n_regions == 20_000  # regions is hopeless here
    m = _block(HOPELESS, "auto", -3.0, 3.0)
    s = m.nn.summary()
    assert s["used"] == "tightened_bigm" and m.nn.bounds.methods[1:] == ["lp"] * 3
    assert "likely more than max_regions=20000 regions" in s["decision"]
    assert s["decision_seconds"] < 0.25 * tighten
    assert s["decision_seconds"] < 0.25 * enumerate_  # what it used to spend before choosing


def test_cheap_regions_are_enumerated_and_the_decision_is_recorded():
    net = random_network((2, 8, 8, 1), seed=3)
    m = _block(net, "auto")
    s = m.nn.summary()
    assert s["used"] == "regions" and s["regions"] >= 1
    assert f"{s['regions']} regions enumerated within budget" in s["decision"]
    assert "fallback predicted" in s["decision"] and "linear regions" in s["decision"]
    assert 0 < s["decision_seconds"] <= s["build_seconds"]
    assert m.nn.build_stats.decision == s["decision"]


def test_more_than_two_free_inputs_decide_at_once():
    net = random_network((3, 8, 1), seed=4)
    s = _block(net, "auto").nn.summary()
    assert s["used"] == "tightened_bigm" and s["decision"].startswith("3 free inputs")
    assert s["decision_seconds"] < 0.01


def test_the_decision_is_remembered_per_network_and_box():
    net = random_network((2, 10, 10, 1), seed=5)
    auto = Auto()
    bounds = pr.interval_bounds(net, [-1, -1], [1, 1])
    first = auto.decide(net, bounds)
    again = auto.decide(net, bounds)
    assert (again.used, again.reason, again.seconds) == (first.used, first.reason, first.seconds)
    other = auto.decide(net, pr.interval_bounds(net, [-0.5, -1], [1, 1]))
    assert other.reason != first.reason


def test_tightening_prediction_is_of_the_right_order():
    net = random_network((2, 30, 30, 1), seed=6)
    bounds = pr.interval_bounds(net, [-2, -2], [2, 2])
    predicted = tightening_seconds(net, bounds)
    start = time.perf_counter()
    tight = TightenedBigM().prepare(net, bounds).bounds
    actual = time.perf_counter() - start
    assert actual / 10 < predicted < 10 * actual  # the same order, measured together
    assert tightening_seconds(net, tight) == 0.0  # already tightened: nothing to do


@pytest.mark.parametrize("bad", [0, -1.0, float("inf"), "2", True])
def test_bad_cost_ratio(bad):
    with pytest.raises(UnknownOptionError, match="Auto: cost_ratio must be a finite number > 0"):
        Auto(cost_ratio=bad)


@pytest.mark.solver
@requires_scip
def test_auto_optimum_equals_bigm_whatever_it_picks():
    for net, lo, hi in (
        (random_network((2, 8, 8, 1), seed=7), -1.0, 1.0),
        (random_network((2, 30, 30, 1), seed=8), -3.0, 3.0),
        (random_network((3, 8, 8, 1), seed=9), -1.0, 1.0),
    ):
        values = []
        for formulation in ("auto", "bigm"):
            m = _block(net, formulation, lo, hi)
            m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
            values.append(solve_model(m, time_limit=60).objective)
            assert m.nn.prediction_error() < 1e-6
        assert values[0] == pytest.approx(values[1], abs=1e-6)
