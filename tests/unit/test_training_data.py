"""``train_mlp`` on data and options of the kinds users hand in.

Array types (float32/int numpy, lists, torch tensors), target shapes, tiny
and huge magnitudes, edge options, reproducibility, and the export: the returned
network must reproduce the torch model's prediction in physical units, also after
an ONNX round trip.  Networks are tiny and train for a few epochs.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pyomo_relu.cli import main  # noqa: E402
from pyomo_relu.errors import MissingBoundsError, ReluError, ShapeMismatchError, UnknownOptionError
from pyomo_relu.network import ActivationKind  # noqa: E402
from pyomo_relu.training import TrainingDataError, train_mlp  # noqa: E402

TINY = dict(hidden=(4,), epochs=2, batch_size=16, lr=1e-2)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(0, 4, n), rng.uniform(-1, 1, n)])
    return X, np.sin(X[:, 0]) + X[:, 1] ** 2 + 5.0


def _torch_prediction(res, X):
    """The torch model's prediction in physical units (standardization undone by hand)."""
    s = res.scaling
    with torch.no_grad():
        pred = res.model(torch.as_tensor((np.asarray(X, float) - s["x_mean"]) / s["x_std"])).numpy()
    return pred * s["y_std"] + s["y_mean"]


def _same_weights(a, b):
    return (
        all(
            np.array_equal(la.weights, lb.weights) and np.array_equal(la.bias, lb.bias)
            for la, lb in zip(a.layers, b.layers)
        )
        and a.layer_sizes == b.layer_sizes
    )


# -- array types and shapes ------------------------------------------------------
def test_float32_int_lists_and_tensors_train_like_the_float64_arrays():
    X, y = _data()
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    ref = train_mlp(X32.astype(np.float64), y32.astype(np.float64), **TINY).network
    for args in [
        (X32, y32),
        (X32.tolist(), y32.tolist()),
        (torch.tensor(X32), torch.tensor(y32)),
        (torch.tensor(X32, requires_grad=True), torch.tensor(y32[:, None], requires_grad=True)),
    ]:
        assert _same_weights(train_mlp(*args, **TINY).network, ref)
    ints = train_mlp((X * 10).astype(np.int32), y.astype(np.int64), **TINY)
    Xi = (X * 10).astype(np.int32)
    np.testing.assert_allclose(
        ints.network.forward(Xi), _torch_prediction(ints, Xi), rtol=1e-12, atol=1e-10
    )


def test_tensor_that_requires_grad_is_accepted_as_data_and_as_bounds():
    # numpy refuses such tensors ("Can't call numpy() on Tensor that requires grad")
    X, y = _data()
    Xt = torch.tensor(X, requires_grad=True)
    lb, ub = (
        torch.tensor([0.0, -1.0], requires_grad=True),
        torch.tensor([4.0, 1.0], requires_grad=True),
    )
    res = train_mlp(Xt, torch.tensor(y), input_bounds=(lb, ub), stability=0.1, **TINY)
    np.testing.assert_array_equal(res.input_bounds[0], [0.0, -1.0])
    assert _same_weights(
        res.network, train_mlp(X, y, input_bounds=([0, -1], [4, 1]), stability=0.1, **TINY).network
    )


def test_masked_array_without_masked_entries_is_plain_data():
    X, y = _data()
    res = train_mlp(np.ma.masked_array(X, mask=False), np.ma.masked_invalid(y), **TINY)
    assert _same_weights(res.network, train_mlp(X, y, **TINY).network)


def test_one_d_and_column_targets_and_inputs_give_the_same_network():
    X, y = _data()
    assert _same_weights(train_mlp(X, y, **TINY).network, train_mlp(X, y[:, None], **TINY).network)
    assert _same_weights(
        train_mlp(X[:, 0], y, **TINY).network, train_mlp(X[:, :1], y, **TINY).network
    )


def test_two_samples_and_two_samples_with_no_validation():
    X, y = _data(2)
    res = train_mlp(X, y, validation=0.0, **TINY)
    assert (
        res.network.layer_sizes == (2, 4, 1)
        and np.isnan(res.val_mse)
        and np.isfinite(res.train_mse)
    )
    np.testing.assert_allclose(
        res.network.forward(X), _torch_prediction(res, X), rtol=1e-12, atol=1e-12
    )


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        (np.zeros((0, 2)), np.zeros(0), ShapeMismatchError, "at least 2 samples.*found 0"),
        ([], [], ShapeMismatchError, "at least 2 samples.*found 0"),
        (np.zeros((1, 3)), [1.0], ShapeMismatchError, "at least 2 samples.*found 1"),
        (
            np.zeros((5, 2)),
            np.zeros(4),
            ShapeMismatchError,
            "X has 5 samples but y has 4; pass one",
        ),
        (
            np.zeros((2, 5)),
            np.zeros(5),
            ShapeMismatchError,
            r"X has 2 samples but y has 5 \(X \(2, 5\) looks transposed",
        ),
        (
            np.zeros((5, 2)),
            np.zeros((1, 5)),
            ShapeMismatchError,
            r"y \(1, 5\) looks transposed: pass y.T",
        ),
        (
            np.ma.masked_array(np.ones((4, 2)), mask=[[0, 0], [0, 1], [0, 0], [1, 0]]),
            np.arange(4.0),
            TrainingDataError,
            "X is a masked array with 2 masked entries.*np.ma.filled",
        ),
        (
            np.ones((4, 2)),
            np.ma.masked_invalid([1.0, np.nan, 2.0, 3.0]),
            TrainingDataError,
            "y is a masked array with 1",
        ),
        (
            np.array([[1.0, None], [2.0, 3.0]], dtype=object),
            [1.0, 2.0],
            TrainingDataError,
            "X contains NaN.*row 0",
        ),
        (
            np.zeros((4, 2)),
            [1.0, 2.0, -np.inf, 0.0],
            TrainingDataError,
            "y contains NaN or Inf.*row 2",
        ),
    ],
)
def test_bad_data_names_the_argument_and_the_fix(X, y, error, match):
    with pytest.raises(error, match=match) as info:
        train_mlp(X, y, **TINY)
    assert isinstance(info.value, ReluError) and isinstance(info.value, ValueError)


# -- magnitudes and constant columns ---------------------------------------------------
@pytest.mark.parametrize("scale", [1e-170, 1e-8, 1e8])
def test_tiny_and_huge_magnitudes_are_standardized_and_exported_exactly(scale):
    X, y = _data()
    Xs, ys = X * scale, np.column_stack([y * scale, y])
    res = train_mlp(Xs, ys, **TINY)
    # a column of 1e-170 values must not pass for constant (the squares inside np.std underflow)
    np.testing.assert_allclose(res.scaling["x_std"], (Xs / scale).std(axis=0) * scale, rtol=1e-12)
    np.testing.assert_allclose(
        res.scaling["y_std"], (ys / [scale, 1]).std(axis=0) * [scale, 1], rtol=1e-12
    )
    pred = _torch_prediction(res, Xs)
    np.testing.assert_allclose(res.network.forward(Xs), pred, rtol=1e-9, atol=0)
    # the network does depend on the inputs: the normalized inputs vary by O(1)
    assert np.ptp(pred[:, 0]) > 1e-3 * scale


def test_a_column_varying_by_subnormal_amounts_is_refused():
    X, y = _data()
    X[:, 1] *= 1e-305
    with pytest.raises(
        TrainingDataError, match="X column 1 varies too little to standardize.*rescale"
    ):
        train_mlp(X, y, **TINY)


def test_constant_input_and_output_columns_among_varying_ones():
    X, y = _data()
    X = np.column_stack([X, np.full(40, -7.0)])
    Y = np.column_stack([y, np.zeros(40), np.full(40, 1e8)])
    res = train_mlp(X, Y, **TINY)
    np.testing.assert_array_equal(res.scaling["x_std"][2], 1.0)
    np.testing.assert_array_equal(res.scaling["y_std"][1:], 1.0)
    np.testing.assert_allclose(
        res.network.forward(X), _torch_prediction(res, X), rtol=1e-12, atol=1e-6
    )


# -- options -------------------------------------------------------------------
@pytest.mark.parametrize("lr, normalize, scale", [(1e100, True, 1.0), (1e-2, False, 1e200)])
def test_diverging_training_is_reported_with_the_fix(lr, normalize, scale):
    # before, the NaN weights reached the torch importer, which spoke of "torch module 0" and files
    X, y = _data()
    with pytest.raises(UnknownOptionError, match="training diverged in epoch 1.*lower lr") as info:
        train_mlp(X * scale, y, **{**TINY, "lr": lr, "normalize": normalize})
    assert ("normalize=True" in str(info.value)) == (not normalize)


def test_cli_train_reports_divergence_on_one_line(tmp_path, capsys):
    X, y = _data()
    data = tmp_path / "d.csv"
    data.write_text(
        "a,b,t\n" + "\n".join(f"{a},{b},{t}" for a, b, t in np.column_stack([X, y])) + "\n"
    )
    code = main(
        [
            "train",
            str(data),
            "--inputs",
            "a,b",
            "--outputs",
            "t",
            "--hidden",
            "3",
            "--epochs",
            "1",
            "--lr",
            "1e100",
            "-o",
            str(tmp_path / "n.onnx"),
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "training diverged" in err[0]
    assert not (tmp_path / "n.onnx").exists()


@pytest.mark.parametrize("hidden", ["8,8", b"8", "8", 4.0, (4, 2.0)])
def test_hidden_of_the_wrong_type_is_echoed_as_given(hidden):
    with pytest.raises(
        UnknownOptionError,
        match="hidden must be a non-empty sequence.*found "
        + repr(hidden).replace("(", r"\(").replace(")", r"\)"),
    ):
        train_mlp(*_data(), **{**TINY, "hidden": hidden})


@pytest.mark.parametrize(
    "name, value",
    [("normalize", "False"), ("verbose", "no"), ("normalize", None), ("normalize", 2)],
)
def test_flags_that_are_not_booleans_are_refused(name, value):
    # bool("False") is True: the string would silently switch normalization on
    with pytest.raises(UnknownOptionError, match=f"{name} must be True or False, found {value!r}"):
        train_mlp(*_data(), **{**TINY, name: value})


def test_flags_as_numpy_booleans_and_zero_one():
    X, y = _data()
    a = train_mlp(X, y, **TINY, normalize=np.bool_(False), verbose=0)
    b = train_mlp(X, y, **TINY, normalize=0)
    assert a.options["normalize"] is False and _same_weights(a.network, b.network)
    assert not _same_weights(a.network, train_mlp(X, y, **TINY).network)


@pytest.mark.parametrize(
    "bounds, match",
    [
        ((None, None), "input_bounds has None as lb.*input_bounds=None"),
        (([0.0, -1.0], None), "input_bounds has None as ub"),
    ],
)
def test_none_inside_input_bounds(bounds, match):
    with pytest.raises(MissingBoundsError, match=match):
        train_mlp(*_data(), input_bounds=bounds, stability=0.1, **TINY)


@pytest.mark.parametrize("bounds", [{"lb": 0, "ub": 4}, (0, 1, 2), ("low", "high")])
def test_input_bounds_that_are_not_a_pair(bounds):
    with pytest.raises(ShapeMismatchError, match="input_bounds must be a pair"):
        train_mlp(*_data(), input_bounds=bounds, **TINY)


def test_input_bounds_as_scalars_and_as_a_2xn_array():
    X, y = _data()
    a = train_mlp(X, y, input_bounds=(-5, 5), stability=0.1, **TINY)
    np.testing.assert_array_equal(a.input_bounds[1], [5.0, 5.0])
    b = train_mlp(X, y, input_bounds=np.array([[-5, -5], [5, 5]]), stability=0.1, **TINY)
    assert _same_weights(a.network, b.network)
    # a wider box changes what the stability loss sees
    assert not _same_weights(a.network, train_mlp(X, y, stability=0.1, **TINY).network)


@pytest.mark.parametrize("hidden", [(1,), 1, (300,), (2, 1, 3), np.array([3, 3])])
def test_unusual_hidden_sizes(hidden):
    X, y = _data()
    res = train_mlp(X, y, **{**TINY, "hidden": hidden})
    assert res.network.layer_sizes == (2, *np.atleast_1d(hidden).tolist(), 1)
    np.testing.assert_allclose(
        res.network.forward(X), _torch_prediction(res, X), rtol=1e-10, atol=1e-10
    )


def test_zero_regularizers_equal_the_defaults_and_penalties_at_large_values_still_train():
    X, y = _data()
    plain = train_mlp(X, y, **TINY).network
    assert _same_weights(
        train_mlp(X, y, l1=0, l2=0.0, stability=0, dropout=0, **TINY).network, plain
    )
    for kwargs in (dict(l1=1e3), dict(stability=1e6), dict(l2=1e3)):
        res = train_mlp(X, y, **TINY, **kwargs)
        assert np.isfinite(res.train_mse) and not _same_weights(res.network, plain)


def test_clipped_relu_with_dropout_exports_the_eval_model_and_caps():
    X, y = _data()
    res = train_mlp(
        X, y, activation="clipped_relu", cap=0.25, dropout=0.5, **{**TINY, "hidden": (6, 6)}
    )
    assert res.model.training is False
    assert [layer.activation.kind for layer in res.network.layers][:2] == [
        ActivationKind.CLIPPED_RELU
    ] * 2
    assert all(layer.activation.cap == 0.25 for layer in res.network.layers[:2])
    np.testing.assert_allclose(
        res.network.forward(X), _torch_prediction(res, X), rtol=1e-12, atol=1e-10
    )
    again = train_mlp(
        X, y, activation="clipped_relu", cap=0.25, dropout=0.5, **{**TINY, "hidden": (6, 6)}
    )
    assert _same_weights(again.network, res.network)  # dropout masks come from the seeded generator


def test_seed_is_reproducible_regardless_of_global_torch_state():
    X, y = _data()
    torch.manual_seed(1)
    a = train_mlp(X, y, seed=7, **TINY)
    torch.manual_seed(99)
    torch.rand(10)
    b = train_mlp(X, y, seed=np.int64(7), **TINY)
    c = train_mlp(X, y, seed=7.0, **TINY)
    assert _same_weights(a.network, b.network) and _same_weights(a.network, c.network)
    assert a.history == b.history


# -- export ------------------------------------------------------------------------
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 30),
    n_in=st.integers(1, 3),
    n_out=st.integers(1, 3),
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    clipped=st.booleans(),
    offset=st.floats(-1e4, 1e4),
    log_scale=st.integers(-6, 6),
    seed=st.integers(0, 2**31),
)
def test_generated_data_export_matches_torch_and_survives_onnx(
    tmp_path_factory, n, n_in, n_out, hidden, clipped, offset, log_scale, seed
):
    pytest.importorskip("onnx")
    from pyomo_relu.io.onnx import load_onnx, save_onnx

    rng = np.random.default_rng(seed)
    X = offset + 10.0**log_scale * rng.normal(size=(n, n_in))
    y = rng.normal(size=(n, n_out)) * 10.0**-log_scale - offset
    res = train_mlp(
        X,
        y,
        hidden=tuple(hidden),
        activation="clipped_relu" if clipped else "relu",
        epochs=1,
        batch_size=8,
        seed=seed % 1000,
    )
    pred = _torch_prediction(res, X)
    # folding x_n = (x - mean) / std into the first layer cancels terms of size |mean / std|:
    # float64
    # rounding grows with it (an offset of 1e4 and a spread of 1e-4 lose 8 digits), a folding bug
    # would not
    s = res.scaling
    ratio = np.max(np.abs(s["x_mean"]) / s["x_std"])
    tol = 1e-13 * (1.0 + ratio) * (1.0 + np.abs(pred).max() + s["y_std"].max())
    np.testing.assert_allclose(res.network.forward(X), pred, rtol=0, atol=tol)
    path = tmp_path_factory.mktemp("onnx") / "net.onnx"
    save_onnx(res.network, path)
    back = load_onnx(path)
    assert _same_weights(back, res.network)
    np.testing.assert_array_equal(back.forward(X), res.network.forward(X))
