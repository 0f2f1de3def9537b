"""Process-engineering style user models that embed ReluNetworkBlock.

Several networks share input variables, feed one another (chained
surrogates), are copied over scenarios, gate on integer decisions and meet
nonlinear rows.  Every optimum is checked against the networks' forward pass:
the outputs equal the forward pass at the optimal inputs, and the objective
recomputed from the forward pass equals the solver's.
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]

TIGHTEN = pyo.TransformationFactory("relu.tighten_bounds")
REACTOR = random_network((2, 6, 6, 1), seed=1)  # (T, P) -> yield
PURITY = random_network((2, 5, 1), seed=2)  # (P, T) -> purity
VALUE = random_network((1, 4, 1), seed=3)  # yield -> product value (chained)
GATE_M = 10.0  # big-M of the user's own "build the unit" rows
SPEC = 0.2  # purity limit


def _flowsheet(formulation="bigm"):
    """A unit with two surrogates on shared inputs, one chained behind, and a build decision."""
    m = pyo.ConcreteModel()
    m.T = pyo.Var(bounds=(-1, 1))
    m.P = pyo.Var(bounds=(-1, 1))
    m.build = pyo.Var(domain=pyo.Binary)
    m.reactor = pr.ReluNetworkBlock(network=REACTOR, inputs=[m.T, m.P], formulation=formulation)
    m.purity = pr.ReluNetworkBlock(network=PURITY, inputs=[m.P, m.T], formulation=formulation)
    m.value = pr.ReluNetworkBlock(network=VALUE, inputs=m.reactor.outputs, formulation=formulation)
    m.prod = pyo.Var(bounds=(-GATE_M, GATE_M))
    # prod = value if the unit is built, 0 otherwise
    m.on_lo = pyo.Constraint(expr=m.prod >= m.value.outputs[0] - GATE_M * (1 - m.build))
    m.on_hi = pyo.Constraint(expr=m.prod <= m.value.outputs[0] + GATE_M * (1 - m.build))
    m.off_lo = pyo.Constraint(expr=m.prod >= -GATE_M * m.build)
    m.off_hi = pyo.Constraint(expr=m.prod <= GATE_M * m.build)
    m.spec = pyo.Constraint(expr=m.purity.outputs[0] <= SPEC)
    m.cost = pyo.Expression(expr=0.3 * m.build + 0.05 * m.T)
    m.obj = pyo.Objective(expr=m.cost - m.prod)
    return m


def _forward_objective(t, p, build):
    value = VALUE.forward(REACTOR.forward(np.array([t, p])))[0]
    return 0.3 * build + 0.05 * t - (value if build else 0.0)


def _true_optimum(n=401):
    """Best objective of the flowsheet on a grid (an upper bound of the true optimum)."""
    t, p = np.meshgrid(np.linspace(-1, 1, n), np.linspace(-1, 1, n), indexing="ij")
    x = np.column_stack([t.ravel(), p.ravel()])
    ok = PURITY.forward(x[:, ::-1])[:, 0] <= SPEC
    built = 0.3 + 0.05 * x[:, 0] - VALUE.forward(REACTOR.forward(x))[:, 0]
    return min(float(built[ok].min()), float((0.05 * x[:, 0]).min()))


GRID_OPT = _true_optimum()


def _check_flowsheet(m, tol=1e-5):
    out = solve_model(m)
    assert out.status == "optimal" and out.has_solution
    for blk in (m.reactor, m.purity, m.value):
        assert blk.prediction_error() < tol, blk.name
    build = round(m.build.value)
    # the objective is what the networks give at the optimal inputs
    assert out.objective == pytest.approx(_forward_objective(m.T.value, m.P.value, build), abs=1e-4)
    assert m.purity.output_values()[0] <= SPEC + 1e-6
    # no better point on the grid, and the grid point is within the grid's resolution
    assert out.objective <= GRID_OPT + 1e-6
    assert out.objective >= GRID_OPT - 0.05
    return out.objective


# -- several networks in one model -----------------------------------------------------
@pytest.mark.parametrize("formulation", pr.formulation_names())
def test_flowsheet_with_shared_and_chained_networks(formulation):
    m = _flowsheet(formulation)
    opt = _check_flowsheet(m)
    ref = _check_flowsheet(_flowsheet("bigm"))
    assert opt == pytest.approx(ref, abs=1e-4)
    assert m.value.inputs[0] is m.reactor.outputs[0]  # chained through the user's own variables


@pytest.mark.parametrize("context", ["network", "model"])
@pytest.mark.parametrize("method", ["interval", "lp", "milp"])
@pytest.mark.parametrize("formulation", ["bigm", "scaled_bigm", "regions"])
def test_flowsheet_after_tighten_bounds(formulation, method, context):
    ref = _check_flowsheet(_flowsheet(formulation))
    m = _flowsheet(formulation)
    before = [blk.bounds for blk in (m.reactor, m.purity, m.value)]
    TIGHTEN.apply_to(m, method=method, context=context, time_limit_per_neuron=2.0)
    for blk, old in zip((m.reactor, m.purity, m.value), before):
        for k in range(old.n_layers):
            assert np.all(blk.bounds.lower[k] >= old.lower[k]) and np.all(
                blk.bounds.upper[k] <= old.upper[k]
            )
        assert blk.formulation == formulation
    if context == "model":
        assert "lp-model" in m.reactor.bounds.methods
    assert _check_flowsheet(m) == pytest.approx(ref, abs=1e-4)


def test_solve_through_plain_solver_factory_and_persistent_interface():
    ref = _check_flowsheet(_flowsheet())
    for name in ("scip_direct", "scip_persistent"):
        m = _flowsheet("scaled_bigm")
        res = pyo.SolverFactory(name).solve(m)
        assert res.solver.termination_condition == pyo.TerminationCondition.optimal
        assert pyo.value(m.obj) == pytest.approx(ref, abs=1e-4)
        assert max(b.prediction_error() for b in (m.reactor, m.purity, m.value)) < 1e-5


def test_nonlinear_rows_and_objective_around_the_networks():
    m = _flowsheet("auto")
    m.ring = pyo.Constraint(expr=m.T**2 + m.P**2 <= 0.8)
    m.obj.deactivate()
    m.nl_obj = pyo.Objective(
        expr=0.3 * m.build + 0.05 * pyo.exp(m.T) - m.prod + 0.1 * m.purity.outputs[0] ** 2
    )
    out = solve_model(m)
    assert out.status == "optimal"
    t, p, build = m.T.value, m.P.value, round(m.build.value)
    assert t**2 + p**2 <= 0.8 + 1e-5
    value = VALUE.forward(REACTOR.forward(np.array([t, p])))[0]
    purity = PURITY.forward(np.array([p, t]))[0]
    expected = 0.3 * build + 0.05 * np.exp(t) - (value if build else 0.0) + 0.1 * purity**2
    assert out.objective == pytest.approx(expected, abs=1e-4)
    assert max(b.prediction_error() for b in (m.reactor, m.purity, m.value)) < 1e-5


# -- scenarios: one network copied over an index set -----------------------------------
def _scenario_model(formulation, how):
    m = pyo.ConcreteModel()
    m.S = pyo.Set(initialize=["low", "mid", "high"])
    m.demand = pyo.Param(m.S, initialize={"low": -0.5, "mid": 0.0, "high": 0.5})
    m.size = pyo.Var(bounds=(-1, 1))  # first stage: shared by every scenario
    m.u = pyo.Var(m.S, bounds=(-1, 1))  # recourse
    if how == "callable":
        m.nn = pr.ReluNetworkBlock(
            m.S, network=REACTOR, inputs=lambda s: [m.size, m.u[s]], formulation=formulation
        )
    else:  # a 2-D Var indexed (scenario, input), linked to the decisions
        m.x = pyo.Var(m.S, range(2), bounds=(-1, 1))
        m.nn = pr.ReluNetworkBlock(m.S, network=REACTOR, inputs=m.x, formulation=formulation)
        m.link0 = pyo.Constraint(m.S, rule=lambda m, s: m.x[s, 0] == m.size)
        m.link1 = pyo.Constraint(m.S, rule=lambda m, s: m.x[s, 1] == m.u[s])
    m.meet = pyo.Constraint(m.S, rule=lambda m, s: m.u[s] >= m.demand[s] + 0.3 * m.size)
    m.obj = pyo.Objective(expr=sum(m.nn[s].outputs[0] for s in m.S) / 3 + 0.1 * m.size)
    return m


@pytest.mark.parametrize("how", ["callable", "2-D Var"])
@pytest.mark.parametrize("formulation", ["bigm", "regions", "tightened_bigm"])
def test_scenario_copies_of_one_network(formulation, how):
    m = _scenario_model(formulation, how)
    out = solve_model(m)
    assert out.status == "optimal"
    x = np.array([[m.size.value, m.u[s].value] for s in m.S])
    expected = REACTOR.forward(x)[:, 0].mean() + 0.1 * m.size.value
    assert out.objective == pytest.approx(expected, abs=1e-6)
    for s in m.S:
        assert m.nn[s].prediction_error() < 1e-6
    # the first-stage decision is the best one: check it on a grid of sizes (recourse at its best)
    sizes = np.linspace(-1, 1, 201)
    u = np.linspace(-1, 1, 401)
    best = np.inf
    for size in sizes:
        total = 0.1 * size
        for s in m.S:
            ok = u >= pyo.value(m.demand[s]) + 0.3 * size
            total += (
                REACTOR.forward(np.column_stack([np.full(ok.sum(), size), u[ok]]))[:, 0].min() / 3
            )
        best = min(best, total)
    assert best - 0.05 <= out.objective <= best + 1e-6
    ref = _scenario_model("bigm", "callable")
    TIGHTEN.apply_to(ref, method="lp", context="model", targets=[ref.nn])
    assert solve_model(ref).objective == pytest.approx(out.objective, abs=1e-6)


# -- how inputs are given ----------------------------------------------------------------
def test_slices_select_the_input_variables():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), range(2), bounds=(-1, 1))
    m.row = pr.ReluNetworkBlock(network=REACTOR, inputs=m.x[1, :])
    m.unit = pyo.Block(range(2))
    for i in range(2):
        m.unit[i].feed = pyo.Var(bounds=(-0.5, 0.5))
    m.across = pr.ReluNetworkBlock(network=REACTOR, inputs=m.unit[:].feed, formulation="regions")
    m.S = pyo.Set(initialize=[0, 2])
    m.per = pr.ReluNetworkBlock(m.S, network=REACTOR, inputs={s: m.x[s, :] for s in m.S})
    assert [v.name for v in m.row.inputs.values()] == ["x[1,0]", "x[1,1]"]
    assert [v.name for v in m.across.inputs.values()] == ["unit[0].feed", "unit[1].feed"]
    assert [v.name for v in m.per[2].inputs.values()] == ["x[2,0]", "x[2,1]"]
    m.obj = pyo.Objective(expr=m.row.outputs[0] - m.across.outputs[0] + m.per[2].outputs[0])
    assert solve_model(m).status == "optimal"
    for blk in (m.row, m.across, m.per[0], m.per[2]):
        assert blk.prediction_error() < 1e-6
    with pytest.raises(pr.ShapeMismatchError, match="inputs must be 2 Pyomo variables .* found 3"):
        m.bad = pr.ReluNetworkBlock(network=REACTOR, inputs=m.x[:, 0])


def test_a_var_indexed_by_the_input_names_is_matched_by_name():
    # f(T, P) = 2 T - P: swapping the inputs changes the value
    net = ReluNetwork(
        [DenseLayer(np.array([[2.0, -1.0]]), np.zeros(1), Activation.LINEAR)],
        input_names=["T", "P"],
    )
    m = pyo.ConcreteModel()
    m.op = pyo.Var(
        ["P", "T"], bounds={"P": (1.0, 2.0), "T": (3.0, 4.0)}
    )  # declared in another order
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.op)
    m.S = pyo.Set(initialize=[1, 2])
    m.z = pyo.Var(m.S, ["P", "T"], bounds=(0.0, 1.0))
    m.per = pr.ReluNetworkBlock(m.S, network=net, inputs=m.z)
    assert [v.name for v in m.nn.inputs.values()] == ["op[T]", "op[P]"]
    assert [v.name for v in m.per[2].inputs.values()] == ["z[2,T]", "z[2,P]"]
    assert m.nn.bounds.input_lb.tolist() == [3.0, 1.0]
    m.obj = pyo.Objective(expr=m.nn.outputs[0] + m.per[1].outputs[0], sense=pyo.maximize)
    assert solve_model(m).objective == pytest.approx(2 * 4.0 - 1.0 + 2 * 1.0 - 0.0)
    assert m.nn.prediction_error() < 1e-9


def test_fixed_and_single_point_inputs_in_a_user_model():
    m = pyo.ConcreteModel()
    m.feed_T = pyo.Var(bounds=(-1, 1))
    m.feed_T.fix(0.3)  # a fixed operating point: the box stays the variable's bounds
    m.P = pyo.Var(bounds=(0.25, 0.25))  # lb == ub
    m.u = pyo.Var(bounds=(-1, 1))
    m.a = pr.ReluNetworkBlock(network=REACTOR, inputs=[m.feed_T, m.u], formulation="auto")
    m.b = pr.ReluNetworkBlock(network=PURITY, inputs=[m.P, m.feed_T], formulation="scaled_bigm")
    m.obj = pyo.Objective(expr=m.a.outputs[0] + m.b.outputs[0])
    out = solve_model(m)
    u = np.linspace(-1, 1, 2001)
    best = REACTOR.forward(np.column_stack([np.full_like(u, 0.3), u]))[:, 0].min()
    best += PURITY.forward(np.array([0.25, 0.3]))[0]
    assert best - 1e-3 <= out.objective <= best + 1e-6
    assert m.a.bounds.input_lb.tolist() == [-1.0, -1.0]  # valid when the variable is unfixed
    m.feed_T.unfix()
    TIGHTEN.apply_to(m, method="lp", context="model")
    assert solve_model(m).objective <= out.objective + 1e-6
    assert m.a.prediction_error() < 1e-6 and m.b.prediction_error() < 1e-6


def test_missing_bounds_say_why_for_fixed_and_constraint_bounded_inputs():
    m = pyo.ConcreteModel()
    m.T = pyo.Var(bounds=(-1, 1))
    m.feed = pyo.Var()
    m.feed.fix(0.2)
    with pytest.raises(
        pr.MissingBoundsError,
        match=r"variable feed\) has bounds \(None, None\) and is fixed "
        r"to 0.2;.*input_bounds",
    ):
        m.a = pr.ReluNetworkBlock(network=REACTOR, inputs=[m.T, m.feed])
    m.P = pyo.Var()
    m.P_box = pyo.Constraint(expr=pyo.inequality(-1, m.P, 1))
    with pytest.raises(
        pr.MissingBoundsError, match=r"variable P\).*constraints on it are not read as bounds"
    ):
        m.b = pr.ReluNetworkBlock(network=REACTOR, inputs=[m.T, m.P])
    m.c = pr.ReluNetworkBlock(network=REACTOR, inputs=[m.T, m.P], input_bounds=([-1, -1], [1, 1]))
    assert m.c.mip.input_box[1].upper == 1.0  # the box given is enforced by rows


# -- chained networks stay consistent when the upstream block is rebuilt --------------------
IDENTITY = ReluNetwork([DenseLayer(np.eye(1), np.zeros(1), Activation.LINEAR)])
# relu(x1 + x2 - 10) is dead on [-1, 1]^2, relu(x1 - x2 + 5) is active there
DOWNSTREAM = ReluNetwork(
    [
        DenseLayer(np.array([[1.0, 1.0], [1.0, -1.0]]), np.array([-10.0, 5.0]), Activation.RELU),
        DenseLayer(np.array([[1.0, 1.0]]), np.zeros(1), Activation.LINEAR),
    ]
)


@pytest.mark.parametrize("formulation", ["bigm", "scaled_bigm", "tightened_bigm"])
def test_chained_block_keeps_its_box_when_the_upstream_block_widens(formulation):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.up = pr.ReluNetworkBlock(range(2), network=IDENTITY, inputs=lambda i: [m.x[i]])
    m.down = pr.ReluNetworkBlock(
        network=DOWNSTREAM, inputs=[m.up[0].outputs[0], m.up[1].outputs[0]], formulation=formulation
    )
    m.obj = pyo.Objective(expr=m.down.outputs[0] + 0.01 * (m.x[0] + m.x[1]), sense=pyo.maximize)
    for v in m.x.values():
        v.setub(8.0)
    for i in range(2):
        m.up[i].rebuild()  # the upstream outputs now reach 8, beyond the box `down` was written for
    assert m.up[0].outputs[0].ub >= 8.0
    solve_model(m)
    # the downstream rows were written for [-1, 1]^2, and they keep their inputs there
    assert m.down.prediction_error() < 1e-6
    assert np.all(m.down.input_values() <= 1.0 + 1e-6)
    m.down.rebuild()  # follows the new box
    out = solve_model(m)
    assert m.down.prediction_error() < 1e-6
    assert out.objective == pytest.approx(
        DOWNSTREAM.forward(np.array([8.0, -1.0]))[0] + 0.07, abs=1e-6
    )


def test_user_variables_need_no_box_rows():
    m = _flowsheet()
    assert m.reactor.mip.component("input_box") is None
    assert m.value.mip.component("input_box") is not None  # fed by another block's outputs


# -- tightening must not rely on values the user changes between solves ----------------------
def _parametric(feed, how):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=REACTOR, inputs=m.x)
    if how == "param":
        m.feed = pyo.Param(mutable=True, initialize=feed)
        m.c = pyo.Constraint(expr=m.x[0] == m.feed)
    else:
        m.feed = pyo.Var(bounds=(-1, 1))
        m.feed.fix(feed)
        m.c = pyo.Constraint(expr=m.x[0] == m.feed)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    return m


@pytest.mark.parametrize("how", ["param", "fixed"])
@pytest.mark.parametrize(
    "method,context", [("lp", "network"), ("milp", "network"), ("lp", "model")]
)
def test_tightened_bounds_stay_valid_when_params_or_fixed_values_change(method, context, how):
    m = _parametric(0.5, how)
    TIGHTEN.apply_to(m, method=method, context=context)
    if how == "param":
        m.feed = -0.8
    else:
        m.feed.fix(-0.8)
    out = solve_model(m)
    fresh = solve_model(_parametric(-0.8, how))
    assert out.status == "optimal"
    assert out.objective == pytest.approx(fresh.objective, abs=1e-6)
    assert m.nn.prediction_error() < 1e-6
    assert m.feed.fixed if how == "fixed" else True  # the user's model is left as it was


def test_model_context_relaxes_mutable_variable_bounds():
    m = pyo.ConcreteModel()
    m.cap = pyo.Param(mutable=True, initialize=-0.5)
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=REACTOR, inputs=m.x)
    m.flow = pyo.Var(bounds=(-1, m.cap))
    m.link = pyo.Constraint(expr=m.flow == m.x[0])
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    TIGHTEN.apply_to(m, method="interval", context="model")
    m.cap = 1.0
    fresh = pyo.ConcreteModel()
    fresh.x = pyo.Var(range(2), bounds=(-1, 1))
    fresh.nn = pr.ReluNetworkBlock(network=REACTOR, inputs=fresh.x)
    fresh.obj = pyo.Objective(expr=fresh.nn.outputs[0], sense=pyo.maximize)
    assert solve_model(m).objective == pytest.approx(solve_model(fresh).objective, abs=1e-6)


def test_model_context_on_one_unit_of_a_larger_model():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.on = pyo.Var(domain=pyo.Binary)
    m.unit = pyo.Block()
    m.unit.nn = pr.ReluNetworkBlock(network=REACTOR, inputs=m.x)
    m.unit.budget = pyo.Constraint(expr=m.x[0] + m.x[1] <= 0.5 * m.on)
    m.outside = pyo.Constraint(expr=m.x[0] >= 0.9)  # not part of the unit: must not be used
    m.obj = pyo.Objective(expr=m.unit.nn.outputs[0])
    m.x[1].fix(0.2)
    TIGHTEN.apply_to(m.unit, method="lp", context="model")
    assert m.unit.nn.bounds.methods == ["lp-model"] * REACTOR.n_layers
    assert m.on.domain is pyo.Binary and m.x[1].fixed and m.x[1].value == 0.2
    m.outside.deactivate()
    m.x[1].fix(-0.9)
    ref = pyo.ConcreteModel()
    ref.x = pyo.Var(range(2), bounds=(-1, 1))
    ref.on = pyo.Var(domain=pyo.Binary)
    ref.nn = pr.ReluNetworkBlock(network=REACTOR, inputs=ref.x)
    ref.budget = pyo.Constraint(expr=ref.x[0] + ref.x[1] <= 0.5 * ref.on)
    ref.obj = pyo.Objective(expr=ref.nn.outputs[0])
    ref.x[1].fix(-0.9)
    assert solve_model(m).objective == pytest.approx(solve_model(ref).objective, abs=1e-6)
    assert m.unit.nn.prediction_error() < 1e-6


def test_model_context_honours_the_time_limit():
    m = _flowsheet()
    before = m.reactor.bounds
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TIGHTEN.apply_to(m, method="interval", context="model", time_limit=0.0)
    messages = [str(w.message) for w in caught if issubclass(w.category, pr.TimeLimitWarning)]
    assert len(messages) == 3  # one per block
    assert "time limit of 0.0 s stopped the pass over 'reactor' with" in messages[0]
    assert m.reactor.bounds.methods == before.methods  # nothing computed, nothing relabelled
    for k in range(before.n_layers):
        np.testing.assert_array_equal(m.reactor.bounds.upper[k], before.upper[k])
    m2 = _flowsheet()
    with warnings.catch_warnings():
        warnings.simplefilter("error", pr.TimeLimitWarning)
        TIGHTEN.apply_to(m2, method="interval", context="model", time_limit=60.0)
    assert "lp-model" in m2.reactor.bounds.methods


def test_model_context_solver_names(caplog):
    m = _flowsheet()
    with (
        caplog.at_level(logging.WARNING),
        pytest.raises(
            pr.SolverUnavailableError, match="'highs_typo' is not available: Pyomo knows no solver"
        ),
    ):
        TIGHTEN.apply_to(m, context="model", solver="highs_typo")
    assert "Failed to create solver" not in caplog.text  # Pyomo's own traceback is not shown
    assert m.reactor.bounds.methods == ["interval"] * REACTOR.n_layers  # checked before any change
    ref = _flowsheet()
    TIGHTEN.apply_to(ref, method="interval", context="model")
    TIGHTEN.apply_to(m, method="interval", context="model", solver="scip_direct")
    for k in range(REACTOR.n_layers):
        np.testing.assert_allclose(
            m.reactor.bounds.upper[k], ref.reactor.bounds.upper[k], atol=1e-4
        )
    if not pyo.SolverFactory("glpk").available(exception_flag=False):
        with pytest.raises(pr.SolverUnavailableError, match="'glpk' is not available; install it"):
            TIGHTEN.apply_to(m, context="model", solver="glpk")


# -- the model's life cycle ------------------------------------------------------------------
def test_clone_tighten_rebuild_and_write_a_flowsheet(tmp_path):
    m = _flowsheet()
    ref = _check_flowsheet(m)
    twin = m.clone()
    TIGHTEN.apply_to(twin, method="lp")
    assert m.reactor.bounds.methods == ["interval"] * REACTOR.n_layers  # the original is untouched
    assert twin.value.inputs[0] is twin.reactor.outputs[0]
    assert _check_flowsheet(twin) == pytest.approx(ref, abs=1e-4)
    for formulation in ("regions", "tightened_scaled_bigm", "bigm"):
        for blk in (m.reactor, m.purity, m.value):
            blk.rebuild(formulation=formulation)
        assert _check_flowsheet(m) == pytest.approx(ref, abs=1e-4)
    m.purity.deactivate()  # the purity spec then meets a free output: the optimum can only improve
    out = solve_model(m)
    assert out.objective <= ref + 1e-6 and m.reactor.prediction_error() < 1e-6
    m.purity.activate()
    for ext in ("lp", "mps", "nl"):
        path = tmp_path / f"flowsheet.{ext}"
        m.write(str(path))
        assert "reactor" in path.read_text() or ext == "nl" or path.stat().st_size > 1000


def test_infeasible_and_time_limited_user_models():
    m = _flowsheet()
    m.demand = pyo.Constraint(expr=m.value.outputs[0] >= 1e3)  # more than the network can give
    out = solve_model(m)
    assert out.status == "infeasible" and not out.has_solution
    with pytest.raises(pr.NoValueError, match="reactor: input 0 .*has no value"):
        m.reactor.prediction_error()
    big = random_network((4, 30, 30, 30, 1), seed=5)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=big, inputs=m.x)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    out = solve_model(m, time_limit=0.2)
    assert out.status in ("time_limit", "optimal")
    if out.has_solution:  # the incumbent is a real point of the network
        assert m.nn.prediction_error() < 1e-5
        assert out.bound <= out.objective + 1e-6


def test_highs_refuses_nonlinear_models_with_a_clear_error():
    m = _flowsheet()
    m.ring = pyo.Constraint(expr=m.T**2 + m.P**2 <= 0.8)
    with pytest.raises(
        pr.NotApplicableError,
        match=r"appsi_highs solves linear \(MILP\) models only, but the "
        r"constraint 'ring' is nonlinear; use solver='scip_direct'",
    ):
        solve_model(m, solver="appsi_highs")
    m.ring.deactivate()
    m.obj.deactivate()
    m.q = pyo.Objective(expr=m.prod**2)
    with pytest.raises(ValueError, match="the objective 'q' is nonlinear"):
        solve_model(m, solver="appsi_highs")
    m.q.deactivate()
    m.obj.activate()
    assert solve_model(m, solver="appsi_highs").objective == pytest.approx(
        _check_flowsheet(_flowsheet()), abs=1e-4
    )


# -- generated chains: every formulation agrees with the forward pass --------------------------
@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    width=st.integers(2, 6),
    sense=st.sampled_from([pyo.minimize, pyo.maximize]),
)
def test_generated_chains_agree_across_formulations(seed, width, sense):
    first = random_network((2, width, width, 1), seed=seed)
    second = random_network((1, width, 1), seed=seed + 1)
    optima = []
    for formulation in ("bigm", "scaled_bigm", "regions"):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(2), bounds=(-1, 1))
        m.a = pr.ReluNetworkBlock(network=first, inputs=m.x, formulation=formulation)
        m.b = pr.ReluNetworkBlock(network=second, inputs=m.a.outputs, formulation=formulation)
        m.obj = pyo.Objective(expr=m.b.outputs[0] + 0.1 * m.x[0], sense=sense)
        out = solve_model(m)
        assert out.status == "optimal"
        x = m.a.input_values()
        assert out.objective == pytest.approx(
            second.forward(first.forward(x))[0] + 0.1 * x[0], abs=1e-5
        )
        optima.append(out.objective)
    assert max(optima) - min(optima) < 1e-5


# -- regions over bounds that hold only where the model's constraints hold ---------------------
@pytest.mark.parametrize("how", ["bounds argument", "tighten then rebuild", "model context"])
@pytest.mark.parametrize("seed", [0, 2])
def test_regions_stay_exact_with_bounds_from_the_models_constraints(seed, how):
    net = random_network(
        (2, 8, 8, 1), seed=seed
    )  # a new network object: no partition is cached for it
    half = (np.array([[1.0, 1.0]]), np.array([-np.inf]), np.array([-1.2]))  # x0 + x1 <= -1.2
    for sense in (pyo.minimize, pyo.maximize):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(2), bounds=(-1, 1))
        if how == "bounds argument":
            m.nn = pr.ReluNetworkBlock(
                network=net,
                inputs=m.x,
                formulation="regions",
                bounds=pr.lp_bounds(net, -1, 1, extra_constraints=half),
            )
        else:
            m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
        m.half = pyo.Constraint(expr=m.x[0] + m.x[1] <= -1.2)
        m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
        if how != "bounds argument":
            TIGHTEN.apply_to(
                m, method="lp", context="network" if how.startswith("tighten") else "model"
            )
            m.nn.rebuild(formulation="regions")
        assert m.nn.bounds.methods[-1] in ("lp-constrained", "lp-model")
        out = solve_model(m)
        # the interpolated graph is the network's at the optimum ...
        assert m.nn.prediction_error() < 1e-6
        # ... and the optimum is the network's best over the half-plane
        g = np.linspace(-1, 1, 601)
        x = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
        values = net.forward(x[x.sum(axis=1) <= -1.2])[:, 0]
        best = values.min() if sense == pyo.minimize else values.max()
        slack = 0.05
        if sense == pyo.minimize:
            assert best - slack <= out.objective <= best + 1e-6
        else:
            assert best - 1e-6 <= out.objective <= best + slack


# -- a surrogate inside a GDP disjunct (a unit that may not be built) ---------------------------
def _superstructure(alternative):
    from pyomo.gdp import Disjunct, Disjunction

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.y = pyo.Var(bounds=(-10, 10))
    m.unit_a = Disjunct()
    m.unit_b = Disjunct()
    m.unit_a.nn = pr.ReluNetworkBlock(network=REACTOR, inputs=m.x)
    m.unit_a.link = pyo.Constraint(expr=m.y == m.unit_a.nn.outputs[0])
    m.unit_b.link = pyo.Constraint(expr=m.y == alternative)
    m.unit_b.feed = pyo.Constraint(expr=m.x[0] == -1.0)
    m.choice = Disjunction(expr=[m.unit_a, m.unit_b])
    m.obj = pyo.Objective(expr=m.y, sense=pyo.maximize)
    return m


@pytest.mark.parametrize("tighten", [None, "network", "model"])
@pytest.mark.parametrize("gdp", ["gdp.bigm", "gdp.hull"])
def test_network_inside_a_disjunct(gdp, tighten):
    g = np.linspace(-1, 1, 401)
    best_a = REACTOR.forward(np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2))[:, 0].max()
    for alternative in (best_a + 0.3, best_a - 0.3):
        m = _superstructure(alternative)
        if (
            tighten is not None
        ):  # blocks inside active disjuncts are found; the disjunct rows are not used
            TIGHTEN.apply_to(m, method="lp", context=tighten)
            assert m.unit_a.nn.bounds.methods[-1] in ("lp", "lp-model")
        pyo.TransformationFactory(gdp).apply_to(m)
        out = solve_model(m)
        assert out.status == "optimal"
        assert out.objective == pytest.approx(max(best_a, alternative), abs=1e-3)
        assert out.objective >= max(best_a, alternative) - 1e-6
        if out.objective < alternative + 1e-6:
            assert not m.unit_a.indicator_var.value
        else:
            assert m.unit_a.nn.prediction_error() < 1e-6


# -- generated models: tightening never changes the optimum ----------------------------------------
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    clipped=st.booleans(),
    formulation=st.sampled_from(["auto", "regions", "bigm"]),
    context=st.sampled_from(["network", "model"]),
)
def test_generated_models_keep_their_optimum_after_tightening(seed, clipped, formulation, context):
    rng = np.random.default_rng(seed)
    width = int(rng.integers(3, 7))
    first = random_network(
        (2, width, width, 2), seed=seed, clipped=clipped, cap=float(rng.uniform(0.3, 2.0))
    )
    second = random_network((2, width, 1), seed=seed + 1)
    c, level = rng.normal(size=4), float(rng.normal()) * 0.3

    def build():
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(2), bounds=(-1, 1))
        m.on = pyo.Var(domain=pyo.Binary)
        m.a = pr.ReluNetworkBlock(network=first, inputs=m.x, formulation=formulation)
        m.b = pr.ReluNetworkBlock(network=second, inputs=m.a.outputs, formulation=formulation)
        m.inputs_row = pyo.Constraint(expr=c[0] * m.x[0] + c[1] * m.x[1] <= 0.3 + m.on)
        m.outputs_row = pyo.Constraint(
            expr=m.a.outputs[0] + c[2] * m.a.outputs[1] >= level - 2 * m.on
        )
        m.obj = pyo.Objective(
            expr=m.b.outputs[0] + 0.2 * m.on, sense=pyo.minimize if c[3] > 0 else pyo.maximize
        )
        return m

    ref = solve_model(build())
    m = build()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", pr.TimeLimitWarning)
        TIGHTEN.apply_to(m, method="lp", context=context)
    out = solve_model(m)
    assert out.status == ref.status
    if ref.has_solution:
        assert out.objective == pytest.approx(ref.objective, abs=1e-5 * (1 + abs(ref.objective)))
        assert m.a.prediction_error() < 1e-5 and m.b.prediction_error() < 1e-5
