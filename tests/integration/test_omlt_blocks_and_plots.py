"""OMLT blocks under relu.tighten_bounds (every ReLU formulation, ONNX, scaling, indexing) and plot
edge cases."""

from __future__ import annotations

import itertools

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu import plots
from pyomo_relu.errors import (
    BoundsTypeError,
    InfeasibleBoxError,
    MissingBoundsError,
    NetworkTypeError,
    NotApplicableError,
    ShapeMismatchError,
    UnknownOptionError,
    UnsupportedOperatorError,
)
from pyomo_relu.io import from_omlt, to_omlt
from pyomo_relu.io.onnx import save_onnx
from tests.conftest import random_network, requires_scip

omlt = pytest.importorskip("omlt")
from omlt import OmltBlock
from omlt.io import load_onnx_neural_network
from omlt.neuralnet import (
    FullSpaceNNFormulation,
    FullSpaceSmoothNNFormulation,
    NetworkDefinition,
    ReducedSpaceNNFormulation,
    ReluBigMFormulation,
    ReluComplementarityFormulation,
    ReluPartitionFormulation,
)
from omlt.neuralnet.layer import DenseLayer as OmltDense
from omlt.neuralnet.layer import InputLayer
from omlt.scaling import OffsetScaling

TIGHTEN = pyo.TransformationFactory("relu.tighten_bounds")
BOX = ([-1.0, -0.5], [1.0, 2.0])
SCALING = OffsetScaling(
    offset_inputs=[1.0, -2.0], factor_inputs=[2.0, 0.5], offset_outputs=[10.0], factor_outputs=[3.0]
)


def _onnx_definition(net, lb, ub, scaling=None):
    """Load ``net`` through OMLT's own ONNX reader (which needs Gemm's alpha/beta/transA spelled
    out)."""
    from onnx import helper

    model = save_onnx(net)
    for node in model.graph.node:
        if node.op_type == "Gemm":
            node.attribute.extend(
                [
                    helper.make_attribute("alpha", 1.0),
                    helper.make_attribute("beta", 1.0),
                    helper.make_attribute("transA", 0),
                ]
            )
    return load_onnx_neural_network(
        model, scaling, {i: (lb[i], ub[i]) for i in range(net.n_inputs)}
    )


def _chain(layers, *, scaling=None, bounds=None):
    nd = NetworkDefinition(scaling_object=scaling, scaled_input_bounds=bounds)
    for layer in layers:
        nd.add_layer(layer)
    for a, b in itertools.pairwise(layers):
        nd.add_edge(a, b)
    return nd


def _definition(source, net):
    lb, ub = BOX
    if source == "to_omlt":
        return to_omlt(net, lb, ub)
    if source == "onnx":
        return _onnx_definition(net, lb, ub)
    if source == "scaled":  # OffsetScaling around a to_omlt network; the box is in scaled units
        return _chain(
            list(to_omlt(net, lb, ub).layers), scaling=SCALING, bounds=dict(enumerate(zip(lb, ub)))
        )
    return _onnx_definition(net, lb, ub, SCALING)  # "onnx_scaled"


def _omlt_preactivations(nd, xs):
    """Every dense layer's pre-activations from OMLT's own weights, in OMLT's scaled units."""
    out, a = [], np.asarray(xs, dtype=float)
    for layer in list(nd.layers)[1:]:
        z = a @ np.asarray(layer.weights, dtype=float) + np.asarray(layer.biases, dtype=float)
        out.append(z)
        a = np.maximum(z, 0.0) if layer.activation == "relu" else z
    return out


def _zhat_bounds(blk, nd):
    """(n, 2) arrays of each dense layer's zhat bounds, None read as -inf / inf."""
    out = []
    for layer in list(nd.layers)[1:]:
        rows = [blk.layer[id(layer)].zhat[j].bounds for j in range(layer.output_size[-1])]
        out.append(
            np.array(
                [(-np.inf if lo is None else lo, np.inf if up is None else up) for lo, up in rows]
            )
        )
    return out


def _assert_sound(blk, nd, *, n=20_000, seed=0):
    box = nd.scaled_input_bounds
    lo, hi = (np.array([box[i][c] for i in sorted(box)]) for c in (0, 1))
    xs = np.random.default_rng(seed).uniform(lo, hi, size=(n, len(lo)))
    xs = np.vstack([xs, lo, hi])
    for k, (z, b) in enumerate(zip(_omlt_preactivations(nd, xs), _zhat_bounds(blk, nd))):
        assert np.all(z >= b[:, 0] - 1e-9) and np.all(z <= b[:, 1] + 1e-9), f"layer {k}"


def _omlt_model(nd, formulation=FullSpaceNNFormulation, **kwargs):
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(formulation(nd, **kwargs))
    m.obj = pyo.Objective(expr=sum(m.nn.outputs.values()), sense=pyo.maximize)
    return m


# -- OMLT: every ReLU formulation and network source ---------------------------
@requires_scip
@pytest.mark.solver
@pytest.mark.parametrize("source", ["to_omlt", "onnx", "scaled", "onnx_scaled"])
@pytest.mark.parametrize(
    "formulation", [FullSpaceNNFormulation, ReluBigMFormulation, ReluPartitionFormulation]
)
def test_omlt_formulations_get_sound_bounds_and_keep_the_optimum(source, formulation):
    net = random_network((2, 10, 10, 1), seed=5)
    nd = _definition(source, net)
    m = _omlt_model(nd, formulation)
    before = _zhat_bounds(m.nn, nd)
    pyo.SolverFactory("scip_direct").solve(m)
    before_opt = pyo.value(m.obj)
    TIGHTEN.apply_to(m, method="lp")
    after = _zhat_bounds(m.nn, nd)
    for b, a in zip(before, after):  # never looser
        assert np.all(a[:, 0] >= b[:, 0] - 1e-12) and np.all(a[:, 1] <= b[:, 1] + 1e-12)
    assert any(np.any(a[:, 1] < b[:, 1] - 1e-9) for a, b in zip(after, before))
    _assert_sound(m.nn, nd)
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(before_opt, abs=1e-6)


@pytest.mark.parametrize("method", ["interval", "lp", "milp"])
def test_complementarity_formulation_gets_sound_bounds(method):
    net = random_network((2, 8, 8, 1), seed=6)
    nd = to_omlt(net, *BOX)
    m = _omlt_model(nd, ReluComplementarityFormulation)
    TIGHTEN.apply_to(m, method=method, time_limit_per_neuron=2.0)
    _assert_sound(m.nn, nd)
    hidden = m.nn.layer[id(list(nd.layers)[1])]
    assert all(hidden.z[j].lb == max(0.0, hidden.zhat[j].lb) for j in range(8))


@pytest.mark.parametrize("relu_output", [False, True])
def test_scaled_network_bounds_every_layer_in_scaled_units(relu_output):
    net = random_network((2, 6, 1), seed=7, relu_output=relu_output)
    nd = _definition("scaled", net)
    m = _omlt_model(nd, ReluBigMFormulation)
    TIGHTEN.apply_to(m, method="interval")
    _assert_sound(m.nn, nd)
    out = list(nd.layers)[-1]
    ref = pr.interval_bounds(
        net, *BOX
    )  # the OMLT layers are net's layers, the box is in scaled units
    assert m.nn.layer[id(out)].zhat[0].bounds == pytest.approx(
        (ref.lower[-1][0], ref.upper[-1][0]), rel=1e-9
    )


def test_single_layer_and_linear_output_networks():
    for sizes, relu_output in [((3, 1), False), ((3, 4), True), ((3, 5, 2), False)]:
        net = random_network(sizes, seed=8, relu_output=relu_output)
        nd = to_omlt(net, [-1] * 3, [1] * 3)
        m = _omlt_model(nd, ReluBigMFormulation)
        TIGHTEN.apply_to(m, method="lp")
        _assert_sound(m.nn, nd)


@requires_scip
@pytest.mark.solver
def test_indexed_and_several_omlt_blocks_next_to_a_relu_block():
    net = random_network((2, 8, 8, 1), seed=9)
    nd_a, nd_b = to_omlt(net, [-1, -1], [1, 1]), to_omlt(net, [0, 0], [1, 1])
    m = pyo.ConcreteModel()
    m.nets = OmltBlock([1, 2])
    m.nets[1].build_formulation(ReluBigMFormulation(nd_a))
    m.nets[2].build_formulation(ReluPartitionFormulation(nd_b))
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.relu = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.obj = pyo.Objective(
        expr=m.nets[1].outputs[0] + m.nets[2].outputs[0] - m.relu.outputs[0], sense=pyo.maximize
    )
    pyo.SolverFactory("scip_direct").solve(m)
    before_opt = pyo.value(m.obj)
    TIGHTEN.apply_to(m, method="lp", context="model")
    _assert_sound(m.nets[1], nd_a)
    _assert_sound(m.nets[2], nd_b)
    pyo.SolverFactory("scip_direct").solve(m)
    assert pyo.value(m.obj) == pytest.approx(before_opt, abs=1e-6)
    # targets: only the chosen element of the indexed block changes
    m2 = pyo.ConcreteModel()
    m2.nets = OmltBlock([1, 2])
    for i, nd in ((1, to_omlt(net, [-1, -1], [1, 1])), (2, to_omlt(net, [-1, -1], [1, 1]))):
        m2.nets[i].build_formulation(ReluBigMFormulation(nd))
    untouched = [v.bounds for v in m2.nets[2].component_data_objects(pyo.Var)]
    TIGHTEN.apply_to(m2, method="lp", targets=[m2.nets[1]])
    assert [v.bounds for v in m2.nets[2].component_data_objects(pyo.Var)] == untouched


def test_user_bounds_on_scaled_inputs_are_used():
    net = random_network((2, 8, 1), seed=10)
    nd = to_omlt(net, [-1, -1], [1, 1])
    m = _omlt_model(nd, ReluBigMFormulation)
    m.nn.scaled_inputs[0].setlb(0.5)
    TIGHTEN.apply_to(m, method="interval")
    ref = pr.interval_bounds(net, [0.5, -1], [1, 1])
    got = _zhat_bounds(m.nn, nd)[0]
    assert np.all(got[:, 0] >= ref.lower[0] - 1e-9) and np.all(got[:, 1] <= ref.upper[0] + 1e-9)


# -- OMLT: unsupported blocks raise before anything changes ---------------------
def _two_blocks(bad):
    net = random_network((2, 4, 1), seed=11)
    m = pyo.ConcreteModel()
    m.good = OmltBlock()
    m.good.build_formulation(ReluBigMFormulation(to_omlt(net, [-1, -1], [1, 1])))
    m.bad = OmltBlock()
    bad(m.bad, net)
    return m


def _reduced(blk, net):
    def relu(z):
        return pyo.Expr_if(z >= 0, z, 0)

    blk.build_formulation(
        ReducedSpaceNNFormulation(
            to_omlt(net, [-1, -1], [1, 1]), activation_functions={"relu": relu}
        )
    )


def _tanh(blk, net):
    layers = [InputLayer([2]), OmltDense([2], [3], np.ones((2, 3)), np.zeros(3), activation="tanh")]
    blk.build_formulation(
        FullSpaceSmoothNNFormulation(_chain(layers, bounds={0: (0, 1), 1: (0, 1)}))
    )


def _unbounded(blk, net):
    blk.build_formulation(
        ReluComplementarityFormulation(_chain(list(to_omlt(net, [-1, -1], [1, 1]).layers)))
    )


def _crossed(blk, net):
    blk.build_formulation(ReluBigMFormulation(to_omlt(net, [-1, -1], [1, 1])))
    blk.scaled_inputs[1].setlb(2.0)


@pytest.mark.parametrize(
    "bad, error, words",
    [
        (_reduced, NotApplicableError, "ReducedSpaceNNFormulation"),
        (_tanh, UnsupportedOperatorError, "'tanh'"),
        (_unbounded, MissingBoundsError, "scaled_input_bounds"),
        (_crossed, InfeasibleBoxError, "lower bound > upper bound"),
    ],
)
def test_unsupported_omlt_blocks_raise_clear_errors_and_change_nothing(bad, error, words):
    m = _two_blocks(bad)
    before = [v.bounds for v in m.good.component_data_objects(pyo.Var)]
    with pytest.raises(error, match=words) as info:
        TIGHTEN.apply_to(m, method="interval")
    assert "'bad'" in str(info.value) and "targets" in str(info.value)
    assert [v.bounds for v in m.good.component_data_objects(pyo.Var)] == before
    TIGHTEN.apply_to(m, method="interval", targets=[m.good])  # the fix the message names works


# -- OMLT converters: round trips ------------------------------------------------
@pytest.mark.parametrize("source", ["to_omlt", "onnx", "scaled", "onnx_scaled"])
def test_from_omlt_to_omlt_round_trips(source):
    net = random_network((2, 7, 5, 1), seed=12, relu_output=source == "scaled")
    nd = _definition(source, net)
    back = from_omlt(nd)
    again = from_omlt(to_omlt(back, *BOX))
    assert again == back
    x = np.random.default_rng(0).uniform(-1, 1, size=(50, 2))
    np.testing.assert_allclose(again.forward(x), back.forward(x), atol=1e-12)
    if source in ("to_omlt", "onnx"):
        np.testing.assert_allclose(back.forward(x), net.forward(x), atol=1e-12)


def test_to_omlt_rejects_bad_boxes():
    net = random_network((2, 3, 1), seed=13)
    with pytest.raises(MissingBoundsError):
        to_omlt(net, [-np.inf, 0], [1, 1])
    with pytest.raises(MissingBoundsError):
        to_omlt(net, [1, 0], [0, 1])
    with pytest.raises(ShapeMismatchError):
        to_omlt(net, [0], [1])


# -- plots -----------------------------------------------------------------------
@pytest.mark.parametrize("sizes", [(1, 5, 1), (2, 6, 6, 1), (3, 4, 2), (5, 6, 1)])
@pytest.mark.parametrize("clipped", [False, True])
def test_plots_for_networks_of_any_width(tmp_path, sizes, clipped):
    net = random_network(sizes, seed=14, clipped=clipped)
    n = net.n_inputs
    for lb in (-np.ones(n), np.zeros(n)):  # a degenerate box has zero widths (no log axis)
        path = plots.plot_bounds(pr.interval_bounds(net, lb, np.abs(lb)), tmp_path / "b.png")
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lb, ub = -np.ones(n), np.ones(n)
    ub[2:] = lb[2:]  # hold inputs beyond the second fixed
    path = plots.plot_regions_2d(net, lb, ub, tmp_path / "r.png", resolution=40)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if n > 2:
        with pytest.raises(ShapeMismatchError, match="lb == ub"):
            plots.plot_regions_2d(net, -1, 1, tmp_path / "r3.png")


def test_plot_errors_are_clear(tmp_path):
    net = random_network((2, 4, 1), seed=15)
    bounds = pr.interval_bounds(net, -1, 1)
    cases = [
        (lambda: plots.plot_regions_2d(net, 0, 0, tmp_path / "a.png"), ShapeMismatchError, "widen"),
        (lambda: plots.plot_regions_2d(net, 1, 0, tmp_path / "a.png"), InfeasibleBoxError, "empty"),
        (
            lambda: plots.plot_regions_2d(net, -np.inf, 1, tmp_path / "a.png"),
            MissingBoundsError,
            "finite",
        ),
        (
            lambda: plots.plot_regions_2d(net, -1e308, 1e308, tmp_path / "a.png"),
            MissingBoundsError,
            "too wide",
        ),
        (
            lambda: plots.plot_regions_2d(net, -1, 1, tmp_path / "a.png", resolution=1),
            UnknownOptionError,
            ">= 2",
        ),
        (
            lambda: plots.plot_regions_2d(net, -1, 1, tmp_path / "a.png", resolution=2.5),
            UnknownOptionError,
            ">= 2",
        ),
        (
            lambda: plots.plot_regions_2d("net.onnx", -1, 1, tmp_path / "a.png"),
            NetworkTypeError,
            "ReluNetwork",
        ),
        (lambda: plots.plot_bounds(net, tmp_path / "a.png"), BoundsTypeError, "NeuronBounds"),
        (
            lambda: plots.plot_bounds(bounds, tmp_path / "missing" / "a.png"),
            FileNotFoundError,
            "does not exist",
        ),
        (
            lambda: plots.plot_regions_2d(net, -1, 1, tmp_path / "no" / "a.png"),
            FileNotFoundError,
            "does not exist",
        ),
        (lambda: plots.plot_bounds(bounds, tmp_path), IsADirectoryError, "is a folder"),
    ]
    for call, error, words in cases:
        with pytest.raises(error, match=words):
            call()
    assert not list(tmp_path.glob("*.png"))


def test_save_onnx_files_are_read_by_omlt(tmp_path):
    """OMLT's ONNX reader needs Gemm's alpha/beta/transA written out; save_onnx writes them."""
    import onnx
    from omlt.io import load_onnx_neural_network

    net = random_network((3, 7, 5, 2), seed=21)
    path = tmp_path / "net.onnx"
    pr.save_onnx(net, path)
    nd = load_onnx_neural_network(
        onnx.load(str(path)), scaling_object=None, input_bounds={i: (-1.0, 1.0) for i in range(3)}
    )
    x = np.random.default_rng(3).uniform(-1, 1, (64, 3))
    np.testing.assert_allclose(pr.from_omlt(nd).forward(x), net.forward(x), rtol=1e-12, atol=1e-12)
