"""LP-based bound tightening (OBBT) with HiGHS, certified by the dual solution.

For layer ``k`` and each neuron ``j`` that is not yet stable we minimize and
maximize ``z_k[j] = W_k[j] a_{k-1} + b_k[j]`` over the LP relaxation of the
layers before ``k``:

* inputs ``lb <= x <= ub`` (plus optional linear constraints on ``x``);
* ``z_i = W_i a_{i-1} + b_i`` with ``l_i <= z_i <= u_i`` (current bounds);
* per neuron of a ReLU / clipped ReLU ``a = min(max(0, z), c)`` the convex hull
  of the graph on ``[l, u]``:

  - stable inactive (``u <= 0``): ``a = 0``; saturated (``l >= c``): ``a = c``;
    linear piece (``0 <= l``, ``u <= c``): ``a = z``;
  - only the 0 kink (``l < 0 < u <= c``, the triangle of Ehlers 2017):
    ``a >= 0``, ``a >= z``, ``a <= u (z - l) / (u - l)``;
  - only the cap kink (``0 <= l < c < u``): ``a <= z``, ``a <= c``,
    ``a >= l + (c - l)(z - l) / (u - l)``;
  - both kinks (``l < 0``, ``u > c``): ``0 <= a <= c``, ``a >= c z / u``,
    ``a <= c (z - l) / (c - l)``.

Solver choice.  One HiGHS LP (``highspy``, no modelling layer) is built per
chunk of neurons of a layer (see :mod:`.parallel`); between solves only the
objective changes, so HiGHS re-optimizes from its previous basis.  Measured on
layer 4 of a random 4-80-80-80-80-2 network (720 rows, 484 columns): a solve
from the previous neuron's basis takes ~500 simplex iterations against ~830
cold, 10-30 ms.  Solving all maxima of a chunk before all minima saves about
15% on mid-sized networks (consecutive objectives are more alike).  HiGHS'
default dual simplex is kept: primal simplex was 13% faster on a 4-60x4
network but 20% slower on 10-100x5; Devex or Dantzig pricing, presolve,
larger chunks and IPM did not help.  The per-neuron
Pyomo model route (``appsi_highs``) costs several times more per bound
(``benchmarks/tightening.py`` measures the ratio).  SCIP's LP (SoPlex via
``pyscipopt``) was not used: changing the objective of a solved SCIP model
needs ``freeTransform``, which drops the LP state between neurons.

Soundness.  An LP optimum is not exact, so every bound is *certified*: for
``min c^T v`` s.t. ``L <= A v <= U``, ``lo <= v <= hi`` (all column bounds
finite) and ANY row multipliers ``y``, weak duality gives

    c^T v >= sum_i (y_i > 0 ? y_i L_i : y_i U_i) + sum_j min(r_j lo_j, r_j hi_j),
    r = c - A^T y,

where multipliers that would need an infinite row bound are set to 0.  We
evaluate this with HiGHS' row duals (its sign convention for minimization is
exactly this ``y``), pad it for floating-point error of the evaluation, and
pad the relaxation's own rows for the rounding of their coefficients and of a
float64 forward pass, as :mod:`.interval` does.  So a bound never cuts off a
reachable pre-activation, even when HiGHS' solution is slightly inaccurate or
was stopped by a time limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleBoxError, ShapeMismatchError, SolverUnavailableError
from .._highs import new_highs
from ..network import ReluNetwork
from .core import NeuronBounds

__all__ = ["LayerLP", "HighsLP", "build_layer_lp", "dual_certificate", "solve_lp_chunk", "lp_bounds",
           "normalize_extra_constraints"]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny


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
            f"extra_constraints: expected a tuple (A, lo, hi) meaning lo <= A @ x <= hi, found {type(extra).__name__}."
        ) from exc
    a_mat = np.atleast_2d(np.asarray(a_mat, dtype=np.float64))
    m = a_mat.shape[0]
    if a_mat.ndim != 2 or a_mat.shape[1] != n_inputs:
        raise ShapeMismatchError(
            f"extra_constraints: A has shape {a_mat.shape}, expected (m, {n_inputs}) (one column per network input)."
        )
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (m,)).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (m,)).copy()
    if not np.all(np.isfinite(a_mat)) or np.any(np.isnan(lo)) or np.any(np.isnan(hi)):
        raise ShapeMismatchError("extra_constraints: A must be finite and lo/hi must not be NaN.")
    bad = np.flatnonzero(lo > hi)
    if bad.size:
        i = int(bad[0])
        raise InfeasibleBoxError(f"extra_constraints: row {i} has lo = {lo[i]} > hi = {hi[i]}; no input satisfies it.")
    return a_mat, lo, hi


@dataclass
class LayerLP:
    """Sparse LP data ``L <= A v <= U``, ``lo <= v <= hi`` for tightening one layer.

    ``A`` is stored as COO triplets (``rows``, ``cols``, ``vals``);
    ``obj_cols`` are the columns of the previous layer's outputs ``a_{k-1}``
    (or of the inputs ``x`` when ``k == 0``), on which the objective lives.
    """

    col_lo: np.ndarray
    col_hi: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    obj_cols: np.ndarray

    @property
    def n_cols(self) -> int:
        return len(self.col_lo)

    @property
    def n_rows(self) -> int:
        return len(self.row_lo)


class _Builder:
    """Accumulates columns and rows of a :class:`LayerLP`."""

    def __init__(self):
        self.col_lo, self.col_hi, self.row_lo, self.row_hi = [], [], [], []
        self.rows, self.cols, self.vals = [], [], []
        self.n_cols = self.n_rows = 0

    def add_cols(self, lo, hi) -> np.ndarray:
        idx = np.arange(self.n_cols, self.n_cols + len(lo))
        self.col_lo.append(np.asarray(lo, dtype=np.float64))
        self.col_hi.append(np.asarray(hi, dtype=np.float64))
        self.n_cols += len(lo)
        return idx

    def add_rows(self, rows_local, cols, vals, lo, hi) -> None:
        """Rows ``lo <= sum vals * v[cols] <= hi``; ``rows_local`` numbers them from 0."""
        self.rows.append(np.asarray(rows_local) + self.n_rows)
        self.cols.append(np.asarray(cols))
        self.vals.append(np.asarray(vals, dtype=np.float64))
        self.row_lo.append(np.asarray(lo, dtype=np.float64))
        self.row_hi.append(np.asarray(hi, dtype=np.float64))
        self.n_rows += len(lo)

    def add_two_term_rows(self, c1, v1, c2, v2, lo, hi) -> None:
        """Rows ``lo <= v1 * v[c1] + v2 * v[c2] <= hi`` (one per entry)."""
        n = len(c1)
        if n == 0:
            return
        r = np.arange(n)
        self.add_rows(np.concatenate([r, r]), np.concatenate([c1, c2]),
                      np.concatenate([np.broadcast_to(v1, (n,)), np.broadcast_to(v2, (n,))]), lo, hi)

    def finish(self, obj_cols) -> LayerLP:
        cat = lambda parts, dt=np.float64: np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)  # noqa: E731
        return LayerLP(cat(self.col_lo), cat(self.col_hi), cat(self.row_lo), cat(self.row_hi),
                       cat(self.rows, np.int64), cat(self.cols, np.int64), cat(self.vals), np.asarray(obj_cols))


def _affine_rows(b: _Builder, weights, bias, a_cols, z_cols, a_lo, a_hi) -> None:
    """``z = W a + b`` as ranged rows, widened by the float64 forward pass's rounding error."""
    n_out, n_in = weights.shape
    nz = np.nonzero(weights)
    mag = np.abs(weights) @ np.maximum(np.abs(a_lo), np.abs(a_hi)) + np.abs(bias)
    slack = (n_in + 2) * _EPS * mag + _TINY
    rows = np.concatenate([np.arange(n_out), nz[0]])
    cols = np.concatenate([z_cols, a_cols[nz[1]]])
    vals = np.concatenate([np.ones(n_out), -weights[nz]])
    b.add_rows(rows, cols, vals, bias - slack, bias + slack)


def _hull_rows(b: _Builder, z_cols, a_cols, lo, up, cap) -> None:
    """Rows of the convex hull of ``a = min(max(0, z), cap)`` for unstable/linear neurons.

    Each row ``a - s z (<= or >=) t`` gets a slack of a few ulps of its terms so
    that rounding ``s`` and ``t`` never cuts off a point of the graph.
    """
    inf = np.inf
    lin = (lo >= 0) & (up <= cap)
    k0 = (lo < 0) & (up > 0) & (up <= cap)
    kc = (lo >= 0) & (lo < cap) & (up > cap)
    both = (lo < 0) & (up > cap)
    b.add_two_term_rows(a_cols[lin], 1.0, z_cols[lin], -1.0, np.zeros(lin.sum()), np.zeros(lin.sum()))

    def relaxed(mask, slope, rhs_z0, upper: bool) -> None:
        # a - slope * z <= slope * (-z0) (upper) or >= (lower), padded outward
        s = slope[mask]
        rhs = rhs_z0[mask]
        pad = 8 * _EPS * (np.abs(s) * (np.abs(lo[mask]) + np.abs(up[mask])) + np.abs(rhs)) + _TINY
        row_lo, row_hi = (np.full(len(s), -inf), rhs + pad) if upper else (rhs - pad, np.full(len(s), inf))
        b.add_two_term_rows(a_cols[mask], 1.0, z_cols[mask], -s, row_lo, row_hi)

    with np.errstate(divide="ignore", invalid="ignore"):
        # only the 0 kink: a >= z, a <= u (z - l) / (u - l)
        b.add_two_term_rows(a_cols[k0], 1.0, z_cols[k0], -1.0, np.zeros(k0.sum()), np.full(k0.sum(), inf))
        s = up / (up - lo)
        relaxed(k0, s, -s * lo, upper=True)
        # only the cap kink: a <= z, a >= l + t (z - l), t = (c - l) / (u - l)
        b.add_two_term_rows(a_cols[kc], 1.0, z_cols[kc], -1.0, np.full(kc.sum(), -inf), np.zeros(kc.sum()))
        t = (cap - lo) / (up - lo)
        relaxed(kc, t, lo - t * lo, upper=False)
        # both kinks: a >= c z / u, a <= c (z - l) / (c - l)
        relaxed(both, cap / up, np.zeros_like(lo), upper=False)
        q = cap / (cap - lo)
        relaxed(both, q, -q * lo, upper=True)


def build_layer_lp(net: ReluNetwork, bounds: NeuronBounds, k: int, extra=None) -> LayerLP:
    """The LP relaxation of layers ``0..k-1`` (inputs in the box) whose objective lives on ``a_{k-1}``.

    Parameters
    ----------
    net : ReluNetwork
    bounds : NeuronBounds
        Current (sound) bounds; those of layers ``< k`` define the relaxation.
    k : int
        The layer whose pre-activations will be bounded.
    extra : tuple (A, lo, hi) or None
        Linear constraints ``lo <= A x <= hi`` on the inputs (see :func:`normalize_extra_constraints`).
    """
    b = _Builder()
    a_cols = b.add_cols(bounds.input_lb, bounds.input_ub)
    if extra is not None:
        a_mat, lo, hi = extra
        nz = np.nonzero(a_mat)
        b.add_rows(nz[0], a_cols[nz[1]], a_mat[nz], lo, hi)
    a_lo, a_hi = bounds.input_lb, bounds.input_ub
    for i in range(k):
        layer = net.layers[i]
        z_lo, z_hi = bounds.lower[i], bounds.upper[i]
        z_cols = b.add_cols(z_lo, z_hi)
        _affine_rows(b, layer.weights, layer.bias, a_cols, z_cols, a_lo, a_hi)
        if layer.activation.is_piecewise:
            a_lo, a_hi = bounds.post_bounds(i)
            new_cols = b.add_cols(a_lo, a_hi)
            _hull_rows(b, z_cols, new_cols, z_lo, z_hi, bounds.caps[i])
            a_cols = new_cols
        else:
            a_cols, a_lo, a_hi = z_cols, z_lo, z_hi
    return b.finish(a_cols)


def dual_certificate(lp: LayerLP, cost: np.ndarray, y: np.ndarray) -> float:
    """A rigorous lower bound of ``min cost^T v`` over ``lp`` from any row multipliers ``y``.

    Multipliers whose sign would need an infinite row bound are set to 0; the
    weak-duality value is then padded for the floating-point error of its own
    evaluation, so the returned float is below the exact LP minimum.
    """
    y = np.nan_to_num(np.asarray(y, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    y = np.where(((y > 0) & ~np.isfinite(lp.row_lo)) | ((y < 0) & ~np.isfinite(lp.row_hi)), 0.0, y)
    aty = np.bincount(lp.cols, weights=lp.vals * y[lp.rows], minlength=lp.n_cols)
    abs_aty = np.bincount(lp.cols, weights=np.abs(lp.vals * y[lp.rows]), minlength=lp.n_cols)
    r = cost - aty
    row_bound = np.where(y > 0, lp.row_lo, np.where(y < 0, lp.row_hi, 0.0))
    row_bound = np.where(y == 0, 0.0, row_bound)
    row_terms = y * row_bound
    col_terms = np.minimum(r * lp.col_lo, r * lp.col_hi)
    value = row_terms.sum() + col_terms.sum()
    mag = np.abs(row_terms).sum() + ((np.abs(cost) + abs_aty) * np.maximum(np.abs(lp.col_lo), np.abs(lp.col_hi))).sum()
    slack = 2 * (lp.n_rows + lp.n_cols + 4) * _EPS * mag + _TINY
    return float(np.nextafter(value - slack, -np.inf))


from .parallel import ChunkResult, ChunkTask, tighten  # noqa: E402  (parallel imports lp lazily)


class HighsLP:
    """One HiGHS LP whose objective is re-set per bound, keeping the simplex basis."""

    def __init__(self, lp: LayerLP):
        try:
            import highspy
        except ImportError as exc:  # pragma: no cover - highspy is a dependency
            raise SolverUnavailableError("lp_bounds needs highspy: pip install highspy.") from exc
        self.lp = lp
        self._h = h = new_highs()
        for name, value in (("output_flag", False), ("threads", 1), ("presolve", "off")):
            h.setOptionValue(name, value)
        order = np.argsort(lp.cols, kind="stable")
        model = highspy.HighsLp()
        model.num_col_, model.num_row_ = lp.n_cols, lp.n_rows
        model.col_cost_ = np.zeros(lp.n_cols)
        model.col_lower_, model.col_upper_ = lp.col_lo, lp.col_hi
        model.row_lower_ = np.where(np.isfinite(lp.row_lo), lp.row_lo, -highspy.kHighsInf)
        model.row_upper_ = np.where(np.isfinite(lp.row_hi), lp.row_hi, highspy.kHighsInf)
        model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
        model.a_matrix_.start_ = np.searchsorted(lp.cols[order], np.arange(lp.n_cols + 1)).astype(np.int32)
        model.a_matrix_.index_ = lp.rows[order].astype(np.int32)
        model.a_matrix_.value_ = lp.vals[order]
        h.passModel(model)
        self._status = highspy.HighsModelStatus
        self._obj_idx = lp.obj_cols.astype(np.int32)
        self._cost = np.zeros(lp.n_cols)

    def bound(self, w: np.ndarray, sense: str, deadline: float | None):
        """Certified bound of ``w @ v[obj_cols]``: lower for ``"min"``, upper for ``"max"``.

        Returns ``(value or None, time_limited)``.  Raises InfeasibleBoxError
        when HiGHS proves the relaxation (hence the box) empty.
        """
        sign = 1.0 if sense == "min" else -1.0
        self._cost[self.lp.obj_cols] = sign * w
        h = self._h
        h.changeColsCost(len(self._obj_idx), self._obj_idx, self._cost[self.lp.obj_cols])
        if deadline is not None:
            h.setOptionValue("time_limit", max(deadline - time.time(), 1e-3))
        h.run()
        status = h.getModelStatus()
        if status in (self._status.kInfeasible, self._status.kUnboundedOrInfeasible):
            raise InfeasibleBoxError(
                "lp_bounds: the LP relaxation is infeasible, so the input box together with "
                "extra_constraints admits no point; check the constraints and the box."
            )
        limited = status != self._status.kOptimal
        y = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        if y.shape != (self.lp.n_rows,) or not np.all(np.isfinite(y)):
            return None, limited
        value = sign * dual_certificate(self.lp, self._cost, y)
        return (value if np.isfinite(value) else None), limited


def solve_lp_chunk(task: ChunkTask) -> ChunkResult:
    """Tighten the neurons ``task.neurons`` of layer ``task.layer`` with one warm-started HiGHS LP."""
    lp = build_layer_lp(task.network, task.bounds, task.layer, task.extra)
    solver = HighsLP(lp)
    layer = task.network.layers[task.layer]
    return task.run(lambda w, sense: solver.bound(w, sense, task.deadline), layer)


def lp_bounds(net: ReluNetwork, lb, ub, *, prior: NeuronBounds | None = None, workers: int = 1,
              executor=None, time_limit: float | None = None, progress: bool = False,
              extra_constraints=None, layers=None, tighten_outputs: bool = True) -> NeuronBounds:
    """LP-tightened (OBBT) pre-activation bounds of ``net`` over the box ``[lb, ub]``.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
        Finite input box.
    prior : NeuronBounds, optional
        Sound bounds to start from (default :func:`interval_bounds`); the result
        is their intersection with the LP bounds, so it is never looser.
    workers : int
        Number of worker processes (1: solve in this process).
    executor : concurrent.futures.Executor, optional
        Run the chunks on this executor instead (see :mod:`.parallel`).
    time_limit : float, optional
        Wall-clock budget in seconds for the whole call; neurons left when it
        runs out keep their prior bounds.
    progress : bool
        Show a tqdm progress bar over neurons.
    extra_constraints : tuple (A, lo, hi), optional
        Linear constraints ``lo <= A x <= hi`` on the inputs, added to every LP.
    layers : iterable of int, optional
        Only tighten these layers (default: all hidden layers, and the output
        layer when ``tighten_outputs``).
    tighten_outputs : bool
        Also bound the final (linear) layer's outputs.

    Returns
    -------
    NeuronBounds
        With attribute ``report`` (a :class:`TighteningReport`).

    Raises
    ------
    InfeasibleBoxError
        When the box with ``extra_constraints`` admits no point.
    """
    bounds, report = tighten(net, lb, ub, method="lp", prior=prior, workers=workers, executor=executor,
                             time_limit=time_limit, progress=progress, extra_constraints=extra_constraints,
                             layers=layers, tighten_outputs=tighten_outputs)
    bounds.report = report
    return bounds
