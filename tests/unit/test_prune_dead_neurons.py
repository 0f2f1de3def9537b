"""prune_stable removes neurons that no output depends on (all outgoing weights zero)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyomo_relu.bounds import interval_bounds
from pyomo_relu.network import ReluNetwork
from pyomo_relu.reductions import prune_stable

from .test_reductions import assert_bounds_contain, assert_same_function, random_net, samples


def with_zero_columns(net: ReluNetwork, seed: int, share: float) -> ReluNetwork:
    """``net`` with about ``share`` of the columns of every non-first layer's weights set to 0."""
    rng = np.random.default_rng(seed)
    weights = [net.layers[0].weights]
    for layer in net.layers[1:]:
        w = np.array(layer.weights)
        w[:, rng.random(layer.n_in) < share] = 0.0
        weights.append(w)
    act = net.layers[0].activation
    cap = act.cap if act.kind.name == "CLIPPED_RELU" else None
    return ReluNetwork.from_arrays(
        weights,
        [layer.bias for layer in net.layers],
        activation="clipped_relu" if cap is not None else "relu",
        cap=cap,
    )


def outgoing_is_nonzero(net: ReluNetwork) -> bool:
    """Whether every hidden neuron of ``net`` has a nonzero weight to the next layer."""
    return all(np.any(nxt.weights != 0, axis=0).all() for nxt in net.layers[1:])


def test_unstable_neuron_with_zero_outgoing_weights_is_removed():
    # two unstable neurons (z = x and z = -x on [-1, 1]); the second one feeds nothing
    net = ReluNetwork.from_arrays(
        [np.array([[1.0], [-1.0]]), np.array([[2.0, 0.0]])], [np.zeros(2), np.array([0.5])]
    )
    pruned = prune_stable(net, interval_bounds(net, -1, 1))
    np.testing.assert_array_equal(pruned.kept[0], [0])
    assert pruned.n_dead == 1 and pruned.n_constant == 0
    assert pruned.network.layer_sizes == (1, 1, 1)
    np.testing.assert_array_equal(pruned.network.layers[1].weights, [[2.0]])
    assert_same_function(pruned.network, net, samples(net, -1, 1))


def test_removal_is_repeated_through_the_layers():
    # layer-1 neuron 1 feeds nothing; layer-0 neuron 1 feeds only it: both are dead
    w0 = np.array([[1.0], [-1.0]])
    w1 = np.array([[1.0, 0.0], [0.5, 3.0]])
    w2 = np.array([[1.0, 0.0]])
    net = ReluNetwork.from_arrays([w0, w1, w2], [np.zeros(2), np.zeros(2), np.zeros(1)])
    pruned = prune_stable(net, interval_bounds(net, -1, 1))
    assert pruned.n_dead == 2
    np.testing.assert_array_equal(pruned.kept[0], [0])
    np.testing.assert_array_equal(pruned.kept[1], [0])
    assert pruned.network.n_piecewise_neurons == 2
    assert_same_function(pruned.network, net, samples(net, -1, 1))


def test_a_layer_of_dead_neurons_leaves_a_constant_network():
    # nothing of the hidden layer reaches the output: the output is the constant 0.25
    net = ReluNetwork.from_arrays(
        [np.array([[1.0], [-1.0]]), np.zeros((1, 2))], [np.zeros(2), np.array([0.25])]
    )
    pruned = prune_stable(net, interval_bounds(net, -1, 1))
    assert pruned.n_dead == 2 and pruned.network.n_piecewise_neurons == 0
    assert pruned.layer_map == (None, 0)
    assert_same_function(pruned.network, net, samples(net, -1, 1))


@pytest.mark.parametrize("activation, cap", [("relu", None), ("clipped_relu", 0.7)])
def test_sampled_networks_with_zero_columns_keep_their_function(activation, cap):
    base = random_net(5, (3, 10, 10, 10, 2), activation=activation, cap=cap)
    net = with_zero_columns(base, seed=9, share=0.4)
    bounds = interval_bounds(net, -1, 1)
    pruned = prune_stable(net, bounds)
    assert pruned.n_dead > 0
    assert outgoing_is_nonzero(pruned.network)
    removed = pruned.n_constant + pruned.n_folded + pruned.n_dead
    assert pruned.network.n_piecewise_neurons == net.n_piecewise_neurons - removed
    x = samples(net, -1, 1)
    assert_same_function(pruned.network, net, x)
    assert_bounds_contain(pruned.bounds, pruned.network, x)


cases = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "hidden": st.lists(st.integers(1, 6), min_size=1, max_size=3),
        "n_in": st.integers(1, 3),
        "n_out": st.integers(1, 2),
        "activation": st.sampled_from(["relu", "clipped_relu"]),
        "cap": st.floats(0.2, 3.0),
        "shift": st.sampled_from([0.0, -2.0, 2.0]),
        "share": st.floats(0.0, 1.0),
        "half_width": st.floats(0.1, 3.0),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases)
def test_generated_networks_with_zero_columns_keep_function_and_sound_bounds(case):
    sizes = (case["n_in"], *case["hidden"], case["n_out"])
    cap = case["cap"] if case["activation"] == "clipped_relu" else None
    base = random_net(
        case["seed"], sizes, activation=case["activation"], cap=cap, shift=case["shift"]
    )
    net = with_zero_columns(base, case["seed"] % 7919, case["share"])
    lb, ub = -case["half_width"], case["half_width"]
    bounds = interval_bounds(net, lb, ub)
    pruned = prune_stable(net, bounds)
    x = samples(net, lb, ub, case["seed"] % 1000)
    assert_same_function(pruned.network, net, x)
    assert_bounds_contain(pruned.bounds, pruned.network, x)
    assert outgoing_is_nonzero(pruned.network)
    removed = pruned.n_constant + pruned.n_folded + pruned.n_dead
    assert pruned.network.n_piecewise_neurons == net.n_piecewise_neurons - removed
    # the bounds of the kept neurons are those of the same neurons in the original network
    for k, j in enumerate(pruned.layer_map[:-1]):
        if j is not None:
            kept = pruned.kept[k]
            assert np.all(pruned.bounds.lower[j] <= bounds.lower[k][kept])
            assert np.all(pruned.bounds.upper[j] >= bounds.upper[k][kept])
            width = bounds.upper[k][kept] - bounds.lower[k][kept]
            slack = 1e-9 * (1.0 + np.abs(bounds.lower[k][kept]) + np.abs(bounds.upper[k][kept]))
            assert np.all(pruned.bounds.upper[j] - pruned.bounds.lower[j] <= width + 2 * slack)
