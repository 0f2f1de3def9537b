"""OMLT's convolutional test models (tests/data, BSD-licensed) load and match onnxruntime."""

from __future__ import annotations

import os

import numpy as np
import pytest

import pyomo_relu as pr
from pyomo_relu.errors import UnsupportedOperatorError

ort = pytest.importorskip("onnxruntime")

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")


def _run(path, x):
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize(
    "name, sizes, first",
    [
        ("convx1_gemmx1.onnx", (49, 10, 1), "layer 0 (Conv 'Conv_0')"),
        (
            "keras_conv_7x7_relu.onnx",
            (49, 36),
            "layer 0 (Conv 'keras_conv_7x7_relu/conv2d/Conv2D')",
        ),
    ],
)
def test_omlt_conv_models_match_onnxruntime(name, sizes, first):
    path = os.path.join(DATA, name)
    net = pr.load_onnx(path)
    assert net.layer_sizes == sizes and net.lowering[0].name == first
    x = np.random.default_rng(0).normal(size=(20, 1, 7, 7)).astype(np.float32)
    want = _run(path, x).reshape(20, -1)
    np.testing.assert_allclose(net.forward(x.reshape(20, -1)), want, rtol=1e-5, atol=1e-5)


def test_omlt_maxpool_model_without_batch_axis_is_refused_like_onnxruntime():
    path = os.path.join(DATA, "maxpool_2d.onnx")
    with pytest.raises(Exception, match="kernel_shape"):
        ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    with pytest.raises(UnsupportedOperatorError, match="'node1' \\(op_type MaxPool.*kernel_shape"):
        pr.load_onnx(path)
