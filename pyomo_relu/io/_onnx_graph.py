"""The graph walk behind :func:`~pyomo_relu.io.onnx.load_onnx` (pure: no Pyomo).

A sequential ONNX graph is read node by node along its data tensor: affine
nodes are composed into a pending affine map, and activations close it into a
:class:`~pyomo_relu.network.DenseLayer`.  The operator table lives in
:mod:`._onnx_ops`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidNetworkError, ShapeMismatchError, UnsupportedOperatorError
from ..network import Activation, ActivationKind, DenseLayer
from ._onnx_ops import _FLOAT_MAX, MAX_ELEMENTS
from ._onnx_ops import BATCH as _N
from ._onnx_ops import BATCH_MARK as _MARK
from ._onnx_ops import ML_OPS as _ML_OPS
from ._onnx_ops import OPS as _OPS
from ._onnx_ops import SHAPE_OPS as _SHAPE_OPS
from ._onnx_ops import STD_DOMAINS as _STD_DOMAINS
from ._onnx_ops import attr as _attr
from ._onnx_ops import evaluate as _evaluate

#: every operator load_onnx reads (Constant is folded before the table is consulted)
SUPPORTED_OPS = tuple(sorted(set(_OPS) | {"Constant"}))

#: the opset assumed when a graph does not name one for the standard domain
OPSET = 17

_SMOOTH = (
    "a smooth activation has no exact piecewise-linear form; retrain with ReLU (activation='relu')"
)
_HINTS = {
    "LeakyRelu": "a leaky ReLU has no zero piece; retrain with ReLU",
    "Conv": "convolutions are not dense layers; flatten the network into Gemm layers first",
    "Tanh": _SMOOTH,
    "Sigmoid": _SMOOTH,
    "Softplus": _SMOOTH,
    "Elu": _SMOOTH,
    "Selu": _SMOOTH,
    "Gelu": _SMOOTH,
    "HardSigmoid": _SMOOTH,
    "Shape": "it reads the shape of a tensor off the single chain from the input to the output",
    "Softmax": "a softmax output belongs to a classifier; export the network up to its logits",
    "LogSoftmax": "a softmax output belongs to a classifier; export the network up to its logits",
}


def _check_single_assignment(graph) -> None:
    """Raise InvalidNetworkError when a tensor name is defined twice.

    ONNX names every tensor once; with two initializers of one name (or a node
    writing a name already taken) readers disagree on which one counts, so the
    file has no single meaning.
    """
    seen = {}
    defs = [(t.name, "an initializer") for t in graph.initializer]
    defs += [(t.values.name, "a sparse initializer") for t in graph.sparse_initializer]
    defs += [
        (out, f"node {node.name or '<unnamed>'!r} (op_type {node.op_type}, node #{i})")
        for i, node in enumerate(graph.node)
        for out in node.output
        if out
    ]
    inputs = {i.name for i in graph.input}
    for name, where in defs:
        if name in seen or (name in inputs and not where.endswith("initializer")):
            first = seen.get(name, "the graph input")
            raise InvalidNetworkError(
                f"load_onnx: tensor {name!r} is defined twice, by {first} and by {where}; an "
                "ONNX graph names each tensor once - export the model again or rename one of "
                "them."
            )
        seen[name] = where


def _size(dims) -> int:
    """Number of values of a tensor of shape ``dims``, as an exact Python integer."""
    size = 1
    for d in dims:
        size *= max(int(d), 0)
    return size


def _folded_size(node, args) -> int:
    """Values that folding ``node`` on the constants ``args`` would create, for the operators
    whose output size is set by the values (not the size) of an input; 0 for the others."""
    try:
        if node.op_type == "ConstantOfShape" and args and args[0] is not None:
            return _size(np.ravel(args[0]))
        if node.op_type == "Expand" and len(args) > 1 and args[1] is not None:
            return max(_size(np.ravel(args[1])), np.size(args[0]))
        if node.op_type == "Tile" and len(args) > 1 and args[1] is not None:
            return np.size(args[0]) * _size(np.ravel(args[1]))
        if node.op_type == "Range" and len(args) == 3 and all(a is not None for a in args):
            start, limit, delta = (float(np.ravel(a)[0]) for a in args)
            return int(np.ceil((limit - start) / delta)) if delta else 0
    except (TypeError, ValueError, IndexError, OverflowError):  # evaluation reports these
        return 0
    return 0


class _Affine:
    """Pending affine map ``W a + b`` not yet closed by an activation."""

    def __init__(self, weights, bias, dense, name):
        self.weights, self.bias, self.dense, self.name = weights, bias, dense, name


class GraphParser:
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
            (o.version for o in proto.opset_import if o.domain in _STD_DOMAINS), OPSET
        )
        self.node, self.index = None, -1
        _check_single_assignment(self.graph)
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
        self.layouts, self.batch_values = (
            {},
            {_MARK},
        )  # batch_values: Reshape entries read as the batch
        self.vector = False  # the data tensor has no batch axis (a rank-1 graph input)

    # -- driver ----------------------------------------------------------
    def run(self):
        self.current, self.shape = self._graph_input()
        self.layouts[self.current] = self.shape
        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph has {len(outputs)} outputs {outputs}; expected exactly one "
                "(a single output tensor of shape [N, n_outputs]). A classifier exported with "
                "labels "
                "and probabilities is not a regression network; export the network up to its last "
                "dense layer, or remove the extra outputs."
            )
        for index, node in enumerate(self.graph.node):
            self.index, self.node = index, node
            self._visit(node)
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
                f"{[i.name for i in inputs]}; expected exactly one of shape [N, "
                f"n_inputs].{self._weights_hint(inputs)}"
            )
        tensor_type = inputs[0].type.tensor_type
        dims = (
            [d.dim_value if d.HasField("dim_value") else None for d in tensor_type.shape.dim]
            if tensor_type.HasField("shape")
            else []
        )
        if len(dims) == 1:
            return inputs[0].name, self._vector_input(inputs[0].name, dims[0])
        if len(dims) < 2 or None in dims[1:]:
            return inputs[0].name, (_N, self._first_dense_width(inputs[0].name))
        if dims[0] is not None:  # a batch size fixed at export may reappear in Reshape targets
            self.batch_values.add(dims[0])
        return inputs[0].name, (_N,) + tuple(dims[1:])

    def _weights_hint(self, inputs):
        """A fix for graph inputs that are weights: ``torch.onnx.export(...,
        export_params=False)``."""
        names = {i.name for i in inputs}
        weights = [
            name
            for node in self.graph.node
            for name in node.input[1:]
            if name in names and node.op_type in ("Gemm", "MatMul", "BatchNormalization")
        ]
        if not weights:
            return ""
        return (
            f" Inputs such as {weights[0]!r} are weights that the file does not hold: export "
            "again with "
            "them (torch.onnx.export(..., export_params=True), the default)."
        )

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
            self._unsupported(
                _HINTS.get(node.op_type, "it has no translation into dense ReLU layers")
            )
        self._check_chain(node, [node.input[k] for k in data])
        extra = [
            o
            for o in node.output[1:]
            if o and (o in self.consumers or o in {g.name for g in self.graph.output})
        ]
        if extra:
            self._unsupported(
                f"its secondary outputs {extra} are used; only the first output may be"
            )
        handler(self, node, data[0])
        self.current = node.output[0]
        self.layouts[self.current] = self.shape

    def _check_chain(self, node, reads):
        """Raise UnsupportedOperatorError unless ``node`` reads only the chain's data tensor,
        which feeds no other node."""
        undefined = [
            name
            for name in reads
            if name not in self.layouts and name not in {i.name for i in self.graph.input}
        ]
        if undefined:
            why = (
                f"reads {undefined}, which no earlier node, initializer or graph input provides "
                "(a missing tensor, a cycle, or nodes not in topological order)"
            )
        elif len(reads) > 1 or reads[0] != self.current:
            why = f"reads {reads}, which branch off the chain (its data tensor is {self.current!r})"
        elif len(self.consumers[self.current]) > 1:
            why = f"shares its input {self.current!r} with {self.consumers[self.current]}"
        else:
            return
        raise UnsupportedOperatorError(
            f"load_onnx: the graph is not a single chain from the input to the output: node "
            f"{self._label()} {why}; only sequential networks are supported - export the network "
            "again, or sort its nodes topologically (onnx.utils / onnx-simplifier)."
        )

    # -- constants -------------------------------------------------------
    def _tensor(self, tensor):
        from onnx import TensorProto

        try:
            return self.to_array(tensor)
        except Exception as exc:  # external data not found, unknown data type, ...
            if tensor.data_location == TensorProto.EXTERNAL:
                fix = (
                    "A model saved with external data must be loaded from its file path "
                    "(load_onnx('model.onnx')) with the data files next to it."
                )
            else:
                kind = {v: k for k, v in TensorProto.DataType.items()}.get(
                    tensor.data_type, f"unknown type {tensor.data_type}"
                )
                fix = (
                    f"Its data type ({kind}) or its "
                    f"declared dims {list(tensor.dims)} do not match the data it holds: the file "
                    "is damaged or was written by a faulty exporter - export the model again."
                )
            raise InvalidNetworkError(
                f"load_onnx: cannot read tensor {tensor.name!r} ({exc}). {fix}"
            ) from exc

    def _sparse(self, sparse):
        values, indices = self._tensor(sparse.values), self._tensor(sparse.indices)
        dims = tuple(int(d) for d in sparse.dims)
        if any(d < 0 for d in dims) or _size(dims) > MAX_ELEMENTS:
            raise InvalidNetworkError(
                f"load_onnx: sparse tensor {sparse.values.name!r} declares the shape {list(dims)}, "
                f"more than {MAX_ELEMENTS:,} values (or a negative size); a dense ReLU network "
                "this large cannot be optimized over - fix the model file."
            )
        try:
            dense = np.zeros(_size(dims), dtype=values.dtype)
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
        for key, field, dtype in (
            ("value_float", "f", np.float32),
            ("value_floats", "floats", np.float32),
            ("value_int", "i", np.int64),
            ("value_ints", "ints", np.int64),
        ):
            if key in a:
                return np.array(getattr(a[key], field), dtype=dtype)
        self._unsupported(f"Constant attributes {sorted(a)} are not numeric tensors")

    def _shape_of(self, node):
        if self.vector:
            self._unsupported(
                "Shape of a rank-1 (unbatched) input is not read",
                "Give the graph input a batch axis [N, n_inputs]. ",
            )
        layout = self.layouts[node.input[0]]
        dims = [_MARK if d == _N else int(d) for d in layout]
        start, end = _attr(node, "start", 0), _attr(node, "end", None)
        return np.array(dims[start:end], dtype=np.int64)

    def _fold(self, node):
        """Evaluate a node whose inputs are all constants and store its outputs as constants."""
        if node.op_type.startswith("Random") or node.op_type in ("Multinomial", "Bernoulli"):
            self._unsupported(
                "it draws random numbers, so the network would not be a fixed function"
            )
        args = [self.consts[name] if name else None for name in node.input]
        marked = any(
            a is not None and np.asarray(a).dtype.kind in "iu" and np.any(np.asarray(a) == _MARK)
            for a in args
        )
        if marked and node.op_type not in _SHAPE_OPS:
            self._unsupported(
                "it computes with the batch size (read by a Shape node)",
                "Export with a fixed feature layout, e.g. x.flatten(1) or x.reshape(-1, "
                "n_features). ",
            )
        size = _folded_size(node, args)
        if size > MAX_ELEMENTS:
            self._unsupported(
                f"it computes from constants a tensor of {size:,} values, more than "
                f"{MAX_ELEMENTS:,}",
                "Check the shape it is given. ",
            )
        try:
            outs = _evaluate(node, args, self.opset_import)
        except Exception as exc:  # the reference implementation rejects the node
            names = [name for name in node.input if name]
            raise self._unsupported_error(
                f"it reads only constants ({names}), not the data tensor {self.current!r}, and "
                f"evaluating it failed ({exc})",
                "If it should read the data tensor, the model file lost that input; export it "
                "again. Otherwise fold the constants before loading (e.g. onnx-simplifier). ",
            ) from exc
        for name, value in zip(node.output, outs):
            if name:
                self.consts[name] = np.asarray(value)

    # -- helpers ---------------------------------------------------------
    def _label(self):
        return (
            f"'{self.node.name or '<unnamed>'}' (op_type {self.node.op_type}, node #{self.index})"
        )

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
            self._unsupported(
                f"its {what} (input {k}) must be a constant, found tensor {node.input[k]!r}"
            )
        return self.consts[node.input[k]]

    def _real(self, value, what):
        """``value`` as float64, after checking it holds real numbers (not complex, not text)."""
        dtype = np.asarray(value).dtype
        if dtype.kind not in "biuf":
            self._unsupported(
                f"{what} has dtype {dtype}, expected real numbers (a float tensor)",
                "Store the tensor as float32 or float64. ",
            )
        return np.asarray(value, dtype=np.float64)

    def _finite(self, value, what):
        """``value`` as float64, after checking it holds real numbers and no NaN or Inf."""
        arr = self._real(value, what)
        if not np.all(np.isfinite(arr)):
            raise InvalidNetworkError(
                f"load_onnx: node {self._label()}: {what} contains NaN or Inf; a trained network "
                "must have finite parameters - check the training run or the file."
            )
        return arr

    @property
    def n_features(self):
        return _size(d for d in self.shape if d != _N)

    def _require_matrix(self):
        if len(self.shape) != 2:
            self._unsupported(
                f"it needs an [N, features] input, the tensor has layout {list(self.shape)}"
            )

    def _per_feature(self, const, what):
        """Broadcast a constant against one sample (batch axis 1); return it per feature."""
        if self.n_features > MAX_ELEMENTS:
            self._unsupported(
                f"the tensor of layout {list(self.shape)} has {self.n_features:,} features, more "
                f"than {MAX_ELEMENTS:,}",
                "Check the declared shape of the graph input. ",
            )
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
                "(Gemm reads B as (n_in, n_out) unless transB=1; check the exporter or the "
                "weights)."
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
            self.pending = _Affine(
                self._eye(n), np.zeros(n), False, self.node.name or f"node{self.index}"
            )
        p = self.pending
        p.weights, p.bias = scale[:, None] * p.weights, scale * p.bias + shift
        self.act_open = False

    def _eye(self, n):
        """The identity map on ``n`` features, refused when it cannot be held as a dense layer."""
        if n * n > MAX_ELEMENTS:
            self._unsupported(
                f"it acts on {n:,} features without a dense layer before it, which would need "
                f"an identity layer of {n:,} x {n:,} weights",
                "Check the declared shape of the graph input. ",
            )
        return np.eye(n)

    def _close(self, activation):
        p = self.pending
        if p is None:  # activation right after another activation or the input
            n = self.n_features
            p = _Affine(self._eye(n), np.zeros(n), False, self.node.name or f"node{self.index}")
        k = len(self.layers)
        self.layers.append(
            DenseLayer(p.weights, p.bias, activation, name=f"layer {k} (ONNX node {p.name!r})")
        )
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
                "the caps are infinite for some neurons and finite for others, which a layer "
                "cannot hold",
                "Replace the infinite caps by finite ones. ",
            )
        if np.any(caps <= 0):
            self._unsupported(f"the cap must be > 0, found {caps.min()}")
        old_scalar = (
            last.activation.kind is not ActivationKind.CLIPPED_RELU
            or np.ndim(last.activation.cap) == 0
        )
        cap = float(caps[0]) if scalar and old_scalar else tuple(caps)
        self.layers[-1] = DenseLayer(
            last.weights, last.bias, Activation.CLIPPED_RELU(cap), name=last._name
        )
