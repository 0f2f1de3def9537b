"""Linear regions below the enumeration's resolution, and bounds that do not hold on the whole box.

The exact engines work in coordinates where the box is the unit cube and count
a region when it is thicker than 1e-7 of the box.  On a box far wider than the
network's kinks are apart, real regions fall below that: the count must then
not call itself exact, and the regions formulation must not interpolate over a
cell that is not one linear piece.
"""

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu import analysis, regions
from pyomo_relu.errors import MissingBoundsError, NotApplicableError, ShapeMismatchError
from pyomo_relu.formulations.regions import Regions


def _net(seed=3, n_in=2):
    rng = np.random.default_rng(seed)
    return pr.ReluNetwork.from_arrays(
        [rng.normal(size=(8, n_in)), rng.normal(size=(8, 8)), rng.normal(size=(1, 8))],
        [rng.normal(size=8), rng.normal(size=8), np.zeros(1)],
    )


@pytest.mark.parametrize("n_in", [2, 3])  # polygon engine, LP engine
def test_ordinary_box_is_exact_and_wide_box_is_a_lower_bound(n_in):
    net = _net(n_in=n_in)
    one = np.ones(n_in)
    normal = analysis.count_linear_regions(net, -one, one, method="exact")
    assert normal.exact and "thinner" not in normal.note
    wide = analysis.count_linear_regions(net, -1e6 * one, 1e6 * one, method="exact")
    # every region of the unit box is also a region of the wide box, so an "exact" count below
    # the 1000-box count would be wrong; the count must say it is a lower bound
    mid = analysis.count_linear_regions(net, -1e3 * one, 1e3 * one, method="exact")
    assert wide.count < mid.count
    assert not wide.exact and "thinner than 1e-07 of the box" in wide.note


def test_partition_reports_unresolved_regions():
    net = _net()
    assert regions.linear_partition(net, [-1, -1], [1, 1]).resolved
    part = regions.linear_partition(net, [-1e6, -1e6], [1e6, 1e6])
    assert part.complete and not part.resolved


def test_regions_formulation_refuses_and_auto_falls_back_on_a_wide_box():
    net = _net()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1e6, 1e6))
    with pytest.raises(NotApplicableError, match="thinner than 1e-7 of the input box"):
        m.a = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=Regions())
    m.b = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="auto")
    assert m.b.summary()["used"] == "tightened_bigm"


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_on_their_box_are_resolved(seed):
    rng = np.random.default_rng(seed)
    sizes = [2, 12, 12, 1]
    net = pr.ReluNetwork.from_arrays(
        [rng.normal(size=(sizes[k + 1], sizes[k])) for k in range(3)],
        [rng.normal(size=sizes[k + 1]) * 0.5 for k in range(3)],
    )
    part = regions.linear_partition(net, -np.ones(2), np.ones(2))
    assert part.resolved and part.complete
    # the network is affine on every cell: the centre's value is the mean of the corners' values
    for verts, vals in zip(part.vertices, part.values):
        x = verts.mean(axis=0)
        assert np.allclose(net.forward(x), vals.mean(axis=0), atol=1e-9)


def test_constrained_bounds_are_refused_for_the_whole_box():
    net = _net()
    lb, ub = -np.ones(2), np.ones(2)
    constrained = pr.lp_bounds(
        net, lb, ub, extra_constraints=(np.array([[1.0, 1.0]]), [-np.inf], [0.0])
    )
    assert any("constrained" in m for m in constrained.methods)
    for call in (
        lambda: regions.linear_partition(net, lb, ub, bounds=constrained),
        lambda: analysis.count_linear_regions(net, lb, ub, method="exact", bounds=constrained),
    ):
        with pytest.raises(MissingBoundsError, match="labelled 'lp-constrained'.*over the box"):
            call()
    # box bounds are accepted and give the same partition as the default interval bounds
    lp = pr.lp_bounds(net, lb, ub)
    assert (
        regions.linear_partition(net, lb, ub, bounds=lp).n_regions
        == regions.linear_partition(net, lb, ub).n_regions
    )


def test_partition_spot_checks_bounds_of_another_network():
    net, other = _net(3), _net(4)
    foreign = pr.interval_bounds(other, [-0.01, -0.01], [1, 1])
    foreign = foreign.replace(input_lb=np.full(2, -1.0))  # claims the whole box
    with pytest.raises(
        ShapeMismatchError, match="linear_partition: the bounds .* computed for another network"
    ):
        regions.linear_partition(net, [-1, -1], [1, 1], bounds=foreign)
