"""Checks of bounds handed in by a caller (pure: no Pyomo).

Functions that take ``bounds=`` (reductions, region counts, formulations) use
these to refuse bounds of the wrong type or structure, and bounds that belong
to another network of the same shape.
"""

from __future__ import annotations

import numpy as np

from ..errors import ShapeMismatchError
from ..network import ReluNetwork
from .core import NeuronBounds, require_bounds

__all__ = ["validated_bounds", "check_sound_at_samples"]


def validated_bounds(bounds, what: str, net: ReluNetwork | None = None) -> NeuronBounds:
    """Check the type, structure and numbers of ``bounds``; return a float64 copy.

    The copy has one array per layer in ``lower``, ``upper`` and ``caps`` (caps
    left out of hand-made bounds mean plain ReLU layers, or are taken from ``net``).

    Raises
    ------
    BoundsTypeError
        If ``bounds`` is not a NeuronBounds.
    ShapeMismatchError
        If its lists do not have one entry per layer, or do not fit ``net``.
    MissingBoundsError, InfeasibleBoxError
        For NaN bounds (or an infinite input box) and crossed bounds.
    """
    require_bounds(bounds, what)
    n = len(bounds.lower)
    counts = {"upper": len(bounds.upper), "methods": len(bounds.methods)}
    if bounds.caps:
        counts["caps"] = len(bounds.caps)
    bad = {name: c for name, c in counts.items() if c != n}
    if bad:
        raise ShapeMismatchError(
            f"{what}: NeuronBounds has {n} layers of lower bounds but {bad}; expected one entry "
            "per "
            "layer in lower, upper, methods (and caps) - recompute the bounds."
        )

    def vec(v, name):
        try:
            arr = np.array(v, dtype=np.float64).reshape(-1) if np.ndim(v) <= 1 else None
        except (TypeError, ValueError):
            arr = None
        if arr is None:
            raise ShapeMismatchError(
                f"{what}: NeuronBounds {name} is {v!r:.80}; expected a 1-D array of numbers."
            )
        return arr

    lower = [vec(lo, f"lower[{k}]") for k, lo in enumerate(bounds.lower)]
    upper = [vec(up, f"upper[{k}]") for k, up in enumerate(bounds.upper)]
    caps = [vec(c, f"caps[{k}]") for k, c in enumerate(bounds.caps)] if bounds.caps else None
    if net is not None:
        NeuronBounds(
            vec(bounds.input_lb, "input_lb"), vec(bounds.input_ub, "input_ub"), lower, upper, []
        ).check_network(net)
        caps = NeuronBounds.caps_of(net)
    elif caps is None:
        caps = [np.full(lo.size, np.inf) for lo in lower]
    for k, (lo, up, cap) in enumerate(zip(lower, upper, caps)):
        if not lo.size == up.size == cap.size:
            raise ShapeMismatchError(
                f"{what}: NeuronBounds layer {k} has {lo.size} lower, {up.size} upper bounds and "
                f"{cap.size} "
                "caps; expected one of each per neuron - recompute the bounds."
            )
    out = NeuronBounds(
        vec(bounds.input_lb, "input_lb"),
        vec(bounds.input_ub, "input_ub"),
        lower,
        upper,
        [str(m) for m in bounds.methods],
        caps,
    )
    out.check_consistent(what)
    return out


def check_sound_at_samples(net: ReluNetwork, bounds: NeuronBounds, lb, ub, what: str) -> None:
    """Spot check: the bounds must contain ``net``'s pre-activations at points of ``[lb, ub]``.

    Bounds computed for another network of the same shape pass every shape check
    but make the result silently wrong.  The check evaluates the centre, the
    corners (up to 8 free inputs) and 64 seeded random points of the box.  Layers
    whose method mentions ``model`` or ``constrained`` (tightened with a model's
    or the caller's constraints, so valid only on their feasible set) are skipped.

    Raises
    ------
    ShapeMismatchError
        If a pre-activation lies outside its bounds by more than ``1e-6`` relative.
    """
    lb, ub = np.asarray(lb, dtype=np.float64), np.asarray(ub, dtype=np.float64)
    free = np.flatnonzero(ub > lb)
    y = [np.full((1, free.size), 0.5), np.random.default_rng(0).random((64, free.size))]
    if 1 <= free.size <= 8:
        y.append(
            np.stack(np.meshgrid(*([0.0, 1.0],) * free.size, indexing="ij"), -1).reshape(
                -1, free.size
            )
        )
    y = np.vstack(y)
    x = np.repeat(lb[None, :], len(y), axis=0)
    x[:, free] = np.clip(lb[free] + (ub - lb)[free] * y, lb[free], ub[free])
    skip = set(bounds.constrained_layers())
    for k, z in enumerate(net.preactivations(x)):
        if k in skip:
            continue
        tol = 1e-6 * (1.0 + np.abs(z).max())
        low, high = bounds.lower[k] - z, z - bounds.upper[k]
        viol = np.maximum(low, high)
        if viol.max() > tol:
            i, j = np.unravel_index(int(np.argmax(viol)), viol.shape)
            raise ShapeMismatchError(
                f"{what}: the bounds ({bounds.methods[k]}) of layer {k} neuron {j} are "
                f"[{bounds.lower[k][j]:.6g}, {bounds.upper[k][j]:.6g}] but the network's "
                "pre-activation at "
                f"input {x[i].tolist()} is {z[i, j]:.6g}; expected sound bounds of this network "
                "over the box - "
                "they were computed for another network or hold only on part of the box; "
                "recompute them, "
                "e.g. with interval_bounds(net, lb, ub)."
            )
