"""Unusual but valid networks and boxes through the numeric core.

Networks without a hidden layer, of width 1, ending in a ReLU or clipped ReLU,
with zero rows and columns, duplicated neurons, dead or fully stable neurons,
very deep or very wide, weights over fourteen orders of magnitude, point,
tiny and huge boxes, per-neuron caps from 1e-6 to 1e6; inputs given as lists,
tuples, float32 and 0-d arrays.  Every bound must contain the float64 forward
pass at random points and corners of the box, LP bounds must be at least as
tight as interval bounds, the reductions must keep the function, and bad
inputs must raise the package's errors.
"""

from __future__ import annotations

import copy
import itertools
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("highspy")

import pyomo_relu as pr  # noqa: E402
from pyomo_relu import Activation, DenseLayer, ReluNetwork  # noqa: E402
from pyomo_relu.analysis import big_m_report, count_linear_regions, stable_fraction  # noqa: E402
from pyomo_relu.bounds import NeuronBounds, interval_bounds, lp_bounds, milp_bounds  # noqa: E402
from pyomo_relu.errors import (  # noqa: E402
    BoundsTypeError,
    InfeasibleBoxError,
    InvalidNetworkError,
    MissingBoundsError,
    NetworkTypeError,
    ReluError,
    ShapeMismatchError,
    TimeLimitWarning,
)
from tests.conftest import requires_scip  # noqa: E402

RELU, LINEAR, CLIP = Activation.RELU, Activation.LINEAR, Activation.CLIPPED_RELU


# -- helpers ------------------------------------------------------------------------
def box_points(lb, ub, n: int = 400, seed: int = 0) -> np.ndarray:
    """Random points of the box plus all its corners (up to 8 inputs)."""
    lb, ub = np.asarray(lb, dtype=np.float64), np.asarray(ub, dtype=np.float64)
    x = lb + (ub - lb) * np.random.default_rng(seed).random((n, lb.size))
    corners = (
        np.array(list(itertools.product(*zip(lb, ub)))) if lb.size <= 8 else np.zeros((0, lb.size))
    )
    return np.vstack([x, corners, (lb + ub) / 2])


def assert_sound(net: ReluNetwork, bounds: NeuronBounds, x: np.ndarray, what: str) -> None:
    """Every pre-activation of the float64 forward pass at ``x`` lies within ``bounds`` (no
    tolerance)."""
    for k, z in enumerate(net.preactivations(x)):
        below = np.flatnonzero(np.any(z < bounds.lower[k], axis=0))
        above = np.flatnonzero(np.any(z > bounds.upper[k], axis=0))
        assert below.size == 0 and above.size == 0, (
            f"{what}: layer {k} neurons {below.tolist()} / {above.tolist()} cut off: bounds "
            f"[{bounds.lower[k]}, {bounds.upper[k]}], values in [{z.min(0)}, {z.max(0)}]"
        )


def assert_tighter(inner: NeuronBounds, outer: NeuronBounds) -> None:
    for k in range(outer.n_layers):
        assert np.all(inner.lower[k] >= outer.lower[k]) and np.all(
            inner.upper[k] <= outer.upper[k]
        ), k


def assert_same_bounds(a: NeuronBounds, b: NeuronBounds) -> None:
    assert a.methods == b.methods
    np.testing.assert_array_equal(a.input_lb, b.input_lb)
    np.testing.assert_array_equal(a.input_ub, b.input_ub)
    for k in range(a.n_layers):
        np.testing.assert_array_equal(a.lower[k], b.lower[k])
        np.testing.assert_array_equal(a.upper[k], b.upper[k])


def assert_same_function(new: ReluNetwork, net: ReluNetwork, x: np.ndarray) -> None:
    y, y0 = new.forward(x), net.forward(x)
    scale = 1.0 + np.abs(y0).max()
    assert np.abs(y - y0).max() <= 1e-9 * scale, np.abs(y - y0).max()


def check_reductions(net: ReluNetwork, bounds: NeuronBounds, x: np.ndarray) -> None:
    """rescale and prune_stable keep the function on the box and return sound bounds."""
    for rule in pr.reductions.RESCALE_RULES:
        scaled = pr.rescale(net, bounds, rule=rule)
        assert_same_function(scaled.network, net, x)
        assert_sound(scaled.network, scaled.bounds, x, f"rescale({rule})")
    pruned = pr.prune_stable(net, bounds)
    assert_same_function(pruned.network, net, x)
    assert_sound(pruned.network, pruned.bounds, x, "prune_stable")
    assert pruned.network.n_piecewise_neurons <= net.n_piecewise_neurons


def check_indicators(bounds: NeuronBounds) -> None:
    """stable_fraction and big_m_report agree with the bounds' own stability counts."""
    report, big_m = stable_fraction(bounds), big_m_report(bounds)
    piece = [k for k in range(bounds.n_layers) if bounds.is_piecewise(k)]
    assert report.n == sum(len(bounds.lower[k]) for k in piece)
    assert report.n_stable == sum(int(bounds.stable(k).sum()) for k in piece)
    assert big_m.total.n_unstable == report.n - report.n_stable
    assert big_m.n_binaries == sum(int(bounds.n_binaries(k).sum()) for k in piece)
    assert str(report) and str(big_m)


def full_check(net: ReluNetwork, lb, ub, *, workers=(1,)) -> NeuronBounds:
    """Interval and LP bounds sound, LP tighter and independent of the prior; reductions and
    indicators."""
    ib = interval_bounds(net, lb, ub)
    x = box_points(ib.input_lb, ib.input_ub)
    assert_sound(net, ib, x, "interval_bounds")
    results = []
    for w in workers:
        with warnings.catch_warnings():
            warnings.simplefilter("error", TimeLimitWarning)  # no time limit: none may be reported
            results.append(lp_bounds(net, lb, ub, workers=w))
    lp = results[0]
    for other in results[1:]:
        assert_same_bounds(other, lp)
    assert_sound(net, lp, x, "lp_bounds")
    assert_tighter(lp, ib)
    assert_same_bounds(lp_bounds(net, lb, ub, prior=ib), lp)
    check_reductions(net, ib, x)
    check_reductions(net, lp, x)
    check_indicators(ib)
    check_indicators(lp)
    return lp


def dense(rng, n_out, n_in, act=RELU, scale=1.0, bias=0.5):
    return DenseLayer(rng.normal(size=(n_out, n_in)) * scale, rng.normal(size=n_out) * bias, act)


# -- generated networks -------------------------------------------------------------
@st.composite
def unusual_networks(draw):
    """A small network with some of: zero rows/columns, duplicates, odd caps, weights over many
    decades."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_in = draw(st.integers(1, 3))
    sizes = (
        [n_in]
        + draw(st.lists(st.integers(1, 4), min_size=0, max_size=3))
        + [draw(st.integers(1, 3))]
    )
    decades = draw(st.sampled_from([(0, 0), (-2, 2), (-8, 6)]))
    last_act = draw(st.sampled_from(["linear", "relu", "clipped"]))
    layers = []
    for k in range(len(sizes) - 1):
        w = rng.normal(size=(sizes[k + 1], sizes[k])) * 10.0 ** rng.uniform(
            *decades, size=(sizes[k + 1], sizes[k])
        )
        b = rng.normal(size=sizes[k + 1]) * 10.0 ** rng.uniform(*decades, size=sizes[k + 1])
        if draw(st.booleans()):  # a zero row, a zero column, a duplicated neuron
            w[rng.integers(sizes[k + 1])] = 0.0
            w[:, rng.integers(sizes[k])] = 0.0
            j = rng.integers(sizes[k + 1])
            w[j - 1], b[j - 1] = w[j], b[j]
        kind = last_act if k == len(sizes) - 2 else draw(st.sampled_from(["relu", "clipped"]))
        if kind == "clipped":
            act = CLIP(tuple(10.0 ** rng.uniform(-6, 6, size=sizes[k + 1])))
        else:
            act = RELU if kind == "relu" else LINEAR
        layers.append(DenseLayer(w, b, act))
    net = ReluNetwork(layers)
    centre = rng.uniform(-2, 2, size=n_in)
    width = draw(st.sampled_from([0.0, 1e-9, 1e-3, 1.0, 1e3]))
    half = width * rng.uniform(0.5, 1.0, size=n_in) * (rng.random(n_in) < 0.8)  # some inputs fixed
    return net, centre - half, centre + half


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(unusual_networks())
def test_generated_unusual_networks_sound_and_consistent(case):
    net, lb, ub = case
    lp = full_check(net, lb, ub)
    clone = pickle.loads(pickle.dumps(lp))
    assert_same_bounds(clone, lp)
    assert_same_bounds(copy.deepcopy(lp), lp)
    assert_same_bounds(lp.intersect(interval_bounds(net, lb, ub)), lp)


# -- hand-picked shapes -------------------------------------------------------------
def test_single_affine_layer_has_exact_bounds_and_nothing_to_reduce():
    rng = np.random.default_rng(1)
    net = ReluNetwork([dense(rng, 2, 3, LINEAR)])
    lp = full_check(net, -1, 1)
    w, b = net.layers[0].weights, net.layers[0].bias
    np.testing.assert_allclose(lp.upper[0], np.abs(w).sum(1) + b, rtol=1e-12)
    assert stable_fraction(lp).n == 0 and big_m_report(lp).n_binaries == 0
    assert pr.rescale(net, lp).network == net and pr.prune_stable(net, lp).network == net
    assert count_linear_regions(net, -1, 1).count == 1


@pytest.mark.parametrize("act", [RELU, CLIP((0.5, 2.0, 1e6))], ids=["relu", "clipped"])
def test_network_of_one_piecewise_layer(act):
    rng = np.random.default_rng(2)
    net = ReluNetwork([dense(rng, 3, 2, act)])
    full_check(net, -1, 1, workers=(1, 2))
    assert count_linear_regions(net, -1, 1).exact


def test_width_one_chain_and_several_outputs():
    rng = np.random.default_rng(3)
    net = ReluNetwork(
        [
            dense(rng, 1, 2),
            DenseLayer([[-1.5]], [0.2], RELU),
            DenseLayer([[1.0], [-2.0], [0.0]], [0, 1, 2], LINEAR),
        ]
    )
    lp = full_check(net, -1, 1)
    assert (
        2.0 - 1e-14 < lp.lower[2][2] <= 2.0 <= lp.upper[2][2] < 2.0 + 1e-14
    )  # a zero row: its bias


def test_final_relu_and_clipped_layers_bound_their_preactivations():
    rng = np.random.default_rng(4)
    for act in (RELU, CLIP((0.1, 1.0, 1e9))):
        net = ReluNetwork([dense(rng, 4, 2), dense(rng, 3, 4, act)])
        lp = full_check(net, -1, 1, workers=(1, 2))
        assert stable_fraction(lp).layers[-1].layer == 1  # the output layer is counted as piecewise


def test_zero_rows_and_columns():
    rng = np.random.default_rng(5)
    w = rng.normal(size=(5, 3))
    w[1], w[:, 2] = 0.0, 0.0
    net = ReluNetwork(
        [
            DenseLayer(w, [0, 0, 1, 0, 0], RELU),
            DenseLayer(np.zeros((2, 5)), [0, 1], RELU),
            dense(rng, 1, 2, LINEAR),
        ]
    )
    lp = full_check(net, -1, 1)
    assert lp.lower[0][1] == lp.upper[0][1] == 0.0  # exactly zero: stable, no binary
    pruned = pr.prune_stable(net, lp)
    # the zero layer is folded away, and the first layer, which it no longer reads, is dead
    assert pruned.layer_map == (None, None, 0) and not np.any(pruned.network.layers[-1].weights)
    assert pruned.n_constant == 2 and pruned.n_dead == 4


def test_duplicated_neurons_get_identical_bounds():
    rng = np.random.default_rng(6)
    w, b = rng.normal(size=(3, 2)), rng.normal(size=3)
    net = ReluNetwork([DenseLayer(np.vstack([w, w]), np.r_[b, b], RELU), dense(rng, 1, 6, LINEAR)])
    lp = full_check(net, -1, 1, workers=(1, 2))
    np.testing.assert_array_equal(lp.lower[0][:3], lp.lower[0][3:])
    np.testing.assert_array_equal(lp.upper[0][:3], lp.upper[0][3:])
    exact = count_linear_regions(net, -1, 1)
    single = count_linear_regions(
        ReluNetwork([DenseLayer(w, b, RELU), dense(rng, 1, 3, LINEAR)]), -1, 1
    )
    assert exact.count == single.count  # a duplicate shares its kink


def test_dead_network_is_constant_and_prunes_to_one_layer():
    rng = np.random.default_rng(7)
    net = ReluNetwork(
        [
            DenseLayer(-np.abs(rng.normal(size=(4, 2))), -5 * np.ones(4), RELU),
            dense(rng, 4, 4),
            DenseLayer(rng.normal(size=(1, 4)), [0.3], LINEAR),
        ]
    )
    lp = full_check(net, 0, 1)
    assert stable_fraction(lp).fraction == 1.0 and big_m_report(lp).n_binaries == 0
    pruned = pr.prune_stable(net, lp)
    assert pruned.network.n_layers == 1 and not np.any(pruned.network.layers[0].weights)
    assert pruned.n_constant + pruned.n_folded == 8
    assert count_linear_regions(net, 0, 1).count == 1
    assert (
        lp.report.n_solves == 2
    )  # only the linear output (min and max); no hidden neuron is unstable


def test_every_neuron_stably_active_folds_into_one_affine_layer():
    rng = np.random.default_rng(8)
    net = ReluNetwork(
        [
            DenseLayer(np.abs(rng.normal(size=(4, 2))), 5 * np.ones(4), RELU),
            DenseLayer(np.abs(rng.normal(size=(3, 4))), np.ones(3), RELU),
            dense(rng, 1, 3, LINEAR),
        ]
    )
    full_check(net, 0, 1)
    pruned = pr.prune_stable(net, interval_bounds(net, 0, 1))
    assert pruned.network.layer_sizes == (2, 1) and pruned.n_folded == 7


def test_saturated_final_clipped_layer():
    net = ReluNetwork(
        [
            DenseLayer(np.ones((3, 2)), np.ones(3), RELU),
            DenseLayer(np.ones((2, 3)), np.ones(2), CLIP((0.5, 100.0))),
        ]
    )
    lp = full_check(net, 0, 1)
    assert stable_fraction(lp).layers[-1].saturated == 1
    assert count_linear_regions(net, 0, 1).count == 1


def test_linear_hidden_layer_between_relu_layers():
    rng = np.random.default_rng(9)
    net = ReluNetwork(
        [dense(rng, 3, 2), dense(rng, 3, 3, LINEAR), dense(rng, 3, 3), dense(rng, 1, 3, LINEAR)]
    )
    full_check(net, -1, 1)
    assert [s.layer for s in stable_fraction(interval_bounds(net, -1, 1)).layers] == [0, 2]


def test_deep_narrow_network():
    rng = np.random.default_rng(10)
    layers = [dense(rng, 3, 2 if k == 0 else 3, bias=0.3) for k in range(18)] + [
        dense(rng, 1, 3, LINEAR)
    ]
    full_check(ReluNetwork(layers), -1, 1, workers=(1, 2))


def test_very_wide_layer():
    rng = np.random.default_rng(11)
    net = ReluNetwork([dense(rng, 2000, 2), dense(rng, 1, 2000, LINEAR, scale=0.03)])
    ib = interval_bounds(net, -1, 1)
    lp = lp_bounds(net, -1, 1)  # layer 0 is exact already; only the output is tightened
    x = box_points([-1, -1], [1, 1], n=200)
    assert_sound(net, lp, x, "lp_bounds")
    assert_tighter(lp, ib)
    assert lp.upper[1][0] < ib.upper[1][0]
    check_reductions(net, lp, x)
    check_indicators(lp)


def test_weights_over_fourteen_decades():
    rng = np.random.default_rng(12)
    w1 = rng.normal(size=(4, 3)) * 10.0 ** rng.uniform(-8, 6, size=(4, 3))
    w2 = rng.normal(size=(2, 4)) * 10.0 ** rng.uniform(-8, 6, size=(2, 4))
    full_check(
        ReluNetwork([DenseLayer(w1, rng.normal(size=4), RELU), DenseLayer(w2, [0, 0], LINEAR)]),
        -1,
        1,
    )


def small_net(seed=13):
    rng = np.random.default_rng(seed)
    return ReluNetwork(
        [
            dense(rng, 4, 3, bias=0.1),
            dense(rng, 4, 4, CLIP(0.3), bias=0.1),
            dense(rng, 2, 4, LINEAR),
        ]
    )


@pytest.mark.parametrize(
    "lb, ub",
    [
        ([0, -1, 0.5], [0, 1, 0.5]),  # some inputs fixed
        ([0, -1, 0.5], [0, -1, 0.5]),  # a single point
        ([0.1, 0.2, 0.3], [0.1 + 1e-9, 0.2 + 1e-9, 0.3 + 1e-9]),  # a tiny box
        (-1e8, 1e8),  # a huge box
    ],
    ids=["some-fixed", "point", "tiny", "huge"],
)
def test_degenerate_tiny_and_huge_boxes(lb, ub):
    net = small_net()
    lp = full_check(net, lb, ub)
    if np.array_equal(np.broadcast_to(lb, 3), np.broadcast_to(ub, 3)):
        y = net.forward(np.asarray(lb, dtype=float))
        assert np.all(
            lp.upper[-1] - lp.lower[-1] <= 1e-12 * (1 + np.abs(y))
        )  # a point has (almost) exact bounds
        assert count_linear_regions(net, lb, ub).count == 1


@pytest.mark.parametrize("s", [1e16, 1e20, 1e100])
def test_lp_bounds_on_boxes_beyond_highs_limits(s):
    """Boxes of 1e16 used to make HiGHS refuse the LP, reported as a time limit; 1e20 is HiGHS'
    infinity."""
    rng = np.random.default_rng(14)
    net = ReluNetwork([dense(rng, 6, 3), dense(rng, 6, 6), dense(rng, 2, 6, LINEAR)])
    with warnings.catch_warnings():
        warnings.simplefilter("error", TimeLimitWarning)
        lp = lp_bounds(net, -s, s)
    ib = interval_bounds(net, -s, s)
    assert_sound(net, lp, box_points([-s] * 3, [s] * 3), "lp_bounds")
    assert_tighter(lp, ib)
    if s == 1e16:  # as tight, relatively, as on a 1e12 box (where the biases are as negligible)
        ref, ref_ib = lp_bounds(net, -1e12, 1e12), interval_bounds(net, -1e12, 1e12)
        np.testing.assert_allclose(
            (lp.upper[2] - lp.lower[2]) / (ib.upper[2] - ib.lower[2]),
            (ref.upper[2] - ref.lower[2]) / (ref_ib.upper[2] - ref_ib.lower[2]),
            rtol=1e-6,
        )


@pytest.mark.parametrize(
    "lb, ub",
    [
        ([-1, -1, -1], (1, 1, 1)),
        (np.float32([-1, -1, -1]), np.float32([1, 1, 1])),
        (np.array(-1.0), np.array(1.0)),
        (-1, 1.0),
        ([np.float32(-1), -1, np.int64(-1)], [1, 1, 1]),
    ],
    ids=["list-tuple", "float32", "0d", "scalars", "mixed"],
)
def test_box_given_in_other_forms(lb, ub):
    net = small_net()
    ref = lp_bounds(net, -np.ones(3), np.ones(3))
    for fn in (interval_bounds, lp_bounds):
        b = fn(net, lb, ub)
        assert b.input_lb.dtype == np.float64
        np.testing.assert_array_equal(b.input_lb, -1.0)
    assert_same_bounds(lp_bounds(net, lb, ub), ref)


def test_float32_network_data_and_inputs():
    rng = np.random.default_rng(15)
    net = ReluNetwork(
        [
            DenseLayer(
                rng.normal(size=(3, 2)).astype(np.float32), np.float32([0.1, -0.2, 0.3]), RELU
            ),
            DenseLayer(rng.normal(size=(1, 3)).astype(np.float32), np.float32([0]), LINEAR),
        ]
    )
    assert net.layers[0].weights.dtype == np.float64
    full_check(net, np.float32([-1, -1]), np.float32([1, 1]))
    x32 = np.float32([[0.3, -0.7]])
    np.testing.assert_array_equal(net.forward(x32), net.forward(x32.astype(np.float64)))
    assert net.forward((0.3, -0.7)).shape == (1,)


def test_one_input_network_takes_0d_and_scalar_inputs():
    net = ReluNetwork(
        [DenseLayer([[2.0], [-1.0]], [0.0, 0.5], RELU), DenseLayer([[1.0, 1.0]], [0.0], LINEAR)]
    )
    np.testing.assert_array_equal(net.forward(np.array(0.25)), net.forward([0.25]))
    np.testing.assert_array_equal(net.forward(0.25), [0.75])
    full_check(net, np.array(0.0), 1)
    assert count_linear_regions(net, 0, 1).count == 2


def test_per_neuron_caps_from_tiny_to_huge():
    rng = np.random.default_rng(16)
    net = ReluNetwork([dense(rng, 4, 2, CLIP((1e-12, 1e-3, 1.0, 1e12))), dense(rng, 1, 4, LINEAR)])
    full_check(net, -1, 1)
    assert count_linear_regions(net, -1, 1).exact


def test_clipped_relu_cap_zero_is_refused_clearly():
    with pytest.raises(InvalidNetworkError, match=r"cap must be finite and > 0, found 0"):
        CLIP(0)
    with pytest.raises(InvalidNetworkError, match=r"> 0"):
        CLIP((1.0, 0.0))


# -- MILP bounds ------------------------------------------------------------------------
@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize(
    "case",
    [
        "affine",
        "relu-only",
        "final-clipped",
        "width-1",
        "dead",
        "point-box",
        "some-fixed",
        "weights-span",
    ],
)
def test_milp_bounds_on_unusual_networks(case):
    rng = np.random.default_rng(17)
    lb, ub = -1.0, 1.0
    if case == "affine":
        net = ReluNetwork([dense(rng, 2, 3, LINEAR)])
    elif case == "relu-only":
        net = ReluNetwork([dense(rng, 3, 2)])
    elif case == "final-clipped":
        net = ReluNetwork([dense(rng, 4, 2), dense(rng, 3, 4, CLIP((0.1, 1.0, 1e9)))])
    elif case == "width-1":
        net = ReluNetwork(
            [
                dense(rng, 1, 2),
                DenseLayer([[1.0]], [0.0], RELU),
                DenseLayer([[2.0], [3.0]], [0, 1], LINEAR),
            ]
        )
    elif case == "dead":
        net = ReluNetwork(
            [
                DenseLayer(-np.ones((3, 2)), -5 * np.ones(3), RELU),
                dense(rng, 2, 3),
                dense(rng, 1, 2, LINEAR),
            ]
        )
    elif case == "weights-span":
        net = ReluNetwork(
            [
                DenseLayer(
                    rng.normal(size=(4, 3)) * 10.0 ** rng.uniform(-8, 6, (4, 3)), rng.normal(size=4)
                ),
                dense(rng, 1, 4, LINEAR),
            ]
        )
    else:
        net = small_net()
        lb, ub = (
            ([0, -1, 0.5], [0, 1, 0.5]) if case == "some-fixed" else ([0, -1, 0.5], [0, -1, 0.5])
        )
    lp = lp_bounds(net, lb, ub)
    mb = milp_bounds(net, lb, ub, time_limit_per_neuron=5)
    assert_same_bounds(milp_bounds(net, lb, ub, prior=lp, time_limit_per_neuron=5), mb)
    assert_sound(net, mb, box_points(lp.input_lb, lp.input_ub), "milp_bounds")
    assert_tighter(mb, lp)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("s", [1e12, 1e20, 1e100])
def test_milp_bounds_on_huge_boxes_are_sound_and_useful(s):
    """SCIP's dual bound cut off 30 % of a neuron's range on a 1e12 box, and refused 1e20 boxes
    outright."""
    rng = np.random.default_rng(0)
    net = ReluNetwork(
        [dense(rng, 6, 3, bias=1.0), dense(rng, 6, 6, bias=1.0), dense(rng, 2, 6, LINEAR, bias=0.0)]
    )
    lp = lp_bounds(net, -s, s)
    mb = milp_bounds(net, -s, s, prior=lp, time_limit_per_neuron=5)
    assert_sound(net, mb, box_points([-s] * 3, [s] * 3, n=2000, seed=1), "milp_bounds")
    assert mb.methods[1:] == ["milp", "milp"]
    ib = interval_bounds(net, -s, s)
    width = (mb.upper[2] - mb.lower[2]) / (ib.upper[2] - ib.lower[2])
    unit = milp_bounds(net, -1e6, 1e6, time_limit_per_neuron=5)
    unit_width = (unit.upper[2] - unit.lower[2]) / (
        interval_bounds(net, -1e6, 1e6).upper[2] - interval_bounds(net, -1e6, 1e6).lower[2]
    )
    np.testing.assert_allclose(
        width, unit_width, rtol=1e-3
    )  # as tight, relatively, as on a 1e6 box


# -- bounds objects -----------------------------------------------------------------------
def test_neuron_bounds_copy_pickle_and_intersect_are_independent():
    net = small_net()
    lp = lp_bounds(net, -1, 1)
    dup = lp.copy()
    with pytest.raises(ValueError, match="read-only"):
        dup.lower[0][0] = -123.0
    assert lp.lower[0][0] != -123.0
    clone = pickle.loads(pickle.dumps(lp))
    assert_same_bounds(clone, lp)
    assert clone.report.n_solves == lp.report.n_solves
    assert clone.content_key() == lp.content_key()


def test_intersect_of_bounds_over_different_boxes_keeps_the_common_box():
    """Bounds of a small box intersected with those of a large one only hold on the small box."""
    net = small_net()
    big, small = interval_bounds(net, -1, 1), interval_bounds(net, [0, 0, 0], [0.1, 0.1, 0.1])
    for out in (big.intersect(small), small.intersect(big)):
        np.testing.assert_array_equal(out.input_lb, 0.0)
        np.testing.assert_array_equal(out.input_ub, 0.1)
        assert_sound(net, out, box_points(out.input_lb, out.input_ub), "intersect")
    with pytest.raises(InfeasibleBoxError, match="do not overlap at input 0"):
        big.intersect(interval_bounds(net, [2, 0, 0], [3, 1, 1]))


def test_intersect_refuses_other_types_and_shapes():
    net = small_net()
    ib = interval_bounds(net, -1, 1)
    with pytest.raises(BoundsTypeError, match="other must be NeuronBounds, found NoneType"):
        ib.intersect(None)
    other = interval_bounds(ReluNetwork([DenseLayer(np.eye(3), np.zeros(3), RELU)]), -1, 1)
    with pytest.raises(
        ShapeMismatchError, match=r"layer sizes \[3, 4, 4, 2\] but other has \[3, 3\]"
    ):
        ib.intersect(other)


# -- bad inputs -------------------------------------------------------------------------
BAD_BOXES = [
    ("nan", [np.nan, 0, 0], 1, MissingBoundsError, r"lb\[0\] \(input 'x0'\) is nan"),
    ("inf", -np.inf, 1, MissingBoundsError, r"lb\[0\] \(input 'x0'\) is -inf"),
    ("inf-ub", -1, [1, np.inf, 1], MissingBoundsError, r"ub\[1\] \(input 'x1'\) is inf"),
    ("crossed", [0, 1, 0], [1, 0, 1], InfeasibleBoxError, r"lb\[1\] = 1.0 > ub\[1\] = 0.0"),
    ("short", [0, 0], [1, 1], ShapeMismatchError, "lb has 2 entries but the network has 3 inputs"),
    ("long", 0, [1, 1, 1, 1], ShapeMismatchError, "ub has 4 entries but the network has 3 inputs"),
    ("missing", None, 1, MissingBoundsError, "lb is missing"),
    ("text", "a", 1, MissingBoundsError, "cannot be read as numbers"),
    ("complex", [1j, 0, 0], 1, MissingBoundsError, "cannot be read as numbers"),
]


WITH_SCIP = [pytest.mark.solver, requires_scip]


@pytest.mark.parametrize(
    "fn",
    [interval_bounds, lp_bounds, pytest.param(milp_bounds, marks=WITH_SCIP)],
    ids=["interval", "lp", "milp"],
)
@pytest.mark.parametrize("name, lb, ub, exc, msg", BAD_BOXES, ids=[b[0] for b in BAD_BOXES])
def test_bad_boxes_raise_package_errors(fn, name, lb, ub, exc, msg):
    with pytest.raises(exc, match=msg) as info:
        fn(small_net(), lb, ub)
    assert isinstance(info.value, ReluError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "fn, what",
    [
        (interval_bounds, "interval_bounds"),
        (lp_bounds, "lp_bounds"),
        pytest.param(milp_bounds, "milp_bounds", marks=WITH_SCIP),
    ],
)
@pytest.mark.parametrize("net", [None, [1, 2], "net.onnx"])
def test_bounds_of_something_that_is_not_a_network(fn, what, net):
    with pytest.raises(
        NetworkTypeError, match=f"{what}: net must be a ReluNetwork, found {type(net).__name__}"
    ):
        fn(net, 0, 1)


def test_bad_boxes_for_region_counting_and_reductions():
    net = small_net()
    with pytest.raises(InfeasibleBoxError):
        count_linear_regions(net, 1, -1)
    with pytest.raises(MissingBoundsError):
        count_linear_regions(net, np.nan, 1)
    with pytest.raises(ShapeMismatchError):
        count_linear_regions(net, [0, 0], 1)
    with pytest.raises(ShapeMismatchError, match="do not match the network"):
        pr.rescale(
            net, interval_bounds(ReluNetwork([DenseLayer(np.eye(3), np.zeros(3), RELU)]), -1, 1)
        )


def harsh_network(seed: int):
    """Weights of 1e-3..1e5 per layer, large biases, caps spanning 1e-2..1e6 and boxes up to
    1e12."""
    rng = np.random.default_rng(seed)
    n_in = rng.integers(1, 4)
    sizes = [n_in, rng.integers(3, 8), rng.integers(3, 8), 1]
    layers = []
    for k in range(3):
        scale = 10.0 ** rng.uniform(-3, 5)
        if k == 2:
            act = LINEAR
        else:
            act = (
                CLIP(tuple(10.0 ** rng.uniform(-2, 6, sizes[k + 1])))
                if rng.random() < 0.3
                else RELU
            )
        layers.append(
            DenseLayer(
                rng.normal(size=(sizes[k + 1], sizes[k])) * scale,
                rng.normal(size=sizes[k + 1]) * scale * 10.0 ** rng.uniform(-1, 3),
                act,
            )
        )
    s = 10.0 ** rng.uniform(0, 12)
    centre = rng.normal(size=n_in) * s * rng.uniform(0, 1)
    return ReluNetwork(layers), centre - s, centre + s


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("seed", [1156, 1448, 1691, 1785])
def test_milp_bounds_of_badly_scaled_networks_contain_sampled_values(seed):
    """SCIP's dual bound cut off up to 13 % of a neuron's range on these networks (before or after
    the model was scaled); a bound that a forward pass exceeds is now dropped."""
    net, lb, ub = harsh_network(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeLimitWarning)
        lp = lp_bounds(net, lb, ub)
        mb = milp_bounds(net, lb, ub, prior=lp, time_limit_per_neuron=2)
    assert_sound(net, mb, box_points(lb, ub, n=4000, seed=1), "milp_bounds")
    assert_tighter(mb, lp)


def test_hand_made_bounds_without_caps_and_with_lists_answer_queries():
    """caps left empty mean plain ReLU layers (as validated_bounds reads them); lists are numbers
    too."""
    net = small_net()
    ref = lp_bounds(net, -1, 1)
    hand = NeuronBounds(
        [-1.0] * 3,
        [1.0] * 3,
        [list(lo) for lo in ref.lower],
        [list(up) for up in ref.upper],
        list(ref.methods),
    )
    for k in range(2):  # the plain ReLU layer 0 and the clipped layer 1 read as ReLU
        np.testing.assert_array_equal(hand.stable_inactive(k), ref.stable_inactive(k))
        np.testing.assert_array_equal(hand.post_bounds(k)[0], np.maximum(ref.lower[k], 0.0))
        np.testing.assert_array_equal(hand.big_m(k), ref.big_m(k))
        assert not hand.stable_saturated(k).any()
    np.testing.assert_array_equal(hand.n_binaries(0), ref.n_binaries(0))
    assert repr(hand).startswith("NeuronBounds(3 layers")
    assert_same_bounds(lp_bounds(net, -1, 1, prior=hand), ref)
