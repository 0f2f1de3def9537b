"""The ``symbolic`` bound method: sound, between interval and LP, hand-checkable on small cases."""

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.bounds import (
    bound_method_names,
    get_bound_method,
    interval_bounds,
    lp_bounds,
    symbolic_bounds,
)
from pyomo_relu.bounds import symbolic as sym
from tests.conftest import random_network
from tests.sparse_networks import dense_twin, sparse_network


def _activation(kind: str, k: int, n_layers: int, cap: float) -> Activation:
    if k == n_layers - 1:
        return Activation.LINEAR
    if kind == "clipped":
        return Activation.CLIPPED_RELU(cap)
    return Activation.LINEAR if kind == "linear_hidden" and k == 0 else Activation.RELU


@st.composite
def networks_and_boxes(draw):
    """Small generated networks (ReLU, clipped ReLU, or with a linear hidden layer) and boxes."""
    widths = draw(st.lists(st.integers(1, 6), min_size=3, max_size=5))
    widths[0], widths[-1] = min(widths[0], 3), min(widths[-1], 2)  # 1-3 inputs, 1-2 outputs
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.1, 1.0, 10.0]))
    kind = draw(st.sampled_from(["relu", "clipped", "linear_hidden"]))
    cap = draw(st.floats(0.1, 5.0))
    n = len(widths) - 1
    layers = [
        DenseLayer(
            rng.normal(size=(n_out, n_in)) * scale,
            rng.normal(size=n_out) * scale,
            _activation(kind, k, n, cap),
        )
        for k, (n_in, n_out) in enumerate(zip(widths[:-1], widths[1:]))
    ]
    lb = rng.uniform(-2, 1, size=widths[0])
    ub = lb + rng.uniform(0, 2, size=widths[0]) * draw(st.sampled_from([1.0, 1e-3, 0.0]))
    return ReluNetwork(layers), lb, ub, rng


def _samples(rng, lb, ub, n=3000):
    corners = np.array(list(itertools.product(*zip(lb, ub))))
    return np.vstack([rng.uniform(lb, ub, size=(n, len(lb))), corners, (lb + ub)[None] / 2])


def _assert_contains(bounds, net, x, what):
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]), f"{what}: layer {k} lower bound cuts off a point"
        assert np.all(z <= bounds.upper[k]), f"{what}: layer {k} upper bound cuts off a point"


def test_symbolic_is_a_registered_certified_method_with_its_own_label():
    assert "symbolic" in bound_method_names(certified=True)
    assert "symbolic" not in bound_method_names(layerwise=True)
    method = get_bound_method("symbolic")
    assert set(method.options) == {"optimize", "iterations", "extra_constraints"}
    net = random_network((2, 8, 8, 1), seed=1)
    b = method.compute(net, -1, 1)
    assert b.layers_by("interval") == [0]  # interval arithmetic is exact on the first layer
    assert b.layers_by("symbolic") == [1, 2]
    assert b.constrained_layers() == []


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks_and_boxes(), st.booleans())
def test_symbolic_bounds_contain_every_sampled_preactivation_and_lie_inside_interval(case, opt):
    net, lb, ub, rng = case
    b = symbolic_bounds(net, lb, ub, optimize=opt, iterations=5)
    _assert_contains(b, net, _samples(rng, lb, ub), "symbolic")
    ib = interval_bounds(net, lb, ub)
    for k in range(net.n_layers):
        assert np.all(b.lower[k] >= ib.lower[k]) and np.all(b.upper[k] <= ib.upper[k])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks_and_boxes())
def test_lp_bounds_lie_inside_symbolic_bounds_on_the_neurons_lp_tightens(case):
    """With the same first-layer bounds the LP relaxation is at least as tight as any
    back-substitution.  LP tightens the interval-unstable neurons (and the outputs); it skips
    the minimum of a neuron whose maximum shows it is never active."""
    net, lb, ub, _ = case
    ib, sb, lp = interval_bounds(net, lb, ub), symbolic_bounds(net, lb, ub), lp_bounds(net, lb, ub)
    for k in range(1, net.n_layers):
        p = ib.pieces(k)
        solved = p.unstable if p.piecewise else np.ones(p.unstable.shape, bool)
        tol = 1e-6 * (1 + np.abs(ib.lower[k]) + np.abs(ib.upper[k]))
        assert np.all(lp.upper[k][solved] <= sb.upper[k][solved] + tol[solved])
        low = solved & ((lp.upper[k] > 0) | (not p.piecewise))
        assert np.all(lp.lower[k][low] >= sb.lower[k][low] - tol[low])


def test_the_abs_network_gets_its_exact_upper_bound_where_interval_doubles_it():
    # z1 = relu(x) + relu(-x) = |x| on [-1, 1]: interval [0, 2]; the chords give x/2 + 1/2 and
    # -x/2 + 1/2, whose sum is 1; the lower slopes (u = -l: slope 0) give 0
    net = ReluNetwork(
        [
            DenseLayer([[1.0], [-1.0]], [0.0, 0.0]),
            DenseLayer([[1.0, 1.0]], [0.0], Activation.LINEAR),
        ]
    )
    assert interval_bounds(net, -1, 1).upper[1][0] == pytest.approx(2.0)
    b = symbolic_bounds(net, -1, 1)
    assert b.upper[1][0] == pytest.approx(1.0, abs=1e-12) and b.upper[1][0] >= 1.0
    assert b.lower[1][0] == pytest.approx(0.0, abs=1e-12) and b.lower[1][0] <= 0.0
    assert b.methods == ["interval", "symbolic"]


def test_relaxation_slopes_follow_the_area_rule_for_relu_and_clipped_relu():
    lo = np.array([-1.0, -3.0, 0.5, 0.5, -1.0, -1.0, 2.5])
    up = np.array([3.0, 1.0, 3.0, 1.5, 3.0, 1.5, 3.0])
    cap = np.array([np.inf, np.inf, 2.0, 2.0, 2.0, 6.0, 2.0])
    r = sym.LayerRelaxation.of(lo, up, cap, True)
    # ReLU, u > -l: chord 3/4 above, slope 1 below; u < -l: chord 1/4 above, slope 0 below
    assert r.s_up[0] == pytest.approx(0.75) and r.s_lo[0] == 1.0 and r.free_lo[0] == 1.0
    assert r.s_up[1] == pytest.approx(0.25) and r.s_lo[1] == 0.0
    # cap kink only (0.5 <= z <= 3, cap 2): the chord 1.5 / 2.5 below; above, u - c = 1 is
    # less than c - l = 1.5, so a <= z (slope 1) leaves less area than a <= 2
    assert r.s_lo[2] == pytest.approx(0.6) and r.s_up[2] == 1.0 and r.free_up[2] == 1.0
    assert r.s_up[3] == r.s_lo[3] == 1.0 and r.free_up[3] == r.free_lo[3] == 0.0  # identity
    # both kinks (-1 <= z <= 3, cap 2): lower slope in [0, c/u], upper slope in [0, c/(c-l)],
    # both at their upper ends (u > -l, u - c < c - l)
    assert r.free_lo[4] == pytest.approx(2 / 3) and r.s_lo[4] == pytest.approx(2 / 3)
    assert r.free_up[4] == pytest.approx(2 / 3) and r.s_up[4] == pytest.approx(2 / 3)
    assert r.s_up[5] == pytest.approx(0.6) and r.s_lo[5] == 1.0  # cap 6 above u: a ReLU kink
    assert r.s_up[6] == r.s_lo[6] == 0.0  # saturated: a = 2
    np.testing.assert_allclose(r.a_mag, [3.0, 1.0, 2.0, 1.5, 2.0, 1.5, 2.0])


def test_every_slope_is_sound_because_the_intercepts_are_exact():
    """Slopes outside the valid ranges give looser, never wrong, bounds."""
    net = random_network((2, 6, 6, 1), seed=5, clipped=True, cap=1.0)
    lb, ub = -np.ones(2), np.ones(2)
    start = interval_bounds(net, lb, ub)
    relax = [
        sym.LayerRelaxation.of(start.lower[i], start.upper[i], start.caps[i], True) for i in (0, 1)
    ]
    w, c = net.layers[2].weights, net.layers[2].bias
    x = _samples(np.random.default_rng(0), lb, ub, 5000)
    z = net.preactivations(x)[2][:, 0]
    rng = np.random.default_rng(1)
    for _ in range(20):
        theta = [(rng.uniform(-2, 3, (1, 6)), rng.uniform(-2, 3, (1, 6))) for _ in range(2)]
        up = sym._certified(net, relax, 2, w, c, lb, ub, np.ones(2), theta, sym._box_max(lb, ub))
        assert z.max() <= up[0]


def test_the_adjoint_gradient_matches_finite_differences():
    net = random_network((3, 7, 7, 7, 2), seed=9, clipped=True, cap=1.5)
    lb, ub = -np.ones(3), np.ones(3)
    b = symbolic_bounds(net, lb, ub)
    relax = [sym.LayerRelaxation.of(b.lower[i], b.upper[i], b.caps[i], True) for i in range(3)]
    w = np.vstack([net.layers[3].weights, -net.layers[3].weights])
    c = np.concatenate([net.layers[3].bias, -net.layers[3].bias])
    rng = np.random.default_rng(2)
    theta = [(rng.uniform(0.2, 0.8, (4, 7)), rng.uniform(0.2, 0.8, (4, 7))) for _ in range(3)]
    p = sym._backward(net, relax, 3, w, c, lb, ub, theta, record=True)
    grads = sym._gradient(net, relax, 3, p, lb, ub, theta)
    h, checked = 1e-6, 0
    for i, s, t, j in itertools.product(range(3), (0, 1), range(4), range(7)):
        free = (relax[i].free_up if s == 0 else relax[i].free_lo)[j]
        if free == 0:
            assert grads[i][s][t, j] == 0.0
            continue
        plus = [(a.copy(), q.copy()) for a, q in theta]
        plus[i][s][t, j] += h
        minus = [(a.copy(), q.copy()) for a, q in theta]
        minus[i][s][t, j] -= h
        fd = (
            sym._backward(net, relax, 3, w, c, lb, ub, plus).upper.sum()
            - sym._backward(net, relax, 3, w, c, lb, ub, minus).upper.sum()
        ) / (2 * h)
        assert grads[i][s][t, j] == pytest.approx(fd, rel=1e-4, abs=1e-6)
        checked += 1
    assert checked > 20


def test_optimized_slopes_tighten_deep_networks_towards_lp():
    widths = {}
    for seed in range(3):
        net = random_network((4, 30, 30, 30, 30, 1), seed=seed)
        lb, ub = -np.ones(4), np.ones(4)
        for name, b in (
            ("interval", interval_bounds(net, lb, ub)),
            ("symbolic", symbolic_bounds(net, lb, ub)),
            ("alpha", symbolic_bounds(net, lb, ub, optimize=True, iterations=30)),
            ("lp", lp_bounds(net, lb, ub)),
        ):
            widths[name] = widths.get(name, 0.0) + sum(
                float(np.sum(b.upper[k] - b.lower[k])) for k in range(1, net.n_layers)
            )
    assert widths["interval"] > widths["symbolic"] > widths["alpha"] >= widths["lp"]
    assert widths["symbolic"] < 0.7 * widths["interval"]


def test_the_result_is_never_looser_than_the_prior_and_keeps_its_labels():
    net = random_network((2, 10, 10, 10, 1), seed=4)
    lp = lp_bounds(net, -1, 1)
    b = symbolic_bounds(net, -1, 1, prior=lp)
    for k in range(net.n_layers):
        assert np.all(b.lower[k] >= lp.lower[k]) and np.all(b.upper[k] <= lp.upper[k])
    for k, label in enumerate(b.methods):
        assert label in ("interval", "lp", "symbolic")
        if label != "symbolic":  # not improved: the prior's label stays
            np.testing.assert_array_equal(b.lower[k], lp.lower[k])
            np.testing.assert_array_equal(b.upper[k], lp.upper[k])


def test_input_constraints_tighten_every_layer_and_are_scoped():
    net = random_network((2, 8, 8, 1), seed=6)
    lb, ub = -np.ones(2), np.ones(2)
    extra = (np.array([[1.0, 1.0]]), np.array([-0.25]), np.array([0.25]))
    box = symbolic_bounds(net, lb, ub)
    b = symbolic_bounds(net, lb, ub, extra_constraints=extra)
    assert b.methods == ["symbolic-constrained"] * 3
    assert b.constrained_layers() == [0, 1, 2]
    x = _samples(np.random.default_rng(3), lb, ub, 20000)
    x = x[np.abs(x.sum(axis=1)) <= 0.25]
    _assert_contains(b, net, x, "symbolic with input constraints")
    for k in range(3):
        assert np.all(b.upper[k] <= box.upper[k]) and np.all(b.lower[k] >= box.lower[k])
    assert np.sum(b.upper[0] - b.lower[0]) < 0.8 * np.sum(box.upper[0] - box.lower[0])
    with pytest.raises(pr.InfeasibleBoxError, match="no input"):
        symbolic_bounds(net, lb, ub, extra_constraints=(np.array([[1.0, 0.0]]), 5.0, 6.0))


def test_sparse_weights_give_the_bounds_of_the_dense_twin():
    net = sparse_network((3, 8, 8, 8, 2), seed=3)
    twin = dense_twin(net)
    assert net.layers[1].is_sparse and not twin.layers[1].is_sparse
    lb, ub = -np.ones(3), np.ones(3)
    b = symbolic_bounds(twin, lb, ub)
    relax = [sym.LayerRelaxation.of(b.lower[i], b.upper[i], b.caps[i], True) for i in range(3)]
    for k in (1, 2, 3):
        rows = sym._rows(net.layers[k].weights, np.arange(net.layers[k].n_out))
        np.testing.assert_array_equal(rows, twin.layers[k].weights)
        w = np.vstack([rows, -rows])
        c = np.concatenate([net.layers[k].bias, -net.layers[k].bias])
        box = sym._box_max(lb, ub)
        theta = sym._optimize(net, relax, k, w, c, lb, ub, 5)
        theta_d = sym._optimize(twin, relax, k, w, c, lb, ub, 5)
        up = sym._certified(net, relax, k, w, c, lb, ub, np.ones(3), theta, box)
        up_d = sym._certified(twin, relax, k, w, c, lb, ub, np.ones(3), theta_d, box)
        np.testing.assert_allclose(up, up_d, rtol=1e-9, atol=1e-9)


def test_bounds_stay_sound_with_large_weights_on_a_tiny_box():
    rng = np.random.default_rng(11)
    w = [rng.normal(size=(12, 3)) * 1e6, rng.normal(size=(12, 12)) * 1e6, rng.normal(size=(1, 12))]
    net = ReluNetwork.from_arrays(w, [rng.normal(size=12) * 1e3, rng.normal(size=12), [0.0]])
    lb = np.array([0.1, 0.2, 0.3])
    ub = lb + 1e-7
    b = symbolic_bounds(net, lb, ub, optimize=True)
    _assert_contains(b, net, _samples(rng, lb, ub, 20000), "large weights")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"optimize": "yes"}, "optimize='yes'"),
        ({"iterations": -1}, "iterations=-1"),
        ({"iterations": 2.5}, "iterations=2.5"),
        ({"prior": "lp"}, "prior must be NeuronBounds"),
    ],
)
def test_bad_options_are_refused_naming_the_option(kwargs, match):
    net = random_network((2, 4, 1), seed=0)
    with pytest.raises(pr.UnknownOptionError, match=match):
        symbolic_bounds(net, -1, 1, **kwargs)


def test_bad_networks_boxes_and_priors_are_refused():
    net = random_network((2, 4, 1), seed=0)
    with pytest.raises(pr.NetworkTypeError, match="symbolic_bounds: net must be a ReluNetwork"):
        symbolic_bounds("net.onnx", -1, 1)
    with pytest.raises(pr.MissingBoundsError, match="ub is missing"):
        symbolic_bounds(net, -1, None)
    small = interval_bounds(net, -0.5, 0.5)
    with pytest.raises(pr.ShapeMismatchError, match="does not contain"):
        symbolic_bounds(net, -1, 1, prior=small)
    other = interval_bounds(random_network((2, 5, 1), seed=0), -1, 1)
    with pytest.raises(pr.ShapeMismatchError, match="do not match the network"):
        symbolic_bounds(net, -1, 1, prior=other)
