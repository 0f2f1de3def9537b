"""What a bound-tightening run did, layer by layer.

A :class:`TighteningReport` is returned by :func:`~pyomo_relu.bounds.parallel.tighten`
(and attached as ``bounds.report`` by ``lp_bounds`` / ``milp_bounds``).  Per
layer it records the wall time, the number of LP/MILP solves, how many
neurons were stable before and after, and the big-M statistics
``M = max(|l|, |u|)`` over the unstable neurons (over all neurons of a linear
layer, where ``M`` is the width of the output's range).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from .core import NeuronBounds

__all__ = ["LayerReport", "TighteningReport", "layer_statistics"]


def layer_statistics(bounds: NeuronBounds, k: int) -> tuple[int, float, float]:
    """``(n_stable, mean_M, max_M)`` of layer ``k``.

    ``M = max(|l|, |u|)`` is taken over the unstable neurons of a piecewise
    layer (0.0 when all are stable) and over all neurons of a linear layer.
    """
    m = bounds.big_m(k)
    if bounds.is_piecewise(k):
        unstable = bounds.unstable(k)
        n_stable = int((~unstable).sum())
        m = m[unstable]
    else:
        n_stable = len(m)
    if m.size == 0:
        return n_stable, 0.0, 0.0
    return n_stable, float(m.mean()), float(m.max())


@dataclass
class LayerReport:
    """Tightening statistics of one layer (``*_before`` / ``*_after`` refer to the bounds)."""

    layer: int
    n_neurons: int
    piecewise: bool
    time: float = 0.0
    n_candidates: int = 0
    n_solves: int = 0
    n_time_limited: int = 0
    stable_before: int = 0
    stable_after: int = 0
    mean_m_before: float = 0.0
    mean_m_after: float = 0.0
    max_m_before: float = 0.0
    max_m_after: float = 0.0

    def record_before(self, bounds: NeuronBounds) -> None:
        self.stable_before, self.mean_m_before, self.max_m_before = layer_statistics(
            bounds, self.layer
        )

    def record_after(self, bounds: NeuronBounds) -> None:
        self.stable_after, self.mean_m_after, self.max_m_after = layer_statistics(
            bounds, self.layer
        )


@dataclass
class TighteningReport:
    """Per-layer record of one tightening run.

    Attributes
    ----------
    method : str
        ``"lp"`` or ``"milp"``.
    workers : int
        Worker processes used (1: serial; for a user executor, the chunk hint).
    layers : list of LayerReport
    total_time : float
        Wall time of the whole run in seconds (including pool start-up).
    """

    method: str
    workers: int = 1
    layers: list = field(default_factory=list)
    total_time: float = 0.0

    @property
    def n_solves(self) -> int:
        return sum(r.n_solves for r in self.layers)

    @property
    def n_time_limited(self) -> int:
        return sum(r.n_time_limited for r in self.layers)

    def to_dict(self) -> dict:
        """Plain-data form (JSON-serializable)."""
        return {
            "method": self.method,
            "workers": self.workers,
            "total_time": self.total_time,
            "n_solves": self.n_solves,
            "n_time_limited": self.n_time_limited,
            "layers": [asdict(r) for r in self.layers],
        }

    def __str__(self) -> str:
        head = (
            f"{'layer':>5} {'neurons':>7} {'solves':>6} {'limited':>7} {'stable':>13} "
            f"{'mean M':>21} {'max M':>21} {'time s':>8}"
        )
        lines = [
            f"{self.method.upper()} bound tightening, workers={self.workers}, "
            f"{self.n_solves} solves in {self.total_time:.2f} s",
            head,
            "-" * len(head),
        ]
        for r in self.layers:
            stable = f"{r.stable_before}->{r.stable_after}" if r.piecewise else "(linear)"
            lines.append(
                f"{r.layer:>5} {r.n_neurons:>7} {r.n_solves:>6} {r.n_time_limited:>7} {stable:>13} "
                f"{_fmt(r.mean_m_before)}->{_fmt(r.mean_m_after):<10} "
                f"{_fmt(r.max_m_before)}->{_fmt(r.max_m_after):<10} {r.time:>8.3f}"
            )
        return "\n".join(lines)


def _fmt(v: float) -> str:
    return f"{v:>10.4g}" if np.isfinite(v) else f"{'inf':>10}"
