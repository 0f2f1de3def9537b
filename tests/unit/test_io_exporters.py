"""Importers against real exporters and hand-built ONNX variants.

Every network that loads is compared with onnxruntime (or torch / sklearn /
OMLT's own evaluation) on random inputs; everything else must raise a
:class:`~pyomo_relu.errors.ReluError` that names the node.
"""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from pyomo_relu import Activation
from pyomo_relu.errors import (
    InvalidNetworkError,
    ReluError,
    ShapeMismatchError,
    UnsupportedOperatorError,
)
from pyomo_relu.io import from_omlt, from_torch, load_onnx

ort = pytest.importorskip("onnxruntime")

F32 = {"rtol": 1e-5, "atol": 1e-5}  # float32 graphs evaluated in float64
node = helper.make_node


def run_ort(model, x):
    """Evaluate a model (ModelProto or path) with onnxruntime, casting ``x`` to the input type."""
    source = model if isinstance(model, str) else model.SerializeToString()
    sess = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = {"tensor(double)": np.float64, "tensor(float16)": np.float16}.get(inp.type, np.float32)
    return np.asarray(sess.run(None, {inp.name: np.asarray(x).astype(dtype)})[0], dtype=np.float64)


def make_model(
    nodes,
    inits,
    in_shape,
    *,
    opset=17,
    elem=TensorProto.FLOAT,
    dtype=np.float32,
    extra_inputs=(),
    outputs=None,
    inputs_first=(),
):
    """A graph 'x' -> 'y'; float initializers are stored as ``dtype``."""
    tensors = []
    for name, value in inits.items():
        value = np.asarray(value)
        tensors.append(
            numpy_helper.from_array(value.astype(dtype) if value.dtype.kind == "f" else value, name)
        )
    graph = helper.make_graph(
        nodes,
        "g",
        [*inputs_first, helper.make_tensor_value_info("x", elem, in_shape), *extra_inputs],
        outputs if outputs is not None else [helper.make_tensor_value_info("y", elem, None)],
        initializer=tensors,
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=7 if opset < 19 else 9
    )


def assert_matches_ort(model, n_in, *, batch_shape=None, tol=F32, seed=0):
    """Load ``model`` and compare ``forward`` with onnxruntime on a random batch of 7."""
    net = load_onnx(model)
    x = np.random.default_rng(seed).normal(size=(7, n_in)).astype(np.float32).astype(np.float64)
    expected = run_ort(model, x.reshape(batch_shape) if batch_shape else x)
    got = net.forward(x)
    assert got.size == expected.size
    np.testing.assert_allclose(got, expected.reshape(got.shape), **tol)
    return net


def rand(*shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


W, B, W2 = rand(3, 4, seed=1), rand(4, seed=2), rand(4, 2, seed=3)
BASE = {"W": W, "b": B, "W2": W2}
HIDDEN = [node("Gemm", ["x", "W", "b"], ["h"]), node("Relu", ["h"], ["r"])]
HEAD = [node("MatMul", ["r", "W2"], ["y"])]


# ------------------------------------------------------------------ torch exporters
torch = pytest.importorskip("torch")
nn = torch.nn


class _Normalized(nn.Module):
    """(x - mean) / std in forward, then the MLP, then y * scale + offset."""

    def __init__(self, inner, n_in, n_out):
        super().__init__()
        self.inner = inner
        gen = torch.Generator().manual_seed(5)
        self.register_buffer("mean", torch.randn(n_in, generator=gen))
        self.register_buffer("std", torch.rand(n_in, generator=gen) + 0.5)
        self.register_buffer("scale", torch.rand(n_out, generator=gen) + 0.5)
        self.register_buffer("offset", torch.randn(n_out, generator=gen))

    def forward(self, x):
        return self.inner((x - self.mean) / self.std) * self.scale + self.offset


class _View(nn.Module):
    """``x.view(x.size(0), -1)`` before the MLP (Shape/Gather/Concat/Reshape in the legacy
    exporter)."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x.view(x.size(0), -1))


def _torch_model(kind):
    torch.manual_seed(0)
    if kind == "mlp":
        return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2)), (3,)
    if kind == "no_bias":
        return nn.Sequential(nn.Linear(3, 8, bias=False), nn.ReLU(), nn.Linear(8, 2, bias=False)), (
            3,
        )
    if kind == "all_modules":
        model = nn.Sequential(
            nn.Flatten(),
            nn.Linear(3, 8),
            nn.BatchNorm1d(8),
            nn.ReLU6(),
            nn.Dropout(0.2),
            nn.Identity(),
            nn.Linear(8, 6),
            nn.Hardtanh(0.0, 2.5),
            nn.Linear(6, 2),
        )
        model.train()
        model(torch.randn(32, 3) * 2 + 1)  # running statistics away from their defaults
        return model, (3,)
    if kind == "linear_only":
        return nn.Sequential(nn.Linear(4, 2)), (4,)
    if kind == "one_in_one_out":
        return nn.Sequential(nn.Linear(1, 5), nn.ReLU(), nn.Linear(5, 1)), (1,)
    if kind == "final_relu":
        return nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2), nn.ReLU()), (3,)
    if kind == "normalized":
        return _Normalized(nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2)), 3, 2), (3,)
    if kind == "view":
        return _View(nn.Sequential(nn.Linear(6, 5), nn.ReLU(), nn.Linear(5, 2))), (2, 3)
    raise AssertionError(kind)


def _export(model, sample_shape, path, *, dynamo, opset, dynamic=True):
    model.eval()
    x = torch.randn(4, *sample_shape)
    kwargs = {"input_names": ["x"], "opset_version": opset, "dynamo": dynamo}
    if dynamic and not dynamo:
        kwargs["dynamic_axes"] = {"x": {0: "N"}}
    if dynamic and dynamo:
        kwargs["dynamic_shapes"] = ({0: torch.export.Dim("N")},)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), str(path), **kwargs)
    return str(path)


def _check_against_torch(model, sample_shape, path):
    net = load_onnx(path)
    x = np.random.default_rng(1).normal(size=(9, *sample_shape)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).double().numpy().reshape(9, -1)
    got = net.forward(x.reshape(9, -1).astype(np.float64))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got, run_ort(path, x).reshape(9, -1), rtol=1e-5, atol=1e-5)
    return net


KINDS = [
    "mlp",
    "no_bias",
    "all_modules",
    "linear_only",
    "one_in_one_out",
    "final_relu",
    "normalized",
    "view",
]


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("kind", KINDS)
def test_torchscript_export(tmp_path, kind, opset):
    model, shape = _torch_model(kind)
    path = _export(model, shape, tmp_path / "m.onnx", dynamo=False, opset=opset)
    net = _check_against_torch(model, shape, path)
    if kind in ("mlp", "no_bias", "normalized"):
        assert net.n_layers == 2  # bias adds and normalisation are folded
    if kind == "final_relu":
        assert net.layers[-1].activation == Activation.RELU
    if kind == "all_modules":
        assert [layer.activation for layer in net.layers] == [
            Activation.CLIPPED_RELU(6.0),
            Activation.CLIPPED_RELU(2.5),
            Activation.LINEAR,
        ]


@pytest.mark.parametrize(
    "kind, opset", [(kind, 18) for kind in KINDS] + [("mlp", 20), ("all_modules", 20)]
)
def test_dynamo_export(tmp_path, kind, opset):
    pytest.importorskip("onnxscript")
    model, shape = _torch_model(kind)
    path = _export(model, shape, tmp_path / "m.onnx", dynamo=True, opset=opset)
    _check_against_torch(model, shape, path)


@pytest.mark.parametrize("dynamo", [False, True])
def test_static_batch_export_of_a_flattening_model(tmp_path, dynamo):
    # without dynamic axes the dynamo exporter writes Reshape([4, 6]) with the batch size baked in
    model = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    path = _export(
        model, (2, 3), tmp_path / "m.onnx", dynamo=dynamo, opset=18 if dynamo else 17, dynamic=False
    )
    net = load_onnx(path)
    x = np.random.default_rng(2).normal(size=(4, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(net.forward(x.reshape(4, 6)), run_ort(path, x), **F32)


def test_torch_functional_forms(tmp_path):
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(3, 5), nn.Linear(5, 2)

        def forward(self, x):
            h = torch.maximum(self.a(x), torch.zeros(5)).clamp(max=0.7)
            return (x.sum() * 0 + self.b(h)).unsqueeze(1).squeeze(1)

    torch.manual_seed(3)
    model = Functional().eval()
    path = _export(model, (3,), tmp_path / "f.onnx", dynamo=False, opset=17)
    with pytest.raises(UnsupportedOperatorError, match="op_type ReduceSum"):
        load_onnx(path)  # x.sum() is a second branch from the input, a reduction

    class Capped(Functional):
        def forward(self, x):
            return (
                self.b(torch.maximum(self.a(x), torch.zeros(5)).clamp(max=0.7))
                .unsqueeze(1)
                .squeeze(1)
            )

    torch.manual_seed(3)
    model = Capped().eval()
    for dynamo in (False, True):
        path = _export(
            model, (3,), tmp_path / f"c{dynamo}.onnx", dynamo=dynamo, opset=18 if dynamo else 17
        )
        net = _check_against_torch(model, (3,), path)
        assert net.layers[0].activation == Activation.CLIPPED_RELU(np.float32(0.7))


# ----------------------------------------------------------------------- from_torch
def test_from_torch_folds_batchnorm_and_repeated_activations():
    model, _ = _torch_model("all_modules")
    model = nn.Sequential(
        nn.BatchNorm1d(3), *model, nn.ReLU(), nn.Hardtanh(0.0, float("inf"))
    ).eval()
    model[0].running_mean.fill_(0.5)
    model[0].running_var.fill_(4.0)
    net = from_torch(model)
    assert net.layer_sizes == (3, 8, 6, 2, 2)
    assert [layer.activation.kind.value for layer in net.layers][-2:] == ["relu", "relu"]
    x = np.random.default_rng(0).normal(size=(30, 3)) * 2
    with torch.no_grad():
        expected = model(torch.tensor(x, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(net.forward(x), expected, **F32)


@pytest.mark.parametrize(
    "model, error, match",
    [
        (
            lambda: nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2)).train(),
            UnsupportedOperatorError,
            r"module 1 \(BatchNorm1d\).*batch statistics.*eval\(\)",
        ),
        (
            lambda: nn.Sequential(
                nn.Linear(3, 2), nn.BatchNorm1d(2, track_running_stats=False)
            ).eval(),
            UnsupportedOperatorError,
            "track_running_stats",
        ),
        (
            lambda: nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(4)).eval(),
            ShapeMismatchError,
            "4 features.*2",
        ),
        (
            lambda: nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(4, 2)),
            ShapeMismatchError,
            r"module 2 \(Linear\) expects 4 inputs",
        ),
        (lambda: nn.Sequential(nn.BatchNorm1d(3)).eval(), InvalidNetworkError, "no Linear"),
    ],
)
def test_from_torch_errors(model, error, match):
    with pytest.raises(error, match=match):
        from_torch(model())


# ----------------------------------------------------------------------- skl2onnx
def _fit(estimator, n_outputs=1):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3)) * [1.0, 5.0, 0.2] + [0.0, 3.0, -1.0]
    y = np.column_stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] * x[:, 1]])[:, :n_outputs]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x, estimator.fit(x, y[:, 0] if n_outputs == 1 else y)


@pytest.mark.parametrize("scaler", [None, "standard", "minmax"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_skl2onnx_mlp_regressor(scaler, dtype):
    skl2onnx = pytest.importorskip("skl2onnx")
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    reg = MLPRegressor(hidden_layer_sizes=(6, 5), max_iter=60, random_state=0)
    est = (
        reg
        if scaler is None
        else make_pipeline(StandardScaler() if scaler == "standard" else MinMaxScaler(), reg)
    )
    x, est = _fit(est)
    model = skl2onnx.to_onnx(est, x[:1].astype(dtype))
    if scaler == "standard" and dtype == np.float32:
        assert model.graph.node[0].op_type == "Scaler"  # ai.onnx.ml
    net = load_onnx(model)
    assert net.layer_sizes == (3, 6, 5, 1)
    tol = {"rtol": 1e-5, "atol": 1e-5} if dtype == np.float32 else {"rtol": 1e-9, "atol": 1e-9}
    np.testing.assert_allclose(net.forward(x)[:, 0], est.predict(x), **tol)
    np.testing.assert_allclose(net.forward(x)[:, 0], run_ort(model, x)[:, 0], **tol)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda nn_: nn_.MLPRegressor(
                hidden_layer_sizes=(4,), activation="tanh", max_iter=20, random_state=0
            ),
            r"'Tanh'.*retrain with ReLU",
        ),
        (
            lambda nn_: nn_.MLPRegressor(
                hidden_layer_sizes=(4,), activation="logistic", max_iter=20, random_state=0
            ),
            r"'Sigmoid'.*retrain with ReLU",
        ),
        (
            lambda nn_: nn_.MLPClassifier(hidden_layer_sizes=(4,), max_iter=20, random_state=0),
            r"2 outputs.*classifier",
        ),
    ],
)
def test_skl2onnx_unsupported_estimators(make, match):
    skl2onnx = pytest.importorskip("skl2onnx")
    import sklearn.neural_network as nn_

    est = make(nn_)
    if isinstance(est, nn_.MLPClassifier):
        x, _ = _fit(nn_.MLPRegressor(hidden_layer_sizes=(2,), max_iter=5))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est.fit(x, (x[:, 0] > 0).astype(int))
    else:
        x, est = _fit(est)
    with pytest.raises(UnsupportedOperatorError, match=match):
        load_onnx(skl2onnx.to_onnx(est, x[:1].astype(np.float32)))


# ----------------------------------------------------------------------- Gemm / MatMul
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("c_shape", [None, (), (1,), (4,), (1, 4)])
@pytest.mark.parametrize("alpha, beta", [(1.0, 1.0), (0.5, -2.0)])
def test_gemm_attribute_combinations(trans_b, c_shape, alpha, beta):
    inits = {"B": W.T if trans_b else W}
    inputs = ["x", "B"]
    if c_shape is not None:
        inits["C"] = rand(*c_shape, seed=4)
        inputs.append("C")
    gemm = node("Gemm", inputs, ["h"], transB=trans_b, alpha=alpha, beta=beta)
    net = assert_matches_ort(make_model([gemm, node("Relu", ["h"], ["y"])], inits, ["N", 3]), 3)
    np.testing.assert_allclose(net.layers[0].weights, alpha * W.T, rtol=1e-6)


@pytest.mark.parametrize(
    "nodes, inits, match",
    [
        ([node("Gemm", ["x", "W"], ["y"], transA=1, name="g")], {"W": W}, "'g'.*transA"),
        (
            [node("Gemm", ["x", "W", "C"], ["y"], name="g")],
            {"W": W, "C": rand(7, 4)},
            r"'g'.*bias C of shape \[7, 4\]",
        ),
        (
            [node("Gemm", ["x", "V"], ["y"], name="g")],
            {"V": rand(3)},
            r"'g'.*2-D constant, found shape \[3\]",
        ),
        (
            [node("MatMul", ["Wt", "x"], ["y"], name="mm")],
            {"Wt": W.T},
            "'mm'.*weight must be the second operand",
        ),
        (
            [node("MatMul", ["x", "T"], ["y"], name="mm")],
            {"T": rand(2, 3, 4)},
            r"'mm'.*shape \[2, 3, 4\]",
        ),
    ],
)
def test_dense_nodes_that_are_not_dense_layers(nodes, inits, match):
    with pytest.raises(UnsupportedOperatorError, match=match):
        load_onnx(make_model(nodes, inits, ["N", 3]))


def test_unbatched_input_with_weight_first_matmul():
    nodes = [
        node("MatMul", ["Wt", "x"], ["h"]),
        node("Add", ["b", "h"], ["a"]),
        node("Relu", ["a"], ["y"]),
    ]
    model = make_model(nodes, {"Wt": W.T, "b": B}, [3])
    net = load_onnx(model)
    assert net.layer_sizes == (3, 4)
    x = np.random.default_rng(0).normal(size=3)
    np.testing.assert_allclose(net.forward(x), run_ort(model, x), **F32)


def test_batch_of_scalars_input():
    nodes = [
        node("Unsqueeze", ["x", "ax"], ["u"]),
        node("Gemm", ["u", "w", "b"], ["h"]),
        node("Relu", ["h"], ["y"]),
    ]
    model = make_model(nodes, {"ax": np.array([1]), "w": rand(1, 4), "b": B}, ["N"])
    net = load_onnx(model)
    x = np.random.default_rng(0).normal(size=7)
    np.testing.assert_allclose(net.forward(x[:, None]), run_ort(model, x), **F32)


@pytest.mark.parametrize("in_shape", [["N", 1, 3], ["N", 2, 3]])
def test_matmul_over_extra_axes_is_block_diagonal(in_shape):
    rows = in_shape[1]
    nodes = [
        node("MatMul", ["x", "W"], ["h"]),
        node("Add", ["h", "b"], ["a"]),
        node("Relu", ["a"], ["r"]),
        node("Flatten", ["r"], ["f"]),
        node("MatMul", ["f", "V"], ["y"]),
    ]
    model = make_model(nodes, {"W": W, "b": B, "V": rand(4 * rows, 2)}, in_shape)
    net = assert_matches_ort(model, 3 * rows, batch_shape=(7, rows, 3))
    assert net.layer_sizes == (3 * rows, 4 * rows, 2)


@pytest.mark.parametrize("bias_first", [False, True])
@pytest.mark.parametrize("inits_as_inputs", [False, True])
def test_matmul_add_and_initializers_listed_as_inputs(bias_first, inits_as_inputs):
    nodes = [
        node("MatMul", ["x", "W"], ["m"]),
        node("Add", ["b", "m"] if bias_first else ["m", "b"], ["h"]),
        node("Relu", ["h"], ["r"]),
        *HEAD,
    ]
    listed = [
        helper.make_tensor_value_info(k, TensorProto.FLOAT, list(v.shape)) for k, v in BASE.items()
    ]
    model = make_model(
        nodes, BASE, ["N", 3], opset=9, inputs_first=listed if inits_as_inputs else ()
    )
    assert load_onnx(model) == assert_matches_ort(model, 3)


# ----------------------------------------------------------------------- constants
@pytest.mark.parametrize(
    "attribute, value",
    [
        ("value", numpy_helper.from_array(np.zeros(4, np.float32))),
        ("value_float", 0.0),
        ("value_floats", [0.0] * 4),
        (
            "sparse_value",
            helper.make_sparse_tensor(
                numpy_helper.from_array(np.zeros(1, np.float32)),
                numpy_helper.from_array(np.array([2])),
                [4],
            ),
        ),
    ],
)
def test_constant_node_attributes(attribute, value):
    nodes = [
        node("Constant", [], ["z"], **{attribute: value}),
        node("Gemm", ["x", "W", "b"], ["h"]),
        node("Max", ["h", "z"], ["r"]),
        *HEAD,
    ]
    net = assert_matches_ort(make_model(nodes, BASE, ["N", 3]), 3)
    assert net.layers[0].activation == Activation.RELU


def test_constant_integer_attributes_feed_reshape_and_string_is_rejected():
    nodes = [
        node("Constant", [], ["s"], value_ints=[-1, 3]),
        node("Reshape", ["x", "s"], ["xr"]),
        node("Gemm", ["xr", "W", "b"], ["h"]),
        node("Relu", ["h"], ["r"]),
        *HEAD,
    ]
    assert_matches_ort(make_model(nodes, BASE, ["N", 3]), 3)
    nodes = [node("Constant", [], ["s"], value_string="abc", name="text"), *HIDDEN, *HEAD]
    with pytest.raises(UnsupportedOperatorError, match=r"'text'.*value_string"):
        load_onnx(make_model(nodes, BASE, ["N", 3]))


def test_constant_subgraphs_are_evaluated():
    # Transpose/Cast/Unsqueeze of initializers, as older exporters leave them
    nodes = [
        node("Transpose", ["Wt"], ["Wx"]),
        node("Cast", ["Wx"], ["Wi"], to=TensorProto.INT32),
        node("Cast", ["Wi"], ["Wf"], to=TensorProto.FLOAT),
        node("Unsqueeze", ["b", "ax"], ["b2"]),
        node("MatMul", ["x", "Wf"], ["m"]),
        node("Add", ["m", "b2"], ["h"]),
        node("Relu", ["h"], ["r"]),
        *HEAD,
    ]
    model = make_model(nodes, {"Wt": 3 * W.T, "b": B, "ax": np.array([0]), "W2": W2}, ["N", 3])
    net = assert_matches_ort(model, 3)
    np.testing.assert_array_equal(net.layers[0].weights, np.trunc(3 * W.T))  # Cast to int truncates


def test_random_constant_is_rejected():
    nodes = [
        node("RandomNormal", [], ["Wr"], shape=[3, 4], name="rnd"),
        node("MatMul", ["x", "Wr"], ["y"]),
    ]
    with pytest.raises(UnsupportedOperatorError, match="'rnd'.*random"):
        load_onnx(make_model(nodes, {}, ["N", 3]))


# ----------------------------------------------------------------------- layout nodes
@pytest.mark.parametrize("opset", [11, 13])
def test_squeeze_unsqueeze_flatten_variants(opset):
    def axes_node(op, src, dst, axes):
        if opset >= 13:
            return node(op, [src, f"ax_{dst}"], [dst])
        return node(op, [src], [dst], axes=axes)

    nodes = [
        axes_node("Unsqueeze", "x", "u", [1, -1]),
        axes_node("Squeeze", "u", "s", [1]),
        node("Flatten", ["s"], ["f"]),
        node("Gemm", ["f", "W", "b"], ["h"]),
        node("Relu", ["h"], ["r"]),
        node("MatMul", ["r", "w1"], ["o"]),
        axes_node("Squeeze", "o", "y", [-1]),
    ]
    inits = {
        **BASE,
        "w1": rand(4, 1),
        "ax_u": np.array([1, -1]),
        "ax_s": np.array([1]),
        "ax_y": np.array([-1]),
    }
    net = assert_matches_ort(make_model(nodes, inits, ["N", 3], opset=opset), 3)
    assert net.layer_sizes == (3, 4, 1)


@pytest.mark.parametrize("target", [[-1, 3], [0, 3], [0, -1], [-1, 1, 3], [0, 3, 1], [0, 0]])
def test_reshape_targets_that_keep_the_batch(target):
    nodes = [
        node("Reshape", ["x", "s"], ["xr"]),
        node("Flatten", ["xr"], ["xf"]),
        node("Gemm", ["xf", "W", "b"], ["h"]),
        node("Relu", ["h"], ["r"]),
        *HEAD,
    ]
    assert_matches_ort(make_model(nodes, {**BASE, "s": np.array(target)}, ["N", 3]), 3)


@pytest.mark.parametrize(
    "nodes, inits, match",
    [
        (
            [node("Reshape", ["x", "s"], ["y"], name="rs")],
            {"s": np.array([3, -1])},
            r"'rs'.*Reshape to \[3, -1\]",
        ),
        ([node("Flatten", ["x"], ["y"], axis=0, name="fl")], {}, "'fl'.*merges the batch axis"),
        (
            [node("Unsqueeze", ["x", "ax"], ["y"], name="us")],
            {"ax": np.array([0])},
            "'us'.*moves the batch axis",
        ),
        (
            [node("Squeeze", ["x", "ax"], ["y"], name="sq")],
            {"ax": np.array([1])},
            "'sq'.*non-unit axis",
        ),
    ],
)
def test_layout_nodes_that_move_the_batch_are_rejected(nodes, inits, match):
    with pytest.raises(UnsupportedOperatorError, match=match):
        load_onnx(make_model(nodes, inits, ["N", 3]))


def test_shape_arithmetic_on_the_batch_is_rejected():
    nodes = [
        node("Shape", ["x"], ["s"]),
        node("Gather", ["s", "zero"], ["n"]),
        node("Mul", ["n", "two"], ["n2"]),
        node("Unsqueeze", ["n2", "ax"], ["nu"]),
        node("Concat", ["nu", "m1"], ["t"], axis=0, name="cat"),
        node("Reshape", ["x", "t"], ["y"]),
    ]
    inits = {"zero": np.array(0), "two": np.array(2), "ax": np.array([0]), "m1": np.array([-1])}
    with pytest.raises(UnsupportedOperatorError, match="Mul.*batch size"):
        load_onnx(make_model(nodes, inits, ["N", 3]))


# ----------------------------------------------------------------------- activations
@pytest.mark.parametrize(
    "opset, lo, hi",
    [
        (10, 0.0, 0.7),
        (10, 0.0, None),
        (11, 0.0, 0.7),
        (11, 0.0, None),
        (13, 0.0, 0.7),
        (18, 0.0, None),
    ],
)
def test_clip_forms(opset, lo, hi):
    inits = dict(BASE)
    if opset < 11:
        kwargs = {k: v for k, v in (("min", lo), ("max", hi)) if v is not None}
        clip = node("Clip", ["h"], ["r"], **kwargs)
    else:
        names = ["h", "", ""]
        for k, (key, value) in enumerate((("lo", lo), ("hi", hi)), start=1):
            if value is not None:
                inits[key], names[k] = np.float32(value), key
        clip = node("Clip", [n for n in names], ["r"])
    nodes = [node("Gemm", ["x", "W", "b"], ["h"]), clip, *HEAD]
    net = assert_matches_ort(make_model(nodes, inits, ["N", 3], opset=opset), 3)
    expected = Activation.RELU if hi is None else Activation.CLIPPED_RELU(np.float32(hi))
    assert net.layers[0].activation == expected


@pytest.mark.parametrize("lo", [None, -1.0, 0.0])
def test_clip_after_relu_caps_the_relu(lo):
    inits = {**BASE, "hi": np.float32(0.4)}
    if lo is not None:
        inits["lo"] = np.float32(lo)
    nodes = [
        *HIDDEN[:2],
        node("Clip", ["r", "lo" if lo is not None else "", "hi"], ["c"]),
        node("MatMul", ["c", "W2"], ["y"]),
    ]
    net = assert_matches_ort(make_model(nodes, inits, ["N", 3]), 3)
    assert net.layer_sizes == (3, 4, 2) and net.layers[0].activation == Activation.CLIPPED_RELU(
        np.float32(0.4)
    )


@pytest.mark.parametrize(
    "inputs, inits, match",
    [
        (["h", "lo", "hi"], {"lo": np.float32(-1), "hi": np.float32(1)}, "Clip with min=-1"),
        (["h", "", "hi"], {"hi": np.float32(1)}, "Clip with min=-inf"),
        (["h", "lo", "hi"], {"lo": np.float32(0), "hi": np.float32(-1)}, "max > 0"),
    ],
)
def test_clip_that_is_not_a_relu(inputs, inits, match):
    nodes = [node("Gemm", ["x", "W", "b"], ["h"]), node("Clip", inputs, ["y"], name="clip")]
    with pytest.raises(UnsupportedOperatorError, match=f"'clip'.*{match}"):
        load_onnx(make_model(nodes, {**BASE, **inits}, ["N", 3]))


@pytest.mark.parametrize("zero_first", [False, True])
def test_max_with_zero_is_a_relu(zero_first):
    inputs = ["z", "h"] if zero_first else ["h", "z"]
    nodes = [node("Gemm", ["x", "W", "b"], ["h"]), node("Max", inputs, ["r"]), *HEAD]
    net = assert_matches_ort(make_model(nodes, {**BASE, "z": np.zeros((1, 4))}, ["N", 3]), 3)
    assert net.layers[0].activation == Activation.RELU


def test_min_with_infinite_caps():
    nodes = [
        *HIDDEN,
        node("Min", ["r", "c"], ["m"], name="cap"),
        node("MatMul", ["m", "W2"], ["y"]),
    ]
    net = assert_matches_ort(make_model(nodes, {**BASE, "c": np.float32(np.inf)}, ["N", 3]), 3)
    assert net.layers[0].activation == Activation.RELU
    mixed = np.array([1.0, np.inf, 1.0, 1.0], np.float32)
    with pytest.raises(UnsupportedOperatorError, match="'cap'.*infinite for some neurons"):
        load_onnx(make_model(nodes, {**BASE, "c": mixed}, ["N", 3]))


@pytest.mark.parametrize("op", ["Sigmoid", "Tanh", "LeakyRelu", "Softmax", "Elu", "Abs"])
def test_unsupported_activations(op):
    nodes = [node("Gemm", ["x", "W", "b"], ["h"]), node(op, ["h"], ["r"], name="act"), *HEAD]
    with pytest.raises(
        UnsupportedOperatorError, match=f"'act' \\(op_type {op}, node #1\\).*Supported operators"
    ):
        load_onnx(make_model(nodes, BASE, ["N", 3]))


def test_a_conv_of_an_unsqueezed_vector_is_read():
    nodes = [
        node("Unsqueeze", ["x", "ax"], ["u"]),
        node("Conv", ["u", "K"], ["c"], name="conv"),
        node("Flatten", ["c"], ["y"]),
    ]
    kernel = {"ax": np.array([1]), "K": np.full((1, 1, 2), 0.5)}
    net = assert_matches_ort(make_model(nodes, kernel, ["N", 3]), 3)
    assert net.layer_sizes == (3, 2)


# ----------------------------------------------------------------------- no-ops, casts, dtypes
def test_identity_chains_dropout_and_casts():
    nodes = [
        node("Identity", ["x"], ["i1"]),
        node("Cast", ["i1"], ["d"], to=TensorProto.DOUBLE),
        node("Cast", ["d"], ["i2"], to=TensorProto.FLOAT),
        node("Identity", ["W"], ["Wi"]),
        node("Gemm", ["i2", "Wi", "b"], ["h"]),
        node("Dropout", ["h", "ratio"], ["dr", "mask"]),
        node("Identity", ["dr"], ["i3"]),
        node("Relu", ["i3"], ["r"]),
        node("MatMul", ["r", "W2"], ["o"]),
        node("Identity", ["o"], ["y"]),
    ]
    net = assert_matches_ort(
        make_model(nodes, {**BASE, "ratio": np.float32(0.5)}, ["N", 3], opset=13), 3
    )
    assert net.layer_sizes == (3, 4, 2)


@pytest.mark.parametrize(
    "elem, dtype, tol",
    [
        (TensorProto.DOUBLE, np.float64, {"rtol": 1e-12, "atol": 1e-12}),
        (TensorProto.FLOAT16, np.float16, {"rtol": 2e-2, "atol": 2e-2}),
    ],
)
def test_float64_and_float16_models(elem, dtype, tol):
    model = make_model([*HIDDEN, *HEAD], BASE, ["N", 3], elem=elem, dtype=dtype)
    net = assert_matches_ort(model, 3, tol=tol)
    assert net.layers[0].weights.dtype == np.float64
    np.testing.assert_array_equal(net.layers[0].weights, W.astype(dtype).astype(np.float64).T)


# ----------------------------------------------------------------------- invalid values
# an infinite Clip/Min cap is no cap at all (a plain ReLU), so only NaN is invalid there
@pytest.mark.parametrize(
    ("where", "bad"),
    [
        (w, b)
        for w in ("gemm", "add", "mul", "clip", "min", "batchnorm")
        for b in (np.nan, np.inf)
        if not (w in ("clip", "min") and b == np.inf)
    ],
)
def test_nan_and_inf_parameters_name_the_node(where, bad):
    inits = dict(BASE)
    if where == "gemm":
        inits["W"] = W.copy()
        inits["W"][1, 2] = bad
        nodes = [
            node("Gemm", ["x", "W", "b"], ["h"], name="bad"),
            node("Relu", ["h"], ["r"]),
            *HEAD,
        ]
    elif where in ("add", "mul"):
        inits["c"] = np.array([1.0, bad, 1.0])
        op = "Add" if where == "add" else "Mul"
        nodes = [
            node(op, ["x", "c"], ["xc"], name="bad"),
            node("Gemm", ["xc", "W", "b"], ["h"]),
            node("Relu", ["h"], ["r"]),
            *HEAD,
        ]
    elif where == "clip":
        inits.update(lo=np.float32(0), hi=np.float32(bad))
        nodes = [
            node("Gemm", ["x", "W", "b"], ["h"]),
            node("Clip", ["h", "lo", "hi"], ["r"], name="bad"),
            *HEAD,
        ]
    elif where == "min":
        inits["c"] = np.float32(bad)
        nodes = [
            *HIDDEN,
            node("Min", ["r", "c"], ["m"], name="bad"),
            node("MatMul", ["m", "W2"], ["y"]),
        ]
    else:
        stats = {
            "s": np.ones(4),
            "bb": np.zeros(4),
            "mu": np.array([0.0, bad, 0.0, 0.0]),
            "v": np.ones(4),
        }
        inits.update(stats)
        nodes = [
            node("Gemm", ["x", "W", "b"], ["h"]),
            node("BatchNormalization", ["h", "s", "bb", "mu", "v"], ["n"], name="bad"),
            node("Relu", ["n"], ["r"]),
            *HEAD,
        ]
    with pytest.raises(InvalidNetworkError, match="'bad'.*NaN"):
        load_onnx(make_model(nodes, inits, ["N", 3]))


# ----------------------------------------------------------------------- files and graph structure
def test_external_data(tmp_path):
    model = make_model([*HIDDEN, *HEAD], BASE, ["N", 3])
    inline = load_onnx(model)
    path = tmp_path / "ext.onnx"
    onnx.save_model(
        model,
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="weights.bin",
        size_threshold=0,
    )
    assert load_onnx(path) == inline
    with pytest.raises(InvalidNetworkError, match="'W'.*external data.*file path"):
        load_onnx(path.read_bytes())
    (tmp_path / "weights.bin").unlink()
    with pytest.raises(InvalidNetworkError, match="not a readable ONNX model"):
        load_onnx(path)


def test_garbage_bytes_and_files(tmp_path):
    with pytest.raises(InvalidNetworkError, match="not a serialised ONNX model"):
        load_onnx(b"\x00\xffnot a model")
    path = tmp_path / "text.onnx"
    path.write_text("hello")
    with pytest.raises(InvalidNetworkError, match="not a readable ONNX model"):
        load_onnx(path)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(InvalidNetworkError, match="empty.onnx' is empty"):
        load_onnx(empty)
    nodeless = tmp_path / "nodeless.onnx"
    onnx.save_model(onnx.helper.make_model(onnx.helper.make_graph([], "g", [], [])), str(nodeless))
    with pytest.raises(InvalidNetworkError, match="no graph nodes"):
        load_onnx(nodeless)


@pytest.mark.parametrize(
    "case, match",
    [
        ("two_outputs", "2 outputs"),
        ("two_inputs", "2 non-constant inputs"),
        ("branch", "read by no node"),
        ("domain", "'ms'.*com.microsoft"),
        ("no_dense", "no dense layer"),
    ],
)
def test_graph_structure_errors(case, match):
    nodes, extra, outputs = [*HIDDEN, *HEAD], (), None
    if case == "two_outputs":
        outputs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y", "r")]
    elif case == "two_inputs":
        extra = [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 3])]
    elif case == "branch":
        nodes = [*HIDDEN, node("Relu", ["r"], ["unused"]), *HEAD]
    elif case == "domain":
        nodes = [node("Gemm", ["x", "W", "b"], ["y"], domain="com.microsoft", name="ms")]
    elif case == "no_dense":
        nodes = [node("Identity", ["x"], ["y"])]
    model = make_model(
        nodes, {**BASE, "Wsq": rand(4, 4)}, ["N", 3], extra_inputs=extra, outputs=outputs
    )
    with pytest.raises(ReluError, match=match):
        load_onnx(model)


# ----------------------------------------------------------------------- random graphs
@st.composite
def graphs(draw):
    """A random sequential graph in one of several exporter dialects."""
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    nodes, inits, cur = [], {}, "x"

    def fresh(prefix):
        return f"{prefix}{len(nodes)}_{len(inits)}"

    if draw(st.booleans()):  # input normalisation
        mean, std = fresh("mean"), fresh("std")
        inits[mean], inits[std] = rng.normal(size=sizes[0]), rng.uniform(0.5, 2, size=sizes[0])
        nodes += [node("Sub", [cur, mean], ["xs"]), node("Div", ["xs", std], ["xn"])]
        cur = "xn"
    for k in range(len(sizes) - 1):
        w, b = rng.normal(size=(sizes[k], sizes[k + 1])), rng.normal(size=sizes[k + 1])
        wn, bn, out = fresh("w"), fresh("b"), f"z{k}"
        dialect = draw(st.sampled_from(["gemm", "gemm_t", "matmul_add", "bias_first"]))
        if dialect == "gemm":
            inits[wn], inits[bn] = w, b
            nodes.append(node("Gemm", [cur, wn, bn], [out]))
        elif dialect == "gemm_t":
            inits[wn], inits[bn] = w.T, b[None, :]
            nodes.append(node("Gemm", [cur, wn, bn], [out], transB=1))
        else:
            inits[wn], inits[bn] = w, b
            add = [bn, f"m{k}"] if dialect == "bias_first" else [f"m{k}", bn]
            nodes += [node("MatMul", [cur, wn], [f"m{k}"]), node("Add", add, [out])]
        cur = out
        act = (
            draw(st.sampled_from(["relu", "clip", "max", "none"])) if k < len(sizes) - 2 else "none"
        )
        if act == "relu":
            nodes.append(node("Relu", [cur], [f"a{k}"]))
        elif act == "clip":
            lo, hi = fresh("lo"), fresh("hi")
            inits[lo], inits[hi] = np.float32(0), np.float32(rng.uniform(0.2, 2))
            nodes.append(node("Clip", [cur, lo, hi], [f"a{k}"]))
        elif act == "max":
            zero = fresh("zero")
            inits[zero] = np.float32(0)
            nodes.append(node("Max", [zero, cur], [f"a{k}"]))
        if act != "none":
            cur = f"a{k}"
    nodes.append(node("Identity", [cur], ["y"]))
    return make_model(nodes, inits, ["N", sizes[0]]), sizes


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=graphs())
def test_random_exporter_dialects_match_onnxruntime(case):
    model, sizes = case
    net = assert_matches_ort(model, sizes[0], tol={"rtol": 1e-4, "atol": 1e-4})
    assert net.n_inputs == sizes[0] and net.n_outputs == sizes[-1]


# ----------------------------------------------------------------------- OMLT
@pytest.mark.parametrize("scaled", [False, True])
@pytest.mark.parametrize("kind", ["mlp", "final_relu", "linear_only", "one_in_one_out"])
def test_omlt_onnx_networks(tmp_path, kind, scaled):
    pytest.importorskip("omlt")
    from omlt.io import load_onnx_neural_network
    from omlt.scaling import OffsetScaling

    model, (n_in,) = _torch_model(kind)
    path = _export(model, (n_in,), tmp_path / "m.onnx", dynamo=False, opset=13)
    n_out = model(torch.zeros(1, n_in)).shape[1]
    scaling = bounds = None
    x_off, x_fac = np.arange(n_in) * 0.5, np.arange(n_in) + 1.0
    y_off, y_fac = np.arange(n_out) - 1.0, np.arange(n_out) + 2.0
    if scaled:
        scaling = OffsetScaling(
            offset_inputs=list(x_off),
            factor_inputs=list(x_fac),
            offset_outputs=list(y_off),
            factor_outputs=list(y_fac),
        )
        bounds = {i: (-1.0, 1.0) for i in range(n_in)}
    net = from_omlt(load_onnx_neural_network(onnx.load(path), scaling, bounds))
    x = np.random.default_rng(0).normal(size=(12, n_in))
    xs = (x - x_off) / x_fac if scaled else x
    with torch.no_grad():
        y = model(torch.tensor(xs, dtype=torch.float32)).double().numpy()
    np.testing.assert_allclose(net.forward(x), y * y_fac + y_off if scaled else y, **F32)


def _omlt_net(scaling, sizes=((2,), (1,)), weights=None):
    from omlt.neuralnet import NetworkDefinition
    from omlt.neuralnet.layer import DenseLayer as OmltDense
    from omlt.neuralnet.layer import InputLayer

    (n_in, *_), _ = sizes
    nd = NetworkDefinition(
        scaling_object=scaling, scaled_input_bounds={i: (-1, 1) for i in range(n_in)}
    )
    inp = InputLayer(list(sizes[0]))
    w = np.ones((sizes[0][-1], sizes[1][-1])) if weights is None else weights
    dense = OmltDense(list(sizes[0]), list(sizes[1]), w, np.zeros(w.shape[1]), activation="relu")
    nd.add_layer(inp)
    nd.add_layer(dense)
    nd.add_edge(inp, dense)
    return nd


def test_omlt_scaling_and_layout_errors():
    pytest.importorskip("omlt")
    from omlt.scaling import OffsetScaling

    with pytest.raises(
        ShapeMismatchError, match="scaled input expressions cannot be evaluated on 2 values"
    ):
        from_omlt(_omlt_net(OffsetScaling([0, 0, 0], [1, 1, 1], [0], [1])))

    class Squares:
        def get_scaled_input_expressions(self, values):
            return {k: v * v for k, v in values.items()}

        def get_unscaled_output_expressions(self, values):
            return dict(values)

    with pytest.raises(UnsupportedOperatorError, match="not an affine map"):
        from_omlt(_omlt_net(Squares()))
    with pytest.raises(ShapeMismatchError, match=r"input size \[2, 3\].*flat sizes"):
        from_omlt(_omlt_net(None, sizes=((2, 3), (2, 4)), weights=np.ones((3, 4))))
