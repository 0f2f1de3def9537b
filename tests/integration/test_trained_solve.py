"""A trained network survives ONNX export/import and is solved exactly inside a Pyomo model."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

from tests.conftest import requires_scip

torch = pytest.importorskip("torch")

from pyomo_relu.block import ReluNetworkBlock  # noqa: E402
from pyomo_relu.io.onnx import load_onnx, save_onnx  # noqa: E402
from pyomo_relu.training import train_mlp  # noqa: E402

pytestmark = [pytest.mark.solver, requires_scip]


def _data(n=150, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.uniform([-2.0, 0.0], [2.0, 5.0], size=(n, 2))
    y = np.column_stack([np.sin(X[:, 0]) + 0.1 * X[:, 1], X[:, 0] * X[:, 1] - 3.0])
    return X, y


@pytest.mark.parametrize("activation", ["relu", "clipped_relu"])
def test_round_trip_and_fixed_input_solve(tmp_path, activation):
    X, y = _data()
    net = train_mlp(
        X, y, hidden=(6, 5), activation=activation, cap=0.8, epochs=10, lr=1e-2, seed=2
    ).network
    path = tmp_path / "trained.onnx"
    save_onnx(net, path)
    loaded = load_onnx(path)
    assert loaded.layer_sizes == net.layer_sizes
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))

    for x in X[:3]:
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(2), bounds=lambda _m, i: ([-2.0, 0.0][i], [2.0, 5.0][i]))
        m.nn = ReluNetworkBlock(network=loaded, inputs=m.x, formulation="bigm")
        m.obj = pyo.Objective(expr=m.nn.outputs[0] + m.nn.outputs[1])
        for i in range(2):
            m.x[i].fix(float(x[i]))
        res = pyo.SolverFactory("scip_direct").solve(m)
        assert res.solver.termination_condition == pyo.TerminationCondition.optimal
        got = np.array([pyo.value(m.nn.outputs[j]) for j in range(2)])
        np.testing.assert_allclose(got, net.forward(x), rtol=1e-6, atol=1e-6)


def test_minimum_of_trained_network_matches_dense_grid():
    X, y = _data()
    net = train_mlp(X, y[:, 0], hidden=(8,), epochs=15, lr=1e-2, seed=0).network
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=lambda _m, i: ([-2.0, 0.0][i], [2.0, 5.0][i]))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
    pyo.SolverFactory("scip_direct").solve(m)
    x_opt = np.array([pyo.value(m.x[i]) for i in range(2)])
    assert net.forward(x_opt)[0] == pytest.approx(pyo.value(m.obj), abs=1e-6)
    g0, g1 = np.meshgrid(np.linspace(-2, 2, 201), np.linspace(0, 5, 201))
    grid_min = net.forward(np.column_stack([g0.ravel(), g1.ravel()])).min()
    assert pyo.value(m.obj) <= grid_min + 1e-6
