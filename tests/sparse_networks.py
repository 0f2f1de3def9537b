"""Generated networks whose layers are random scipy.sparse matrices, and their dense twins."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import strategies as st

from pyomo_relu import Activation, DenseLayer, ReluNetwork


def random_sparse_matrix(rng, n_out, n_in, density=0.4, *, empty_row=False, empty_col=False):
    """A random CSR matrix with about ``density`` nonzeros; optionally one empty row/column."""
    mask = rng.random((n_out, n_in)) < density
    values = rng.normal(size=(n_out, n_in)) * np.sqrt(2.0 / max(1, n_in * density))
    dense = np.where(mask, values, 0.0)
    if empty_row:
        dense[rng.integers(n_out)] = 0.0
    if empty_col:
        dense[:, rng.integers(n_in)] = 0.0
    return sp.csr_array(dense)


def sparse_network(sizes, *, seed=0, density=0.4, clipped=False, cap=1.0, empty=True):
    """A network of random sparse layers (inputs first); a linear output layer.

    With ``empty``, every hidden layer has one empty row (a constant neuron) and one
    empty column (an input it ignores).
    """
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        hidden = k < len(sizes) - 2
        w = random_sparse_matrix(
            rng, sizes[k + 1], sizes[k], density, empty_row=empty and hidden, empty_col=empty
        )
        b = rng.normal(size=sizes[k + 1]) * 0.5
        if not hidden:
            act = Activation.LINEAR
        else:
            act = Activation.CLIPPED_RELU(cap) if clipped else Activation.RELU
        layers.append(DenseLayer(w, b, act, name=f"layer {k}"))
    return ReluNetwork(layers)


def dense_twin(net: ReluNetwork) -> ReluNetwork:
    """The same network with every layer's weights stored dense."""
    return net.with_layers(
        [DenseLayer(L.dense_weights(), L.bias, L.activation) for L in net.layers]
    )


@st.composite
def sparse_networks(draw, *, max_in=3, max_width=6, max_hidden=2, clipped=None):
    """Hypothesis strategy: (sparse network, lb, ub, rng) on a small box."""
    n_in = draw(st.integers(1, max_in))
    hidden = draw(st.lists(st.integers(1, max_width), min_size=1, max_size=max_hidden))
    sizes = (n_in, *hidden, draw(st.integers(1, 2)))
    seed = draw(st.integers(0, 2**32 - 1))
    density = draw(st.sampled_from([0.2, 0.5, 0.9]))
    use_clip = draw(st.booleans()) if clipped is None else clipped
    net = sparse_network(
        sizes, seed=seed, density=density, clipped=use_clip, cap=draw(st.floats(0.2, 3.0))
    )
    rng = np.random.default_rng(seed)
    lb = rng.uniform(-2, 1, size=n_in)
    ub = lb + rng.uniform(0.1, 2, size=n_in)
    return net, lb, ub, rng


def conv_matrix(rng, c_in, h, w, c_out, *, kernel=3, stride=1, pad=1):
    """CSR matrix of a random ``kernel x kernel`` convolution on a ``(c_in, h, w)`` tensor.

    Row ``(o, i, j)`` (channel-major, as ONNX flattens) holds the kernel's taps on
    the input pixels it covers: a convolution lowered to an affine map.  Returns
    the matrix and the output shape ``(c_out, h_out, w_out)``.
    """
    h_out, w_out = (h + 2 * pad - kernel) // stride + 1, (w + 2 * pad - kernel) // stride + 1
    taps = rng.normal(size=(c_out, c_in, kernel, kernel)) * np.sqrt(2.0 / (c_in * kernel**2))
    rows, cols, vals = [], [], []
    for o, i, j in np.ndindex(c_out, h_out, w_out):
        for c, di, dj in np.ndindex(c_in, kernel, kernel):
            y, x = i * stride + di - pad, j * stride + dj - pad
            if 0 <= y < h and 0 <= x < w:
                rows.append((o * h_out + i) * w_out + j)
                cols.append((c * h + y) * w + x)
                vals.append(taps[o, c, di, dj])
    shape = (c_out * h_out * w_out, c_in * h * w)
    return sp.csr_array((vals, (rows, cols)), shape=shape), (c_out, h_out, w_out)


def conv_network(*, seed=0):
    """1x8x8 -> conv 4x8x8 -> conv (stride 2) 8x4x4 -> dense 10, the conv layers sparse."""
    rng = np.random.default_rng(seed)
    w0, s0 = conv_matrix(rng, 1, 8, 8, 4)
    w1, s1 = conv_matrix(rng, *s0, 8, stride=2)
    w2 = rng.normal(size=(10, w1.shape[0])) * np.sqrt(2.0 / w1.shape[0])
    layers = [
        DenseLayer(w0, rng.normal(size=w0.shape[0]) * 0.1, name="conv 0"),
        DenseLayer(w1, rng.normal(size=w1.shape[0]) * 0.1, name="conv 1"),
        DenseLayer(w2, rng.normal(size=10) * 0.1, Activation.LINEAR, name="dense"),
    ]
    return ReluNetwork(layers)
