"""``auto``: the ``regions`` formulation when it is cheap to prepare, else ``tightened_bigm``.

The exact region enumeration of ``regions`` pays off when the network has few
linear regions, but on a network with tens of thousands of them it runs until
its region cap or time limit and is then thrown away.  ``auto`` therefore
decides by cost before it enumerates anything:

1. more than 2 free inputs: ``tightened_bigm`` at once;
2. the cost of the fallback is predicted: one LP of the LP tightening (the
   deepest layer, the largest LP) is built and solved twice, cold and warm,
   and the time is scaled to the neurons the tightening would bound;
3. the number of regions is estimated from forward passes at random points
   (:func:`pyomo_relu.regions.estimate.estimate_region_count`, within a share
   of the predicted fallback time); twice the estimate (the estimator runs
   low by up to about 2x) above ``max_regions`` means ``tightened_bigm``;
4. the enumeration rate is measured on a sub-box expected to hold about 400
   regions, and the time of the whole enumeration (1.5 times the estimated
   regions) predicted from it; above the
   budget (``cost_ratio`` times the predicted fallback time, at least
   0.5 s) it means ``tightened_bigm``;
5. otherwise the regions are enumerated, with the budget as time limit; if the
   enumeration stops short, ``tightened_bigm`` is used.

Every step is timed on this machine at this moment, so the comparison holds
under load.  Deciding costs at most the probes plus the budget, i.e. about
``cost_ratio`` times the fallback's own preparation.  The block's
``build_stats.decision`` (and ``summary()["decision"]``) says which rule
decided, with the numbers; ``decision_seconds`` the time it took.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from .._options import seconds_option
from ..bounds.lp import HighsLP, build_layer_lp
from ..errors import NotApplicableError, UnknownOptionError
from ..regions import linear_partition
from ..regions.estimate import estimate_region_count
from .base import BuildStats, Formulation, PreparationCache, Prepared
from .bigm import TightenedBigM
from .regions import Regions

__all__ = ["Auto", "AutoDecision"]

#: regions the rate probe aims at (a few tens of milliseconds of enumeration)
_PROBE_REGIONS = 400
#: warm LP solves timed to predict the LP tightening
_WARM_PROBES = 3
#: the estimator's shortfall on trained networks is up to about 2x: a network is taken to have
#: more than ``max_regions`` regions when twice the estimate exceeds it, and the enumeration
#: time is predicted for 1.5 times the estimate
_ESTIMATE_MARGIN, _TIME_MARGIN = 2.0, 1.5
#: the least enumeration budget, so that small networks are always enumerated
_MIN_BUDGET = 0.5
#: least seconds, and share of the predicted fallback time, that sampling may take
_MIN_SAMPLING, _SAMPLING_SHARE = 0.05, 0.1


@dataclass(frozen=True)
class AutoDecision:
    """What ``auto`` chose for one network and box, and why.

    Attributes
    ----------
    used : str
        ``"regions"`` or ``"tightened_bigm"``.
    reason : str
        The rule that decided, with its numbers.
    seconds : float
        Time spent deciding (including the enumeration when ``used == "regions"``).
    """

    used: str
    reason: str
    seconds: float
    partition: object = None


def tightening_seconds(net, bounds) -> float:
    """Predicted seconds of the LP tightening of ``net`` from ``bounds`` (a few LPs timed now).

    The LP of the deepest layer that has neurons to bound (the largest LP) is
    built and solved cold for one neuron, then warm for the few neurons most
    like it, as the tightening visits them.  Per layer ``i`` the prediction is
    one build and cold solve plus one warm solve per neuron (a maximum, and a
    minimum only when the maximum leaves the neuron active; on the networks
    measured this overestimates by up to 2x), scaled by the LP's size relative
    to the deepest one (``i / k``).
    """
    if bounds.layers_by("interval") in ([], [0]):
        return 0.0  # already tightened: the Tighten step does nothing
    todo = {}
    for i in range(1, bounds.n_layers):
        p = bounds.pieces(i)
        idx = np.flatnonzero(p.unstable) if p.piecewise else np.arange(len(bounds.lower[i]))
        if idx.size:
            todo[i] = idx
    if not todo:
        return 0.0
    k = max(todo)
    start = time.perf_counter()
    solver = HighsLP(build_layer_lp(net, bounds, k))
    layer = net.layers[k]
    w = layer.weights[todo[k]]
    if layer.is_sparse:  # the probed rows only (one layer's unstable neurons)
        w = w.toarray()
    unit = w / np.maximum(np.linalg.norm(w, axis=1), 1e-300)[:, None]
    similar = np.argsort(-(unit @ unit[0]), kind="stable")[: _WARM_PROBES + 1]
    solver.bound(w[similar[0]], "max", None)
    first = time.perf_counter() - start
    warm = first
    if similar.size > 1:
        t0 = time.perf_counter()
        for i in similar[1:]:
            solver.bound(w[i], "max", None)
        warm = (time.perf_counter() - t0) / (similar.size - 1)
    return float(sum(i / k * (first + (len(c) - 1) * warm) for i, c in todo.items()))


def _probe_box(lb, ub, fraction: float):
    """A box around the centre of ``[lb, ub]`` with ``fraction`` of its volume (free inputs)."""
    free = ub > lb
    side = fraction ** (1.0 / max(int(free.sum()), 1))
    mid, half = (lb + ub) / 2.0, (ub - lb) / 2.0 * side
    return np.where(free, mid - half, lb), np.where(free, mid + half, ub)


class Auto(Formulation):
    """``regions`` where it applies and is cheap to prepare, else ``tightened_bigm``.

    Parameters
    ----------
    max_regions : int
        Region cap of ``regions``.
    time_limit : float or None
        Upper limit (seconds) of the region enumeration, whatever the budget says.
    tighten_time_limit : float or None
        Time limit of the ``tightened_bigm`` fallback's LP tightening.
    encoding : {"log", "unary"}
        Encoding of ``regions``.
    cost_ratio : float
        Enumeration budget as a multiple of the predicted fallback time (> 0).
    """

    name = "auto"
    description = (
        "'regions' when the sampled region count says it is cheap to prepare "
        "(<= 2 free inputs), else 'tightened_bigm'"
    )

    def __init__(
        self,
        max_regions: int = 20_000,
        time_limit: float | None = 30.0,
        tighten_time_limit: float | None = None,
        encoding: str = "log",
        *,
        cost_ratio: float = 2.0,
    ):
        self._regions = Regions(max_regions=max_regions, time_limit=time_limit, encoding=encoding)
        self._bigm = TightenedBigM(time_limit=tighten_time_limit)
        if (
            not isinstance(cost_ratio, (int, float))
            or isinstance(cost_ratio, bool)
            or not (cost_ratio > 0 and np.isfinite(cost_ratio))
        ):
            raise UnknownOptionError(
                f"Auto: cost_ratio must be a finite number > 0 (the enumeration budget as a "
                f"multiple of the predicted fallback time), found {cost_ratio!r}; e.g. 2.0."
            )
        self.cost_ratio = float(cost_ratio)
        self.time_limit = seconds_option(time_limit, "Auto", allow_zero=False)
        self.max_regions = self._regions.max_regions
        self.cache = PreparationCache(32)

    # -- the decision --------------------------------------------------------
    def decide(self, net, bounds) -> AutoDecision:
        """What ``auto`` uses for ``net`` on ``bounds``' box, and why (remembered per network)."""
        key = (id(net), bounds.input_lb.tobytes(), bounds.input_ub.tobytes())
        hit = self.cache.recall(key, net)
        if hit is not None:
            return hit
        start = time.perf_counter()
        used, reason, part = self._decide(net, bounds)
        decision = AutoDecision(used, reason, time.perf_counter() - start, part)
        self.cache.remember(key, net, replace(decision, partition=None))
        return decision

    def _decide(self, net, bounds):
        bigm = "tightened_bigm"
        lb, ub = bounds.input_lb, bounds.input_ub
        free = int(np.sum(ub > lb))
        if free > 2:
            return bigm, f"{free} free inputs (regions needs at most 2)", None
        fallback = tightening_seconds(net, bounds)
        budget = max(self.cost_ratio * fallback, _MIN_BUDGET)
        if self.time_limit is not None:
            budget = min(budget, self.time_limit)
        sampling = max(_SAMPLING_SHARE * fallback, _MIN_SAMPLING)
        est = estimate_region_count(
            net, lb, ub, time_limit=sampling, stop_above=self.max_regions / _ESTIMATE_MARGIN
        )
        likely = _ESTIMATE_MARGIN * est.estimate
        facts = f"{est}; fallback predicted {fallback:.3f} s, enumeration budget {budget:.3f} s"
        if likely > self.max_regions:
            return bigm, f"likely more than max_regions={self.max_regions} regions: {facts}", None
        fraction = _PROBE_REGIONS / likely
        if fraction < 1.0:
            plb, pub = _probe_box(lb, ub, fraction)
            t0 = time.perf_counter()
            probe = linear_partition(net, plb, pub, time_limit=budget)
            rate = max(probe.n_regions, 1) / max(time.perf_counter() - t0, 1e-6)
            predicted = _TIME_MARGIN * est.estimate / rate
            facts += f", enumeration predicted {predicted:.3f} s ({rate:.0f} regions/s)"
            if not probe.complete or predicted > budget:
                return bigm, f"enumeration predicted over budget: {facts}", None
        try:
            part = self._regions.partition(net, bounds, time_limit=budget)
        except NotApplicableError as exc:
            return bigm, f"regions failed ({exc}): {facts}", None
        return "regions", f"{part.n_regions} regions enumerated within budget: {facts}", part

    def partition(self, net, bounds):
        """The region partition ``auto`` would use for ``net`` on its bounds' box, or None.

        None means ``auto`` falls back to ``tightened_bigm`` (see :meth:`decide`).
        """
        decision = self.decide(net, bounds)
        if decision.used != "regions":
            return None
        return decision.partition or self._regions.partition(net, bounds, time_limit=None)

    # -- the formulation interface ---------------------------------------------
    def prepare(self, net, bounds, *, workers=1, progress=False) -> Prepared:
        decision = self.decide(net, bounds)
        if decision.used == "regions":
            part = decision.partition or self._regions.partition(net, bounds, time_limit=None)
            prepared = Prepared(net, bounds, bounds, info={"partition": part})
            used = self._regions
        else:
            prepared = self._bigm.prepare(net, bounds, workers=workers, progress=progress)
            used = self._bigm
        prepared.info.update(used=used, decision=decision)
        return prepared

    def build(self, block, prepared: Prepared, inputs, outputs) -> BuildStats:
        used, decision = prepared.info["used"], prepared.info["decision"]
        stats = used.build(block, prepared, inputs, outputs)
        return replace(
            stats,
            used=used.name,
            decision=decision.reason,
            decision_seconds=round(decision.seconds, 4),
        )

    def preactivation(self, mip, prepared: Prepared, inputs: list, outputs, k: int, j: int):
        """The pre-activation in the rows of the formulation ``auto`` picked (see Formulation)."""
        return prepared.info["used"].preactivation(mip, prepared, inputs, outputs, k, j)
