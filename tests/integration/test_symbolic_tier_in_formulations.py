"""The symbolic tier in the Tighten step: LPs only for neurons it leaves unstable, same optima."""

from __future__ import annotations

import warnings

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.bounds import interval_bounds, lp_bounds, symbolic_bounds
from pyomo_relu.formulations import LayerFormulation
from pyomo_relu.formulations.base import Prepared
from pyomo_relu.formulations.steps import Rescale, Tighten
from tests.conftest import block_model, random_network, requires_scip


def _abs_network() -> ReluNetwork:
    """Layer 1 neuron 0 is ``|x| - 1.5`` on [-1, 1]: interval says unstable ([-1.5, 0.5]),
    symbolic bounds prove it inactive (upper -0.5); neuron 1 is ``|x| - 0.5``, unstable."""
    return ReluNetwork(
        [
            DenseLayer([[1.0], [-1.0]], [0.0, 0.0]),
            DenseLayer([[1.0, 1.0], [1.0, 1.0]], [-1.5, -0.5]),
            DenseLayer([[1.0, 2.0]], [0.0], Activation.LINEAR),
        ]
    )


def _prepare(step: Tighten, net, lb=-1.0, ub=1.0) -> Prepared:
    start = interval_bounds(net, lb, ub)
    return step.apply(Prepared(net, start, start))


def test_lps_are_solved_only_for_neurons_the_symbolic_tier_leaves_unstable():
    net = _abs_network()
    assert interval_bounds(net, -1, 1).unstable(1).tolist() == [True, True]
    with_tier, without = _prepare(Tighten(symbolic=True), net), _prepare(Tighten(), net)
    assert with_tier.report.layers[0].n_candidates == 1  # layer 1: only neuron 1
    assert without.report.layers[0].n_candidates == 2
    assert with_tier.report.n_solves < without.report.n_solves
    b = with_tier.bounds
    assert b.upper[1][0] < 0 and b.stable_inactive(1)[0]
    # the symbolic tier made layer 1 exact (|x| - 0.5 <= 0.5): the LP kept it, and its label
    assert b.upper[1][1] == pytest.approx(0.5, abs=1e-9) and b.methods[:2] == [
        "interval",
        "symbolic",
    ]
    assert without.bounds.methods[1] == "lp"


def test_candidates_equal_the_unstable_neurons_of_the_symbolic_bounds():
    for seed in range(3):
        net = random_network((3, 12, 12, 12, 1), seed=seed, bias_scale=1.5)
        prepared = _prepare(Tighten(symbolic=True), net)
        sym = symbolic_bounds(net, -1, 1)
        for rep in prepared.report.layers:
            if rep.piecewise:
                assert rep.n_candidates == int(sym.unstable(rep.layer).sum())
        lp = lp_bounds(net, -1, 1)
        for k in range(net.n_layers):
            tight = prepared.bounds
            # never looser than the symbolic tier; where the LPs ran, not looser than LP alone
            # (a neuron the tier proved stable keeps its symbolic bounds: it needs no binary)
            assert np.all(tight.upper[k] <= sym.upper[k]) and np.all(tight.lower[k] >= sym.lower[k])
            ran = sym.unstable(k) if sym.is_piecewise(k) else np.ones(len(sym.upper[k]), bool)
            tol = 1e-7 * (1 + np.abs(lp.upper[k]) + np.abs(lp.lower[k]))
            assert np.all(tight.upper[k][ran] <= lp.upper[k][ran] + tol[ran])
            low = ran & (tight.upper[k] > 0) if sym.is_piecewise(k) else ran
            assert np.all(tight.lower[k][low] >= lp.lower[k][low] - tol[low])
            if sym.is_piecewise(k):  # the same neurons need binaries
                assert tight.unstable(k).sum() <= lp.unstable(k).sum() + 1


def test_symbolic_bounds_alone_still_get_the_lp_step_and_lp_bounds_do_not():
    net = random_network((2, 8, 8, 1), seed=3)
    step = Tighten(symbolic=True)
    sym = symbolic_bounds(net, -1, 1)
    assert step.apply(Prepared(net, sym, sym)).report is not None  # LPs ran
    lp = lp_bounds(net, -1, 1)
    assert step.apply(Prepared(net, lp, lp)).bounds is lp  # already tightened: kept as is


def test_a_zero_time_limit_keeps_the_symbolic_bounds():
    net = _abs_network()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepared = _prepare(Tighten(0.0, symbolic=True), net)
    assert any(issubclass(w.category, pr.TimeLimitWarning) for w in caught)
    assert prepared.bounds == symbolic_bounds(net, -1, 1)


def test_an_invalid_symbolic_option_is_refused_naming_the_owner():
    with pytest.raises(pr.UnknownOptionError, match=r"TightenedBigM: symbolic='yes'"):
        Tighten(symbolic="yes", owner="TightenedBigM")


@requires_scip
@pytest.mark.solver
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("seed, clipped", [(0, False), (1, True), (2, False)])
def test_tightened_formulations_with_the_tier_find_the_bigm_optimum(scaled, seed, clipped):
    net = random_network((2, 10, 10, 10, 1), seed=seed, clipped=clipped, cap=1.0, bias_scale=1.0)
    steps = [Tighten(symbolic=True)] + ([Rescale()] if scaled else [])
    formulation = LayerFormulation("tiered", "symbolic tier, LP, big-M", steps=steps)
    values = {}
    for name in ("bigm", formulation):
        m = block_model(net, name, sense=pyo.minimize)
        pyo.SolverFactory("scip_direct").solve(m)
        assert m.nn.prediction_error() < 1e-6
        values[name] = pyo.value(m.obj)
        if name != "bigm":
            methods = set(m.nn.prepared.bounds.methods)
            assert methods <= {"interval", "symbolic", "lp"} and "lp" in methods
    assert values[formulation] == pytest.approx(values["bigm"], abs=1e-6, rel=1e-6)


@requires_scip
@pytest.mark.solver
def test_relu_tighten_bounds_with_the_symbolic_method_then_lp():
    net = _abs_network()
    m = block_model(net, "bigm", sense=pyo.maximize)
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="symbolic")
    assert m.nn.bounds.methods == ["interval", "symbolic", "symbolic"]
    assert m.nn.bounds.stable_inactive(1).tolist() == [True, False]
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")
    assert m.nn.tightening_report.layers[0].n_candidates == 1  # the LP starts from symbolic
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(2 * 0.5, abs=1e-6)  # relu(|x| - 0.5) * 2 at x = 1
