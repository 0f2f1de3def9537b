"""The relaxation-informed regularizers of ``train_mlp``: ``bound_width`` and ``lp_gap``.

Real (short, seeded) training on a peaks-like problem on [-2, 2]^2; every measure is
computed independently of the training code (interval bounds of the exported network,
LPs solved here with HiGHS).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from pyomo_relu.benchmarks.problems.peaks import peaks_function  # noqa: E402
from pyomo_relu.bounds import interval_bounds  # noqa: E402
from pyomo_relu.cli import main  # noqa: E402
from pyomo_relu.errors import ReluError, UnknownOptionError  # noqa: E402
from pyomo_relu.io.onnx import load_onnx  # noqa: E402
from pyomo_relu.training import bound_width_loss, interval_pass, train_mlp  # noqa: E402

BOX = ([-2.0, -2.0], [2.0, 2.0])
SMALL = dict(hidden=(12, 12), epochs=12, batch_size=32, lr=5e-3, input_bounds=BOX, seed=1)


def peaks_data(n=400, seed=0):
    X = np.random.default_rng(seed).uniform(-2, 2, size=(n, 2))
    return X, peaks_function(X)


def normalized_box(result):
    s = result.scaling
    lb, ub = result.input_bounds
    return (
        torch.as_tensor((lb - s["x_mean"]) / s["x_std"]),
        torch.as_tensor((ub - s["x_mean"]) / s["x_std"]),
    )


def summed_widths(result):
    """Summed hidden interval widths of the exported network, in standardized output-free units.

    The exported network works in physical input units; its hidden layers are those of the
    trained model, so their interval widths over the physical box equal the widths the
    regularizer sees over the standardized box.
    """
    bounds = interval_bounds(result.network, *result.input_bounds)
    return sum(float(np.sum(bounds.upper[k] - bounds.lower[k])) for k in range(bounds.n_layers - 1))


@pytest.mark.parametrize("name", ["bound_width", "lp_gap"])
@pytest.mark.parametrize("value", [-1.0, float("nan"), float("inf"), "0.1", True, None])
def test_bad_regularizer_weight_is_refused_with_its_name(name, value):
    with pytest.raises(UnknownOptionError, match=f"{name} must be a finite number >= 0") as info:
        train_mlp(*peaks_data(40), **{**SMALL, "epochs": 1, name: value})
    assert isinstance(info.value, ReluError) and isinstance(info.value, ValueError)


def test_interval_pass_matches_the_package_interval_bounds():
    res = train_mlp(*peaks_data(200), **{**SMALL, "epochs": 2})
    got = interval_pass(res.model, *normalized_box(res), None)
    ref = interval_bounds(res.network, *res.input_bounds)
    for k, (lo, up) in enumerate(got):
        np.testing.assert_allclose(lo.detach().numpy(), ref.lower[k], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(up.detach().numpy(), ref.upper[k], rtol=1e-9, atol=1e-9)
    width = bound_width_loss(res.model, *normalized_box(res), None).item()
    assert width == pytest.approx(summed_widths(res), rel=1e-9)


def test_bound_width_shrinks_the_interval_widths_against_plain_training():
    X, y = peaks_data()
    plain = train_mlp(X, y, **SMALL)
    tight = train_mlp(X, y, bound_width=3e-3, **SMALL)
    assert tight.options["bound_width"] == 3e-3 and plain.options["bound_width"] == 0.0
    assert summed_widths(tight) < 0.7 * summed_widths(plain)
    assert tight.train_mse < np.var(y)  # still a fit, not a constant


def test_bound_width_adds_to_l1_l2_and_stability():
    X, y = peaks_data(200)
    opts = {**SMALL, "epochs": 3, "l1": 1e-4, "l2": 1e-4, "stability": 1e-3}
    both = train_mlp(X, y, bound_width=1e-3, **opts)
    alone = train_mlp(X, y, **opts)
    assert {k: both.options[k] for k in ("l1", "l2", "stability", "bound_width")} == {
        "l1": 1e-4,
        "l2": 1e-4,
        "stability": 1e-3,
        "bound_width": 1e-3,
    }
    assert both.network != alone.network


def test_cli_train_bound_width(tmp_path):
    X, y = peaks_data(120)
    data = tmp_path / "peaks.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="u,v,f", comments="")
    out = tmp_path / "net.onnx"
    args = ["train", str(data), "--inputs", "u,v", "--outputs", "f", "--hidden", "6"]
    args += ["--epochs", "3", "--bound-width", "1e-3", "-o", str(out)]
    assert main(args) == 0
    net = load_onnx(out)
    assert net.n_inputs == 2
    assert main(args[:-2] + ["--bound-width", "-1", "-o", str(out)]) == 2
