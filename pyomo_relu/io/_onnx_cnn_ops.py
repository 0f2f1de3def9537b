"""Operator table of :func:`~pyomo_relu.io.onnx.load_onnx` for convolutional networks.

``Conv``, ``AveragePool`` and ``GlobalAveragePool`` are sparse affine maps on the
C-order ``(C, *spatial)`` sample (:mod:`._conv`); ``MaxPool`` and ``GlobalMaxPool``
become pairwise trees of ReLU layers; ``Transpose`` permutes the elements; ``Add``,
``Sub`` and ``Concat`` of two data tensors join branches (residual blocks); ``ReduceMean`` and
``ReduceSum`` over feature axes are sparse maps, ``Slice`` of feature axes a selection; a last
``Softmax``/``LogSoftmax`` is dropped.  Attributes are read with their ONNX
specification defaults.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import scipy.sparse as sp

from ._conv import avgpool_matrix, conv_matrix, geometry, pool_windows
from ._frontier import Tensor, rows_of
from ._onnx_ops import BATCH, MAX_ELEMENTS, attr

__all__ = ["CNN_OPS", "MULTI_OPS", "HEADS", "drop_head", "DroppedHeadWarning"]

HEADS = ("Softmax", "LogSoftmax")
_AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


class DroppedHeadWarning(UserWarning):
    """``load_onnx`` left out a classifier's last ``Softmax``/``LogSoftmax``."""


def _spatial(p, what):
    """``(C, spatial)`` of the data tensor, which must be ``[N, C, d_1, ...]`` with static
    sizes."""
    shape = p.shape
    if len(shape) < 3 or shape[0] != BATCH or any(not isinstance(d, int) for d in shape[1:]):
        p._unsupported(
            f"{what} needs a data tensor of layout [N, C, d_1, ...] with static sizes, the "
            f"tensor has layout {list(shape)}",
            "Export the model with a static input shape, e.g. [N, 1, 28, 28]. ",
        )
    return shape[1], tuple(shape[2:])


def _ints(p, node, name, default, r):
    values = [int(v) for v in attr(node, name, default)]
    if len(values) != r:
        p._unsupported(f"attribute {name}={values} needs {r} values for {r} spatial axes")
    return values


def _geometry(p, node, spatial, kernel, *, pool):
    """The window geometry from ``strides``, ``dilations``, ``pads``, ``auto_pad`` and
    ``ceil_mode`` (spec defaults: 1, 1, 0, NOTSET, 0)."""
    r = len(spatial)
    strides = _ints(p, node, "strides", [1] * r, r)
    dilations = _ints(p, node, "dilations", [1] * r, r)
    pads = _ints(p, node, "pads", [0] * 2 * r, 2 * r)
    auto_pad = attr(node, "auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
    ceil_mode = int(attr(node, "ceil_mode", 0)) if pool else 0
    if auto_pad not in _AUTO_PADS:
        p._unsupported(f"auto_pad={auto_pad!r} is not one of {list(_AUTO_PADS)}")
    if min(strides + dilations) < 1 or min(pads) < 0 or min(kernel) < 1:
        p._unsupported(
            f"strides {strides}, dilations {dilations} and kernel {list(kernel)} must be >= 1 "
            f"and pads {pads} >= 0"
        )
    if auto_pad.startswith("SAME") and max(dilations) > 1:
        p._unsupported(
            f"auto_pad={auto_pad} with dilations {dilations} is computed differently by "
            "onnxruntime and by the ONNX specification",
            "Export with explicit pads instead of auto_pad. ",
        )
    try:
        return geometry(
            spatial,
            kernel,
            strides=strides,
            dilations=dilations,
            pads=pads,
            auto_pad=auto_pad,
            ceil_mode=ceil_mode,
            clamp_same=not pool,
        )
    except ValueError as exc:
        p._unsupported(str(exc))


def _check_size(p, entries, what):
    if entries > MAX_ELEMENTS:
        p._unsupported(
            f"its {what} would hold {entries:,} weights, more than {MAX_ELEMENTS:,}",
            "A network this large cannot be optimized over; use a smaller input. ",
        )


def _conv(p, node, k):
    """``Conv(X, W, B)``: a grouped, strided, padded, dilated convolution as a sparse map."""
    if k != 0:
        p._unsupported("the data tensor must be input X of Conv(X, W, B)")
    channels, spatial = _spatial(p, "Conv")
    weight = p._const(node, 1, "weight W")
    if weight is None or np.ndim(weight) != len(spatial) + 2:
        p._unsupported(
            f"weight W must be a constant of shape [M, C/group, k_1, ...] with "
            f"{len(spatial)} kernel axes, found shape {list(np.shape(weight))}"
        )
    weight = p._finite(weight, "weight W")
    group = int(attr(node, "group", 1))
    m_out, kernel = weight.shape[0], tuple(weight.shape[2:])
    given = attr(node, "kernel_shape", None)
    if given is not None and tuple(int(v) for v in given) != kernel:
        p._unsupported(f"kernel_shape {list(given)} does not match weight W {list(weight.shape)}")
    if group < 1 or m_out % group or weight.shape[1] * group != channels:
        p._unsupported(
            f"group={group} with weight W of shape {list(weight.shape)} does not fit the "
            f"{channels} input channels (expected C = W.shape[1] * group and M divisible by group)"
        )
    geom = _geometry(p, node, spatial, kernel, pool=False)
    n_out = math.prod(geom.out_shape)
    _check_size(p, m_out * n_out * weight[0].size, "sparse map")
    bias = p._const(node, 2, "bias B")
    b = np.zeros(m_out)
    if bias is not None:
        if np.shape(bias) != (m_out,):
            p._unsupported(f"bias B of shape {list(np.shape(bias))} is not [{m_out}]")
        b = p._finite(bias, "bias B")
    p._push_sparse(conv_matrix(channels, geom, weight, group), np.repeat(b, n_out))
    p.shape = (BATCH, m_out) + geom.out_shape


def _pool_geometry(p, node, what, global_pool):
    channels, spatial = _spatial(p, what)
    if global_pool:
        kernel = spatial
        geom = geometry(
            spatial, kernel, strides=[1] * len(spatial), dilations=[1] * len(spatial),
            pads=[0] * 2 * len(spatial), auto_pad="NOTSET",
        )  # fmt: skip
    else:
        kernel = attr(node, "kernel_shape", None)
        if kernel is None:
            p._unsupported(f"{what} needs the attribute kernel_shape")
        kernel = tuple(_ints(p, node, "kernel_shape", kernel, len(spatial)))
        geom = _geometry(p, node, spatial, kernel, pool=True)
    return channels, geom


def _avgpool(p, node, k):
    """``AveragePool`` / ``GlobalAveragePool``: a sparse averaging map."""
    global_pool = node.op_type.startswith("Global")
    channels, geom = _pool_geometry(p, node, node.op_type, global_pool)
    include = int(attr(node, "count_include_pad", 0))
    try:
        matrix = avgpool_matrix(channels, geom, include)
    except ValueError as exc:
        p._unsupported(str(exc))
    p._push_sparse(matrix, np.zeros(matrix.shape[0]))
    p.shape = (BATCH, channels) + geom.out_shape


def _maxpool(p, node, k):
    """``MaxPool`` / ``GlobalMaxPool``: exact, as a pairwise tree of ReLU layers.

    Padding is -inf in ONNX, so padded positions are left out of their windows.
    """
    global_pool = node.op_type.startswith("Global")
    if len(node.output) > 1 and node.output[1]:
        p._unsupported("its Indices output is not a value of the network; only Y is read")
    if int(attr(node, "storage_order", 0)) != 0:
        p._unsupported(
            "storage_order=1 only changes the Indices output, which is not read",
            "Export the pool without indices (storage_order=0). ",
        )
    channels, geom = _pool_geometry(p, node, node.op_type, global_pool)
    windows, _ = pool_windows(channels, geom)
    if np.any(windows[:, 0] < 0):
        p._unsupported("a pooling window covers only padding, whose value -inf has no bound")
    p._max_tree(windows, node.name or f"node{p.index}")
    p.shape = (BATCH, channels) + geom.out_shape


def _static_features(p, k):
    """The feature sizes of the data tensor, which must be input 0 and have static sizes."""
    if k != 0:
        p._unsupported("the data tensor must be the first input")
    dims = p.shape[1:]
    if any(not isinstance(d, int) for d in dims):
        p._unsupported(f"it needs static sizes, the tensor has layout {list(p.shape)}")
    return dims


def _transpose(p, node, k):
    """``Transpose`` that keeps the batch axis first: a permutation of the elements."""
    rank = len(p.shape)
    perm = [int(v) for v in attr(node, "perm", list(range(rank))[::-1])]
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        p._unsupported(
            f"perm={perm} is not a permutation of the {rank} axes of layout {list(p.shape)} "
            "that keeps the batch axis first"
        )
    dims = _static_features(p, k)
    order = np.arange(math.prod(dims)).reshape(dims).transpose([q - 1 for q in perm[1:]])
    p._permute(order.ravel())
    p.shape = (BATCH,) + tuple(dims[q - 1] for q in perm[1:])


def _reduce(p, node, k):
    """``ReduceMean``/``ReduceSum`` over feature axes: a sparse averaging (summing) map."""
    rank, dims = len(p.shape), _static_features(p, k)
    as_input = p.opset >= (13 if node.op_type == "ReduceSum" else 18)  # axes became an input
    axes = p._const(node, 1, "axes") if as_input else attr(node, "axes", None)
    axes = None if axes is None or np.size(axes) == 0 else [int(a) for a in np.ravel(axes)]
    if axes is None:
        if int(attr(node, "noop_with_empty_axes", 0)):
            return
        p._unsupported("it reduces every axis, the batch axis included")
    axes = sorted({a + rank if a < 0 else a for a in axes})
    if not all(1 <= a < rank for a in axes):
        p._unsupported(f"axes {axes} of layout {list(p.shape)} include the batch axis")
    keep = [a for a in range(1, rank) if a not in axes]
    ids = np.arange(math.prod(dims)).reshape(dims).transpose([a - 1 for a in keep + axes])
    groups = ids.reshape(math.prod(dims[a - 1] for a in keep), -1)
    weight = 1.0 / groups.shape[1] if node.op_type == "ReduceMean" else 1.0
    rows = np.repeat(np.arange(groups.shape[0]), groups.shape[1])
    matrix = sp.csr_array(
        (np.full(groups.size, weight), (rows, groups.ravel())), shape=(groups.shape[0], ids.size)
    )
    p._push_sparse(matrix, np.zeros(groups.shape[0]))
    if int(attr(node, "keepdims", 1)):
        p.shape = tuple(1 if i in axes else d for i, d in enumerate(p.shape))
    else:
        p.shape = tuple(d for i, d in enumerate(p.shape) if i not in axes)


def _slice(p, node, k):
    """``Slice`` of feature axes: a selection of the elements."""
    rank, dims = len(p.shape), _static_features(p, k)
    if p.opset < 10:
        args = [attr(node, n, None) for n in ("starts", "ends", "axes")] + [None]
    else:
        names = ("starts", "ends", "axes", "steps")
        args = [p._const(node, i, n) for i, n in enumerate(names, start=1)]
    starts, ends, axes, steps = (None if a is None else [int(v) for v in np.ravel(a)] for a in args)
    if starts is None or ends is None:
        p._unsupported("it needs constant starts and ends")
    axes = list(range(len(starts))) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    index = [slice(None)] * (rank - 1)
    for axis, start, end, step in zip(axes, starts, ends, steps):
        axis = axis + rank if axis < 0 else axis
        if axis == 0 or not 0 < axis < rank or step == 0:
            p._unsupported(
                f"it slices axis {axis} (step {step}) of layout {list(p.shape)}; only feature "
                "axes with a nonzero step are read"
            )
        index[axis - 1] = slice(start, end, step)
    ids = np.arange(math.prod(dims)).reshape(dims)[tuple(index)]
    if ids.size == 0:
        p._unsupported(f"it selects no element of layout {list(p.shape)}")
    p._permute(ids.ravel())
    p.shape = (BATCH,) + ids.shape


def _dense(A):
    return A.toarray() if sp.issparse(A) else A


def _join(p, node, tensors, A, c):
    dense = any(t.dense for t in tensors)
    origin = next((t.origin for t in tensors if t.origin), None)
    origin = origin or (node.op_type, node.name or f"node{p.index}")
    p.cur = Tensor(A, c, tensors[0].shape, dense=dense, origin=origin)


def _add_sub(p, node, data):
    """``Add``/``Sub`` of two data tensors of one layout (a residual connection)."""
    names = [node.input[k] for k in data]
    t1, t2 = (p.tensors[n] for n in names)
    if t1.shape != t2.shape:
        p._unsupported(
            f"it combines {names[0]!r} of layout {list(t1.shape)} with {names[1]!r} of layout "
            f"{list(t2.shape)}; two data tensors must have the same layout",
            "Broadcasting between two branches is not read. ",
        )
    sign = -1.0 if node.op_type == "Sub" else 1.0
    n = p.n_front
    a1, a2 = rows_of(t1.A, n), rows_of(t2.A, n)
    if sp.issparse(a1) and sp.issparse(a2):
        A = sp.csr_array(a1 + sign * a2)
    else:
        A = _dense(a1) + sign * _dense(a2)
    c1, c2 = (np.zeros(A.shape[0]) if t.c is None else t.c for t in (t1, t2))
    _join(p, node, [t1, t2], A, c1 + sign * c2)


def _concat(p, node, data):
    """``Concat`` of data tensors along a feature axis."""
    names = list(node.input)
    if len(data) != len(names):
        p._unsupported("it concatenates constants with data; only data tensors are read")
    tensors = [p.tensors[n] for n in names]
    rank = len(tensors[0].shape)
    axis = int(attr(node, "axis", 1))
    axis = axis + rank if axis < 0 else axis
    shapes = [t.shape for t in tensors]
    same = all(
        len(s) == rank and all(a == b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != axis)
        for s in shapes
    )
    if not 1 <= axis < rank or not same or any(not isinstance(d, int) for d in shapes[0][1:]):
        p._unsupported(
            f"Concat(axis={axis}) of layouts {[list(s) for s in shapes]} does not join static "
            "feature axes of equal shapes; the batch axis must stay first"
        )
    ids, offset = [], 0
    for s in shapes:
        size = math.prod(s[1:])
        ids.append(offset + np.arange(size).reshape(s[1:]))
        offset += size
    order = np.concatenate(ids, axis=axis - 1).ravel()
    blocks = [rows_of(t.A, p.n_front) for t in tensors]
    stacked = (
        sp.vstack(blocks, format="csr")
        if any(sp.issparse(b) for b in blocks)
        else np.vstack(blocks)
    )
    c = np.concatenate(
        [np.zeros(b.shape[0]) if t.c is None else t.c for t, b in zip(tensors, blocks)]
    )
    _join(p, node, tensors, stacked[order], c[order])
    shape = list(shapes[0])
    shape[axis] = sum(s[axis] for s in shapes)
    p.cur.shape = tuple(shape)


def drop_head(p, node, k):
    """A classifier's last ``Softmax``/``LogSoftmax``: left out, the network outputs logits."""
    if node.output[0] != p.output:
        p._unsupported(
            f"a {node.op_type} is read only as the last node of a classifier (it is dropped)",
            "Export the network up to its logits. ",
        )
    warnings.warn(
        f"load_onnx: the last node {p._label()} is dropped; the network outputs its input, "
        f"the logits, so a model optimizes the logits, not the {node.op_type} values (the "
        "argmax, the predicted class, is the same).",
        DroppedHeadWarning,
        stacklevel=5,
    )
    p.dropped_head = node.op_type


CNN_OPS = {
    "Conv": _conv,
    "AveragePool": _avgpool,
    "GlobalAveragePool": _avgpool,
    "MaxPool": _maxpool,
    "GlobalMaxPool": _maxpool,
    "Transpose": _transpose,
    "ReduceMean": _reduce,
    "ReduceSum": _reduce,
    "Slice": _slice,
}
for _head in HEADS:
    CNN_OPS[_head] = drop_head
MULTI_OPS = {"Add": _add_sub, "Sub": _add_sub, "Concat": _concat}
