"""Read and write ReLU networks as ONNX graphs.

:func:`load_onnx` walks the ONNX graph with an explicit operator table and
returns an :class:`OnnxNetwork` (a :class:`~pyomo_relu.network.ReluNetwork`).
Affine nodes (``Gemm``, ``MatMul``, constant ``Add``/``Sub``/``Mul``/``Div``,
``BatchNormalization``, ``Conv``, ``AveragePool``) are composed into the layers'
affine maps, so ``MatMul`` + ``Add`` pairs and input/output normalisation fold
into the weights and convolutions stay sparse; activations (``Relu``,
``Clip(0, c)``, ``Max(x, 0)``, ``Min(relu, c)``) close a layer, and a
``MaxPool`` becomes exact ReLU layers.  Branches that meet again (residual
``Add``/``Sub``, ``Concat``) are carried across the layers in between as
pass-through neurons.  Every optional attribute is read with its ONNX
specification default.  Layout nodes (``Reshape``, ``Flatten``, ``Squeeze``,
``Unsqueeze``, ``Transpose``) keep the batch axis first.  The design is in
``docs/onnx.md``.

:func:`save_onnx` writes one ``Gemm(transB=1)`` per layer followed by ``Relu``,
``Clip(x, 0, c)`` (scalar cap) or ``Relu`` + ``Min(x, caps)`` (per-neuron caps).
"""

from __future__ import annotations

import errno
import json
import os

import numpy as np

from ..errors import InvalidNetworkError, ReluError
from ..network import ActivationKind, ReluNetwork
from ._onnx_build import LayerRecord
from ._onnx_cnn_ops import DroppedHeadWarning
from ._onnx_graph import OPSET as _OPSET
from ._onnx_graph import SUPPORTED_OPS, GraphParser
from ._onnx_ops import BATCH as _N
from ._onnx_ops import MAX_ELEMENTS as _MAX_ELEMENTS

__all__ = [
    "load_onnx",
    "save_onnx",
    "SUPPORTED_OPS",
    "OnnxNetwork",
    "LayerRecord",
    "DroppedHeadWarning",
]

_META_IN, _META_OUT = "pyomo_relu.input_names", "pyomo_relu.output_names"


# ---------------------------------------------------------------- loading
class OnnxNetwork(ReluNetwork):
    """A :class:`~pyomo_relu.network.ReluNetwork` read by :func:`load_onnx`.

    It is the same validated, frozen network (every consumer takes it as a
    ``ReluNetwork``), with two read-only facts about the import.  Networks
    derived from it (``with_layers``, reductions) are plain ``ReluNetwork``
    objects: the facts describe the file, not the derived network.

    Attributes
    ----------
    dropped_head : str or None
        ``"Softmax"`` or ``"LogSoftmax"`` when the graph's last node was that
        classifier head and was left out (the network outputs the logits; the
        argmax is the same); None otherwise.
    lowering : tuple of LayerRecord
        Per layer: its name (the ONNX operator and node it comes from, e.g.
        ``"layer 2 (MaxPool '/pool/MaxPool' level 1)"``), its width and how many
        of its neurons only pass a tensor through for a later node (residual
        branches).
    """

    def __init__(
        self, layers, *, input_names=None, output_names=None, dropped_head=None, lowering=()
    ):
        super().__init__(layers, input_names=input_names, output_names=output_names)
        self.dropped_head = dropped_head
        self.lowering = tuple(lowering)


def load_onnx(model, *, input_names=None, output_names=None) -> ReluNetwork:
    """Load a ReLU network (dense, convolutional, residual) from an ONNX file or ``ModelProto``.

    Parameters
    ----------
    model : str, os.PathLike, bytes or onnx.ModelProto
        Path of a ``.onnx`` file, its serialised bytes, or a loaded model.
    input_names, output_names : sequence of str, optional
        Names of the input features / outputs.  Default: the names stored by
        :func:`save_onnx`, else ``x0, x1, ...`` / ``y0, y1, ...``.

    Returns
    -------
    OnnxNetwork
        A :class:`~pyomo_relu.network.ReluNetwork` with weights converted to
        float64 (sparse where a convolution or pool made them so), plus
        ``dropped_head`` and ``lowering`` (what each layer stands for).

    Warns
    -----
    DroppedHeadWarning
        The graph ends in a ``Softmax``/``LogSoftmax``, which is left out: the
        network outputs the logits.

    Raises
    ------
    FileNotFoundError
        ``model`` is a path that does not exist.
    UnsupportedOperatorError
        A node is not in :data:`SUPPORTED_OPS` or has unsupported attributes,
        the graph has not one input and one output, a node reads a tensor
        that no earlier node computes, or a node's output is read by nothing.
    InvalidNetworkError, ShapeMismatchError
        NaN/Inf weights, or weights that do not chain.
    """
    proto = _read_model(model)
    parser = GraphParser(proto)
    layers = parser.run()
    meta = {p.key: p.value for p in proto.metadata_props}
    n_in, n_out = layers[0].n_in, layers[-1].n_out
    if input_names is None:
        input_names = _stored_names(meta.get(_META_IN), n_in)
    if output_names is None:
        output_names = _stored_names(meta.get(_META_OUT), n_out)
    try:
        return OnnxNetwork(
            layers,
            input_names=input_names,
            output_names=output_names,
            dropped_head=parser.dropped_head,
            lowering=parser.records,
        )
    except ReluError as exc:  # e.g. weights that overflow to Inf once composed
        raise _prefixed(exc) from exc


def _prefixed(exc):
    """``exc`` with ``load_onnx:`` in front of its message, same type (itself if impossible)."""
    try:
        return type(exc)(f"load_onnx: {exc}")
    except TypeError:  # pragma: no cover - an error type with another signature
        return exc


def _read_model(model):
    import onnx

    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray)):
        try:
            return onnx.load_model_from_string(bytes(model))
        except Exception as exc:  # protobuf DecodeError
            raise InvalidNetworkError(
                f"load_onnx: the bytes are not a serialised ONNX model ({exc})."
            ) from exc
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(
            f"load_onnx: expected a path, bytes or onnx.ModelProto, found {type(model).__name__}."
        )
    path = os.fspath(model)
    if not os.path.isfile(path):
        raise FileNotFoundError(errno.ENOENT, f"load_onnx: no ONNX file at {path!r}", path)
    if os.path.getsize(path) == 0:  # protobuf parses an empty file as an empty model
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is empty (0 bytes); expected an ONNX model - export the "
            "network again (e.g. torch.onnx.export or pyomo_relu.save_onnx)."
        )
    try:
        proto = onnx.load(
            path, load_external_data=False
        )  # external data next: its errors need their own fix
    except PermissionError:
        raise PermissionError(
            errno.EACCES,
            f"load_onnx: {path!r} cannot be read (permission denied); make it "
            "readable (chmod +r) or load a copy you can read",
            path,
        ) from None
    except Exception as exc:  # protobuf raises DecodeError
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is not a readable ONNX model ({exc}){_file_kind_hint(path)}; "
            "pass a model "
            "exported to ONNX (torch.onnx.export, skl2onnx or pyomo_relu.save_onnx)."
        ) from exc
    if not proto.graph.node:
        raise InvalidNetworkError(
            f"load_onnx: {path!r} holds no graph nodes; is it an ONNX model file?"
        )
    _load_external_data(proto, path)
    return proto


#: leading bytes of files that users mistake for ONNX models
_MAGIC = (
    (b"PK\x03\x04", "a zip archive, such as a PyTorch checkpoint written by torch.save"),
    (b"\x80", "a Python pickle, such as a model written by torch.save or joblib"),
    (b"\x89HDF", "an HDF5 file, such as a Keras model"),
)


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
    from onnx.external_data_helper import (
        ExternalDataInfo,
        load_external_data_for_model,
        uses_external_data,
    )

    folder = os.path.dirname(os.path.abspath(path))
    locations = dict.fromkeys(
        ExternalDataInfo(t).location for t in proto.graph.initializer if uses_external_data(t)
    )
    missing = [loc for loc in locations if not os.path.isfile(os.path.join(folder, loc))]
    if missing:
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is not a readable ONNX model without the external data file(s) "
            f"{missing} "
            f"that hold its weights, and they are not in {folder!r}; copy them next to the model "
            "file (or "
            "save the model with its weights inside: onnx.save_model(model, path, "
            "save_as_external_data=False))."
        )
    try:
        load_external_data_for_model(proto, folder)
    except Exception as exc:  # a truncated or foreign data file
        raise InvalidNetworkError(
            f"load_onnx: {path!r} is not a readable ONNX model: its external data file(s) "
            f"{list(locations)} "
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
    usable = (
        isinstance(names, list)
        and len(names) == n
        and all(isinstance(v, str) and v for v in names)
        and len(set(names)) == n
    )
    return names if usable else None


# ----------------------------------------------------------------- saving
def save_onnx(net: ReluNetwork, path=None, *, dtype: str = "float64"):
    """Write a network as an ONNX graph that :func:`load_onnx` reads back exactly.

    Layer ``k`` becomes ``Gemm(transB=1)`` with initializers ``layer{k}.weight``
    (n_out, n_in; a sparse layer, such as a lowered convolution, is written as
    a dense matrix, which suits small networks only) and ``layer{k}.bias``,
    followed by ``Relu``, ``Clip(x, 0, c)``
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
    types = {
        "float64": (np.float64, TensorProto.DOUBLE),
        "float32": (np.float32, TensorProto.FLOAT),
    }
    if dtype not in types:
        raise ValueError(f"save_onnx: dtype must be one of {sorted(types)}, found {dtype!r}.")
    np_type, elem = types[dtype]
    entries = sum(layer.n_out * layer.n_in for layer in net.layers)
    if entries > _MAX_ELEMENTS:
        raise ValueError(
            f"save_onnx: the network's layers written as dense Gemm weights would hold "
            f"{entries:,} values, more than {_MAX_ELEMENTS:,}; save_onnx writes every layer "
            "(sparse ones included) as a dense Gemm, which suits small networks only - keep "
            "the original ONNX file of a large convolutional network instead."
        )
    nodes, inits, current = [], [], "input"

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=np_type), name))
        return name

    for k, layer in enumerate(net.layers):
        current = _layer_nodes(k, layer, current, nodes, const)
    nodes[-1].output[0] = "output"
    graph = helper.make_graph(
        nodes,
        "pyomo_relu_network",
        [helper.make_tensor_value_info("input", elem, [_N, net.n_inputs])],
        [helper.make_tensor_value_info("output", elem, [_N, net.n_outputs])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", _OPSET)],
        producer_name="pyomo_relu",
        ir_version=8,
    )
    helper.set_model_props(
        model,
        {
            _META_IN: json.dumps(list(net.input_names)),
            _META_OUT: json.dumps(list(net.output_names)),
        },
    )
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save_model(model, os.fspath(path))
    return model


def _layer_nodes(k, layer, current, nodes, const):
    """Append the nodes of layer ``k`` reading tensor ``current``; return its output tensor name."""
    from onnx import helper

    w = const(f"layer{k}.weight", layer.dense_weights())  # a sparse layer is written dense
    b = const(f"layer{k}.bias", layer.bias)
    nodes.append(
        helper.make_node(
            "Gemm",
            [current, w, b],
            [f"layer{k}.z"],
            name=f"layer{k}_gemm",
            alpha=1.0,
            beta=1.0,
            transA=0,
            transB=1,
        )
    )  # all explicit: some readers need them
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
