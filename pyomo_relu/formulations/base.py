"""Shared pieces of the formulations: the prepared data, the formulation interface, per-network caches."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from ..bounds import NeuronBounds
from ..network import ReluNetwork


def recall(cache: dict, key, net):
    """The value :func:`remember` stored for ``net`` under ``key``, or None.

    Keys start with ``id(net)``, which a new network may reuse once the old one
    is gone: the stored weak reference tells the two apart.
    """
    hit = cache.get(key)
    return hit[1] if hit is not None and hit[0]() is net else None


def remember(cache: dict, key, net, value, *, size: int, too_big=None) -> None:
    """Store ``value`` for ``net`` in ``cache``, which never keeps a network (and its weights) alive.

    Entries of networks that no longer exist are dropped, then the oldest ones
    while more than ``size`` remain or ``too_big(values)`` holds (the newest is
    always kept).  Formulations use it so that indexed blocks embedding one
    network many times do the expensive preparation once.
    """
    for old in [k for k, (ref, _) in cache.items() if ref() is None]:
        del cache[old]
    cache[key] = (weakref.ref(net), value)
    while len(cache) > 1 and (
        len(cache) > size or (too_big is not None and too_big([v for _, v in cache.values()]))
    ):
        cache.pop(next(iter(cache)))


@dataclass
class Prepared:
    """What a formulation writes rows for.

    Attributes
    ----------
    network : ReluNetwork
        The network whose rows are written (may be a rescaled copy of the user's).
    bounds : NeuronBounds
        Sound bounds of ``network``'s pre-activations.
    original_bounds : NeuronBounds
        Bounds of the user's network (same as ``bounds`` unless rescaled).
    scaling : object or None
        The :class:`~pyomo_relu.reductions.ScaledNetwork` when the network was rescaled.
    report : object or None
        A tightening report when the formulation tightened bounds.
    """

    network: ReluNetwork
    bounds: NeuronBounds
    original_bounds: NeuronBounds
    scaling: Any = None
    report: Any = None
    info: dict = field(default_factory=dict)


class Formulation:
    """A MIP formulation: numeric preparation, then Pyomo rows.

    Subclasses (kept shallow) override :meth:`prepare`; row writing is shared.
    """

    name = "base"
    description = ""

    def prepare(
        self, net: ReluNetwork, bounds: NeuronBounds, *, workers: int = 1, progress: bool = False
    ) -> Prepared:
        return Prepared(net, bounds, bounds)

    def build(self, block, prepared: Prepared, inputs, outputs) -> dict:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<formulation {self.name!r}: {self.description}>"
