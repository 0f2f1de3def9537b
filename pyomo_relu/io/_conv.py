"""Convolutions and pools as sparse maps on C-order ``(C, *spatial)`` tensors (pure numpy/scipy).

Every function works on one sample: a tensor of layout ``(C, d_1, ..., d_r)`` flattened in
C order (channel first, last spatial axis fastest), the order in which ``Flatten`` hands the
values to a dense layer.  The maps are built by index arithmetic: for every output position
and kernel offset the input position is ``o * stride - pad_begin + k * dilation``; positions
that fall into the padding are left out (they hold 0 for ``Conv`` and ``AveragePool``, and
-inf, which never wins, for ``MaxPool``).  No dense Toeplitz matrix is ever formed, so a
map holds ``n_out * |kernel|`` entries at most.

Reference: ONNX operator specification, ``Conv``, ``AveragePool``, ``MaxPool`` (opset 22).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp

__all__ = ["Geometry", "conv_matrix", "avgpool_matrix", "pool_windows", "geometry"]


class Geometry:
    """Output size and begin padding of a sliding window along every spatial axis.

    Attributes
    ----------
    in_shape, out_shape, kernel, strides, dilations, pad_begin, pad_end : tuple of int
        Per spatial axis.  ``pad_end`` is the padding the specification adds at the end (the
        extra windows of ``ceil_mode`` may reach beyond it).
    """

    __slots__ = ("in_shape", "out_shape", "kernel", "strides", "dilations", "pad_begin", "pad_end")

    def __init__(self, in_shape, out_shape, kernel, strides, dilations, pad_begin, pad_end):
        self.in_shape, self.out_shape, self.kernel = in_shape, out_shape, kernel
        self.strides, self.dilations = strides, dilations
        self.pad_begin, self.pad_end = pad_begin, pad_end

    def positions(self):
        """Input positions read by every (output, kernel offset) pair.

        Returns
        -------
        flat : ndarray, shape (n_out, n_kernel)
            C-order index of the input position into one channel, -1 where it is padding.
        inside_pads : ndarray of bool, shape (n_out, n_kernel)
            Whether the position lies in the input or in its declared padding (what
            ``count_include_pad=1`` counts).
        """
        out_grid = np.indices(self.out_shape).reshape(len(self.out_shape), -1)
        ker_grid = np.indices(self.kernel).reshape(len(self.kernel), -1)
        flat = np.zeros((out_grid.shape[1], ker_grid.shape[1]), dtype=np.int64)
        valid = np.ones(flat.shape, dtype=bool)
        padded = np.ones(flat.shape, dtype=bool)
        for ax, size in enumerate(self.in_shape):
            pos = (
                out_grid[ax][:, None] * self.strides[ax]
                - self.pad_begin[ax]
                + ker_grid[ax][None, :] * self.dilations[ax]
            )
            valid &= (pos >= 0) & (pos < size)
            padded &= (pos >= -self.pad_begin[ax]) & (pos < size + self.pad_end[ax])
            flat = flat * size + np.clip(pos, 0, size - 1)
        return np.where(valid, flat, -1), padded


def _out_size(size, kernel, stride, dilation, begin, end, ceil_mode):
    span = dilation * (kernel - 1) + 1
    room = size + begin + end - span
    if room < 0:
        return 0
    if not ceil_mode:
        return room // stride + 1
    out = -(-room // stride) + 1
    if (out - 1) * stride >= size + begin:  # the last window would start in the end padding
        out -= 1
    return out


def geometry(
    in_shape, kernel, *, strides, dilations, pads, auto_pad, ceil_mode=False, clamp_same=True
):
    """The :class:`Geometry` of a window op from its ONNX attributes (spec defaults applied).

    ``pads`` is the ONNX list ``[b_1, ..., b_r, e_1, ..., e_r]``; ``auto_pad`` one of
    ``NOTSET``, ``VALID``, ``SAME_UPPER``, ``SAME_LOWER`` (then ``pads`` is ignored, as the
    specification says).  A ``SAME`` padding that would be negative (strides larger than
    the window) is 0 with ``clamp_same`` (as onnxruntime's ``Conv`` computes it) and refused
    otherwise (onnxruntime's pools refuse it).  Raises ValueError with a readable reason for
    inconsistent values.
    """
    r = len(in_shape)
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        out = [-(-size // s) for size, s in zip(in_shape, strides)]
        total = [
            (o - 1) * s + d * (k - 1) + 1 - size
            for o, s, d, k, size in zip(out, strides, dilations, kernel, in_shape)
        ]
        if min(total) < 0 and not clamp_same:
            raise ValueError(
                f"auto_pad={auto_pad} with strides {list(strides)} larger than the window "
                f"(kernel {list(kernel)}) asks for negative padding {total}, which onnxruntime "
                "refuses; export with explicit pads"
            )
        total = [max(t, 0) for t in total]
        small = [t // 2 for t in total]
        begin = small if auto_pad == "SAME_UPPER" else [t - h for t, h in zip(total, small)]
        end = [t - b for t, b in zip(total, begin)]
    elif auto_pad == "VALID":
        begin, end = [0] * r, [0] * r
    else:
        begin, end = list(pads[:r]), list(pads[r:])
    out = [
        _out_size(*args, ceil_mode)
        for args in zip(in_shape, kernel, strides, dilations, begin, end)
    ]
    if any(o <= 0 for o in out):
        raise ValueError(
            f"the window (kernel {list(kernel)}, dilations {list(dilations)}) does not fit the "
            f"input of spatial shape {list(in_shape)} with pads {begin + end}"
        )
    return Geometry(
        tuple(in_shape), tuple(out), tuple(kernel), tuple(strides), tuple(dilations),
        tuple(begin), tuple(end),
    )  # fmt: skip


def conv_matrix(channels, geom, weight, group):
    """Sparse ``(M * n_out, C * n_in)`` matrix of a grouped convolution without bias.

    Parameters
    ----------
    channels : int
        Input channels ``C``.
    geom : Geometry
    weight : ndarray, shape (M, C / group, *kernel)
    group : int
        Output channel ``m`` reads the input channels of group ``m // (M / group)``.
    """
    m_out, c_per = weight.shape[0], weight.shape[1]
    flat, _ = geom.positions()
    o_idx, k_idx = np.nonzero(flat >= 0)
    n_out, n_in = math.prod(geom.out_shape), math.prod(geom.in_shape)
    ms = np.arange(m_out)[:, None, None]
    cs = np.arange(c_per)[None, :, None]
    groups = ms // (m_out // group)
    rows = ms * n_out + o_idx[None, None, :]
    cols = (groups * c_per + cs) * n_in + flat[o_idx, k_idx][None, None, :]
    data = weight.reshape(m_out, c_per, -1)[:, :, k_idx]
    rows, cols = np.broadcast_arrays(rows, cols)
    mat = sp.csr_array(
        (data.ravel(), (rows.ravel(), cols.ravel())), shape=(m_out * n_out, channels * n_in)
    )
    mat.eliminate_zeros()
    return mat


def pool_windows(channels, geom):
    """Input indices of every pooling window, padding left out.

    Returns
    -------
    windows : ndarray of int, shape (C * n_out, n_kernel)
        Flat C-order input indices, valid ones first in each row, then -1.
    padded_counts : ndarray of int, shape (C * n_out,)
        Window positions inside the input or its declared padding (``count_include_pad``).
    """
    flat, padded = geom.positions()
    n_in = math.prod(geom.in_shape)
    order = np.argsort(flat < 0, axis=1, kind="stable")  # valid positions first
    flat = np.take_along_axis(flat, order, axis=1)
    offsets = (np.arange(channels) * n_in)[:, None, None]
    windows = np.where(flat[None] >= 0, flat[None] + offsets, -1).reshape(-1, flat.shape[1])
    counts = np.tile(padded.sum(axis=1), channels)
    return windows, counts


def avgpool_matrix(channels, geom, count_include_pad):
    """Sparse ``(C * n_out, C * n_in)`` matrix of an average pool.

    Each output is the sum of the valid inputs of its window divided by their number, or
    with ``count_include_pad`` by the number of window positions inside the input and its
    declared padding (the specification's divisor; windows that ``ceil_mode`` adds beyond the
    padding are not counted).
    """
    windows, padded = pool_windows(channels, geom)
    valid = windows >= 0
    counts = padded if count_include_pad else valid.sum(axis=1)
    if np.any(valid.sum(axis=1) == 0):
        raise ValueError("a pooling window covers only padding")
    rows = np.broadcast_to(np.arange(windows.shape[0])[:, None], windows.shape)[valid]
    data = (1.0 / counts)[:, None].repeat(windows.shape[1], axis=1)[valid]
    n_in = channels * math.prod(geom.in_shape)
    return sp.csr_array((data, (rows, windows[valid])), shape=(windows.shape[0], n_in))
