"""torch.nn.Sequential <-> ReluNetwork converters."""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest

from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.errors import UnsupportedOperatorError
from pyomo_relu.io import from_torch, load_onnx, to_torch

torch = pytest.importorskip("torch")
nn = torch.nn


def per_neuron_network():
    rng = np.random.default_rng(4)
    return ReluNetwork(
        [
            DenseLayer(
                rng.normal(size=(5, 3)),
                rng.normal(size=5),
                Activation.CLIPPED_RELU((0.5, 1.0, 1.5, 2.0, 0.3)),
            ),
            DenseLayer(rng.normal(size=(4, 5)), rng.normal(size=4), Activation.CLIPPED_RELU(0.9)),
            DenseLayer(rng.normal(size=(3, 4)), rng.normal(size=3), Activation.RELU),
            DenseLayer(rng.normal(size=(2, 3)), rng.normal(size=2), Activation.LINEAR),
        ]
    )


def test_from_torch_reads_all_supported_modules():
    torch.manual_seed(0)
    module = (
        nn.Sequential(
            nn.Flatten(),
            nn.Linear(3, 6),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Sequential(nn.Linear(6, 5), nn.ReLU6()),
            nn.Identity(),
            nn.Linear(5, 4),
            nn.Hardtanh(0.0, 0.5),
            nn.Linear(4, 4, bias=False),
            nn.Linear(4, 2),
        )
        .double()
        .eval()
    )
    net = from_torch(module, output_names=["p", "q"])
    acts = [layer.activation for layer in net.layers]
    assert acts == [
        Activation.RELU,
        Activation.CLIPPED_RELU(6.0),
        Activation.CLIPPED_RELU(0.5),
        Activation.LINEAR,
        Activation.LINEAR,
    ]
    assert net.output_names == ("p", "q") and net.layers[0].weights.dtype == np.float64
    x = np.random.default_rng(0).normal(size=(40, 3)) * 3
    with torch.no_grad():
        expected = module(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(net.forward(x), expected, atol=1e-12)


@pytest.mark.parametrize(
    "module, match",
    [
        (
            lambda: nn.Sequential(nn.Linear(2, 3), nn.Tanh()),
            "module 1 .Tanh. .*not supported.*Hardtanh",
        ),
        (lambda: nn.Sequential(nn.Linear(2, 3), nn.Hardtanh(-1.0, 1.0)), r"Hardtanh\(min_val=-1.0"),
        (lambda: nn.Sequential(nn.ReLU(), nn.Linear(2, 3)), "without a preceding Linear"),
        (lambda: nn.Sequential(nn.Flatten(0), nn.Linear(2, 3)), r"Flatten\(start_dim=0"),
        (lambda: nn.Linear(2, 3), "expected a torch.nn.Sequential"),
    ],
)
def test_from_torch_rejects_unsupported(module, match):
    with pytest.raises(UnsupportedOperatorError, match=match):
        from_torch(module())


def test_to_torch_round_trip_with_per_neuron_caps():
    net = per_neuron_network()
    module = to_torch(net)
    assert type(module[1]).__name__ == "PerNeuronClippedReLU"
    assert isinstance(module[3], nn.Hardtanh) and not module.training
    assert from_torch(module) == net
    x = np.random.default_rng(1).normal(size=(50, 3)) * 2
    with torch.no_grad():
        np.testing.assert_allclose(module(torch.from_numpy(x)).numpy(), net.forward(x), atol=1e-12)
    restored = pickle.loads(pickle.dumps(module))
    assert from_torch(restored) == net


def test_to_torch_float32_exports_to_onnx(tmp_path):
    net = per_neuron_network()
    module = to_torch(net, dtype=torch.float32)
    path = tmp_path / "caps.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (torch.zeros(2, 3),),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "N"}},
        )
    back = load_onnx(path)
    assert [layer.activation.kind for layer in back.layers] == [
        layer.activation.kind for layer in net.layers
    ]
    np.testing.assert_allclose(
        back.layers[0].activation.caps(5), net.layers[0].activation.caps(5), rtol=1e-6
    )
    x = np.random.default_rng(2).normal(size=(30, 3))
    np.testing.assert_allclose(back.forward(x), net.forward(x), atol=1e-5)


def test_missing_torch_gives_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ImportError, match=r"pip install pyomo_relu\[train\]"):
        from_torch(object())


def test_io_package_does_not_import_torch_or_omlt():
    code = (
        "import sys, pyomo_relu.io; print(sorted(m for m in ('torch', 'omlt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
