"""Branches that meet again (residual ``Add``/``Sub``, ``Concat``): tensors carried across the
layers in between as pass-through neurons, ``relu(x)`` when ``x >= 0`` is known, else
``relu(x) - relu(-x)``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.errors import UnsupportedOperatorError
from tests.onnx_graphs import check_against_runtimes, make_model, node

pytest.importorskip("onnxruntime")

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)


def _block(skip_from, join, bn, rng, c=2, size=4):
    """conv -> relu -> [conv -> bn? -> relu] joined with the skip tensor, relu, then a head."""
    nodes = [
        node("Conv", ["x", "W0"], ["c0"], pads=[1, 1, 1, 1]),
        node("Relu", ["c0"], ["r0"]),
        node("Conv", ["r0", "W1"], ["c1"], pads=[1, 1, 1, 1], name="/block/conv"),
    ]
    inits = {"W0": rng.normal(size=(c, 1, 3, 3)), "W1": rng.normal(size=(c, c, 3, 3))}
    last = "c1"
    if bn:
        nodes.append(node("BatchNormalization", ["c1", "g", "b", "mu", "var"], ["n1"]))
        inits.update(g=rng.uniform(0.5, 2, c), b=rng.normal(size=c), mu=rng.normal(size=c))
        inits["var"] = rng.uniform(0.5, 2, c)
        last = "n1"
    nodes.append(node("Relu", [last], ["r1"]))
    skip = {"relu": "r0", "conv": "c0"}[skip_from]
    if join == "Concat":
        nodes.append(node("Concat", ["r1", skip], ["s"], axis=1))
        width = 2 * c
    else:
        nodes.append(node(join, ["r1", skip], ["s"], name="/block/join"))
        width = c
    nodes += [
        node("Relu", ["s"], ["t"]),
        node("Flatten", ["t"], ["f"]),
        node("Gemm", ["f", "G"], ["y"], transB=1),
    ]
    inits["G"] = rng.normal(size=(3, width * size * size))
    return nodes, inits


@SETTINGS
@given(
    st.sampled_from(["relu", "conv"]),
    st.sampled_from(["Add", "Sub", "Concat"]),
    st.booleans(),
    st.integers(0, 2**16),
)
def test_residual_blocks_match_the_runtimes(skip_from, join, bn, seed):
    rng = np.random.default_rng(seed)
    nodes, inits = _block(skip_from, join, bn, rng)
    net = check_against_runtimes(nodes, inits, (1, 4, 4), seed=seed)
    carried = net.lowering[1].pass_through
    # a sum of two ReLU outputs is >= 0: the ReLU after it adds no layer
    assert net.n_layers == (3 if skip_from == "relu" and join in ("Add", "Concat") else 4)
    # the skip tensor crosses the second ReLU layer: 32 values, one neuron each when they are
    # ReLU outputs (known >= 0), two when they are signed convolution outputs
    assert carried == (32 if skip_from == "relu" else 64)
    assert net.layer_sizes[2] == 32 + carried


def test_a_skip_from_the_input_and_a_dense_residual():
    """``y = x + W2 relu(W1 x)``: the signed input is carried as relu(x) - relu(-x)."""
    rng = np.random.default_rng(4)
    nodes = [
        node("Gemm", ["x", "W1"], ["h"], transB=1),
        node("Relu", ["h"], ["r"]),
        node("Gemm", ["r", "W2"], ["o"], transB=1),
        node("Add", ["x", "o"], ["y"]),
    ]
    inits = {"W1": rng.normal(size=(5, 3)), "W2": rng.normal(size=(3, 5))}
    net = check_against_runtimes(nodes, inits, (3,))
    assert net.layer_sizes == (3, 5 + 6, 3)
    assert net.lowering[0].pass_through == 6


def test_a_tensor_read_twice_is_carried_once():
    """Two nodes read the same skip tensor (through an Identity): one set of neurons."""
    rng = np.random.default_rng(5)
    nodes = [
        node("Relu", ["x"], ["r"]),
        node("Identity", ["r"], ["r_copy"]),
        node("Gemm", ["r", "W"], ["h"], transB=1),
        node("Relu", ["h"], ["a"]),
        node("Add", ["a", "r"], ["s"]),
        node("Add", ["s", "r_copy"], ["y"]),
    ]
    net = check_against_runtimes(nodes, {"W": rng.normal(size=(4, 4))}, (4,))
    assert net.layer_sizes == (4, 4, 8, 4)  # r and r_copy: 4 pass-through neurons, not 8
    assert net.lowering[1].pass_through == 4


def test_clipped_relu_with_a_live_branch_is_lowered_exactly():
    """``Clip(z, 0, c)`` when another tensor crosses the layer: ``relu(z) - relu(z - c)``."""
    rng = np.random.default_rng(6)
    nodes = [
        node("Gemm", ["x", "W"], ["h"], transB=1),
        node("Clip", ["h", "lo", "hi"], ["a"]),
        node("Add", ["a", "x"], ["y"]),
    ]
    inits = {"W": rng.normal(size=(3, 3)), "lo": np.float32(0), "hi": np.float32(0.5)}
    net = check_against_runtimes(nodes, inits, (3,))
    assert net.layers[0].activation == pr.Activation.RELU
    assert net.layer_sizes == (3, 6 + 6, 3)


def test_min_cap_of_a_shared_relu_is_lowered():
    """``Min(relu(z), c)`` whose ReLU another node also reads: ``r - relu(r - c)``."""
    rng = np.random.default_rng(7)
    nodes = [
        node("Gemm", ["x", "W"], ["h"], transB=1),
        node("Relu", ["h"], ["r"]),
        node("Min", ["r", "cap"], ["m"]),
        node("Sub", ["m", "r"], ["y"]),
    ]
    inits = {"W": rng.normal(size=(3, 2)), "cap": np.array([0.3, 1.0, np.inf], np.float32)}
    net = check_against_runtimes(nodes, inits, (2,))
    assert net.lowering[1].name.endswith("cap)")
    x = rng.normal(size=(20, 2))
    r = np.maximum(x @ inits["W"].T, 0)
    np.testing.assert_allclose(net.forward(x), np.minimum(r, inits["cap"]) - r, atol=1e-12)


@pytest.mark.parametrize(
    "nodes, match",
    [
        ([node("Mul", ["x", "r"], ["y"])], "other inputs \\(weights"),
        ([node("Concat", ["x", "r"], ["y"], axis=0)], "batch axis must stay first"),
        ([node("Add", ["x", "t"], ["y"])], "same layout"),
    ],
)
def test_joins_that_are_not_affine_or_do_not_fit(nodes, match):
    base = [node("Relu", ["x"], ["r"]), node("Flatten", ["r"], ["t"])]
    model = make_model(base + nodes, {}, (2, 3))
    with pytest.raises(UnsupportedOperatorError, match=match):
        pr.load_onnx(model)


def test_a_transpose_between_conv_and_dense_permutes_the_features():
    rng = np.random.default_rng(8)
    nodes = [
        node("Conv", ["x", "W"], ["c"]),
        node("Relu", ["c"], ["r"]),
        node("Transpose", ["r"], ["t"], perm=[0, 2, 3, 1]),
        node("Reshape", ["t", "shape"], ["f"]),
        node("MatMul", ["f", "M"], ["y"]),
    ]
    inits = {"W": rng.normal(size=(2, 1, 2, 2)), "shape": np.array([-1, 18])}
    inits["M"] = rng.normal(size=(18, 2))
    net = check_against_runtimes(nodes, inits, (1, 4, 4))
    assert net.layer_sizes == (16, 18, 2)
    with pytest.raises(UnsupportedOperatorError, match="keeps the batch axis first"):
        bad = [node("Transpose", ["x"], ["y"], perm=[1, 0, 2])]
        pr.load_onnx(make_model(bad, {}, (2, 3)))


@pytest.mark.parametrize("opset", [9, 17])
def test_a_slice_of_a_branch_joins_a_pool(opset):
    """torch's ``h[:, :, :2, :2]`` (Slice) added to a pooled branch; Slice after a conv, whose
    map is not the identity, and after a ReLU."""
    rng = np.random.default_rng(9)
    if opset < 10:
        slices = [
            node("Slice", ["c"], ["s"], starts=[0, 1], ends=[2, 100], axes=[2, -1]),
            node("Slice", ["r"], ["rs"], starts=[0, 0], ends=[2, 2], axes=[2, 3]),
        ]
        inits = {}
    else:
        slices = [
            node("Slice", ["c", "st", "en", "ax"], ["s"]),
            node("Slice", ["r", "st0", "en0", "ax0", "one"], ["rs"]),
        ]
        inits = {"st": [0, 1], "en": [2, 100], "ax": [2, -1], "st0": [0, 0], "en0": [2, 2]}
        inits.update(ax0=[2, 3], one=[1, 1])
        inits = {k: np.array(v, dtype=np.int64) for k, v in inits.items()}
    nodes = [
        node("Conv", ["x", "W"], ["c"]),
        *slices[:1],
        node("Relu", ["c"], ["r"]),
        *slices[1:],
        node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2]),
        node("Add", ["p", "rs"], ["q"]),
        node("Add", ["q", "s"], ["f"]),
        node("Flatten", ["f"], ["y"]),
    ]
    inits["W"] = rng.normal(size=(2, 1, 2, 2))
    net = check_against_runtimes(nodes, inits, (1, 4, 4), opset=opset, reference=False)
    assert net.n_outputs == 8 and any(r.pass_through for r in net.lowering)
