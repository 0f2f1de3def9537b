"""Edge cases of the bound computations and of relu.tighten_bounds.

Soundness is checked against reachable pre-activations: random samples, the
box corners and, on tiny networks, witnesses from an exact enumeration of the
activation patterns (one LP per pattern and neuron; each LP's optimal input is
clipped to the box and pushed through the float64 forward pass, so it is a
genuinely reachable point).  Bad input must raise a ReluError subclass.
"""

from __future__ import annotations

import itertools
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.bounds import NeuronBounds, interval_bounds, lp_bounds, milp_bounds
from pyomo_relu.errors import (
    InfeasibleBoxError,
    MissingBoundsError,
    NotApplicableError,
    ReluError,
    ShapeMismatchError,
    TimeLimitWarning,
    UnknownOptionError,
)
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork
from tests.conftest import random_network, requires_scip
from tests.unit.test_lp_bounds import make_net

pytest.importorskip("highspy")
pytestmark = pytest.mark.solver

METHODS = {"interval": interval_bounds, "lp": lp_bounds, "milp": milp_bounds}


# -- helpers ---------------------------------------------------------------------------------
def exact_witnesses(net, lb, ub):
    """Box points attaining each neuron's extreme pre-activation, pattern by pattern."""
    from scipy.optimize import linprog

    box, n = list(zip(lb, ub)), net.n_inputs
    points, prefixes = [], [([], [], np.eye(n), np.zeros(n))]  # rows, rhs, a = M x + c
    for k, layer in enumerate(net.layers):
        grown = []
        for rows, rhs, mat, const in prefixes:
            z_mat, z_const = layer.weights @ mat, layer.weights @ const + layer.bias
            a_ub, b_ub = (np.array(rows), np.array(rhs)) if rows else (None, None)
            for j, sign in itertools.product(range(layer.n_out), (1.0, -1.0)):
                res = linprog(sign * z_mat[j], A_ub=a_ub, b_ub=b_ub, bounds=box, method="highs")
                if res.status == 0:
                    points.append(np.clip(res.x, lb, ub))
            if k == net.n_layers - 1 or not layer.activation.is_piecewise:
                grown.append((rows, rhs, z_mat, z_const))
                continue
            caps = layer.activation.caps(layer.n_out)
            states = [(0, 1) if np.isinf(c) else (0, 1, 2) for c in caps]
            for pattern in itertools.product(*states):
                r, h = list(rows), list(rhs)
                new_mat, new_const = np.zeros_like(z_mat), np.zeros_like(z_const)
                for j, state in enumerate(pattern):
                    if state == 0:  # z <= 0
                        r.append(z_mat[j]), h.append(-z_const[j])
                    elif state == 1:  # 0 <= z <= cap
                        r.append(-z_mat[j]), h.append(z_const[j])
                        if np.isfinite(caps[j]):
                            r.append(z_mat[j]), h.append(caps[j] - z_const[j])
                        new_mat[j], new_const[j] = z_mat[j], z_const[j]
                    else:  # z >= cap
                        r.append(-z_mat[j]), h.append(z_const[j] - caps[j])
                        new_const[j] = caps[j]
                res = linprog(
                    np.zeros(n), A_ub=np.array(r), b_ub=np.array(h), bounds=box, method="highs"
                )
                if res.status == 0:
                    grown.append((r, h, new_mat, new_const))
        prefixes = grown
    return np.array(points)


def reachable(net, lb, ub, *, n=3000, exact=True, seed=0):
    lb, ub = (np.broadcast_to(np.asarray(v, dtype=float), (net.n_inputs,)) for v in (lb, ub))
    rng = np.random.default_rng(seed)
    parts = [
        rng.uniform(lb, ub, size=(n, net.n_inputs)),
        np.array(list(itertools.product(*zip(lb, ub)))),
    ]
    if exact:
        pytest.importorskip("scipy")
        parts.append(exact_witnesses(net, lb, ub))
    return np.vstack(parts)


def assert_sound(net, bounds, x):
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(np.isfinite(bounds.lower[k])) and np.all(np.isfinite(bounds.upper[k]))
        assert np.all(z >= bounds.lower[k]), (
            f"layer {k}: lower bound cuts off {np.max(bounds.lower[k] - z)}"
        )
        assert np.all(z <= bounds.upper[k]), (
            f"layer {k}: upper bound cuts off {np.max(z - bounds.upper[k])}"
        )


def assert_within(bounds, prior):
    for k in range(prior.n_layers):
        assert np.all(bounds.lower[k] >= prior.lower[k]) and np.all(
            bounds.upper[k] <= prior.upper[k]
        )


def scaled(net, factors):
    return ReluNetwork(
        [DenseLayer(l.weights * f, l.bias * f, l.activation) for l, f in zip(net.layers, factors)]
    )


def edited(net, k, edit):
    layers = list(net.layers)
    w, b = edit(np.array(layers[k].weights), np.array(layers[k].bias))
    layers[k] = DenseLayer(w, b, layers[k].activation)
    return ReluNetwork(layers)


def stress_net(seed):
    """The generator of the randomized sweep that found the ill-conditioned MILP cases."""
    rng = np.random.default_rng(seed)
    n_in = int(rng.integers(1, 3))
    sizes = [n_in, int(rng.integers(2, 5)), int(rng.integers(2, 5)), 1]
    clipped = bool(rng.integers(2))
    net = make_net(sizes, seed, clipped=clipped, cap=float(rng.choice([0.3, 1.0, 3.0])))
    net = scaled(net, [10.0 ** rng.integers(-3, 7) for _ in net.layers])
    width = 10.0 ** rng.integers(-2, 7)
    lb = rng.uniform(-width, 0, n_in)
    return net, lb, lb + rng.uniform(0, 2 * width, n_in)


def silent(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TimeLimitWarning)
        return fn(*args, **kwargs)


BASE = make_net([2, 4, 4, 1], 0)
CLIPPED = make_net([2, 4, 4, 1], 3, clipped=True, cap=0.5)


def _zero_row(w, b):
    w[1], b[1] = 0.0, 0.5
    return w, b


def _zero_col(w, b):
    w[:, 0] = 0.0
    return w, b


def _dead(w, b):
    return w, b - 100.0


def _duplicate(w, b):
    w[2], b[2] = w[1], b[1]
    return w, b


def _mixed(w, b):
    w[0] *= 1e6
    w[1] *= 1e-9
    return w, b


BOX_CASES = {  # name: (network, lb, ub)
    "point box": (BASE, [0.1, 0.2], [0.1, 0.2]),
    "one degenerate input": (BASE, [0.1, -1.0], [0.1, 1.0]),
    "narrow 1e-9": (BASE, [0.1, 0.2], [0.1 + 1e-9, 0.2 + 1e-9]),
    "wide 1e6": (BASE, -1e6, 1e6),
    "single input": (make_net([1, 4, 4, 1], 1), -2.0, 3.0),
    "no hidden layer": (make_net([3, 2], 2), -1.0, 1.0),
    "zero weight row": (edited(BASE, 0, _zero_row), -1.0, 1.0),
    "zero weight column": (edited(BASE, 1, _zero_col), -1.0, 1.0),
    "dead neurons": (edited(BASE, 0, _dead), -1.0, 1.0),
    "duplicate neurons": (edited(edited(BASE, 0, _duplicate), 1, _duplicate), -1.0, 1.0),
    "huge weights": (scaled(BASE, [1e6, 1.0, 1.0]), -1.0, 1.0),
    "tiny weights": (scaled(BASE, [1e-9, 1e-9, 1e-9]), -1.0, 1.0),
    "mixed 1e6 / 1e-9 rows": (edited(BASE, 1, _mixed), -1.0, 1.0),
    "clipped": (CLIPPED, -1.0, 1.0),
    "clipped point box": (CLIPPED, [0.3, 0.3], [0.3, 0.3]),
    "clipped tiny cap": (make_net([2, 4, 4, 1], 3, clipped=True, cap=1e-9), -1.0, 1.0),
    "clipped huge cap": (make_net([2, 4, 4, 1], 3, clipped=True, cap=1e6), -1.0, 1.0),
    "relu output layer": (
        ReluNetwork([DenseLayer(l.weights, l.bias, Activation.RELU) for l in BASE.layers]),
        -1.0,
        1.0,
    ),
}


# -- soundness on degenerate boxes and adversarial weights ----------------------------------------
@pytest.mark.parametrize("case", sorted(BOX_CASES))
def test_bounds_sound_and_never_looser_than_interval(case):
    pytest.importorskip("pyscipopt")
    net, lb, ub = BOX_CASES[case]
    x = reachable(net, lb, ub)
    ib = interval_bounds(net, lb, ub)
    for method in METHODS.values():
        bounds = method(net, lb, ub)
        assert_sound(net, bounds, x)
        assert_within(bounds, ib)
    if np.all(
        np.asarray(lb) == np.asarray(ub)
    ):  # a point: every bound is (nearly) the forward value
        for z, lo, up in zip(
            net.preactivations(np.broadcast_to(lb, (1, net.n_inputs))), ib.lower, ib.upper
        ):
            (
                np.testing.assert_allclose(lo, z[0], atol=1e-12),
                np.testing.assert_allclose(up, z[0], atol=1e-12),
            )


@pytest.mark.parametrize("seed", [18, 267, 336])
def test_milp_bounds_sound_on_ill_conditioned_networks(seed):
    # weights and boxes spanning 1e-3..1e6: SCIP's dual bound once cut off reachable values here
    pytest.importorskip("pyscipopt")
    net, lb, ub = stress_net(seed)
    x = reachable(net, lb, ub, n=500)
    ib = interval_bounds(net, lb, ub)
    for prior in (ib, None):
        bounds = milp_bounds(net, lb, ub, prior=prior)
        assert_sound(net, bounds, x)
        assert_within(bounds, ib)


def test_milp_bounds_sound_on_wide_clipped_box():
    # a 1e6 box around a clipped network whose extremes sit in a region of width ~1 near the origin
    pytest.importorskip("pyscipopt")
    x = reachable(CLIPPED, -1e6 * np.ones(2), 1e6 * np.ones(2))
    assert_sound(CLIPPED, milp_bounds(CLIPPED, -1e6, 1e6), x)


def test_scip_failures_keep_the_prior_instead_of_raising():
    # SCIP fails ("error in LP solver") or claims infeasibility on these; the bounds stay sound
    pytest.importorskip("pyscipopt")
    nets = [scaled(BASE, [1e6, 1e6, 1e6]), scaled(make_net([2, 5, 5, 1], 12), [1e6, 1e6, 1.0])]
    for net in nets:
        ib = interval_bounds(net, -1, 1)
        bounds = milp_bounds(net, -1, 1)
        assert_sound(net, bounds, reachable(net, -1, 1, n=2000))
        assert_within(bounds, ib)


# -- bad boxes, priors and options ---------------------------------------------------------------
@pytest.mark.parametrize("method", sorted(METHODS))
@pytest.mark.parametrize(
    "lb, ub, error, match",
    [
        ([1.0, 1.0], [0.0, 0.0], InfeasibleBoxError, r"lb\[0\] = 1.0 > ub\[0\] = 0.0"),
        ([np.nan, 0.0], [1.0, 1.0], MissingBoundsError, r"lb\[0\].*is nan"),
        ([-np.inf, 0.0], [1.0, 1.0], MissingBoundsError, r"lb\[0\].*is -inf"),
        (None, [1.0, 1.0], MissingBoundsError, "lb is missing"),
        ([None, 0.0], [1.0, 1.0], MissingBoundsError, "finite bound"),
        (
            [0.0, 0.0, 0.0],
            [1.0, 1.0, 1.0],
            ShapeMismatchError,
            "3 entries but the network has 2 inputs",
        ),
        ("a", 1.0, MissingBoundsError, "cannot be read as numbers"),
        (-1e308, 1e308, NotApplicableError, "overflow float64"),
    ],
)
def test_bad_boxes_raise_clear_errors(method, lb, ub, error, match):
    net = make_net([2, 6, 6, 1], 0)
    with pytest.raises(error, match=match):
        METHODS[method](net, lb, ub)


def test_prior_validation_and_use():
    net = make_net([2, 6, 6, 1], 0)
    ib = interval_bounds(net, -1, 1)
    with pytest.raises(UnknownOptionError, match="prior: expected NeuronBounds"):
        lp_bounds(net, -1, 1, prior=3)
    with pytest.raises(ShapeMismatchError, match="do not match the network"):
        lp_bounds(net, -1, 1, prior=interval_bounds(make_net([2, 5, 6, 1], 0), -1, 1))
    cut = lambda arrays: [a[:3] if k == 1 else a for k, a in enumerate(arrays)]  # noqa: E731
    short = NeuronBounds(
        ib.input_lb, ib.input_ub, cut(ib.lower), cut(ib.upper), ib.provenance, cut(ib.caps)
    )
    with pytest.raises(ShapeMismatchError, match="do not match the network"):
        lp_bounds(net, -1, 1, prior=short)
    # bounds that are not consistent in themselves cannot even be built
    for lower, upper in ((ib.lower[1][:3], ib.upper[1]), (ib.lower[1], ib.upper[1][:3])):
        with pytest.raises(ShapeMismatchError, match="layer 1 has"):
            ib.with_layer(1, lower, upper)
    with pytest.raises(MissingBoundsError, match="layer 1 entry 0"):
        ib.with_layer(1, np.full(6, np.nan), ib.upper[1])
    with pytest.raises(InfeasibleBoxError, match="layer 1 entry 0 has lower bound"):
        ib.with_layer(1, ib.upper[1] + 1.0, ib.upper[1])
    with pytest.raises(ShapeMismatchError, match="does not contain"):
        lp_bounds(net, -1, 1, prior=interval_bounds(net, -0.5, 0.5))
    # a prior for a larger box, or one tighter than interval arithmetic, is used and never loosened
    wide = interval_bounds(net, -2, 2)
    assert_within(lp_bounds(net, -1, 1, prior=wide), ib)
    tight = lp_bounds(net, -1, 1, prior=lp_bounds(net, -1, 1))
    assert_within(lp_bounds(net, -1, 1, prior=tight), tight)
    assert_sound(net, tight, reachable(net, [-1, -1], [1, 1], exact=False))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"workers": 0}, "workers: expected an integer >= 1"),
        ({"workers": "two"}, "workers: expected an integer >= 1"),
        ({"workers": 1.5}, "workers: expected an integer >= 1"),
        ({"time_limit": -1}, "lp_bounds: time_limit must be a number of seconds >= 0"),
        ({"time_limit": float("nan")}, "lp_bounds: time_limit must be .* found nan"),
        ({"time_limit": "x"}, "lp_bounds: time_limit must be .* found .x."),
        ({"executor": 3}, "executor: expected a concurrent.futures.Executor"),
        ({"layers": "a"}, "layers: expected layer indices"),
    ],
)
def test_bad_options_raise_clear_errors(kwargs, match):
    net = make_net([2, 6, 6, 1], 0)
    with pytest.raises(UnknownOptionError, match=match):
        lp_bounds(net, -1, 1, **kwargs)
    assert lp_bounds(net, -1, 1, layers=1).methods[1] == "lp"  # a single layer index is accepted


def test_bad_milp_options_raise_clear_errors():
    pytest.importorskip("pyscipopt")
    net = make_net([2, 6, 6, 1], 0)
    for value in (0, -1, float("nan"), "x"):
        with pytest.raises(UnknownOptionError, match="time_limit_per_neuron"):
            milp_bounds(net, -1, 1, time_limit_per_neuron=value)


@pytest.mark.parametrize(
    "extra, error, match",
    [
        ((np.array([[1.0, 1.0]]), 3.0, np.inf), InfeasibleBoxError, "no input in the box"),
        ((np.zeros((1, 2)), 1.0, 2.0), InfeasibleBoxError, "no input in the box"),
        (
            (np.array([[1.0, 1.0]]), np.inf, np.inf),
            InfeasibleBoxError,
            "row 0 asks inf <= A x <= inf",
        ),
        ((np.array([[1.0, 1.0]]), 1.0, 0.0), InfeasibleBoxError, "row 0 asks 1.0 <= A x <= 0.0"),
        (("a", 0.0, 1.0), ShapeMismatchError, "must be numeric arrays"),
        ((np.ones((2, 2)), [0.0, 0.0, 0.0], 1.0), ShapeMismatchError, "expected shape"),
        ((np.array([[np.nan, 1.0]]), 0.0, 1.0), ShapeMismatchError, "must be finite"),
        (3, ShapeMismatchError, "expected a tuple"),
    ],
)
def test_bad_extra_constraints_raise_clear_errors(extra, error, match):
    pytest.importorskip("pyscipopt")
    net = make_net([2, 6, 6, 1], 0)
    for method in (lp_bounds, milp_bounds):
        with pytest.raises(error, match=match):
            method(net, -1, 1, extra_constraints=extra)


def test_equality_and_empty_extra_constraints():
    net = make_net([2, 6, 6, 1], 0)
    bounds = lp_bounds(net, -1, 1, extra_constraints=(np.array([[1.0, -1.0]]), 0.25, 0.25))
    t = np.linspace(-0.75, 1.0, 20_001)
    assert_sound(net, bounds, np.column_stack([t, t - 0.25]))
    empty = lp_bounds(net, -1, 1, extra_constraints=(np.zeros((0, 2)), [], []))
    plain = lp_bounds(net, -1, 1)
    for k in range(net.n_layers):
        np.testing.assert_array_equal(empty.upper[k], plain.upper[k])


# -- executors, progress and time limits ---------------------------------------------------------
def test_workers_executors_and_progress_give_identical_sound_bounds():
    net = make_net([3, 20, 20, 2], 5)
    serial = lp_bounds(net, -1, 1)
    runs = [lp_bounds(net, -1, 1, workers=2), lp_bounds(net, -1, 1, progress=True)]
    with ThreadPoolExecutor(2) as ex:
        runs.append(lp_bounds(net, -1, 1, executor=ex))
    with ProcessPoolExecutor(2) as ex:
        runs.append(lp_bounds(net, -1, 1, executor=ex))
    for other in runs:
        for k in range(net.n_layers):
            np.testing.assert_array_equal(other.lower[k], serial.lower[k])
            np.testing.assert_array_equal(other.upper[k], serial.upper[k])
    assert_sound(net, serial, reachable(net, -np.ones(3), np.ones(3), exact=False))


def test_milp_with_executors_is_sound():
    pytest.importorskip("pyscipopt")
    net = make_net([2, 6, 6, 1], 6)
    ib = interval_bounds(net, -1, 1)
    x = reachable(net, [-1, -1], [1, 1])
    with ThreadPoolExecutor(2) as ex:
        threaded = milp_bounds(net, -1, 1, executor=ex, progress=True)
    for bounds in (threaded, milp_bounds(net, -1, 1, workers=2)):
        assert_sound(net, bounds, x)
        assert_within(bounds, ib)


@pytest.mark.parametrize(
    "method, kwargs",
    [
        ("lp", {"time_limit": 0.001}),
        ("milp", {"time_limit": 0.001}),
        ("milp", {"time_limit_per_neuron": 0.001, "prior": "interval"}),
    ],
)
def test_tiny_time_limits_warn_and_stay_sound(method, kwargs):
    if method == "milp":
        pytest.importorskip("pyscipopt")
    net = make_net([3, 40, 40, 1], 7)
    ib = interval_bounds(net, -1, 1)
    if kwargs.get("prior") == "interval":
        kwargs = {**kwargs, "prior": ib}
    with pytest.warns(TimeLimitWarning, match="time limit"):
        bounds = METHODS[method](net, -1, 1, **kwargs)
    assert bounds.report.n_time_limited > 0
    assert_within(bounds, ib)
    assert_sound(net, bounds, reachable(net, -np.ones(3), np.ones(3), exact=False))


# -- relu.tighten_bounds -------------------------------------------------------------------------
def _xf():
    return pyo.TransformationFactory("relu.tighten_bounds")


def _model(net, *, formulation="bigm", budget=True):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    if budget:
        m.budget = pyo.Constraint(expr=sum(m.x.values()) <= 0.5)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    return m


def _solve(m, blk):
    pyo.SolverFactory("scip_direct").solve(m)
    assert blk.prediction_error() < 1e-6  # the solution is the network's forward pass
    return pyo.value(m.obj)


def _sound_on(net, bounds, x):
    assert len(x) > 100
    assert_sound(net, bounds, x)


@requires_scip
@pytest.mark.parametrize("method", ["interval", "lp", "milp"])
@pytest.mark.parametrize("context", ["network", "model"])
def test_transformation_keeps_identity_soundness_and_optimum(method, context):
    net = random_network((2, 10, 10, 1), seed=11)
    m = _model(net)
    before, opt = m.nn.bounds, _solve(m, m.nn)
    x_var, out_var, inputs = m.x[0], m.nn.outputs[0], m.nn.inputs
    _xf().apply_to(m, method=method, context=context, time_limit_per_neuron=2.0)
    assert m.nn.inputs[0] is x_var and m.nn.outputs[0] is out_var and m.nn.inputs is inputs
    assert_within(m.nn.bounds, before)
    x = np.random.default_rng(0).uniform(-1, 1, (20_000, 2))
    _sound_on(net, m.nn.bounds, x[x.sum(axis=1) <= 0.5])
    assert _solve(m, m.nn) == pytest.approx(opt, abs=1e-6)


@requires_scip
def test_model_context_with_user_constraints_integers_and_nonlinear_rows():
    net = random_network((2, 12, 12, 2), seed=12)
    m = _model(net, budget=False)
    m.k = pyo.Var(domain=pyo.Integers, bounds=(0, 4))
    m.on = pyo.Var(domain=pyo.Binary)
    m.free = pyo.Var(bounds=(0, 1))
    m.free.fix(0.5)
    m.eq = pyo.Constraint(
        expr=m.x[0] - m.x[1] == 0.5 * m.free - 0.25
    )  # x0 - x1 == 0, fixed var a constant
    m.ineq = pyo.Constraint(expr=m.x[0] <= 0.25 * m.k - 0.5)  # via an integer
    m.pick = pyo.Constraint(expr=m.x[1] >= -1 + 0.5 * m.on)  # via a binary
    m.curve = pyo.Constraint(expr=m.x[0] ** 2 + pyo.exp(m.x[1]) <= 5.0)  # nonlinear: ignored
    m.off = pyo.Constraint(expr=m.x[0] >= 0.9)  # deactivated: must not be used
    m.off.deactivate()
    cap = float(
        np.quantile(net.forward(np.random.default_rng(0).uniform(-1, 1, (4000, 2)))[:, 1], 0.5)
    )
    m.out_cap = pyo.Constraint(expr=m.nn.outputs[1] <= cap)
    before, opt = m.nn.bounds, _solve(m, m.nn)
    _xf().apply_to(m, method="lp", context="model")
    after = m.nn.bounds
    assert_within(after, before)
    assert "lp-model" in after.methods
    t = np.random.default_rng(1).uniform(-1, 1, 100_000)
    x = np.column_stack([t, t])
    x = x[(x[:, 0] ** 2 + np.exp(x[:, 1]) <= 5.0) & (net.forward(x)[:, 1] <= cap)]
    _sound_on(net, after, x)
    assert _solve(m, m.nn) == pytest.approx(opt, abs=1e-6)
    assert (
        m.k.domain is pyo.Integers and m.on.domain is pyo.Binary
    )  # only the internal clone was relaxed
    assert m.off.active is False and m.free.fixed


@requires_scip
@pytest.mark.parametrize("formulation", ["scaled_bigm", "regions"])
def test_model_context_with_scaled_and_region_formulations(formulation):
    net = random_network((2, 6, 6, 1), seed=1)
    m = _model(net, formulation=formulation, budget=False)
    opt = _solve(m, m.nn)
    _xf().apply_to(m, method="lp", context="model")
    _sound_on(net, m.nn.bounds, np.random.default_rng(0).uniform(-1, 1, (20_000, 2)))
    assert m.nn.formulation == formulation
    assert _solve(m, m.nn) == pytest.approx(opt, abs=1e-6)


@requires_scip
def test_model_context_with_relu_output_layer():
    net = random_network((2, 6, 6, 2), seed=3, relu_output=True)
    m = _model(net, budget=False)
    opt = _solve(m, m.nn)
    _xf().apply_to(m, method="lp", context="model")
    _sound_on(net, m.nn.bounds, np.random.default_rng(0).uniform(-1, 1, (20_000, 2)))
    assert _solve(m, m.nn) == pytest.approx(opt, abs=1e-6)


@requires_scip
def test_infeasible_constraints_raise_infeasible_box_error():
    net = random_network((2, 6, 1), seed=1)
    for method in ("lp", "milp"):
        m = _model(net, budget=False)
        m.bad = pyo.Constraint(expr=m.x[0] + m.x[1] >= 2.5)
        with pytest.raises(InfeasibleBoxError, match="no input in the box"):
            _xf().apply_to(m, method=method)
    m = _model(net, budget=False)
    m.bad = pyo.Constraint(expr=m.nn.outputs[0] >= 1e6)  # only the whole-model context sees it
    _xf().apply_to(m, method="lp")
    with pytest.raises(InfeasibleBoxError, match="admit no point"):
        _xf().apply_to(m, method="lp", context="model")


@requires_scip
def test_shared_inputs_indexed_blocks_and_targets():
    net = random_network((2, 8, 8, 1), seed=4)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.a = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.b = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.y = pyo.Var([0, 1], range(2), bounds=(-1, 1))
    m.c = pr.ReluNetworkBlock([0, 1], network=net, inputs=m.y)
    m.sub = pyo.Block()
    m.sub.d = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.obj = pyo.Objective(
        expr=m.a.outputs[0]
        + m.b.outputs[0]
        + m.c[0].outputs[0]
        - m.c[1].outputs[0]
        + m.sub.d.outputs[0],
        sense=pyo.maximize,
    )
    opt = pyo.value(pyo.SolverFactory("scip_direct").solve(m) and m.obj)
    xf = _xf()
    xf.apply_to(m, method="lp", targets=m.a)  # a single block, not in a list
    assert m.a.bounds.methods[1] == "lp" and m.b.bounds.methods[1] == "interval"
    xf.apply_to(m, method="lp", targets=m.c)  # an indexed block
    assert all(m.c[i].bounds.methods[1] == "lp" for i in (0, 1))
    xf.apply_to(m, method="interval", targets=[m.b, m.sub])
    assert m.sub.d.bounds.methods[1] == "interval"
    xf.apply_to(m, method="milp", time_limit_per_neuron=1.0, targets=[m.sub])
    assert m.sub.d.bounds.methods[1] == "milp"
    xf.apply_to(m, method="lp", context="model")
    x = np.random.default_rng(0).uniform(-1, 1, (20_000, 2))
    for blk in (m.a, m.b, m.c[0], m.c[1], m.sub.d):
        _sound_on(net, blk.bounds, x)
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(opt, abs=1e-6)
    for blk in (m.a, m.b, m.c[0], m.c[1], m.sub.d):
        assert blk.prediction_error() < 1e-6


@requires_scip
@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"targets": "nn"}, "targets='nn' is not a block"),
        ({"targets": 5}, "targets=5 is not a block"),
        ({"targets": ["nn"]}, "target 'nn' is a str, not a block"),
        ({"targets": "x"}, "is not a block"),
        ({"targets": []}, "no ReluNetworkBlock"),
        ({"method": None}, "method=None is not allowed"),
        ({"method": "simplex"}, "method"),
        ({"context": None}, "context=None"),
        ({"workers": 0}, "workers"),
        ({"workers": 1.5}, "workers"),
        ({"time_limit": -1}, "time_limit"),
        ({"time_limit": float("nan")}, "time_limit"),
        ({"time_limit_per_neuron": 0}, "time_limit_per_neuron"),
        ({"progress": "maybe"}, "progress"),
        ({"solver": 3}, "solver"),
        ({"method_": "lp"}, "Valid options"),
    ],
)
def test_transformation_bad_options_raise_clear_errors(kwargs, match):
    m = _model(random_network((2, 6, 1), seed=1))
    with pytest.raises(UnknownOptionError, match=match):
        _xf().apply_to(m, **kwargs)
    with pytest.raises(UnknownOptionError, match="target 'x\\[0\\]' is a VarData"):
        _xf().apply_to(m, targets=m.x)
    with pytest.raises(pr.SolverUnavailableError, match="not available"):
        _xf().apply_to(m, context="model", solver="no_such_solver")
    assert set(m.nn.bounds.methods) == {"interval"}  # a rejected call changes nothing


@requires_scip
def test_create_using_leaves_the_original_alone_and_time_limits_warn():
    net = random_network((2, 16, 16, 1), seed=2)
    m = _model(net)
    opt = _solve(m, m.nn)
    new = _xf().create_using(m, method="lp")
    assert new is not m and set(m.nn.bounds.methods) == {"interval"}
    assert (
        new.nn.bounds.methods[1] == "lp-constrained"
    )  # the model's budget row on the inputs was used
    assert _solve(new, new.nn) == pytest.approx(opt, abs=1e-6)
    for method in ("lp", "milp"):
        limited = _model(net)
        with pytest.warns(TimeLimitWarning):
            _xf().apply_to(limited, method=method, time_limit=0.001)
        assert _solve(limited, limited.nn) == pytest.approx(opt, abs=1e-6)


def test_errors_are_relu_errors():
    for error in (
        InfeasibleBoxError,
        MissingBoundsError,
        NotApplicableError,
        ShapeMismatchError,
        UnknownOptionError,
    ):
        assert issubclass(error, ReluError) and issubclass(error, ValueError)
