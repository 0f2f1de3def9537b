"""ReluNetworkBlock.margin / margin_bound: the logit-margin expression, its bound and its errors."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.errors import BlockArgumentError
from pyomo_relu.solving import solve_model
from tests.conftest import random_network, requires_scip


def _block(net, lb=-1.0, ub=1.0):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(lb, ub))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    return m


@pytest.fixture
def classifier():
    net = random_network((3, 6, 4), seed=7)
    names = ["cat", "dog", "eel", "fox"]
    return pr.ReluNetwork(list(net.layers), output_names=names)


def test_margin_is_other_minus_true_by_index_and_by_name(classifier):
    m = _block(classifier)
    values = [0.5, -1.25, 2.0, 4.0]
    for j, v in enumerate(values):
        m.nn.outputs[j].set_value(v)
    assert pyo.value(m.nn.margin(0, 3)) == pytest.approx(4.0 - 0.5)
    assert pyo.value(m.nn.margin("dog", "eel")) == pytest.approx(2.0 + 1.25)
    assert pyo.value(m.nn.margin(np.int64(2), "cat")) == pytest.approx(0.5 - 2.0)


@pytest.mark.parametrize(
    "args, expected",
    [
        ((4, 0), "true_label 4 is not an output"),
        ((0, -1), "other -1 is not an output"),
        (("cow", 1), "true_label 'cow' is not an output"),
        ((0, 1.0), "other 1.0 is not an output"),
        ((True, 1), "true_label True is not an output"),
        ((2, "eel"), "are the same output"),
    ],
)
def test_margin_refuses_bad_labels_with_the_valid_ones(classifier, args, expected):
    m = _block(classifier)
    for method in (m.nn.margin, m.nn.margin_bound):
        with pytest.raises(BlockArgumentError, match=expected) as info:
            method(*args)
        message = str(info.value)
        assert method.__name__ in message
        if "same output" not in expected:
            assert "0..3" in message and "'fox'" in message


@requires_scip
@pytest.mark.solver
def test_maximized_margin_matches_the_forward_pass_and_stays_below_its_bound(classifier):
    m = _block(classifier)
    m.obj = pyo.Objective(expr=m.nn.margin("cat", "fox"), sense=pyo.maximize)
    out = solve_model(m, time_limit=30)
    assert out.status == "optimal"
    y = classifier.forward(m.nn.input_values())
    assert out.objective == pytest.approx(y[3] - y[0], abs=1e-6)
    assert out.objective <= m.nn.margin_bound("cat", "fox") + 1e-9
    # no sampled input of the box has a larger margin than the proven optimum
    x = np.random.default_rng(0).uniform(-1, 1, size=(2000, 3))
    ys = classifier.forward(x)
    assert np.max(ys[:, 3] - ys[:, 0]) <= out.bound + 1e-6


def test_margin_bound_is_sound_on_samples(classifier):
    m = _block(classifier, lb=-0.5, ub=0.5)
    x = np.random.default_rng(1).uniform(-0.5, 0.5, size=(5000, 3))
    ys = classifier.forward(x)
    for t in range(4):
        for j in range(4):
            if t != j:
                assert np.max(ys[:, j] - ys[:, t]) <= m.nn.margin_bound(t, j)
