"""ONNX import/export: op table with spec defaults, exporters (torch, skl2onnx), round trips."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.errors import InvalidNetworkError, ShapeMismatchError, UnsupportedOperatorError
from pyomo_relu.io import SUPPORTED_OPS, load_onnx, save_onnx
from tests.conftest import random_network

ort = pytest.importorskip("onnxruntime")

RNG = np.random.default_rng(12345)


def run_ort(model, x):
    """Evaluate a model with onnxruntime on a float64 batch (cast to the input type)."""
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    dtype = np.float64 if inp.type == "tensor(double)" else np.float32
    return np.asarray(sess.run(None, {inp.name: x.astype(dtype)})[0], dtype=np.float64)


def make_model(nodes, inits, n_in, n_out, *, opset=17, extra_inputs=()):
    """A float32 graph 'x' [N, n_in] -> 'y' [N, n_out]; ``inits`` maps names to arrays."""
    tensors = [
        numpy_helper.from_array(
            np.asarray(
                v, dtype=np.float32 if np.asarray(v).dtype.kind == "f" else np.asarray(v).dtype
            ),
            k,
        )
        for k, v in inits.items()
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in]), *extra_inputs],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=tensors,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=7)


def assert_matches_ort(model, n_in, *, atol=1e-5):
    net = load_onnx(model)
    x = RNG.normal(size=(16, n_in)).astype(np.float32).astype(np.float64)
    expected = run_ort(model, x).reshape(16, -1)
    np.testing.assert_allclose(net.forward(x), expected, atol=atol, rtol=1e-5)
    return net


def mixed_network():
    rng = np.random.default_rng(0)
    return ReluNetwork(
        [
            DenseLayer(rng.normal(size=(4, 3)), rng.normal(size=4), Activation.RELU),
            DenseLayer(rng.normal(size=(5, 4)), rng.normal(size=5), Activation.CLIPPED_RELU(1.5)),
            DenseLayer(
                rng.normal(size=(3, 5)),
                rng.normal(size=3),
                Activation.CLIPPED_RELU((1.0, 2.0, 0.5)),
            ),
            DenseLayer(rng.normal(size=(2, 3)), rng.normal(size=2), Activation.LINEAR),
        ],
        input_names=["a", "b", "c"],
        output_names=["u", "v"],
    )


# ------------------------------------------------------------------ save
def test_save_layout_and_exact_round_trip(tmp_path):
    net = mixed_network()
    path = tmp_path / "net.onnx"
    model = save_onnx(net, path)
    assert max(o.version for o in model.opset_import if o.domain == "") >= 13
    assert [n.op_type for n in model.graph.node] == [
        "Gemm",
        "Relu",
        "Gemm",
        "Clip",
        "Gemm",
        "Relu",
        "Min",
        "Gemm",
    ]
    assert all(
        helper.get_attribute_value(a) == 1
        for n in model.graph.node
        if n.op_type == "Gemm"
        for a in n.attribute
        if a.name == "transB"
    )
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, out.name) == ("input", "output")
    assert inp.type.tensor_type.shape.dim[0].dim_param == "N"
    assert inp.type.tensor_type.shape.dim[1].dim_value == 3
    back = load_onnx(path)
    assert back == net
    assert back.input_names == ("a", "b", "c") and back.output_names == ("u", "v")
    x = RNG.normal(size=(50, 3)) * 2
    np.testing.assert_allclose(run_ort(model, x), net.forward(x), atol=1e-6)


def test_save_float32_option():
    net = random_network((3, 6, 2), seed=3)
    model = save_onnx(net, dtype="float32")
    assert model.graph.input[0].type.tensor_type.elem_type == TensorProto.FLOAT
    x = RNG.normal(size=(20, 3))
    np.testing.assert_allclose(run_ort(model, x), net.forward(x), atol=1e-4)
    np.testing.assert_allclose(load_onnx(model).forward(x), net.forward(x), atol=1e-5)
    with pytest.raises(ValueError, match="dtype"):
        save_onnx(net, dtype="int8")


@st.composite
def networks(draw):
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        kind = draw(st.sampled_from(["relu", "linear", "clip", "caps"]))
        act = {
            "relu": Activation.RELU,
            "linear": Activation.LINEAR,
            "clip": Activation.CLIPPED_RELU(float(rng.uniform(0.1, 3))),
            "caps": Activation.CLIPPED_RELU(tuple(rng.uniform(0.1, 3, size=sizes[k + 1]))),
        }[kind]
        layers.append(
            DenseLayer(
                rng.normal(size=(sizes[k + 1], sizes[k])), rng.normal(size=sizes[k + 1]), act
            )
        )
    return ReluNetwork(layers)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks())
def test_random_round_trip(net):
    model = save_onnx(net)
    assert load_onnx(model.SerializeToString()) == net
    x = np.random.default_rng(1).normal(size=(25, net.n_inputs)) * 3
    np.testing.assert_allclose(run_ort(model, x), net.forward(x), atol=1e-6)


# --------------------------------------------------------------- op table
def test_gemm_spec_defaults_without_attributes():
    w = RNG.normal(size=(3, 4))  # transB absent -> B is (n_in, n_out)
    model = make_model([helper.make_node("Gemm", ["x", "W"], ["y"])], {"W": w}, 3, 4)
    net = assert_matches_ort(model, 3)
    np.testing.assert_allclose(net.layers[0].weights, w.T.astype(np.float32))
    assert np.all(net.layers[0].bias == 0)


@pytest.mark.parametrize("c_shape", [(), (1,), (4,), (1, 4)])
def test_gemm_alpha_beta_and_bias_broadcast(c_shape):
    nodes = [
        helper.make_node("Gemm", ["x", "W", "C"], ["h"], alpha=2.0, beta=0.5, transB=1),
        helper.make_node("Relu", ["h"], ["y"]),
    ]
    model = make_model(nodes, {"W": RNG.normal(size=(4, 3)), "C": RNG.normal(size=c_shape)}, 3, 4)
    assert_matches_ort(model, 3)


def test_gemm_trans_a_is_rejected():
    model = make_model(
        [helper.make_node("Gemm", ["x", "W"], ["y"], transA=1, name="g0")],
        {"W": RNG.normal(size=(3, 4))},
        3,
        4,
    )
    with pytest.raises(UnsupportedOperatorError, match="transA"):
        load_onnx(model)


@pytest.mark.parametrize("bias_first", [False, True])
def test_matmul_add_with_constant_node_bias(bias_first):
    bias = helper.make_node(
        "Constant",
        [],
        ["b"],
        value=numpy_helper.from_array(RNG.normal(size=(1, 4)).astype(np.float32)),
    )
    add_in = ["b", "m"] if bias_first else ["m", "b"]
    nodes = [
        bias,
        helper.make_node("MatMul", ["x", "W"], ["m"]),
        helper.make_node("Add", add_in, ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("MatMul", ["r", "W2"], ["y"]),
    ]
    model = make_model(nodes, {"W": RNG.normal(size=(3, 4)), "W2": RNG.normal(size=(4, 2))}, 3, 2)
    net = assert_matches_ort(model, 3)
    assert net.layer_sizes == (3, 4, 2) and net.layers[0].activation == Activation.RELU


def test_clip_attributes_before_opset_11():
    nodes = [
        helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),  # C is required before opset 11
        helper.make_node("Clip", ["h"], ["c"], min=0.0, max=0.7),
        helper.make_node("Gemm", ["c", "W2", "b2"], ["h2"], transB=1),
        helper.make_node("Clip", ["h2"], ["y"], min=0.0),
    ]
    inits = {
        "W": RNG.normal(size=(4, 3)),
        "b": RNG.normal(size=4),
        "W2": RNG.normal(size=(2, 4)),
        "b2": RNG.normal(size=2),
    }
    model = make_model(nodes, inits, 3, 2, opset=10)
    net = assert_matches_ort(model, 3)
    acts = [layer.activation for layer in net.layers]
    assert acts[0] == Activation.CLIPPED_RELU(np.float32(0.7)) and acts[1] == Activation.RELU


@pytest.mark.parametrize(
    "inputs, expected",
    [
        (["h", "zero", "cap"], "clipped"),
        (["h", "zero", ""], "relu"),
        (["h", "zero"], "relu"),
    ],
)
def test_clip_inputs_with_optional_empty_names(inputs, expected):
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
        helper.make_node("Clip", inputs, ["y"]),
    ]
    model = make_model(
        nodes, {"W": RNG.normal(size=(4, 3)), "zero": np.float32(0), "cap": np.float32(0.5)}, 3, 4
    )
    net = assert_matches_ort(model, 3)
    kind = net.layers[0].activation.kind.value
    assert kind == ("clipped_relu" if expected == "clipped" else "relu")


@pytest.mark.parametrize("inputs", [["h", "lo", "cap"], ["h", "", "cap"]])
def test_clip_with_nonzero_or_missing_min_is_rejected(inputs):
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
        helper.make_node("Clip", inputs, ["y"], name="clip0"),
    ]
    model = make_model(
        nodes, {"W": RNG.normal(size=(4, 3)), "lo": np.float32(-1), "cap": np.float32(1)}, 3, 4
    )
    with pytest.raises(UnsupportedOperatorError, match=r"clip0.*Clip with min=(-1|-inf)"):
        load_onnx(model)


def test_max_zero_and_min_vector_form_a_per_neuron_clipped_relu():
    caps = np.array([0.5, 1.0, 2.0, 0.25], dtype=np.float32)
    nodes = [
        helper.make_node("Gemm", ["x", "W", "b"], ["h"], transB=1),
        helper.make_node("Max", ["h", "zero"], ["r"]),
        helper.make_node("Min", ["caps", "r"], ["y"]),
    ]
    model = make_model(
        nodes,
        {
            "W": RNG.normal(size=(4, 3)),
            "b": RNG.normal(size=4),
            "zero": np.float32(0),
            "caps": caps,
        },
        3,
        4,
    )
    net = assert_matches_ort(model, 3)
    np.testing.assert_allclose(net.layers[0].activation.caps(4), caps)


def test_unsupported_operator_names_node_and_op():
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
        helper.make_node("LeakyRelu", ["h"], ["y"], name="leaky_7", alpha=0.1),
    ]
    model = make_model(nodes, {"W": RNG.normal(size=(4, 3))}, 3, 4)
    with pytest.raises(UnsupportedOperatorError) as info:
        load_onnx(model)
    msg = str(info.value)
    assert "leaky_7" in msg and "LeakyRelu" in msg and "Gemm" in msg and "Clip" in msg
    assert "LeakyRelu" not in SUPPORTED_OPS


def test_layout_no_ops_are_skipped():
    nodes = [
        helper.make_node("Identity", ["x"], ["i"]),
        helper.make_node("Flatten", ["i"], ["f"]),
        helper.make_node("Unsqueeze", ["f", "ax1"], ["u"]),
        helper.make_node("Squeeze", ["u", "ax1"], ["s"]),
        helper.make_node("Gemm", ["s", "W"], ["h"], transB=1),
        helper.make_node("Dropout", ["h"], ["d"]),
        helper.make_node("Relu", ["d"], ["r"]),
        helper.make_node("Gemm", ["r", "W2"], ["g"], transB=1),
        helper.make_node("Reshape", ["g", "shape"], ["y"]),
    ]
    inits = {
        "W": RNG.normal(size=(4, 3)),
        "W2": RNG.normal(size=(1, 4)),
        "ax1": np.array([1], dtype=np.int64),
        "shape": np.array([-1, 1], dtype=np.int64),
    }
    net = assert_matches_ort(make_model(nodes, inits, 3, 1), 3)
    assert net.layer_sizes == (3, 4, 1)


def test_reshape_that_mixes_the_batch_is_rejected():
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
        helper.make_node("Reshape", ["h", "shape"], ["y"], name="flat_all"),
    ]
    model = make_model(
        nodes, {"W": RNG.normal(size=(4, 3)), "shape": np.array([-1], dtype=np.int64)}, 3, 4
    )
    with pytest.raises(UnsupportedOperatorError, match="flat_all.*Reshape"):
        load_onnx(model)


def test_normalization_is_folded_and_round_trips():
    mean, std = RNG.normal(size=3), RNG.uniform(0.5, 2, size=3)
    nodes = [
        helper.make_node("Sub", ["x", "mean"], ["s"]),
        helper.make_node("Div", ["s", "std"], ["n"]),
        helper.make_node("Gemm", ["n", "W", "b"], ["h"], transB=1),
        helper.make_node("Clip", ["h", "zero", "cap"], ["c"]),
        helper.make_node("Gemm", ["c", "W2", "b2"], ["o"], transB=1),
        helper.make_node("Mul", ["scale", "o"], ["m"]),
        helper.make_node("Add", ["m", "offset"], ["y"]),
    ]
    inits = {
        "mean": mean,
        "std": std,
        "W": RNG.normal(size=(5, 3)),
        "b": RNG.normal(size=5),
        "zero": np.float32(0),
        "cap": np.float32(1.2),
        "W2": RNG.normal(size=(2, 5)),
        "b2": RNG.normal(size=2),
        "scale": np.array([3.0, 0.5]),
        "offset": np.array([10.0, -1.0]),
    }
    model = make_model(nodes, inits, 3, 2)
    net = assert_matches_ort(model, 3, atol=1e-4)
    assert net.layer_sizes == (3, 5, 2)  # normalisation folded, no extra layers
    x = RNG.normal(size=(30, 3))
    saved = save_onnx(net)
    np.testing.assert_allclose(run_ort(saved, x), net.forward(x), atol=1e-6)
    np.testing.assert_allclose(run_ort(saved, x), run_ort(model, x), atol=1e-4)


def test_constant_first_sub_and_scalar_mul_after_relu():
    nodes = [
        helper.make_node("Sub", ["c", "x"], ["s"]),
        helper.make_node("Gemm", ["s", "W"], ["h"], transB=1),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Mul", ["r", "two"], ["y"]),
    ]
    inits = {"c": RNG.normal(size=(1, 3)), "W": RNG.normal(size=(4, 3)), "two": np.float32(2.0)}
    net = assert_matches_ort(make_model(nodes, inits, 3, 4), 3)
    assert net.layer_sizes == (3, 4, 4)  # the trailing scale after a ReLU is its own linear layer
    assert net.layers[1].activation == Activation.LINEAR


def test_initializers_listed_as_graph_inputs_are_ignored():
    w = RNG.normal(size=(4, 3))
    extra = [helper.make_tensor_value_info("W", TensorProto.FLOAT, [4, 3])]
    model = make_model(
        [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1)], {"W": w}, 3, 4, extra_inputs=extra
    )
    assert load_onnx(model).layer_sizes == (3, 4)


def test_nan_weights_are_reported():
    w = RNG.normal(size=(4, 3))
    w[2, 1] = np.nan
    model = make_model(
        [helper.make_node("Gemm", ["x", "W"], ["y"], transB=1, name="dense0")], {"W": w}, 3, 4
    )
    with pytest.raises(InvalidNetworkError, match=r"dense0.*NaN"):
        load_onnx(model)


def test_weights_that_do_not_chain():
    nodes = [
        helper.make_node("Gemm", ["x", "W"], ["h"], transB=1),
        helper.make_node("Gemm", ["h", "W2"], ["y"], transB=1, name="second"),
    ]
    model = make_model(nodes, {"W": RNG.normal(size=(4, 3)), "W2": RNG.normal(size=(2, 5))}, 3, 2)
    with pytest.raises(ShapeMismatchError, match=r"second.*5 inputs.*4 features"):
        load_onnx(model)


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nowhere" / "model.onnx"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load_onnx(path)


def test_a_residual_branch_loads_and_multiple_inputs_are_rejected():
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Add", ["x", "r"], ["y"])]
    net = assert_matches_ort(make_model(nodes, {}, 3, 3), 3)
    x = np.array([[-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(net.forward(x), x + np.maximum(x, 0))
    second = helper.make_tensor_value_info("x2", TensorProto.FLOAT, ["N", 3])
    model = make_model(
        [helper.make_node("Add", ["x", "x2"], ["y"])], {}, 3, 3, extra_inputs=[second]
    )
    with pytest.raises(UnsupportedOperatorError, match="2 non-constant inputs"):
        load_onnx(model)


def test_division_by_zero_and_integer_cast():
    nodes = [
        helper.make_node("Div", ["x", "s"], ["d"]),
        helper.make_node("Gemm", ["d", "W"], ["y"], transB=1),
    ]
    with pytest.raises(InvalidNetworkError, match="divides by a constant containing 0"):
        load_onnx(
            make_model(nodes, {"s": np.array([1.0, 0.0, 2.0]), "W": RNG.normal(size=(2, 3))}, 3, 2)
        )
    nodes = [
        helper.make_node("Cast", ["x"], ["c"], to=TensorProto.INT32),
        helper.make_node("Gemm", ["c", "W"], ["y"], transB=1),
    ]
    with pytest.raises(UnsupportedOperatorError, match="Cast to type 6"):
        load_onnx(make_model(nodes, {"W": RNG.normal(size=(2, 3))}, 3, 2))


# ---------------------------------------------------------------- exporters
class _Clamp:
    """torch.clamp(x, 0, c) as a module (built lazily so torch stays optional)."""

    @staticmethod
    def make(torch, cap):
        class Clamp(torch.nn.Module):
            def forward(self, x):
                return torch.clamp(x, min=0.0, max=cap)

        return Clamp()


@pytest.mark.parametrize("dynamo", [False, True], ids=["torchscript", "dynamo"])
@pytest.mark.parametrize("kind", ["relu", "hardtanh", "relu6", "clamp"])
def test_torch_onnx_export(tmp_path, dynamo, kind):
    torch = pytest.importorskip("torch")
    if dynamo:
        pytest.importorskip("onnxscript")
    torch.manual_seed(0)
    act = {
        "relu": lambda: torch.nn.ReLU(),
        "hardtanh": lambda: torch.nn.Hardtanh(0.0, 0.8),
        "relu6": lambda: torch.nn.ReLU6(),
        "clamp": lambda: _Clamp.make(torch, 0.6),
    }[kind]
    module = torch.nn.Sequential(
        torch.nn.Linear(3, 8), act(), torch.nn.Linear(8, 6), act(), torch.nn.Linear(6, 2)
    ).eval()
    path = tmp_path / "m.onnx"
    x = torch.randn(5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kwargs = {"dynamic_axes": {"x": {0: "N"}}} if not dynamo else {}
        torch.onnx.export(module, (x,), str(path), dynamo=dynamo, input_names=["x"], **kwargs)
    net = load_onnx(path)
    expected_act = {
        "relu": Activation.RELU,
        "hardtanh": Activation.CLIPPED_RELU(0.8),
        "relu6": Activation.CLIPPED_RELU(6.0),
        "clamp": Activation.CLIPPED_RELU(0.6),
    }[kind]
    assert [layer.activation.kind for layer in net.layers] == [expected_act.kind] * 2 + [
        Activation.LINEAR.kind
    ]
    np.testing.assert_allclose(net.layers[0].activation.caps(8), expected_act.caps(8), rtol=1e-6)
    with torch.no_grad():
        ref = module(x).double().numpy()
    np.testing.assert_allclose(net.forward(x.double().numpy()), ref, atol=1e-5)
    np.testing.assert_allclose(run_ort(onnx.load(path), x.numpy()), ref, atol=1e-5)


def _fit_mlp(n_outputs):
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    y = np.column_stack([np.sin(x[:, 0]) + x[:, 1], x[:, 2] ** 2][:n_outputs])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return x, MLPRegressor(hidden_layer_sizes=(6, 5), max_iter=60, random_state=0).fit(
            x, y.squeeze()
        )


def test_sklearn_mlp_regressor_via_skl2onnx():
    pytest.importorskip("sklearn")
    skl2onnx = pytest.importorskip("skl2onnx")
    x, reg = _fit_mlp(1)
    model = skl2onnx.to_onnx(reg, x[:1].astype(np.float32))
    assert [n.op_type for n in model.graph.node][:4] == ["Cast", "MatMul", "Add", "Relu"]
    net = load_onnx(model)
    assert net.layer_sizes == (3, 6, 5, 1)
    np.testing.assert_allclose(net.forward(x)[:, 0], reg.predict(x), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(run_ort(model, x)[:, 0], reg.predict(x), rtol=1e-5, atol=1e-5)


def test_sklearn_two_output_export_reshape_is_rejected():
    # skl2onnx ends a multi-output MLPRegressor with Reshape([-1, 1]), which turns [N, 2] into [2N,
    # 1]
    pytest.importorskip("sklearn")
    skl2onnx = pytest.importorskip("skl2onnx")
    x, reg = _fit_mlp(2)
    model = skl2onnx.to_onnx(reg, x[:1].astype(np.float32))
    assert run_ort(model, x[:4]).shape == (8, 1)
    with pytest.raises(UnsupportedOperatorError, match=r"Reshape to \[-1, 1\].*remove it"):
        load_onnx(model)
