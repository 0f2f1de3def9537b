"""Network validation, error messages, and soundness of interval bounds (no solver)."""

from __future__ import annotations

import pathlib

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from tests.conftest import random_network

PKG = pathlib.Path(pr.__file__).parent


def test_forward_batched_and_single():
    net = random_network((3, 5, 2), seed=0)
    x = np.random.default_rng(0).normal(size=(7, 3))
    batch = net.forward(x)
    assert batch.shape == (7, 2)
    np.testing.assert_allclose(net.forward(x[2]), batch[2])
    w0, b0 = net.layers[0].weights, net.layers[0].bias
    w1, b1 = net.layers[1].weights, net.layers[1].bias
    np.testing.assert_allclose(batch, np.maximum(x @ w0.T + b0, 0) @ w1.T + b1)


def test_weights_are_read_only_float64():
    net = random_network((2, 3, 1))
    assert net.layers[0].weights.dtype == np.float64
    with pytest.raises(ValueError):
        net.layers[0].weights[0, 0] = 1.0


def test_clipped_relu_forward():
    net = pr.ReluNetwork([pr.DenseLayer([[1.0]], [0.0], pr.Activation.CLIPPED_RELU(2.0))])
    np.testing.assert_allclose(net.forward(np.array([[-1.0], [1.0], [3.0]]))[:, 0], [0.0, 1.0, 2.0])


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: pr.ReluNetwork([]), pr.InvalidNetworkError, ["no layers", "DenseLayer"]),
        (
            lambda: pr.DenseLayer([[np.nan, 1.0]], [0.0]),
            pr.InvalidNetworkError,
            ["NaN or Inf", "index [0, 0]"],
        ),
        (
            lambda: pr.DenseLayer([[1.0, 2.0]], [0.0, np.inf]),
            pr.InvalidNetworkError,
            ["NaN or Inf"],
        ),
        (
            lambda: pr.DenseLayer([[1.0, 2.0]], [0.0, 1.0]),
            pr.ShapeMismatchError,
            ["bias has 2 entries", "1 rows"],
        ),
        (
            lambda: pr.ReluNetwork(
                [pr.DenseLayer(np.ones((3, 2)), None), pr.DenseLayer(np.ones((1, 4)), None)]
            ),
            pr.ShapeMismatchError,
            ["layer 1 expects 4 inputs", "produces 3"],
        ),
        (
            lambda: pr.Activation.CLIPPED_RELU(-1.0),
            pr.InvalidNetworkError,
            ["cap must be finite and > 0"],
        ),
    ],
)
def test_network_errors_name_the_problem(make, error, words):
    with pytest.raises(error) as info:
        make()
    for w in words:
        assert w in str(info.value)
    assert isinstance(info.value, pr.ReluError) and isinstance(info.value, ValueError)


def test_box_errors():
    net = random_network((2, 3, 1))
    with pytest.raises(pr.MissingBoundsError, match=r"ub\[1\].*inf"):
        pr.interval_bounds(net, [0, 0], [1, np.inf])
    with pytest.raises(pr.MissingBoundsError, match="lb is missing"):
        pr.interval_bounds(net, None, [1, 1])
    with pytest.raises(pr.InfeasibleBoxError, match=r"lb\[0\] = 2.0 > ub\[0\] = 1.0"):
        pr.interval_bounds(net, [2, 0], [1, 1])
    with pytest.raises(pr.ShapeMismatchError, match="3 entries but the network has 2 inputs"):
        pr.interval_bounds(net, [0, 0, 0], [1, 1, 1])


def test_block_errors():
    net = random_network((2, 3, 1))
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=lambda _m, i: (0, 1) if i == 0 else (0, None))
    with pytest.raises(
        pr.MissingBoundsError, match=r"input 1 \('x1', variable x\[1\]\) has bounds \(0, None\)"
    ):
        m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m2 = pyo.ConcreteModel()
    m2.x = pyo.Var(range(2), bounds=(0, 1))
    with pytest.raises(
        pr.UnknownOptionError, match="unknown formulation 'bigM'; valid names: .*bigm"
    ):
        m2.nn = pr.ReluNetworkBlock(network=net, inputs=m2.x, formulation="bigM")
    m3 = pyo.ConcreteModel()
    m3.x = pyo.Var(range(3), bounds=(0, 1))
    with pytest.raises(pr.ShapeMismatchError, match="inputs must be 2 Pyomo variables"):
        m3.nn = pr.ReluNetworkBlock(network=net, inputs=m3.x)


@settings(max_examples=25, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=5),
    seed=st.integers(0, 10_000),
    clipped=st.booleans(),
)
def test_interval_bounds_contain_sampled_preactivations(sizes, seed, clipped):
    net = random_network(tuple(sizes), seed=seed, clipped=clipped, bias_scale=1.0)
    rng = np.random.default_rng(seed)
    lb = rng.uniform(-2, 0, size=sizes[0])
    ub = lb + rng.uniform(0, 2, size=sizes[0])
    bounds = pr.interval_bounds(net, lb, ub)
    x = rng.uniform(lb, ub, size=(100_000, sizes[0]))
    x[:2] = [lb, ub]  # corners
    for z, lo, up in zip(net.preactivations(x), bounds.lower, bounds.upper):
        assert np.all(z >= lo) and np.all(z <= up)


def test_interval_bounds_hand_checked():
    net = pr.ReluNetwork.from_arrays(
        [np.array([[1.0, -2.0]]), np.array([[3.0]])], [np.array([0.5]), np.array([-1.0])]
    )
    b = pr.interval_bounds(net, [-1, 0], [1, 1])
    assert b.lower[0][0] == pytest.approx(-2.5) and b.upper[0][0] == pytest.approx(1.5)
    assert b.lower[0][0] < -2.5 and b.upper[0][0] > 1.5  # rounded outward
    assert b.lower[1][0] == pytest.approx(-1.0) and b.upper[1][0] == pytest.approx(3.5)
    assert b.unstable(0).tolist() == [True] and b.n_binaries(0).tolist() == [1]
