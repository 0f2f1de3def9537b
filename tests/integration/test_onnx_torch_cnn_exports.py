"""Convolutional torch modules exported with both exporters load and match the module."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import pyomo_relu as pr

torch = pytest.importorskip("torch")
pytest.importorskip("onnxscript")  # the dynamo exporter
nn = torch.nn


class _Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU())
        self.body = nn.Sequential(
            nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Conv2d(3, 3, 1)
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(3 * 6 * 6, 4))

    def forward(self, x):
        h = self.stem(x)
        return self.head(h + self.body(h))


def _modules():
    return {
        "conv2d": (
            lambda: nn.Sequential(
                nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=1, groups=2),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(4 * 3 * 3, 3),
            ),
            (2, 6, 6),
        ),
        "conv1d": (
            lambda: nn.Sequential(
                nn.Conv1d(1, 3, 3, padding=2, dilation=2), nn.ReLU(), nn.Flatten(), nn.Linear(24, 2)
            ),
            (1, 8),
        ),
        "maxpool2d": (
            lambda: nn.Sequential(
                nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True), nn.Flatten()
            ),
            (1, 7, 7),
        ),
        "avgpool2d": (
            lambda: nn.Sequential(
                nn.Conv2d(1, 2, 3, padding=1),
                nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                nn.ReLU(),
                nn.Flatten(),
            ),
            (1, 6, 6),
        ),
        "batchnorm2d": (
            lambda: nn.Sequential(
                nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(), nn.Linear(48, 2)
            ),
            (1, 6, 6),
        ),
        "residual": (_Residual, (1, 6, 6)),
        "logsoftmax": (
            lambda: nn.Sequential(
                nn.Conv2d(1, 2, 3),
                nn.ReLU(),
                nn.AdaptiveAvgPool2d(1),
                nn.Flatten(),
                nn.Linear(2, 3),
                nn.LogSoftmax(dim=1),
            ),
            (1, 5, 5),
        ),
    }


def _export(module, shape, path, dynamo):
    x = torch.randn(2, *shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {"dynamic_axes": {"x": {0: "N"}, "y": {0: "N"}}} if not dynamo else {}
        torch.onnx.export(
            module, (x,), str(path), dynamo=dynamo, input_names=["x"], output_names=["y"], **kwargs
        )


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", list(_modules()))
def test_torch_cnn_exports_load_and_match(kind, dynamo, tmp_path):
    make, shape = _modules()[kind]
    torch.manual_seed(0)
    module = make().eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / f"{kind}.onnx"
    _export(module, shape, path, dynamo)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = pr.load_onnx(path)
    dropped = [w for w in caught if issubclass(w.category, pr.io.DroppedHeadWarning)]
    x = torch.randn(16, *shape)
    with torch.no_grad():
        want = module(x).reshape(16, -1).double().numpy()
    got = net.forward(x.reshape(16, -1).double().numpy())
    if kind == "logsoftmax":
        assert net.dropped_head == "LogSoftmax" and len(dropped) == 1
        np.testing.assert_array_equal(got.argmax(axis=1), want.argmax(axis=1))
        want = want - want.max(axis=1, keepdims=True)  # log-softmax only shifts each row
        got = got - got.max(axis=1, keepdims=True)
        got = got - np.log(np.exp(got).sum(axis=1, keepdims=True))
        want = want - np.log(np.exp(want).sum(axis=1, keepdims=True))
    else:
        assert net.dropped_head is None and not dropped
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    if kind == "residual":
        assert any(r.pass_through > 0 for r in net.lowering)


@pytest.mark.solver
def test_a_lowered_cnn_solves_and_its_optimum_is_the_forward_pass(tmp_path):
    """A residual CNN with a max pool: the MIP over the lowered network finds a point at least
    as good as every sampled input, and its output is the module's at that point."""
    pyo = pytest.importorskip("pyomo.environ")

    class Small(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 2)
            self.pool = nn.MaxPool2d(2, stride=1)
            self.fc = nn.Linear(2 * 2 * 2, 1)

        def forward(self, x):
            h = torch.relu(self.conv(x))
            return self.fc(torch.flatten(self.pool(h) + h[:, :, :2, :2], 1))

    torch.manual_seed(1)
    module = Small().eval()
    path = tmp_path / "small.onnx"
    _export(module, (1, 4, 4), path, dynamo=False)
    net = pr.load_onnx(path)
    assert any(r.pass_through > 0 for r in net.lowering)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
    if not pyo.SolverFactory("scip_direct").available(exception_flag=False):
        pytest.skip("SCIP (pyscipopt) is not installed")
    pyo.SolverFactory("scip_direct").solve(m)
    x_star = np.array([pyo.value(m.x[i]) for i in range(net.n_inputs)])
    with torch.no_grad():
        at_star = module(torch.tensor(x_star, dtype=torch.float32).reshape(1, 1, 4, 4))
    assert abs(pyo.value(m.obj) - float(at_star)) < 1e-4
    samples = np.random.default_rng(0).uniform(-1, 1, (2000, net.n_inputs))
    assert pyo.value(m.obj) >= net.forward(samples)[:, 0].max() - 1e-7
