"""RayExecutor: LP tightening on a local Ray gives the serial bounds; bad options are refused."""

from __future__ import annotations

import numpy as np
import pytest
import ray

import pyomo_relu as pr
from pyomo_relu.bounds.distributed import RayExecutor
from pyomo_relu.errors import ExecutorWarning, UnknownOptionError
from tests.conftest import random_network

pytestmark = pytest.mark.solver


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 CPUs (worker processes), shut down after the module."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        yield
    finally:
        ray.shutdown()


def same_bounds(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.lower + a.upper, b.lower + b.upper))


def test_lp_bounds_on_ray_are_bit_identical_to_serial(local_ray, recwarn):
    net = random_network((6, 40, 40, 40, 1), seed=0)
    serial = pr.lp_bounds(net, -1, 1)
    on_ray = pr.lp_bounds(net, -1, 1, executor=RayExecutor())
    assert not [w for w in recwarn if issubclass(w.category, ExecutorWarning)]
    assert same_bounds(on_ray, serial)


def test_a_shut_down_ray_executor_falls_back_with_a_warning(local_ray):
    net = random_network((4, 24, 24, 1), seed=3)
    executor = RayExecutor()
    executor.shutdown()
    with pytest.warns(ExecutorWarning, match="cannot submit after shutdown"):
        bounds = pr.lp_bounds(net, -1, 1, executor=executor)
    assert same_bounds(bounds, pr.lp_bounds(net, -1, 1))


@pytest.mark.parametrize("bad", [0, -1, "2", True])
def test_num_cpus_must_be_a_positive_number(bad):
    with pytest.raises(UnknownOptionError, match="RayExecutor: num_cpus must be"):
        RayExecutor(num_cpus=bad)
