"""Inner estimates of the neuron bounds from sampled forward passes (not sound bounds).

The minimum and maximum pre-activation over the corners, the centre and seeded
random points of the input box are values the network *reaches*, so every
sound bound must contain them: they show how loose the sound bounds are, and
tests use them to check soundness.  They are not bounds themselves (a point
not sampled may go further), so the method is registered with
``certified=False``: ``bound_method_names(certified=True)`` leaves it out, and
its bounds must never be handed to a formulation.

This module is also the worked example of adding a bound method: one function
and one :func:`~.registry.register_bound_method` call (``docs/extending.md``).
"""

from __future__ import annotations

import numpy as np

from ..network import ReluNetwork
from .core import NeuronBounds, check_box
from .registry import BoundMethod, register_bound_method

__all__ = ["sampled_bounds"]


def sampled_bounds(
    net: ReluNetwork, lb, ub, *, prior: NeuronBounds | None = None, n_samples: int = 10_000,
    seed: int = 0,
) -> NeuronBounds:  # fmt: skip
    """Range of every pre-activation over sampled points of ``[lb, ub]`` (an inner estimate).

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like
        The input box.
    prior : NeuronBounds, optional
        Ignored (sampled ranges are not intersected with sound bounds).
    n_samples : int
        Random points, besides the centre and up to 256 corners.
    seed : int
        Seed of the random points.

    Returns
    -------
    NeuronBounds
        Provenance ``sampled``; ``lower[k] <= z_k <= upper[k]`` at every sampled point.
    """
    lb, ub = check_box(net, lb, ub, what="sampled_bounds")
    rng = np.random.default_rng(seed)
    points = [
        lb + (ub - lb) * rng.random((max(int(n_samples), 1), net.n_inputs)),
        (lb + ub)[None] / 2,
    ]
    if net.n_inputs <= 8:
        corners = np.stack(np.meshgrid(*([0.0, 1.0],) * net.n_inputs, indexing="ij"), -1)
        points.append(lb + (ub - lb) * corners.reshape(-1, net.n_inputs))
    a = np.vstack(points)
    lower, upper = [], []
    for layer in net.layers:
        z = layer.preactivation(a)
        lower.append(z.min(axis=0))
        upper.append(z.max(axis=0))
        a = layer.activation.apply(z)
    return NeuronBounds(lb, ub, lower, upper, ["sampled"] * net.n_layers, NeuronBounds.caps_of(net))


register_bound_method(
    BoundMethod(
        name="sampled",
        compute=sampled_bounds,
        description="range over sampled forward passes: an inner estimate, not sound bounds",
        certified=False,
    )
)
