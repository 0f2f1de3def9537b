"""Clipped-ReLU networks exported to ONNX (Clip op) load, solve, and match the forward pass."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from tests.conftest import requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _torch_clipped_onnx(path, seed=0):
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 12),
        torch.nn.Hardtanh(0.0, 1.5),
        torch.nn.Linear(12, 12),
        torch.nn.ReLU6(),
        torch.nn.Linear(12, 1),
    )
    torch.onnx.export(
        model,
        (torch.zeros(1, 2),),
        str(path),
        dynamo=False,
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "n"}},
    )
    return model


@pytest.mark.parametrize("formulation", pr.formulation_names())
def test_clipped_onnx_network_solves_and_matches_forward(tmp_path, formulation):
    path = tmp_path / "clipped.onnx"
    _torch_clipped_onnx(path)
    import onnx

    assert any(node.op_type == "Clip" for node in onnx.load(str(path)).graph.node)
    net = pr.load_onnx(path)
    kinds = [layer.activation.kind for layer in net.layers]
    assert kinds[:2] == [pr.ActivationKind.CLIPPED_RELU] * 2
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-2, 2))
    if formulation == "sos1":  # ReLU networks only: refused when built, naming the fix
        with pytest.raises(pr.NotApplicableError, match=r"layer 0 .* clipped ReLU.*'bigm'"):
            m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
        return
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    pyo.SolverFactory("scip_direct").solve(m)
    assert m.nn.prediction_error() < 1e-6
    g = np.linspace(-2, 2, 601)
    grid = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    best = net.forward(grid)[:, 0].max()
    assert pyo.value(m.obj) >= best - 1e-7
    assert pyo.value(m.obj) - best < 0.05
    # fixed inputs reproduce the forward pass
    rng = np.random.default_rng(0)
    for _ in range(5):
        x = rng.uniform(-2, 2, 2)
        for i in range(2):
            m.x[i].fix(float(x[i]))
        pyo.SolverFactory("scip_direct").solve(m)
        assert abs(m.nn.output_values()[0] - net.forward(x)[0]) < 1e-6
