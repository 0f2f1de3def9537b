"""The graph walk behind :func:`~pyomo_relu.io.onnx.load_onnx` (pure: no Pyomo).

An ONNX graph is read node by node in topological order.  Each data tensor is an
affine function of the last closed layer's outputs: affine nodes (``Gemm``,
``Conv``, pools, normalisations) compose into it, activations close a
:class:`~pyomo_relu.network.DenseLayer` (carrying the tensors that later nodes
still read, see :mod:`._frontier`).  The operator tables live in
:mod:`._onnx_ops` (dense networks) and :mod:`._onnx_cnn_ops` (convolutional
ones); the layer building in :mod:`._onnx_build`.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidNetworkError, UnsupportedOperatorError
from ._frontier import Tensor
from ._onnx_build import LayerBuilder
from ._onnx_cnn_ops import CNN_OPS, MULTI_OPS
from ._onnx_ops import BATCH as _N
from ._onnx_ops import BATCH_MARK as _MARK
from ._onnx_ops import MAX_ELEMENTS
from ._onnx_ops import ML_OPS as _ML_OPS
from ._onnx_ops import OPS as _DENSE_OPS
from ._onnx_ops import SHAPE_OPS as _SHAPE_OPS
from ._onnx_ops import STD_DOMAINS as _STD_DOMAINS
from ._onnx_ops import attr as _attr
from ._onnx_ops import evaluate as _evaluate

_OPS = {**_DENSE_OPS, **CNN_OPS}
_MULTI_OPS = MULTI_OPS

#: every operator load_onnx reads (Constant is folded before the table is consulted)
SUPPORTED_OPS = tuple(sorted(set(_OPS) | set(_MULTI_OPS) | {"Constant"}))

#: the opset assumed when a graph does not name one for the standard domain
OPSET = 17

_SMOOTH = (
    "a smooth activation has no exact piecewise-linear form; retrain with ReLU (activation='relu')"
)
_HINTS = {
    "LeakyRelu": "a leaky ReLU has no zero piece; retrain with ReLU",
    "Tanh": _SMOOTH,
    "Sigmoid": _SMOOTH,
    "Softplus": _SMOOTH,
    "Elu": _SMOOTH,
    "Selu": _SMOOTH,
    "Gelu": _SMOOTH,
    "HardSigmoid": _SMOOTH,
    "Shape": "it reads the shape of a tensor that no earlier node computes from the input",
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


class GraphParser(LayerBuilder):
    """Walk a topologically sorted ONNX graph node by node.

    Every data tensor is an affine function of the last closed layer's outputs
    (:class:`._frontier.Tensor`); branches that meet again (residual ``Add``,
    ``Concat``) are carried across the layers closed in between as pass-through
    neurons.  Nodes whose inputs are all constants (weight transposes, shape
    arithmetic) are evaluated with ``onnx.reference``; ``Shape`` of a data
    tensor yields its layout with the batch axis replaced by the marker
    ``BATCH_MARK``, which a later ``Reshape`` reads back as the batch axis.
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
        self.consumers, self.readers, self.last_use = {}, set(), {}
        for i, node in enumerate(self.graph.node):
            self.readers.update(node.input)
            if node.op_type == "Shape":  # reads only the layout of its input, not its values
                continue
            for name in node.input:
                self.consumers.setdefault(name, []).append(node.name or node.op_type)
                self.last_use[name] = i
        self.layouts, self.batch_values = (
            {},
            {_MARK},
        )  # batch_values: Reshape entries read as the batch
        self.vector = False  # the data tensor has no batch axis (a rank-1 graph input)
        self.dropped_head = None  # the Softmax/LogSoftmax output node left out, if any
        self.dead = []  # (node, tensor) of data tensors that nothing reads
        LayerBuilder.__init__(self)

    # -- driver ----------------------------------------------------------
    def run(self):
        name, shape = self._graph_input()
        self.layouts[name] = shape
        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph has {len(outputs)} outputs {outputs}; expected exactly one "
                "(a single output tensor of shape [N, n_outputs]). A classifier exported with "
                "labels "
                "and probabilities is not a regression network; export the network up to its last "
                "dense layer, or remove the extra outputs."
            )
        self.output = outputs[0]
        self.last_use[self.output] = len(self.graph.node)
        self.shape = shape
        self.start(name, Tensor(None, None, shape), self.n_features)
        for index, node in enumerate(self.graph.node):
            self.index, self.node = index, node
            self._visit(node)
            self.forget(index)
        self.index += 1
        if self.dead:
            label, out = self.dead[0]
            raise UnsupportedOperatorError(
                f"load_onnx: the output {out!r} of node {label} is read by no node and is not "
                f"the graph output {self.output!r}; a dead branch usually means that the file "
                "lost an edge - export the network again, or remove the node (onnx-simplifier)."
            )
        result = self.tensors.get(self.output)
        if result is None:
            raise UnsupportedOperatorError(
                f"load_onnx: the graph output {self.output!r} is not computed from the input "
                f"{name!r} (it is {'a constant' if self.output in self.consts else 'never set'})."
            )
        self.finish(result)
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
        multi = len(data) > 1
        handler = (_MULTI_OPS if multi else _OPS).get(node.op_type)
        if handler is None:
            if multi and node.op_type in _OPS:
                self._check_reads(node, [node.input[k] for k in data])
                self._unsupported(
                    f"it reads {len(data)} data tensors {[node.input[k] for k in data]}; a "
                    f"{node.op_type} reads one data tensor, its other inputs (weights, bias, "
                    "parameters) must be constants (initializers)",
                    "Only Add, Sub and Concat combine two branches of the network; export with "
                    "the weights as initializers (export_params=True). ",
                )
            self._unsupported(
                _HINTS.get(node.op_type, "it has no translation into dense ReLU layers")
            )
        self._check_reads(node, [node.input[k] for k in data])
        extra = [
            o
            for o in node.output[1:]
            if o and (o in self.consumers or o in {g.name for g in self.graph.output})
        ]
        if extra:
            self._unsupported(
                f"its secondary outputs {extra} are used; only the first output may be"
            )
        out = node.output[0]
        if out not in self.readers and out != self.output:
            self.dead.append((self._label(), out))
        if multi:
            handler(self, node, data)
        else:
            self.cur = self.tensors[node.input[data[0]]].copy()
            self.shape = self.cur.shape
            handler(self, node, data[0])
            self.cur.shape = self.shape
        self.tensors[out] = self.cur
        self.current = out
        self.layouts[out] = self.cur.shape

    def _check_reads(self, node, reads):
        """Raise UnsupportedOperatorError unless every data tensor ``node`` reads is known."""
        undefined = [name for name in reads if name not in self.tensors]
        if undefined:
            raise UnsupportedOperatorError(
                f"load_onnx: node {self._label()} reads {undefined}, which no earlier node, "
                "initializer or graph input provides (a missing tensor, a cycle, or nodes not in "
                "topological order); export the network again, or sort its nodes topologically "
                "(onnx.utils / onnx-simplifier)."
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
