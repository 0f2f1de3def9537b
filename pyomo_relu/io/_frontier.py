"""Tensors of an ONNX graph as affine functions of the last layer's outputs (pure numpy/scipy).

While :mod:`._onnx_graph` walks the graph, every data tensor is held as ``A f + c``, where
``f`` is the *frontier*: the outputs of the last closed layer (the graph input before the
first one).  Affine nodes compose into ``A`` and ``c``; an activation *closes* a layer, whose
neurons are the activated rows plus every other tensor that a later node still reads.  Those
are carried across as pass-through neurons, exactly:

* ``s = relu(s)`` when ``s >= 0`` is known (one neuron),
* ``s = relu(s) - relu(-s)`` otherwise (two neurons),

so every live tensor is again an affine function of the new frontier.  ``s >= 0`` is known
when ``s`` is a nonnegative combination of nonnegative frontier values plus a nonnegative
constant; the outputs of ReLU and clipped-ReLU layers are nonnegative.  Identical rows of a
layer (a tensor carried twice, overlapping pooling windows) become one neuron.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..network import Activation, ActivationKind, DenseLayer

__all__ = ["Tensor", "Group", "close_layer", "nonnegative", "rows_of", "bias_of"]

#: a sparse map is stored dense when at least this share of its entries is nonzero
_DENSE_SHARE = 0.25


class Tensor:
    """A data tensor ``A f + c`` of layout ``shape`` (batch axis first).

    ``A`` is None for the identity and ``c`` None for zero, so that the graph input needs no
    identity matrix.  ``dense`` marks a map that holds a ``Gemm``/``MatMul`` not yet closed
    (two dense maps in a row become two layers); ``open_act`` marks the unchanged output of
    the last layer, which a following ``Clip``/``Min`` may cap; ``origin`` is
    ``(op_type, node name)`` of the first node composed into the map, for layer names.
    """

    __slots__ = ("A", "c", "shape", "dense", "open_act", "origin")

    def __init__(self, A, c, shape, *, dense=False, open_act=False, origin=None):
        self.A, self.c, self.shape = A, c, shape
        self.dense, self.open_act, self.origin = dense, open_act, origin

    def copy(self):
        return Tensor(
            self.A,
            self.c,
            self.shape,
            dense=self.dense,
            open_act=self.open_act,
            origin=self.origin,
        )


def rows_of(A, n):
    """``A`` as a matrix with ``n`` columns (the identity for None)."""
    return sp.identity(n, format="csr", dtype=np.float64) if A is None else A


def bias_of(c, n_rows):
    return np.zeros(n_rows) if c is None else c


def _csr(A):
    out = sp.csr_array(A, dtype=np.float64)
    out.sum_duplicates()
    out.sort_indices()
    return out


def nonnegative(A, c, front_nonneg):
    """Per row of ``A f + c``: True when it is >= 0 for every frontier value.

    That holds when ``c >= 0`` and every nonzero coefficient is positive and multiplies a
    frontier value known to be nonnegative.
    """
    if A is None:
        ok = front_nonneg.copy()
    else:
        m = _csr(A)
        bad = (m.data < 0) | ((m.data != 0) & ~front_nonneg[m.indices])
        row_of = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
        ok = np.bincount(row_of[bad], minlength=m.shape[0]) == 0
    return ok if c is None else ok & (c >= 0)


class Group:
    """Rows of a layer being closed and how they enter it.

    ``mode`` is ``"act"`` (activated rows: the ReLU of a node or a max-pool difference),
    ``"clip"`` (rows of a clipped ReLU with ``caps``, lowered to ``relu(z) - relu(z - cap)``
    when the layer carries other rows), ``"carry"`` (pass-through of a live tensor) or
    ``"keep"`` (a pass-through that belongs to the layer's own work, a max-pool term).
    """

    __slots__ = ("A", "c", "mode", "caps")

    def __init__(self, A, c, mode, caps=None):
        self.A, self.c, self.mode, self.caps = A, c, mode, caps


def _weights(m):
    """A layer's weights: dense when that costs little, else the sparse map."""
    if not sp.issparse(m):
        return m
    if m.nnz >= _DENSE_SHARE * m.shape[0] * m.shape[1]:
        return m.toarray()
    return m


def close_layer(groups, activation, front_nonneg, name):
    """Close one layer over the frontier.

    Parameters
    ----------
    groups : list of Group
    activation : Activation
        The activation of the ``"act"``/``"clip"`` rows; ``LINEAR`` closes a linear layer,
        whose carried rows are identities.
    front_nonneg : ndarray of bool
        Which frontier values are known to be nonnegative.
    name : str

    Returns
    -------
    layer : DenseLayer
    reps : list
        Per group, its values on the new frontier: a sparse ``(n_g, n_new)`` map, or None
        when the layer is exactly that group (the identity).
    nonneg : ndarray of bool
        The new frontier's nonnegativity.
    n_carried : int
        Neurons that only pass values through.
    """
    n_front = front_nonneg.size
    if len(groups) == 1 and groups[0].mode != "carry":
        g = groups[0]
        A, c = rows_of(g.A, n_front), bias_of(g.c, rows_of(g.A, n_front).shape[0])
        layer = DenseLayer(_weights(A), c, activation, name=name)
        nonneg = _after(layer, activation, A, c, front_nonneg)
        return layer, [None], nonneg, 0
    linear = activation.kind is ActivationKind.LINEAR
    blocks, biases, merge, plan = [], [], [], []
    count = 0

    def add(A, c, mergeable):
        nonlocal count
        blocks.append(A)
        biases.append(c)
        merge.append(np.full(c.size, mergeable))
        start, count = count, count + c.size
        return np.arange(start, count)

    for g in groups:
        A = _csr(rows_of(g.A, n_front))
        c = bias_of(g.c, A.shape[0]).astype(np.float64)
        carry = g.mode in ("carry", "keep")
        pos = add(A, c, carry)
        neg = np.full(c.size, -1)
        if g.mode == "clip":
            neg = add(A, c - g.caps, False)
        elif carry and not linear:
            need = np.flatnonzero(~nonnegative(A, c, front_nonneg))
            neg[need] = add(-A[need], -c[need], True)
        plan.append((pos, neg))
    rows = sp.vstack(blocks, format="csr")
    rows.sort_indices()
    bias = np.concatenate(biases)
    keep, where = _dedupe(rows, bias, np.concatenate(merge))
    main = np.zeros(keep.size, dtype=bool)
    reps = []
    for g, (pos, neg) in zip(groups, plan):
        reps.append(_rep(where[pos], np.where(neg >= 0, where[np.maximum(neg, 0)], -1), keep.size))
        if g.mode != "carry":
            main[where[pos]] = True
            main[where[neg[neg >= 0]]] = True
    kind = Activation.LINEAR if linear else Activation.RELU  # caps are lowered to "clip" rows
    layer_rows = rows[keep]
    layer = DenseLayer(_weights(layer_rows), bias[keep], kind, name=name)
    nonneg = _after(layer, kind, layer_rows, bias[keep], front_nonneg)
    return layer, reps, nonneg, int(keep.size - main.sum())


def _after(layer, activation, A, c, front_nonneg):
    if activation.is_piecewise:
        return np.ones(layer.n_out, dtype=bool)
    return nonnegative(A, c, front_nonneg)


def _dedupe(rows, bias, mergeable):
    """Unique rows: ``keep`` (indices of the kept rows) and ``where`` (row -> neuron)."""
    seen, keep = {}, []
    where = np.empty(bias.size, dtype=np.int64)
    ptr, idx, data = rows.indptr, rows.indices, rows.data
    for i in range(bias.size):
        key = (idx[ptr[i] : ptr[i + 1]].tobytes(), data[ptr[i] : ptr[i + 1]].tobytes(), bias[i])
        j = seen.get(key) if mergeable[i] else None
        if j is None:
            j = len(keep)
            keep.append(i)
            seen.setdefault(key, j)
        where[i] = j
    return np.asarray(keep, dtype=np.int64), where


def _rep(pos, neg, n_new):
    """Sparse ``(n, n_new)`` map: +1 at ``pos``, -1 at ``neg`` where ``neg >= 0``."""
    n = pos.size
    has = neg >= 0
    rows = np.concatenate([np.arange(n), np.flatnonzero(has)])
    cols = np.concatenate([pos, neg[has]])
    data = np.concatenate([np.ones(n), -np.ones(int(has.sum()))])
    return sp.csr_array((data, (rows, cols)), shape=(n, n_new))
