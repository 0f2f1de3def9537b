"""LP bound tightening: soundness, tightness, agreement with an independent LP, executors."""

import itertools
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("highspy")

from pyomo_relu.bounds.interval import interval_bounds  # noqa: E402
from pyomo_relu.bounds.lp import LayerLP, dual_certificate, lp_bounds  # noqa: E402
from pyomo_relu.bounds.parallel import tighten  # noqa: E402
from pyomo_relu.errors import InfeasibleBoxError, ShapeMismatchError, UnknownOptionError
from pyomo_relu.network import ReluNetwork  # noqa: E402


def make_net(sizes, seed, *, clipped=False, cap=1.0, bias=0.3):
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(size=(sizes[i + 1], sizes[i])) * np.sqrt(2.0 / sizes[i])
        for i in range(len(sizes) - 1)
    ]
    biases = [rng.normal(size=sizes[i + 1]) * bias for i in range(len(sizes) - 1)]
    if clipped:
        return ReluNetwork.from_arrays(weights, biases, activation="clipped_relu", cap=cap)
    return ReluNetwork.from_arrays(weights, biases)


def samples(lb, ub, n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    corners = np.array(list(itertools.product(*zip(lb, ub))))
    return np.vstack([rng.uniform(lb, ub, size=(n, len(lb))), corners])


def assert_contains(net, bounds, x):
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]), (
            f"layer {k}: lower bound cuts off {np.min(z - bounds.lower[k])}"
        )
        assert np.all(z <= bounds.upper[k]), (
            f"layer {k}: upper bound cuts off {np.max(z - bounds.upper[k])}"
        )


def assert_same(a, b):
    for k in range(len(a.lower)):
        np.testing.assert_array_equal(a.lower[k], b.lower[k])
        np.testing.assert_array_equal(a.upper[k], b.upper[k])


@pytest.mark.parametrize("clipped", [False, True])
def test_lp_bounds_contain_samples_and_beat_interval(clipped):
    net = make_net([3, 16, 16, 16, 2], seed=1, clipped=clipped)
    lb, ub = -np.ones(3), np.array([1.0, 2.0, 0.5])
    ib = interval_bounds(net, lb, ub)
    bb = lp_bounds(net, lb, ub)
    assert_contains(net, bb, samples(lb, ub))
    for k in range(net.n_layers):
        assert np.all(bb.lower[k] >= ib.lower[k]) and np.all(bb.upper[k] <= ib.upper[k])
    width = lambda b, k: np.sum(b.upper[k] - b.lower[k])  # noqa: E731
    assert width(bb, 3) < 0.9 * width(ib, 3), "LP should tighten the deeper layers"
    assert bb.methods[1:] == ["lp"] * 3 and bb.methods[0] == "interval"
    assert bb.report.n_solves > 0


# -- an independent reference: the convex hull from the graph's breakpoints, solved with scipy --
def hull_rows(lo, up, cap):
    """Rows (alpha, beta, sense) meaning a - alpha z (>= or <=) beta, from the hull of the graph's
    vertices."""
    f = lambda z: min(max(0.0, z), cap)  # noqa: E731
    pts = sorted({lo, up} | {t for t in (0.0, cap) if lo < t < up})
    pts = [(z, f(z)) for z in pts]

    def chain(points, keep):  # monotone chain: keep turns with cross product of sign `keep`
        out = []
        for p in points:
            while len(out) >= 2:
                (x1, y1), (x2, y2) = out[-2], out[-1]
                if keep * ((x2 - x1) * (p[1] - y1) - (y2 - y1) * (p[0] - x1)) > 1e-15:
                    break
                out.pop()
            out.append(p)
        return out

    rows = []
    for pts_chain, sense in ((chain(pts, 1), ">="), (chain(pts, -1), "<=")):
        for (x1, y1), (x2, y2) in zip(pts_chain, pts_chain[1:]):
            s = (y2 - y1) / (x2 - x1)
            rows.append((s, y1 - s * x1, sense))
    return rows


def reference_lp_bounds(net, lb, ub):
    """Layer-by-layer LP bounds with variables (x, z_0, a_0, ...) and scipy's linprog."""
    from scipy.optimize import linprog

    lower, upper = [], []
    for k, layer in enumerate(net.layers):
        cols = [(l, u) for l, u in zip(lb, ub)]
        a_idx, a_ub, a_eq, b_ub, b_eq = list(range(len(lb))), [], [], [], []
        for i in range(k):
            n, prev = net.layers[i].n_out, a_idx
            z_idx = list(range(len(cols), len(cols) + n))
            cols += list(zip(lower[i], upper[i]))
            new_idx = list(range(len(cols), len(cols) + n))
            cap = net.layers[i].activation.caps(n)
            cols += [
                (min(max(l, 0), c), min(max(u, 0), c)) for l, u, c in zip(lower[i], upper[i], cap)
            ]
            for j in range(n):
                eq = {
                    z_idx[j]: 1.0,
                    **{prev[t]: -w for t, w in enumerate(net.layers[i].weights[j])},
                }
                a_eq.append(eq), b_eq.append(net.layers[i].bias[j])
                for s, beta, sense in hull_rows(lower[i][j], upper[i][j], cap[j]):
                    sign = (
                        -1.0 if sense == ">=" else 1.0
                    )  # a - s z >= beta  <=>  -(a - s z) <= -beta
                    a_ub.append({new_idx[j]: sign, z_idx[j]: -sign * s}), b_ub.append(sign * beta)
            a_idx = new_idx

        n_cols = len(cols)

        def dense(rows, n=n_cols):
            return np.array([[r.get(c, 0.0) for c in range(n)] for r in rows]) if rows else None

        lo_k, up_k = [], []
        for j in range(layer.n_out):
            c = np.zeros(len(cols))
            c[a_idx] = layer.weights[j]
            vals = [
                linprog(
                    sgn * c,
                    A_ub=dense(a_ub),
                    b_ub=b_ub or None,
                    A_eq=dense(a_eq),
                    b_eq=b_eq or None,
                    bounds=cols,
                    method="highs",
                ).fun
                * sgn
                + layer.bias[j]
                for sgn in (1.0, -1.0)
            ]
            lo_k.append(vals[0]), up_k.append(vals[1])
        lower.append(np.array(lo_k)), upper.append(np.array(up_k))
    return lower, upper


# clipped cases chosen so that the 0 kink alone, the cap kink alone and both kinks all occur, and
# (the last one) stable inactive, saturated and linear neurons before unstable ones
@pytest.mark.parametrize(
    "clipped, seed, cap, bias",
    [
        (False, 7, 1.0, 0.3),
        (True, 7, 0.8, 0.3),
        (True, 1, 0.8, 1.0),
        (True, 8, 1.5, 1.0),
        (True, 0, 2.0, 2.0),
    ],
)
def test_lp_bounds_equal_independent_lp(clipped, seed, cap, bias):
    pytest.importorskip("scipy")
    net = make_net([2, 5, 5, 4, 1], seed=seed, clipped=clipped, cap=cap, bias=bias)
    lb, ub = np.array([-1.0, -0.5]), np.array([1.0, 1.5])
    bb = lp_bounds(net, lb, ub)
    ref_lo, ref_up = reference_lp_bounds(net, lb, ub)
    ib = interval_bounds(net, lb, ub)
    for k in range(1, net.n_layers):
        solved = ib.unstable(k) if k < net.n_layers - 1 else np.ones(net.layers[k].n_out, bool)
        tol = 1e-6 * (1 + np.abs(ref_up[k]))
        np.testing.assert_array_less(np.abs(bb.upper[k] - ref_up[k])[solved], tol[solved])
        # the minimum is skipped for neurons the maximum proved inactive (their lower bound is
        # irrelevant)
        need_lo = solved & (bb.upper[k] > 0 if k < net.n_layers - 1 else True)
        tol = 1e-6 * (1 + np.abs(ref_lo[k]))
        np.testing.assert_array_less(np.abs(bb.lower[k] - ref_lo[k])[need_lo], tol[need_lo])


def test_dual_certificate_is_valid_for_any_multipliers():
    # min x0 + 2 x1  s.t.  1 <= x0 + x1 <= 3,  x0 - x1 <= 0.5,  0 <= x <= 2 ; optimum 1.25 at (0.75,
    # 0.25)
    lp = LayerLP(
        np.zeros(2),
        np.full(2, 2.0),
        np.array([1.0, -np.inf]),
        np.array([3.0, 0.5]),
        np.array([0, 0, 1, 1]),
        np.array([0, 1, 0, 1]),
        np.array([1.0, 1.0, 1.0, -1.0]),
        np.arange(2),
    )
    cost = np.array([1.0, 2.0])
    assert dual_certificate(lp, cost, np.array([1.5, -0.5])) == pytest.approx(1.25, abs=1e-12)
    assert dual_certificate(lp, cost, np.array([1.5, -0.5])) <= 1.25
    rng = np.random.default_rng(0)
    for y in rng.normal(scale=3.0, size=(200, 2)):
        assert dual_certificate(lp, cost, y) <= 1.25
    # a positive multiplier on the row with no finite lower side is dropped, not used with -inf
    assert np.isfinite(dual_certificate(lp, cost, np.array([0.0, 5.0])))


def test_prior_is_never_loosened_and_outputs_optional():
    net = make_net([2, 12, 12, 3], seed=3)
    lb, ub = -np.ones(2), np.ones(2)
    first = lp_bounds(net, lb, ub)
    again = lp_bounds(net, lb, ub, prior=first)
    for k in range(net.n_layers):
        assert np.all(again.lower[k] >= first.lower[k]) and np.all(again.upper[k] <= first.upper[k])
    no_out = lp_bounds(net, lb, ub, tighten_outputs=False)
    ib = interval_bounds(net, lb, ub)
    np.testing.assert_array_equal(no_out.upper[2], ib.upper[2])
    assert np.all(first.upper[2] <= ib.upper[2]) and np.any(first.upper[2] < ib.upper[2])
    only1 = lp_bounds(net, lb, ub, layers=[1])
    np.testing.assert_array_equal(only1.upper[2], ib.upper[2])
    with pytest.raises(ShapeMismatchError, match="does not contain"):
        lp_bounds(net, 2 * lb, 2 * ub, prior=first)


def test_extra_constraints_tighten_and_infeasible_raise():
    net = make_net([2, 10, 10, 1], seed=4)
    lb, ub = -np.ones(2), np.ones(2)
    extra = (np.array([[1.0, 1.0]]), -np.inf, 0.0)  # x0 + x1 <= 0
    bb = lp_bounds(net, lb, ub, extra_constraints=extra)
    x = samples(lb, ub, 50_000)
    assert_contains(net, bb, x[x.sum(axis=1) <= 0])
    plain = lp_bounds(net, lb, ub)
    assert np.sum(bb.upper[0] - bb.lower[0]) < np.sum(plain.upper[0] - plain.lower[0])
    with pytest.raises(InfeasibleBoxError):
        lp_bounds(net, lb, ub, extra_constraints=(np.array([[1.0, 1.0]]), 3.0, np.inf))
    with pytest.raises(ShapeMismatchError, match="one column per network input"):
        lp_bounds(net, lb, ub, extra_constraints=(np.ones((1, 3)), 0.0, 1.0))


def test_workers_and_executors_give_identical_bounds():
    net = make_net([3, 24, 24, 2], seed=5)
    lb, ub = -np.ones(3), np.ones(3)
    serial = lp_bounds(net, lb, ub)
    assert_same(serial, lp_bounds(net, lb, ub, workers=2))
    with ThreadPoolExecutor(2) as ex:
        assert_same(serial, lp_bounds(net, lb, ub, executor=ex))
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        assert_same(serial, lp_bounds(net, lb, ub, executor=ex))


def test_time_limit_keeps_prior_and_counts_limited():
    net = make_net([2, 12, 12, 1], seed=6)
    lb, ub = -np.ones(2), np.ones(2)
    bb = lp_bounds(net, lb, ub, time_limit=0.0)
    assert_same(bb, interval_bounds(net, lb, ub))
    assert bb.report.n_time_limited > 0 and bb.report.n_solves == 0


def test_report_and_options(capsys):
    net = make_net([2, 10, 10, 1], seed=8)
    bounds, report = tighten(net, -1, 1, method="lp", progress=True)
    text = str(report)
    assert "LP bound tightening" in text and len(text.splitlines()) == 3 + len(report.layers)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["n_solves"] == report.n_solves == sum(r["n_solves"] for r in data["layers"])
    layer1 = report.layers[0]
    assert layer1.layer == 1 and layer1.max_m_after <= layer1.max_m_before
    assert layer1.stable_after >= layer1.stable_before
    with pytest.raises(UnknownOptionError, match="milp"):
        tighten(net, -1, 1, method="simplex")
    with pytest.raises(ShapeMismatchError, match="layers 0..2"):
        lp_bounds(net, -1, 1, layers=[5])


@pytest.mark.parametrize("piecewise, greedy", [(True, True), (False, True), (True, False)])
def test_chunk_solve_order_visits_each_objective_once(piecewise, greedy):
    from pyomo_relu.bounds.parallel import _next_objective

    rng = np.random.default_rng(0)
    w = rng.normal(size=(6, 4))
    u = w / np.linalg.norm(w, axis=1)[:, None]
    todo, last, order = np.ones((6, 2), dtype=bool), None, []
    while todo.any():
        i, s = _next_objective(u @ u.T, todo, last, piecewise, greedy)
        assert todo[i, s]
        todo[i, s] = False
        order.append((i, s))
        last = (i, s)
    assert sorted(order) == [(i, s) for i in range(6) for s in (0, 1)]
    if piecewise:  # a minimum only after its maximum (the maximum may make it unnecessary)
        assert all(order.index((i, 0)) < order.index((i, 1)) for i in range(6))
    if not greedy:
        assert order == [(i, 0) for i in range(6)] + [(i, 1) for i in range(6)]
