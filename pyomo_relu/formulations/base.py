"""Shared pieces of the formulations: the prepared data and the formulation interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..bounds import NeuronBounds
from ..network import ReluNetwork


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

    def prepare(self, net: ReluNetwork, bounds: NeuronBounds, *, workers: int = 1,
                progress: bool = False) -> Prepared:
        return Prepared(net, bounds, bounds)

    def build(self, block, prepared: Prepared, inputs, outputs) -> dict:  # pragma: no cover
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<formulation {self.name!r}: {self.description}>"
