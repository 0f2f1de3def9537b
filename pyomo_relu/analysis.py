"""Read-only indicators of how hard a network is to optimize over.

* :func:`stable_fraction` - the share of piecewise neurons that are *stable*:
  their pre-activation bounds keep them on one piece over the whole input box
  (``u <= 0``: inactive; ``0 <= l`` and ``u <= cap``: linear/active;
  ``l >= cap``: saturated), so a formulation needs no binary for them.  The
  answer depends on the bounds, so the report names their method(s)
  (``"interval"`` or a tightened ``"lp"`` / ``"milp"``).
* :func:`big_m_report` - statistics of the big-M values ``M = max(|l|, |u|)``
  of the unstable neurons, per layer and overall, and the number of binaries.
* :func:`count_linear_regions` - the number of linear regions of the network
  on the box (definition and algorithms in its docstring).

These indicators are the ones used by Plate et al., "An analysis of
optimization problems involving ReLU neural networks" (arXiv 2502.03016,
2025).  The module is pure numpy (no Pyomo).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .bounds.checks import validated_bounds
from .bounds.core import NeuronBounds
from .regions import RegionCount, count_linear_regions

__all__ = [
    "stable_fraction",
    "big_m_report",
    "count_linear_regions",
    "StableReport",
    "LayerStability",
    "BigMReport",
    "BigMStats",
    "RegionCount",
]


def _pct(x: float) -> str:
    return f"{100.0 * x:5.1f}%"


def _methods(bounds: NeuronBounds, layers) -> tuple[str, ...]:
    return tuple(dict.fromkeys(bounds.methods[k] for k in layers)) or tuple(
        dict.fromkeys(bounds.methods)
    )


def _piecewise_layers(bounds: NeuronBounds) -> list[int]:
    return [k for k in range(bounds.n_layers) if bounds.is_piecewise(k)]


# -- stable neurons -----------------------------------------------------------
@dataclass(frozen=True)
class LayerStability:
    """Stable neurons of one piecewise layer (the three kinds are disjoint).

    ``inactive``: ``u <= 0``; ``saturated``: ``l >= cap`` (clipped ReLU);
    ``active``: on the linear piece (``0 <= l``, ``u <= cap``).
    """

    layer: int
    n: int
    active: int
    inactive: int
    saturated: int
    method: str

    @property
    def stable(self) -> int:
        return self.active + self.inactive + self.saturated

    @property
    def fraction(self) -> float:
        """Share of stable neurons (1.0 for an empty layer: nothing needs a binary)."""
        return self.stable / self.n if self.n else 1.0

    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "n": self.n,
            "active": self.active,
            "inactive": self.inactive,
            "saturated": self.saturated,
            "stable": self.stable,
            "fraction": self.fraction,
            "method": self.method,
        }


@dataclass(frozen=True)
class StableReport:
    """Stable neurons per piecewise layer and overall; see :func:`stable_fraction`."""

    layers: tuple[LayerStability, ...]
    methods: tuple[str, ...]

    @property
    def n(self) -> int:
        return sum(s.n for s in self.layers)

    @property
    def n_stable(self) -> int:
        return sum(s.stable for s in self.layers)

    @property
    def fraction(self) -> float:
        """Share of stable piecewise neurons of the whole network (1.0 if there are none)."""
        return self.n_stable / self.n if self.n else 1.0

    def to_dict(self) -> dict:
        return {
            "methods": list(self.methods),
            "n": self.n,
            "stable": self.n_stable,
            "fraction": self.fraction,
            "layers": [s.to_dict() for s in self.layers],
        }

    def __str__(self) -> str:
        lines = [
            f"Stable neurons (bounds: {', '.join(self.methods)})",
            f"  {'layer':>5} {'n':>6} {'active':>7} {'inactive':>8} {'saturated':>9} {'stable':>7}",
        ]
        for s in self.layers:
            lines.append(
                f"  {s.layer:>5} {s.n:>6} {s.active:>7} {s.inactive:>8} {s.saturated:>9} "
                f"{_pct(s.fraction):>7}"
            )
        lines.append(
            f"  {'total':>5} {self.n:>6} {sum(s.active for s in self.layers):>7} "
            f"{sum(s.inactive for s in self.layers):>8} {sum(s.saturated for s in self.layers):>9} "
            f"{_pct(self.fraction):>7}"
        )
        return "\n".join(lines)


def stable_fraction(bounds: NeuronBounds) -> StableReport:
    """Count the stable neurons of every piecewise (ReLU / clipped ReLU) layer.

    A neuron is stable when its pre-activation bounds ``[l, u]`` lie within one
    piece of its activation, so a big-M formulation needs no binary for it.
    Linear layers (normally the output layer) are not counted.

    Parameters
    ----------
    bounds : NeuronBounds
        Sound bounds of the network over the input box; tighter bounds (LP,
        MILP) find more stable neurons than interval bounds.

    Returns
    -------
    StableReport
        Per layer ``n``, ``active``, ``inactive``, ``saturated``, ``stable``,
        ``fraction``, the bounds' method; overall ``n``, ``n_stable``,
        ``fraction`` and ``methods``.

    Raises
    ------
    BoundsTypeError
        If ``bounds`` is not a NeuronBounds.
    ShapeMismatchError
        If its per-layer lists do not fit together.
    MissingBoundsError, InfeasibleBoxError
        If a bound is NaN or a lower bound exceeds its upper bound.
    """
    bounds = validated_bounds(bounds, "stable_fraction")
    layers = []
    for k in _piecewise_layers(bounds):
        pieces = bounds.pieces(k)
        inactive, saturated, active = pieces.inactive, pieces.saturated, pieces.linear
        layers.append(
            LayerStability(
                k,
                len(bounds.lower[k]),
                int(active.sum()),
                int(inactive.sum()),
                int(saturated.sum()),
                str(bounds.methods[k]),
            )
        )
    return StableReport(tuple(layers), _methods(bounds, [s.layer for s in layers]))


# -- big-M statistics ---------------------------------------------------------
@dataclass(frozen=True)
class BigMStats:
    """Big-M statistics over the unstable neurons of one layer (``layer=None``: all layers).

    ``m_*`` are over ``M = max(|l|, |u|)``; ``max_abs_lower`` is ``max |l|``
    and ``max_upper`` is ``max u``; ``ratio`` is ``m_max / m_min``.  The
    statistics are None when there is no unstable neuron.
    """

    layer: int | None
    n: int
    n_unstable: int
    n_binaries: int
    m_max: float | None
    m_mean: float | None
    m_min: float | None
    max_abs_lower: float | None
    max_upper: float | None

    @property
    def ratio(self) -> float | None:
        if self.m_max is None:
            return None
        return float("inf") if np.isinf(self.m_max) else self.m_max / self.m_min

    @staticmethod
    def of(
        layer, lower: np.ndarray, upper: np.ndarray, unstable: np.ndarray, n_binaries: int
    ) -> BigMStats:
        lo, up = lower[unstable], upper[unstable]
        n, nu = len(lower), int(unstable.sum())
        if nu == 0:
            return BigMStats(layer, n, 0, int(n_binaries), None, None, None, None, None)
        m = np.maximum(np.abs(lo), np.abs(up))
        return BigMStats(
            layer,
            n,
            nu,
            int(n_binaries),
            float(m.max()),
            float(m.mean()),
            float(m.min()),
            float(np.abs(lo).max()),
            float(up.max()),
        )

    def to_dict(self) -> dict:
        keys = (
            "layer",
            "n",
            "n_unstable",
            "n_binaries",
            "m_max",
            "m_mean",
            "m_min",
            "max_abs_lower",
            "max_upper",
            "ratio",
        )
        return {key: getattr(self, key) for key in keys}

    def row(self) -> str:
        def f(v):
            return f"{v:10.4g}" if v is not None else f"{'-':>10}"

        name = "total" if self.layer is None else str(self.layer)
        return (
            f"  {name:>5} {self.n:>6} {self.n_unstable:>8} {self.n_binaries:>8} {f(self.m_max)} "
            f"{f(self.m_mean)} {f(self.m_min)} {f(self.max_abs_lower)} {f(self.max_upper)} "
            f"{f(self.ratio)}"
        )


@dataclass(frozen=True)
class BigMReport:
    """Big-M statistics per piecewise layer and overall; see :func:`big_m_report`."""

    layers: tuple[BigMStats, ...]
    total: BigMStats
    methods: tuple[str, ...]

    @property
    def n_binaries(self) -> int:
        return self.total.n_binaries

    def to_dict(self) -> dict:
        return {
            "methods": list(self.methods),
            "total": self.total.to_dict(),
            "layers": [s.to_dict() for s in self.layers],
        }

    def __str__(self) -> str:
        head = (
            f"  {'layer':>5} {'n':>6} {'unstable':>8} {'binaries':>8} {'M max':>10} {'M mean':>10} "
            f"{'M min':>10} {'max |l|':>10} {'max u':>10} {'max/min':>10}"
        )
        lines = [
            "Big-M values M = max(|l|, |u|) of unstable neurons (bounds: "
            f"{', '.join(self.methods)})",
            head,
        ]
        lines += [s.row() for s in self.layers] + [self.total.row()]
        return "\n".join(lines)


def big_m_report(bounds: NeuronBounds) -> BigMReport:
    """Big-M statistics of the unstable neurons of every piecewise layer.

    For an unstable neuron with bounds ``l < 0 < u`` the big-M rows
    ``y <= z - l (1 - d)`` and ``y <= u d`` use ``|l|`` and ``u``; we report
    ``M = max(|l|, |u|)`` (max, mean, min and max/min ratio), ``max |l|``,
    ``max u``, and the number of binaries a big-M formulation needs
    (:meth:`NeuronBounds.n_binaries`: one per reachable kink, so up to two
    for a clipped ReLU).  Stable neurons need no big-M and are left out.

    Parameters
    ----------
    bounds : NeuronBounds

    Returns
    -------
    BigMReport
        ``layers`` (one :class:`BigMStats` per piecewise layer), ``total``
        (over all of them) and the bounds' ``methods``.  Infinite bounds give
        infinite statistics (and ``ratio = inf``).

    Raises
    ------
    BoundsTypeError, ShapeMismatchError, MissingBoundsError, InfeasibleBoxError
        As :func:`stable_fraction`.
    """
    bounds = validated_bounds(bounds, "big_m_report")
    stats, lows, ups, masks, n_bin = [], [], [], [], 0
    for k in _piecewise_layers(bounds):
        unstable = bounds.unstable(k)
        nb = int(bounds.n_binaries(k).sum())
        stats.append(BigMStats.of(k, bounds.lower[k], bounds.upper[k], unstable, nb))
        lows.append(bounds.lower[k])
        ups.append(bounds.upper[k])
        masks.append(unstable)
        n_bin += nb
    if stats:
        total = BigMStats.of(
            None, np.concatenate(lows), np.concatenate(ups), np.concatenate(masks), n_bin
        )
    else:
        total = BigMStats(None, 0, 0, 0, None, None, None, None, None)
    return BigMReport(tuple(stats), total, _methods(bounds, [s.layer for s in stats]))
