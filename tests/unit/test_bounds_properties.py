"""Property test: LP bounds of random small networks contain every sampled pre-activation."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("highspy")

from pyomo_relu.bounds.interval import interval_bounds  # noqa: E402
from pyomo_relu.bounds.lp import lp_bounds  # noqa: E402
from pyomo_relu.network import ReluNetwork  # noqa: E402


@st.composite
def networks_and_boxes(draw):
    n_in = draw(st.integers(1, 3))
    hidden = draw(st.lists(st.integers(1, 6), min_size=1, max_size=3))
    sizes = [n_in, *hidden, draw(st.integers(1, 2))]
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    weights = [rng.normal(size=(sizes[i + 1], sizes[i])) * scale for i in range(len(sizes) - 1)]
    biases = [rng.normal(size=sizes[i + 1]) * scale for i in range(len(sizes) - 1)]
    if draw(st.booleans()):
        net = ReluNetwork.from_arrays(
            weights, biases, activation="clipped_relu", cap=draw(st.floats(0.1, 5.0))
        )
    else:
        net = ReluNetwork.from_arrays(weights, biases)
    lb = rng.uniform(-2, 1, size=n_in)
    ub = lb + rng.uniform(0, 2, size=n_in) * draw(st.sampled_from([1.0, 1e-3, 0.0]))
    return net, lb, ub, rng


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks_and_boxes())
def test_lp_bounds_contain_samples_and_interval_contains_lp(case):
    net, lb, ub, rng = case
    bounds = lp_bounds(net, lb, ub)
    ib = interval_bounds(net, lb, ub)
    corners = np.array(list(itertools.product(*zip(lb, ub))))
    x = np.vstack([rng.uniform(lb, ub, size=(3000, len(lb))), corners])
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]) and np.all(z <= bounds.upper[k]), f"layer {k} cut off"
        assert np.all(bounds.lower[k] >= ib.lower[k]) and np.all(bounds.upper[k] <= ib.upper[k])
