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
from ._onnx_ops import _FLOAT_MAX
from ._onnx_ops import BATCH as _N
from ._onnx_ops import BATCH_MARK as _MARK
from ._onnx_ops import ML_OPS as _ML_OPS
from ._onnx_ops import OPS as _OPS
from ._onnx_ops import SHAPE_OPS as _SHAPE_OPS
from ._onnx_ops import STD_DOMAINS as _STD_DOMAINS
from ._onnx_ops import attr as _attr
from ._onnx_ops import evaluate as _evaluate

__all__ = ["load_onnx", "save_onnx", "SUPPORTED_OPS"]

_OPSET = 17
_META_IN, _META_OUT = "pyomo_relu.input_names", "pyomo_relu.output_names"
_SMOOTH = "a smooth activation has no exact piecewise-linear form; retrain with ReLU (activation='relu')"
_HINTS = {
    "LeakyRelu": "a leaky ReLU has no zero piece; retrain with ReLU",
    "Conv": "convolutions are not dense layers; flatten the network into Gemm layers first",
    "Tanh": _SMOOTH, "Sigmoid": _SMOOTH, "Softplus": _SMOOTH, "Elu": _SMOOTH, "Selu": _SMOOTH,
    "Gelu": _SMOOTH, "HardSigmoid": _SMOOTH,
    "Shape": "it reads the shape of a tensor off the single chain from the input to the output",
    "Softmax": "a softmax output belongs to a classifier; export the network up to its logits",
    "LogSoftmax": "a softmax output belongs to a classifier; export the network up to its logits",
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
        try:
            return onnx.load_model_from_string(bytes(model))
        except Exception as exc:  # protobuf DecodeError
            raise InvalidNetworkError(f"load_onnx: the bytes are not a serialised ONNX model ({exc}).") from exc
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"load_onnx: expected a path, bytes or onnx.ModelProto, found {type(model).__name__}.")
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, f"load_onnx: no ONNX file at {path!r}", path)
    if os.path.getsize(path) == 0:  # protobuf parses an empty file as an empty model
        raise InvalidNetworkError(f"load_onnx: {path!r} is empty (0 bytes); expected an ONNX model - export the "
                                  "network again (e.g. torch.onnx.export or pyomo_relu.save_onnx).")
    try:
        proto = onnx.load(path, load_external_data=False)  # external data next: its errors need their own fix
    except PermissionError:
        raise PermissionError(errno.EACCES, f"load_onnx: {path!r} cannot be read (permission denied); make it "
                              "readable (chmod +r) or load a copy you can read", path) from None
    except Exception as exc:  # protobuf raises DecodeError
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is not a readable ONNX model ({exc}){_file_kind_hint(path)}; pass a model "
            "exported to ONNX (torch.onnx.export, skl2onnx or pyomo_relu.save_onnx)."
        ) from exc
    if not proto.graph.node:
        raise InvalidNetworkError(f"load_onnx: {path!r} holds no graph nodes; is it an ONNX model file?")
    _load_external_data(proto, path)
    return proto


#: leading bytes of files that users mistake for ONNX models
_MAGIC = ((b"PK\x03\x04", "a zip archive, such as a PyTorch checkpoint written by torch.save"),
          (b"\x80", "a Python pickle, such as a model written by torch.save or joblib"),
          (b"\x89HDF", "an HDF5 file, such as a Keras model"))


def _file_kind_hint(path) -> str:
    """``"; it looks like ..."`` for a file type that users mistake for ONNX, else ``""``."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError:
        return ""
    kind = next((what for magic, what in _MAGIC if head.startswith(magic)), None)
    return f"; it looks like {kind}, not ONNX" if kind else ""


def _load_external_data(proto, path) -> None:
    """Read the weights that ``proto`` keeps in files next to ``path`` into the model.

    Exporters write large weights to separate files (``torch.onnx.export(...,
    dynamo=True)`` writes ``model.onnx.data``); a model copied without them
    cannot be read, and the error should say which files are missing and where.
    """
    from onnx.external_data_helper import ExternalDataInfo, load_external_data_for_model, uses_external_data

    folder = os.path.dirname(os.path.abspath(path))
    locations = dict.fromkeys(ExternalDataInfo(t).location for t in proto.graph.initializer if uses_external_data(t))
    missing = [loc for loc in locations if not os.path.isfile(os.path.join(folder, loc))]
    if missing:
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is not a readable ONNX model without the external data file(s) {missing} "
            f"that hold its weights, and they are not in {folder!r}; copy them next to the model file (or "
            "save the model with its weights inside: onnx.save_model(model, path, save_as_external_data=False))."
        )
    try:
        load_external_data_for_model(proto, folder)
    except Exception as exc:  # a truncated or foreign data file
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is not a readable ONNX model: its external data file(s) {list(locations)} "
            f"cannot be read ({exc}); copy them again from where the model was exported."
        ) from exc


def _stored_names(raw, n):
    """Names stored by :func:`save_onnx` in the metadata, or None if absent or unusable.

    Metadata is free text that other tools may write, so names that
    :class:`ReluNetwork` would refuse (not strings, empty, repeated) fall back to
    the defaults instead of making the file unreadable.
    """
    try:
        names = json.loads(raw) if raw else None
    except ValueError:
        return None
    usable = (isinstance(names, list) and len(names) == n and all(isinstance(v, str) and v for v in names)
              and len(set(names)) == n)
    return names if usable else None


class _Affine:
    """Pending affine map ``W a + b`` not yet closed by an activation."""

    def __init__(self, weights, bias, dense, name):
        self.weights, self.bias, self.dense, self.name = weights, bias, dense, name


class _GraphParser:
    """Walk a topologically sorted ONNX graph node by node along the data tensor.

    Nodes whose inputs are all constants (weight transposes, shape arithmetic)
    are evaluated with ``onnx.reference``; ``Shape`` of a data tensor yields its
    layout with the batch axis replaced by the marker ``BATCH_MARK``, which a
    later ``Reshape`` reads back as the batch axis.
    """

    def __init__(self, proto):
        from onnx import numpy_helper

        self.to_array = numpy_helper.to_array
        self.graph = proto.graph
        self.opset_import = list(proto.opset_import)
        self.opset = next(
            (o.version for o in proto.opset_import if o.domain in _STD_DOMAINS), _OPSET
        )
        self.node, self.index = None, -1
        self.consts = {t.name: self._tensor(t) for t in self.graph.initializer}
        for sparse in self.graph.sparse_initializer:
            self.consts[sparse.values.name] = self._sparse(sparse)
        self.consumers = {}
        for node in self.graph.node:
            if node.op_type == "Shape":  # reads only the layout of its input, not its values
                continue
            for name in node.input:
                self.consumers.setdefault(name, []).append(node.name or node.op_type)
        self.layers, self.pending, self.act_open = [], None, False
        self.layouts, self.batch_values = {}, {_MARK}  # batch_values: Reshape entries read as the batch
        self.vector = False  # the data tensor has no batch axis (a rank-1 graph input)

    # -- driver ----------------------------------------------------------
    def run(self):
        self.current, self.shape = self._graph_input()
        self.layouts[self.current] = self.shape
        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph has {len(outputs)} outputs {outputs}; expected exactly one "
                "(a single output tensor of shape [N, n_outputs]). A classifier exported with labels "
                "and probabilities is not a regression network; export the network up to its last "
                "dense layer, or remove the extra outputs."
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
                f"{[i.name for i in inputs]}; expected exactly one of shape [N, n_inputs].{self._weights_hint(inputs)}"
            )
        tensor_type = inputs[0].type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in tensor_type.shape.dim] if tensor_type.HasField("shape") else []
        if len(dims) == 1:
            return inputs[0].name, self._vector_input(inputs[0].name, dims[0])
        if len(dims) < 2 or None in dims[1:]:
            return inputs[0].name, (_N, self._first_dense_width(inputs[0].name))
        if dims[0] is not None:  # a batch size fixed at export may reappear in Reshape targets
            self.batch_values.add(dims[0])
        return inputs[0].name, (_N,) + tuple(dims[1:])

    def _weights_hint(self, inputs):
        """A fix for graph inputs that are weights: ``torch.onnx.export(..., export_params=False)``."""
        names = {i.name for i in inputs}
        weights = [name for node in self.graph.node for name in node.input[1:]
                   if name in names and node.op_type in ("Gemm", "MatMul", "BatchNormalization")]
        if not weights:
            return ""
        return (f" Inputs such as {weights[0]!r} are weights that the file does not hold: export again with "
                "them (torch.onnx.export(..., export_params=True), the default).")

    def _vector_input(self, name, dim):
        """Layout of a rank-1 input: one sample of ``dim`` features, or a batch of scalars."""
        width = self._first_dense_width(name, required=dim is None)
        if (dim is not None and width in (None, dim)) or (dim is None and width != 1):
            self.vector = True
            return (_N, dim if dim is not None else width)
        if dim is not None:
            self.batch_values.add(dim)
        return (_N,)

    def _first_dense_width(self, name, required=True):
        for node in self.graph.node:
            ins = list(node.input)
            if node.op_type == "Gemm" and len(ins) > 1 and ins[1] in self.consts:
                b = self.consts[ins[1]]
                if np.ndim(b) == 2:
                    return int(b.shape[1] if _attr(node, "transB", 0) else b.shape[0])
            if node.op_type == "MatMul" and len(ins) > 1:
                if ins[1] in self.consts and np.ndim(self.consts[ins[1]]) >= 1:
                    b = self.consts[ins[1]]
                    return int(b.shape[-2] if b.ndim > 1 else b.shape[0])
                if ins[0] in self.consts and ins[1] == name and np.ndim(self.consts[ins[0]]) == 2:
                    return int(self.consts[ins[0]].shape[1])
        if not required:
            return None
        raise UnsupportedOperatorError(
            f"load_onnx: the graph input {name!r} has no static feature size and no dense layer to "
            "infer it from; give the input a static shape [N, n_inputs] when exporting."
        )

    def _visit(self, node):
        if node.op_type == "Constant":
            self.consts[node.output[0]] = self._constant_value(node)
            return
        std = node.domain in _STD_DOMAINS
        if std and node.op_type == "Shape" and node.input[0] in self.layouts:
            self.consts[node.output[0]] = self._shape_of(node)
            return
        if not std and (node.domain, node.op_type) not in _ML_OPS:
            self._unsupported(f"operator domain {node.domain!r} is not the standard ONNX domain")
        data = [k for k, name in enumerate(node.input) if name and name not in self.consts]
        if not data:
            self._fold(node)
            return
        handler = _OPS.get(node.op_type)
        if handler is None:
            self._unsupported(_HINTS.get(node.op_type, "it has no translation into dense ReLU layers"))
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
        self.layouts[self.current] = self.shape

    # -- constants -------------------------------------------------------
    def _tensor(self, tensor):
        try:
            return self.to_array(tensor)
        except Exception as exc:  # external data not found, unknown data type, ...
            raise InvalidNetworkError(
                f"load_onnx: cannot read tensor {tensor.name!r} ({exc}). A model saved with external "
                "data must be loaded from its file path (load_onnx('model.onnx')) with the data files "
                "next to it."
            ) from exc

    def _sparse(self, sparse):
        values, indices = self._tensor(sparse.values), self._tensor(sparse.indices)
        dims = tuple(int(d) for d in sparse.dims)
        try:
            dense = np.zeros(int(np.prod(dims, dtype=np.int64)), dtype=values.dtype)
            flat = indices if indices.ndim == 1 else np.ravel_multi_index(tuple(indices.T), dims)
            dense[flat] = values
            return dense.reshape(dims)
        except (ValueError, IndexError) as exc:
            raise InvalidNetworkError(
                f"load_onnx: sparse tensor {sparse.values.name!r} has indices that do not fit its "
                f"shape {list(dims)} ({exc}); fix the model file."
            ) from exc

    def _constant_value(self, node):
        self.node = node
        a = {at.name: at for at in node.attribute}
        if "value" in a:
            return self._tensor(a["value"].t)
        if "sparse_value" in a:
            return self._sparse(a["sparse_value"].sparse_tensor)
        for key, field, dtype in (("value_float", "f", np.float32), ("value_floats", "floats", np.float32),
                                  ("value_int", "i", np.int64), ("value_ints", "ints", np.int64)):
            if key in a:
                return np.array(getattr(a[key], field), dtype=dtype)
        self._unsupported(f"Constant attributes {sorted(a)} are not numeric tensors")

    def _shape_of(self, node):
        if self.vector:
            self._unsupported("Shape of a rank-1 (unbatched) input is not read",
                              "Give the graph input a batch axis [N, n_inputs]. ")
        layout = self.layouts[node.input[0]]
        dims = [_MARK if d == _N else int(d) for d in layout]
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        return np.array(dims[start:end], dtype=np.int64)

    def _fold(self, node):
        """Evaluate a node whose inputs are all constants and store its outputs as constants."""
        if node.op_type.startswith("Random") or node.op_type in ("Multinomial", "Bernoulli"):
            self._unsupported("it draws random numbers, so the network would not be a fixed function")
        args = [self.consts[name] if name else None for name in node.input]
        marked = any(a is not None and np.asarray(a).dtype.kind in "iu" and np.any(np.asarray(a) == _MARK)
                     for a in args)
        if marked and node.op_type not in _SHAPE_OPS:
            self._unsupported(
                "it computes with the batch size (read by a Shape node)",
                "Export with a fixed feature layout, e.g. x.flatten(1) or x.reshape(-1, n_features). ",
            )
        try:
            outs = _evaluate(node, args, self.opset_import)
        except Exception as exc:  # the reference implementation rejects the node
            raise self._unsupported_error(
                f"it computes only from constants, and evaluating it failed ({exc})",
                "Fold constants before loading (e.g. onnx-simplifier). ",
            ) from exc
        for name, value in zip(node.output, outs):
            if name:
                self.consts[name] = np.asarray(value)

    # -- helpers ---------------------------------------------------------
    def _label(self):
        return f"'{self.node.name or '<unnamed>'}' (op_type {self.node.op_type}, node #{self.index})"

    def _unsupported_error(self, why, fix=""):
        return UnsupportedOperatorError(
            f"load_onnx: ONNX node {self._label()} is not supported: {why}. {fix}"
            f"Supported operators: {', '.join(SUPPORTED_OPS)}."
        )

    def _unsupported(self, why, fix=""):
        raise self._unsupported_error(why, fix)

    def _const(self, node, k, what):
        if len(node.input) <= k or not node.input[k]:
            return None
        if node.input[k] not in self.consts:
            self._unsupported(f"its {what} (input {k}) must be a constant, found tensor {node.input[k]!r}")
        return self.consts[node.input[k]]

    def _finite(self, value, what):
        """``value`` as float64, after checking it holds no NaN or Inf."""
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            self._unsupported(f"{what} is not numeric (dtype {np.asarray(value).dtype})")
        if not np.all(np.isfinite(arr)):
            raise InvalidNetworkError(
                f"load_onnx: node {self._label()}: {what} contains NaN or Inf; a trained network "
                "must have finite parameters - check the training run or the file."
            )
        return arr

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
        return np.broadcast_to(self._finite(const, what), probe).reshape(-1)

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
        unbounded = caps >= _FLOAT_MAX
        if np.all(unbounded):  # min(relu(z), inf) is relu(z)
            return
        if np.any(unbounded):
            self._unsupported(
                "the caps are infinite for some neurons and finite for others, which a layer cannot hold",
                "Replace the infinite caps by finite ones. ",
            )
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
    nodes.append(helper.make_node("Gemm", [current, w, b], [f"layer{k}.z"], name=f"layer{k}_gemm",
                                  alpha=1.0, beta=1.0, transA=0, transB=1))  # all explicit: some readers need them
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
