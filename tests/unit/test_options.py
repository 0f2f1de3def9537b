"""One validator for every time-limit option: same rules and same message everywhere."""

import math

import numpy as np
import pytest

import pyomo_relu as pr
from pyomo_relu._options import seconds_option
from pyomo_relu.errors import UnknownOptionError


@pytest.mark.parametrize(
    "value, expected",
    [
        (None, None),
        (0, 0.0),
        (2, 2.0),
        (0.5, 0.5),
        (np.float32(1.5), 1.5),
        (np.int64(3), 3.0),
        (math.inf, None),
        (1e20, None),
        (1e300, None),
        (9e19, 9e19),
    ],
)
def test_valid_seconds(value, expected):
    out = seconds_option(value, "f")
    assert out == expected and (out is None or type(out) is float)


@pytest.mark.parametrize("value", [-1, -0.001, math.nan, True, np.bool_(False), "5", [1], object()])
def test_invalid_seconds_name_the_function_option_and_value(value):
    with pytest.raises(UnknownOptionError) as err:
        seconds_option(value, "lp_bounds", name="time_limit_per_neuron")
    msg = str(err.value)
    assert msg.startswith(
        "lp_bounds: time_limit_per_neuron must be a number of seconds >= 0 or None"
    )
    assert repr(value) in msg


def test_zero_refused_where_it_means_nothing():
    with pytest.raises(
        UnknownOptionError, match=r"f: time_limit must be a number of seconds > 0 .* found 0\."
    ):
        seconds_option(0, "f", allow_zero=False)


def _net():
    rng = np.random.default_rng(0)
    return pr.ReluNetwork.from_arrays(
        [rng.normal(size=(4, 2)), rng.normal(size=(1, 4))], [np.zeros(4), np.zeros(1)]
    )


@pytest.mark.parametrize(
    "call, what",
    [
        (lambda net: pr.lp_bounds(net, -1, 1, time_limit=-2), "lp_bounds: time_limit"),
        (
            lambda net: pr.milp_bounds(net, -1, 1, time_limit_per_neuron=0),
            "milp_bounds: time_limit_per_neuron",
        ),
        (
            lambda net: pr.analysis.count_linear_regions(net, -1, 1, time_limit="1"),
            "count_linear_regions: time_limit",
        ),
        (
            lambda net: pr.regions.linear_partition(net, -1, 1, time_limit=-1),
            "linear_partition: time_limit",
        ),
    ],
)
def test_public_functions_share_the_message(call, what):
    with pytest.raises(UnknownOptionError, match=f"^{what} must be a number of seconds"):
        call(_net())


def test_transformation_reports_the_domain_message_alone():
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    with pytest.raises(UnknownOptionError) as err:
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, time_limit_per_neuron=-3)
    assert str(err.value) == (
        "relu.tighten_bounds: time_limit_per_neuron must be a number of seconds > 0 "
        "or None (no limit), found -3."
    )
    with pytest.raises(UnknownOptionError, match="Valid options: .*time_limit"):
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, time_limt=3)


def test_milp_bounds_checks_its_limits_before_the_lp_pass(monkeypatch):
    import pyomo_relu.bounds.milp as milp

    monkeypatch.setattr(
        milp, "lp_bounds", lambda *a, **k: pytest.fail("LP pass ran before the option check")
    )
    for kwargs, what in (
        ({"time_limit": -1}, "time_limit"),
        ({"time_limit_per_neuron": 0}, "time_limit_per_neuron"),
    ):
        with pytest.raises(UnknownOptionError, match=f"^milp_bounds: {what} must be"):
            milp.milp_bounds(_net(), -1, 1, **kwargs)


def test_no_more_worker_processes_than_chunks(monkeypatch):
    """workers=500 on a small network must not start 499 processes (seconds of start-up for
    nothing)."""
    import pyomo_relu.bounds.parallel as par

    started = []
    real = par._Runner.__init__

    def spy(self, workers, executor, *rest):
        started.append(workers)
        real(self, workers, executor, *rest)

    monkeypatch.setattr(par._Runner, "__init__", spy)
    rng = np.random.default_rng(0)
    net = pr.ReluNetwork.from_arrays(
        [rng.normal(size=(20, 2)), rng.normal(size=(20, 20)), rng.normal(size=(1, 20))],
        [np.zeros(20), np.zeros(20), np.zeros(1)],
    )
    bounds = pr.lp_bounds(net, -1, 1, workers=500)
    # layer 0 is exact already; layer 1 has at most 20 candidates, i.e. ceil(20 / CHUNK_SIZE) chunks
    assert len(started) == 1 and 1 < started[0] <= -(-20 // par.CHUNK_SIZE)
    serial = pr.lp_bounds(net, -1, 1)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(bounds.upper + bounds.lower, serial.upper + serial.lower)
    )
