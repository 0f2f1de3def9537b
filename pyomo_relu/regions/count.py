"""The public region count: :func:`count_linear_regions` and its result :class:`RegionCount`.

Checks the options, picks the method (exact enumeration, :mod:`.enumerate`,
or sampling, :mod:`.sampling`) and words the note that says how to read the
count.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .._options import seconds_option
from ..bounds.core import NeuronBounds
from ..errors import UnknownOptionError
from ..network import ReluNetwork
from .core import _THICK, _check_args, _check_bounds, _count_option
from .enumerate import _AUTO_POLYGON_DIM, _count_exact
from .sampling import _sampled

_REGION_METHODS = ("auto", "exact", "sample", "grid")
#: "auto" counts exactly up to _AUTO_POLYGON_DIM inputs, or for small networks up to _AUTO_MAX_DIM
_AUTO_MAX_DIM, _AUTO_MAX_NEURONS = 4, 64


@dataclass(frozen=True)
class RegionCount:
    """Result of :func:`count_linear_regions`.

    Attributes
    ----------
    count : int
        Number of linear regions found (a lower bound unless ``exact``).
    exact : bool
        True when every region was enumerated.
    method : str
        ``"exact"``, ``"sample"`` or ``"grid"`` (the method that produced ``count``).
    time : float
        Wall-clock seconds.
    note : str
        How the count was obtained and how to read it.
    points : ndarray (count, n_inputs) or None
        One input point inside each region found (an interior point for the
        exact method, a sample for the sampled ones).
    """

    count: int
    exact: bool
    method: str
    time: float
    note: str
    points: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "count": self.count,
            "exact": self.exact,
            "method": self.method,
            "time": self.time,
            "note": self.note,
        }

    def __str__(self) -> str:
        kind = "exact" if self.exact else f"lower bound, {self.method}"
        return f"{self.count} linear regions ({kind}, {self.time:.2f} s): {self.note}"


def count_linear_regions(
    net: ReluNetwork,
    lb,
    ub,
    *,
    method: str = "auto",
    n_samples: int = 100_000,
    time_limit: float | None = 60.0,
    seed: int = 0,
    bounds: NeuronBounds | None = None,
    max_regions: int | None = None,
) -> RegionCount:
    """Number of linear regions of ``net`` on the input box ``[lb, ub]``.

    Definition: a linear region is an activation pattern of all piecewise
    neurons (every ReLU / clipped-ReLU neuron, normally the hidden ones; see
    :meth:`ReluNetwork.activation_patterns`: per neuron inactive ``z < 0``,
    linear ``0 <= z < cap`` or saturated ``z >= cap``) that is realized on a
    set of positive volume inside the box.  Each such set is a convex
    polytope, on which the network is affine.  Numerically, "positive volume"
    means the region holds a ball of radius ``1e-7`` in coordinates where the
    box is the unit cube; inputs with ``lb == ub`` are fixed and the volume is
    taken in the remaining ones.  Duplicate or parallel neurons share a kink
    and add no region.

    Methods
    -------
    ``"exact"``
        Depth-first enumeration, layer by layer and neuron by neuron.  With the
        pattern of earlier layers fixed, each pre-activation is an affine
        function of the input, so a node is a polytope; a neuron whose kink
        does not cut it (by bounds over it) takes one state, otherwise the
        search branches and keeps each side that is full-dimensional.  For
        <= 2 free inputs cells are polygons (exact extremes at the vertices,
        splits by clipping); otherwise cells are H-polytopes, tested by one
        Chebyshev-ball LP (HiGHS: ``max t`` s.t. ``a_i y + t ||a_i|| <= b_i``)
        per side, skipped when a known inner ball already decides.  Neurons
        stable under ``bounds`` never branch.
    ``"sample"``
        Distinct patterns at ``n_samples`` uniform random points: a lower bound.
    ``"grid"``
        Distinct patterns on a regular grid of about ``n_samples`` points
        (jittered cell centres): a lower bound, good for 1-D / 2-D pictures.
    ``"auto"``
        ``"exact"`` for <= 2 free inputs, or <= 4 with at most 64 piecewise
        neurons; ``"sample"`` otherwise.  If the exact search stops early
        (time limit or ``max_regions``), the larger of its partial count and a
        sampled count is returned.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
        Finite input box.
    method : {"auto", "exact", "sample", "grid"}
    n_samples : int
        Points for the sampled methods (>= 1).
    time_limit : float or None
        Seconds (>= 0) for the exact search, and again for a sampled count.
        When reached, the count so far is returned with ``exact=False`` (a
        lower bound) and the note says so; a sampled count then uses the
        points evaluated so far (at least one batch).  None: no limit.
    seed : int
        Seed (>= 0) of the sampled methods; equal seeds give equal results.
    bounds : NeuronBounds, optional
        Sound bounds of ``net`` over a box containing ``[lb, ub]`` (default:
        interval bounds); tighter bounds let more neurons skip branching.
        They are spot-checked at a few points of the box.
    max_regions : int, optional
        Stop the exact search once more than this many regions were found;
        the result then has ``exact=False`` and ``count == max_regions``.

    Returns
    -------
    RegionCount

    Raises
    ------
    UnknownOptionError
        For an unknown ``method`` or a bad ``n_samples``, ``time_limit``,
        ``seed`` or ``max_regions``.
    NetworkTypeError, BoundsTypeError
        If ``net`` or ``bounds`` has the wrong type.
    MissingBoundsError, InfeasibleBoxError, ShapeMismatchError
        For a missing, infinite, empty or wrongly sized box; bounds of another
        box or network.
    NotApplicableError
        If the box is too wide for float64.
    """
    t0 = time.perf_counter()
    what = "count_linear_regions"
    if method not in _REGION_METHODS:
        raise UnknownOptionError(
            f"{what}: method={method!r} is not one of {list(_REGION_METHODS)}."
        )
    n_samples = _count_option(n_samples, "n_samples", what)
    max_regions = _count_option(max_regions, "max_regions", what, allow_none=True)
    limit = seconds_option(time_limit, what)
    limit = np.inf if limit is None else limit
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UnknownOptionError(f"{what}: seed must be an integer >= 0, found {seed!r}.")
    lb, ub = _check_args(net, lb, ub, what)
    bounds = _check_bounds(net, lb, ub, bounds, what)
    d = int(np.sum(ub > lb))
    chosen = method
    if method == "auto":
        small = d <= _AUTO_MAX_DIM and net.n_piecewise_neurons <= _AUTO_MAX_NEURONS
        chosen = "exact" if d <= _AUTO_POLYGON_DIM or small else "sample"
    rng = np.random.default_rng(int(seed))
    if chosen in ("sample", "grid"):
        count, points, note = _sampled(net, lb, ub, chosen, n_samples, rng, limit, t0)
        return RegionCount(count, False, chosen, time.perf_counter() - t0, note, points)
    cap = np.inf if max_regions is None else max_regions + 1
    count, points, complete, engine, resolved = _count_exact(
        net, lb, ub, bounds, t0 + limit, max_count=cap
    )
    bnd = "/".join(dict.fromkeys(bounds.methods))
    if complete and count <= cap - 1 and not resolved:
        note = (
            f"regions thinner than {_THICK:g} of the box were met and not counted ({engine} "
            "engine): the "
            "box is very wide for this network; a lower bound - shrink the box to the inputs' "
            "real range "
            "for an exact count"
        )
        return RegionCount(count, False, "exact", time.perf_counter() - t0, note, points)
    if complete and count <= cap - 1:
        note = (
            f"all patterns on full-dimensional regions enumerated ({engine} engine, {bnd} bounds)"
        )
        return RegionCount(count, True, "exact", time.perf_counter() - t0, note, points)
    if count > cap - 1:
        count, points = max_regions, points[:max_regions]
        note = f"stopped at max_regions={max_regions} ({engine} engine); a lower bound"
    else:
        note = (
            f"time limit of {time_limit:g} s reached after {count} regions ({engine} engine); "
            "a lower bound"
        )
    if method == "auto":
        start = time.perf_counter()
        n_found, found, sampled = _sampled(net, lb, ub, "sample", n_samples, rng, limit, start)
        note += f"; {sampled} found {n_found}"
        if n_found > count:
            return RegionCount(n_found, False, "sample", time.perf_counter() - t0, note, found)
    return RegionCount(count, False, "exact", time.perf_counter() - t0, note, points)
