"""The exact 2-D engine: cells are convex polygons, split by clipping.

Extremes of an affine map over a polygon are attained at its vertices, so
every test is exact; a side thinner than ``_THICK`` (twice the area over the
perimeter) is dropped.  Inputs of dimension 1 are padded to 2-D.
"""

from __future__ import annotations

import numpy as np

from .core import _SNAP, _THICK


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
