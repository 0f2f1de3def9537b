"""Training with regularizers, clipped ReLU, normalization folding and the `train` CLI."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyomo_relu.bounds import interval_bounds  # noqa: E402
from pyomo_relu.errors import UnknownOptionError  # noqa: E402
from pyomo_relu.network import ActivationKind  # noqa: E402
from pyomo_relu.training import fold_normalization, stability_loss, train_mlp  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
FAST = dict(hidden=(8, 8), epochs=15, batch_size=32, lr=1e-2)


def toy_data(n=200, seed=0):
    """A smooth 2-D function on [0, 4] x [-1, 1] (non-centred, so folding matters)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(0, 4, n), rng.uniform(-1, 1, n)])
    y = np.sin(X[:, 0]) * 3.0 + X[:, 1] ** 2 + 10.0
    return X, y


def stable_share(result):
    lb, ub = result.input_bounds
    bounds = interval_bounds(result.network, lb, ub)
    hidden = range(bounds.n_layers - 1)
    return np.mean(np.concatenate([bounds.stable(k) for k in hidden]))


def test_same_seed_same_weights_and_different_seed_differs():
    X, y = toy_data()
    a = train_mlp(X, y, seed=3, **FAST)
    b = train_mlp(X, y, seed=3, **FAST)
    c = train_mlp(X, y, seed=4, **FAST)
    assert a.network == b.network
    assert a.history == b.history
    assert a.network != c.network
    assert len(a.history) == FAST["epochs"]
    assert a.val_mse < np.var(y)  # it learned something


def test_training_leaves_global_torch_state_alone():
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_mlp(*toy_data(60), **dict(FAST, epochs=2))
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads
    assert not torch.are_deterministic_algorithms_enabled()


def test_l1_reduces_mean_absolute_weight():
    X, y = toy_data()
    plain = train_mlp(X, y, **FAST)
    sparse = train_mlp(X, y, l1=1e-2, **FAST)

    # compare in standardized units (the torch model), where the penalty acts
    def w(r):
        params = r.model.named_parameters()
        return np.mean([p.detach().abs().mean().item() for n, p in params if "weight" in n])

    assert w(sparse) < 0.7 * w(plain)


def test_stability_raises_stable_share_of_interval_bounds():
    X, y = toy_data()
    plain = train_mlp(X, y, **FAST)
    stable = train_mlp(X, y, stability=0.05, **FAST)
    assert stable_share(stable) > stable_share(plain) + 0.2


def test_stability_loss_matches_interval_bounds_of_the_network():
    X, y = toy_data(80)
    res = train_mlp(X, y, normalize=False, **dict(FAST, epochs=2))
    lb, ub = res.input_bounds
    bounds = interval_bounds(res.network, lb, ub)
    expected = -sum(
        np.tanh(1 + bounds.lower[k] * bounds.upper[k]).sum() for k in range(bounds.n_layers - 1)
    )
    got = stability_loss(res.model, torch.as_tensor(lb), torch.as_tensor(ub), None).item()
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_folded_network_matches_torch_model_in_physical_units():
    X, y = toy_data()
    res = train_mlp(X, y, **FAST)
    s = res.scaling
    assert not np.allclose(s["x_mean"], 0) and not np.allclose(s["y_std"], 1)
    with torch.no_grad():
        pred_n = res.model(torch.as_tensor((X - s["x_mean"]) / s["x_std"])).numpy()
    pred = pred_n * s["y_std"] + s["y_mean"]
    np.testing.assert_allclose(res.network.forward(X), pred, rtol=1e-12, atol=1e-10)
    mse = np.mean((res.network.forward(X)[:, 0] - y) ** 2)
    assert mse == pytest.approx((res.train_mse * 0.8 + res.val_mse * 0.2), rel=1e-6)


def test_fold_normalization_by_hand():
    w, b = fold_normalization(
        [np.array([[2.0, 1.0]]), np.array([[3.0]])],
        [np.array([1.0]), np.array([0.5])],
        x_mean=np.array([1.0, -1.0]),
        x_std=np.array([2.0, 4.0]),
        y_mean=np.array([10.0]),
        y_std=np.array([5.0]),
    )
    np.testing.assert_allclose(w[0], [[1.0, 0.25]])
    np.testing.assert_allclose(b[0], [1.0 - (2.0 * 0.5 + 1.0 * -0.25)])
    np.testing.assert_allclose(w[1], [[15.0]])
    np.testing.assert_allclose(b[1], [12.5])


def test_clipped_relu_layers_and_caps():
    X, y = toy_data()
    res = train_mlp(X, y, activation="clipped_relu", cap=0.7, **FAST)
    kinds = [layer.activation.kind for layer in res.network.layers]
    assert kinds == [
        ActivationKind.CLIPPED_RELU,
        ActivationKind.CLIPPED_RELU,
        ActivationKind.LINEAR,
    ]
    assert res.network.layers[0].activation.cap == 0.7
    # hidden outputs really are clipped: some neuron saturates on the data
    pats = res.network.activation_patterns(X)
    assert (pats == 2).any()


def test_dropout_and_l2_train_and_differ_from_plain():
    X, y = toy_data()
    plain = train_mlp(X, y, **FAST)
    assert train_mlp(X, y, dropout=0.2, **FAST).network != plain.network
    assert train_mlp(X, y, l2=1e-3, **FAST).network != plain.network


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(activation="tanh"), UnknownOptionError, "activation='tanh'.*relu, clipped_relu"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(hidden=(8, 0)), ValueError, "hidden"),
        (dict(l1=-1.0), ValueError, "l1"),
        (dict(epochs=0), ValueError, "epochs"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_mlp(*toy_data(20), **kwargs)


def test_bad_data():
    X, y = toy_data(20)
    with pytest.raises(ValueError, match="19"):
        train_mlp(X, y[:19])
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN.*row 3"):
        train_mlp(X, y)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


def test_read_columns_errors(tmp_path):
    from pyomo_relu.cli.train import read_columns

    with pytest.raises(FileNotFoundError, match="nothere.csv"):
        read_columns(tmp_path / "nothere.csv", ["a"])
    path = write_csv(tmp_path / "d.csv", ["a", "b"], [[1, 2], [3, "x"]])
    with pytest.raises(UnknownOptionError, match="'c' not found; available columns: a, b"):
        read_columns(path, ["a", "c"])
    with pytest.raises(ValueError, match="line 3"):
        read_columns(path, ["b"])
    np.testing.assert_array_equal(read_columns(path, ["a"]), [[1.0], [3.0]])


def _cli_complete() -> bool:
    from importlib.util import find_spec

    from pyomo_relu.cli import COMMANDS

    return all(find_spec(f"pyomo_relu.cli.{name}") is not None for name in COMMANDS)


@pytest.mark.skipif(not _cli_complete(), reason="a pyomo-relu subcommand module is missing")
def test_cli_train_end_to_end(tmp_path):
    X, y = toy_data(120)
    data = write_csv(tmp_path / "data.csv", ["a", "b", "target"], np.column_stack([X, y]).tolist())
    out = tmp_path / "net.onnx"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [
        sys.executable,
        "-m",
        "pyomo_relu",
        "train",
        str(data),
        "--inputs",
        "a,b",
        "--outputs",
        "target",
        "--hidden",
        "6",
        "--epochs",
        "5",
        "--l1",
        "1e-4",
        "-o",
        str(out),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "validation MSE" in proc.stdout
    from pyomo_relu.io.onnx import load_onnx

    net = load_onnx(out)
    assert net.layer_sizes == (2, 6, 1)

    bad = subprocess.run(
        cmd[:6] + ["a,nope"] + cmd[7:], capture_output=True, text=True, env=env, timeout=60
    )
    assert bad.returncode == 2
    assert "nope" in bad.stderr and "a, b, target" in bad.stderr


def test_sampled_region_count_of_a_hand_made_network():
    from pyomo_relu.benchmarks.regularization import sampled_regions
    from pyomo_relu.network import ReluNetwork

    # kinks x0 = 0 and x1 = 1 split [-3, 3]^2 into 4 regions; the third neuron is always on
    net = ReluNetwork.from_arrays(
        [np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]), np.ones((1, 3))],
        [np.array([0.0, -1.0, 5.0]), np.zeros(1)],
    )
    assert sampled_regions(net, n=101) == 4


def test_missing_torch_gives_install_hint():
    code = "import sys; sys.modules['torch'] = None; import pyomo_relu.training"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode != 0
    assert "pip install pyomo_relu[train]" in proc.stderr
