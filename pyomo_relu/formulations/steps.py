"""Reduction steps a layer formulation applies in ``prepare``, before its rows are written.

A step is a small object with a ``name`` and ``apply(prepared, *, workers,
progress) -> Prepared``: it takes the network and bounds prepared so far and
returns new ones (no Pyomo).  A formulation lists its steps, e.g.
``[Tighten(time_limit), Rescale(rule)]`` for ``tightened_scaled_bigm``.
"""

from __future__ import annotations

import time
from dataclasses import replace

from .._options import seconds_option
from ..bounds import lp as _lp  # looked up at call time, so a replaced lp_bounds is used
from ..bounds import symbolic as _symbolic
from ..errors import UnknownOptionError
from ..reductions import RESCALE_RULES, rescale, rescale_rule
from .base import PreparationCache, Prepared

__all__ = ["Tighten", "Rescale"]


class Tighten:
    """Bound tightening of every unstable neuron: the symbolic tier, then LP (OBBT).

    With ``symbolic=True`` the bounds are first tightened by
    :func:`~pyomo_relu.bounds.symbolic.symbolic_bounds` (back-substitution, milliseconds), and the
    LPs are solved only for the neurons that are still unstable; the bounds' provenance names
    the method that produced each layer (``symbolic`` or ``lp``).  It is off by default:
    on the networks of ``benchmarks/results/symbolic.md`` it gave the same bounds in the same
    time as the LPs alone (it made few neurons stable that the LPs would have solved).

    The tightened bounds of the last ``cache_size`` (network, bounds) pairs are
    kept in :attr:`cache`, so an indexed block that embeds one network many
    times over the same box (e.g. once per time period) solves its LPs once
    instead of once per copy; ``lp_bounds`` is deterministic, so the bounds are
    the same either way (the report is that of the first computation).

    Parameters
    ----------
    time_limit : float or None
        Seconds for the tightening of one block, symbolic tier included (None: no limit).
        Neurons left when it runs out keep their interval (or symbolic) bounds (sound, less
        tight), and a ``TimeLimitWarning`` says how many.
    symbolic : bool
        Run the symbolic tier before the LPs (default False).
    owner : str
        Named in the error for an invalid ``time_limit`` or ``symbolic``.
    cache_size : int
        Tightenings remembered.
    """

    name = "tighten"

    def __init__(
        self,
        time_limit: float | None = None,
        *,
        symbolic: bool = False,
        owner="Tighten",
        cache_size: int = 8,
    ):
        self.time_limit = seconds_option(time_limit, owner)
        if not isinstance(symbolic, bool):
            raise UnknownOptionError(
                f"{owner}: symbolic={symbolic!r}; expected True (symbolic bounds before the LPs) "
                "or False (LPs from the given bounds)."
            )
        self.symbolic = symbolic
        self.cache = PreparationCache(cache_size)

    def apply(self, prepared: Prepared, *, workers=1, progress=False) -> Prepared:
        net, bounds = prepared.network, prepared.bounds
        # interval (and symbolic) bounds of the first layer are exact, so LP tightening starts
        # at layer 1; bounds an LP or MILP produced everywhere else are already tightened
        if [k for k, p in enumerate(bounds.provenance) if p.method in _WEAK] in ([], [0]):
            return prepared  # already tightened (e.g. by relu.tighten_bounds)
        key = (id(net), bounds.content_key())
        hit = self.cache.recall(key, net)
        if hit is not None:
            tight, report = hit[0].replace(report=hit[1]), hit[1]  # bounds are immutable
        else:
            tight = self._tighten(net, bounds, workers, progress)
            report = getattr(tight, "report", None)
            if report is None or not report.n_time_limited:  # bounds cut short are not reused
                self.cache.remember(key, net, (tight, report))
        original = tight if prepared.scaling is None else prepared.original_bounds
        return replace(prepared, bounds=tight, original_bounds=original, report=report)

    def _tighten(self, net, bounds, workers, progress):
        """Symbolic tier (if on), then LP bounds from it, within one time limit."""
        limit, start = self.time_limit, bounds
        if self.symbolic:
            t0 = time.perf_counter()
            start = _symbolic.symbolic_bounds(net, bounds.input_lb, bounds.input_ub, prior=bounds)
            if limit is not None:
                limit = max(limit - (time.perf_counter() - t0), 0.0)
        return _lp.lp_bounds(
            net,
            bounds.input_lb,
            bounds.input_ub,
            prior=start,
            workers=workers,
            progress=progress,
            time_limit=limit,
        )

    def __repr__(self) -> str:
        return f"Tighten(time_limit={self.time_limit!r}, symbolic={self.symbolic!r})"


#: provenance of bounds that LP tightening improves on (the step runs when they remain)
_WEAK = ("interval", "symbolic")


class Rescale:
    """Rescale hidden neurons by positive factors (function preserving).

    The outputs stay in original units; see :func:`pyomo_relu.reductions.rescale`.

    Parameters
    ----------
    rule : str
        One of :data:`~pyomo_relu.reductions.RESCALE_RULES`: ``"max_abs"``
        (default: every ``|l|, |u| <= 1``), ``"upper"``, ``"row_norm"`` or
        ``"min_range"`` (the factors that minimize the coefficient range of the
        big-M rows, by a log-domain LP).
    owner : str
        Named in the error for an unknown ``rule``.

    Raises
    ------
    UnknownOptionError
        If ``rule`` is not a valid rule (the message lists them).
    """

    name = "rescale"
    rules = RESCALE_RULES

    def __init__(self, rule: str = "max_abs", *, owner="Rescale"):
        self.rule = rescale_rule(rule, owner)

    def apply(self, prepared: Prepared, *, workers=1, progress=False) -> Prepared:
        scaled = rescale(prepared.network, prepared.bounds, rule=self.rule)
        return replace(prepared, network=scaled.network, bounds=scaled.bounds, scaling=scaled)

    def __repr__(self) -> str:
        return f"Rescale(rule={self.rule!r})"
