"""The sampled region estimate: a lower bound that it extrapolates, cheap, with checked options."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.errors import UnknownOptionError
from pyomo_relu.regions import count_linear_regions
from pyomo_relu.regions.estimate import estimate_region_count
from tests.conftest import random_network

PEAKS = Path(__file__).resolve().parents[2] / "examples" / "data" / "peaks.onnx"


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n_in=st.integers(1, 2),
    hidden=st.lists(st.integers(1, 10), min_size=1, max_size=3),
    seed=st.integers(0, 10_000),
    clipped=st.booleans(),
)
def test_patterns_met_are_a_lower_bound_and_the_estimate_is_above_them(n_in, hidden, seed, clipped):
    net = random_network((n_in, *hidden, 1), seed=seed, clipped=clipped, cap=0.7)
    lb, ub = -np.ones(n_in), np.ones(n_in)
    exact = count_linear_regions(net, lb, ub, method="exact").count
    est = estimate_region_count(net, lb, ub, max_samples=8192, time_limit=None)
    assert 1 <= est.observed <= exact
    assert est.estimate >= est.observed
    assert est.samples <= 8192 and est.singletons <= est.observed


def test_small_network_settles_near_the_exact_count():
    net = random_network((2, 6, 6, 1), seed=1)
    exact = count_linear_regions(net, [-1, -1], [1, 1], method="exact").count
    est = estimate_region_count(net, [-1, -1], [1, 1], time_limit=None)
    assert est.settled and est.samples < 32_768  # stopped early: few patterns met once
    assert est.observed <= exact and abs(est.estimate - exact) <= 0.1 * exact
    assert "settled" in str(est)


def test_estimate_extrapolates_beyond_the_patterns_met():
    net = pr.load_onnx(PEAKS)  # 921 regions on [-3, 3]^2
    est = estimate_region_count(net, [-3, -3], [3, 3], max_samples=4096, time_limit=None)
    assert est.observed < est.estimate <= 921 * 1.2
    assert abs(921 - est.estimate) < abs(921 - est.observed)
    assert 921 <= 2 * est.estimate  # within the margin auto allows for


def test_stop_above_and_time_limit_end_sampling_early():
    net = random_network((2, 40, 40, 1), seed=4)
    full = estimate_region_count(net, [-3, -3], [3, 3], time_limit=None)
    early = estimate_region_count(net, [-3, -3], [3, 3], time_limit=None, stop_above=10)
    assert early.samples == 1024 < full.samples and early.estimate > 10
    timed = estimate_region_count(net, [-3, -3], [3, 3], time_limit=0)
    assert timed.samples == 1024  # one batch, then the limit
    same = estimate_region_count(net, [-3, -3], [3, 3], time_limit=None)
    assert same == full or same.estimate == full.estimate  # seeded: the same points


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_samples": 0}, "max_samples must be an integer >= 1"),
        ({"time_limit": -1}, "time_limit must be a number of seconds"),
    ],
)
def test_bad_options(kwargs, match):
    with pytest.raises(UnknownOptionError, match=f"estimate_region_count: {match}"):
        estimate_region_count(random_network((2, 4, 1)), [-1, -1], [1, 1], **kwargs)
