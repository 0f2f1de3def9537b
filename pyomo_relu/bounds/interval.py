"""Interval arithmetic bounds, sound under floating point.

For ``z = W a + b`` with ``a`` in ``[l, u]`` the exact interval image is
``W^+ u + W^- l + b`` (upper) and ``W^+ l + W^- u + b`` (lower).  Computed in
float64 each dot product of length ``n`` has an absolute error of at most
``gamma_n * (|W| max(|l|, |u|) + |b|)`` with ``gamma_n ~ n * eps/2``
(Higham, *Accuracy and Stability of Numerical Algorithms*, sec. 3.1); we pad
by ``(n + 2) * eps`` times that sum and round one ulp outward, so the result
contains every real pre-activation and every float64 forward pass.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..errors import NotApplicableError
from ..network import ReluNetwork
from .core import LayerPieces, NeuronBounds, check_box, pad_outward, require_network
from .registry import BoundMethod, register_bound_method

__all__ = ["interval_bounds", "affine_interval"]

_EPS = np.finfo(np.float64).eps


def _sign_parts(weights):
    """``(max(W, 0), min(W, 0), |W|, [W != 0])`` of dense or scipy.sparse weights."""
    if sp.issparse(weights):
        w = sp.csr_array(weights)
        if not w.has_canonical_format:  # a caller's raw matrix; layers are canonical already
            w = w.copy()
            w.sum_duplicates()
        data = w.data

        def like(values):
            return sp.csr_array((values, w.indices, w.indptr), shape=w.shape)

        pattern = like((data != 0.0).astype(np.float64))
        return like(np.maximum(data, 0.0)), like(np.minimum(data, 0.0)), like(abs(data)), pattern
    w = np.asarray(weights)
    return np.maximum(w, 0.0), np.minimum(w, 0.0), np.abs(w), (w != 0.0).astype(np.float64)


def affine_interval(weights, bias: np.ndarray, lo: np.ndarray, up: np.ndarray):
    """Sound bounds of ``weights @ a + bias`` for ``lo <= a <= up``.

    ``weights`` is a dense array or a ``scipy.sparse`` matrix; a sparse one is
    never densified (every product runs over its nonzeros only).  Both kinds give
    the same bounds up to the order of the floating-point sums, which the
    padding covers either way.
    """
    w_pos, w_neg, w_abs, pattern = _sign_parts(weights)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported by interval_bounds
        z_up = w_pos @ up + w_neg @ lo + bias
        z_lo = w_pos @ lo + w_neg @ up + bias
        a_mag = np.maximum(np.abs(lo), np.abs(up))
        mag = w_abs @ a_mag + np.abs(bias)
        # the ``tiny`` term covers products that underflow; a neuron without one nonzero
        # term (zero row and bias, or only zero activations) is exactly 0 and stays stable
        some_term = (pattern @ (a_mag != 0.0).astype(np.float64) > 0) | (bias != 0.0)
        slack = (weights.shape[1] + 2) * _EPS * mag + np.finfo(np.float64).tiny
    z_lo, z_up = pad_outward(z_lo, z_up, slack)
    return np.where(some_term, z_lo, 0.0), np.where(some_term, z_up, 0.0)


def interval_bounds(net: ReluNetwork, lb, ub) -> NeuronBounds:
    """Interval-arithmetic pre-activation bounds of every layer of ``net`` over ``[lb, ub]``.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
        Finite input box.

    Returns
    -------
    NeuronBounds
        With ``methods == ["interval"] * n_layers``.

    Raises
    ------
    NetworkTypeError
        If ``net`` is not a ReluNetwork.
    MissingBoundsError, InfeasibleBoxError, ShapeMismatchError
        For a missing/infinite, empty or wrongly sized box.
    NotApplicableError
        If a bound overflows float64 (an absurdly wide box).
    """
    require_network(net, "interval_bounds")
    lb, ub = check_box(net, lb, ub)
    lower, upper = [], []
    a_lo, a_up = lb, ub
    caps = NeuronBounds.caps_of(net)
    for k, layer in enumerate(net.layers):
        z_lo, z_up = affine_interval(layer.weights, layer.bias, a_lo, a_up)
        if not (np.all(np.isfinite(z_lo)) and np.all(np.isfinite(z_up))):
            raise NotApplicableError(
                f"interval_bounds: the pre-activation bounds of layer {k} overflow float64 (found "
                f"{np.max(np.maximum(np.abs(z_lo), np.abs(z_up)))}) for the input box "
                f"[{np.min(lb)}, {np.max(ub)}]; expected finite bounds - shrink the box or "
                "rescale the inputs."
            )
        lower.append(z_lo)
        upper.append(z_up)
        pieces = LayerPieces.of(z_lo, z_up, caps[k], not np.all(np.isnan(caps[k])))
        a_lo, a_up = pieces.post_lower, pieces.post_upper
    return NeuronBounds(lb, ub, lower, upper, ["interval"] * len(lower), caps)


def _interval_method(net: ReluNetwork, lb, ub, *, prior: NeuronBounds | None = None):
    """Interval bounds over ``[lb, ub]``, intersected with ``prior`` when given."""
    bounds = interval_bounds(net, lb, ub)
    return bounds if prior is None else bounds.intersect(prior)


register_bound_method(
    BoundMethod(
        name="interval",
        compute=_interval_method,
        description="interval arithmetic with outward rounding (exact for the first layer)",
    )
)
