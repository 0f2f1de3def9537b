"""A model's LP relaxation as arrays, solved with HiGHS, every bound certified by its dual.

:class:`CertifiedLP` holds one HiGHS instance.  :meth:`~CertifiedLP.load`
passes it the LP ``min c^T v`` s.t. ``L <= A v <= U``, ``lo <= v <= hi``;
:meth:`~CertifiedLP.bound` then minimizes or maximizes one column, changing
only the objective between solves, so HiGHS re-optimizes from its previous
basis.

Soundness.  The value HiGHS reports is not used: each bound is the weak-duality
value of HiGHS' row duals, evaluated with outward rounding by
:func:`pyomo_relu.bounds.lp.dual_certificate`, so it holds for every point of
the relaxation even when the solve was inaccurate or stopped by a time limit.
That certificate needs finite column bounds.  A model's variables may have
none, so the missing ones are replaced by bounds the rows imply (one row at a
time, a few sweeps, rounded outward; they hold at every point of the LP, so the
certificate stays valid).  A column still without a finite bound contributes
nothing to the certificate if neither the objective nor a row with a nonzero
multiplier touches it; otherwise no bound is certified and the caller keeps its
current one.

No Pyomo here: the rows come as arrays (see :mod:`.model_context`).
"""

from __future__ import annotations

import time

import numpy as np

from .._highs import certifying_highs, run_highs
from ..bounds.lp import LayerLP, dual_certificate, highs_model

__all__ = ["CertifiedLP", "implied_bounds"]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny


def _row_sums(rows, terms, n_rows):
    """Per row: the sum of the finite ``terms``, the count of infinite ones, ``sum |finite|``."""
    inf = ~np.isfinite(terms)
    finite = np.where(inf, 0.0, terms)
    return (
        np.bincount(rows, weights=finite, minlength=n_rows),
        np.bincount(rows, weights=inf, minlength=n_rows),
        np.bincount(rows, weights=np.abs(finite), minlength=n_rows),
    )


def _rest(row_sum, n_inf, term, rows, sign: float):
    """Per entry: the row's activity bound without the entry's own term (or ``sign * inf``)."""
    own_inf = ~np.isfinite(term)
    missing = n_inf[rows] - own_inf
    rest = row_sum[rows] - np.where(own_inf, 0.0, term)
    return np.where(missing == 0, rest, sign * np.inf)


def _sweep(lp: LayerLP, lo, hi):
    """Column bounds implied by single rows, given the bounds ``lo``, ``hi``; rounded outward."""
    keep = lp.vals != 0
    rows, cols, a = lp.rows[keep], lp.cols[keep], lp.vals[keep]
    t_min = np.where(a > 0, a * lo[cols], a * hi[cols])  # min of a * v over [lo, hi]
    t_max = np.where(a > 0, a * hi[cols], a * lo[cols])
    s_min, n_min, m_min = _row_sums(rows, t_min, lp.n_rows)
    s_max, n_max, m_max = _row_sums(rows, t_max, lp.n_rows)
    # a * v <= U - (min of the rest), a * v >= L - (max of the rest)
    av_hi = lp.row_hi[rows] - _rest(s_min, n_min, t_min, rows, -1.0)
    av_lo = lp.row_lo[rows] - _rest(s_max, n_max, t_max, rows, 1.0)
    # rounding of the products, of the sums and of the subtractions
    count = np.bincount(rows, minlength=lp.n_rows)[rows]
    rhs = np.where(np.isfinite(lp.row_hi), np.abs(lp.row_hi), 0.0)
    rhs = np.maximum(rhs, np.where(np.isfinite(lp.row_lo), np.abs(lp.row_lo), 0.0))
    pad = 4 * (count + 4) * _EPS * (m_min[rows] + m_max[rows] + rhs[rows]) + _TINY
    av_hi, av_lo = av_hi + pad, av_lo - pad
    v_hi = np.where(a > 0, av_hi, av_lo) / a
    v_lo = np.where(a > 0, av_lo, av_hi) / a
    v_hi = np.nextafter(v_hi + 4 * _EPS * np.abs(v_hi), np.inf)
    v_lo = np.nextafter(v_lo - 4 * _EPS * np.abs(v_lo), -np.inf)
    new_lo, new_hi = np.full(lp.n_cols, -np.inf), np.full(lp.n_cols, np.inf)
    np.maximum.at(new_lo, cols, np.where(np.isnan(v_lo), -np.inf, v_lo))
    np.minimum.at(new_hi, cols, np.where(np.isnan(v_hi), np.inf, v_hi))
    return new_lo, new_hi


def implied_bounds(lp: LayerLP, sweeps: int = 3):
    """Column bounds of ``lp``, each infinite one replaced by a finite one where the rows allow.

    Each sweep bounds every column by every row it is in, given the current
    bounds of the row's other columns; only bounds that were infinite change.
    Every point of the LP satisfies the result.
    """
    lo, hi = lp.col_lo.copy(), lp.col_hi.copy()
    for _ in range(sweeps):
        open_lo, open_hi = ~np.isfinite(lo), ~np.isfinite(hi)
        if not (open_lo.any() or open_hi.any()):
            break
        new_lo, new_hi = _sweep(lp, lo, hi)
        gained = (open_lo & np.isfinite(new_lo)) | (open_hi & np.isfinite(new_hi))
        lo = np.where(open_lo, new_lo, lo)
        hi = np.where(open_hi, new_hi, hi)
        if not gained.any():
            break
    return lo, hi


class CertifiedLP:
    """One HiGHS LP whose objective is one column at a time; bounds certified by the dual."""

    def __init__(self):
        import highspy

        # as in bounds.lp: the model's coefficients and bounds go to HiGHS as they are
        self._h = certifying_highs()
        status = highspy.HighsModelStatus
        self._infeasible = status.kInfeasible
        self._no_bound = {status.kUnbounded, status.kUnboundedOrInfeasible}
        self.lp = None

    def load(self, col_lo, col_hi, row_lo, row_hi, rows, cols, vals) -> None:
        """Pass HiGHS the LP ``row_lo <= A v <= row_hi``, ``col_lo <= v <= col_hi`` (COO ``A``)."""
        lp = LayerLP(
            *(np.asarray(x, dtype=np.float64) for x in (col_lo, col_hi, row_lo, row_hi)),
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
            obj_cols=np.zeros(0, dtype=np.int64),
        )
        self._h.passModel(highs_model(lp))
        self.lp, self._target = lp, None
        lo, hi = implied_bounds(lp)
        self._open = ~(np.isfinite(lo) & np.isfinite(hi))
        # the certificate's copy of the LP: finite column bounds; an open column is used
        # only when it contributes nothing (see _certify), so its stand-in bounds are 0
        self._cert = LayerLP(
            np.where(self._open, 0.0, lo),
            np.where(self._open, 0.0, hi),
            lp.row_lo,
            lp.row_hi,
            lp.rows,
            lp.cols,
            lp.vals,
            obj_cols=lp.obj_cols,
        )

    def bound(self, col: int, sense: str, deadline: float | None):
        """Certified bound of column ``col``: lower for ``"min"``, upper for ``"max"``.

        Returns ``(value or None, infeasible)``: ``infeasible`` when HiGHS proved the
        LP has no point; ``value`` None when no bound could be certified.
        ``deadline`` (a :func:`time.perf_counter` time) limits the solve.
        """
        sign = 1.0 if sense == "min" else -1.0
        h = self._h
        if self._target is not None and self._target != col:
            h.changeColCost(self._target, 0.0)
        h.changeColCost(col, sign)
        self._target = col
        limit = np.inf if deadline is None else max(deadline - time.perf_counter(), 1e-3)
        h.setOptionValue("time_limit", float(limit))
        run_highs(h)
        status = h.getModelStatus()
        if status == self._infeasible:
            return None, True
        if status in self._no_bound:
            return None, False
        y = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        if y.shape != (self.lp.n_rows,) or not np.all(np.isfinite(y)):
            return None, False
        cost = np.zeros(self.lp.n_cols)
        cost[col] = sign
        value = self._certify(cost, y)
        return (sign * value if np.isfinite(value) else None), False

    def _certify(self, cost, y) -> float:
        """Rigorous lower bound of ``min cost^T v`` from the row multipliers ``y`` (or -inf)."""
        lp = self._cert
        # the multipliers dual_certificate keeps (it drops those that need an infinite row bound)
        y = np.where(
            ((y > 0) & ~np.isfinite(lp.row_lo)) | ((y < 0) & ~np.isfinite(lp.row_hi)), 0, y
        )
        if self._open.any():
            touched = np.bincount(
                lp.cols, weights=np.abs(lp.vals * y[lp.rows]), minlength=lp.n_cols
            )
            if np.any(self._open & ((touched > 0) | (cost != 0))):
                return -np.inf  # the reduced cost of a column without finite bounds is not 0
        return dual_certificate(lp, cost, y)
