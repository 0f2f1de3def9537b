"""A classifier's last Softmax/LogSoftmax is dropped: the network outputs the logits."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import pyomo_relu as pr
from pyomo_relu.errors import UnsupportedOperatorError
from pyomo_relu.io import DroppedHeadWarning, OnnxNetwork
from tests.onnx_graphs import _ort, make_model, node

pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(0)
INITS = {"W": RNG.normal(size=(5, 3)), "b": RNG.normal(size=5), "W2": RNG.normal(size=(4, 5))}
BODY = [
    node("Gemm", ["x", "W", "b"], ["h"], transB=1),
    node("Relu", ["h"], ["r"]),
    node("Gemm", ["r", "W2"], ["logits"], transB=1),
]


@pytest.mark.parametrize("op, opset", [("Softmax", 17), ("LogSoftmax", 17), ("Softmax", 11)])
def test_the_head_is_dropped_with_a_warning_and_recorded(op, opset):
    model = make_model([*BODY, node(op, ["logits"], ["y"], name="/head")], INITS, (3,), opset=opset)
    with pytest.warns(DroppedHeadWarning, match=f"'/head' \\(op_type {op}.*optimizes the logits"):
        net = pr.load_onnx(model)
    assert isinstance(net, OnnxNetwork) and net.dropped_head == op
    x = RNG.normal(size=(50, 3))
    logits = _ort(make_model(BODY, INITS, (3,), out="logits"), x)
    np.testing.assert_allclose(net.forward(x), logits, rtol=2e-5, atol=2e-5)
    probs = _ort(model, x)
    np.testing.assert_array_equal(net.forward(x).argmax(axis=1), probs.argmax(axis=1))


def test_a_network_without_head_warns_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = pr.load_onnx(make_model(BODY, INITS, (3,), out="logits"))
    assert net.dropped_head is None
    assert [r.name for r in net.lowering] == ["layer 0 (Gemm 'node0')", "layer 1 (Gemm 'node2')"]


def test_a_softmax_inside_the_network_is_refused():
    nodes = [*BODY, node("Softmax", ["logits"], ["p"], name="mid"), node("Relu", ["p"], ["y"])]
    with pytest.raises(UnsupportedOperatorError, match="'mid'.*only as the last node"):
        pr.load_onnx(make_model(nodes, INITS, (3,)))


def test_the_record_survives_pickling_and_derived_networks_are_plain():
    model = make_model([*BODY, node("LogSoftmax", ["logits"], ["y"])], INITS, (3,))
    with pytest.warns(DroppedHeadWarning):
        net = pr.load_onnx(model)
    back = pickle.loads(pickle.dumps(net))
    assert back.dropped_head == "LogSoftmax" and back == net
    derived = net.with_layers(net.layers)
    assert type(derived) is pr.ReluNetwork and derived == net
