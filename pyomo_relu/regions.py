"""Counting the linear regions of a ReLU network on an input box.

Split from :mod:`pyomo_relu.analysis` (which re-exports
:func:`count_linear_regions` and :class:`RegionCount`); see the function's
docstring for the definition and the algorithms.  Pure numpy (+ HiGHS for the
LP engine), no Pyomo.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ._highs import new_highs, run_highs
from ._options import seconds_option
from .bounds.checks import check_sound_at_samples, validated_bounds
from .bounds.core import NeuronBounds, check_box, require_network
from .bounds.interval import interval_bounds
from .errors import MissingBoundsError, NotApplicableError, UnknownOptionError
from .network import ReluNetwork

__all__ = ["count_linear_regions", "RegionCount", "linear_partition", "RegionPartition"]


# -- linear regions -----------------------------------------------------------
#: a region counts when it contains a ball of radius > _THICK (2-D engine: when
#: 2 area / perimeter > _THICK, which lies between the inradius and twice it),
#: measured in coordinates where the input box is the unit cube
_THICK = 1e-7
#: signed distances below this put a vertex on the hyperplane
_SNAP = 1e-12
#: a piece thinner than _THICK that reaches further than this from the kink is a real
#: region below the resolution, not rounding noise (on boxes of ordinary width no piece
#: between the two was seen; on a 1e6 box of a small network, 65 of them)
_UNRESOLVED = 100 * _SNAP
_REGION_METHODS = ("auto", "exact", "sample", "grid")
#: "auto" counts exactly up to this input dimension, or for small networks up to _AUTO_MAX_DIM
_AUTO_POLYGON_DIM, _AUTO_MAX_DIM, _AUTO_MAX_NEURONS = 2, 4, 64
_CHUNK = 20_000


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


def _clip(v: list, f: list):
    """Split a convex polygon (vertex list) by the signs of ``f`` at its vertices."""
    neg, pos, m = [], [], len(v)
    for i in range(m):
        j = i + 1 if i + 1 < m else 0
        fi, fj = f[i], f[j]
        if fi <= 0.0:
            neg.append(v[i])
        if fi >= 0.0:
            pos.append(v[i])
        if fi * fj < 0.0:
            t = fi / (fi - fj)
            p = (v[i][0] + t * (v[j][0] - v[i][0]), v[i][1] + t * (v[j][1] - v[i][1]))
            neg.append(p)
            pos.append(p)
    return neg, pos


def _thick(v: list) -> bool:
    if len(v) < 3:
        return False
    area = per = 0.0
    for i in range(len(v)):
        (x0, y0), (x1, y1) = v[i - 1], v[i]
        area += x0 * y1 - x1 * y0
        per += ((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5
    return abs(area) > _THICK * per  # 2 * area / perimeter > _THICK


class _Polygon:
    """Cell of the 2-D engine: a convex polygon, exact extremes of affine maps at its vertices."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = np.asarray(v, dtype=np.float64)

    def range(self, hc: np.ndarray, he: np.ndarray):
        norm = np.sqrt((hc * hc).sum(axis=1))
        f = (self.v @ hc.T + he) / np.where(norm > 0.0, norm, 1.0)
        return f.min(axis=0), f.max(axis=0)

    def split(self, c: np.ndarray, e: float):
        """``(negative side, positive side, depth)``: a side thinner than ``_THICK`` is None,
        and ``depth`` is how far such a dropped side reaches from the line (0 when none is)."""
        f = (self.v @ c + e) / np.hypot(c[0], c[1])
        f[np.abs(f) <= _SNAP] = 0.0
        neg, pos = _clip(self.v.tolist(), f.tolist())
        neg = _Polygon(neg) if _thick(neg) else None
        pos = _Polygon(pos) if _thick(pos) else None
        depth = max(-float(f.min()) if neg is None else 0.0, float(f.max()) if pos is None else 0.0)
        return neg, pos, max(depth, 0.0)

    def point(self) -> np.ndarray:
        return self.v.mean(axis=0)


class _Chebyshev:
    """Largest ball in ``{y in [0, 1]^d : a y <= b}`` (unit rows), one HiGHS LP each."""

    def __init__(self, d: int):
        import highspy  # a dependency; imported here to keep the module import light

        self.d, self.hs = d, highspy
        self.h = new_highs()
        for name, value in (
            ("output_flag", False),
            ("threads", 1),
            ("presolve", "off"),
            ("primal_feasibility_tolerance", 1e-9),
            ("dual_feasibility_tolerance", 1e-9),
        ):
            self.h.setOptionValue(name, value)
        self.box = np.vstack(
            [np.hstack([-np.eye(d), np.ones((d, 1))]), np.hstack([np.eye(d), np.ones((d, 1))])]
        )
        self.box_rhs = np.r_[np.zeros(d), np.ones(d)]

    def __call__(self, a: np.ndarray, b: np.ndarray):
        hs, d = self.hs, self.d
        mat = np.vstack([np.hstack([a, np.ones((len(a), 1))]), self.box])
        lp = hs.HighsLp()
        lp.num_col_, lp.num_row_ = d + 1, mat.shape[0]
        lp.col_cost_ = np.r_[np.zeros(d), -1.0]
        lp.col_lower_, lp.col_upper_ = np.zeros(d + 1), np.ones(d + 1)
        lp.row_lower_ = np.full(mat.shape[0], -hs.kHighsInf)
        lp.row_upper_ = np.r_[b, self.box_rhs]
        lp.a_matrix_.format_ = hs.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.arange(0, mat.size + 1, d + 1, dtype=np.int32)
        lp.a_matrix_.index_ = np.tile(np.arange(d + 1, dtype=np.int32), mat.shape[0])
        lp.a_matrix_.value_ = mat.ravel()
        self.h.clearModel()
        self.h.passModel(lp)
        run_highs(self.h)
        if self.h.getModelStatus() != hs.HighsModelStatus.kOptimal:
            return None, 0.0
        sol = np.array(self.h.getSolution().col_value)
        return sol[:d], float(sol[d])


def _tighten_box(lo, hi, row, rhs):
    """Bounding box of ``box ∩ {row y <= rhs}`` by one round of interval propagation."""
    mins = np.minimum(row * lo, row * hi)
    with np.errstate(divide="ignore", invalid="ignore"):
        lim = (rhs - (mins.sum() - mins)) / row
    return (
        np.where(row < 0.0, np.maximum(lo, lim - 1e-12), lo),
        np.where(row > 0.0, np.minimum(hi, lim + 1e-12), hi),
    )


class _LPCell:
    """Cell of the general engine: ``{y in [0, 1]^d : a y <= b}`` with a bounding box and an inner ball."""

    __slots__ = ("a", "b", "lo", "hi", "lp", "center", "radius", "exact")

    def __init__(self, a, b, lo, hi, lp, center=None, radius=0.0, exact=False):
        self.a, self.b, self.lo, self.hi, self.lp = a, b, lo, hi, lp
        self.center, self.radius, self.exact = center, radius, exact

    def range(self, hc, he):
        """Outer bounds of the (normalized) affine maps from the bounding box."""
        norm = np.sqrt((hc * hc).sum(axis=1))
        pos, neg = np.maximum(hc, 0.0), np.minimum(hc, 0.0)
        scale = np.where(norm > 0.0, norm, 1.0)
        return (pos @ self.lo + neg @ self.hi + he) / scale, (
            pos @ self.hi + neg @ self.lo + he
        ) / scale

    def _solve(self):
        self.center, self.radius = self.lp(self.a, self.b)
        self.exact = True

    def split(self, c, e):
        norm = float(np.sqrt(c @ c))
        u, off = c / norm, e / norm
        if self.center is None:
            self._solve()
        if self.center is None:  # HiGHS failed on a cell it solved before: keep the cell whole
            return None, self, 0.0
        while True:
            # signed distance of the centre from the hyperplane, clipped to the ball: the
            # part of the ball on the positive side holds a ball of radius (r + v) / 2
            r = self.radius
            v = min(max(float(u @ self.center + off), -r), r)
            r_neg, r_pos = (r - v) / 2.0, (r + v) / 2.0
            if min(r_neg, r_pos) > _THICK or self.exact:
                break
            self._solve()
        (neg, r_neg), (pos, r_pos) = (
            self._child(u, -off, r_neg, self.center - u * (r + v) / 2.0),
            self._child(-u, off, r_pos, self.center + u * (r - v) / 2.0),
        )
        return neg, pos, max(r_neg if neg is None else 0.0, r_pos if pos is None else 0.0)

    def _child(self, row, rhs, rho, center):
        """``(child or None, its inner radius)``: None when thinner than ``_THICK``."""
        lo, hi = _tighten_box(self.lo, self.hi, row, rhs)
        child = _LPCell(np.vstack([self.a, row]), np.r_[self.b, rhs], lo, hi, self.lp)
        if rho > _THICK:
            child.center, child.radius = center, rho
            return child, rho
        child._solve()
        if child.center is None:
            return None, 0.0
        return (child if child.radius > _THICK else None), child.radius

    def point(self) -> np.ndarray:
        if self.center is None:
            self._solve()
        return self.center


def _unit_cube_start(net: ReluNetwork, lb, ub, engine: str):
    """``(free inputs, c0, e0, root cell)`` of an exact enumeration with ``engine`` ("polygon" or "lp").

    Inputs are ``x = lb + (ub - lb) y`` with ``y`` in the unit cube over the
    free inputs (fixed ones fold into the bias), so the first layer's
    pre-activation is ``c0 y + e0``; the polygon engine pads ``y`` to 2-D.
    """
    free = np.flatnonzero(ub > lb)
    d = free.size
    w0, b0 = net.layers[0].weights, net.layers[0].bias
    c0, e0 = w0[:, free] * (ub - lb)[free], b0 + w0 @ lb
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


def _distinct_patterns(net: ReluNetwork, chunks, deadline: float = np.inf):
    """Distinct activation patterns over batches of points: ``(count, one point per pattern, points used)``.

    Stops after the first batch that ends past ``deadline``.
    """
    seen, used = {}, 0
    for x in chunks:
        pats = np.ascontiguousarray(net.activation_patterns(x))
        rows = (
            pats.view(np.dtype((np.void, max(pats.shape[1], 1)))).ravel()
            if pats.shape[1]
            else np.zeros(len(pats), np.dtype((np.void, 1)))
        )
        _, first = np.unique(rows, return_index=True)  # one memcmp sort, not a column lexsort
        for i in first:
            seen.setdefault(rows[i].tobytes(), x[i])
        used += len(x)
        if time.perf_counter() > deadline:
            break
    return len(seen), np.array(list(seen.values())), used


def _sample_chunks(lb, ub, n: int, rng):
    for start in range(0, n, _CHUNK):
        yield lb + (ub - lb) * rng.random((min(_CHUNK, n - start), lb.size))


def _grid_size(lb, ub, n: int) -> tuple[int, int]:
    """``(points per free input, points in all)`` of the grid of about ``n`` points on ``[lb, ub]``."""
    d = int(np.sum(ub > lb))
    if d == 0:
        return 1, 1
    res = max(2, int(round(n ** (1.0 / d))))
    return res, res**d


def _grid_chunks(lb, ub, n: int, rng):
    """Cell centres of a regular grid of about ``n`` points, each jittered within its cell.

    The jitter keeps points off kinks that sit exactly on a grid line (hand-built
    networks), where a point would realize a pattern of zero volume.  Cells are
    generated chunk by chunk, so a large ``n`` does not hold the whole grid.
    """
    free = np.flatnonzero(ub > lb)
    if free.size == 0:  # a point box: one point
        yield lb[None, :].copy()
        return
    res, total = _grid_size(lb, ub, n)
    for start in range(0, total, _CHUNK):
        part = np.stack(
            np.unravel_index(np.arange(start, min(start + _CHUNK, total)), (res,) * free.size), -1
        )
        y = (part + 0.5 + rng.uniform(-0.25, 0.25, part.shape)) / res
        x = np.repeat(lb[None, :], len(part), axis=0)
        x[:, free] = lb[free] + (ub - lb)[free] * y
        yield x


def _check_args(net, lb, ub, what: str):
    """Validated float64 box of ``net`` whose widths ``ub - lb`` are finite."""
    require_network(net, what)
    lb, ub = check_box(net, lb, ub)
    with np.errstate(over="ignore"):
        width = ub - lb
    if not np.all(np.isfinite(width)):
        i = int(np.flatnonzero(~np.isfinite(width))[0])
        raise NotApplicableError(
            f"{what}: input {i} ({net.input_names[i]!r}) spans [{lb[i]}, {ub[i]}], whose width "
            "overflows "
            "float64; expected a box of finite width - shrink the box or rescale the inputs."
        )
    return lb, ub


def _check_bounds(net, lb, ub, bounds, what: str):
    if bounds is None:
        return interval_bounds(net, lb, ub)
    bounds = validated_bounds(bounds, what, net)
    if np.any(bounds.input_lb > lb) or np.any(bounds.input_ub < ub):
        raise MissingBoundsError(
            f"{what}: the bounds were computed for the box [{bounds.input_lb}, {bounds.input_ub}] "
            f"which does not contain [{lb}, {ub}]; compute bounds for this box or pass bounds=None."
        )
    check_sound_at_samples(net, bounds, lb, ub, what)
    partial = bounds.constrained_layers()
    if partial:
        k = partial[0]
        raise MissingBoundsError(
            f"{what}: the bounds of layer {k} are labelled {bounds.methods[k]!r}: they hold only "
            "where the "
            "constraints they were tightened with hold, but regions are sought over the whole "
            "box, and a kink "
            "outside those constraints would be missed; pass bounds computed over the box "
            "(interval_bounds, "
            "or lp_bounds without extra_constraints) or bounds=None."
        )
    return bounds


def _count_option(value, name: str, what: str, *, allow_none: bool = False, minimum: int = 1):
    """An integer option ``>= minimum`` (integral floats such as ``1e5`` accepted), or None if allowed."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        ok, value = True, int(value)
    if not ok or value < minimum:
        none = " or None" if allow_none else ""
        raise UnknownOptionError(
            f"{what}: {name} must be an integer >= {minimum}{none}, found {value!r}."
        )
    return int(value)


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
        return _sampled(net, lb, ub, chosen, n_samples, rng, limit, t0)
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
        note = f"time limit of {time_limit:g} s reached after {count} regions ({engine} engine); a lower bound"
    if method == "auto":
        sampled = _sampled(net, lb, ub, "sample", n_samples, rng, limit, time.perf_counter())
        note += f"; {sampled.note} found {sampled.count}"
        if sampled.count > count:
            return RegionCount(
                sampled.count, False, "sample", time.perf_counter() - t0, note, sampled.points
            )
    return RegionCount(count, False, "exact", time.perf_counter() - t0, note, points)


def _sampled(net, lb, ub, method: str, n_samples: int, rng, limit: float, t0: float) -> RegionCount:
    """Distinct patterns at random (``"sample"``) or grid (``"grid"``) points; always a lower bound."""
    chunks = (_sample_chunks if method == "sample" else _grid_chunks)(lb, ub, n_samples, rng)
    count, points, used = _distinct_patterns(net, chunks, t0 + limit)
    where = "uniform random points" if method == "sample" else "points of a regular grid"
    note = f"distinct activation patterns at {used} {where}; a lower bound"
    planned = n_samples if method == "sample" else _grid_size(lb, ub, n_samples)[1]
    if used < planned:
        # a grid is visited row by row: cut short, its points cover only a slab of the box
        where = "" if method == "sample" else ", so they cover only part of the box"
        note += f" (time limit of {limit:g} s reached before all {planned} points{where})"
    return RegionCount(count, False, method, time.perf_counter() - t0, note, points)


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

    @property
    def n_vertices(self) -> int:
        return sum(len(v) for v in self.vertices)


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
    """``(vertices, values)`` of :class:`RegionPartition` from the polygon cells (unit-square coordinates).

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
