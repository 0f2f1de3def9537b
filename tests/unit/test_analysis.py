"""Stable-neuron and big-M indicators, checked by hand on small networks."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pyomo_relu import analysis
from pyomo_relu.bounds import NeuronBounds, interval_bounds
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork
from tests.conftest import random_network

REL = 1e-12  # interval bounds are padded outward by a few ulps


def hand_net(act=Activation.RELU):
    """x in [-1, 1]; layer 0: x+2 in [1,3], x-3 in [-4,-2], -x+0.5 in [-0.5,1.5], 2x in [-2,2], x+5
    in [4,6]."""
    w0 = [[1.0], [1.0], [-1.0], [2.0], [1.0]]
    b0 = [2.0, -3.0, 0.5, 0.0, 5.0]
    out = DenseLayer(np.ones((1, 5)), [0.0], Activation.LINEAR, name="out")
    return ReluNetwork([DenseLayer(w0, b0, act, name="hidden"), out])


def test_stable_fraction_relu_by_hand():
    rep = analysis.stable_fraction(interval_bounds(hand_net(), -1.0, 1.0))
    (layer,) = rep.layers  # the linear output layer is not counted
    assert (layer.layer, layer.n, layer.active, layer.inactive, layer.saturated) == (0, 5, 2, 1, 0)
    assert layer.stable == 3 and layer.fraction == pytest.approx(0.6)
    assert rep.n == 5 and rep.n_stable == 3 and rep.fraction == pytest.approx(0.6)
    assert rep.methods == ("interval",)


def test_stable_fraction_clipped_by_hand():
    # cap 2: x+2 in [1,3] crosses the cap (unstable), x+5 in [4,6] is saturated,
    # x-3 is inactive, -x+0.5 and 2x cross 0
    rep = analysis.stable_fraction(
        interval_bounds(hand_net(Activation.CLIPPED_RELU(2.0)), -1.0, 1.0)
    )
    (layer,) = rep.layers
    assert (layer.active, layer.inactive, layer.saturated, layer.stable) == (0, 1, 1, 2)
    assert rep.fraction == pytest.approx(0.4)


def test_big_m_report_by_hand():
    rep = analysis.big_m_report(interval_bounds(hand_net(), -1.0, 1.0))
    (layer,) = rep.layers
    # unstable: -x+0.5 (l=-0.5, u=1.5, M=1.5) and 2x (l=-2, u=2, M=2)
    assert layer.n_unstable == 2 and layer.n_binaries == 2 and rep.n_binaries == 2
    assert layer.m_max == pytest.approx(2.0, rel=REL)
    assert layer.m_min == pytest.approx(1.5, rel=REL)
    assert layer.m_mean == pytest.approx(1.75, rel=REL)
    assert layer.max_abs_lower == pytest.approx(2.0, rel=REL)
    assert layer.max_upper == pytest.approx(2.0, rel=REL)
    assert layer.ratio == pytest.approx(4.0 / 3.0, rel=REL)
    assert rep.total.m_max == layer.m_max and rep.total.n_unstable == 2


def test_big_m_report_clipped_counts_two_binaries():
    # cap 0.5: -x+0.5 in [-0.5, 1.5] and 2x in [-2, 2] cross both kinks (2 binaries each),
    # x+2 in [1, 3] is saturated, x+5 too, x-3 inactive
    rep = analysis.big_m_report(interval_bounds(hand_net(Activation.CLIPPED_RELU(0.5)), -1.0, 1.0))
    assert rep.layers[0].n_unstable == 2 and rep.n_binaries == 4


def test_big_m_report_layers_and_total_agree():
    net = random_network((3, 12, 10, 2), seed=4)
    b = interval_bounds(net, -1.0, 1.0)
    rep = analysis.big_m_report(b)
    assert [s.layer for s in rep.layers] == [0, 1]
    ms = np.concatenate([b.big_m(k)[b.unstable(k)] for k in (0, 1)])
    assert rep.total.n_unstable == ms.size
    assert rep.total.m_max == pytest.approx(ms.max()) and rep.total.m_min == pytest.approx(ms.min())
    assert rep.total.m_mean == pytest.approx(ms.mean())
    assert rep.n_binaries == sum(int(b.n_binaries(k).sum()) for k in (0, 1))
    assert rep.total.max_abs_lower == max(s.max_abs_lower for s in rep.layers)


def test_reports_without_unstable_neurons():
    # on [0.5, 1] every neuron of the hand net is stable
    b = interval_bounds(hand_net(), 0.6, 1.0)
    rep = analysis.big_m_report(b)
    assert rep.total.n_unstable == 0 and rep.total.m_max is None and rep.total.ratio is None
    assert analysis.stable_fraction(b).fraction == 1.0
    assert "-" in str(rep)


def test_tightened_bounds_raise_the_stable_share_and_name_the_method():
    net = random_network((2, 10, 10, 1), seed=3)
    loose = interval_bounds(net, -1.0, 1.0)
    # hand-tightened bounds of layer 1 (the reports only read the numbers)
    k = 1
    tight = loose.with_layer(
        k,
        np.where(loose.lower[k] < 0, loose.lower[k] / 2, loose.lower[k]),
        np.where(loose.upper[k] > 0, np.minimum(loose.upper[k], 1e-3), loose.upper[k]),
        "lp",
    )
    rep = analysis.stable_fraction(tight)
    assert rep.methods == ("interval", "lp")
    assert rep.n_stable >= analysis.stable_fraction(loose).n_stable
    assert rep.layers[1].method == "lp"


def test_to_dict_is_json_and_str_is_readable():
    b = interval_bounds(random_network((2, 6, 6, 1), seed=0), -2.0, 2.0)
    st, bm = analysis.stable_fraction(b), analysis.big_m_report(b)
    data = json.loads(json.dumps({"stable": st.to_dict(), "big_m": bm.to_dict()}))
    assert data["stable"]["n"] == 12 and len(data["big_m"]["layers"]) == 2
    assert data["stable"]["methods"] == ["interval"]
    text = str(st)
    assert "Stable neurons (bounds: interval)" in text and "total" in text
    assert "M max" in str(bm) and "interval" in str(bm)


def test_linear_network_has_nothing_to_report():
    net = ReluNetwork([DenseLayer([[1.0, 2.0]], [0.0], Activation.LINEAR)])
    b = interval_bounds(net, -1.0, 1.0)
    assert analysis.stable_fraction(b).layers == () and analysis.stable_fraction(b).fraction == 1.0
    assert analysis.big_m_report(b).n_binaries == 0


def test_reports_accept_hand_made_bounds():
    b = NeuronBounds(
        np.array([0.0]),
        np.array([1.0]),
        [np.array([-1.0, 0.0, -3.0])],
        [np.array([4.0, 2.0, -1.0])],
        ["milp"],
        [np.full(3, np.inf)],
    )
    st, bm = analysis.stable_fraction(b), analysis.big_m_report(b)
    assert (st.layers[0].active, st.layers[0].inactive) == (1, 1) and st.methods == ("milp",)
    assert (bm.total.m_max, bm.total.max_abs_lower, bm.total.max_upper) == (4.0, 1.0, 4.0)
