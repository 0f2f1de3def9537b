"""The general engine for d inputs: cells are H-polytopes ``{y in [0, 1]^d : a y <= b}``.

A cell keeps a bounding box (outer bounds of affine maps, tightened by one
round of interval propagation per cut) and an inner ball; a split is decided
by the ball when it is large enough, otherwise by one Chebyshev-ball LP per
side, solved with HiGHS (:mod:`pyomo_relu._highs`).
"""

from __future__ import annotations

import numpy as np

from .._highs import new_highs, run_highs
from .core import _THICK


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
    """Cell of the general engine: ``{y in [0, 1]^d : a y <= b}``, a bounding box, an inner ball."""

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
