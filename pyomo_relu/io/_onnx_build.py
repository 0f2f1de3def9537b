"""The layers that :class:`._onnx_graph.GraphParser` builds while it walks a graph (pure).

:class:`LayerBuilder` keeps the live data tensors as affine functions of the frontier
(:mod:`._frontier`) and turns the graph's operations into layers: affine maps compose,
activations close a layer (carrying the other live tensors), and a max pool becomes a
pairwise tree of ReLU layers, ``max(a, b) = b + relu(a - b)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import InvalidNetworkError, ShapeMismatchError
from ..network import Activation, ActivationKind, DenseLayer
from ._frontier import Group, close_layer, nonnegative, rows_of
from ._onnx_ops import _FLOAT_MAX, MAX_ELEMENTS

__all__ = ["LayerBuilder", "LayerRecord"]


class LayerRecord:
    """What one layer of an imported network stands for.

    Attributes
    ----------
    name : str
        The layer's name, e.g. ``"layer 3 (MaxPool '/pool/MaxPool' level 1)"``.
    op : str
        The ONNX operator the layer comes from (the first one composed into it).
    neurons : int
        The layer's width.
    pass_through : int
        Neurons that only carry a tensor that a later node reads across the layer.
    """

    __slots__ = ("name", "op", "neurons", "pass_through")

    def __init__(self, name, op, neurons, pass_through):
        self.name, self.op, self.neurons, self.pass_through = name, op, neurons, pass_through

    def __repr__(self):
        return (
            f"LayerRecord({self.name!r}, neurons={self.neurons}, pass_through={self.pass_through})"
        )


def _compose(M, t, bias, n_front):
    """``M (A f + c) + bias`` of tensor ``t`` as ``(A', c')``."""
    A = M if t.A is None else M @ t.A
    c = bias if t.c is None else M @ t.c + bias
    return A, c


class LayerBuilder:
    """Live tensors, the frontier and the layers built so far (state of one graph walk)."""

    def __init__(self):
        self.layers, self.records, self.tensors = [], [], {}
        self._nonneg, self._n_front = None, 0  # None: no frontier value known to be >= 0
        self.cur = None

    # -- bookkeeping -----------------------------------------------------
    def start(self, name, tensor, n_inputs):
        """Begin with the graph input ``name``: the identity on ``n_inputs`` features."""
        self.tensors[name] = tensor
        self.current = name
        self._nonneg, self._n_front = None, n_inputs  # allocated on first use: the declared
        # input may be too large, which the first node that reads it reports

    def forget(self, index):
        """Drop the tensors that no node after ``index`` reads."""
        for name in [n for n in self.tensors if self.last_use.get(n, -1) <= index]:
            del self.tensors[name]

    @property
    def n_front(self):
        return self._n_front

    @property
    def front_nonneg(self):
        """Which frontier values are known to be >= 0."""
        if self._nonneg is None:
            self._nonneg = np.zeros(self._n_front, dtype=bool)
        return self._nonneg

    @front_nonneg.setter
    def front_nonneg(self, value):
        self._nonneg, self._n_front = value, value.size

    @property
    def act_open(self):
        """The data tensor is the unchanged output of the last (piecewise) layer."""
        return self.cur.open_act

    def finish(self, result):
        """Close a linear layer for the graph output unless it is the last layer's output."""
        if result.A is None and result.c is None:
            return  # the last layer's output, or no layer at all (which the caller refuses)
        self.cur = result
        result.origin = result.origin or ("output", self.output)
        self._close(Activation.LINEAR)

    def _origin(self):
        return (self.node.op_type, self.node.name or f"node{self.index}")

    def _set(self, A, c, *, dense):
        t = self.cur
        t.origin = t.origin or self._origin()
        t.A, t.c, t.dense, t.open_act = A, c, dense, False

    # -- affine maps -----------------------------------------------------
    def _push_dense(self, weights, bias):
        n_in = weights.shape[1]
        if n_in != self.n_features:
            raise ShapeMismatchError(
                f"load_onnx: node {self._label()} has a weight for {n_in} inputs but its input "
                f"tensor carries {self.n_features} features; the weights do not chain "
                "(Gemm reads B as (n_in, n_out) unless transB=1; check the exporter or the "
                "weights)."
            )
        if self.cur.dense:  # two dense maps in a row stay two layers
            self._close(Activation.LINEAR)
        self._set(*_compose(weights, self.cur, bias, self.n_front), dense=True)

    def _push_sparse(self, matrix, bias):
        """Compose the sparse map ``matrix x + bias`` (a convolution or pool) into the data."""
        A, c = _compose(matrix, self.cur, bias, self.n_front)
        if sp.issparse(A):
            A = sp.csr_array(A)
        self._set(A, c, dense=self.cur.dense)

    def _push_diag(self, scale, shift):
        t = self.cur
        if t.A is None:
            A = sp.diags_array(scale, format="csr")
        elif sp.issparse(t.A):
            A = sp.csr_array(t.A.multiply(scale[:, None]))
        else:
            A = scale[:, None] * t.A
        c = shift if t.c is None else scale * t.c + shift
        self._set(A, c, dense=t.dense)

    def _permute(self, order):
        """The data tensor's elements in the order ``order`` (a layout change)."""
        t = self.cur
        n = order.size
        if t.A is None:
            A = sp.csr_array((np.ones(n), (np.arange(n), order)), shape=(n, self.n_front))
        else:
            A = t.A[order]
        t.A, t.c = A, None if t.c is None else t.c[order]
        t.open_act = False

    # -- closing layers --------------------------------------------------
    def _live(self):
        """Groups carrying every tensor that a later node reads."""
        return [
            (t, Group(t.A, t.c, "carry"))
            for name, t in self.tensors.items()
            if self.last_use.get(name, -1) > self.index
        ]

    def _close_groups(self, groups, activation, what, op):
        """Close a layer of ``groups`` plus the live tensors; return the groups' new maps.

        ``what`` describes the layer in its name, e.g. ``"Conv '/conv1/Conv'"``.
        """
        live = self._live()
        name = f"layer {len(self.layers)} ({what})"
        try:
            layer, reps, nonneg, carried = close_layer(
                groups + [g for _, g in live], activation, self.front_nonneg, name
            )
        except InvalidNetworkError as exc:
            raise InvalidNetworkError(f"load_onnx: node {self._label()}: {exc}") from exc
        self.layers.append(layer)
        self.records.append(LayerRecord(name, op, layer.n_out, carried))
        self.front_nonneg = nonneg
        for (t, _), rep in zip(live, reps[len(groups) :]):
            t.A, t.c, t.dense, t.open_act, t.origin = rep, None, False, False, None
        return reps[: len(groups)]

    def _check_identity_size(self, t):
        if t.A is None and self.n_front > MAX_ELEMENTS // 10:
            n = self.n_front
            self._unsupported(
                f"it acts on {n:,} features without a dense layer before it, which would need "
                f"an identity layer of {n:,} x {n:,} weights",
                "Check the declared shape of the graph input. ",
            )

    def _close(self, activation):
        """Close the data tensor into a layer with ``activation``."""
        t = self.cur
        self._check_identity_size(t)
        op, label = t.origin or self._origin()
        if activation.kind is ActivationKind.CLIPPED_RELU:
            caps = activation.caps(rows_of(t.A, self.n_front).shape[0])
            group = Group(t.A, t.c, "clip", caps)
        else:
            group = Group(t.A, t.c, "act")
        (rep,) = self._close_groups([group], activation, f"{op} {label!r}", op)
        plain = rep is None
        t.A, t.c, t.dense, t.origin = rep, None, False, None
        t.open_act = plain and activation.is_piecewise

    def _activate(self, activation):
        self._close(activation)

    def _cap_last_layer(self, caps, scalar):
        """``min(x, caps)``: the cap of the last layer's ReLU when ``x`` is its unchanged
        output that no other node reads, else ``x - relu(x - caps)`` for ``x >= 0``."""
        others = [n for n in self.tensors if self.last_use.get(n, -1) > self.index]
        if not self.act_open or others:
            if not self.data_nonnegative():
                self._unsupported("Min(x, c) is read only as the cap of a preceding ReLU")
            if np.any(caps < _FLOAT_MAX):
                self._cap_nonnegative(caps)
            return
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
        self.front_nonneg = np.ones(last.n_out, dtype=bool)

    def data_nonnegative(self):
        """True when every element of the data tensor is known to be >= 0."""
        if self.cur.A is None and self._nonneg is None:  # the graph input: any sign
            return False
        return bool(np.all(nonnegative(self.cur.A, self.cur.c, self.front_nonneg)))

    def _cap_nonnegative(self, caps):
        """``min(x, c) = x - relu(x - c)`` for ``x >= 0``, in one ReLU layer."""
        t = self.cur
        A = rows_of(t.A, self.n_front)
        c = np.zeros(A.shape[0]) if t.c is None else t.c
        caps = np.broadcast_to(caps, c.shape)
        capped = np.flatnonzero(caps < _FLOAT_MAX)  # min(x, inf) = x needs no neuron
        excess = Group(A[capped], c[capped] - caps[capped], "act")
        op, label = self._origin()
        r_excess, r_keep = self._close_groups(
            [excess, Group(A, c, "keep")], Activation.RELU, f"{op} {label!r} cap", op
        )
        scatter = sp.csr_array(
            (np.ones(capped.size), (capped, np.arange(capped.size))), shape=(c.size, capped.size)
        )
        t.A, t.c, t.dense, t.open_act, t.origin = (
            sp.csr_array(r_keep - scatter @ r_excess), None, False, False, None,
        )  # fmt: skip

    # -- max pools -------------------------------------------------------
    def _max_tree(self, windows, label):
        """The data tensor's maxima over ``windows`` (rows of element indices, -1 unused).

        Level by level, the terms of each window are paired, ``max(a, b) = b + relu(a - b)``,
        in one ReLU layer holding ``relu(a - b)``, the pass-through of ``b`` and of an odd
        term; every level halves the number of terms.
        """
        t = self.cur
        terms = sp.csr_array(rows_of(t.A, self.n_front))
        bias = np.zeros(terms.shape[0]) if t.c is None else t.c
        level = 0
        while windows.shape[1] > 1:
            level += 1
            if windows.shape[1] % 2:
                windows = np.pad(windows, ((0, 0), (0, 1)), constant_values=-1)
            a, b = windows[:, 0::2], windows[:, 1::2]
            pair, solo = (a >= 0) & (b >= 0), (a >= 0) & (b < 0)
            if not pair.any():  # every window is down to one term
                windows = windows[:, :1]
                break
            pairs, pair_id = np.unique(np.stack([a[pair], b[pair]]), axis=1, return_inverse=True)
            kept, kept_id = np.unique(np.concatenate([pairs[1], a[solo]]), return_inverse=True)
            diff = Group(terms[pairs[0]] - terms[pairs[1]], bias[pairs[0]] - bias[pairs[1]], "act")
            keep = Group(terms[kept], bias[kept], "keep")
            r_diff, r_keep = self._close_groups(
                [diff, keep], Activation.RELU, f"MaxPool {label!r} level {level}", "MaxPool"
            )
            n_pairs = pairs.shape[1]
            terms = sp.vstack([r_keep[kept_id[:n_pairs]] + r_diff, r_keep[kept_id[n_pairs:]]])
            terms = sp.csr_array(terms)
            bias = np.zeros(terms.shape[0])
            nxt = np.full(a.shape, -1)
            nxt[pair] = pair_id.ravel()
            nxt[solo] = n_pairs + np.arange(int(solo.sum()))
            windows = nxt
        first = windows[:, 0]
        t.A, t.c, t.dense, t.open_act, t.origin = terms[first], bias[first], False, False, None
