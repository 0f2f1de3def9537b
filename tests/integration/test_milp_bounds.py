"""MILP bound tightening with SCIP: soundness, exactness on tiny networks, tighter than LP."""

import itertools

import numpy as np
import pytest

pytest.importorskip("pyscipopt")

from pyomo_relu.bounds.interval import interval_bounds  # noqa: E402
from pyomo_relu.bounds.lp import lp_bounds  # noqa: E402
from pyomo_relu.bounds.milp import milp_bounds  # noqa: E402
from pyomo_relu.errors import InfeasibleBoxError  # noqa: E402
from tests.unit.test_lp_bounds import make_net  # noqa: E402  (one generator for both files)

pytestmark = pytest.mark.solver


def grid(lb, ub, n):
    axes = [np.linspace(lo, up, n) for lo, up in zip(lb, ub)]
    return np.array(list(itertools.product(*axes)))


CASES = [  # (sizes, seed, clipped, points per axis, grid tolerance)
    ([1, 8, 8, 1], 0, False, 200_001, 1e-3),
    ([1, 8, 8, 1], 1, True, 200_001, 1e-3),
    ([2, 6, 6, 1], 2, False, 501, 2e-2),
    ([2, 6, 6, 1], 3, True, 501, 2e-2),
]


@pytest.mark.parametrize("sizes, seed, clipped, n, tol", CASES)
def test_milp_bounds_are_exact_on_tiny_networks(sizes, seed, clipped, n, tol):
    net = make_net(sizes, seed, clipped=clipped, cap=0.7)
    lb, ub = -np.ones(sizes[0]), np.ones(sizes[0])
    lp = lp_bounds(net, lb, ub)
    mb = milp_bounds(net, lb, ub, prior=interval_bounds(net, lb, ub), time_limit_per_neuron=60.0)
    assert mb.report.n_time_limited == 0
    ib = interval_bounds(net, lb, ub)
    x = grid(lb, ub, n)
    for k, z in enumerate(net.preactivations(x)):
        z_max, z_min = z.max(axis=0), z.min(axis=0)
        assert np.all(z_max <= mb.upper[k]) and np.all(z_min >= mb.lower[k]), f"layer {k} cut off"
        # where MILP was solved, it is at least as tight as LP (up to SCIP's padding)
        pad = 1e-4 * (1 + np.abs(lp.upper[k]))
        assert np.all(mb.upper[k] <= lp.upper[k] + pad)
        assert np.all(mb.lower[k] >= lp.lower[k] - pad) or k < net.n_layers - 1
        # and equal to the exact range (the dense sample's extremes) for the neurons it tightened
        # (unstable under the prior) that can be active (the minimum of never-active ones is
        # skipped)
        active = (z_max > 0) & ib.unstable(k) if k < net.n_layers - 1 else np.ones_like(z_max, bool)
        np.testing.assert_array_less((mb.upper[k] - z_max)[active], tol)
        if k == net.n_layers - 1:
            np.testing.assert_array_less(z_min - mb.lower[k], tol)
    out = net.n_layers - 1
    width = lambda b: float(b.upper[out][0] - b.lower[out][0])  # noqa: E731
    assert width(mb) < width(lp) - 1e-2, "MILP should beat LP on the output's range"


def test_milp_bounds_sound_by_sampling_and_default_prior_is_lp():
    net = make_net([3, 10, 10, 2], seed=4)
    lb, ub = -np.ones(3), np.array([1.0, 0.5, 2.0])
    lp = lp_bounds(net, lb, ub)
    mb = milp_bounds(net, lb, ub, time_limit_per_neuron=20.0)
    rng = np.random.default_rng(0)
    x = np.vstack([rng.uniform(lb, ub, size=(100_000, 3)), grid(lb, ub, 2)])
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z <= mb.upper[k]) and np.all(z >= mb.lower[k])
        assert np.all(mb.upper[k] <= lp.upper[k]) and np.all(mb.lower[k] >= lp.lower[k])
    assert mb.methods[1:] == ["milp", "milp"]
    assert "MILP" in str(mb.report)


def test_milp_time_limit_gives_valid_bound_and_infeasible_raises():
    net = make_net([2, 12, 12, 1], seed=5)
    lb, ub = -np.ones(2), np.ones(2)
    ib = interval_bounds(net, lb, ub)
    mb = milp_bounds(net, lb, ub, prior=ib, time_limit_per_neuron=0.01)
    x = np.random.default_rng(1).uniform(lb, ub, size=(50_000, 2))
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z <= mb.upper[k]) and np.all(z >= mb.lower[k])
        assert np.all(mb.upper[k] <= ib.upper[k])
    with pytest.raises(InfeasibleBoxError):
        milp_bounds(net, lb, ub, prior=ib, extra_constraints=(np.array([[1.0, -1.0]]), 2.5, np.inf))


def test_milp_workers_match_serial():
    net = make_net([2, 6, 6, 1], seed=6)
    serial = milp_bounds(net, -1, 1)
    parallel = milp_bounds(net, -1, 1, workers=2)
    for k in range(net.n_layers):
        np.testing.assert_allclose(parallel.upper[k], serial.upper[k], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(parallel.lower[k], serial.lower[k], rtol=1e-6, atol=1e-6)
