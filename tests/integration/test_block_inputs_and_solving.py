"""Edge cases of ReluNetworkBlock, the formulations, solve_model and the CLI.

Every optimum is checked twice: the outputs equal the network's forward pass
at the optimal inputs, and the optimum equals the best value on a dense grid
(or an enumeration) of the box, up to the grid's Lipschitz slack.  Bad input
must raise a ``ReluError`` that names the component and the fix.
"""

from __future__ import annotations

import copy
import itertools
import pickle
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.errors import BlockArgumentError, NoValueError
from pyomo_relu.formulations import Auto, Regions
from pyomo_relu.solving import solve_model
from tests.conftest import outside_scope, random_network, requires_scip

ROOT = Path(__file__).resolve().parents[2]
PEAKS = ROOT / "examples" / "data" / "peaks.onnx"
FORMULATIONS = pr.formulation_names()
solver_test = [pytest.mark.solver, requires_scip]


# -- helpers ---------------------------------------------------------------------
def _dense(w, b, act=Activation.RELU):
    return DenseLayer(np.asarray(w, float), np.asarray(b, float), act)


def _box_points(lb, ub, n_total=200_000):
    """A dense grid of the box (free inputs only vary); plus its spacing in the max-norm."""
    lb, ub = np.asarray(lb, float), np.asarray(ub, float)
    free = np.flatnonzero(ub > lb)
    per_axis = max(2, int(round(n_total ** (1 / max(1, free.size)))))
    axes = [
        np.linspace(lb[i], ub[i], per_axis) if i in free else np.array([lb[i]])
        for i in range(lb.size)
    ]
    pts = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, lb.size)
    h = max(((ub - lb)[free] / (per_axis - 1)).max(), 0.0) if free.size else 0.0
    return pts, h


def _lipschitz(net, c):
    """Max-norm Lipschitz constant of ``c @ net(x)`` (ReLUs are 1-Lipschitz)."""
    norms = [np.abs(layer.weights).sum(axis=1).max() for layer in net.layers]
    return float(np.abs(c).sum() * np.prod(norms))


def _model(net, lb, ub, formulation="bigm", **kw):
    m = pyo.ConcreteModel()
    # a dict, not a lambda, so that the model pickles
    m.x = pyo.Var(
        range(net.n_inputs), bounds={i: (float(lb[i]), float(ub[i])) for i in range(net.n_inputs)}
    )
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation, **kw)
    return m


def _check_optimum(m, net, lb, ub, c, sense):
    """Forward check and dense-grid check of ``min/max c @ outputs``."""
    opt = pyo.value(m.obj)
    x = m.nn.input_values()
    assert np.all(x >= np.asarray(lb) - 1e-7) and np.all(x <= np.asarray(ub) + 1e-7)
    scale = 1.0 + abs(opt)
    assert m.nn.prediction_error() < 1e-6 * scale
    assert abs(float(c @ net.forward(x)) - opt) < 1e-6 * scale
    pts, h = _box_points(lb, ub)
    values = net.forward(pts) @ c
    best = values.min() if sense == pyo.minimize else values.max()
    slack = _lipschitz(net, c) * h / 2 + 1e-6 * scale
    if sense == pyo.minimize:
        assert best - slack <= opt <= best + 1e-6 * scale
    else:
        assert best - 1e-6 * scale <= opt <= best + slack
    return opt


def _solve_direct(m, solver="scip_direct"):
    pyo.SolverFactory(solver).solve(m)


# -- unusual networks: every formulation, forward pass and grid ---------------------
def _edge_cases():
    rng = np.random.default_rng(42)
    lin = Activation.LINEAR
    return {
        "affine 3 inputs": (
            ReluNetwork([_dense([[1.0, -2.0, 0.5]], [0.3], lin)]),
            [-1, -1, -1],
            [1, 1, 1],
        ),
        "affine 2 outputs": (
            ReluNetwork([_dense([[1.0, -2.0], [0.0, 0.0]], [0.3, -1.0], lin)]),
            [-1, 0],
            [1, 2],
        ),
        "single neuron": (
            ReluNetwork([_dense([[2.0]], [0.5]), _dense([[1.0]], [0.0], lin)]),
            [-1],
            [1],
        ),
        "single relu output": (ReluNetwork([_dense([[2.0]], [0.5])]), [-1], [1]),
        "single clipped output": (
            ReluNetwork([_dense([[2.0]], [0.5], Activation.CLIPPED_RELU(1.0))]),
            [-1],
            [1],
        ),
        "all active": (
            ReluNetwork([_dense([[1.0], [2.0]], [5.0, 5.0]), _dense([[1.0, -1.0]], [0.0], lin)]),
            [-1],
            [1],
        ),
        "all dead": (
            ReluNetwork(
                [_dense([[1.0, 1.0], [2.0, -1.0]], [-5.0, -5.0]), _dense([[1.0, -1.0]], [0.3], lin)]
            ),
            [-1, -1],
            [1, 1],
        ),
        "all dead, relu output": (
            ReluNetwork([_dense([[1.0], [2.0]], [-5.0, -5.0]), _dense([[1.0, -1.0]], [-0.3])]),
            [-1],
            [1],
        ),
        "zero weights": (
            ReluNetwork(
                [_dense(np.zeros((3, 2)), [0.0, 1.0, -1.0]), _dense(np.ones((1, 3)), [0.0], lin)]
            ),
            [-1, -1],
            [1, 1],
        ),
        "clipped saturated": (
            ReluNetwork(
                [
                    _dense([[1.0], [1.0]], [5.0, 0.0], Activation.CLIPPED_RELU(1.0)),
                    _dense([[1.0, 1.0]], [0.0], lin),
                ]
            ),
            [-1],
            [1],
        ),
        "clipped, relu output": (
            random_network((2, 6, 6, 2), seed=4, clipped=True, cap=0.5, relu_output=True),
            [-1, -1],
            [1, 1],
        ),
        "relu output, 3 outputs": (
            random_network((2, 5, 3), seed=3, relu_output=True),
            [-1, -1],
            [1, 1],
        ),
        "huge weights": (
            ReluNetwork(
                [
                    _dense(rng.normal(size=(5, 2)) * 1e4, rng.normal(size=5) * 1e4),
                    _dense(rng.normal(size=(1, 5)) * 1e3, [0.0], lin),
                ]
            ),
            [-1, -1],
            [1, 1],
        ),
        "tiny weights": (
            ReluNetwork(
                [
                    _dense(rng.normal(size=(5, 2)) * 1e-5, rng.normal(size=5) * 1e-5),
                    _dense(rng.normal(size=(1, 5)) * 1e-5, [0.0], lin),
                ]
            ),
            [-1, -1],
            [1, 1],
        ),
        "5 inputs": (random_network((5, 6, 1), seed=6), [-1] * 5, [1] * 5),
        "2 free of 4": (random_network((4, 6, 6, 1), seed=7), [-1, 0.3, -1, 0.5], [1, 0.3, 1, 0.5]),
        "every input fixed": (
            random_network((3, 6, 1), seed=5),
            [0.1, 0.2, -0.3],
            [0.1, 0.2, -0.3],
        ),
    }


EDGE = _edge_cases()


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", FORMULATIONS)
@pytest.mark.parametrize("case", list(EDGE))
def test_unusual_network_optimum_equals_forward_and_grid(case, formulation):
    net, lb, ub = EDGE[case]
    lb, ub = np.asarray(lb, float), np.asarray(ub, float)
    if formulation == "regions" and int(np.sum(ub > lb)) > 2:
        with pytest.raises(
            pr.NotApplicableError, match=r"nn \(formulation 'regions'\).*free inputs"
        ):
            _model(net, lb, ub, formulation)
        return
    refused = outside_scope(formulation, net)
    if refused:  # sos1 on a clipped-ReLU network
        with pytest.raises(pr.NotApplicableError, match=refused):
            _model(net, lb, ub, formulation)
        return
    m = _model(net, lb, ub, formulation)
    c = np.random.default_rng(len(case)).choice([-1.0, 1.0], size=net.n_outputs)
    sense = pyo.minimize if len(case) % 2 else pyo.maximize
    m.obj = pyo.Objective(
        expr=sum(float(c[j]) * m.nn.outputs[j] for j in range(net.n_outputs)), sense=sense
    )
    _solve_direct(m)
    _check_optimum(m, net, lb, ub, c, sense)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", ["bigm", "scaled_bigm", "regions"])
def test_inputs_that_no_row_uses_still_get_values(formulation):
    """A network that ignores an input: the input is still in the model, so the solver sets it."""
    net, lb, ub = EDGE["all dead"]
    m = _model(net, np.asarray(lb, float), np.asarray(ub, float), formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    _solve_direct(m)
    assert np.all(np.isfinite(m.nn.input_values()))
    assert m.nn.prediction_error() < 1e-9


# -- the user's inputs in every shape ----------------------------------------------
NET2 = random_network((2, 8, 8, 1), seed=12)


def _minimum_on_grid(net, lb, ub):
    pts, h = _box_points(lb, ub)
    return net.forward(pts)[:, 0].min(), _lipschitz(net, np.ones(1)) * h / 2


def _input_shapes():
    def indexed_strings(m):
        m.v = pyo.Var(["pressure", "temperature"], bounds=(-1, 1))
        return m.v, [m.v["pressure"], m.v["temperature"]]

    def var_list(m):
        m.a, m.b = pyo.Var(bounds=(-1, 1)), pyo.Var(bounds=(-1, 1))
        return [m.a, m.b], [m.a, m.b]

    def reference(m):
        m.v = pyo.Var(range(4), bounds=(-1, 1))
        m.r = pyo.Reference({0: m.v[1], 1: m.v[3]})
        return m.r, [m.v[1], m.v[3]]

    def dict_by_position(m):
        m.v = pyo.Var(range(2), bounds=(-1, 1))
        return {1: m.v[1], 0: m.v[0]}, [m.v[0], m.v[1]]

    def dict_by_name(m):
        m.v = pyo.Var(range(2), bounds=(-1, 1))
        return {"x1": m.v[0], "x0": m.v[1]}, [m.v[1], m.v[0]]

    def generator(m):
        m.v = pyo.Var(range(2), bounds=(-1, 1))
        return (m.v[i] for i in range(2)), [m.v[0], m.v[1]]

    def callable_(m):
        m.v = pyo.Var(range(2), bounds=(-1, 1))
        return lambda: [m.v[0], m.v[1]], [m.v[0], m.v[1]]

    return {
        f.__name__: f
        for f in (
            indexed_strings,
            var_list,
            reference,
            dict_by_position,
            dict_by_name,
            generator,
            callable_,
        )
    }


INPUT_SHAPES = _input_shapes()


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("shape", list(INPUT_SHAPES))
def test_user_inputs_in_every_shape(shape):
    m = pyo.ConcreteModel()
    spec, expected = INPUT_SHAPES[shape](m)
    m.nn = pr.ReluNetworkBlock(network=NET2, inputs=spec)
    assert all(a is b for a, b in zip(m.nn.inputs.values(), expected))
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    _solve_direct(m)
    best, slack = _minimum_on_grid(NET2, [-1, -1], [1, 1])
    assert best - slack <= pyo.value(m.obj) <= best + 1e-7
    assert m.nn.prediction_error() < 1e-6


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", ["bigm", "tightened_scaled_bigm", "regions"])
def test_fixed_variables_and_degenerate_boxes(formulation):
    net = random_network((3, 6, 6, 1), seed=13)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(-1, 1))
    m.x[1].setlb(0.25)
    m.x[1].setub(0.25)  # lb == ub: not a free input
    m.x[2].fix(-0.5)  # fixed, but its box stays [-1, 1]: the block stays valid if it is unfixed
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    _solve_direct(m)
    assert m.nn.input_values()[1:] == pytest.approx([0.25, -0.5])
    axis = np.linspace(-1, 1, 200_001)
    best = net.forward(np.column_stack([axis, np.full_like(axis, 0.25), np.full_like(axis, -0.5)]))[
        :, 0
    ].max()
    assert best - 1e-6 <= pyo.value(m.obj) <= best + 1e-4
    assert m.nn.prediction_error() < 1e-6


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("domain", [pyo.Integers, pyo.Binary])
@pytest.mark.parametrize("formulation", ["bigm", "regions"])
def test_integer_and_binary_inputs_match_enumeration(domain, formulation):
    net = random_network((2, 8, 8, 1), seed=14)
    hi = 1 if domain is pyo.Binary else 3
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), domain=domain, bounds=(0 if domain is pyo.Binary else -3, hi))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    _solve_direct(m)
    lo = 0 if domain is pyo.Binary else -3
    points = np.array(list(itertools.product(range(lo, hi + 1), repeat=2)), dtype=float)
    assert pyo.value(m.obj) == pytest.approx(net.forward(points)[:, 0].max(), abs=1e-6)
    assert np.abs(m.nn.input_values() - np.round(m.nn.input_values())).max() < 1e-6
    assert m.nn.prediction_error() < 1e-6


@pytest.mark.solver
@requires_scip
def test_input_bounds_tighter_and_looser_than_the_variables():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.y = pyo.Var(range(2), bounds=(-0.5, 0.5))
    m.tight = pr.ReluNetworkBlock(network=NET2, inputs=m.x, input_bounds=([-0.2, -0.3], [0.1, 0.4]))
    m.loose = pr.ReluNetworkBlock(network=NET2, inputs=m.y, input_bounds=(-5, 5))
    assert m.tight.mip.component("input_box") is not None  # the tighter box is enforced by rows
    assert m.loose.mip.component("input_box") is None and m.loose.bounds.input_ub.tolist() == [
        0.5,
        0.5,
    ]
    assert [v.bounds for v in m.x.values()] == [
        (-1, 1),
        (-1, 1),
    ]  # the user's variables are not touched
    m.obj = pyo.Objective(expr=m.tight.outputs[0] + m.loose.outputs[0])
    _solve_direct(m)
    best_t, slack_t = _minimum_on_grid(NET2, [-0.2, -0.3], [0.1, 0.4])
    best_l, slack_l = _minimum_on_grid(NET2, [-0.5, -0.5], [0.5, 0.5])
    assert best_t + best_l - slack_t - slack_l <= pyo.value(m.obj) <= best_t + best_l + 1e-7
    assert m.tight.prediction_error() < 1e-6 and m.loose.prediction_error() < 1e-6


# -- bad input: clear package errors -----------------------------------------------------
def _build(**kw):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.p = pyo.Param(range(2), initialize=0.5, mutable=True)
    m.u = pyo.Var(range(2))
    m.s = pyo.Var(["a", "b"], ["p", "q"], bounds=(0, 1))
    spec = kw.pop("inputs", None)
    m.nn = pr.ReluNetworkBlock(
        network=kw.pop("network", NET2), inputs=spec(m) if callable(spec) else spec, **kw
    )
    return m


BAD_INPUT = [
    (
        "no bounds on own inputs",
        dict(),
        pr.MissingBoundsError,
        r"nn: input 0 .*bounds \(None, None\).*input_bounds",
    ),
    (
        "no bounds on user inputs",
        dict(inputs=lambda m: m.u),
        pr.MissingBoundsError,
        r"variable u\[0\].*set them",
    ),
    (
        "infinite input bound",
        dict(input_bounds=([-1, -np.inf], [1, 1])),
        pr.MissingBoundsError,
        r"nn input_bounds: lb\[1\] .* is -inf",
    ),
    (
        "one bound only",
        dict(input_bounds=[0.0]),
        pr.MissingBoundsError,
        r"must be a pair \(lb, ub\)",
    ),
    (
        "wrong length",
        dict(inputs=lambda m: [m.x[0]]),
        pr.ShapeMismatchError,
        r"nn: inputs must be 2 .*found 1",
    ),
    (
        "wrong input_bounds length",
        dict(input_bounds=([0, 0, 0], [1, 1, 1])),
        pr.ShapeMismatchError,
        r"nn input_bounds: lb has 3 entries but the network has 2",
    ),
    (
        "expression",
        dict(inputs=lambda m: [m.x[0], 2 * m.x[1]]),
        pr.ShapeMismatchError,
        r"nn: input 1 must be a Pyomo variable, found the expression 2\*x\[1\].*constraint",
    ),
    (
        "a number",
        dict(inputs=lambda m: [m.x[0], 3.0]),
        pr.ShapeMismatchError,
        r"input 1 .* found the number 3.0",
    ),
    ("a Param", dict(inputs=lambda m: m.p), pr.ShapeMismatchError, r"found p \(IndexedParam\)"),
    (
        "an integer",
        dict(inputs=5),
        pr.ShapeMismatchError,
        r"nn: inputs must be Pyomo variables .* number 5",
    ),
    (
        "dict with other keys",
        dict(inputs=lambda m: {"a": m.x[0], "b": m.x[1]}),
        pr.ShapeMismatchError,
        r"keyed by input position 0\.\.1 or by the network's input names \['x0', 'x1'\]",
    ),
    (
        "2-D Var for a scalar block",
        dict(inputs=lambda m: m.s),
        pr.ShapeMismatchError,
        r"found 4 item",
    ),
    (
        "empty box",
        dict(inputs=lambda m: m.x, input_bounds=([2, 2], [3, 3])),
        pr.InfeasibleBoxError,
        r"lb\[0\] = 2.0 > ub\[0\] = 1.0",
    ),
    (
        "network is a path",
        dict(network="net.onnx", input_bounds=(0, 1)),
        BlockArgumentError,
        r"nn: network must be a pyomo_relu.ReluNetwork, found str; load one",
    ),
    (
        "bounds of the wrong type",
        dict(input_bounds=(0, 1), bounds=[[0, 1]]),
        BlockArgumentError,
        r"nn: bounds must be pyomo_relu.NeuronBounds, found list",
    ),
    (
        "bounds of another network",
        dict(input_bounds=(0, 1), bounds=pr.interval_bounds(random_network((2, 3, 1)), 0, 1)),
        pr.ShapeMismatchError,
        r"do not match the network \[2, 8, 8, 1\]",
    ),
    (
        "bounds of a disjoint box",
        dict(input_bounds=(0, 1), bounds=pr.interval_bounds(NET2, 2, 3)),
        pr.InfeasibleBoxError,
        r"nn: the neuron bounds were computed for inputs in \[2.0, 3.0\]",
    ),
    (
        "unknown keyword",
        dict(input_bounds=(0, 1), formulaton="bigm"),
        pr.UnknownOptionError,
        r"nn: unknown keyword argument\(s\) 'formulaton'; ReluNetworkBlock takes network, inputs",
    ),
    (
        "unknown formulation",
        dict(input_bounds=(0, 1), formulation="big-m"),
        pr.UnknownOptionError,
        r"unknown formulation 'big-m'; valid names: auto, bigm",
    ),
    (
        "formulation None",
        dict(input_bounds=(0, 1), formulation=None),
        pr.UnknownOptionError,
        r"unknown formulation None",
    ),
    ("zero workers", dict(input_bounds=(0, 1), workers=0), pr.UnknownOptionError, r"nn: .*workers"),
    (
        "fractional workers",
        dict(input_bounds=(0, 1), workers=2.5),
        pr.UnknownOptionError,
        r"workers",
    ),
]


@pytest.mark.parametrize("case, kwargs, error, pattern", BAD_INPUT, ids=[c[0] for c in BAD_INPUT])
def test_bad_input_raises_a_clear_package_error(case, kwargs, error, pattern):
    with pytest.raises(error, match=pattern) as info:
        _build(**kwargs)
    assert isinstance(info.value, pr.ReluError)


def test_errors_keep_the_builtin_type():
    with pytest.raises(TypeError):
        _build(network=None, input_bounds=(0, 1))
    with pytest.raises(ValueError):
        _build(inputs=lambda m: [m.x[0], 2 * m.x[1]])


def test_prediction_error_before_a_solve_is_a_clear_error():
    m = _build(inputs=lambda m: m.x)
    with pytest.raises(
        NoValueError, match=r"nn: input 0 \(variable x\[0\]\) has no value; .*after a solve"
    ):
        m.nn.prediction_error()
    for v in m.x.values():
        v.set_value(0.1)
    with pytest.raises(
        NoValueError, match=r"nn: output 0 \(variable nn.outputs\[0\]\) has no value"
    ):
        m.nn.output_values()
    assert isinstance(NoValueError("x"), pr.ReluError) and isinstance(NoValueError("x"), ValueError)


def test_summary_of_every_formulation():
    for name in FORMULATIONS:
        s = _build(inputs=lambda m: m.x, formulation=name).nn.summary()
        assert s["layers"] == [2, 8, 8, 1] and s["formulation"] == name
        assert (
            0 <= s["stable"] <= s["neurons"] == 16 and s["variables"] > 0 and s["constraints"] > 0
        )
        assert ("regions" in s) == (name in ("regions", "auto"))


# -- indexed blocks -------------------------------------------------------------------------
@pytest.mark.solver
@requires_scip
def test_indexed_blocks_with_tuple_and_string_indices():
    m = pyo.ConcreteModel()
    m.P = pyo.Set(initialize=[(1, "a"), (2, "b")], dimen=2)
    m.x = pyo.Var(m.P, ["u", "v"], bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(m.P, network=NET2, inputs=m.x)  # x[t, i] for block t
    m.S = pyo.Set(initialize=["north", "south"])
    m.y = pyo.Var(m.S, range(2), bounds=(-1, 1))
    m.by_rule = pr.ReluNetworkBlock(m.S, network=NET2, inputs=lambda s: [m.y[s, 1], m.y[s, 0]])
    m.w = pyo.Var(m.S, range(2), bounds=(-1, 1))
    m.by_dict = pr.ReluNetworkBlock(
        m.S, network=NET2, inputs={s: [m.w[s, 0], m.w[s, 1]] for s in m.S}
    )
    m.own = pr.ReluNetworkBlock([1, 2, 3], network=NET2, input_bounds=([-1, -1], [1, 1]))
    assert m.nn[2, "b"].inputs[1] is m.x[2, "b", "v"]
    assert (
        m.by_rule["south"].inputs[0] is m.y["south", 1]
        and m.by_dict["north"].inputs[1] is m.w["north", 1]
    )
    blocks = (
        [m.nn[p] for p in m.P]
        + [m.by_rule[s] for s in m.S]
        + [m.by_dict[s] for s in m.S]
        + [m.own[t] for t in (1, 2, 3)]
    )
    m.obj = pyo.Objective(expr=sum(b.outputs[0] for b in blocks))
    _solve_direct(m)
    best, slack = _minimum_on_grid(NET2, [-1, -1], [1, 1])
    assert len(blocks) * (best - slack) <= pyo.value(m.obj) <= len(blocks) * best + 1e-6
    assert max(b.prediction_error() for b in blocks) < 1e-6


def test_indexed_block_input_errors_name_the_block():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), range(2), bounds=(-1, 1))
    with pytest.raises(
        pr.ShapeMismatchError, match=r"nn\[3\]: x has no entries indexed by the block index 3"
    ):
        m.nn = pr.ReluNetworkBlock([1, 2, 3], network=NET2, inputs=m.x)
    with pytest.raises(
        pr.ShapeMismatchError, match=r"nn2\[5\]: the dict of inputs has no entry for block index 5"
    ):
        m.nn2 = pr.ReluNetworkBlock([5], network=NET2, inputs={4: [m.x[0, 0], m.x[0, 1]]})
    with pytest.raises(
        pr.ShapeMismatchError, match=r"nn3\[0\]: z has 3 entries whose index starts with 0"
    ):
        m.z = pyo.Var(range(2), range(3), bounds=(-1, 1))
        m.nn3 = pr.ReluNetworkBlock([0, 1], network=NET2, inputs=m.z)


# -- rebuild --------------------------------------------------------------------------------
@pytest.mark.solver
@requires_scip
def test_rebuild_with_other_formulations_and_a_smaller_box():
    m = _model(NET2, [-1, -1], [1, 1])
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    inputs, outputs = list(m.nn.inputs.values()), list(m.nn.outputs.values())
    best, slack = _minimum_on_grid(NET2, [-1, -1], [1, 1])
    for name in FORMULATIONS:
        m.nn.rebuild(formulation=name)
        _solve_direct(m)
        assert m.nn.formulation == name and best - slack <= pyo.value(m.obj) <= best + 1e-7
        assert m.nn.prediction_error() < 1e-6
    # bounds for a smaller box restrict the block to that box, visibly and enforced
    m.nn.rebuild(bounds=pr.interval_bounds(NET2, [0.0, -0.5], [0.5, 0.5]), formulation="bigm")
    assert (
        m.nn.bounds.input_lb.tolist() == [0.0, -0.5] and m.nn.mip.component("input_box") is not None
    )
    _solve_direct(m)
    small, small_slack = _minimum_on_grid(NET2, [0.0, -0.5], [0.5, 0.5])
    assert small - small_slack <= pyo.value(m.obj) <= small + 1e-7
    # bounds for a larger box never loosen the current ones
    before = [u.copy() for u in m.nn.bounds.upper]
    m.nn.rebuild(bounds=pr.interval_bounds(NET2, [-3, -3], [3, 3]))
    assert all(np.all(a == b) for a, b in zip(before, m.nn.bounds.upper))
    assert m.nn.bounds.input_ub.tolist() == [0.5, 0.5]
    assert list(m.nn.inputs.values()) == inputs and list(m.nn.outputs.values()) == outputs


def test_failed_rebuild_leaves_the_block_unchanged():
    m = _model(random_network((2, 12, 12, 1), seed=15), [-1, -1], [1, 1], "bigm")
    before, mip = m.nn.summary(), m.nn.mip
    with pytest.raises(
        pr.NotApplicableError, match=r"nn \(formulation 'regions'\): the network has more than 2"
    ):
        m.nn.rebuild(formulation=Regions(max_regions=2))
    with pytest.raises(pr.InfeasibleBoxError, match="misses the block's box"):
        m.nn.rebuild(bounds=pr.interval_bounds(m.nn.network, [2, 2], [3, 3]))
    with pytest.raises(
        BlockArgumentError, match=r"nn.rebuild: bounds must be pyomo_relu.NeuronBounds"
    ):
        m.nn.rebuild(bounds=(0, 1))
    assert m.nn.mip is mip and m.nn.formulation == "bigm"
    assert {**m.nn.summary(), "build_seconds": 0} == {**before, "build_seconds": 0}


# -- copies, pickles, files, solver interfaces -----------------------------------------------------
@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_clone_deepcopy_and_pickle_solve_to_the_same_optimum(formulation):
    m = _model(random_network((2, 6, 6, 1), seed=20), [-1, -1], [1, 1], formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    _solve_direct(m)
    reference = pyo.value(m.obj)
    for twin in (m.clone(), copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert twin.nn.inputs[0] is twin.x[0] and twin.nn.formulation == formulation
        for v in twin.component_data_objects(pyo.Var):
            v.set_value(None, skip_validation=True)  # the copies carry the solution; solve afresh
        _solve_direct(twin)
        assert pyo.value(twin.obj) == pytest.approx(reference, abs=1e-6)
        assert twin.nn.prediction_error() < 1e-6
        twin.nn.rebuild(formulation="bigm")  # the copy is a working block
        _solve_direct(twin)
        assert pyo.value(twin.obj) == pytest.approx(reference, abs=1e-6)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("fmt", ["lp", "mps", "nl"])
@pytest.mark.parametrize("formulation", ["bigm", "regions", "tightened_scaled_bigm"])
def test_models_write_to_solver_files_and_read_back(tmp_path, fmt, formulation):
    import pyscipopt

    net, lb, ub = EDGE["all dead"]  # an input no network row uses must still be written
    m = _model(net, np.asarray(lb, float), np.asarray(ub, float), formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0] - 0.1 * m.x[0], sense=pyo.minimize)
    path = tmp_path / f"model.{fmt}"
    m.write(str(path), io_options={"symbolic_solver_labels": True})
    _solve_direct(m)
    if fmt in ("lp", "mps"):
        scip = pyscipopt.Model()
        scip.hideOutput()
        scip.readProblem(str(path))
        scip.optimize()
        assert scip.getObjVal() == pytest.approx(pyo.value(m.obj), abs=1e-6)
    else:
        assert path.stat().st_size > 0


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", ["bigm", "regions"])
def test_solver_interfaces_agree_through_solve_model(formulation):
    net = random_network((2, 8, 8, 2), seed=16)
    values = {}
    for solver in ("scip_direct", "scip_persistent", "appsi_highs"):
        if not pyo.SolverFactory(solver).available():
            continue
        m = _model(net, [-1, -1], [1, 1], formulation)
        m.obj = pyo.Objective(expr=m.nn.outputs[0] - m.nn.outputs[1], sense=pyo.maximize)
        out = solve_model(m, solver=solver)
        assert out.status == "optimal" and out.has_solution and m.nn.prediction_error() < 1e-6
        values[solver] = out.objective
    assert len(values) >= 2 and np.ptp(list(values.values())) < 1e-6


# -- solve_model: limits, statuses and bad options --------------------------------------------
@pytest.mark.solver
@requires_scip
def test_time_limit_gives_a_status_and_a_sound_partial_result():
    net = random_network((6, 40, 40, 1), seed=3)
    m = _model(net, -np.ones(6), np.ones(6))
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    out = solve_model(m, time_limit=0.2)
    assert out.status in ("time_limit", "optimal")
    if out.has_solution:
        assert m.nn.prediction_error() < 1e-6
        assert out.bound <= out.objective + 1e-9
    m2 = _model(net, -np.ones(6), np.ones(6))
    m2.obj = pyo.Objective(expr=m2.nn.outputs[0])
    zero = solve_model(m2, time_limit=0)
    assert zero.status == "time_limit" and not zero.has_solution and zero.objective is None


@pytest.mark.solver
@requires_scip
def test_infeasible_model_status():
    m = _model(NET2, [-1, -1], [1, 1])
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    m.cut = pyo.Constraint(expr=m.nn.outputs[0] >= 1e3)
    out = solve_model(m)
    assert out.status == "infeasible" and not out.has_solution
    with pytest.raises(NoValueError):
        m.nn.prediction_error()


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (
            dict(solver="gurobi"),
            r"unknown solver 'gurobi'; valid: scip_direct, scip_persistent, appsi_highs",
        ),
        (dict(time_limit=-1), r"time_limit must be a number of seconds >= 0 or None"),
        (dict(time_limit="soon"), r"time_limit must be .* found 'soon'"),
        (dict(settings="fast"), r"unknown SCIP settings 'fast'"),
        (dict(options={"limits/tme": 5}), r"SCIP has no parameter 'limits/tme'"),
        (
            dict(options={"limits/time": "long"}),
            r"SCIP parameter 'limits/time' cannot take the value 'long'",
        ),
        (
            dict(solver="appsi_highs", options={"mip_gap": 0.0}),
            r"HiGHS rejects the option mip_gap=0.0",
        ),
    ],
)
def test_solve_model_rejects_bad_options_before_solving(kwargs, pattern):
    pytest.importorskip("pyscipopt")
    m = _model(NET2, [-1, -1], [1, 1])
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    with pytest.raises(pr.UnknownOptionError, match=pattern):
        solve_model(m, **kwargs)
    assert m.nn.outputs[0].value is None  # nothing was solved


def test_unavailable_solver_names_the_package(monkeypatch):
    from pyomo.contrib.appsi.solvers import Highs

    monkeypatch.setattr(Highs, "available", lambda self: False)
    m = _model(NET2, [-1, -1], [1, 1])
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    with pytest.raises(
        pr.SolverUnavailableError, match="'appsi_highs' is not available.*pip install highspy"
    ):
        solve_model(m, solver="appsi_highs")


# -- regions and auto beyond their limits -------------------------------------------------------
@pytest.mark.solver
@requires_scip
def test_regions_and_auto_beyond_their_limits():
    deep = random_network((2, 12, 12, 1), seed=17)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    with pytest.raises(
        pr.NotApplicableError,
        match=r"nn \(formulation 'regions'\): the network has more than 1 linear regions.*'auto'",
    ):
        m.nn = pr.ReluNetworkBlock(network=deep, inputs=m.x, formulation=Regions(max_regions=1))
    m.auto = pr.ReluNetworkBlock(network=deep, inputs=m.x, formulation=Auto(max_regions=1))
    assert m.auto.summary()["used"] == "tightened_bigm"
    m.w = pyo.Var(range(3), bounds=(-1, 1))
    wide = random_network((3, 6, 1), seed=18)
    with pytest.raises(
        pr.NotApplicableError, match=r"nn3 \(formulation 'regions'\): .*3 free inputs"
    ):
        m.nn3 = pr.ReluNetworkBlock(network=wide, inputs=m.w, formulation="regions")
    m.auto3 = pr.ReluNetworkBlock(network=wide, inputs=m.w, formulation="auto")
    assert m.auto3.summary()["used"] == "tightened_bigm"
    m.v = pyo.Var(range(4), bounds=(-1, 1))
    for i, value in ((1, 0.2), (3, -0.7)):
        m.v[i].setlb(value)
        m.v[i].setub(value)
    four = random_network((4, 6, 6, 1), seed=19)
    m.auto4 = pr.ReluNetworkBlock(network=four, inputs=m.v, formulation="auto")
    assert m.auto4.summary()["used"] == "regions"
    m.obj = pyo.Objective(
        expr=m.auto.outputs[0] + m.auto3.outputs[0] + m.auto4.outputs[0], sense=pyo.maximize
    )
    _solve_direct(m)
    for blk in (m.auto, m.auto3, m.auto4):
        assert blk.prediction_error() < 1e-6
    best4, slack4 = _box_points([-1, 0.2, -1, -0.7], [1, 0.2, 1, -0.7])
    assert pyo.value(m.auto4.outputs[0]) >= four.forward(best4)[:, 0].max() - 1e-6


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(max_regions=0), "max_regions must be a positive integer, found 0"),
        (dict(max_regions="many"), "max_regions must be a positive integer, found 'many'"),
        (dict(max_regions=2.5), "max_regions must be a positive integer"),
        (
            dict(time_limit=-1),
            "Regions: time_limit must be a number of seconds > 0 or None \\(no limit\\), found -1",
        ),
        (dict(encoding="gray"), "encoding='gray' is not one of"),
    ],
)
def test_regions_options_are_checked(kwargs, pattern):
    with pytest.raises(pr.UnknownOptionError, match=pattern):
        Regions(**kwargs)
    if "encoding" not in kwargs:
        with pytest.raises(pr.UnknownOptionError, match=pattern):
            Auto(**kwargs)


# -- the command line ------------------------------------------------------------------------------
def _main(capsys, *argv):
    from pyomo_relu.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("command", ["solve", "analyze"])
def test_cli_bad_files_give_one_line_errors(tmp_path, capsys, command):
    extra = ["--minimize", "0"] if command == "solve" else []
    garbage, empty = tmp_path / "garbage.onnx", tmp_path / "empty.onnx"
    garbage.write_bytes(b"this is not an ONNX model\x00\xff")
    empty.write_bytes(b"")
    for path, needle in (
        (tmp_path / "missing.onnx", "not found; pass the path of an ONNX file"),
        (tmp_path, "is a directory"),
        (garbage, "is not a readable ONNX model"),
        (empty, "is empty (0 bytes); expected an ONNX model"),
    ):
        code, out, err = _main(capsys, command, path, *extra, "--lb", "0", "--ub", "1")
        assert code == 2 and out == ""
        lines = err.strip().splitlines()
        assert (
            len(lines) == 1
            and lines[0].startswith(f"pyomo-relu {command}: error:")
            and needle in lines[0]
        )


@pytest.mark.parametrize(
    "bounds",
    [
        ["--lb", "-3,x", "--ub", "3"],
        ["--lb=-3", "--ub", "3,,3"],
        ["--lb=-3", "--ub="],
        ["--lb=nan", "--ub", "3"],
        ["--lb=[-3,-3]", "--ub", "3"],
    ],
)
def test_cli_bad_bounds_strings_are_parser_errors(capsys, bounds):
    from pyomo_relu.cli import main

    with pytest.raises(SystemExit) as info:
        main(["solve", str(PEAKS), "--minimize", "0", *bounds])
    assert info.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith("pyomo-relu solve: error: argument --")
    )


def test_cli_output_folder_is_checked_before_solving(tmp_path, capsys):
    code, out, err = _main(
        capsys,
        "solve",
        PEAKS,
        "--minimize",
        "0",
        "--lb=-3",
        "--ub",
        "3",
        "--quiet",
        "--json",
        tmp_path / "nowhere" / "r.json",
    )
    assert code == 2 and out == "" and "does not exist" in err


@pytest.mark.solver
@requires_scip
def test_cli_solve_on_the_peaks_network(tmp_path, capsys):
    import json

    out_file = tmp_path / "peaks.json"
    code, out, err = _main(
        capsys,
        "solve",
        PEAKS,
        "--minimize",
        "y0",
        "--lb=-3",
        "--ub",
        "3",
        "--formulation",
        "regions",
        "--quiet",
        "--json",
        out_file,
    )
    assert code == 0, err
    res = json.loads(out_file.read_text())
    net = pr.load_onnx(PEAKS)
    x = np.array(list(res["inputs"].values()))
    assert res["status"] == "optimal" and res["prediction_error"] < 1e-6
    assert res["forward_value"] == pytest.approx(float(net.forward(x)[0]), abs=1e-9)
    best, slack = _minimum_on_grid(net, [-3, -3], [3, 3])
    assert best - slack <= res["objective"] <= best + 1e-7
    assert "status:        optimal" in out and "argmin:" in out


@pytest.mark.solver
@requires_scip
def test_cli_time_limit_without_a_solution_says_so(capsys):
    code, out, _ = _main(
        capsys,
        "solve",
        PEAKS,
        "--minimize",
        "0",
        "--lb=-3",
        "--ub",
        "3",
        "--quiet",
        "--time-limit",
        "1e-9",
    )
    assert code == 0
    status = next(line for line in out.splitlines() if line.startswith("status:"))
    if "TIME LIMIT" in status:
        has_solution = "no feasible solution found" not in out.split("status:")[1].splitlines()[1]
        assert ("best solution found" in status) == has_solution
        assert ("no feasible solution found yet" in status) == (not has_solution)


def test_cli_analyze_on_the_peaks_network(capsys):
    code, out, err = _main(capsys, "analyze", PEAKS, "--lb=-3", "--ub", "3", "--regions", "none")
    assert code == 0, err
    assert "== interval bounds" in out and "piecewise neurons" in out
    code, _, err = _main(capsys, "analyze", PEAKS, "--lb=3", "--ub=-3")
    assert code == 2 and "lb[0] = 3.0 > ub[0] = -3.0" in err


def test_rebuild_follows_changed_input_variable_bounds():
    """Widening the variables' box and rebuilding reaches the new optimum; narrowing keeps sound,
    tighter bounds."""
    net = random_network((2, 8, 8, 1), seed=11)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-0.2, 0.2))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    grid = np.stack(np.meshgrid(np.linspace(-1, 1, 401), np.linspace(-1, 1, 401)), -1).reshape(
        -1, 2
    )
    for v in m.x.values():
        v.setlb(-1.0)
        v.setub(1.0)
    m.nn.rebuild()
    pyo.SolverFactory("scip_direct").solve(m)
    assert list(m.nn.bounds.input_lb) == [-1.0, -1.0] and m.nn.prediction_error() < 1e-6
    assert pyo.value(m.obj) <= net.forward(grid).min() + 1e-6
    wide_m = max(float(np.max(m.nn.bounds.big_m(k))) for k in range(2))
    for v in m.x.values():
        v.setlb(-0.5)
        v.setub(0.5)
    m.nn.rebuild()
    assert list(m.nn.bounds.input_ub) == [0.5, 0.5]
    assert max(float(np.max(m.nn.bounds.big_m(k))) for k in range(2)) <= wide_m
    pyo.SolverFactory("scip_direct").solve(m)
    inner = grid[np.all(np.abs(grid) <= 0.5, axis=1)]
    assert (
        pyo.value(m.obj) == pytest.approx(net.forward(inner).min(), abs=5e-3)
        and m.nn.prediction_error() < 1e-6
    )
