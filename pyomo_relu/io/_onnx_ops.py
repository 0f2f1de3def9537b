"""Operator table of :func:`pyomo_relu.io.load_onnx`.

Each handler ``handler(parser, node, k)`` translates one ONNX node whose data
input (the tensor flowing from the graph input) is ``node.input[k]``.  The
parser tracks the data tensor's layout as a tuple whose first entry is the
symbolic batch axis ``BATCH`` and whose other entries are the feature
dimensions; the features are that layout flattened in row-major order.
Optional attributes are read with their ONNX specification defaults.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InvalidNetworkError
from ..network import Activation

__all__ = ["BATCH", "BATCH_MARK", "ML_OPS", "OPS", "SHAPE_OPS", "STD_DOMAINS", "attr", "evaluate"]

BATCH = "N"
BATCH_MARK = 2_147_483_629  # stands for the batch size in shape tensors (a prime below 2**31)
STD_DOMAINS = ("", "ai.onnx")
ML_OPS = {("ai.onnx.ml", "Scaler")}
# Constant-only operators that may carry BATCH_MARK without computing with its value.
SHAPE_OPS = {
    "Gather",
    "Unsqueeze",
    "Squeeze",
    "Concat",
    "Slice",
    "Identity",
    "Cast",
    "Reshape",
    "Flatten",
}
#: the most values a tensor read or built by load_onnx may have (800 MB of float64): declared
#: dimensions beyond it (a file that claims 10**12 features) are refused before allocating
MAX_ELEMENTS = 10**8
_FLOAT_MAX = 3.4028234663852886e38  # Clip's default min/max before opset 11
_FLOAT_TYPES = {1: "FLOAT", 10: "FLOAT16", 11: "DOUBLE", 16: "BFLOAT16"}


def attr(node, name, default):
    """Value of attribute ``name`` of ``node``, or ``default`` (the ONNX spec default) when
    absent."""
    from onnx import helper

    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def evaluate(node, args, opset_import):
    """Outputs of ``node`` on the constant arrays ``args`` (None for omitted inputs), by
    ``onnx.reference``."""
    from onnx import helper
    from onnx.reference import ReferenceEvaluator

    names = [f"in{k}" if a is not None else "" for k, a in enumerate(args)]
    outs = [f"out{k}" if o else "" for k, o in enumerate(node.output)]
    single = helper.make_node(node.op_type, names, outs, domain=node.domain)
    single.attribute.extend(node.attribute)
    graph = helper.make_graph(
        [single],
        "fold",
        [helper.make_empty_tensor_value_info(n) for n in names if n],
        [helper.make_empty_tensor_value_info(o) for o in outs if o],
    )
    model = helper.make_model(graph, opset_imports=opset_import)
    feeds = {n: np.asarray(a) for n, a in zip(names, args) if n}
    results = iter(ReferenceEvaluator(model).run(None, feeds))
    return [next(results) if o else None for o in outs]


def _scalar(p, value, what):
    arr = p._real(value, what)
    if arr.size != 1:
        p._unsupported(f"{what} must be a scalar, found shape {list(arr.shape)}")
    if np.isnan(arr).any():
        raise InvalidNetworkError(
            f"load_onnx: node {p._label()}: its {what} is NaN; fix the model file."
        )
    return float(arr.reshape(-1)[0])


def _first_input_only(p, k, form):
    if k != 0:
        p._unsupported(f"the data tensor must be the first input ({form})")


# ------------------------------------------------------------ dense layers
def _gemm(p, node, k):
    """``Y = alpha * A' B' + beta * C`` with A the data, B (and C) constants."""
    _first_input_only(p, k, "A in alpha*A*B + beta*C")
    if attr(node, "transA", 0):
        p._unsupported("transA=1 transposes the batch axis into the features")
    p._require_matrix()
    b = p._const(node, 1, "weight B")
    if b is None or np.ndim(b) != 2:
        p._unsupported(f"weight B must be a 2-D constant, found shape {list(np.shape(b))}")
    b = p._finite(b, "weight B")
    if attr(node, "transB", 0):
        b = b.T
    alpha, beta = (
        float(p._finite(attr(node, name, 1.0), name).reshape(-1)[0]) for name in ("alpha", "beta")
    )
    weights = alpha * b.T  # (n_out, n_in)
    n_out = weights.shape[0]
    c = p._const(node, 2, "bias C")
    bias = np.zeros(n_out)
    if c is not None:
        try:
            ok = np.broadcast_shapes(np.shape(c), (1, n_out)) == (1, n_out)
        except ValueError:
            ok = False
        if not ok:
            p._unsupported(
                f"bias C of shape {list(np.shape(c))} does not broadcast to [1, {n_out}]"
            )
        bias = beta * np.broadcast_to(p._finite(c, "bias C"), (1, n_out))[0]
    p._push_dense(weights, bias)
    p.shape = (BATCH, n_out)


def _matmul(p, node, k):
    """``Y = X B`` with B a constant (n_in, n_out) matrix or (n_in,) vector.

    X may carry extra axes ``[N, d_1, ..., d_r, n_in]``: B then acts on every
    row, a block-diagonal dense layer on the flattened features.  For a
    rank-1 (unbatched) input, ``Y = A x`` with A a constant (n_out, n_in)
    matrix is read as well.
    """
    if k == 1 and p.vector and len(p.shape) == 2:
        a = p._const(node, 0, "weight A")
        if np.ndim(a) != 2:
            p._unsupported(
                f"weight A in A @ x must be a 2-D constant, found shape {list(np.shape(a))}"
            )
        weights = p._finite(a, "weight A")
        p._push_dense(weights, np.zeros(weights.shape[0]))
        p.shape = (BATCH, weights.shape[0])
        return
    _first_input_only(p, k, "X in X @ B; the weight must be the second operand")
    if len(p.shape) < 2:
        p._unsupported(
            f"it needs an [N, ..., features] input, the tensor has layout {list(p.shape)}"
        )
    b = p._const(node, 1, "weight B")
    if np.ndim(b) not in (1, 2):
        p._unsupported(f"weight B must be a 1-D or 2-D constant, found shape {list(np.shape(b))}")
    b = p._finite(b, "weight B")
    block = b[None, :] if b.ndim == 1 else b.T
    rows = math.prod(int(d) for d in p.shape[1:-1])
    if rows * rows * block.size > MAX_ELEMENTS:
        p._unsupported(
            f"applied to each of the {rows:,} rows of layout {list(p.shape)}, its weight of shape "
            f"{list(b.shape)} makes a dense layer of more than {MAX_ELEMENTS:,} weights",
            "Flatten the input to [N, features] before the MatMul. ",
        )
    weights = block if rows == 1 else np.kron(np.eye(rows), block)
    n_in = p.shape[-1]
    if block.shape[1] != n_in:
        p._unsupported(
            f"weight B of shape {list(b.shape)} does not match the {n_in} features of the last "
            "axis "
            f"of layout {list(p.shape)}"
        )
    p._push_dense(weights, np.zeros(weights.shape[0]))
    p.shape = p.shape[:-1] if b.ndim == 1 else p.shape[:-1] + (block.shape[0],)


def _elementwise(p, node, k):
    """Constant Add/Sub/Mul/Div: a per-feature affine map folded into the adjacent weights."""
    c = p._const(node, 1 - k, "constant operand")
    c = p._per_feature(c, "the constant operand")
    one, zero = np.ones_like(c), np.zeros_like(c)
    op = node.op_type
    if op == "Add":
        scale, shift = one, c
    elif op == "Sub":
        scale, shift = (one, -c) if k == 0 else (-one, c)
    elif op == "Mul":
        scale, shift = c, zero
    else:  # Div
        _first_input_only(p, k, "x / c; c / x is not affine")
        if np.any(c == 0):
            raise InvalidNetworkError(
                f"load_onnx: node {p._label()} divides by a constant containing 0; "
                "fix the normalisation constants (e.g. a zero standard deviation)."
            )
        scale, shift = 1.0 / c, zero
    p._push_diag(scale, shift)


def _batchnorm(p, node, k):
    """BatchNormalization in inference mode: ``scale (x - mean) / sqrt(var + eps) + B`` per
    feature."""
    _first_input_only(p, k, "BatchNormalization(x, scale, B, mean, var)")
    if attr(node, "training_mode", 0) or len([o for o in node.output if o]) > 1:
        p._unsupported(
            "only inference-mode BatchNormalization (one output, training_mode=0) is a fixed "
            "affine map",
            "Export the model in eval mode (model.eval()) before torch.onnx.export. ",
        )
    consts = [
        p._const(node, i, name)
        for i, name in enumerate(("", "scale", "bias B", "mean", "variance"))
        if i > 0
    ]
    if any(c is None for c in consts):
        p._unsupported("it needs constant scale, B, mean and variance inputs")
    if len(p.shape) > 2:  # the statistics are per channel, axis 1 of [N, C, d_1, ...]
        consts = [np.reshape(c, (-1,) + (1,) * (len(p.shape) - 2)) for c in consts]
    gamma, beta, mean, var = (
        p._per_feature(p._real(c, "a statistics vector"), "a statistics vector") for c in consts
    )
    eps = float(attr(node, "epsilon", 1e-5))
    if np.any(var + eps <= 0):
        raise InvalidNetworkError(
            f"load_onnx: node {p._label()} has variance + epsilon <= 0; the model is broken."
        )
    scale = gamma / np.sqrt(var + eps)
    p._push_diag(scale, beta - mean * scale)


# ------------------------------------------------------------- activations
def _relu(p, node, k):
    """``Relu`` closes a layer, except on values already known to be >= 0 (a sum of ReLU
    outputs, a max pool of them), where it is the identity.  Right after a ReLU layer it still
    closes one (an identity layer), as a graph of two ReLUs in a row reads."""
    if not p.act_open and p.data_nonnegative():
        return
    p._activate(Activation.RELU)


def _clip(p, node, k):
    """``Clip(x, 0, c)`` is a clipped ReLU and ``Clip(x, 0)`` a ReLU.

    Right after a (clipped) ReLU, ``Clip(x, lo, c)`` with ``lo <= 0`` (or no
    ``lo``) only caps that activation at ``c``; so it does for any ``x >= 0``.
    """
    _first_input_only(p, k, "Clip(x, min, max)")
    if p.opset < 11:
        lo, hi = attr(node, "min", -_FLOAT_MAX), attr(node, "max", _FLOAT_MAX)
    else:
        lo, hi = p._const(node, 1, "min"), p._const(node, 2, "max")
    lo = -np.inf if lo is None else _scalar(p, lo, "min")
    hi = np.inf if hi is None else _scalar(p, hi, "max")
    if lo <= 0 and (p.act_open or (lo < 0 and p.data_nonnegative())):
        if hi < _FLOAT_MAX:
            p._cap_last_layer(np.array([hi]), True)
        return
    if lo != 0:
        p._unsupported(
            f"Clip with min={lo} is not a ReLU",
            "Only Clip(min=0) or Clip(min=0, max=c) is read (a (clipped) ReLU). ",
        )
    if hi >= _FLOAT_MAX:
        p._activate(Activation.RELU)
    elif hi <= 0:
        p._unsupported(f"Clip(min=0, max={hi}) is constant, a clipped ReLU needs max > 0")
    else:
        p._activate(Activation.CLIPPED_RELU(hi))


def _max(p, node, k):
    """``Max(x, 0)`` is a ReLU."""
    if len(node.input) != 2:
        p._unsupported(f"Max needs exactly 2 inputs, found {len(node.input)}")
    c = p._per_feature(p._const(node, 1 - k, "other operand"), "the constant operand")
    if np.any(c != 0):
        p._unsupported("only Max(x, 0) (a ReLU) is read")
    p._activate(Activation.RELU)


def _min(p, node, k):
    """``Min(relu(z), c)`` with c > 0 (scalar or per neuron) caps the preceding ReLU."""
    if len(node.input) != 2:
        p._unsupported(f"Min needs exactly 2 inputs, found {len(node.input)}")
    const = p._const(node, 1 - k, "other operand")
    caps = p._real(const, "the cap")
    if np.isnan(caps).any():
        raise InvalidNetworkError(
            f"load_onnx: node {p._label()}: the cap contains NaN; fix the model file."
        )
    p._cap_last_layer(p._per_feature(np.minimum(caps, _FLOAT_MAX), "the cap"), caps.ndim == 0)


# ---------------------------------------------------------- no-op / layout
def _identity(p, node, k):
    _first_input_only(p, k, "Identity(x)")


def _dropout(p, node, k):
    _first_input_only(p, k, "Dropout(x)")
    training = p._const(node, 2, "training_mode")
    if training is not None and bool(np.any(training)):
        p._unsupported("training_mode=True makes the output random; export the model in eval mode")


def _cast(p, node, k):
    to = attr(node, "to", None)
    if to not in _FLOAT_TYPES:
        p._unsupported(f"Cast to type {to} is not a floating-point type")


def _flatten(p, node, k):
    rank = len(p.shape)
    axis = attr(node, "axis", 1)
    axis = axis + rank if axis < 0 else axis
    if axis < 1 or any(d != 1 for d in p.shape[1:axis]):
        p._unsupported(
            f"Flatten(axis={axis}) merges the batch axis of layout {list(p.shape)} with features"
        )
    p.shape = (BATCH, p.n_features)


def _reshape(p, node, k):
    target = p._const(node, 1, "shape")
    if k != 0 or target is None:
        p._unsupported("Reshape needs the data as input 0 and a constant shape")
    target = [int(t) for t in np.ravel(target)]
    allowzero = attr(node, "allowzero", 0)
    out = []
    for i, t in enumerate(target):
        if t == 0 and not allowzero and i < len(p.shape):
            out.append(p.shape[i])  # 0 copies the input dimension
        elif t == BATCH_MARK or (i == 0 and t in p.batch_values):
            out.append(BATCH)  # the batch size, read by Shape or fixed at export
        else:
            out.append(t)
    known = math.prod(d for d in out if d not in (BATCH, -1))
    n = p.n_features
    if out.count(-1) == 1 and known > 0:
        fill = (
            (n // known if n % known == 0 else None)
            if BATCH in out
            else (BATCH if known == n else None)
        )
        out[out.index(-1)] = fill
    feats = [d for d in out if d != BATCH]
    if (
        out.count(BATCH) != 1
        or out[0] != BATCH
        or None in feats
        or -1 in feats
        or math.prod(feats) != n
    ):
        p._unsupported(
            f"Reshape to {target} does not keep layout {list(p.shape)} as [N, features]",
            "If it only reformats the graph output, remove it from the graph. ",
        )
    p.shape = tuple(out)


def _axes(p, node):
    axes = attr(node, "axes", None) if p.opset < 13 else p._const(node, 1, "axes")
    return None if axes is None else [int(a) for a in np.ravel(axes)]


def _squeeze(p, node, k):
    axes, rank = _axes(p, node), len(p.shape)
    if axes is None:  # the batch axis is assumed not to be 1
        axes = [i for i, d in enumerate(p.shape) if d == 1]
    axes = [a + rank if a < 0 else a for a in axes]
    if any(not 0 <= a < rank or p.shape[a] != 1 for a in axes):
        p._unsupported(f"Squeeze(axes={axes}) removes a non-unit axis of layout {list(p.shape)}")
    p.shape = tuple(d for i, d in enumerate(p.shape) if i not in axes)


def _unsqueeze(p, node, k):
    axes = _axes(p, node)
    if axes is None:
        p._unsupported("Unsqueeze has no axes")
    if p.vector and axes == [0]:  # a batch axis of size 1 for the unbatched input
        p.vector = False
        return
    rank = len(p.shape) + len(axes)
    axes = sorted(a + rank if a < 0 else a for a in axes)
    if any(not 1 <= a < rank for a in axes):
        p._unsupported(f"Unsqueeze(axes={axes}) moves the batch axis of layout {list(p.shape)}")
    out = list(p.shape)
    for a in axes:
        out.insert(a, 1)
    p.shape = tuple(out)


def _scaler(p, node, k):
    """``Scaler`` of ai.onnx.ml (sklearn's StandardScaler): ``(x - offset) * scale`` per feature."""
    offset = p._per_feature(p._real(attr(node, "offset", [0.0]), "the offset"), "the offset")
    scale = p._per_feature(p._real(attr(node, "scale", [1.0]), "the scale"), "the scale")
    p._push_diag(scale, -offset * scale)


OPS = {
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": _elementwise,
    "Sub": _elementwise,
    "Mul": _elementwise,
    "Div": _elementwise,
    "Relu": _relu,
    "Clip": _clip,
    "Max": _max,
    "Min": _min,
    "BatchNormalization": _batchnorm,
    "Identity": _identity,
    "Dropout": _dropout,
    "Cast": _cast,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Squeeze": _squeeze,
    "Unsqueeze": _unsqueeze,
    "Scaler": _scaler,
}
