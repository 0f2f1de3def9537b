"""Edge cases of the indicators, the reductions and the network: results checked independently.

Region counts are verified by an exactness argument on the partition: the regions tile the
box, each one's interior has one activation pattern, and the patterns are distinct.  A fine
grid must not find a pattern the exact count missed.  Reductions are checked against the
original forward pass at random points and the corners of the box.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu import analysis, regions
from pyomo_relu.bounds import NeuronBounds, interval_bounds
from pyomo_relu.errors import (
    InfeasibleBoxError,
    InvalidNetworkError,
    MissingBoundsError,
    NotApplicableError,
    ReluError,
    ShapeMismatchError,
    UnknownOptionError,
)
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork
from pyomo_relu.reductions import RESCALE_RULES, prune_stable, rescale
from tests.conftest import random_network

FAST = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


# -- helpers ------------------------------------------------------------------------------
def box(net, lb, ub):
    return (
        np.broadcast_to(np.asarray(lb, float), (net.n_inputs,)).copy(),
        np.broadcast_to(np.asarray(ub, float), (net.n_inputs,)).copy(),
    )


def box_points(net, lb, ub, n=4000, seed=0):
    """Uniform points and the corners of the box."""
    lb, ub = box(net, lb, ub)
    corners = np.stack(np.meshgrid(*([0.0, 1.0],) * net.n_inputs, indexing="ij"), -1).reshape(
        -1, net.n_inputs
    )
    rng = np.random.default_rng(seed)
    return np.vstack([lb + corners * (ub - lb), lb + rng.random((n, net.n_inputs)) * (ub - lb)])


def keys(net, x):
    return {p.tobytes() for p in net.activation_patterns(x)}


def fine_grid(net, lb, ub, n):
    lb, ub = box(net, lb, ub)
    free = np.flatnonzero(ub > lb)
    y = np.stack(np.meshgrid(*[(np.arange(n) + 0.5) / n] * free.size, indexing="ij"), -1).reshape(
        -1, free.size
    )
    x = np.repeat(lb[None], len(y), 0)
    x[:, free] = lb[free] + (ub - lb)[free] * y
    return x


def verified_count(net, lb, ub):
    """Number of regions, proven by the partition (<= 2 free inputs); also checks
    count_linear_regions."""
    lb, ub = box(net, lb, ub)
    free = np.flatnonzero(ub > lb)
    part = regions.linear_partition(net, lb, ub, time_limit=None)
    assert part.complete
    rng = np.random.default_rng(0)
    seen, measure = set(), 0.0
    for v in part.vertices:
        y = (v[:, free] - lb[free]) / (ub - lb)[free]
        if free.size == 1:
            measure += float(y.max() - y.min())
        elif free.size == 2:
            measure += 0.5 * abs(
                float(np.sum(y[:, 0] * np.roll(y[:, 1], -1) - np.roll(y[:, 0], -1) * y[:, 1]))
            )
        # interior points: convex combinations pulled towards the centroid
        w = rng.dirichlet(np.ones(len(v)), size=20)
        inner = 0.9 * v.mean(axis=0) + 0.1 * (w @ v)
        pats = keys(net, inner)
        assert len(pats) == 1, "a region's interior has more than one activation pattern"
        assert not pats & seen, "two regions share an activation pattern (double counted)"
        seen |= pats
    if free.size:
        assert measure == pytest.approx(1.0, abs=1e-9), "the regions do not tile the box"
    res = analysis.count_linear_regions(net, lb, ub, method="exact", time_limit=None)
    assert res.exact and res.count == part.n_regions == len(seen)
    assert keys(net, res.points) == seen
    return part.n_regions, seen


def one_layer(w, b, act=Activation.RELU):
    w = np.atleast_2d(np.asarray(w, float))
    return ReluNetwork(
        [DenseLayer(w, b, act), DenseLayer(np.ones((1, w.shape[0])), [0.0], Activation.LINEAR)]
    )


def assert_same(new, old, x):
    y_old, y_new = old.forward(x), new.forward(x)
    scale = max(1.0, float(np.abs(y_old).max()))
    assert np.max(np.abs(y_new - y_old), initial=0.0) <= 1e-9 * scale


def assert_sound(bounds, net, x):
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]) and np.all(z <= bounds.upper[k]), f"layer {k}"


# -- network construction and forward ------------------------------------------------------------
BAD_NETWORKS = [
    (
        "unknown activation",
        lambda: Activation("relu6"),
        InvalidNetworkError,
        "unknown kind 'relu6'",
    ),
    (
        "cap not a number",
        lambda: Activation.CLIPPED_RELU("six"),
        InvalidNetworkError,
        "cap must be",
    ),
    ("empty caps", lambda: Activation.CLIPPED_RELU([]), InvalidNetworkError, "cap must be finite"),
    ("inf cap", lambda: Activation.CLIPPED_RELU(np.inf), InvalidNetworkError, "cap must be finite"),
    (
        "one layer not in a list",
        lambda: ReluNetwork(DenseLayer([[1.0]], [0.0])),
        InvalidNetworkError,
        r"wrap a single layer in a list",
    ),
    ("no layers", lambda: ReluNetwork(None), InvalidNetworkError, "found NoneType"),
    (
        "NaN weight",
        lambda: DenseLayer([[1.0, np.nan]], [0.0]),
        InvalidNetworkError,
        r"NaN or Inf .*index \[0, 1\]",
    ),
    ("inf bias", lambda: DenseLayer([[1.0]], [-np.inf]), InvalidNetworkError, "NaN or Inf"),
    (
        "1-D weights",
        lambda: DenseLayer([1.0, 2.0], [0.0]),
        ShapeMismatchError,
        "expected a 2-D array",
    ),
    (
        "empty layer",
        lambda: DenseLayer(np.zeros((0, 2)), None),
        InvalidNetworkError,
        "at least one",
    ),
    (
        "caps per neuron mismatch",
        lambda: DenseLayer(np.ones((3, 1)), None, Activation.CLIPPED_RELU((1.0, 2.0))),
        ShapeMismatchError,
        "2 caps given for 3 neurons",
    ),
    (
        "layers do not chain",
        lambda: ReluNetwork([DenseLayer(np.ones((3, 2)), None), DenseLayer(np.ones((1, 2)), None)]),
        ShapeMismatchError,
        "layer 1 expects 2 inputs",
    ),
    (
        "duplicate names",
        lambda: ReluNetwork([DenseLayer(np.ones((1, 2)), None)], input_names=["a", "a"]),
        InvalidNetworkError,
        "'a' more than once",
    ),
    (
        "too few names",
        lambda: ReluNetwork([DenseLayer(np.ones((1, 2)), None)], input_names="a"),
        ShapeMismatchError,
        "1 names for 2 values",
    ),
    (
        "from_arrays bad activation",
        lambda: ReluNetwork.from_arrays(
            [np.ones((2, 1)), np.ones((1, 2))], [np.zeros(2), np.zeros(1)], activation="tanh"
        ),
        InvalidNetworkError,
        "unknown kind 'tanh'",
    ),
    (
        "from_arrays counts",
        lambda: ReluNetwork.from_arrays([np.ones((1, 1))], []),
        ShapeMismatchError,
        "1 weight matrices but 0 bias",
    ),
]


@pytest.mark.parametrize(
    "make, error, pattern", [c[1:] for c in BAD_NETWORKS], ids=[c[0] for c in BAD_NETWORKS]
)
def test_bad_networks_raise_clear_errors(make, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        make()
    assert isinstance(info.value, ReluError)


@pytest.mark.parametrize(
    "x, pattern",
    [
        (None, "found inputs None"),
        (["a", "b"], "cannot read"),
        ([0.0, np.nan], r"input nan at index \[0, 1\] \(input 'x1'\)"),
        ([[0.0, np.inf]], "input inf"),
        (np.zeros((2, 3)), r"found \(2, 3\)"),
        (0.5, r"shape \(N, 2\)"),
    ],
)
def test_bad_forward_inputs(x, pattern):
    net = random_network((2, 3, 1), seed=0)
    for f in (net.forward, net.preactivations, net.activation_patterns):
        with pytest.raises(ShapeMismatchError, match=pattern):
            f(x)


def test_forward_overflow_is_an_error_not_inf():
    net = ReluNetwork(
        [DenseLayer([[1e200, 1e200]], [0.0]), DenseLayer([[1e200]], [0.0], Activation.LINEAR)]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(NotApplicableError, match="layer 1 overflow"):
            net.forward([1.0, 1.0])


def test_forward_shapes_and_names():
    net1 = random_network((1, 4, 2), seed=1)
    np.testing.assert_array_equal(net1.forward(0.3), net1.forward([0.3]))
    assert net1.forward(0.3).shape == (2,) and net1.forward(np.zeros((0, 1))).shape == (0, 2)
    assert ReluNetwork(net1.layers, input_names="speed").input_names == ("speed",)
    net = ReluNetwork.from_arrays(
        [np.ones((2, 1)), np.ones((1, 2))],
        [np.zeros(2), np.zeros(1)],
        output_activation="clipped_relu",
        cap=0.5,
        output_names=["y"],
    )
    assert net.output_names == ("y",) and net.layers[-1].activation == Activation.CLIPPED_RELU(0.5)
    np.testing.assert_allclose(net.forward([[1.0], [-1.0]])[:, 0], [0.5, 0.0])


# -- linear regions: exact counts verified ------------------------------------------------------
@FAST
@given(
    seed=st.integers(0, 10_000),
    d=st.sampled_from([1, 2]),
    depth=st.integers(1, 2),
    width=st.integers(1, 6),
    clipped=st.booleans(),
    relu_output=st.booleans(),
)
def test_exact_count_is_proven_by_the_partition_and_matches_a_fine_grid(
    seed, d, depth, width, clipped, relu_output
):
    net = random_network(
        (d,) + (width,) * depth + (1,), seed=seed, clipped=clipped, cap=0.6, relu_output=relu_output
    )
    count, seen = verified_count(net, -1.5, 1.5)
    grid = keys(net, fine_grid(net, -1.5, 1.5, 20_000 if d == 1 else 300))
    assert grid <= seen  # the grid finds no region the exact count missed
    samples = analysis.count_linear_regions(
        net, -1.5, 1.5, method="sample", n_samples=5_000, seed=seed
    )
    assert samples.count <= count and keys(net, samples.points) <= seen


def test_duplicate_and_parallel_neurons_are_not_double_counted():
    # rows 1-3 are one hyperplane (duplicate, scaled by 2, negated): they add one kink together
    w = np.array([[1.0, 0.5], [1.0, 0.5], [2.0, 1.0], [-1.0, -0.5], [0.3, -1.0]])
    b = np.array([0.1, 0.1, 0.2, -0.1, 0.2])
    count, _ = verified_count(one_layer(w, b), -1.0, 1.0)
    assert count == verified_count(one_layer(w[[0, 4]], b[[0, 4]]), -1.0, 1.0)[0] == 4
    # the same in 1-D and with the LP engine (3 inputs, one of them unused)
    assert verified_count(one_layer(w[:4, :1], b[:4]), -1.0, 1.0)[0] == 2
    w3 = np.hstack([w, np.zeros((5, 1))])
    assert analysis.count_linear_regions(one_layer(w3, b), -1.0, 1.0, method="exact").count == 4


def test_parallel_neuron_in_a_later_layer():
    # layer 1 repeats a neuron of layer 0 through an identity-like map: no new kink
    l0 = DenseLayer([[1.0], [-1.0]], [0.0, 0.5])
    l1 = DenseLayer([[1.0, 0.0], [2.0, 0.0]], [0.0, 0.0])
    net = ReluNetwork([l0, l1, DenseLayer([[1.0, 1.0]], [0.0], Activation.LINEAR)])
    assert verified_count(net, -1.0, 1.0)[0] == 3  # kinks at x = 0 and x = 0.5


@pytest.mark.parametrize(
    "name, net, expected",
    [
        ("no hidden layer", ReluNetwork([DenseLayer([[1.0, -1.0]], [0.2], Activation.LINEAR)]), 1),
        ("relu output only", ReluNetwork([DenseLayer([[1.0, -1.0], [1.0, 1.0]], [0.0, 0.0])]), 4),
        ("one neuron", ReluNetwork([DenseLayer([[1.0]], [0.25])]), 2),
        (
            "clipped output",
            ReluNetwork([DenseLayer([[1.0]], [0.0], Activation.CLIPPED_RELU(0.5))]),
            3,
        ),
        ("zero weights", one_layer(np.zeros((3, 2)), [0.0, 1.0, -1.0]), 1),
    ],
)
def test_hand_built_counts(name, net, expected):
    assert verified_count(net, -1.0, 1.0)[0] == expected


def test_dead_and_always_active_layers_add_no_region():
    net = random_network((2, 5, 4, 1), seed=1)
    l0, l1, l2 = net.layers
    first = verified_count(
        ReluNetwork([l0, DenseLayer(np.ones((1, 5)), [0.0], Activation.LINEAR)]), -1, 1
    )[0]
    dead = ReluNetwork([l0, DenseLayer(l1.weights, l1.bias - 100.0), l2])
    active = ReluNetwork([l0, DenseLayer(l1.weights, l1.bias + 100.0), l2])
    assert verified_count(dead, -1, 1)[0] == verified_count(active, -1, 1)[0] == first
    assert analysis.stable_fraction(interval_bounds(dead, -1, 1)).layers[1].inactive == 4
    assert analysis.stable_fraction(interval_bounds(active, -1, 1)).layers[1].active == 4


def fold_fixed(net, lb, ub):
    """The same network as a function of its free inputs only (fixed inputs folded into the
    bias)."""
    free = np.flatnonzero(ub > lb)
    l0 = net.layers[0]
    first = DenseLayer(
        l0.weights[:, free], l0.bias + l0.weights @ np.where(ub > lb, 0.0, lb), l0.activation
    )
    return ReluNetwork([first, *net.layers[1:]]), lb[free], ub[free]


@pytest.mark.parametrize("fixed", [(1, 3), (0, 1, 2)])
def test_fixed_inputs_count_exactly_in_the_free_ones(fixed):
    net = random_network((4, 8, 6, 1), seed=2)
    lb, ub = np.full(4, -1.0), np.full(4, 1.0)
    lb[list(fixed)] = ub[list(fixed)] = [0.3, 0.2, -0.4][: len(fixed)]
    count, _ = verified_count(net, lb, ub)
    small, slb, sub = fold_fixed(net, lb, ub)
    assert count == verified_count(small, slb, sub)[0]
    assert analysis.count_linear_regions(net, lb, ub).exact  # "auto" is exact for 2 free of 4


def test_three_inputs_lp_engine_against_grid():
    net = random_network((3, 6, 4, 1), seed=2, clipped=True, cap=0.8)
    res = analysis.count_linear_regions(net, -1.0, 1.0, method="exact")
    found = keys(net, res.points)
    assert res.exact and len(found) == res.count
    assert keys(net, fine_grid(net, -1.0, 1.0, 60)) <= found


@pytest.mark.parametrize("width", [1e-9, 1e6])
def test_tiny_and_huge_boxes_match_the_unit_box_after_an_affine_change(width):
    net = random_network((2, 8, 6, 1), seed=4)
    centre = np.array([0.05, -0.1])
    lb, ub = centre - width / 2, centre + width / 2
    # g(y) = net(lb + width * y) on the unit box has the same regions
    l0 = net.layers[0]
    g = ReluNetwork([DenseLayer(l0.weights * width, l0.bias + l0.weights @ lb), *net.layers[1:]])
    res = analysis.count_linear_regions(net, lb, ub, method="exact")
    count = res.count
    assert count == analysis.count_linear_regions(g, 0.0, 1.0, method="exact").count
    # the regions near the kinks' crossings are thinner than 1e-7 of a 1e6 box: counted by the
    # 1e3 box, missed by the 1e6 box, whose count must then say it is a lower bound
    assert res.exact == (width < 1)
    if width > 1:
        assert (
            count
            < analysis.count_linear_regions(net, centre - 500, centre + 500, method="exact").count
        )
    found = keys(net, res.points)
    assert len(found) == count and keys(net, fine_grid(net, lb, ub, 200)) <= found
    if width < 1:
        assert count == 1  # no kink passes within 1e-9 of this centre
        # a box of 1e-9 around a point on neuron 0's kink is split in two
        w, b = l0.weights[0], l0.bias[0]
        on_kink = -b * w / (w @ w)
        assert verified_count(net, on_kink - width, on_kink + width)[0] == 2


def test_huge_and_tiny_weights_keep_the_regions():
    net = random_network((2, 6, 5, 1), seed=3)
    l0, l1, l2 = net.layers
    # relu(c z) = c relu(z): the regions do not change
    scaled = ReluNetwork(
        [DenseLayer(l0.weights * 1e6, l0.bias * 1e6), DenseLayer(l1.weights * 1e-6, l1.bias), l2]
    )
    assert verified_count(scaled, -1, 1)[1] == verified_count(net, -1, 1)[1]


# -- linear regions: options and bad input ------------------------------------------------------
def test_time_limit_and_max_regions_flag_partial_results():
    net = random_network((2, 12, 12, 1), seed=1)
    full = analysis.count_linear_regions(net, -2.0, 2.0, method="exact")
    assert full.exact and full.count > 20
    part = analysis.count_linear_regions(net, -2.0, 2.0, method="exact", time_limit=0.0)
    assert (
        not part.exact
        and part.count < full.count
        and "time limit" in part.note
        and "lower bound" in part.note
    )
    capped = analysis.count_linear_regions(net, -2.0, 2.0, method="exact", max_regions=10)
    assert (
        not capped.exact
        and capped.count == 10
        and len(capped.points) == 10
        and "max_regions=10" in capped.note
    )
    enough = analysis.count_linear_regions(net, -2.0, 2.0, method="exact", max_regions=full.count)
    assert enough.exact and enough.count == full.count
    auto = analysis.count_linear_regions(net, -2.0, 2.0, max_regions=3, n_samples=2_000)
    assert not auto.exact and auto.count >= 3 and "max_regions=3" in auto.note
    part = regions.linear_partition(net, -2.0, 2.0, max_regions=5)
    assert not part.complete and part.n_regions == 5
    assert regions.linear_partition(net, -2.0, 2.0, max_regions=full.count).complete


def test_sampling_respects_the_time_limit_instead_of_hanging():
    net = random_network((3, 10, 1), seed=0)
    t0 = time.perf_counter()
    res = analysis.count_linear_regions(
        net, -1.0, 1.0, method="sample", n_samples=10**12, time_limit=0.0
    )
    assert time.perf_counter() - t0 < 5.0
    assert not res.exact and "time limit" in res.note and res.count >= 1
    grid = analysis.count_linear_regions(
        net, -1.0, 1.0, method="grid", n_samples=10**12, time_limit=0.0
    )
    assert not grid.exact and grid.count >= 1


def test_sampled_counts_are_seeded():
    net = random_network((3, 8, 8, 1), seed=2)
    runs = [
        analysis.count_linear_regions(net, -1.0, 1.0, method="sample", n_samples=3_000, seed=s)
        for s in (7, 7, 8)
    ]
    assert runs[0].count == runs[1].count and np.array_equal(runs[0].points, runs[1].points)
    assert not np.array_equal(runs[0].points, runs[2].points)
    assert "3000 uniform random points" in runs[0].note
    assert analysis.count_linear_regions(net, -1.0, 1.0, method="sample", n_samples=1e3).count >= 1
    point = analysis.count_linear_regions(net, 0.2, 0.2, method="grid", n_samples=100)
    assert point.count == 1 and point.points.shape == (1, 3)


BAD_COUNT_OPTIONS = [
    (dict(n_samples=0), UnknownOptionError, "n_samples must be an integer >= 1, found 0"),
    (dict(n_samples=2.5), UnknownOptionError, "n_samples"),
    (dict(n_samples="many"), UnknownOptionError, "n_samples"),
    (dict(n_samples=float("nan")), UnknownOptionError, "n_samples"),
    (dict(seed=-1), UnknownOptionError, "seed must be an integer >= 0"),
    (dict(seed="abc"), UnknownOptionError, "seed"),
    (dict(time_limit=-1.0), UnknownOptionError, "time_limit must be a number of seconds >= 0"),
    (dict(time_limit=float("nan")), UnknownOptionError, "time_limit"),
    (dict(time_limit="10"), UnknownOptionError, "time_limit"),
    (dict(max_regions=0), UnknownOptionError, "max_regions must be an integer >= 1 or None"),
    (dict(method="Exact"), UnknownOptionError, "method='Exact'"),
    (dict(lb=[-1.0, np.nan]), MissingBoundsError, r"lb\[1\]"),
    (dict(ub=np.inf), MissingBoundsError, r"ub\[0\] .* is inf"),
    (dict(lb=[1.0, 0.0], ub=[0.0, 1.0]), InfeasibleBoxError, r"lb\[0\] = 1.0 > ub\[0\] = 0.0"),
    (dict(lb=[0.0] * 3), ShapeMismatchError, "3 entries but the network has 2 inputs"),
    (dict(lb=-1e308, ub=1e308), NotApplicableError, "width overflows float64"),
    (dict(net=None), pr.ReluError, "net must be a ReluNetwork, found NoneType"),
    (dict(bounds="interval"), MissingBoundsError, "bounds must be NeuronBounds, found str"),
]


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [c for c in BAD_COUNT_OPTIONS],
    ids=[str(sorted(c[0])) + str(i) for i, c in enumerate(BAD_COUNT_OPTIONS)],
)
def test_bad_count_arguments(kwargs, error, pattern):
    args = dict(net=random_network((2, 4, 1), seed=0), lb=-1.0, ub=1.0) | kwargs
    net, lb, ub = args.pop("net"), args.pop("lb"), args.pop("ub")
    with pytest.raises(error, match=pattern) as info:
        analysis.count_linear_regions(net, lb, ub, **args)
    assert isinstance(info.value, ReluError)
    if set(kwargs) & {"time_limit", "max_regions"}:  # linear_partition takes these two options too
        with pytest.raises(UnknownOptionError):
            regions.linear_partition(net, lb, ub, **args)


def test_wrong_types_are_also_type_errors():
    net = random_network((2, 4, 1), seed=0)
    b = interval_bounds(net, -1, 1)
    for call in (
        lambda: analysis.count_linear_regions(net, -1, 1, bounds=[b]),
        lambda: rescale(net, None),
        lambda: prune_stable(net, "b"),
        lambda: analysis.stable_fraction(net),
        lambda: analysis.big_m_report(None),
        lambda: rescale(None, b),
        lambda: regions.linear_partition("net", -1, 1),
    ):
        with pytest.raises(TypeError) as info:
            call()
        assert isinstance(info.value, ReluError)


def shifted(net, delta):
    l0 = net.layers[0]
    return ReluNetwork([DenseLayer(l0.weights, l0.bias + delta), *net.layers[1:]])


def test_bounds_of_another_network_are_caught():
    net = random_network((2, 8, 6, 1), seed=4)
    wrong = interval_bounds(
        shifted(net, -5.0), -1, 1
    )  # same shape, every first-layer neuron "dead"
    with pytest.raises(ShapeMismatchError, match="layer 0 neuron .* pre-activation at input"):
        analysis.count_linear_regions(net, -1, 1, bounds=wrong)
    with pytest.raises(ShapeMismatchError, match="another network"):
        prune_stable(net, wrong)
    with pytest.raises(ShapeMismatchError, match="do not match the network"):
        analysis.count_linear_regions(
            net, -1, 1, bounds=interval_bounds(random_network((2, 5, 1)), -1, 1)
        )
    # bounds of a larger box are fine; of a smaller one are not
    assert analysis.count_linear_regions(net, -1, 1, bounds=interval_bounds(net, -2, 2)).exact
    with pytest.raises(MissingBoundsError, match="does not contain"):
        analysis.count_linear_regions(net, -1, 1, bounds=interval_bounds(net, -0.5, 0.5))
    # bounds tightened with a model's constraints hold on its feasible set only: not spot-checked
    model = wrong.replace(provenance=["lp-model"] * 3)
    assert prune_stable(net, model).network.n_layers >= 1


# -- stable neurons and big-M statistics -------------------------------------------------------
@FAST
@given(
    seed=st.integers(0, 10_000),
    n_in=st.integers(1, 3),
    width=st.integers(1, 8),
    shift=st.sampled_from([0.0, -3.0, 3.0]),
)
def test_first_layer_stability_matches_the_corners(seed, n_in, width, shift):
    # interval bounds of the first layer are attained at corners of the box
    net = shifted(random_network((n_in, width, 3, 1), seed=seed), shift)
    b = interval_bounds(net, -1.0, 1.0)
    rep, bm = analysis.stable_fraction(b), analysis.big_m_report(b)
    z = net.preactivations(box_points(net, -1.0, 1.0, n=0))[0]
    inactive, active = np.all(z <= 0, axis=0), np.all(z >= 0, axis=0) & ~np.all(z <= 0, axis=0)
    s = rep.layers[0]
    assert (s.inactive, s.active, s.saturated) == (int(inactive.sum()), int(active.sum()), 0)
    assert s.stable + bm.layers[0].n_unstable == width == bm.layers[0].n_binaries + s.stable
    assert 0.0 <= rep.fraction <= 1.0 and rep.n == width + 3
    if bm.layers[0].n_unstable:
        m = np.max(np.abs(z[:, ~(inactive | active)]), axis=0)
        assert bm.layers[0].m_max == pytest.approx(m.max(), rel=1e-12)


def test_zero_neuron_counted_once_and_relu_output_layer_counted():
    net = ReluNetwork([DenseLayer([[0.5], [1.0]], [-2.0, 0.0]), DenseLayer([[1.0, 1.0]], [0.5])])
    rep = analysis.stable_fraction(interval_bounds(net, -1.0, 1.0))
    assert [s.layer for s in rep.layers] == [0, 1]  # the ReLU output layer is piecewise too
    assert (rep.layers[0].inactive, rep.layers[0].stable) == (1, 1)
    assert rep.layers[1].active == 1 and rep.n == 3 and rep.n_stable == 2
    # l = u = 0 is both "inactive" and "on the linear piece": counted once, as inactive
    zero = NeuronBounds(
        np.zeros(1), np.ones(1), [np.zeros(2)], [np.array([0.0, 1.0])], ["interval"]
    )
    s = analysis.stable_fraction(zero).layers[0]
    assert (s.inactive, s.active, s.stable) == (1, 1, 2)
    assert analysis.big_m_report(zero).n_binaries == 0


def test_zero_row_neuron_is_stable_under_interval_bounds():
    net = one_layer(np.zeros((1, 2)), [0.0])
    assert analysis.stable_fraction(interval_bounds(net, -1.0, 1.0)).fraction == 1.0


def test_hand_made_bounds_are_validated():
    ok = NeuronBounds(
        np.zeros(1), np.ones(1), [[-1.0, 2.0]], [[1.0, 3.0]], ["milp"]
    )  # lists, no caps
    assert analysis.stable_fraction(ok).n_stable == 1 and analysis.big_m_report(ok).n_binaries == 1
    inf = NeuronBounds(
        np.zeros(1), np.ones(1), [np.array([-np.inf])], [np.array([np.inf])], ["interval"]
    )
    assert analysis.big_m_report(inf).total.ratio == np.inf
    # bounds that are not consistent in themselves are refused when they are built,
    # before any indicator reads them
    one = (np.zeros(1), np.ones(1))
    cases = [
        (([np.array([np.nan])], [np.array([1.0])], ["interval"]), MissingBoundsError, "NaN"),
        (
            ([np.array([2.0])], [np.array([1.0])], ["interval"]),
            InfeasibleBoxError,
            "lower bound 2.0 > upper bound 1.0",
        ),
        (([np.array([0.0])], [np.array([1.0])], []), ShapeMismatchError, "'methods': 0"),
        (
            ([np.array([0.0, 1.0])], [np.array([1.0])], ["interval"]),
            ShapeMismatchError,
            "2 lower, 1 upper",
        ),
    ]
    for args, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            NeuronBounds(*one, *args)


# -- rescale and prune_stable ----------------------------------------------------------------------
edge_nets = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "sizes": st.sampled_from([(1, 1), (2, 1, 1), (2, 5, 1), (3, 4, 4, 2), (2, 6, 3, 6, 1)]),
        "clipped": st.booleans(),
        "relu_output": st.booleans(),
        "edit": st.sampled_from(
            ["none", "zero_row", "duplicate", "dead", "active", "huge", "tiny"]
        ),
        "box": st.sampled_from(["unit", "tiny", "huge", "fixed"]),
    }
)


def edge_case(case):
    net = random_network(
        case["sizes"],
        seed=case["seed"],
        clipped=case["clipped"],
        cap=0.7,
        relu_output=case["relu_output"],
    )
    layers = list(net.layers)
    w, b = np.array(layers[0].weights), np.array(layers[0].bias)
    edit = case["edit"]
    if edit == "zero_row":
        w[0], b[0] = 0.0, 0.0
    elif edit == "duplicate" and len(w) > 1:
        w[1], b[1] = 2.0 * w[0], 2.0 * b[0]
    elif edit in ("dead", "active"):
        b += -100.0 if edit == "dead" else 100.0
    elif edit in ("huge", "tiny") and len(layers) > 1:
        c = 1e6 if edit == "huge" else 1e-6
        w, b = w * c, b * c
        layers[1] = DenseLayer(layers[1].weights / c, layers[1].bias, layers[1].activation)
    if (
        layers[0].activation.kind.value == "clipped_relu"
        and edit in ("huge", "tiny")
        and len(layers) > 1
    ):
        w, b = np.array(layers[0].weights), np.array(layers[0].bias)  # the cap does not scale: undo
        layers[1] = net.layers[1]
    layers[0] = DenseLayer(w, b, layers[0].activation)
    net = ReluNetwork(layers)
    n = net.n_inputs
    lb, ub = {
        "unit": (-np.ones(n), np.ones(n)),
        "tiny": (np.full(n, 0.3), np.full(n, 0.3 + 1e-9)),
        "huge": (np.full(n, -1e6), np.full(n, 1e6)),
        "fixed": (np.r_[-1.0, np.full(n - 1, 0.25)], np.r_[1.0, np.full(n - 1, 0.25)]),
    }[case["box"]]
    return net, lb, ub


@FAST
@given(case=edge_nets)
def test_rescale_and_prune_keep_the_function_on_edge_networks(case):
    net, lb, ub = edge_case(case)
    bounds = interval_bounds(net, lb, ub)
    x = box_points(net, lb, ub, n=2000, seed=case["seed"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow or division warnings either
        for rule in RESCALE_RULES:
            scaled = rescale(net, bounds, rule=rule)
            assert_same(scaled.network, net, x)
            assert_sound(scaled.bounds, scaled.network, x)
            assert all(np.all(np.isfinite(c) & (c > 0)) for c in scaled.factors)
        pruned = prune_stable(net, bounds)
    assert_same(pruned.network, net, x)
    assert_sound(pruned.bounds, pruned.network, x)
    assert pruned.network.n_piecewise_neurons <= net.n_piecewise_neurons
    again = prune_stable(pruned.network, pruned.bounds)  # idempotent: nothing left to remove
    assert again.n_constant == 0 and again.network.layer_sizes == pruned.network.layer_sizes


def test_prune_all_dead_network_is_constant_and_exact():
    net = shifted(random_network((3, 6, 4, 2), seed=5), -50.0)
    pruned = prune_stable(net, interval_bounds(net, -1.0, 1.0))
    assert pruned.network.layer_sizes == (3, 2) and pruned.network.n_piecewise_neurons == 0
    x = box_points(net, -1.0, 1.0)
    np.testing.assert_array_equal(pruned.network.forward(x), net.forward(x))


def test_row_norm_with_huge_weights_does_not_overflow():
    net = random_network((2, 4, 1), seed=0)
    l0, l1 = net.layers
    big = ReluNetwork(
        [
            DenseLayer(l0.weights * 1e200, l0.bias * 1e200),
            DenseLayer(l1.weights * 1e-200, l1.bias, Activation.LINEAR),
        ]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = rescale(big, interval_bounds(big, -1, 1), rule="row_norm")
    norms = np.sqrt(
        (scaled.network.layers[0].weights ** 2).sum(axis=1) + scaled.network.layers[0].bias ** 2
    )
    np.testing.assert_allclose(norms, 1.0, rtol=1e-12)
    assert_same(scaled.network, big, box_points(big, -1, 1))


def test_tightened_bounds_give_the_same_count_and_pass_the_spot_check():
    net = random_network((2, 8, 8, 1), seed=6, clipped=True, cap=0.9)
    tight = pr.lp_bounds(net, -1.0, 1.0)
    res = analysis.count_linear_regions(net, -1.0, 1.0, method="exact", bounds=tight)
    assert res.exact and res.count == verified_count(net, -1.0, 1.0)[0]
    assert "lp" in res.note
    pruned = prune_stable(net, tight)
    assert_same(pruned.network, net, box_points(net, -1.0, 1.0))
