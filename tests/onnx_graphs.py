"""Small ONNX graphs built with ``onnx.helper`` and the check that ``load_onnx`` matches them.

:func:`check_against_runtimes` compares ``load_onnx(model).forward`` with two references on
random inputs: ``onnx.reference`` on the float64 graph (to 1e-6 relative) and onnxruntime on
the float64 graph (to 1e-6 relative) when it has float64 kernels for every node, else on the
float32 graph (to float32 precision: onnxruntime has no float64 ``Conv``/``AveragePool``).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto, helper, numpy_helper

#: tolerance against the float64 reference evaluator
RTOL64 = 1e-6
#: tolerance against onnxruntime in float32 (relative to the output's magnitude)
RTOL32 = 2e-5


def make_model(nodes, inits, in_shape, *, opset=17, elem=TensorProto.FLOAT, out="y"):
    """A model reading ``x`` of shape ``["N", *in_shape]`` and writing ``out``."""
    dtype = np.float64 if elem == TensorProto.DOUBLE else np.float32
    tensors = [
        numpy_helper.from_array(
            np.asarray(v, dtype=dtype) if np.asarray(v).dtype.kind == "f" else np.asarray(v), k
        )
        for k, v in inits.items()
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", elem, ["N", *in_shape])],
        [helper.make_tensor_value_info(out, elem, None)],
        initializer=tensors,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


def _reference(nodes, inits, in_shape, x, opset):
    from onnx.reference import ReferenceEvaluator

    model = make_model(nodes, inits, in_shape, opset=opset, elem=TensorProto.DOUBLE)
    return np.asarray(ReferenceEvaluator(model).run(None, {"x": x})[0], dtype=np.float64)


def _ort(model, x, dtype=np.float32):
    import onnxruntime as ort

    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, {"x": x.astype(dtype)})[0], dtype=np.float64)


def _ort64(nodes, inits, in_shape, x, opset, got, scale):
    """Compare with onnxruntime in float64 when it has float64 kernels for every node."""
    from onnxruntime.capi.onnxruntime_pybind11_state import NotImplemented as Missing

    model = make_model(nodes, inits, in_shape, opset=opset, elem=TensorProto.DOUBLE)
    try:
        want = _ort(model, x, np.float64).reshape(x.shape[0], -1)
    except Missing:
        return False
    np.testing.assert_allclose(got, want, rtol=RTOL64, atol=RTOL64 * scale)
    return True


def check_against_runtimes(
    nodes, inits, in_shape, *, seed=0, batch=3, opset=17, ort=True, reference=True
):
    """Load the graph and assert that its forward pass matches both references.

    ``reference=False`` leaves out ``onnx.reference`` (its 1-D ``GlobalMaxPool`` drops the
    channel axis).  Returns the loaded network.
    """
    from pyomo_relu import load_onnx

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, *in_shape))
    net64 = load_onnx(make_model(nodes, inits, in_shape, opset=opset, elem=TensorProto.DOUBLE))
    got = net64.forward(x.reshape(batch, -1))
    scale = max(1.0, float(np.abs(got).max()))
    if reference:
        try:
            want = _reference(nodes, inits, in_shape, x, opset).reshape(batch, -1)
        except Exception:  # onnx.reference fails on some valid pools; onnxruntime then decides
            want, ort = None, True
        if want is not None:
            np.testing.assert_allclose(got, want, rtol=RTOL64, atol=RTOL64 * scale)
    if ort and _ort64(nodes, inits, in_shape, x, opset, got, scale):
        return net64
    if ort:
        model32 = make_model(nodes, inits, in_shape, opset=opset)
        net32 = load_onnx(model32)
        x32 = x.astype(np.float32)
        want32 = _ort(model32, x32).reshape(batch, -1)
        got32 = net32.forward(x32.reshape(batch, -1).astype(np.float64))
        np.testing.assert_allclose(got32, want32, rtol=RTOL32, atol=RTOL32 * scale)
    return net64


def node(op, inputs, outputs, **attrs):
    return helper.make_node(op, inputs, outputs, **attrs)
