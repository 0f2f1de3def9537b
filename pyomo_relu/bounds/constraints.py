"""Linear side constraints on the network inputs, shared by the LP and MILP tightening.

``extra_constraints=(A, lo, hi)`` means ``lo <= A @ x <= hi`` on the inputs ``x``;
bounds computed with them hold only where they hold (provenance scope
``constrained``).
"""

from __future__ import annotations

import numpy as np

from .._highs import new_highs, run_highs
from ..errors import InfeasibleBoxError, ShapeMismatchError

__all__ = ["normalize_extra_constraints", "check_inputs_feasible"]


def normalize_extra_constraints(extra, n_inputs: int):
    """Validate ``extra_constraints`` and return ``(A, lo, hi)`` as float64 arrays, or None.

    The format is a tuple ``(A, lo, hi)`` meaning ``lo <= A @ x <= hi`` on the
    network inputs ``x``: ``A`` of shape ``(m, n_inputs)``, ``lo`` and ``hi`` of
    shape ``(m,)`` (or scalars); use ``-inf`` / ``inf`` for one-sided rows.
    """
    if extra is None:
        return None
    try:
        a_mat, lo, hi = extra
    except (TypeError, ValueError) as exc:
        raise ShapeMismatchError(
            "extra_constraints: expected a tuple (A, lo, hi) meaning lo <= A @ x <= hi, found "
            f"{type(extra).__name__}."
        ) from exc
    try:
        a_mat = np.atleast_2d(np.asarray(a_mat, dtype=np.float64))
        lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ShapeMismatchError(
            f"extra_constraints: A, lo and hi must be numeric arrays ({exc}); pass (A, lo, hi) "
            "with A of "
            f"shape (m, {n_inputs}) and lo, hi of shape (m,) or scalars."
        ) from None
    if a_mat.ndim != 2 or a_mat.shape[1] != n_inputs:
        raise ShapeMismatchError(
            f"extra_constraints: A has shape {a_mat.shape}, expected (m, {n_inputs}) (one column "
            "per network input)."
        )
    m = a_mat.shape[0]
    try:
        lo = np.broadcast_to(lo, (m,)).copy()
        hi = np.broadcast_to(hi, (m,)).copy()
    except ValueError:
        raise ShapeMismatchError(
            f"extra_constraints: lo has shape {lo.shape} and hi {hi.shape} for {m} rows of A; "
            f"expected shape ({m},) or scalars."
        ) from None
    if not np.all(np.isfinite(a_mat)) or np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise ShapeMismatchError(
            "extra_constraints: A must be finite and lo/hi must not be NaN; use -inf / inf for a "
            "missing side."
        )
    bad = np.flatnonzero((lo > hi) | (lo == np.inf) | (hi == -np.inf))
    if bad.size:
        i = int(bad[0])
        raise InfeasibleBoxError(
            f"extra_constraints: row {i} asks {lo[i]} <= A x <= {hi[i]}; no input satisfies it - "
            "fix the row (lo must be <= hi, lo < inf and hi > -inf)."
        )
    if m == 0:
        return None
    return a_mat, lo, hi


def check_inputs_feasible(lb: np.ndarray, ub: np.ndarray, extra) -> None:
    """Raise InfeasibleBoxError unless some ``x`` in ``[lb, ub]`` satisfies ``extra`` (one small
    HiGHS LP).

    Every such ``x`` extends (by the forward pass) to a point of every LP and
    MILP of the tightening, so after this check an infeasible solver status
    can only be numerical trouble, never an empty input set.
    """
    if extra is None:
        return
    import highspy

    a_mat, lo, hi = extra
    h = new_highs()
    h.setOptionValue("threads", 1)
    inf = highspy.kHighsInf
    h.addVars(len(lb), np.asarray(lb, dtype=np.float64), np.asarray(ub, dtype=np.float64))
    for row, r_lo, r_hi in zip(a_mat, lo, hi):
        idx = np.flatnonzero(row).astype(np.int32)
        h.addRow(
            r_lo if np.isfinite(r_lo) else -inf,
            r_hi if np.isfinite(r_hi) else inf,
            len(idx),
            idx,
            row[idx],
        )
    run_highs(h)
    if h.getModelStatus() in (
        highspy.HighsModelStatus.kInfeasible,
        highspy.HighsModelStatus.kUnboundedOrInfeasible,
    ):
        raise InfeasibleBoxError(
            f"extra_constraints: no input in the box [{np.asarray(lb).tolist()}, "
            f"{np.asarray(ub).tolist()}] "
            f"satisfies the {len(lo)} linear constraints lo <= A x <= hi (HiGHS proved the set "
            "empty); "
            "check the constraints and the box."
        )
