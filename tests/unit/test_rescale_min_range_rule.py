"""The ``min_range`` rescaling rule: a log-domain LP over the factors of all hidden neurons.

Checked against the forward pass on 10^5 samples (trained and random networks,
ReLU and clipped ReLU, hypothesis-generated networks), against the bounds it
maps, against a hand-solved network, and against every fixed rule on the
objective it minimizes (:func:`coefficient_spread`).
"""

from __future__ import annotations

import importlib.resources

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyomo_relu.bounds import interval_bounds, lp_bounds
from pyomo_relu.errors import ShapeMismatchError, UnknownOptionError
from pyomo_relu.io import load_onnx
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork
from pyomo_relu.reductions import RESCALE_RULES, coefficient_spread, rescale

N_SAMPLES = 100_000
SPREAD_TOL = 1e-5  # bits: HiGHS's feasibility tolerance plus the band slack of the second LP


def network(seed, sizes, *, clipped=False, cap=1.5, spread=1.0, bias=0.5):
    """Gaussian weights whose neurons differ in scale by ``lognormal(0, spread)`` (as trained
    networks do)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.normal(size=(n_out, n_in)) / np.sqrt(n_in)
        w *= rng.lognormal(0.0, spread, size=(n_out, 1))
        last = k == len(sizes) - 2
        act = Activation.LINEAR if last else (Activation.CLIPPED_RELU(cap) if clipped else None)
        layers.append(
            DenseLayer(w, rng.normal(size=n_out) * bias, act or Activation.RELU, name=f"L{k}")
        )
    return ReluNetwork(layers)


def peaks_network() -> ReluNetwork:
    with importlib.resources.as_file(
        importlib.resources.files("pyomo_relu") / "data" / "peaks.onnx"
    ) as path:
        return load_onnx(path)


def uniform(net, lb, ub, n=N_SAMPLES, seed=0):
    return np.random.default_rng(seed).uniform(lb, ub, size=(n, net.n_inputs))


def assert_same_function(scaled, net, x):
    """Outputs equal to 1e-9 relative to the output magnitude."""
    y, y_new = net.forward(x), scaled.forward(x)
    scale = max(float(np.abs(y).max()), 1e-300)
    assert np.abs(y_new - y).max() <= 1e-9 * scale


def assert_bounds_map(scaled, net, bounds, x):
    """The scaled bounds contain the scaled network's pre-activations and the original ones
    times the factors."""
    z_old, z_new = net.preactivations(x), scaled.network.preactivations(x)
    for k in range(net.n_layers):
        lo, up = scaled.bounds.lower[k], scaled.bounds.upper[k]
        assert np.all(z_new[k] >= lo) and np.all(z_new[k] <= up), f"layer {k}"
        mapped = scaled.to_scaled(k, z_old[k])
        assert np.all(mapped >= lo) and np.all(mapped <= up), f"layer {k}"
        c = scaled.factors[k]
        assert np.all(lo <= c * bounds.lower[k]) and np.all(up >= c * bounds.upper[k])


def assert_factors_sane(scaled):
    for c in scaled.factors:
        assert np.all(np.isfinite(c)) and np.all(c > 0)
        assert np.all(np.abs(np.log2(c)) <= 200.0)
    np.testing.assert_array_equal(scaled.factors[-1], 1.0)


def assert_least_spread(net, bounds, scaled):
    """No fixed rule (and no scaling) gives the big-M rows a smaller coefficient range."""
    best = coefficient_spread(net, bounds, scaled.factors)
    assert best <= coefficient_spread(net, bounds) + SPREAD_TOL
    for rule in RESCALE_RULES:
        other = rescale(net, bounds, rule=rule)
        assert best <= coefficient_spread(net, bounds, other.factors) + SPREAD_TOL, rule


# -- the function, the bounds and the spread on fixed networks ----------------------------
CASES = {
    "peaks (trained)": (peaks_network, -3.0, 3.0),
    "random relu": (lambda: network(1, (3, 20, 20, 20, 1)), -1.0, 1.0),
    "random clipped": (lambda: network(2, (2, 25, 25, 1), clipped=True), -1.0, 1.0),
    "wide scales": (lambda: network(3, (2, 12, 12, 2), spread=3.0), -2.0, 2.0),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("tightened", [False, True])
def test_min_range_keeps_function_bounds_and_least_spread(case, tightened):
    make, lb, ub = CASES[case]
    net = make()
    bounds = interval_bounds(net, lb, ub)
    if tightened:
        bounds = lp_bounds(net, lb, ub, prior=bounds)
    scaled = rescale(net, bounds, rule="min_range")
    assert scaled.rule == "min_range"
    x = uniform(net, lb, ub)
    assert_same_function(scaled.network, net, x)
    assert_bounds_map(scaled, net, bounds, x)
    assert_factors_sane(scaled)
    assert_least_spread(net, bounds, scaled)
    # the spread of the rows of the network it builds is the one it optimized
    rebuilt = coefficient_spread(scaled.network, scaled.bounds)
    assert rebuilt == pytest.approx(coefficient_spread(net, bounds, scaled.factors), abs=1e-6)


def test_trained_sklearn_network_keeps_its_function():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(400, 2))
    y = np.sin(x[:, 0]) * np.cos(2 * x[:, 1]) + 0.1 * x[:, 0] ** 2
    mlp = MLPRegressor(hidden_layer_sizes=(24, 24), max_iter=200, random_state=0)
    with pytest.warns(ConvergenceWarning):
        mlp.fit(x, y)
    net = ReluNetwork.from_arrays([w.T for w in mlp.coefs_], list(mlp.intercepts_))
    bounds = interval_bounds(net, -3, 3)
    scaled = rescale(net, bounds, rule="min_range")
    xs = uniform(net, -3, 3)
    np.testing.assert_allclose(scaled.network.forward(xs)[:, 0], mlp.predict(xs), rtol=1e-9)
    assert_bounds_map(scaled, net, bounds, xs)
    assert_least_spread(net, bounds, scaled)


# -- generated networks ----------------------------------------------------------------
generated = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 2**31 - 1),
        "sizes": st.lists(st.integers(1, 7), min_size=1, max_size=3).flatmap(
            lambda hidden: st.tuples(st.integers(1, 3), st.integers(1, 2)).map(
                lambda io: (io[0], *hidden, io[1])
            )
        ),
        "clipped": st.booleans(),
        "cap": st.floats(0.2, 3.0),
        "spread": st.sampled_from([0.0, 1.0, 3.0]),
        "bias": st.sampled_from([0.0, 0.5, 3.0]),
        "half_width": st.floats(0.05, 5.0),
    }
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=generated)
def test_generated_networks_keep_function_and_least_spread(case):
    net = network(
        case["seed"],
        case["sizes"],
        clipped=case["clipped"],
        cap=case["cap"],
        spread=case["spread"],
        bias=case["bias"],
    )
    lb, ub = -case["half_width"], case["half_width"]
    bounds = interval_bounds(net, lb, ub)
    scaled = rescale(net, bounds, rule="min_range")
    x = uniform(net, lb, ub, seed=case["seed"] % 997)
    assert_same_function(scaled.network, net, x)
    assert_bounds_map(scaled, net, bounds, x)
    assert_factors_sane(scaled)
    assert_least_spread(net, bounds, scaled)


# -- by hand ------------------------------------------------------------------------------
def test_one_neuron_by_hand():
    """x in [-1, 1], z = 4 x, out = relu(z) / 64.

    Coefficients (log2) with s = log2 c: 4 (weight), |l| = 4, u = 4 all give 2 + s; the
    output weight gives -6 - s; the unit coefficients 0.  The range of {2 + s, 0, -6 - s}
    is smallest, 2 bits, at s = -4: c = 1/16 (max_abs: c = 1/4, 4 bits; no scaling 8 bits).
    """
    net = ReluNetwork(
        [
            DenseLayer([[4.0]], [0.0], Activation.RELU),
            DenseLayer([[1.0 / 64.0]], [0.0], Activation.LINEAR),
        ]
    )
    bounds = interval_bounds(net, -1.0, 1.0)
    scaled = rescale(net, bounds, rule="min_range")
    assert scaled.factors[0][0] == pytest.approx(1.0 / 16.0, rel=1e-6)
    assert coefficient_spread(net, bounds, scaled.factors) == pytest.approx(2.0, abs=SPREAD_TOL)
    assert coefficient_spread(net, bounds) == pytest.approx(8.0)
    max_abs = rescale(net, bounds, rule="max_abs")
    assert coefficient_spread(net, bounds, max_abs.factors) == pytest.approx(4.0, abs=1e-9)


def test_neurons_without_rows_keep_factor_one():
    """Stably inactive, saturated and zero-row neurons have no coefficients: c = 1."""
    w1 = np.array([[1.0, 2.0], [0.0, 0.0], [0.5, 0.5], [3.0, -1.0]])
    b1 = np.array([0.1, 0.7, -5.0, 9.0])  # neuron 1 zero row, 2 inactive, 3 saturated
    net = ReluNetwork(
        [
            DenseLayer(w1, b1, Activation.CLIPPED_RELU(2.0)),
            DenseLayer([[1.0, 1.0, 1.0, 1.0]], [0.0], Activation.LINEAR),
        ]
    )
    bounds = interval_bounds(net, -1.0, 1.0)
    assert bounds.stable_inactive(0)[2] and bounds.stable_saturated(0)[3]
    scaled = rescale(net, bounds, rule="min_range")
    c = scaled.factors[0]
    assert c[2] == 1.0 and c[3] == 1.0
    # the zero row is stably linear (y = 0.7): it has a constant and an outgoing weight
    assert bounds.stable_linear(0)[1]
    assert_same_function(scaled.network, net, uniform(net, -1.0, 1.0))


def extreme_network(scale: float) -> ReluNetwork:
    """Neuron 0 of the first layer scaled by ``scale``, its outgoing weights by ``1 / scale``."""
    net = network(5, (2, 6, 6, 1))
    w0, b0 = np.array(net.layers[0].weights), np.array(net.layers[0].bias)
    w1 = np.array(net.layers[1].weights)
    w0[0], b0[0], w1[:, 0] = w0[0] * scale, b0[0] * scale, w1[:, 0] / scale
    first = DenseLayer(w0, b0, Activation.RELU)
    return net.with_layers(
        [first, DenseLayer(w1, net.layers[1].bias, Activation.RELU)] + [net.layers[2]]
    )


def test_extreme_neuron_scales_are_undone():
    """A neuron scaled by 1e30 (outgoing weights by 1e-30) gets a factor near 1e-30 back."""
    net, extreme = network(5, (2, 6, 6, 1)), extreme_network(1e30)
    bounds = interval_bounds(extreme, -1.0, 1.0)
    scaled = rescale(extreme, bounds, rule="min_range")
    assert_factors_sane(scaled)
    assert_same_function(scaled.network, extreme, uniform(extreme, -1.0, 1.0))
    assert_least_spread(extreme, bounds, scaled)
    plain = coefficient_spread(net, interval_bounds(net, -1.0, 1.0))
    assert coefficient_spread(extreme, bounds, scaled.factors) <= plain + SPREAD_TOL


def test_factors_stay_bounded():
    """A neuron scaled by 1e80 would want c = 1e-80 (2^-266): the factor stops at 2^-200
    and the function is kept."""
    extreme = extreme_network(1e80)
    bounds = interval_bounds(extreme, -1.0, 1.0)
    scaled = rescale(extreme, bounds, rule="min_range")
    assert_factors_sane(scaled)
    assert scaled.factors[0][0] == pytest.approx(2.0**-200, rel=1e-6)
    assert_same_function(scaled.network, extreme, uniform(extreme, -1.0, 1.0))
    assert_bounds_map(scaled, extreme, bounds, uniform(extreme, -1.0, 1.0, n=1000))


def test_coefficient_spread_checks_the_factors():
    net = network(0, (2, 3, 1))
    bounds = interval_bounds(net, -1.0, 1.0)
    with pytest.raises(ShapeMismatchError, match="one array per layer"):
        coefficient_spread(net, bounds, [np.ones(3)])


def test_unknown_rule_lists_the_valid_rules():
    net = network(0, (2, 3, 1))
    with pytest.raises(UnknownOptionError, match="'max_abs', 'upper', 'row_norm', 'min_range'"):
        rescale(net, interval_bounds(net, -1.0, 1.0), rule="log")
