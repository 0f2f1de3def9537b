r"""Exact formulations over the linear regions of a network with at most 2 free inputs.

A ReLU network is continuous and piecewise affine: its input box splits into
convex polytopes (the linear regions) on each of which it is affine.  With at
most two free inputs the regions are polygons (intervals for one input) that
:func:`pyomo_relu.regions.linear_partition` enumerates exactly.  With region
``r`` given by its corners :math:`v_{r,i}` and the network's values
:math:`f(v_{r,i})` there, the graph of the network is the union of the
polytopes :math:`\{(x, f(x)) : x \in P_r\}`, and its disaggregated
convex-combination formulation is

.. math::

    x = \sum_{r,i} \lambda_{r,i} v_{r,i},\quad
    y = \sum_{r,i} \lambda_{r,i} f(v_{r,i}),\quad
    \sum_i \lambda_{r,i} = \delta_r,\quad \sum_r \delta_r = 1,\quad
    \lambda \ge 0,\ \delta_r \in \{0, 1\}.

Its LP relaxation, projected onto ``(x, y)``, is the convex hull of the
network's graph over the box (the formulation is *sharp*), it has no big-M
coefficient at all, and its size depends on the number of regions, not on the
depth of the network.  The default encoding replaces the ``delta_r`` by
``ceil(log2 R)`` binaries ``b`` with ``sum_{r: bit_l(r) = 1} sum_i lambda_{r,i} = b_l``
(the logarithmic "DLog" formulation of Vielma et al.), which keeps the LP
relaxation and needs far fewer binaries; ``encoding="unary"`` keeps one binary
per region.  It pays off for the
low-dimensional surrogates common in process models (a unit's response to one
or two operating variables) and does not apply beyond two free inputs.
References: Jeroslow & Lowe (1984); Vielma, Ahmed & Nemhauser, "Mixed-integer
models for nonseparable piecewise-linear optimization", Oper. Res. 58 (2010).

``auto`` (:mod:`pyomo_relu.formulations.auto`) picks ``regions`` when the
network has at most 2 free inputs and a sampled estimate says its regions are
few and quick to enumerate, and ``tightened_bigm`` otherwise.
"""

from __future__ import annotations

import numpy as np
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.core.expr.numeric_expr import MonomialTermExpression as _Monomial
from pyomo.environ import Binary, Constraint, Var

from .._options import seconds_option
from ..bounds import interval_bounds
from ..errors import NotApplicableError, UnknownOptionError
from ..regions import linear_partition
from .base import BuildStats, Formulation, PreparationCache, Prepared

__all__ = ["Regions"]

#: "use the formulation's own time limit"
_OWN = object()
#: partitions remembered by one Regions formulation
_CACHE_SIZE = 32
#: regions kept over all its cached partitions (a region costs about 0.4 KB), so the cache stays
#: a few tens of MB even when each partition is near ``max_regions``
_CACHE_REGIONS = 100_000


class _TooManyRegions:
    """``too_big`` of a partition cache: more than ``limit`` regions over all kept partitions."""

    def __init__(self, limit: int):
        self.limit = limit

    def __call__(self, parts) -> bool:
        return sum(p.n_regions for p in parts) > self.limit


def _box_bounds(net, bounds):
    """``bounds`` if they hold on their whole input box, else interval bounds over that box.

    The region formulation interpolates the network's values at the corners of
    each region, and those corners lie anywhere in the box.  A neuron that
    constrained bounds call stable may still switch at a corner outside the
    constrained set; the enumeration would then not split the region at that
    kink, and the interpolated graph would differ from the network even at
    feasible points inside the region.
    """
    if not bounds.constrained_layers():
        return bounds
    return interval_bounds(net, bounds.input_lb, bounds.input_ub)


def _row(coefs, variables, extra=None) -> LinearExpression:
    """``sum coefs * variables`` (zeros skipped) plus the ``(coef, var)`` pairs in ``extra``."""
    terms = [_Monomial((c, v)) for c, v in zip(coefs.tolist(), variables) if c != 0.0]
    terms += [_Monomial(t) for t in (extra or [])]
    return LinearExpression(terms)


class Regions(Formulation):
    """Sharp disjunctive formulation over the network's linear regions (at most 2 free inputs).

    Parameters
    ----------
    max_regions : int
        Refuse networks with more regions than this (the model grows with
        one continuous variable per region corner).
    time_limit : float or None
        Seconds for enumerating the regions.
    encoding : {"log", "unary"}
        ``ceil(log2 R)`` binaries that number the region (default), or one
        binary per region.
    """

    name = "regions"
    description = (
        "exact formulation over the linear regions "
        "(<= 2 free inputs; log2(regions) binaries, no big-M)"
    )

    def __init__(
        self, max_regions: int = 20_000, time_limit: float | None = 120.0, encoding: str = "log"
    ):
        if (
            not isinstance(max_regions, (int, np.integer))
            or isinstance(max_regions, bool)
            or max_regions < 1
        ):
            raise UnknownOptionError(
                f"Regions: max_regions must be a positive integer, found {max_regions!r}."
            )
        time_limit = seconds_option(time_limit, "Regions", allow_zero=False)
        if encoding not in ("log", "unary"):
            raise UnknownOptionError(
                f"Regions: encoding={encoding!r} is not one of ['log', 'unary']."
            )
        self.max_regions, self.time_limit, self.encoding = int(max_regions), time_limit, encoding
        self.cache = PreparationCache(_CACHE_SIZE, too_big=_TooManyRegions(_CACHE_REGIONS))

    def partition(self, net, bounds, *, time_limit=_OWN):
        """The region partition of ``net`` over its bounds' input box; raises NotApplicableError.

        ``time_limit`` (seconds or None) replaces the formulation's own limit
        for this call (``auto`` passes its budget).

        Partitions are remembered in :attr:`cache` per network object and box
        (the last :data:`_CACHE_SIZE`, at most :data:`_CACHE_REGIONS` regions in
        all, never keeping a network alive), so indexed blocks that embed one
        network many times (e.g. once per time period) enumerate its regions once.
        """
        limit = self.time_limit if time_limit is _OWN else time_limit
        key = (id(net), bounds.input_lb.tobytes(), bounds.input_ub.tobytes(), self.max_regions)
        part = self.cache.recall(key, net)
        if part is None:
            part = linear_partition(
                net,
                bounds.input_lb,
                bounds.input_ub,
                bounds=_box_bounds(net, bounds),
                time_limit=limit,
                max_regions=self.max_regions,
            )
            if part.complete:
                self.cache.remember(key, net, part)
        if part.complete and not part.resolved:
            raise NotApplicableError(
                "formulation 'regions': some linear regions are thinner than 1e-7 of the input "
                "box, below the "
                "enumeration's resolution (the box is very wide for this network); use "
                "'tightened_bigm' (or "
                "'auto', which falls back to it) or a box closer to the inputs' real range."
            )
        if not part.complete:
            why = (
                f"the network has more than {self.max_regions} linear regions on its box"
                if part.n_regions >= self.max_regions
                else "enumerating the linear regions exceeded the time limit of "
                f"{limit} s "
                f"({part.n_regions} regions found so far)"
            )
            raise NotApplicableError(
                f"formulation 'regions': {why}; use 'tightened_bigm' (or 'auto', which falls back "
                "to it), "
                f"or Regions(max_regions=..., time_limit=...) / a smaller box."
            )
        return part

    def prepare(self, net, bounds, *, workers=1, progress=False) -> Prepared:
        part = self.partition(net, bounds)
        return Prepared(net, bounds, bounds, info={"partition": part})

    def build(self, block, prepared: Prepared, inputs, outputs) -> BuildStats:
        part = prepared.info["partition"]
        verts, vals = np.vstack(part.vertices), np.vstack(part.values)
        sizes = np.array([len(v) for v in part.vertices])
        owner = np.repeat(np.arange(part.n_regions), sizes)
        n_lam, n_reg = len(verts), part.n_regions
        block.lam = Var(range(n_lam), bounds=(0.0, 1.0))
        lam = [block.lam[i] for i in range(n_lam)]
        block.convex = Constraint(expr=_row(np.ones(n_lam), lam) == 1.0)
        n_bin = 0
        if n_reg > 1 and self.encoding == "log":
            n_bits = int(np.ceil(np.log2(n_reg)))
            block.bit = Var(range(n_bits), domain=Binary)
            codes = (np.arange(n_reg)[:, None] >> np.arange(n_bits)[None, :]) & 1
            member = codes[owner].astype(np.float64)  # (n_lam, n_bits)
            block.code = Constraint(
                range(n_bits),
                rule={
                    b: _row(member[:, b], lam, [(-1.0, block.bit[b])]) == 0.0 for b in range(n_bits)
                },
            )
            # an unused code selects no region
            if (1 << n_bits) > n_reg:
                block.valid_code = Constraint(
                    expr=_row(
                        (1 << np.arange(n_bits)).astype(np.float64),
                        [block.bit[b] for b in range(n_bits)],
                    )
                    <= n_reg - 1
                )
            n_bin = n_bits
        elif n_reg > 1:
            block.delta = Var(range(n_reg), domain=Binary)
            starts = np.r_[0, np.cumsum(sizes)]
            block.choose = Constraint(
                range(n_reg),
                rule={
                    r: _row(
                        np.ones(sizes[r]), lam[starts[r] : starts[r + 1]], [(-1.0, block.delta[r])]
                    )
                    == 0.0
                    for r in range(n_reg)
                },
            )
            n_bin = n_reg
        inputs, outs = list(inputs), [outputs[j] for j in range(vals.shape[1])]
        # dicts (not lambdas) as rules keep the model picklable
        block.input = Constraint(
            range(len(inputs)),
            rule={
                j: _row(-verts[:, j], lam, [(1.0, inputs[j])]) == 0.0 for j in range(len(inputs))
            },
        )
        block.output = Constraint(
            range(len(outs)),
            rule={j: _row(-vals[:, j], lam, [(1.0, outs[j])]) == 0.0 for j in range(len(outs))},
        )
        n_rows = sum(1 for _ in block.component_data_objects(Constraint, descend_into=False))
        n_vars = sum(1 for _ in block.component_data_objects(Var, descend_into=False))
        return BuildStats(
            binaries=n_bin,
            rows=n_rows,
            variables=n_vars,
            encoding=f"regions-{self.encoding}",
            regions=n_reg,
            corners=n_lam,
        )
