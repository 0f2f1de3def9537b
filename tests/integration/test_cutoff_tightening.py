"""relu.tighten_bounds(objective_cutoff=...): the optimum is kept, the bounds are tighter and
sound where the cut-off holds, a cut-off past the optimum is infeasible, the provenance says so."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.bounds import Provenance, Scope
from pyomo_relu.errors import (
    BoundsTypeError,
    InfeasibleBoxError,
    NotApplicableError,
    NoValueError,
    UnknownOptionError,
)
from pyomo_relu.transformations.cutoff import CUTOFF_ROW
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]

XF = pyo.TransformationFactory("relu.tighten_bounds")


def _model(net, sense, formulation="bigm"):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
    return m


def _solve(m):
    out = pr.solve_model(m)
    return out.status, out.objective


def _widths(bounds) -> float:
    return float(sum(np.sum(u - lo) for lo, u in zip(bounds.lower, bounds.upper)))


def _forward_incumbent(m, net, maximize, n=2000, seed=0):
    """Load the best of ``n`` forward passes into the model's inputs and outputs; its value."""
    x = np.random.default_rng(seed).uniform(-1, 1, size=(n, net.n_inputs))
    out = net.forward(x)[:, 0]
    best = int(np.argmax(out) if maximize else np.argmin(out))
    for i, v in m.nn.inputs.items():
        v.set_value(float(x[best, i]))
    for j, v in m.nn.outputs.items():
        v.set_value(float(net.forward(x[best])[j]))
    return float(out[best])


@st.composite
def _networks(draw):
    """A generated 3-input network with one or two hidden layers of 6-12 neurons."""
    hidden = (draw(st.integers(6, 12)),) * draw(st.integers(1, 2))
    return random_network((3, *hidden, 1), seed=draw(st.integers(0, 10_000)))


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(net=_networks(), maximize=st.booleans())
def test_optimum_is_kept_with_the_incumbent_as_cutoff(net, maximize):
    sense = pyo.maximize if maximize else pyo.minimize
    m = _model(net, sense)
    status, optimum = _solve(m)
    assert status == "optimal"
    before = m.nn.bounds
    XF.apply_to(m, objective_cutoff="incumbent")  # the solution just loaded
    after = m.nn.bounds
    for k in range(after.n_layers):
        assert np.all(after.lower[k] >= before.lower[k])
        assert np.all(after.upper[k] <= before.upper[k])
    status, again = _solve(m)
    assert status == "optimal"
    assert again == pytest.approx(optimum, abs=1e-6, rel=1e-6)
    assert m.nn.prediction_error() < 1e-6
    # the value given directly does the same
    m2 = _model(net, sense)
    XF.apply_to(m2, method="lp", objective_cutoff=optimum)
    status, third = _solve(m2)
    assert status == "optimal" and third == pytest.approx(optimum, abs=1e-6, rel=1e-6)


@pytest.mark.parametrize("maximize", [False, True])
def test_cutoff_bounds_are_tighter_than_the_model_context_and_sound_where_it_holds(maximize):
    net = random_network((3, 24, 24, 1), seed=4)
    sense = pyo.maximize if maximize else pyo.minimize
    plain = _model(net, sense)
    XF.apply_to(plain, method="lp", context="model")
    m = _model(net, sense)
    value = _forward_incumbent(m, net, maximize)
    XF.apply_to(m, method="lp", objective_cutoff="incumbent")
    tight, loose = m.nn.bounds, plain.nn.bounds
    ratio = _widths(tight) / _widths(loose)
    unstable = [int(sum(b.unstable(k).sum() for k in range(2))) for b in (loose, tight)]
    print(f"cut-off {value:.4f}: total width x{ratio:.3f}, unstable {unstable[0]} -> {unstable[1]}")
    assert ratio < 0.97  # measured: x0.955 (minimize), x0.954 (maximize)
    # sound at every sampled point whose objective is at least as good as the cut-off
    x = np.random.default_rng(1).uniform(-1, 1, size=(200_000, 3))
    out = net.forward(x)[:, 0]
    good = x[out >= value] if maximize else x[out <= value]
    assert len(good) > 0
    for z, lo, up in zip(net.preactivations(good), tight.lower, tight.upper):
        assert np.all(z >= lo) and np.all(z <= up)
    # ...and not a box bound: some sampled point with a worse objective leaves them
    bad = x[out < value] if maximize else x[out > value]
    outside = [
        np.any((z < lo - 1e-9) | (z > up + 1e-9))
        for z, lo, up in zip(net.preactivations(bad), tight.lower, tight.upper)
    ]
    assert any(outside)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cutoff_better_than_the_optimum_is_infeasible(seed):
    net = random_network((3, 10, 10, 1), seed=seed)
    m = _model(net, pyo.minimize)
    _, optimum = _solve(m)
    m2 = _model(net, pyo.minimize)
    try:
        XF.apply_to(m2, objective_cutoff=optimum - 0.25)
    except InfeasibleBoxError as exc:  # the LP relaxation already proves it
        assert "no point of the model has objective <=" in str(exc)
        return
    status, _ = _solve(m2)  # the row on the model makes the solve say it
    assert status == "infeasible"
    assert pyo.value(m2.component(CUTOFF_ROW).upper) == pytest.approx(optimum - 0.25)


def test_provenance_report_and_summary_name_the_cutoff():
    net = random_network((2, 8, 8, 1), seed=3)
    m = _model(net, pyo.minimize)
    XF.apply_to(m, objective_cutoff=0.5)
    label = "lp-cutoff(objective<=0.5)"
    assert set(m.nn.bounds.methods) == {label}
    assert m.nn.bounds.provenance[0] == Provenance("lp", Scope.CUTOFF, 0.5, "min")
    assert Provenance.of(label) == m.nn.bounds.provenance[0]
    assert m.nn.bounds.constrained_layers() == [0, 1, 2]
    assert label in m.nn.summary()["bounds"]
    report = m.nn.tightening_report
    assert label.upper() in str(report) and report.n_solves > 0
    assert str(m.component(CUTOFF_ROW).expr) == "nn.outputs[0]  <=  0.5"
    # a maximized objective: the label and the row say >=
    m2 = _model(net, pyo.maximize)
    XF.apply_to(m2, objective_cutoff=-0.25)
    assert set(m2.nn.bounds.methods) == {"lp-cutoff(objective>=-0.25)"}
    with pytest.raises(BoundsTypeError, match="finite cutoff"):
        Provenance("lp", Scope.CUTOFF)
    with pytest.raises(BoundsTypeError, match="Scope.CUTOFF only"):
        Provenance("lp", Scope.MODEL, 1.0, "min")


def test_later_runs_keep_the_cutoff_scope_and_the_stronger_row():
    net = random_network((2, 10, 10, 1), seed=6)
    m = _model(net, pyo.minimize)
    _, optimum = _solve(m)
    XF.apply_to(m, objective_cutoff=optimum + 0.1)
    first = m.nn.bounds.provenance
    # a run without a cut-off reads bounds that hold only under one: what it changes is labelled
    XF.apply_to(m, method="lp", context="model")
    assert all(p.scope is Scope.CUTOFF for p in m.nn.bounds.provenance)
    assert all(p.cutoff == pytest.approx(optimum + 0.1) for p in m.nn.bounds.provenance)
    # a weaker cut-off keeps the stronger row and the stronger label
    XF.apply_to(m, objective_cutoff=optimum + 5.0)
    assert pyo.value(m.component(CUTOFF_ROW).upper) == pytest.approx(optimum + 0.1)
    assert {p.cutoff for p in m.nn.bounds.provenance} <= {p.cutoff for p in first}
    status, again = _solve(m)
    assert status == "optimal" and again == pytest.approx(optimum, abs=1e-6)
    # the other sense would mix two cut-offs: refused
    m.obj.sense = pyo.maximize
    with pytest.raises(NotApplicableError, match="other sense"):
        XF.apply_to(m, objective_cutoff=0.0)


def test_incumbent_is_checked_before_it_becomes_the_cutoff():
    net = random_network((2, 8, 8, 1), seed=8)
    m = _model(net, pyo.minimize)
    with pytest.raises(NoValueError, match=r"variable .* has no value"):
        XF.apply_to(m, objective_cutoff="incumbent")
    value = _forward_incumbent(m, net, maximize=False)  # inputs and outputs only: accepted
    XF.apply_to(m, objective_cutoff="incumbent")
    assert m.nn.bounds.provenance[0].cutoff == pytest.approx(value)
    m2 = _model(net, pyo.minimize)
    _forward_incumbent(m2, net, maximize=False)
    m2.nn.outputs[0].set_value(m2.nn.outputs[0].value - 1.0)  # not what the network gives
    with pytest.raises(InfeasibleBoxError, match="output 0 of nn .* the network gives"):
        XF.apply_to(m2, objective_cutoff="incumbent")
    m3 = _model(net, pyo.minimize)
    m3.budget = pyo.Constraint(expr=m3.x[0] + m3.x[1] <= -1.5)
    _forward_incumbent(m3, net, maximize=False)
    m3.x[0].set_value(0.0)
    m3.x[1].set_value(0.0)
    m3.nn.outputs[0].set_value(float(net.forward(np.zeros(2))[0]))
    with pytest.raises(InfeasibleBoxError, match="the row budget"):
        XF.apply_to(m3, objective_cutoff="incumbent")
    assert m3.component(CUTOFF_ROW) is None  # nothing changed


def test_clear_errors_for_objectives_and_values():
    net = random_network((2, 6, 1), seed=0)
    m = _model(net, pyo.minimize)
    m.obj.deactivate()
    m.obj2 = pyo.Objective(expr=m.nn.outputs[0] ** 2)
    with pytest.raises(NotApplicableError, match="objective 'obj2' is nonlinear"):
        XF.apply_to(m, objective_cutoff=1.0)
    m.obj.activate()
    with pytest.raises(NotApplicableError, match="2 active objectives"):
        XF.apply_to(m, objective_cutoff=1.0)
    for bad in ("best", float("nan"), True):
        with pytest.raises(UnknownOptionError, match="objective_cutoff"):
            XF.apply_to(_model(net, pyo.minimize), objective_cutoff=bad)
    empty = pyo.ConcreteModel()
    empty.x = pyo.Var()
    empty.obj = pyo.Objective(expr=empty.x)
    with pytest.raises(UnknownOptionError, match="has none to tighten"):
        XF.apply_to(empty, objective_cutoff=1.0)


def test_more_passes_tighten_further_and_keep_the_optimum():
    net = random_network((3, 16, 16, 1), seed=12)
    m1, m3 = _model(net, pyo.minimize), _model(net, pyo.minimize)
    _, optimum = _solve(_model(net, pyo.minimize))
    XF.apply_to(m1, objective_cutoff=optimum + 0.05)
    XF.apply_to(m3, objective_cutoff=optimum + 0.05, passes=3)
    one, three = m1.nn.bounds, m3.nn.bounds
    for k in range(one.n_layers):
        assert np.all(three.lower[k] >= one.lower[k]) and np.all(three.upper[k] <= one.upper[k])
    assert _widths(three) < _widths(one)
    # the report lists the layers of every pass that ran (a pass per 3 layers)
    assert len(m3.nn.tightening_report.layers) in (6, 9)
    status, again = _solve(m3)
    assert status == "optimal" and again == pytest.approx(optimum, abs=1e-6)
    with pytest.raises(UnknownOptionError, match="passes"):
        XF.apply_to(m3, passes=0)
