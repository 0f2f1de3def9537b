"""Sampled region counts: distinct activation patterns at random or grid points.

Every pattern met at a point is a linear region, so the counts are lower
bounds; they serve inputs of any dimension and the fallback of an exact
search that stopped early.
"""

from __future__ import annotations

import time

import numpy as np

from ..network import ReluNetwork

_CHUNK = 20_000


def _distinct_patterns(net: ReluNetwork, chunks, deadline: float = np.inf):
    """Distinct activation patterns over batches of points.

    Returns ``(count, one point per pattern, points used)``.  Stops after the
    first batch that ends past ``deadline``.
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
    """``(points per free input, points in all)`` of a grid of about ``n`` points on the box."""
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


def _sampled(net, lb, ub, method: str, n_samples: int, rng, limit: float, t0: float) -> tuple:
    """Distinct patterns at random (``"sample"``) or grid (``"grid"``) points; always a lower bound.

    Returns ``(count, one point per pattern, note)``; the search stops at ``t0 + limit``.
    """
    chunks = (_sample_chunks if method == "sample" else _grid_chunks)(lb, ub, n_samples, rng)
    count, points, used = _distinct_patterns(net, chunks, t0 + limit)
    where = "uniform random points" if method == "sample" else "points of a regular grid"
    note = f"distinct activation patterns at {used} {where}; a lower bound"
    planned = n_samples if method == "sample" else _grid_size(lb, ub, n_samples)[1]
    if used < planned:
        # a grid is visited row by row: cut short, its points cover only a slab of the box
        where = "" if method == "sample" else ", so they cover only part of the box"
        note += f" (time limit of {limit:g} s reached before all {planned} points{where})"
    return count, points, note
