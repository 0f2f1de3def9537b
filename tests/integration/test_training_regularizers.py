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
from pyomo_relu.relaxation_gap import LPGapSolver, lp_gap  # noqa: E402
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


# -- lp_gap --------------------------------------------------------------------------------
def small_torch_net(sizes, seed):
    torch.manual_seed(seed)
    layers = []
    for k in range(len(sizes) - 1):
        layers.append(torch.nn.Linear(sizes[k], sizes[k + 1], dtype=torch.float64))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def gaps_of(model, x, lo, up):
    return lp_gap(linears(model), x, interval_pass(model, lo, up, None), LPGapSolver())


def unit_box(n):
    return -torch.ones(n, dtype=torch.float64), torch.ones(n, dtype=torch.float64)


def test_lp_gap_of_one_hidden_layer_matches_the_closed_form():
    """With one hidden layer and x fixed, a_j ranges over [relu(z_j), s_j (z_j - min(l_j, 0))]
    independently, so max - min of y = w . a is sum_j |w_j| (chord_j - relu(z_j))."""
    model = small_torch_net([2, 7, 1], seed=3)
    lo, up = unit_box(2)
    x = torch.rand(5, 2, dtype=torch.float64) * 2 - 1
    w1, b1 = model[0].weight.detach().numpy(), model[0].bias.detach().numpy()
    w2 = model[2].weight.detach().numpy()[0]
    rad = np.abs(w1).sum(axis=1)
    lj, uj = b1 - rad, b1 + rad
    z = x.numpy() @ w1.T + b1
    ln, up_pos = np.minimum(lj, 0), np.maximum(uj, 0)
    chord = up_pos / (up_pos - ln) * (z - ln)
    expected = (np.abs(w2) * (chord - np.maximum(z, 0))).sum(axis=1)
    assert np.any((lj < 0) & (uj > 0))  # some neurons are unstable, so the gap is not 0
    np.testing.assert_allclose(gaps_of(model, x, lo, up).detach().numpy(), expected, atol=1e-9)


@pytest.mark.parametrize("sizes, seed", [([2, 6, 5, 2], 0), ([3, 5, 4, 4, 1], 7)])
def test_lp_gap_gradient_matches_finite_differences(sizes, seed):
    """The dual-based gradient is the total derivative: through the weights directly and
    through the interval bounds over the box (float64, central differences)."""
    model = small_torch_net(sizes, seed)
    lo, up = unit_box(sizes[0])
    x = torch.rand(4, sizes[0], dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    x = 2 * x - 1
    weight = torch.tensor([0.3, 1.0, 0.7, 0.2], dtype=torch.float64)
    solver = LPGapSolver()

    def value():
        return float(
            (lp_gap(linears(model), x, interval_pass(model, lo, up, None), solver) * weight).sum()
        )

    (
        lp_gap(linears(model), x, interval_pass(model, lo, up, None), solver) * weight
    ).sum().backward()
    eps = 1e-6
    checked = 0
    for param in model.parameters():
        numeric = torch.zeros_like(param)
        with torch.no_grad():
            for idx in np.ndindex(*param.shape):
                old = param[idx].item()
                param[idx] = old + eps
                plus = value()
                param[idx] = old - eps
                minus = value()
                param[idx] = old
                numeric[idx] = (plus - minus) / (2 * eps)
        np.testing.assert_allclose(param.grad.numpy(), numeric.numpy(), atol=1e-6, rtol=1e-5)
        checked += int((numeric.abs() > 1e-3).sum())
    assert checked > 10  # the gap depends on most weights: the check is not vacuous


def pyomo_relaxation_gap(net, box, point):
    """max - min of the output of the relaxed big-M model of ``net`` (bounds from ``box``) with
    the inputs fixed at ``point``: the same LP written by the package's formulation and solved
    through Pyomo."""
    pyo = pytest.importorskip("pyomo.environ")
    from pyomo_relu.block import ReluNetworkBlock
    from pyomo_relu.solving import solve_model

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(len(point)), bounds=lambda m, i: (box[0][i], box[1][i]))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
    for i, value in enumerate(point):
        m.x[i].fix(float(value))
    ends = []
    for sense in (pyo.maximize, pyo.minimize):
        m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
        solve_model(m, solver="appsi_highs")
        ends.append(pyo.value(m.nn.outputs[0]))
        m.del_component(m.obj)
    return ends[0] - ends[1]


def training_gaps(result, X):
    """LP gaps of the trained model at the rows of X, in standardized output units."""
    s = result.scaling
    x = torch.as_tensor((X - s["x_mean"]) / s["x_std"])
    with torch.no_grad():
        return gaps_of(result.model, x, *normalized_box(result)).numpy()


def test_lp_gap_of_a_trained_network_matches_the_relaxed_big_m_model():
    X, y = peaks_data(200)
    res = train_mlp(X, y, **{**SMALL, "epochs": 3})
    got = training_gaps(res, X[:4]) * res.scaling["y_std"][0]  # physical units
    expected = [pyomo_relaxation_gap(res.network, BOX, X[i]) for i in range(4)]
    assert min(expected) > 1e-3  # a loose relaxation: the comparison says something
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.fixture(scope="module")
def plain_and_gap():
    X, y = peaks_data()
    plain = train_mlp(X, y, **SMALL)
    gap = train_mlp(X, y, lp_gap=0.05, lp_gap_samples=4, **SMALL)
    return X, y, plain, gap


def test_lp_gap_reduces_the_gap_at_the_training_points(plain_and_gap):
    X, y, plain, gap = plain_and_gap
    assert gap.options["lp_gap"] == 0.05 and gap.options["lp_gap_samples"] == 4
    before, after = training_gaps(plain, X[:100]).mean(), training_gaps(gap, X[:100]).mean()
    assert after < 0.5 * before
    assert gap.train_mse < np.var(y)


def test_lp_gap_training_is_deterministic_and_its_export_matches_torch(plain_and_gap):
    X, y, _, gap = plain_and_gap
    again = train_mlp(X, y, lp_gap=0.05, lp_gap_samples=4, **SMALL)
    assert again.network == gap.network and again.history == gap.history
    s = gap.scaling
    with torch.no_grad():
        pred = gap.model(torch.as_tensor((X - s["x_mean"]) / s["x_std"])).numpy()
    np.testing.assert_allclose(
        gap.network.forward(X), pred * s["y_std"] + s["y_mean"], rtol=1e-12, atol=1e-10
    )


def test_all_regularizers_add_up_and_are_recorded():
    X, y = peaks_data(200)
    opts = {**SMALL, "epochs": 2, "l1": 1e-4, "l2": 1e-4, "stability": 1e-3}
    full = train_mlp(X, y, bound_width=1e-3, lp_gap=0.01, lp_gap_samples=2, lp_gap_every=3, **opts)
    without_gap = train_mlp(X, y, bound_width=1e-3, **opts)
    recorded = {k: full.options[k] for k in ("l1", "l2", "stability", "bound_width", "lp_gap")}
    assert recorded == {
        "l1": 1e-4,
        "l2": 1e-4,
        "stability": 1e-3,
        "bound_width": 1e-3,
        "lp_gap": 0.01,
    }
    assert (full.options["lp_gap_samples"], full.options["lp_gap_every"]) == (2, 3)
    assert full.network != without_gap.network


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(lp_gap=0.1, lp_gap_samples=0), "lp_gap_samples must be an integer >= 1"),
        (dict(lp_gap=0.1, lp_gap_samples=2.5), "lp_gap_samples"),
        (dict(lp_gap=0.1, lp_gap_every=0), "lp_gap_every must be an integer >= 1"),
        (dict(lp_gap=0.1, activation="clipped_relu"), "lp_gap needs activation='relu'"),
    ],
)
def test_bad_lp_gap_settings_are_refused(kwargs, match):
    with pytest.raises(UnknownOptionError, match=match):
        train_mlp(*peaks_data(40), **{**SMALL, "epochs": 1, **kwargs})


def test_cli_train_lp_gap(tmp_path, capsys):
    X, y = peaks_data(120)
    data = tmp_path / "peaks.csv"
    np.savetxt(data, np.column_stack([X, y]), delimiter=",", header="u,v,f", comments="")
    out = tmp_path / "net.onnx"
    args = ["train", str(data), "--inputs", "u,v", "--outputs", "f", "--hidden", "6,6"]
    args += ["--epochs", "2", "--lp-gap", "0.01", "--lp-gap-samples", "2", "-o", str(out)]
    assert main(args) == 0
    assert load_onnx(out).n_inputs == 2
    assert main(args[:-2] + ["--lp-gap", "nan", "-o", str(out)]) == 2
    assert "lp_gap must be a finite number >= 0" in capsys.readouterr().err
