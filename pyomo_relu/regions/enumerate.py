"""Exact enumeration of the linear regions of a network on an input box.

Depth-first, layer by layer and neuron by neuron, over cells of the polygon
engine (:mod:`.polygon`, <= 2 free inputs) or the LP engine
(:mod:`.polytope`, any dimension).  :func:`_count_exact` counts the regions
for :func:`~pyomo_relu.regions.count_linear_regions`;
:func:`linear_partition` returns them as polygons for the "regions"
formulation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._options import seconds_option
from ..bounds.core import NeuronBounds
from ..errors import NotApplicableError, UnknownOptionError
from ..network import ReluNetwork
from .core import _SNAP, _UNRESOLVED, _check_args, _check_bounds, _count_option
from .polygon import _Polygon
from .polytope import _Chebyshev, _LPCell

#: the polygon engine serves inputs of at most this dimension
_AUTO_POLYGON_DIM = 2


@dataclass(frozen=True)
class _Kinks:
    """Candidate kink hyperplanes ``z[neuron] = thresh`` of one piecewise layer."""

    neuron: np.ndarray
    thresh: np.ndarray
    is_cap: np.ndarray
    base0: np.ndarray  # bit "z >= 0" of neurons whose 0 kink is not a candidate
    basec: np.ndarray  # bit "z >= cap" of neurons whose cap kink is not a candidate
    caps: np.ndarray

    @staticmethod
    def of(layer, lo: np.ndarray, up: np.ndarray) -> _Kinks:
        caps = layer.activation.caps(layer.n_out)
        k0 = np.flatnonzero((lo < 0.0) & (up >= 0.0))
        kc = np.flatnonzero((lo < caps) & (up >= caps))
        return _Kinks(
            np.r_[k0, kc],
            np.r_[np.zeros(k0.size), caps[kc]],
            np.r_[np.zeros(k0.size, bool), np.ones(kc.size, bool)],
            (lo >= 0.0).astype(np.int8),
            (lo >= caps).astype(np.int8),
            caps,
        )

    def states(self, bits: np.ndarray) -> np.ndarray:
        """Pattern (0 inactive, 1 linear, 2 saturated) from the bits of the candidate kinks."""
        s0, sc = self.base0.copy(), self.basec.copy()
        s0[self.neuron[~self.is_cap]] = bits[~self.is_cap]
        sc[self.neuron[self.is_cap]] = bits[self.is_cap]
        return s0 + sc


def _next_piecewise(layers, k: int, c: np.ndarray, e: np.ndarray):
    """First piecewise layer ``>= k`` with its pre-activation map ``z = c y + e``, or None."""
    while not layers[k].activation.is_piecewise:
        if k + 1 == len(layers):
            return None
        c, e = layers[k + 1].weights @ c, layers[k + 1].weights @ e + layers[k + 1].bias
        k += 1
    return k, c, e


def _split_layer(
    cell, hc: np.ndarray, he: np.ndarray, idx: np.ndarray, bits: np.ndarray, missed: list
):
    """Fix the bits of kinks that do not cut ``cell``; branch on the first that does.

    Returns the two children ``(cell, remaining kinks, bits)`` or None when the
    pattern of the layer is fixed on the whole cell (``bits`` is then complete).
    The depth of every piece dropped as thinner than ``_THICK`` that is not
    rounding noise is appended to ``missed``.
    """
    if idx.size:
        lo, hi = cell.range(hc[idx], he[idx])
        up = lo >= -_SNAP
        down = ~up & (hi <= _SNAP)
        bits[idx[up]], bits[idx[down]] = 1, 0
        idx = idx[~(up | down)]
    for i, h in enumerate(idx):
        neg, pos, thin = cell.split(hc[h], he[h])
        if thin > _UNRESOLVED:
            missed.append(thin)
        if neg is not None and pos is not None:
            b0, b1 = bits.copy(), bits.copy()
            b0[h], b1[h] = 0, 1
            return [(pos, idx[i + 1 :], b1), (neg, idx[i + 1 :], b0)]
        bits[h] = 0 if pos is None else 1  # the other side is thinner than _THICK
    return None


def _enumerate(
    net: ReluNetwork,
    bounds: NeuronBounds,
    root,
    c0,
    e0,
    deadline: float,
    cells: list | None = None,
    max_count: float = np.inf,
):
    """Depth-first enumeration of the activation patterns realized on full-dimensional cells.

    Returns ``(count, interior points, complete, resolved)``; the final cells
    are appended to ``cells`` when given (no interior points are computed
    then).  Stops (incomplete) at the deadline or after ``max_count``
    regions.  ``resolved`` is False when a region thinner than ``_THICK`` was
    merged into a neighbour: it is then missing from the count, and its
    neighbour's cell is not one linear piece.
    """
    layers = net.layers
    kinks = {
        k: _Kinks.of(layer, bounds.lower[k], bounds.upper[k])
        for k, layer in enumerate(layers)
        if layer.activation.is_piecewise
    }
    first = _next_piecewise(layers, 0, c0, e0)
    if first is None:
        if cells is not None:
            cells.append(root)
        return 1, [root.point()], True, True
    count, points, stack, missed = 0, [], [(root, *first, None, None)], []
    while stack:
        if time.perf_counter() > deadline or count >= max_count:
            return count, points, False, not missed
        cell, k, c, e, idx, bits = stack.pop()
        kk = kinks[k]
        hc, he = c[kk.neuron], e[kk.neuron] - kk.thresh
        if idx is None:
            idx, bits = np.arange(kk.neuron.size), np.zeros(kk.neuron.size, np.int8)
        children = _split_layer(cell, hc, he, idx, bits, missed)
        if children:
            stack.extend((child, k, c, e, rest, b) for child, rest, b in children)
            continue
        state = kk.states(bits)
        on = (state == 1).astype(np.float64)
        ca, ea = c * on[:, None], e * on + np.where(state == 2, kk.caps, 0.0)
        nxt = None
        if k + 1 < len(layers):
            w, b = layers[k + 1].weights, layers[k + 1].bias
            nxt = _next_piecewise(layers, k + 1, w @ ca, w @ ea + b)
        if nxt is None:
            count += 1
            if cells is not None:  # the caller reads the cells, not their interior points
                cells.append(cell)
            else:
                points.append(cell.point())
        else:
            stack.append((cell, *nxt, None, None))
    return count, points, True, not missed


def _unit_cube_start(net: ReluNetwork, lb, ub, engine: str):
    """``(free inputs, c0, e0, root cell)`` of an exact search; ``engine`` is "polygon" or "lp".

    Inputs are ``x = lb + (ub - lb) y`` with ``y`` in the unit cube over the
    free inputs (fixed ones fold into the bias), so the first layer's
    pre-activation is ``c0 y + e0``; the polygon engine pads ``y`` to 2-D.
    """
    free = np.flatnonzero(ub > lb)
    d = free.size
    w0, b0 = net.layers[0].weights, net.layers[0].bias
    w_free = w0[:, free]  # (n_out, d): a sparse layer densifies its free columns only
    w_free = w_free.toarray() if sp.issparse(w_free) else w_free
    c0, e0 = w_free * (ub - lb)[free], b0 + w0 @ lb
    if engine == "polygon":
        c0 = np.hstack([c0, np.zeros((c0.shape[0], 2 - d))])
        root = _Polygon([(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)])
    else:
        root = _LPCell(
            np.zeros((0, d)),
            np.zeros(0),
            np.zeros(d),
            np.ones(d),
            _Chebyshev(d),
            center=np.full(d, 0.5),
            radius=0.5,
            exact=True,
        )
    return free, c0, e0, root


def _count_exact(
    net: ReluNetwork,
    lb,
    ub,
    bounds: NeuronBounds,
    deadline: float,
    *,
    engine: str = "auto",
    max_count: float = np.inf,
):
    """Exact enumeration; returns ``(count, points (count, n_inputs), complete, engine, resolved)``.

    ``engine``: ``"polygon"`` (inputs of dimension <= 2: cells are polygons,
    split by clipping), ``"lp"`` (any dimension: cells are H-polytopes, one
    Chebyshev-ball LP per test) or ``"auto"`` (polygon when possible).
    """
    d = int(np.sum(ub > lb))
    engine = ("polygon" if d <= _AUTO_POLYGON_DIM else "lp") if engine == "auto" else engine
    if d == 0:
        return 1, lb[None, :].copy(), True, "point", True
    if engine == "polygon" and d > 2:
        raise UnknownOptionError(
            f"count_linear_regions: the polygon engine needs <= 2 free inputs, found {d}."
        )
    free, c0, e0, root = _unit_cube_start(net, lb, ub, engine)
    count, ys, complete, resolved = _enumerate(
        net, bounds, root, c0, e0, deadline, max_count=max_count
    )
    points = np.repeat(lb[None, :], len(ys), axis=0)
    if ys:
        points[:, free] = lb[free] + (ub - lb)[free] * np.asarray(ys)[:, :d]
    return count, points, complete, engine, resolved


# -- the partition into linear regions (for the "regions" formulation) --------
@dataclass
class RegionPartition:
    """The input box cut into the linear regions of a network with at most 2 free inputs.

    Attributes
    ----------
    vertices : list of ndarray (m_r, n_inputs)
        Corners of each region in input coordinates: a convex polygon's
        vertices in order (2 free inputs), an interval's two ends (1), or the
        single point of the box (0).  The regions cover the box.
    values : list of ndarray (m_r, n_outputs)
        The network's forward pass at those corners.  The network is affine on
        each region, so inside region ``r`` it equals the interpolation of
        ``values[r]`` with the weights that reproduce the point from ``vertices[r]``.
    complete : bool
        False when the enumeration stopped at ``time_limit`` or ``max_regions``
        (the regions found then do not cover the box).
    time : float
        Wall-clock seconds.
    cpu_time : float
        CPU seconds of this process.
    resolved : bool
        False when some region is thinner than the enumeration's resolution
        (``1e-7`` of the box) and was merged into a neighbour, whose cell is
        then not one linear piece: the interpolation above does not hold there.
        Happens on boxes far wider than the network's kinks are apart.
    """

    vertices: list
    values: list
    complete: bool
    time: float
    cpu_time: float = 0.0
    resolved: bool = True

    @property
    def n_regions(self) -> int:
        return len(self.vertices)


def linear_partition(
    net: ReluNetwork,
    lb,
    ub,
    *,
    bounds: NeuronBounds | None = None,
    time_limit: float | None = 60.0,
    max_regions: int | None = None,
) -> RegionPartition:
    """Enumerate the linear regions of ``net`` on ``[lb, ub]`` as polygons (at most 2 free inputs).

    Uses the exact polygon engine of :func:`count_linear_regions`.  Every point
    of the box lies in one of the returned regions.  A region thinner than
    ``1e-7`` (in coordinates where the box is the unit square) is not split off
    but merged into its neighbour; the result then has ``resolved=False``, and
    interpolating ``values`` over that neighbour does not reproduce the network.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
        Finite input box.
    bounds : NeuronBounds, optional
        Bounds of ``net`` over a box containing ``[lb, ub]`` (default: interval bounds).
    time_limit : float or None
        Seconds (>= 0); when reached, ``complete`` is False.
    max_regions : int, optional
        At most this many regions (>= 1) are returned; ``complete`` is False when
        the network has more.

    Raises
    ------
    NotApplicableError
        When more than 2 inputs are free (``lb < ub``), or the box is too wide for float64.
    UnknownOptionError
        For a bad ``time_limit`` or ``max_regions``.
    NetworkTypeError, BoundsTypeError, MissingBoundsError, InfeasibleBoxError, ShapeMismatchError
        As :func:`count_linear_regions`.
    """
    t0, c0_cpu = time.perf_counter(), time.process_time()
    what = "linear_partition"
    limit = seconds_option(time_limit, what)
    limit = np.inf if limit is None else limit
    max_regions = _count_option(max_regions, "max_regions", what, allow_none=True)
    lb, ub = _check_args(net, lb, ub, what)
    bounds = _check_bounds(net, lb, ub, bounds, what)
    free = np.flatnonzero(ub > lb)
    d = free.size
    if d > _AUTO_POLYGON_DIM:
        raise NotApplicableError(
            f"linear_partition: the network has {d} free inputs (lb < ub); region polygons need "
            "at most "
            f"{_AUTO_POLYGON_DIM}. Use a big-M formulation (e.g. 'tightened_bigm') for this "
            "network."
        )
    if d == 0:
        pts = [lb[None, :].copy()]
        return RegionPartition(
            pts, [net.forward(pts[0])], True, time.perf_counter() - t0, time.process_time() - c0_cpu
        )
    free, c0, e0, root = _unit_cube_start(net, lb, ub, "polygon")
    cells: list = []
    deadline = t0 + limit
    _, _, complete, resolved = _enumerate(
        net,
        bounds,
        root,
        c0,
        e0,
        deadline,
        cells,
        np.inf if max_regions is None else int(max_regions) + 1,
    )
    if max_regions is not None and len(cells) > max_regions:
        complete = False
        cells = cells[:max_regions]
    vertices, values = _cell_corners(net, cells, d, lb, ub, free)
    return RegionPartition(
        vertices, values, complete, time.perf_counter() - t0, time.process_time() - c0_cpu, resolved
    )


def _cell_corners(net: ReluNetwork, cells: list, d: int, lb, ub, free) -> tuple:
    """``(vertices, values)`` of :class:`RegionPartition` from polygon cells (unit-square coords).

    Works on all cells at once: a loop over cells cost about 20 us each, which after
    a time limit (hundreds of thousands of cells) added seconds to the call.
    """
    if not cells:
        return [], []
    sizes = np.fromiter((len(cell.v) for cell in cells), dtype=np.int64, count=len(cells))
    y = np.concatenate([cell.v for cell in cells])
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    if d == 1:  # cells are strips of the unit square: keep the interval's ends
        y = np.stack(
            [np.minimum.reduceat(y[:, 0], starts), np.maximum.reduceat(y[:, 0], starts)], axis=1
        )
        y, sizes = y.reshape(-1, 1), np.full(len(cells), 2)
    else:  # drop repeated consecutive corners, and a last corner equal to the first
        keep = np.ones(len(y), dtype=bool)
        keep[1:] = np.any(y[1:] != y[:-1], axis=1)
        keep[starts] = True
        owner = np.repeat(np.arange(len(cells)), sizes)[keep]
        y = y[keep]
        sizes = np.bincount(owner, minlength=len(cells))
        first = np.r_[0, np.cumsum(sizes)[:-1]]
        last = first + sizes - 1
        closed = (sizes > 1) & np.all(y[last] == y[first], axis=1)
        keep = np.ones(len(y), dtype=bool)
        keep[last[closed]] = False
        y, sizes = y[keep], sizes - closed
    x = np.repeat(lb[None, :], len(y), axis=0)
    x[:, free] = np.clip(lb[free] + (ub - lb)[free] * y[:, :d], lb[free], ub[free])
    cuts = np.cumsum(sizes)[:-1]
    return np.split(x, cuts), np.split(net.forward(x), cuts)
