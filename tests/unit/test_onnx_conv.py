"""ONNX ``Conv`` (1-D and 2-D) read as a sparse affine map, with BatchNormalization folded."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import helper

import pyomo_relu as pr
from pyomo_relu.errors import UnsupportedOperatorError
from tests.onnx_graphs import check_against_runtimes, make_model, node

pytest.importorskip("onnxruntime")

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


@st.composite
def convs(draw):
    """A Conv node with random geometry, its initializers and the input shape."""
    rank = draw(st.integers(1, 2))
    group = draw(st.sampled_from([1, 2, 3]))
    c_in = group * draw(st.integers(1, 2))
    depthwise = draw(st.booleans())
    m_out = c_in if depthwise else group * draw(st.integers(1, 2))
    group = c_in if depthwise else group
    kernel = [draw(st.integers(1, 3)) for _ in range(rank)]
    spatial = [draw(st.integers(k + 1, 7)) for k in kernel]
    attrs = {}
    if draw(st.booleans()):
        attrs["strides"] = [draw(st.integers(1, 3)) for _ in range(rank)]
    auto_pad = draw(st.sampled_from(["absent", "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER"]))
    if auto_pad != "absent":
        attrs["auto_pad"] = auto_pad
    if not auto_pad.startswith("SAME") and draw(st.booleans()):
        attrs["dilations"] = [draw(st.integers(1, 2)) for _ in range(rank)]
    if auto_pad in ("absent", "NOTSET") and draw(st.booleans()):
        attrs["pads"] = [draw(st.integers(0, 2)) for _ in range(2 * rank)]
    if draw(st.booleans()):
        attrs["kernel_shape"] = kernel
    if group > 1 or draw(st.booleans()):
        attrs["group"] = group
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    inits = {"W": rng.normal(size=[m_out, c_in // group, *kernel])}
    inputs = ["x", "W"]
    if draw(st.booleans()):
        inits["B"] = rng.normal(size=m_out)
        inputs.append("B")
    return node("Conv", inputs, ["c"], **attrs), inits, (c_in, *spatial), seed


@SETTINGS
@given(convs(), st.booleans())
def test_conv_matches_the_runtimes_and_stays_sparse(case, relu):
    conv, inits, shape, seed = case
    nodes = [
        conv,
        node("Relu" if relu else "Identity", ["c"], ["a"]),
        node("Flatten", ["a"], ["y"]),
    ]
    spatial, kernel = shape[1:], inits["W"].shape[2:]
    values = {a.name: helper.get_attribute_value(a) for a in conv.attribute}
    dil = values.get("dilations", [1] * len(spatial))
    pads = values.get("pads", [0] * 2 * len(spatial))
    if values.get("auto_pad", b"NOTSET") == b"VALID":
        pads = [0] * 2 * len(spatial)
    fits = values.get("auto_pad", b"NOTSET").startswith(b"SAME") or all(
        d * (k - 1) + 1 <= s + pads[i] + pads[i + len(spatial)]
        for i, (s, k, d) in enumerate(zip(spatial, kernel, dil))
    )
    if not fits:
        with pytest.raises(UnsupportedOperatorError, match="does not fit the input"):
            pr.load_onnx(make_model(nodes, inits, shape))
        return
    net = check_against_runtimes(nodes, inits, shape, seed=seed)
    assert net.n_layers == 1 and net.n_inputs == math.prod(shape)
    layer = net.layers[0]
    assert layer.activation == (pr.Activation.RELU if relu else pr.Activation.LINEAR)
    # at most one weight per (output, kernel offset, input channel of the group)
    per_output = inits["W"][0].size
    assert layer.nnz <= layer.n_out * per_output
    assert layer._name == net.lowering[0].name == "layer 0 (Conv 'node0')"


def test_conv_then_conv_composes_into_one_sparse_layer():
    rng = np.random.default_rng(1)
    nodes = [
        node("Conv", ["x", "W1"], ["c1"], pads=[1, 1, 1, 1], name="/conv1/Conv"),
        node("Conv", ["c1", "W2"], ["c2"], name="/conv2/Conv"),
        node("Relu", ["c2"], ["r"]),
        node("Flatten", ["r"], ["y"]),
    ]
    inits = {"W1": rng.normal(size=(4, 1, 3, 3)), "W2": rng.normal(size=(2, 4, 3, 3))}
    net = check_against_runtimes(nodes, inits, (1, 12, 12))
    assert net.layer_sizes == (144, 2 * 10 * 10)
    layer = net.layers[0]
    assert layer.is_sparse and layer.nnz <= layer.n_out * 25  # a 5x5 receptive field
    assert layer._name == "layer 0 (Conv '/conv1/Conv')"
    assert net.lowering[0].pass_through == 0


@SETTINGS
@given(st.integers(1, 3), st.integers(0, 2**16), st.booleans())
def test_batchnorm_after_conv_is_folded_per_channel(channels, seed, relu):
    rng = np.random.default_rng(seed)
    nodes = [
        node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1]),
        node("BatchNormalization", ["c", "g", "b", "mu", "var"], ["n"], epsilon=1e-3),
        node("Relu" if relu else "Identity", ["n"], ["a"]),
        node("Flatten", ["a"], ["f"]),
        node("Gemm", ["f", "G"], ["y"], transB=1),
    ]
    inits = {
        "W": rng.normal(size=(channels, 2, 3)),
        "B": rng.normal(size=channels),
        "g": rng.uniform(0.5, 2, channels),
        "b": rng.normal(size=channels),
        "mu": rng.normal(size=channels),
        "var": rng.uniform(0.1, 2, channels),
        "G": rng.normal(size=(2, channels * 5)),
    }
    net = check_against_runtimes(nodes, inits, (2, 5), seed=seed)
    assert net.layer_sizes == ((10, channels * 5, 2) if relu else (10, 2))


def test_a_28x28_conv_loads_fast_and_sparse():
    rng = np.random.default_rng(0)
    nodes = [node("Conv", ["x", "W", "B"], ["c"]), node("Relu", ["c"], ["r"])]
    nodes.append(node("Flatten", ["r"], ["y"]))
    model = make_model(nodes, {"W": rng.normal(size=(8, 1, 3, 3)), "B": np.ones(8)}, (1, 28, 28))
    start = time.perf_counter()
    net = pr.load_onnx(model)
    elapsed = time.perf_counter() - start
    assert elapsed < 0.5, elapsed
    layer = net.layers[0]
    assert layer.is_sparse
    assert (layer.n_out, layer.n_in, layer.nnz) == (8 * 26 * 26, 784, 8 * 26 * 26 * 9)


@pytest.mark.parametrize(
    "change, match",
    [
        ("weight_input", "other inputs \\(weights.*must be constants"),
        ("kernel_shape", "kernel_shape \\[2, 2\\] does not match weight W"),
        ("group", "group=2 with weight W"),
        ("dynamic", "'x' has no static feature size"),
        ("same_dilated", "auto_pad=SAME_UPPER with dilations"),
        ("auto_pad", "auto_pad='FOO'"),
        ("stride0", "must be >= 1"),
        ("bias", "bias B of shape \\[3\\] is not \\[2\\]"),
    ],
)
def test_conv_errors_name_the_node_and_the_fix(change, match):
    rng = np.random.default_rng(0)
    attrs, inits, inputs = {}, {"W": rng.normal(size=(2, 1, 3, 3))}, ["x", "W"]
    shape = (1, 5, 5)
    if change == "weight_input":
        inputs = ["x", "x"]
    elif change == "kernel_shape":
        attrs["kernel_shape"] = [2, 2]
    elif change == "group":
        attrs["group"] = 2
    elif change == "dynamic":
        shape = (1, "H", 5)
    elif change == "same_dilated":
        attrs.update(auto_pad="SAME_UPPER", dilations=[2, 2])
    elif change == "auto_pad":
        attrs["auto_pad"] = "FOO"
    elif change == "stride0":
        attrs["strides"] = [0, 1]
    elif change == "bias":
        inits["B"] = np.ones(3)
        inputs.append("B")
    nodes = [node("Conv", inputs, ["c"], name="/c/Conv", **attrs), node("Flatten", ["c"], ["y"])]
    model = make_model(nodes, inits, shape)
    if change == "dynamic":
        model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    with pytest.raises(UnsupportedOperatorError, match=match) as info:
        pr.load_onnx(model)
    assert change == "dynamic" or "'/c/Conv' (op_type Conv" in str(info.value)


def test_save_onnx_writes_a_sparse_network_as_dense_gemm_and_reads_it_back(tmp_path):
    rng = np.random.default_rng(3)
    nodes = [
        node("Conv", ["x", "W", "B"], ["c"], strides=[2, 2]),
        node("Relu", ["c"], ["r"]),
        node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2]),
        node("Flatten", ["p"], ["f"]),
        node("Gemm", ["f", "G"], ["y"], transB=1),
    ]
    inits = {"W": rng.normal(size=(2, 1, 3, 3)), "B": rng.normal(size=2)}
    inits["G"] = rng.normal(size=(3, 2 * 2 * 2))
    net = check_against_runtimes(nodes, inits, (1, 7, 7))
    assert any(layer.is_sparse for layer in net.layers)
    model = pr.save_onnx(net, tmp_path / "cnn.onnx")
    assert {n.op_type for n in model.graph.node} <= {"Gemm", "Relu"}
    back = pr.load_onnx(tmp_path / "cnn.onnx")
    assert back == net
    x = rng.normal(size=(5, 49))
    # the same weights, summed in another order by the dense product
    np.testing.assert_allclose(back.forward(x), net.forward(x), rtol=1e-12, atol=1e-12)
