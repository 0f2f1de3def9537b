"""Linear-region counting: hand-built networks with known counts and brute-force comparisons."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pyomo_relu import analysis
from pyomo_relu.bounds import interval_bounds
from pyomo_relu.errors import MissingBoundsError, UnknownOptionError
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork
from pyomo_relu.regions.enumerate import _count_exact
from tests.conftest import random_network


def one_layer(w, b, act=Activation.RELU):
    w = np.atleast_2d(np.asarray(w, dtype=float))
    return ReluNetwork(
        [
            DenseLayer(w, b, act, name="hidden"),
            DenseLayer(np.ones((1, w.shape[0])), [0.0], Activation.LINEAR, name="out"),
        ]
    )


def patterns(net, points):
    return {p.tobytes() for p in net.activation_patterns(points)}


def exact(net, lb, ub, **kw):
    res = analysis.count_linear_regions(net, lb, ub, method="exact", **kw)
    assert res.exact and res.method == "exact"
    return res


def engines(net, lb, ub):
    lb, ub = (
        np.broadcast_to(np.asarray(lb, float), (net.n_inputs,)),
        np.broadcast_to(np.asarray(ub, float), (net.n_inputs,)),
    )
    b = interval_bounds(net, lb, ub)
    return [_count_exact(net, lb, ub, b, np.inf, engine=e) for e in ("polygon", "lp")]


# -- hand-built networks --------------------------------------------------------------
def test_abs_has_two_regions():
    net = one_layer([[1.0], [-1.0]], [0.0, 0.0])  # |x| = relu(x) + relu(-x)
    assert exact(net, -1.0, 1.0).count == 2
    assert exact(net, 0.25, 1.0).count == 1  # the kink is outside this box


@pytest.mark.parametrize("n", [1, 3, 8])
def test_n_kinks_in_one_dimension(n):
    kinks = np.linspace(-0.9, 0.9, n)
    signs = np.where(np.arange(n) % 2, 1.0, -1.0)  # both orientations
    net = one_layer(signs[:, None], -signs * kinks)
    assert exact(net, -1.0, 1.0).count == n + 1
    # kinks outside the box add nothing; two neurons sharing a kink add one region
    assert exact(net, -1.0, kinks[0] - 0.05).count == 1
    twin = one_layer([[1.0], [2.0], [1.0]], [0.0, 0.0, -0.5])
    assert exact(twin, -1.0, 1.0).count == 3


def test_two_layers_in_one_dimension():
    # a1 + a2 = |x|, then relu(|x| - 0.5): kinks at -0.5, 0, 0.5
    net = ReluNetwork(
        [
            DenseLayer([[1.0], [-1.0]], [0.0, 0.0]),
            DenseLayer([[1.0, 1.0]], [-0.5]),
            DenseLayer([[1.0]], [0.0], Activation.LINEAR),
        ]
    )
    res = exact(net, -1.0, 1.0)
    assert res.count == 4
    assert len(patterns(net, res.points)) == 4


def test_clipped_relu_has_three_pieces():
    net = one_layer([[1.0]], [0.0], Activation.CLIPPED_RELU(0.5))
    assert exact(net, -1.0, 1.0).count == 3
    assert exact(net, -1.0, 0.25).count == 2
    assert exact(net, 0.75, 1.0).count == 1  # saturated only


def lines_in_box(k, seed):
    """k random lines n.x = c crossing [-1, 1]^2 and the number of their crossings inside the
    box."""
    rng = np.random.default_rng(seed)
    theta = rng.uniform(0, np.pi, k)
    normals = np.c_[np.cos(theta), np.sin(theta)]
    offsets = rng.uniform(-0.8, 0.8, k)
    inside = 0
    for i, j in itertools.combinations(range(k), 2):
        p = np.linalg.solve(normals[[i, j]], offsets[[i, j]])
        inside += bool(np.all(np.abs(p) < 1.0))
    return normals, offsets, inside


@pytest.mark.parametrize("k,seed", [(1, 0), (4, 1), (9, 2), (16, 3)])
def test_lines_in_general_position(k, seed):
    normals, offsets, inside = lines_in_box(k, seed)
    net = one_layer(normals, -offsets)
    expected = 1 + k + inside
    for count, points, complete, _, resolved in engines(net, -1.0, 1.0):
        assert complete and resolved and count == expected
        assert len(patterns(net, points)) == expected


def test_linear_network_and_point_box():
    lin = ReluNetwork([DenseLayer([[1.0, -1.0]], [0.3], Activation.LINEAR)])
    assert exact(lin, -1.0, 1.0).count == 1
    net = random_network((2, 6, 1), seed=0)
    res = exact(net, [0.2, -0.1], [0.2, -0.1])
    assert res.count == 1 and res.points.shape == (1, 2)


def test_fixed_input_reduces_the_dimension():
    normals, offsets, _ = lines_in_box(6, 5)
    net = one_layer(normals, -offsets)
    # along y = 0.1 each line is one kink in x (if it crosses the segment)
    kinks = (offsets - normals[:, 1] * 0.1) / normals[:, 0]
    expected = 1 + len(np.unique(np.round(kinks[np.abs(kinks) < 1.0], 12)))
    assert exact(net, [-1.0, 0.1], [1.0, 0.1]).count == expected


# -- random networks: exact against brute force ---------------------------------------------
def test_one_dimensional_exact_equals_fine_grid():
    for seed in range(4):
        net = random_network((1, 6, 6, 1), seed=seed)
        res = exact(net, -2.0, 2.0)
        grid = analysis.count_linear_regions(net, -2.0, 2.0, method="grid", n_samples=200_000)
        assert grid.count == res.count
        assert patterns(net, grid.points) == patterns(net, res.points)


def test_two_dimensional_exact_against_grid_and_samples():
    for seed, sizes in [(0, (2, 5, 5, 1)), (1, (2, 8, 4, 1)), (2, (2, 4, 4, 4, 1))]:
        net = random_network(sizes, seed=seed)
        res = exact(net, -1.5, 1.5)
        found = patterns(net, res.points)
        assert len(found) == res.count  # one interior point per region, all patterns distinct
        grid = analysis.count_linear_regions(net, -1.5, 1.5, method="grid", n_samples=1_000_000)
        sample = analysis.count_linear_regions(
            net, -1.5, 1.5, method="sample", n_samples=50_000, seed=seed
        )
        assert not grid.exact and not sample.exact
        assert patterns(net, grid.points) <= found and patterns(net, sample.points) <= found
        assert sample.count <= grid.count <= res.count
        assert grid.count == res.count  # no region of these nets is thinner than the grid spacing


@pytest.mark.parametrize(
    "sizes,seed,clipped",
    [((2, 10, 10, 1), 0, False), ((2, 6, 6, 1), 3, True), ((1, 5, 5, 1), 4, True)],
)
def test_polygon_and_lp_engines_agree(sizes, seed, clipped):
    net = random_network(sizes, seed=seed, clipped=clipped, cap=0.7)
    (cp, pp, okp, _, rp), (cl, pl, okl, _, rl) = engines(net, -1.0, 1.0)
    assert okp and okl and rp and rl and cp == cl
    assert patterns(net, pp) == patterns(net, pl)
    assert len(patterns(net, pp)) == cp


@pytest.mark.parametrize("sizes,seed,clipped", [((3, 6, 5, 1), 0, False), ((3, 5, 4, 1), 1, True)])
def test_lp_engine_in_three_dimensions(sizes, seed, clipped):
    net = random_network(sizes, seed=seed, clipped=clipped, cap=0.6)
    res = exact(net, -1.0, 1.0)
    found = patterns(net, res.points)
    assert len(found) == res.count
    sample = analysis.count_linear_regions(net, -1.0, 1.0, method="sample", n_samples=50_000)
    assert patterns(net, sample.points) <= found and sample.count <= res.count


def test_tighter_or_wider_bounds_give_the_same_count():
    net = random_network((2, 8, 8, 1), seed=7)
    base = exact(net, -1.0, 1.0).count
    assert exact(net, -1.0, 1.0, bounds=interval_bounds(net, -3.0, 3.0)).count == base
    with pytest.raises(MissingBoundsError, match="does not contain"):
        analysis.count_linear_regions(net, -1.0, 1.0, bounds=interval_bounds(net, -0.5, 1.0))


# -- options ----------------------------------------------------------------------------
def test_time_limit_gives_a_lower_bound():
    net = random_network((2, 30, 30, 1), seed=1)
    full = exact(net, -2.0, 2.0).count
    part = analysis.count_linear_regions(net, -2.0, 2.0, method="exact", time_limit=0.0)
    assert not part.exact and part.count < full and "time limit" in part.note


def test_auto_picks_exact_in_two_dimensions_and_samples_in_many():
    net2 = random_network((2, 6, 1), seed=0)
    assert analysis.count_linear_regions(net2, -1.0, 1.0).exact
    net8 = random_network((8, 40, 40, 1), seed=0)
    res = analysis.count_linear_regions(net8, -1.0, 1.0, n_samples=2_000)
    assert res.method == "sample" and not res.exact and 1 <= res.count <= 2_000


def test_auto_falls_back_to_sampling_on_timeout():
    net = random_network((2, 30, 30, 1), seed=1)
    res = analysis.count_linear_regions(net, -2.0, 2.0, time_limit=0.0, n_samples=5_000)
    assert not res.exact and "time limit" in res.note and res.count >= 1


def test_sampling_is_seeded_and_bad_options_raise():
    net = random_network((2, 8, 8, 1), seed=2)
    a = analysis.count_linear_regions(net, -1.0, 1.0, method="sample", n_samples=3_000, seed=5)
    b = analysis.count_linear_regions(net, -1.0, 1.0, method="sample", n_samples=3_000, seed=5)
    assert a.count == b.count and np.array_equal(a.points, b.points)
    with pytest.raises(UnknownOptionError, match="method='magic'"):
        analysis.count_linear_regions(net, -1.0, 1.0, method="magic")
    with pytest.raises(UnknownOptionError, match="n_samples"):
        analysis.count_linear_regions(net, -1.0, 1.0, method="sample", n_samples=0)


def test_region_count_reports():
    res = exact(random_network((2, 4, 1), seed=0), -1.0, 1.0)
    d = res.to_dict()
    assert set(d) == {"count", "exact", "method", "time", "note"} and d["count"] == res.count
    assert "linear regions (exact" in str(res)


# -- pictures ---------------------------------------------------------------------------
def test_region_and_bound_plots(tmp_path):
    from pyomo_relu import plots
    from pyomo_relu.errors import ShapeMismatchError

    png = b"\x89PNG\r\n\x1a\n"
    net1 = random_network((1, 6, 6, 1), seed=0, clipped=True, cap=0.8)
    path = plots.plot_regions_2d(net1, -2.0, 2.0, tmp_path / "r1.png", resolution=300)
    assert path.read_bytes()[:8] == png
    path = plots.plot_bounds(interval_bounds(net1, -2.0, 2.0), tmp_path / "b.png")
    assert path.read_bytes()[:8] == png
    with pytest.raises(ShapeMismatchError, match="3 free inputs"):
        plots.plot_regions_2d(random_network((3, 4, 1)), -1.0, 1.0, tmp_path / "r3.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.plot_bounds(interval_bounds(net1, -2.0, 2.0), tmp_path / "missing" / "b.png")
