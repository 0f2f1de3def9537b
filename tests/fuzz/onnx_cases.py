"""Mutated ONNX files for fuzzing :func:`pyomo_relu.load_onnx`.

Each case starts from a valid model (the shipped ``peaks.onnx``, networks written by
``save_onnx``, a ``MatMul`` + ``Add`` chain, a small CNN with batch norm and max pool and a
residual block built with ``onnx.helper``) and applies one to
three mutations drawn with a seeded generator: truncated or flipped bytes, initializers of
other data types, shape lies, transposed weights, flipped ``transB``, NaN/Inf values, cycles,
missing inputs, huge declared dimensions, duplicate names, empty graphs, unsupported operators,
window attributes (strides, pads, dilations, group, kernel_shape, auto_pad, ceil_mode),
reordered nodes, other opsets, constant-only nodes that would allocate huge tensors.
:func:`onnx_cases` returns ``(name, bytes)`` pairs; the same seed gives the same cases.
"""

from __future__ import annotations

import copy
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import pyomo_relu as pr
from pyomo_relu.network import Activation, DenseLayer, ReluNetwork

PEAKS = os.path.join(os.path.dirname(pr.__file__), "data", "peaks.onnx")

#: a declared dimension that must never be allocated
HUGE = 10**12

_DTYPES = (
    TensorProto.INT32,
    TensorProto.INT64,
    TensorProto.FLOAT16,
    TensorProto.DOUBLE,
    TensorProto.FLOAT,
    TensorProto.BOOL,
    TensorProto.UINT8,
    TensorProto.STRING,
    TensorProto.BFLOAT16,
    TensorProto.COMPLEX64,
    TensorProto.UNDEFINED,
)
_OPS = (
    "Tanh",
    "Sigmoid",
    "Conv",
    "Softmax",
    "MaxPool",
    "AveragePool",
    "GlobalMaxPool",
    "Concat",
    "LeakyRelu",
    "LSTM",
    "Abs",
    "Neg",
    "Exp",
    "Transpose",
    "Gather",
    "FooBar",
    "",
    "Relu",
    "Gemm",
    "MatMul",
    "Add",
    "Mul",
    "Div",
    "Sub",
    "Max",
    "Min",
    "Clip",
    "Identity",
    "Dropout",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Cast",
    "BatchNormalization",
    "Shape",
    "Constant",
)


def _net(rng, clipped=False) -> ReluNetwork:
    sizes = [int(rng.integers(1, 5))] + [int(rng.integers(1, 6)) for _ in range(rng.integers(1, 3))]
    sizes.append(int(rng.integers(1, 3)))
    layers = []
    for k in range(len(sizes) - 1):
        w = rng.normal(size=(sizes[k + 1], sizes[k]))
        act = Activation.LINEAR if k == len(sizes) - 2 else Activation.RELU
        if clipped and act is Activation.RELU:
            act = Activation.CLIPPED_RELU(float(rng.uniform(0.5, 2)))
        layers.append(DenseLayer(w, rng.normal(size=sizes[k + 1]), act))
    return ReluNetwork(layers)


def _matmul_chain(rng) -> onnx.ModelProto:
    """``x @ W0 + b0 -> Relu -> x @ W1 + b1`` with float32 tensors, the layout torch exports."""
    n_in, n_hid, n_out = (int(v) for v in rng.integers(1, 5, size=3))
    inits = [
        numpy_helper.from_array(rng.normal(size=(n_in, n_hid)).astype(np.float32), "W0"),
        numpy_helper.from_array(rng.normal(size=n_hid).astype(np.float32), "b0"),
        numpy_helper.from_array(rng.normal(size=(n_hid, n_out)).astype(np.float32), "W1"),
        numpy_helper.from_array(rng.normal(size=n_out).astype(np.float32), "b1"),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "W0"], ["h0"], name="mm0"),
        helper.make_node("Add", ["h0", "b0"], ["z0"], name="add0"),
        helper.make_node("Relu", ["z0"], ["a0"], name="relu0"),
        helper.make_node("MatMul", ["a0", "W1"], ["h1"], name="mm1"),
        helper.make_node("Add", ["h1", "b1"], ["y"], name="add1"),
    ]
    graph = helper.make_graph(
        nodes,
        "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", n_out])],
        initializer=inits,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _graph(nodes, inits, in_shape, name):
    tensors = [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()]
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *in_shape])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=tensors,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def _cnn(rng) -> onnx.ModelProto:
    """Conv -> BatchNormalization -> Relu -> MaxPool -> Flatten -> Gemm, float32."""
    c = int(rng.integers(1, 4))

    def f32(*shape, low=None):
        values = rng.uniform(0.5, 2, shape) if low else rng.normal(size=shape)
        return values.astype(np.float32)

    inits = {"W": f32(c, 1, 3, 3), "B": f32(c), "g": f32(c), "b": f32(c), "mu": f32(c)}
    inits.update(var=f32(c, low=True), G=f32(2, c * 3 * 3), gb=f32(2))
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], pads=[1, 1, 1, 1], name="conv"),
        helper.make_node("BatchNormalization", ["c", "g", "b", "mu", "var"], ["n"], name="bn"),
        helper.make_node("Relu", ["n"], ["r"], name="relu"),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], name="mp"),
        helper.make_node("Flatten", ["p"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "G", "gb"], ["y"], transB=1, name="fc"),
    ]
    return _graph(nodes, inits, [1, 6, 6], "cnn")


def _residual(rng) -> onnx.ModelProto:
    """relu(conv(x)) + conv(relu(conv(x))) -> AveragePool -> Flatten, float32."""
    inits = {
        "W0": rng.normal(size=(2, 1, 3, 3)).astype(np.float32),
        "W1": rng.normal(size=(2, 2, 3, 3)).astype(np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "W0"], ["c0"], pads=[1, 1, 1, 1], name="conv0"),
        helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
        helper.make_node("Conv", ["r0", "W1"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        helper.make_node("Add", ["r0", "c1"], ["s"], name="add"),
        helper.make_node("Relu", ["s"], ["r1"], name="relu1"),
        helper.make_node("AveragePool", ["r1"], ["p"], kernel_shape=[2, 2], name="avg"),
        helper.make_node("Flatten", ["p"], ["y"], name="flat"),
    ]
    return _graph(nodes, inits, [1, 4, 4], "residual")


def base_models(rng) -> list[tuple[str, onnx.ModelProto]]:
    """The valid models the mutations start from."""
    return [
        ("peaks", onnx.load(PEAKS)),
        ("save64", pr.save_onnx(_net(rng))),
        ("save32", pr.save_onnx(_net(rng), dtype="float32")),
        ("clipped", pr.save_onnx(_net(rng, clipped=True), dtype="float32")),
        ("matmul", _matmul_chain(rng)),
        ("cnn", _cnn(rng)),
        ("residual", _residual(rng)),
    ]


# ------------------------------------------------------------------ mutations on the proto
def _pick(rng, seq):
    return seq[int(rng.integers(len(seq)))]


def _init(rng, m):
    inits = m.graph.initializer
    return _pick(rng, inits) if len(inits) else None


def _values(t) -> np.ndarray:
    try:
        return numpy_helper.to_array(t)
    except Exception:  # an earlier mutation broke the tensor
        return np.zeros(1, dtype=np.float32)


def m_dtype(rng, m):
    """An initializer re-encoded with another data type (int, float16, double, string, ...)."""
    t = _init(rng, m)
    if t is None:
        return "dtype:none"
    arr, dtype = _values(t), _pick(rng, _DTYPES)
    t.ClearField("raw_data")
    for field in ("float_data", "int32_data", "int64_data", "double_data", "string_data"):
        t.ClearField(field)
    t.data_type = dtype
    if dtype == TensorProto.STRING:
        t.string_data.extend(str(v).encode() for v in np.ravel(arr))
    elif dtype in (TensorProto.FLOAT16, TensorProto.BFLOAT16):
        t.raw_data = np.asarray(arr, dtype=np.float16).tobytes()
    elif dtype in (TensorProto.DOUBLE,):
        t.double_data.extend(float(v) for v in np.ravel(arr))
    elif dtype in (TensorProto.INT64,):
        t.int64_data.extend(int(v) for v in np.ravel(np.nan_to_num(arr)))
    elif dtype == TensorProto.COMPLEX64:
        t.float_data.extend(v for x in np.ravel(arr) for v in (float(x), 0.0))
    elif dtype != TensorProto.UNDEFINED:
        t.int32_data.extend(int(v) for v in np.ravel(np.nan_to_num(arr)))
    return f"dtype:{t.name}->{TensorProto.DataType.Name(dtype)}"


def m_shape_lie(rng, m):
    """An initializer whose declared dims do not match its data."""
    t = _init(rng, m)
    if t is None:
        return "shape:none"
    dims = list(t.dims)
    choice = int(rng.integers(5))
    if choice == 0 and dims:
        dims[int(rng.integers(len(dims)))] += int(rng.integers(1, 4))
    elif choice == 1:
        dims.append(int(rng.integers(1, 3)))
    elif choice == 2 and dims:
        dims.pop()
    elif choice == 3:
        dims = [int(np.prod(dims or [1]))]
    else:
        dims = [0] + dims
    del t.dims[:]
    t.dims.extend(dims)
    return f"shape:{t.name}->{dims}"


def m_transpose(rng, m):
    """A 2-D initializer transposed: the inner dimensions of Gemm/MatMul no longer match."""
    two = [t for t in m.graph.initializer if len(t.dims) == 2]
    if not two:
        return "transpose:none"
    t = _pick(rng, two)
    t.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(_values(t).T), t.name))
    return f"transpose:{t.name}"


#: attributes of Conv and the pools
_WINDOW = ["strides", "pads", "dilations", "group", "kernel_shape", "auto_pad", "ceil_mode"]


def m_attribute(rng, m):
    """transB flipped, transA set, alpha/beta changed, or an attribute of the wrong type added."""
    if not len(m.graph.node):
        return "attr:none"
    node = _pick(rng, m.graph.node)
    name = _pick(
        rng, ["transB", "transA", "alpha", "beta", "axis", "to", "min", "epsilon"] + _WINDOW
    )
    value = _pick(rng, [0, 1, 2, -1, 0.5, float("nan"), float("inf"), "text", [1, 2], 1e300])
    if name == "auto_pad" and rng.random() < 0.7:
        value = _pick(rng, ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET", "FOO"])
    elif name in _WINDOW and rng.random() < 0.5:
        value = [int(v) for v in rng.integers(-1, 4, size=int(rng.integers(1, 5)))]
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept)
    if name in ("transB", "transA") and value in (0, 1) and rng.random() < 0.7:
        value = 1 - int(next((a.i for a in kept if a.name == name), 0))
    node.attribute.append(helper.make_attribute(name, value))
    return f"attr:{node.op_type}.{name}={value!r}"


def m_nonfinite(rng, m):
    """NaN, Inf or huge values in an initializer."""
    t = _init(rng, m)
    if t is None:
        return "nonfinite:none"
    arr = np.array(_values(t), dtype=np.float64).reshape(-1)
    if arr.size:
        value = _pick(rng, [np.nan, np.inf, -np.inf, 1e308, 3.5e38, -1e30])
        arr[int(rng.integers(arr.size))] = value
    dtype = _values(t).dtype if _values(t).dtype.kind == "f" else np.float64
    with np.errstate(over="ignore"):
        new = arr.astype(dtype).reshape(_values(t).shape)
    t.CopyFrom(numpy_helper.from_array(new, t.name))
    return f"nonfinite:{t.name}"


def m_cycle(rng, m):
    """A node reads the output of itself or of a later node."""
    nodes = m.graph.node
    if len(nodes) < 1:
        return "cycle:none"
    i = int(rng.integers(len(nodes)))
    j = int(rng.integers(i, len(nodes)))
    if not len(nodes[i].input) or not len(nodes[j].output):
        return "cycle:none"
    nodes[i].input[0] = nodes[j].output[0]
    return f"cycle:{i}<-{j}"


def m_missing_input(rng, m):
    """A node input that no node, initializer or graph input provides, or a dropped input."""
    nodes = [n for n in m.graph.node if len(n.input)]
    if not nodes:
        return "missing:none"
    node = _pick(rng, nodes)
    k = int(rng.integers(len(node.input)))
    if rng.random() < 0.5:
        node.input[k] = "nowhere"
    else:
        kept = [v for i, v in enumerate(node.input) if i != k]
        del node.input[:]
        node.input.extend(kept)
    return f"missing:{node.op_type}[{k}]"


def m_huge(rng, m):
    """Declared dimensions of 10**12: on the graph input, an initializer, a Reshape target, or
    a constant-only node that would allocate them (ConstantOfShape, Expand, Tile, Range)."""
    choice = int(rng.integers(5))
    g = m.graph
    if choice == 0 and len(g.input):
        dims = g.input[0].type.tensor_type.shape.dim
        if len(dims):
            dims[int(rng.integers(len(dims)))].dim_value = HUGE
        return "huge:input"
    if choice == 1 and len(g.initializer):
        t = _pick(rng, g.initializer)
        del t.dims[:]
        t.dims.extend([HUGE, 1] if rng.random() < 0.5 else [HUGE, HUGE])
        return f"huge:init:{t.name}"
    if not len(g.node):
        return "huge:none"
    i = int(rng.integers(len(g.node)))
    node = g.node[i]
    if not len(node.input):
        return "huge:none"
    kind = _pick(rng, ["ConstantOfShape", "Expand", "Tile", "Range", "Reshape"])
    shape = numpy_helper.from_array(np.array([HUGE, 1], dtype=np.int64), f"huge{i}.shape")
    one = numpy_helper.from_array(np.ones((1, 1), dtype=np.float32), f"huge{i}.one")
    g.initializer.extend([shape, one])
    out = f"huge{i}.out"
    if kind == "ConstantOfShape":
        new = helper.make_node(kind, [shape.name], [out])
    elif kind == "Range":
        start = numpy_helper.from_array(np.array(0, dtype=np.int64), f"huge{i}.start")
        stop = numpy_helper.from_array(np.array(HUGE, dtype=np.int64), f"huge{i}.stop")
        g.initializer.extend([start, stop])
        new = helper.make_node(kind, [start.name, stop.name, start.name + "1"], [out])
        g.initializer.append(numpy_helper.from_array(np.array(1, dtype=np.int64), start.name + "1"))
    elif kind == "Reshape":
        new = helper.make_node(kind, [node.input[0], shape.name], [out])
        g.node.insert(i, new)
        node.input[0] = out
        return "huge:reshape"
    else:
        new = helper.make_node(kind, [one.name, shape.name], [out])
    g.node.insert(i, new)
    node.input.append(out) if node.op_type in ("Gemm",) and len(node.input) < 3 else None
    if node.op_type in ("Add", "Mul", "Sub", "Div") and len(node.input) == 2:
        node.input[1] = out
    return f"huge:{kind}"


def m_duplicate(rng, m):
    """Duplicate names: two initializers, two node outputs, a graph input named like an
    initializer, or two nodes with one name."""
    g = m.graph
    choice = int(rng.integers(4))
    if choice == 0 and len(g.initializer):
        t = copy.deepcopy(_pick(rng, g.initializer))
        arr = _values(t)
        if arr.dtype.kind == "f":
            t.CopyFrom(numpy_helper.from_array(arr * 2 + 1, t.name))
        g.initializer.append(t)
        return f"dup:init:{t.name}"
    if choice == 1 and len(g.node) > 1:
        a, b = (int(v) for v in rng.choice(len(g.node), 2, replace=False))
        g.node[b].output[0] = g.node[a].output[0]
        return f"dup:output:{a},{b}"
    if choice == 2 and len(g.initializer) and len(g.input):
        g.input[0].name = _pick(rng, g.initializer).name
        return "dup:input-is-init"
    for n in g.node:
        n.name = "same"
    return "dup:node-names"


def m_empty(rng, m):
    """No nodes, no outputs, no inputs, or no initializers."""
    g = m.graph
    field = _pick(rng, ["node", "output", "input", "initializer"])
    g.ClearField(field)
    return f"empty:{field}"


def m_op(rng, m):
    """A node's operator replaced (unsupported, unknown, or another supported one), or a
    foreign domain."""
    if not len(m.graph.node):
        return "op:none"
    node = _pick(rng, m.graph.node)
    if rng.random() < 0.2:
        node.domain = _pick(rng, ["com.microsoft", "ai.onnx.ml", "custom"])
        return f"op:domain:{node.domain}"
    old, node.op_type = node.op_type, _pick(rng, _OPS)
    return f"op:{old}->{node.op_type}"


def m_reorder(rng, m):
    """Nodes deleted, duplicated or swapped (the graph is no longer topologically sorted)."""
    nodes = list(m.graph.node)
    if len(nodes) < 2:
        return "reorder:none"
    choice = int(rng.integers(3))
    i, j = (int(v) for v in rng.choice(len(nodes), 2, replace=False))
    if choice == 0:
        nodes.pop(i)
    elif choice == 1:
        nodes.insert(j, copy.deepcopy(nodes[i]))
    else:
        nodes[i], nodes[j] = nodes[j], nodes[i]
    del m.graph.node[:]
    m.graph.node.extend(nodes)
    return f"reorder:{choice}:{i},{j}"


def m_opset(rng, m):
    """Another (or no) opset import, or another IR version."""
    if rng.random() < 0.3:
        m.ir_version = int(_pick(rng, [0, 1, 3, 99]))
        return f"ir:{m.ir_version}"
    version = int(_pick(rng, [1, 6, 7, 10, 11, 12, 13, 21, 99]))
    del m.opset_import[:]
    if rng.random() < 0.85:
        m.opset_import.append(helper.make_opsetid("", version))
    return f"opset:{version}"


def m_io(rng, m):
    """The graph input's type or shape changed, or a second graph output added."""
    g = m.graph
    if not len(g.input) or not len(g.output):
        return "io:none"
    choice = int(rng.integers(4))
    tt = g.input[0].type.tensor_type
    if choice == 0:
        tt.elem_type = int(_pick(rng, [TensorProto.INT64, TensorProto.STRING, TensorProto.FLOAT16]))
        return f"io:elem:{tt.elem_type}"
    if choice == 1:
        tt.ClearField("shape")
        return "io:noshape"
    if choice == 2:
        tt.shape.dim.add().dim_value = int(rng.integers(1, 4))
        if rng.random() < 0.5 and len(tt.shape.dim) > 2:  # [N, 10**12, features]
            tt.shape.dim[1].dim_value = HUGE
        return "io:rank+1"
    g.output.append(helper.make_tensor_value_info("extra", TensorProto.FLOAT, ["N", 1]))
    return "io:2outputs"


MUTATIONS = (
    m_dtype,
    m_shape_lie,
    m_transpose,
    m_attribute,
    m_nonfinite,
    m_cycle,
    m_missing_input,
    m_huge,
    m_duplicate,
    m_empty,
    m_op,
    m_reorder,
    m_opset,
    m_io,
)


def _mutate_bytes(rng, data: bytes) -> tuple[str, bytes]:
    if rng.random() < 0.5:
        k = int(rng.integers(0, len(data)))
        return f"truncate:{k}", data[:k]
    buf = bytearray(data)
    n = int(rng.integers(1, 9))
    for _ in range(n):
        buf[int(rng.integers(len(buf)))] = int(rng.integers(256))
    return f"flip:{n}", bytes(buf)


def _apply(rng, model) -> str:
    mutation = _pick(rng, MUTATIONS)
    try:
        return mutation(rng, model)
    except (ValueError, TypeError, OverflowError):  # protobuf refused a value: no mutation
        return f"{mutation.__name__}:refused"


def onnx_cases(n: int, seed: int = 0) -> list[tuple[str, bytes]]:
    """``n`` mutated models as ``(description, serialised bytes)``, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    bases = base_models(rng)
    cases = []
    for i in range(n):
        base_name, base = bases[i % len(bases)]
        model = copy.deepcopy(base)
        if rng.random() < 0.15:
            what, data = _mutate_bytes(rng, model.SerializeToString())
        else:
            steps = [_apply(rng, model) for _ in range(int(rng.integers(1, 4)))]
            what, data = "+".join(steps), model.SerializeToString()
        cases.append((f"{base_name}/{what}", data))
    return cases
