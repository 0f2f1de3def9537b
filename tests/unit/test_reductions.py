"""Rescaling and stable-neuron pruning keep the network function and sound bounds."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyomo_relu.bounds import interval_bounds
from pyomo_relu.errors import ShapeMismatchError, UnknownOptionError
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork
from pyomo_relu.reductions import RESCALE_RULES, PrunedNetwork, ScaledNetwork, prune_stable, rescale

N_SAMPLES = 10_000


def random_net(seed, sizes, *, activation="relu", cap=None, shift=0.0, scale=1.0):
    """Gaussian network; ``shift`` moves hidden biases (many stable neurons for large |shift|)."""
    rng = np.random.default_rng(seed)
    weights, biases = [], []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights.append(scale * rng.normal(size=(n_out, n_in)) / np.sqrt(n_in))
        hidden = k < len(sizes) - 2
        biases.append(
            rng.normal(size=n_out) + (shift * rng.uniform(0.5, 1.5, n_out) if hidden else 0.0)
        )
    return ReluNetwork.from_arrays(weights, biases, activation=activation, cap=cap)


def samples(net, lb, ub, seed=1):
    """Uniform samples plus the box corners (where first-layer interval bounds are attained)."""
    rng = np.random.default_rng(seed)
    lb, ub = np.broadcast_to(lb, (net.n_inputs,)), np.broadcast_to(ub, (net.n_inputs,))
    grid = np.stack(np.meshgrid(*([0.0, 1.0],) * net.n_inputs), axis=-1).reshape(-1, net.n_inputs)
    corners = lb + grid * (ub - lb)
    return np.vstack([corners, rng.uniform(lb, ub, size=(N_SAMPLES, net.n_inputs))])


def assert_same_function(new, old, x):
    y_old, y_new = old.forward(x), new.forward(x)
    tol = 1e-9 * max(1.0, float(np.abs(y_old).max()))
    np.testing.assert_allclose(y_new, y_old, rtol=0, atol=tol)


def assert_bounds_contain(bounds, net, x):
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]), f"layer {k}: lower bound cuts off a sampled value"
        assert np.all(z <= bounds.upper[k]), f"layer {k}: upper bound cuts off a sampled value"


net_cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "sizes": st.lists(st.integers(1, 6), min_size=1, max_size=3).flatmap(
            lambda hidden: st.tuples(st.integers(1, 3), st.integers(1, 2)).map(
                lambda io: (io[0], *hidden, io[1])
            )
        ),
        "activation": st.sampled_from(["relu", "clipped_relu"]),
        "cap": st.floats(0.2, 3.0),
        "shift": st.sampled_from([0.0, -2.0, 2.0, 4.0]),
        "scale": st.sampled_from([0.1, 1.0, 10.0]),
        "half_width": st.floats(0.1, 3.0),
    }
)
hypothesis_settings = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def build(case):
    cap = case["cap"] if case["activation"] == "clipped_relu" else None
    net = random_net(
        case["seed"],
        case["sizes"],
        activation=case["activation"],
        cap=cap,
        shift=case["shift"],
        scale=case["scale"],
    )
    lb, ub = -case["half_width"], case["half_width"]
    return net, interval_bounds(net, lb, ub), samples(net, lb, ub, case["seed"] % 1000)


# -- rescale ------------------------------------------------------------------------------
@hypothesis_settings
@given(case=net_cases, rule=st.sampled_from(RESCALE_RULES))
def test_rescale_keeps_function_and_sound_bounds(case, rule):
    net, bounds, x = build(case)
    scaled = rescale(net, bounds, rule=rule)
    assert isinstance(scaled, ScaledNetwork) and scaled.rule == rule
    assert_same_function(scaled.network, net, x)
    assert_bounds_contain(scaled.bounds, scaled.network, x)
    z_old, z_new = net.preactivations(x), scaled.network.preactivations(x)
    for k in range(net.n_layers):
        c = scaled.factors[k]
        assert np.all(c > 0) and np.all(np.isfinite(c))
        tol = 1e-9 * max(1.0, float(np.abs(z_old[k]).max()))
        np.testing.assert_allclose(scaled.to_original(k, z_new[k]), z_old[k], rtol=0, atol=tol)
        # the scaled bounds contain the old bounds times the factors
        assert np.all(scaled.bounds.lower[k] <= c * bounds.lower[k])
        assert np.all(scaled.bounds.upper[k] >= c * bounds.upper[k])
    np.testing.assert_array_equal(scaled.factors[-1], 1.0)


@hypothesis_settings
@given(case=net_cases)
def test_max_abs_rule_makes_every_hidden_big_m_at_most_one(case):
    net, bounds, _ = build(case)
    scaled = rescale(net, bounds)
    for k in range(net.n_layers - 1):
        assert np.all(scaled.bounds.big_m(k) <= 1.0 + 1e-9)
        moved = scaled.factors[k] != 1.0  # dead neurons keep factor 1 and a (tiny) big-M
        assert np.all(scaled.bounds.big_m(k)[moved] >= 1.0 - 1e-9)


def test_deep_network_big_m_normalized():
    net = random_net(3, (2, 20, 20, 20, 20, 1), scale=2.0)
    bounds = interval_bounds(net, -1, 1)
    assert bounds.big_m(3).max() > 100  # interval big-M grows with depth
    scaled = rescale(net, bounds)
    assert max(scaled.bounds.big_m(k).max() for k in range(4)) <= 1.0 + 1e-12
    assert_same_function(scaled.network, net, samples(net, -1, 1))


def test_upper_rule_sets_positive_upper_bounds_to_one():
    net = random_net(5, (3, 8, 8, 1), shift=-1.0)
    bounds = interval_bounds(net, -1, 1)
    scaled = rescale(net, bounds, rule="upper")
    for k in range(2):
        pos = bounds.upper[k] > 0
        np.testing.assert_allclose(scaled.bounds.upper[k][pos], 1.0, rtol=1e-12)
        neg = ~pos  # inactive neurons fall back to max_abs
        np.testing.assert_allclose(scaled.bounds.big_m(k)[neg], 1.0, rtol=1e-12)


def test_row_norm_rule_gives_unit_rows_including_bias():
    net = random_net(7, (3, 5, 4, 2), scale=3.0)
    scaled = rescale(net, interval_bounds(net, -2, 2), rule="row_norm")
    for layer in scaled.network.layers[:-1]:
        norms = np.sqrt((layer.weights**2).sum(axis=1) + layer.bias**2)
        np.testing.assert_allclose(norms, 1.0, rtol=1e-12)


def test_clipped_caps_scale_with_the_factor():
    net = random_net(11, (2, 4, 1), activation="clipped_relu", cap=0.7)
    scaled = rescale(net, interval_bounds(net, -3, 3))
    caps = scaled.network.layers[0].activation.caps(4)
    np.testing.assert_allclose(caps, 0.7 * scaled.factors[0], rtol=1e-15)
    assert_same_function(scaled.network, net, samples(net, -3, 3))


def test_dead_neuron_keeps_factor_one():
    net = ReluNetwork.from_arrays(
        [np.array([[0.0], [2.0]]), np.array([[1.0, 1.0]])], [np.array([0.0, 1.0]), np.array([0.0])]
    )
    scaled = rescale(net, interval_bounds(net, -1, 1))
    assert scaled.factors[0][0] == 1.0
    assert scaled.factors[0][1] == pytest.approx(1 / 3)


def test_to_original_and_to_scaled_are_inverse_and_check_shapes():
    net = random_net(2, (2, 3, 1))
    scaled = rescale(net, interval_bounds(net, -1, 1))
    v = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(scaled.to_original(0, scaled.to_scaled(0, v)), v, rtol=1e-15)
    with pytest.raises(ShapeMismatchError, match="layer 0 has 3 neurons"):
        scaled.to_original(0, np.ones(4))
    with pytest.raises(ShapeMismatchError, match="out of range"):
        scaled.to_scaled(5, np.ones(3))


def test_unknown_rule_lists_valid_rules():
    net = random_net(0, (2, 3, 1))
    with pytest.raises(UnknownOptionError, match="'max_abs', 'upper', 'row_norm'"):
        rescale(net, interval_bounds(net, -1, 1), rule="maxabs")


@pytest.mark.parametrize("reduce", [rescale, prune_stable])
def test_bounds_of_another_network_are_rejected(reduce):
    net = random_net(0, (2, 3, 1))
    other = random_net(0, (2, 4, 1))
    with pytest.raises(ShapeMismatchError, match="do not match the network"):
        reduce(net, interval_bounds(other, -1, 1))


# -- prune_stable -------------------------------------------------------------------------
@hypothesis_settings
@given(case=net_cases)
def test_prune_keeps_function_and_sound_bounds(case):
    net, bounds, x = build(case)
    pruned = prune_stable(net, bounds)
    assert isinstance(pruned, PrunedNetwork)
    assert_same_function(pruned.network, net, x)
    assert_bounds_contain(pruned.bounds, pruned.network, x)
    removed = pruned.n_constant + pruned.n_folded + pruned.n_dead
    assert pruned.network.n_piecewise_neurons == net.n_piecewise_neurons - removed
    z_old, z_new = net.preactivations(x), pruned.network.preactivations(x)
    for k, j in enumerate(pruned.layer_map):
        if j is None:
            continue
        cols = pruned.kept[k] if k < net.n_layers - 1 else slice(None)
        tol = 1e-9 * max(1.0, float(np.abs(z_old[k]).max()))
        np.testing.assert_allclose(z_new[j], z_old[k][:, cols], rtol=0, atol=tol)


@pytest.mark.parametrize("activation, cap", [("relu", None), ("clipped_relu", 0.5)])
@pytest.mark.parametrize("shift", [-2.5, 2.5])
def test_prune_removes_stable_neurons(activation, cap, shift):
    net = random_net(21, (3, 12, 12, 12, 2), activation=activation, cap=cap, shift=shift)
    bounds = interval_bounds(net, -0.5, 0.5)
    constants = sum(
        int((bounds.stable_inactive(k) | bounds.stable_saturated(k)).sum()) for k in range(3)
    )
    assert constants > 0  # the shift makes many neurons stable
    pruned = prune_stable(net, bounds)
    assert pruned.n_constant == constants
    assert pruned.network.n_piecewise_neurons < net.n_piecewise_neurons
    assert_same_function(pruned.network, net, samples(net, -0.5, 0.5))


def test_prune_by_hand_inactive_saturated_and_kept():
    # z = x + (0, -5, 5, 0.5) on [-1, 1]: neuron 1 inactive, 2 saturated at cap 3, 0 and 3 unstable
    net = ReluNetwork.from_arrays(
        [np.ones((4, 1)), np.array([[1.0, 2.0, 3.0, 4.0]])],
        [np.array([0.0, -5.0, 5.0, 0.5]), np.array([1.0])],
        activation="clipped_relu",
        cap=3.0,
    )
    pruned = prune_stable(net, interval_bounds(net, -1, 1))
    np.testing.assert_array_equal(pruned.kept[0], [0, 3])
    assert pruned.layer_map == (0, 1) and pruned.n_constant == 2 and pruned.n_folded == 0
    np.testing.assert_array_equal(pruned.network.layers[1].weights, [[1.0, 4.0]])
    np.testing.assert_array_equal(pruned.network.layers[1].bias, [1.0 + 3.0 * 3.0])


def test_prune_folds_a_stably_linear_layer():
    w1, b1 = np.array([[1.0, -1.0], [2.0, 1.0]]), np.array([5.0, 6.0])
    w2, b2 = np.array([[1.0, 3.0]]), np.array([-1.0])
    net = ReluNetwork.from_arrays([w1, w2], [b1, b2])
    pruned = prune_stable(net, interval_bounds(net, -1, 1))
    assert pruned.network.n_layers == 1 and pruned.layer_map == (None, 0) and pruned.n_folded == 2
    np.testing.assert_array_equal(pruned.network.layers[0].weights, w2 @ w1)
    np.testing.assert_array_equal(pruned.network.layers[0].bias, w2 @ b1 + b2)


def test_prune_layer_with_no_neurons_left_makes_a_constant_network():
    # every hidden neuron of the first layer is dead: the network is the constant b2 + W2
    # relu(b1')...
    w1, b1 = np.array([[1.0], [-1.0]]), np.array([-4.0, -4.0])
    w2, b2 = np.array([[2.0, 1.0], [1.0, -1.0]]), np.array([0.5, 1.0])
    w3, b3 = np.array([[1.0, 1.0]]), np.array([0.0])
    net = ReluNetwork.from_arrays([w1, w2, w3], [b1, b2, b3])
    pruned = prune_stable(net, interval_bounds(net, -1, 1))
    # layer 1 then sees constant inputs (0.5, 1.0): stably linear, folded too
    assert pruned.network.layer_sizes == (1, 1) and pruned.layer_map == (None, None, 0)
    np.testing.assert_array_equal(pruned.network.layers[0].weights, [[0.0]])
    np.testing.assert_array_equal(pruned.network.layers[0].bias, [1.5])
    assert_same_function(pruned.network, net, samples(net, -1, 1))


def test_prune_handles_per_neuron_caps_and_composes_with_rescale():
    net = random_net(4, (2, 10, 10, 1), activation="clipped_relu", cap=0.4, shift=1.5)
    bounds = interval_bounds(net, -1, 1)
    scaled = rescale(net, bounds)
    assert isinstance(scaled.network.layers[0].activation.cap, tuple)
    pruned = prune_stable(scaled.network, scaled.bounds)
    assert pruned.n_constant > 0
    x = samples(net, -1, 1)
    assert_same_function(pruned.network, net, x)
    assert_bounds_contain(pruned.bounds, pruned.network, x)


def test_linear_hidden_layer_is_folded_and_rescaled():
    layers = random_net(8, (2, 4, 3, 1)).layers
    lin = DenseLayer(layers[0].weights, layers[0].bias, Activation.LINEAR)
    net = ReluNetwork([lin, layers[1], layers[2]])
    bounds = interval_bounds(net, -1, 1)
    pruned = prune_stable(net, bounds)
    assert pruned.layer_map[0] is None
    x = samples(net, -1, 1)
    assert_same_function(pruned.network, net, x)
    assert_same_function(rescale(net, bounds).network, net, x)


# -- a trained network -------------------------------------------------------------------
def peaks(x, y):
    return (
        3 * (1 - x) ** 2 * np.exp(-(x**2) - (y + 1) ** 2)
        - 10 * (x / 5 - x**3 - y**5) * np.exp(-(x**2) - y**2)
        - np.exp(-((x + 1) ** 2) - y**2) / 3
    )


def test_trained_sklearn_network_keeps_its_function():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(400, 2))
    mlp = MLPRegressor(hidden_layer_sizes=(16, 16), max_iter=150, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, peaks(x[:, 0], x[:, 1]))
    net = ReluNetwork.from_arrays([w.T for w in mlp.coefs_], list(mlp.intercepts_))
    xs = samples(net, -3, 3)
    np.testing.assert_allclose(net.forward(xs)[:, 0], mlp.predict(xs), rtol=1e-12, atol=1e-12)
    bounds = interval_bounds(net, -3, 3)
    for rule in RESCALE_RULES:
        scaled = rescale(net, bounds, rule=rule)
        assert_same_function(scaled.network, net, xs)
        assert_bounds_contain(scaled.bounds, scaled.network, xs)
    # restrict the box so that some neurons become stable, then prune
    small = interval_bounds(net, [0.5, 0.5], [1.0, 1.0])
    pruned = prune_stable(net, small)
    assert pruned.network.n_piecewise_neurons < net.n_piecewise_neurons
    xs_small = samples(net, [0.5, 0.5], [1.0, 1.0])
    assert_same_function(pruned.network, net, xs_small)
    assert_bounds_contain(pruned.bounds, pruned.network, xs_small)
