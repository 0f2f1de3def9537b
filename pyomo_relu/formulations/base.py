"""Shared pieces of the formulations: prepared data, build statistics, the interface, caches."""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any

from ..bounds import NeuronBounds
from ..errors import NotApplicableError
from ..network import ReluNetwork


class PreparationCache:
    """Recent results of an expensive preparation, per network object; never keeps a network alive.

    A formulation owns one, so that indexed blocks embedding one network many
    times (e.g. once per time period) do the expensive preparation (LP
    tightening, region enumeration) once.  Keys start with ``id(net)``, which a
    new network may reuse once the old one is gone: the stored weak reference
    tells the two apart.

    Parameters
    ----------
    size : int
        Entries kept at most (the oldest are dropped first).
    too_big : callable, optional
        ``too_big(values) -> bool``: drop the oldest entries while it holds
        (the newest entry is always kept).
    """

    def __init__(self, size: int, too_big=None):
        self.size, self.too_big = int(size), too_big
        self._entries: dict = {}

    def __len__(self) -> int:
        return len(self._entries)

    def values(self) -> list:
        """The stored values, oldest first."""
        return [v for _, v in self._entries.values()]

    def clear(self) -> None:
        self._entries.clear()

    def recall(self, key, net):
        """The value :meth:`remember` stored for ``net`` under ``key``, or None."""
        hit = self._entries.get(key)
        return hit[1] if hit is not None and hit[0]() is net else None

    def remember(self, key, net, value) -> None:
        """Store ``value`` for ``net`` under ``key``; drop dead and then the oldest entries."""
        cache = self._entries
        for old in [k for k, (ref, _) in cache.items() if ref() is None]:
            del cache[old]
        cache[key] = (weakref.ref(net), value)
        while len(cache) > 1 and (
            len(cache) > self.size or (self.too_big is not None and self.too_big(self.values()))
        ):
            cache.pop(next(iter(cache)))

    def __getstate__(self):
        # weak references do not pickle; a copied formulation starts with an empty cache
        return {"size": self.size, "too_big": self.too_big, "_entries": {}}


@dataclass(frozen=True)
class BuildStats:
    """What :meth:`Formulation.build` wrote.

    Attributes
    ----------
    binaries : int
        Binary variables.
    stable, unstable, dropped : int
        Piecewise neurons written as linear (stable active or saturated), with
        an encoding (unstable), or left out (stable at 0).
    rows, variables : int
        Constraints and variables written (without the block's input box rows).
    encoding : str
        Name of the per-neuron encoding (``"regions-log"`` / ``"regions-unary"`` for ``regions``).
    regions, corners : int or None
        Linear regions and region corners (region formulation only).
    used : str or None
        The formulation ``auto`` picked.
    scaling : str or None
        The rescaling rule that ran (``scaled_*`` formulations), e.g. ``"max_abs"``.
    decision : str or None
        Why ``auto`` picked ``used`` (the estimates and budgets it compared).
    decision_seconds : float or None
        Seconds ``auto`` spent deciding (estimates, probes and any region
        enumeration), before the preparation of the formulation it picked.
    """

    binaries: int
    stable: int = 0
    unstable: int = 0
    dropped: int = 0
    rows: int = 0
    variables: int = 0
    encoding: str = ""
    regions: int | None = None
    corners: int | None = None
    used: str | None = None
    scaling: str | None = None
    decision: str | None = None
    decision_seconds: float | None = None

    def facts(self) -> dict:
        """The formulation-specific facts that are set (``regions``, ``corners``, ``used``,
        ``scaling``, ``decision``, ``decision_seconds``)."""
        facts = {
            "regions": self.regions,
            "corners": self.corners,
            "used": self.used,
            "scaling": self.scaling,
            "decision": self.decision,
            "decision_seconds": self.decision_seconds,
        }
        return {k: v for k, v in facts.items() if v is not None}


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

    Concrete formulations compose reduction steps and a writer
    (:class:`~pyomo_relu.formulations.layered.LayerFormulation`) or write their
    own rows (:class:`~pyomo_relu.formulations.regions.Regions`).
    """

    name = "base"
    description = ""

    def prepare(
        self, net: ReluNetwork, bounds: NeuronBounds, *, workers: int = 1, progress: bool = False
    ) -> Prepared:
        return Prepared(net, bounds, bounds)

    def build(self, block, prepared: Prepared, inputs, outputs) -> BuildStats:  # pragma: no cover
        raise NotImplementedError

    def preactivation(self, mip, prepared: Prepared, inputs: list, outputs, k: int, j: int):
        """Pyomo variable or expression of neuron ``(k, j)``'s pre-activation in ``mip``'s rows.

        Raises
        ------
        NotApplicableError
            If the formulation has no per-neuron rows (e.g. ``regions``).
        """
        raise NotApplicableError(
            f"formulation {self.name!r} writes no per-neuron rows, so neuron ({k}, {j}) has no "
            "pre-activation in the model; rebuild the block with a layer formulation such as "
            "'bigm' (block.rebuild(formulation='bigm'))."
        )

    def __repr__(self) -> str:
        return f"<formulation {self.name!r}: {self.description}>"
