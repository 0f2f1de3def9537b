"""Every registered formulation reproduces the forward pass and finds true optima (SCIP)."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from tests.conftest import outside_scope, random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]

FORMULATIONS = pr.formulation_names()


def _solve(m, solver="scip_direct", options=None):
    res = pyo.SolverFactory(solver).solve(m, options=options or {})
    return res


#: SCIP's default feasibility tolerance (1e-6) holds per row; the convex-combination rows of
#: ``regions`` add up dozens of such slacks (an output off by 2e-5 on a 1-8-7-1 clipped network), so
#: the forward-pass check at fixed inputs solves to a tolerance below the 1e-6 it asserts
_EXACT = {"numerics/feastol": 1e-9}


def _model(net, lb, ub, formulation, sense=None, output=0):
    """The model of ``net`` on the box, or None when the formulation's scope excludes ``net``.

    A formulation refuses a network outside its documented scope (``sos1`` and
    clipped ReLU) when the block is built, and the error says so: checked here.
    """
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (lb[i], ub[i]))
    refused = outside_scope(formulation, net)
    if refused:
        with pytest.raises(pr.NotApplicableError, match=refused):
            m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
        return None
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    if sense is not None:
        m.obj = pyo.Objective(expr=m.nn.outputs[output], sense=sense)
    return m


@st.composite
def networks(draw):
    n_in = draw(st.integers(1, 4))
    depth = draw(st.integers(1, 3))
    hidden = [draw(st.integers(1, 8)) for _ in range(depth)]
    n_out = draw(st.integers(1, 3))
    clipped = draw(st.booleans())
    seed = draw(st.integers(0, 10_000))
    cap = draw(st.floats(0.2, 2.0))
    return random_network((n_in, *hidden, n_out), seed=seed, clipped=clipped, cap=cap)


@pytest.mark.parametrize("formulation", FORMULATIONS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks(), data=st.data())
def test_fixed_inputs_reproduce_forward(formulation, net, data):
    # "regions" applies to <= 2 free inputs (its own tests check the error beyond)
    assume(formulation != "regions" or net.n_inputs <= 2)
    lb, ub = -np.ones(net.n_inputs), np.ones(net.n_inputs)
    m = _model(net, lb, ub, formulation)
    if m is None:
        return
    m.obj = pyo.Objective(expr=sum(m.nn.outputs.values()))
    seed = data.draw(st.integers(0, 2**31))
    x = np.random.default_rng(seed).uniform(lb, ub)
    for i in range(net.n_inputs):
        m.x[i].fix(float(x[i]))
    _solve(m, options=_EXACT)
    np.testing.assert_allclose(m.nn.output_values(), net.forward(x), atol=1e-6, rtol=1e-6)
    assert m.nn.prediction_error() < 1e-6


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("clipped", [False, True])
@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_optimum_matches_grid_1d(formulation, clipped, sense):
    net = random_network((1, 12, 12, 1), seed=7, clipped=clipped, cap=0.8)
    lb, ub = np.array([-2.0]), np.array([2.0])
    m = _model(net, lb, ub, formulation, sense=sense)
    if m is None:
        assert clipped and formulation == "sos1"
        return
    _solve(m)
    grid = np.linspace(lb[0], ub[0], 200_001)[:, None]
    values = net.forward(grid)[:, 0]
    best_grid = values.min() if sense == pyo.minimize else values.max()
    opt = pyo.value(m.obj)
    # the optimum is attained by the network (forward check) and no grid point beats it
    assert abs(net.forward(m.nn.input_values())[0] - opt) < 1e-6
    if sense == pyo.minimize:
        assert opt <= best_grid + 1e-7
    else:
        assert opt >= best_grid - 1e-7
    assert abs(opt - best_grid) < 1e-3  # grid spacing 2e-5 times a modest slope


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_optimum_matches_grid_2d(formulation):
    net = random_network((2, 10, 10, 1), seed=3)
    lb, ub = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    m = _model(net, lb, ub, formulation, sense=pyo.minimize)
    _solve(m)
    g = np.linspace(-1, 1, 801)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    best_grid = net.forward(grid)[:, 0].min()
    opt = pyo.value(m.obj)
    assert abs(net.forward(m.nn.input_values())[0] - opt) < 1e-6
    assert opt <= best_grid + 1e-7
    assert best_grid - opt < 0.05


@pytest.mark.parametrize("solver", ["scip_direct", "scip_persistent", "appsi_highs"])
def test_solver_interfaces_agree(solver):
    if not pyo.SolverFactory(solver).available():
        pytest.skip(f"{solver} not available")
    net = random_network((2, 10, 10, 1), seed=11)
    m = _model(net, [-1, -1], [1, 1], "bigm", sense=pyo.maximize)
    _solve(m, "scip_direct")
    reference = pyo.value(m.obj)
    _solve(m, solver)
    assert pyo.value(m.obj) == pytest.approx(reference, abs=1e-6)
    assert m.nn.prediction_error() < 1e-6


def test_own_inputs_and_input_bounds():
    net = random_network((3, 6, 2), seed=5)
    m = pyo.ConcreteModel()
    m.nn = pr.ReluNetworkBlock(network=net, input_bounds=([-1, -2, 0], [1, 0, 3]))
    assert [v.bounds for v in m.nn.inputs.values()] == [(-1, 1), (-2, 0), (0, 3)]
    m.obj = pyo.Objective(expr=m.nn.outputs[1], sense=pyo.maximize)
    _solve(m)
    assert m.nn.prediction_error() < 1e-6


def test_user_inputs_are_the_same_variables_no_linking_rows():
    net = random_network((2, 5, 1), seed=2)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
    assert m.nn.inputs[0] is m.x[0] and m.nn.inputs[1] is m.x[1]
    assert m.nn.mip.component("input_box") is None  # variable bounds already give the box


@pytest.mark.parametrize("fmt", ["mps", "lp", "nl"])
def test_model_with_user_inputs_writes_to_solver_files(tmp_path, fmt):
    """The block's reference to the user's inputs does not make a writer list them twice."""
    net = random_network((2, 6, 1), seed=7)
    m = _model(net, [-1, -1], [1, 1], "bigm", sense=pyo.minimize)
    path = tmp_path / f"model.{fmt}"
    m.write(str(path), io_options={"symbolic_solver_labels": True})
    text = path.read_text()
    assert "x(0)" in text or "x[0]" in text or "x_0_" in text
    listed = list(m.component_data_objects(pyo.Var))
    assert len(listed) == len({id(v) for v in listed})
    if fmt == "mps":  # SCIP reads the file and finds the model's optimum
        import pyscipopt

        _solve(m)
        scip = pyscipopt.Model()
        scip.hideOutput()
        scip.readProblem(str(path))
        scip.optimize()
        assert scip.getObjVal() == pytest.approx(pyo.value(m.obj), abs=1e-6)


def test_input_bounds_tighter_than_variables_are_enforced():
    net = random_network((1, 6, 1), seed=4)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(-5, 5))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=[m.x], input_bounds=([-1], [1]))
    m.obj = pyo.Objective(expr=m.x, sense=pyo.maximize)
    _solve(m)
    assert pyo.value(m.x) == pytest.approx(1.0)


def test_indexed_blocks_share_a_network():
    net = random_network((2, 6, 1), seed=8)
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, 2)
    m.x = pyo.Var(m.T, range(2), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(m.T, network=net, inputs=m.x)
    m.obj = pyo.Objective(expr=sum(m.nn[t].outputs[0] for t in m.T))
    for t in m.T:
        m.x[t, 0].fix(0.1 * t)
    _solve(m)
    for t in m.T:
        assert m.nn[t].inputs[0] is m.x[t, 0]
        assert m.nn[t].prediction_error() < 1e-6


def test_rebuild_keeps_inputs_and_outputs_identity():
    net = random_network((2, 8, 8, 1), seed=9)
    m = _model(net, [-1, -1], [1, 1], "bigm", sense=pyo.minimize)
    out0, in0 = m.nn.outputs[0], m.nn.inputs[0]
    _solve(m)
    before = pyo.value(m.obj)
    m.nn.rebuild(formulation="scaled_bigm")
    assert m.nn.outputs[0] is out0 and m.nn.inputs[0] is in0
    _solve(m)
    assert pyo.value(m.obj) == pytest.approx(before, abs=1e-6)


def test_stable_neurons_get_no_binary():
    # biases push every hidden neuron to be stably active or inactive on the box
    net = pr.ReluNetwork.from_arrays(
        [np.array([[1.0], [1.0], [-1.0]]), np.array([[1.0, 1.0, 1.0]])],
        [np.array([5.0, -5.0, 0.0]), np.array([0.0])],
    )
    m = _model(net, [-1], [1], "bigm", sense=pyo.maximize)
    summary = m.nn.summary()
    assert summary["binaries"] == 1 and summary["stable"] == 2
    _solve(m)
    assert pyo.value(m.obj) == pytest.approx(6.0)  # x = 1: (1 + 5) + 0 + relu(-1)


def _edge_networks():
    rng = np.random.default_rng(0)
    dense = pr.DenseLayer
    yield (
        "linear only",
        pr.ReluNetwork([dense([[1.0, -2.0]], [0.5], pr.Activation.LINEAR)]),
        [0, 0],
        [1, 1],
    )
    yield "relu output", random_network((2, 5, 3), seed=1, relu_output=True), [-1, -1], [1, 1]
    yield (
        "linear hidden layer",
        pr.ReluNetwork(
            [
                dense(rng.normal(size=(4, 2)), rng.normal(size=4), pr.Activation.RELU),
                dense(rng.normal(size=(3, 4)), None, pr.Activation.LINEAR),
                dense(rng.normal(size=(3, 3)), None, pr.Activation.RELU),
                dense(rng.normal(size=(1, 3)), None, pr.Activation.LINEAR),
            ]
        ),
        [-1, -1],
        [1, 1],
    )
    yield "flat box", random_network((3, 6, 6, 1), seed=2), [0.2, -1, 0.3], [0.2, 1, 0.3]
    yield (
        "per-neuron caps",
        pr.ReluNetwork(
            [
                dense(
                    rng.normal(size=(4, 2)),
                    rng.normal(size=4),
                    pr.Activation.CLIPPED_RELU((0.5, 1.0, 2.0, 0.1)),
                ),
                dense(rng.normal(size=(1, 4)), None, pr.Activation.LINEAR),
            ]
        ),
        [-2, -2],
        [2, 2],
    )


@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("case", list(_edge_networks()), ids=lambda c: c[0])
def test_unusual_networks_and_boxes(formulation, case):
    _, net, lb, ub = case
    m = _model(net, np.asarray(lb, float), np.asarray(ub, float), formulation)
    if m is None:
        return
    m.obj = pyo.Objective(expr=sum(m.nn.outputs.values()), sense=pyo.maximize)
    _solve(m)
    assert m.nn.prediction_error() < 1e-6
    rng = np.random.default_rng(1)
    samples = rng.uniform(lb, ub, size=(20_000, net.n_inputs))
    assert pyo.value(m.obj) >= net.forward(samples).sum(axis=1).max() - 1e-7


def test_regions_clipped_fixed_input_within_tolerance():
    # the example behind _EXACT: at SCIP's default tolerance the output is off by about 2e-5, and
    # with the tighter one it equals the forward pass
    net = random_network((1, 8, 7, 1), seed=1282, clipped=True, cap=1.171631549061184)
    x = np.array([0.2327975178534356])
    m = _model(net, -np.ones(1), np.ones(1), "regions")
    m.obj = pyo.Objective(expr=sum(m.nn.outputs.values()))
    m.x[0].fix(float(x[0]))
    _solve(m, options=_EXACT)
    np.testing.assert_allclose(m.nn.output_values(), net.forward(x), atol=1e-7)
