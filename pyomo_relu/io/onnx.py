"""Read and write feed-forward ReLU networks as ONNX graphs.

:func:`load_onnx` walks a sequential ONNX graph with an explicit operator
table and returns a :class:`~pyomo_relu.network.ReluNetwork`.  Affine nodes
(``Gemm``, ``MatMul``, constant ``Add``/``Sub``/``Mul``/``Div``) are composed
into dense layers, so ``MatMul`` + ``Add`` pairs and input/output
normalisation fold into the weights; activations (``Relu``, ``Clip(0, c)``,
``Max(x, 0)``, ``Min(relu, c)``) close a layer.  Every optional attribute is
read with its ONNX specification default.  Layout-only nodes (``Reshape``,
``Flatten``, ``Squeeze``, ``Unsqueeze``) are accepted when they keep the batch
axis first and the feature order unchanged.

:func:`save_onnx` writes one ``Gemm(transB=1)`` per layer followed by ``Relu``,
``Clip(x, 0, c)`` (scalar cap) or ``Relu`` + ``Min(x, caps)`` (per-neuron caps).
"""

from __future__ import annotations

import errno
import json
import os

import numpy as np

from ..errors import InvalidNetworkError, ShapeMismatchError, UnsupportedOperatorError
from ..network import Activation, ActivationKind, DenseLayer, ReluNetwork
from ._onnx_ops import BATCH as _N
from ._onnx_ops import OPS as _OPS
from ._onnx_ops import attr as _attr

__all__ = ["load_onnx", "save_onnx", "SUPPORTED_OPS"]

_OPSET = 17
_META_IN, _META_OUT = "pyomo_relu.input_names", "pyomo_relu.output_names"
_HINTS = {
    "LeakyRelu": "a leaky ReLU has no zero piece; retrain with ReLU",
    "Conv": "convolutions are not dense layers; flatten the network into Gemm layers first",
    "Shape": "dynamic shape arithmetic; export with a fixed feature size or torch.flatten",
}


# ---------------------------------------------------------------- loading
def load_onnx(model, *, input_names=None, output_names=None) -> ReluNetwork:
    """Load a sequential ReLU network from an ONNX file or ``ModelProto``.

    Parameters
    ----------
    model : str, os.PathLike, bytes or onnx.ModelProto
        Path of a ``.onnx`` file, its serialised bytes, or a loaded model.
    input_names, output_names : sequence of str, optional
        Names of the input features / outputs.  Default: the names stored by
        :func:`save_onnx`, else ``x0, x1, ...`` / ``y0, y1, ...``.

    Returns
    -------
    ReluNetwork
        Weights converted to float64.

    Raises
    ------
    FileNotFoundError
        ``model`` is a path that does not exist.
    UnsupportedOperatorError
        A node is not in :data:`SUPPORTED_OPS`, has unsupported attributes, or
        the graph is not a single chain from one input to one output.
    InvalidNetworkError, ShapeMismatchError
        NaN/Inf weights, or weights that do not chain.
    """
    proto = _read_model(model)
    layers = _GraphParser(proto).run()
    meta = {p.key: p.value for p in proto.metadata_props}
    n_in, n_out = layers[0].n_in, layers[-1].n_out
    if input_names is None:
        input_names = _stored_names(meta.get(_META_IN), n_in)
    if output_names is None:
        output_names = _stored_names(meta.get(_META_OUT), n_out)
    return ReluNetwork(layers, input_names=input_names, output_names=output_names)


def _read_model(model):
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        return onnx.load_model_from_string(bytes(model))
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"load_onnx: expected a path, bytes or onnx.ModelProto, found {type(model).__name__}.")
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, f"load_onnx: no ONNX file at {path!r}", path)
    try:
        return onnx.load(path)
    except Exception as exc:  # protobuf raises DecodeError, external data OSError
        raise InvalidNetworkError(f"load_onnx: {path!r} is not a readable ONNX model ({exc}).") from exc


def _stored_names(raw, n):
    try:
        names = json.loads(raw) if raw else None
    except ValueError:
        return None
    return names if isinstance(names, list) and len(names) == n else None


class _Affine:
    """Pending affine map ``W a + b`` not yet closed by an activation."""

    def __init__(self, weights, bias, dense, name):
        self.weights, self.bias, self.dense, self.name = weights, bias, dense, name


class _GraphParser:
    """Walk a topologically sorted ONNX graph node by node along the data tensor."""

    def __init__(self, proto):
        from onnx import numpy_helper

        self.to_array = numpy_helper.to_array
        self.graph = proto.graph
        self.opset = next(
            (o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), _OPSET
        )
        self.consts = {t.name: self.to_array(t) for t in self.graph.initializer}
        self.consumers = {}
        for node in self.graph.node:
            for name in node.input:
                self.consumers.setdefault(name, []).append(node.name or node.op_type)
        self.layers, self.pending, self.act_open = [], None, False
        self.node, self.index = None, -1

    # -- driver ----------------------------------------------------------
    def run(self):
        self.current, self.shape = self._graph_input()
        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph has {len(outputs)} outputs {outputs}; expected exactly one "
                "(a single output tensor of shape [N, n_outputs])."
            )
        for self.index, self.node in enumerate(self.graph.node):
            self._visit(self.node)
        if self.current != outputs[0]:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph output {outputs[0]!r} is not computed from the input "
                f"along a single chain (the chain ends at {self.current!r})."
            )
        if self.pending is not None:
            self._close(Activation.LINEAR)
        if not self.layers:
            raise InvalidNetworkError("load_onnx: the graph has no dense layer (Gemm or MatMul).")
        return self.layers

    def _graph_input(self):
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph has {len(inputs)} non-constant inputs "
                f"{[i.name for i in inputs]}; expected exactly one of shape [N, n_inputs]."
            )
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in inputs[0].type.tensor_type.shape.dim]
        if len(dims) < 2 or None in dims[1:]:
            dims = [None, self._first_dense_width()]
        return inputs[0].name, (_N,) + tuple(dims[1:])

    def _first_dense_width(self):
        for node in self.graph.node:
            if node.op_type in ("Gemm", "MatMul") and len(node.input) > 1 and node.input[1] in self.consts:
                b = self.consts[node.input[1]]
                trans = node.op_type == "Gemm" and _attr(node, "transB", 0)
                return int(b.shape[-1] if trans else b.shape[0])
        raise UnsupportedOperatorError(
            "load_onnx: the graph input has no static feature size and no dense layer to infer it from."
        )

    def _visit(self, node):
        if node.op_type == "Constant":
            self.consts[node.output[0]] = self._constant_value(node)
            return
        if node.domain not in ("", "ai.onnx"):
            self._unsupported(f"operator domain {node.domain!r} is not the standard ONNX domain")
        handler = _OPS.get(node.op_type)
        if handler is None:
            self._unsupported(_HINTS.get(node.op_type, "it has no translation into dense ReLU layers"))
        data = [k for k, name in enumerate(node.input) if name and name not in self.consts]
        if not data:
            if node.op_type in ("Identity", "Cast"):  # fold constant-only no-ops
                self.consts[node.output[0]] = self.consts[node.input[0]]
                return
            self._unsupported("the node computes only from constants; fold constants before loading")
        if len(data) > 1 or node.input[data[0]] != self.current or len(self.consumers[self.current]) > 1:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph is not a single chain: tensor {self.current!r} feeds "
                f"{self.consumers.get(self.current)}, node {self._label()} reads "
                f"{[node.input[k] for k in data]}; only sequential networks are supported."
            )
        extra = [o for o in node.output[1:] if o and (o in self.consumers or o in
                 {g.name for g in self.graph.output})]
        if extra:
            self._unsupported(f"its secondary outputs {extra} are used; only the first output may be")
        handler(self, node, data[0])
        self.current = node.output[0]

    # -- helpers ---------------------------------------------------------
    def _label(self):
        return f"'{self.node.name or '<unnamed>'}' (op_type {self.node.op_type}, node #{self.index})"

    def _unsupported(self, why, fix=""):
        raise UnsupportedOperatorError(
            f"load_onnx: ONNX node {self._label()} is not supported: {why}. {fix}"
            f"Supported operators: {', '.join(SUPPORTED_OPS)}."
        )

    def _constant_value(self, node):
        a = {at.name: at for at in node.attribute}
        if "value" in a:
            return self.to_array(a["value"].t)
        for key, field in (("value_float", "f"), ("value_floats", "floats"),
                           ("value_int", "i"), ("value_ints", "ints")):
            if key in a:
                return np.array(getattr(a[key], field))
        self.node = node
        self._unsupported(f"Constant attributes {sorted(a)} are not numeric tensors")

    def _const(self, node, k, what):
        if len(node.input) <= k or not node.input[k]:
            return None
        if node.input[k] not in self.consts:
            self._unsupported(f"its {what} (input {k}) must be a constant, found tensor {node.input[k]!r}")
        return self.consts[node.input[k]]

    @property
    def n_features(self):
        return int(np.prod([d for d in self.shape if d != _N], dtype=np.int64))

    def _require_matrix(self):
        if len(self.shape) != 2:
            self._unsupported(f"it needs an [N, features] input, the tensor has layout {list(self.shape)}")

    def _per_feature(self, const, what):
        """Broadcast a constant against one sample (batch axis 1); return it per feature."""
        probe = tuple(1 if d == _N else d for d in self.shape)
        try:
            ok = np.broadcast_shapes(np.shape(const), probe) == probe
        except ValueError:
            ok = False
        if not ok:
            self._unsupported(
                f"{what} of shape {list(np.shape(const))} does not broadcast per feature over "
                f"the tensor of layout {list(self.shape)}"
            )
        return np.broadcast_to(np.asarray(const, dtype=np.float64), probe).reshape(-1)

    # -- building layers -------------------------------------------------
    def _push_dense(self, weights, bias):
        n_in = weights.shape[1]
        if n_in != self.n_features:
            raise ShapeMismatchError(
                f"load_onnx: node {self._label()} has a weight for {n_in} inputs but its input "
                f"tensor carries {self.n_features} features; the weights do not chain "
                "(Gemm reads B as (n_in, n_out) unless transB=1; check the exporter or the weights)."
            )
        p = self.pending
        if p is not None and p.dense:
            self._close(Activation.LINEAR)
            p = None
        if p is not None:  # fold a preceding elementwise (normalisation) map
            weights, bias = weights @ p.weights, weights @ p.bias + bias
        self.pending = _Affine(weights, bias, True, self.node.name or f"node{self.index}")
        self.act_open = False

    def _push_diag(self, scale, shift):
        if self.pending is None:
            n = scale.size
            self.pending = _Affine(np.eye(n), np.zeros(n), False, self.node.name or f"node{self.index}")
        p = self.pending
        p.weights, p.bias = scale[:, None] * p.weights, scale * p.bias + shift
        self.act_open = False

    def _close(self, activation):
        p = self.pending
        if p is None:  # activation right after another activation or the input
            n = self.n_features
            p = _Affine(np.eye(n), np.zeros(n), False, self.node.name or f"node{self.index}")
        k = len(self.layers)
        self.layers.append(DenseLayer(p.weights, p.bias, activation, name=f"layer {k} (ONNX node {p.name!r})"))
        self.pending = None
        self.act_open = activation.is_piecewise

    def _activate(self, activation):
        try:
            self._close(activation)
        except InvalidNetworkError as exc:
            raise InvalidNetworkError(f"load_onnx: node {self._label()}: {exc}") from exc

    def _cap_last_layer(self, caps, scalar):
        if not self.act_open:
            self._unsupported("Min(x, c) is read only as the cap of a preceding ReLU")
        last = self.layers[-1]
        caps = np.minimum(last.activation.caps(last.n_out), caps)
        if np.any(caps <= 0):
            self._unsupported(f"the cap must be > 0, found {caps.min()}")
        old_scalar = last.activation.kind is not ActivationKind.CLIPPED_RELU or np.ndim(last.activation.cap) == 0
        cap = float(caps[0]) if scalar and old_scalar else tuple(caps)
        self.layers[-1] = DenseLayer(last.weights, last.bias, Activation.CLIPPED_RELU(cap), name=last._name)


SUPPORTED_OPS = tuple(sorted(set(_OPS) | {"Constant"}))


# ----------------------------------------------------------------- saving
def save_onnx(net: ReluNetwork, path=None, *, dtype: str = "float64"):
    """Write a network as an ONNX graph that :func:`load_onnx` reads back exactly.

    Layer ``k`` becomes ``Gemm(transB=1)`` with initializers ``layer{k}.weight``
    (n_out, n_in) and ``layer{k}.bias``, followed by ``Relu``, ``Clip(x, 0, c)``
    for a scalar cap, or ``Relu`` then ``Min(x, caps)`` for per-neuron caps.
    The input is ``'input'`` of shape ``[N, n_inputs]`` (symbolic batch ``N``),
    the output ``'output'`` of shape ``[N, n_outputs]``; opset 17.  Input and
    output names are stored in the model's metadata.

    Parameters
    ----------
    net : ReluNetwork
    path : str or os.PathLike, optional
        Where to write the model; nothing is written when omitted.
    dtype : {"float64", "float32"}
        Tensor type of the weights and of the graph input/output.  float64
        (default) round-trips the weights exactly.

    Returns
    -------
    onnx.ModelProto
    """
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if not isinstance(net, ReluNetwork):
        raise TypeError(f"save_onnx: expected a ReluNetwork, found {type(net).__name__}.")
    types = {"float64": (np.float64, TensorProto.DOUBLE), "float32": (np.float32, TensorProto.FLOAT)}
    if dtype not in types:
        raise ValueError(f"save_onnx: dtype must be one of {sorted(types)}, found {dtype!r}.")
    np_type, elem = types[dtype]
    nodes, inits, current = [], [], "input"

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np_type), name))
        return name

    for k, layer in enumerate(net.layers):
        current = _layer_nodes(k, layer, current, nodes, const)
    nodes[-1].output[0] = "output"
    graph = helper.make_graph(
        nodes, "pyomo_relu_network",
        [helper.make_tensor_value_info("input", elem, [_N, net.n_inputs])],
        [helper.make_tensor_value_info("output", elem, [_N, net.n_outputs])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)],
                              producer_name="pyomo_relu", ir_version=8)
    helper.set_model_props(model, {_META_IN: json.dumps(list(net.input_names)),
                                   _META_OUT: json.dumps(list(net.output_names))})
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save_model(model, os.fspath(path))
    return model


def _layer_nodes(k, layer, current, nodes, const):
    """Append the nodes of layer ``k`` reading tensor ``current``; return its output tensor name."""
    from onnx import helper

    w, b = const(f"layer{k}.weight", layer.weights), const(f"layer{k}.bias", layer.bias)
    nodes.append(helper.make_node("Gemm", [current, w, b], [f"layer{k}.z"], name=f"layer{k}_gemm", transB=1))
    act = layer.activation
    if not act.is_piecewise:
        return f"layer{k}.z"
    if act.kind is ActivationKind.CLIPPED_RELU and np.ndim(act.cap) == 0:
        ins = [f"layer{k}.z", const(f"layer{k}.min", 0.0), const(f"layer{k}.cap", act.cap)]
        nodes.append(helper.make_node("Clip", ins, [f"layer{k}.a"], name=f"layer{k}_clip"))
        return f"layer{k}.a"
    nodes.append(helper.make_node("Relu", [f"layer{k}.z"], [f"layer{k}.a"], name=f"layer{k}_relu"))
    if act.kind is ActivationKind.RELU:
        return f"layer{k}.a"
    ins = [f"layer{k}.a", const(f"layer{k}.cap", act.caps(layer.n_out))]  # per-neuron caps
    nodes.append(helper.make_node("Min", ins, [f"layer{k}.capped"], name=f"layer{k}_min"))
    return f"layer{k}.capped"
