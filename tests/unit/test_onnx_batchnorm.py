"""BatchNormalization (inference mode) between dense layers is folded into the weights."""

from __future__ import annotations

import numpy as np
import pytest

import pyomo_relu as pr

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")


def _trained_bn_model(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 8),
        torch.nn.BatchNorm1d(8),
        torch.nn.ReLU(),
        torch.nn.Linear(8, 2),
    )
    model.train()
    for _ in range(3):  # move the running statistics away from their defaults
        model(torch.randn(64, 3) * 2 + 1)
    return model.eval()


@pytest.mark.parametrize("dynamo", [False, True])
def test_batchnorm_is_folded_and_matches_torch(tmp_path, dynamo):
    model = _trained_bn_model()
    path = tmp_path / "bn.onnx"
    torch.onnx.export(model, (torch.zeros(2, 3),), str(path), dynamo=dynamo)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    net = pr.load_onnx(path)
    assert net.layer_sizes == (3, 8, 8, 2)
    x = np.random.default_rng(0).normal(size=(200, 3))
    with torch.no_grad():
        expected = model(torch.tensor(x, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(net.forward(x), expected, atol=1e-4, rtol=1e-4)
    if "BatchNormalization" in ops:  # the exporter may already have folded it
        assert net.layers[0].n_out == 8


def test_training_mode_batchnorm_is_rejected_with_a_fix():
    from onnx import TensorProto, helper

    n = 2
    inits = [
        helper.make_tensor(name, TensorProto.FLOAT, [n], vals)
        for name, vals in (
            ("s", [1.0, 2.0]),
            ("b", [0.0, 1.0]),
            ("m", [0.5, 0.5]),
            ("v", [1.0, 4.0]),
        )
    ]
    w = helper.make_tensor("W", TensorProto.FLOAT, [n, n], [1.0, 0.0, 0.0, 1.0])
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], name="fc"),
        helper.make_node(
            "BatchNormalization",
            ["h", "s", "b", "m", "v"],
            ["y", "rm", "rv"],
            name="bn",
            training_mode=1,
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n])],
        [w, *inits],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    with pytest.raises(pr.UnsupportedOperatorError, match=r"'bn'.*inference-mode.*model.eval\(\)"):
        pr.load_onnx(model)
