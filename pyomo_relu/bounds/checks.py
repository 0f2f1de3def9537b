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
    """``bounds`` after checking its type and, with ``net``, that it fits that network.

    A NeuronBounds checked its own structure and numbers when it was built;
    what remains to check here is what it cannot know: the caller's argument
    may be something else, and the bounds may belong to another network.  With
    ``net`` the result carries ``net``'s caps (bounds made by hand without caps
    read as plain ReLU layers).

    Raises
    ------
    BoundsTypeError
        If ``bounds`` is not a NeuronBounds.
    ShapeMismatchError
        If the bounds do not fit ``net``.
    """
    require_bounds(bounds, what)
    if net is None:
        return bounds
    bounds.check_network(net)
    caps = NeuronBounds.caps_of(net)
    same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(caps, bounds.caps))
    return bounds if same else bounds.replace(caps=caps)


def check_sound_at_samples(net: ReluNetwork, bounds: NeuronBounds, lb, ub, what: str) -> None:
    """Spot check: the bounds must contain ``net``'s pre-activations at points of ``[lb, ub]``.

    Bounds computed for another network of the same shape pass every shape check
    but make the result silently wrong.  The check evaluates the centre, the
    corners (up to 8 free inputs) and 64 seeded random points of the box.  Layers
    whose provenance scope is not the box (:meth:`NeuronBounds.constrained_layers`: tightened
    with a model's or the caller's constraints, so valid only on their feasible set) are skipped.

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
