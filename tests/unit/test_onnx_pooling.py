"""ONNX pools: AveragePool/GlobalAveragePool as sparse maps, MaxPool/GlobalMaxPool as exact
pairwise ReLU trees (``max(a, b) = b + relu(a - b)``).

onnxruntime is the reference here (float64 for graphs of MaxPool, float32 with AveragePool or
Conv): ``onnx.reference`` drops the end padding of pools and the windows that ``ceil_mode``
adds, where onnxruntime follows the specification.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.errors import UnsupportedOperatorError
from tests.onnx_graphs import check_against_runtimes, make_model, node

pytest.importorskip("onnxruntime")

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@st.composite
def pools(draw, op):
    """Attributes of a pool, the input shape and a seed; padding stays below the kernel (as
    onnxruntime requires)."""
    rank = draw(st.integers(1, 2))
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    attrs = {"kernel_shape": kernel}
    dil = [1] * rank
    if op == "MaxPool" and draw(st.booleans()):
        dil = attrs["dilations"] = [draw(st.integers(1, 2)) for _ in range(rank)]
    spatial = [draw(st.integers(d * (k - 1) + 1, 7)) for k, d in zip(kernel, dil)]
    if draw(st.booleans()):
        attrs["strides"] = [draw(st.integers(1, 3)) for _ in range(rank)]
    auto_pad = draw(st.sampled_from(["absent", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    if auto_pad.startswith("SAME") and (
        max(dil) > 1 or any(s > k for s, k in zip(attrs.get("strides", [1] * rank), kernel))
    ):
        auto_pad = "NOTSET"  # refused: the runtimes disagree with the spec or refuse it
    if auto_pad != "absent":
        attrs["auto_pad"] = auto_pad
    if auto_pad in ("absent", "NOTSET") and draw(st.booleans()):
        attrs["pads"] = [draw(st.integers(0, k - 1)) for k in kernel + kernel]
    if auto_pad in ("absent", "NOTSET") and draw(st.booleans()):
        attrs["ceil_mode"] = 1
    if op == "AveragePool" and draw(st.booleans()):
        attrs["count_include_pad"] = draw(st.integers(0, 1))
    channels = draw(st.integers(1, 3))
    return attrs, (channels, *spatial), draw(st.integers(0, 2**16))


def _pool_net(op, attrs, shape, seed, *, before):
    """``before`` (Relu, Conv or nothing), then the pool, then Flatten."""
    rng = np.random.default_rng(seed)
    nodes, inits, src = [], {}, "x"
    if before == "relu":
        nodes.append(node("Relu", ["x"], ["r"]))
        src = "r"
    elif before == "conv":
        inits["W"] = rng.normal(size=(shape[0], shape[0]) + (1,) * (len(shape) - 1))
        nodes.append(node("Conv", ["x", "W"], ["r"]))
        src = "r"
    nodes += [node(op, [src], ["p"], name="/pool", **attrs), node("Flatten", ["p"], ["y"])]
    return nodes, inits


@SETTINGS
@given(pools("AveragePool"), st.sampled_from(["none", "relu", "conv"]))
def test_average_pool_matches_the_runtimes(case, before):
    attrs, shape, seed = case
    nodes, inits = _pool_net("AveragePool", attrs, shape, seed, before=before)
    net = check_against_runtimes(nodes, inits, shape, seed=seed, reference=False)
    assert all(r.pass_through == 0 for r in net.lowering)
    assert net.n_layers == (2 if before == "relu" else 1)


@SETTINGS
@given(pools("MaxPool"), st.sampled_from(["none", "relu", "conv"]))
def test_max_pool_matches_the_runtimes(case, before):
    attrs, shape, seed = case
    nodes, inits = _pool_net("MaxPool", attrs, shape, seed, before=before)
    net = check_against_runtimes(nodes, inits, shape, seed=seed, reference=False)
    kernel = math.prod(attrs["kernel_shape"])
    levels = [r for r in net.lowering if "MaxPool" in r.name and "level" in r.name]
    assert len(levels) <= math.ceil(math.log2(kernel)) if kernel > 1 else not levels
    assert all(r.pass_through == 0 for r in net.lowering)  # nothing else is live


@pytest.mark.parametrize("op", ["GlobalAveragePool", "GlobalMaxPool"])
@pytest.mark.parametrize("shape", [(2, 5), (3, 4, 3)])
def test_global_pools(op, shape):
    nodes = [node("Relu", ["x"], ["r"]), node(op, ["r"], ["p"]), node("Flatten", ["p"], ["y"])]
    net = check_against_runtimes(nodes, {}, shape, reference=False)
    assert net.n_outputs == shape[0]


def test_max_pool_neuron_counts_after_a_relu_and_without_one():
    """A 2x2 window of ReLU outputs takes 2 + 2 neurons at level 1 (two differences, two
    pass-throughs of known sign) and 1 + 1 at level 2; signed values need two neurons per
    pass-through, ``relu(b) - relu(-b)``."""
    attrs = {"kernel_shape": [2, 2], "strides": [2, 2]}
    nodes, _ = _pool_net("MaxPool", attrs, (3, 4, 4), 0, before="relu")
    net = check_against_runtimes(nodes, {}, (3, 4, 4))
    windows = 3 * 2 * 2
    assert net.layer_sizes == (48, 48, 4 * windows, 2 * windows, windows)
    names = [r.name for r in net.lowering]
    assert names[1:3] == ["layer 1 (MaxPool '/pool' level 1)", "layer 2 (MaxPool '/pool' level 2)"]
    nodes, _ = _pool_net("MaxPool", attrs, (3, 4, 4), 0, before="none")
    signed = check_against_runtimes(nodes, {}, (3, 4, 4))
    # level 1: 2 differences + 2 * 2 signed pass-throughs; level 2: max terms are signed too
    assert signed.layer_sizes == (48, 6 * windows, 3 * windows, windows)


def test_overlapping_windows_share_their_neurons():
    """A 3x3 pool with stride 1 on 5x5: terms shared by neighbouring windows become one
    neuron each (identical rows of a layer are merged)."""
    attrs = {"kernel_shape": [3, 3], "strides": [1, 1]}
    nodes, _ = _pool_net("MaxPool", attrs, (1, 5, 5), 2, before="relu")
    net = check_against_runtimes(nodes, {}, (1, 5, 5))
    first = net.layers[1]
    naive = 9 * 9  # 9 windows x (4 differences + 4 pass-throughs + 1 odd term)
    assert first.n_out < naive


def test_the_max_pool_lowering_is_exact_at_ties_and_far_from_zero():
    nodes, _ = _pool_net("MaxPool", {"kernel_shape": [3]}, (1, 3), 0, before="none")
    net = pr.load_onnx(make_model(nodes, {}, (1, 3)))
    x = np.array([[1.0, 1.0, 1.0], [-5e6, -4e6, -6e6], [0.0, -0.0, 0.0], [-1.0, 7.5, 7.5]])
    np.testing.assert_array_equal(net.forward(x)[:, 0], x.max(axis=1))


@pytest.mark.parametrize(
    "attrs, outputs, match",
    [
        ({"kernel_shape": [2], "storage_order": 1}, ["p"], "storage_order=1"),
        ({"kernel_shape": [2]}, ["p", "idx"], "Indices output"),
        ({}, ["p"], "needs the attribute kernel_shape"),
        ({"kernel_shape": [2, 2]}, ["p"], "kernel_shape=\\[2, 2\\] needs 1 values"),
        (
            {"kernel_shape": [2], "auto_pad": "SAME_LOWER", "dilations": [2]},
            ["p"],
            "onnxruntime and by the ONNX specification",
        ),
        ({"kernel_shape": [9]}, ["p"], "does not fit the input"),
        (
            {"kernel_shape": [1], "strides": [2], "auto_pad": "SAME_UPPER"},
            ["p"],
            "negative padding",
        ),
    ],
)
def test_max_pool_refusals(attrs, outputs, match):
    nodes = [node("MaxPool", ["x"], outputs, name="/mp", **attrs), node("Flatten", ["p"], ["y"])]
    model = make_model(nodes, {}, (1, 4))
    with pytest.raises(UnsupportedOperatorError, match=match) as info:
        pr.load_onnx(model)
    assert "'/mp' (op_type MaxPool" in str(info.value)


def test_a_pool_needs_a_channel_layout():
    nodes = [node("AveragePool", ["x"], ["y"], kernel_shape=[2], name="ap")]
    with pytest.raises(UnsupportedOperatorError, match="layout \\[N, C, d_1, ...\\]"):
        pr.load_onnx(make_model(nodes, {}, (4,)))


@pytest.mark.parametrize("op", ["ReduceMean", "ReduceSum"])
@pytest.mark.parametrize("opset, keepdims", [(11, 1), (18, 0), (18, 1)])
def test_reductions_over_feature_axes_are_sparse_maps(op, opset, keepdims):
    """torch's AdaptiveAvgPool2d(1) is exported as ReduceMean over the spatial axes."""
    axes = [2, -1]
    attrs, inits, ins = {"keepdims": keepdims}, {}, ["r"]
    if opset < 13:
        attrs["axes"] = axes
    else:
        inits["axes"], ins = np.array(axes, dtype=np.int64), ["r", "axes"]
    nodes = [
        node("Relu", ["x"], ["r"]),
        node(op, ins, ["m"], **attrs),
        node("Flatten", ["m"], ["y"]),
    ]
    net = check_against_runtimes(nodes, inits, (2, 3, 4), opset=opset, reference=False)
    assert net.layer_sizes == (24, 24, 2)
    everything = [node("Relu", ["x"], ["r"]), node(op, ["r"], ["y"], keepdims=0, name="all")]
    with pytest.raises(UnsupportedOperatorError, match="'all'.*batch axis"):
        pr.load_onnx(make_model(everything, {}, (2, 3, 4), opset=opset))
