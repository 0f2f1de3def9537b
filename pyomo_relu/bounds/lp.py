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

LP formulation.  The hull of an unstable neuron is a polygon with vertices
``(l, 0), (0, 0), (u, u)`` (0 kink), ``(l, l), (c, c), (u, c)`` (cap kink) or
``(l, 0), (0, 0), (c, c), (u, c)`` (both), so the LP writes its point as a
convex combination ``(z, a) = v_0 + sum_t lam_t (v_t - v_0)``, ``lam >= 0``,
``sum_t lam_t <= 1``, and substitutes ``z`` and ``a`` in the affine rows
(a stable neuron keeps one column ``z`` in ``[l, u]``).  That is the same
polytope projected, with one row per unstable neuron for the hull instead of
two (plus one column ``z``), i.e. two rows per unstable neuron instead of
three: on a 10-100x5 network the LP of layer 4 has 800 rows instead of 1200,
HiGHS needs about 16% fewer simplex iterations and serial ``lp_bounds`` is
1.2-1.3x faster on 2-50x3, 4-60x4 and 6-80x3 networks.

Solver choice.  One HiGHS LP (``highspy``, no modelling layer) is built per
chunk of neurons of a layer (see :mod:`.parallel`); between solves only the
objective changes, so HiGHS re-optimizes from its previous basis.  Warm
starts help less than one might hope: on layer 4 of a 10-100x5 network a
solve takes ~1000 simplex iterations from the previous neuron's basis
against ~1300 cold (800 rows), and reusing a basis across chunks could save
at most about 2% (one cold start per 16 solves).  The chunk's objectives
are visited greedily by similarity
(:meth:`.parallel.ChunkTask.run`), 3-5% fewer iterations than all maxima then
all minima.  HiGHS' default dual simplex and scaling are kept: with this
formulation ``simplex_scale_strategy=4`` (which saved 14% iterations on the
previous formulation) and 0 cost 35-43% more iterations on the 10-100x5
network; primal simplex needs 2.3x the iterations there; Devex pricing,
cost perturbation, update limit, price strategy, exact instead of padded
equality rows, presolve, larger chunks and IPM did not help.  The per-neuron
Pyomo model route (``appsi_highs``) costs several times more per bound
(``benchmarks/tightening.py`` measures the ratio).  SCIP's LP (SoPlex via
``pyscipopt``) was not used: changing the objective of a solved SCIP model
needs ``freeTransform``, which drops the LP state between neurons, and it
was 4x slower per solve.

Soundness.  An LP optimum is not exact, so every bound is *certified*: for
``min c^T v`` s.t. ``L <= A v <= U``, ``lo <= v <= hi`` (all column bounds
finite) and ANY row multipliers ``y``, weak duality gives

    c^T v >= sum_i (y_i > 0 ? y_i L_i : y_i U_i) + sum_j min(r_j lo_j, r_j hi_j),
    r = c - A^T y,

where multipliers that would need an infinite row bound are set to 0.  We
evaluate this with HiGHS' row duals (its sign convention for minimization is
exactly this ``y``), pad it for floating-point error of the evaluation and
of the objective's coefficients (products of ``w`` with vertex coordinates),
and pad the relaxation's own rows for the rounding of their coefficients
(products of weights with vertex coordinates) and of a float64 forward pass,
as :mod:`.interval` does.  So a bound never cuts off a
reachable pre-activation, even when HiGHS' solution is slightly inaccurate or
was stopped by a time limit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .._highs import certifying_highs, run_highs
from ..errors import SolverUnavailableError
from ..network import ReluNetwork
from .constraints import check_inputs_feasible, normalize_extra_constraints
from .core import LayerPieces, NeuronBounds, require_network
from .parallel import ChunkResult, ChunkTask, tighten
from .registry import BoundMethod, register_bound_method

__all__ = [
    "LayerLP",
    "HighsLP",
    "build_layer_lp",
    "dual_certificate",
    "solve_lp_chunk",
    "lp_bounds",
    "normalize_extra_constraints",
    "check_inputs_feasible",
]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny


@dataclass
class LayerLP:
    """Sparse LP data ``L <= A v <= U``, ``lo <= v <= hi`` for tightening one layer.

    ``A`` is stored as COO triplets (``rows``, ``cols``, ``vals``).  The
    objective lives on the previous layer's outputs ``a_{k-1}`` (the inputs
    ``x`` when ``k == 0``), which are affine in the columns:
    ``a[obj_rows[e]] += obj_vals[e] * v[obj_cols[e]]`` plus ``obj_const``
    (when ``obj_rows`` is None, ``a[i] = v[obj_cols[i]]``).  Each column
    appears at most once in ``obj_cols``.
    """

    col_lo: np.ndarray
    col_hi: np.ndarray
    row_lo: np.ndarray
    row_hi: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    obj_cols: np.ndarray
    obj_rows: np.ndarray | None = None
    obj_vals: np.ndarray | None = None
    obj_const: np.ndarray | None = None

    def objective(self, w: np.ndarray):
        """``(cost, offset)`` with ``w @ a_{k-1} = cost @ v + offset`` (up to rounding, see
        :meth:`HighsLP.bound`)."""
        cost = np.zeros(self.n_cols)
        if self.obj_rows is None:
            cost[self.obj_cols] = w
            return cost, 0.0
        cost[self.obj_cols] = w[self.obj_rows] * self.obj_vals
        return cost, float(w @ self.obj_const)

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

    def finish(self, obj) -> LayerLP:
        def cat(parts, dt=np.float64):
            return np.concatenate(parts).astype(dt) if parts else np.zeros(0, dt)

        return LayerLP(
            cat(self.col_lo),
            cat(self.col_hi),
            cat(self.row_lo),
            cat(self.row_hi),
            cat(self.rows, np.int64),
            cat(self.cols, np.int64),
            cat(self.vals),
            np.asarray(obj.cols),
            np.asarray(obj.rows),
            np.asarray(obj.vals, dtype=np.float64),
            np.asarray(obj.const, dtype=np.float64),
        )


@dataclass
class _Affine:
    """A layer's values as affine functions of LP columns: ``v[r] = sum(vals * x[cols]) +
    const[r]``."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    const: np.ndarray


def _identity(cols) -> _Affine:
    n = len(cols)
    return _Affine(np.arange(n), np.asarray(cols), np.ones(n), np.zeros(n))


def _layer_columns(b: _Builder, lo, up, cap, pieces: LayerPieces):
    """Columns (and convexity rows) for one layer; returns ``(z, a)`` as :class:`_Affine` maps.

    A neuron that is stable (or of a linear layer) gets one column ``zeta``
    in ``[l, u]`` with ``z = zeta`` and ``a = zeta``, ``0`` or ``c``.  An
    unstable neuron's point ``(z, a)`` is a convex combination of the
    vertices of its hull polygon: ``(z, a) = v_0 + sum_t lam_t (v_t - v_0)``
    with ``lam >= 0``, ``sum lam <= 1`` (one row).  The vertices are
    ``(l, 0), (0, 0), (u, u)`` (only the 0 kink), ``(l, l), (c, c), (u, c)``
    (only the cap kink) and ``(l, 0), (0, 0), (c, c), (u, c)`` (both).
    """
    n = len(lo)
    z_parts, a_parts = [], []
    z_const, a_const = np.zeros(n), np.zeros(n)

    def add(part, idx, cols, vals):
        part.append((idx, cols, np.broadcast_to(np.asarray(vals, dtype=np.float64), idx.shape)))

    piecewise = pieces.piecewise
    sat, lin, stable = pieces.saturated, pieces.linear, pieces.stable
    if piecewise:  # which kinks an unstable neuron's hull has
        k0 = (lo < 0) & (up > 0) & (up <= cap)
        kc = (lo >= 0) & (lo < cap) & (up > cap)
        both = (lo < 0) & (up > cap)
    else:
        k0 = kc = both = np.zeros(n, dtype=bool)
    idx = np.flatnonzero(stable)
    zeta = b.add_cols(lo[idx], up[idx])
    add(z_parts, idx, zeta, 1.0)
    m = lin[idx]
    add(a_parts, idx[m], zeta[m], 1.0)
    a_const[sat] = cap[sat] if piecewise else 0.0
    for mask, n_vert in ((k0, 2), (kc, 2), (both, 3)):
        idx = np.flatnonzero(mask)
        if not idx.size:
            continue
        lam = [b.add_cols(np.zeros(idx.size), np.ones(idx.size)) for _ in range(n_vert)]
        r = np.arange(idx.size)
        b.add_rows(
            np.tile(r, n_vert),
            np.concatenate(lam),
            np.ones(n_vert * idx.size),
            np.full(idx.size, -np.inf),
            np.ones(idx.size),
        )
        l, u = lo[idx], up[idx]
        if mask is k0:  # base (0, 0); lam0 -> (l, 0), lam1 -> (u, u)
            add(z_parts, idx, lam[0], l), add(z_parts, idx, lam[1], u)
            add(a_parts, idx, lam[1], u)
        elif mask is kc:  # base (l, l); lam0 -> (c, c), lam1 -> (u, c)
            c = cap[idx]
            z_const[idx], a_const[idx] = l, l
            add(z_parts, idx, lam[0], c - l), add(z_parts, idx, lam[1], u - l)
            add(a_parts, idx, lam[0], c - l), add(a_parts, idx, lam[1], c - l)
        else:  # base (0, 0); lam0 -> (l, 0), lam1 -> (c, c), lam2 -> (u, c)
            c = cap[idx]
            add(z_parts, idx, lam[0], l), add(z_parts, idx, lam[1], c), add(z_parts, idx, lam[2], u)
            add(a_parts, idx, lam[1], c), add(a_parts, idx, lam[2], c)

    def cat(parts, const) -> _Affine:
        return _Affine(
            np.concatenate([p[0] for p in parts]).astype(np.int64),
            np.concatenate([p[1] for p in parts]).astype(np.int64),
            np.concatenate([p[2] for p in parts]),
            const,
        )

    return cat(z_parts, z_const), cat(
        a_parts + [(np.zeros(0, np.int64),) * 2 + (np.zeros(0),)], a_const
    )


def _affine_rows(
    b: _Builder, weights, bias, a_prev: _Affine, z: _Affine, a_lo, a_hi, z_lo, z_hi
) -> None:
    """Rows ``z = W a_prev + b`` in terms of the columns of both maps, padded for rounding.

    The padding covers the float64 forward pass (as :mod:`.interval`) and the
    rounding of the products ``W_ji * coefficient`` and of the constants.  Only
    the nonzeros of ``W`` become matrix entries: a ``scipy.sparse`` ``W`` is
    never densified, and a dense one is read as CSR, so both give the same LP.
    """
    n_out, n_in = weights.shape
    a_mag = np.maximum(np.abs(a_lo), np.abs(a_hi))
    mag = abs(weights) @ a_mag + np.abs(bias) + np.maximum(np.abs(z_lo), np.abs(z_hi))
    slack = (n_in + 16) * _EPS * 4 * mag + _TINY
    rhs = bias + weights @ a_prev.const - z.const
    # each LP column belongs to one neuron of a_prev, so every entry of W @ P is a single
    # product W_ji * vals_e (no sums): P maps a_prev's neurons to its columns
    p = sp.csr_array(
        (a_prev.vals, (a_prev.rows, a_prev.cols)),
        shape=(n_in, int(a_prev.cols.max(initial=-1)) + 1),
    )
    w_cols = (sp.csr_array(weights) @ p).tocoo()
    rows = np.concatenate([z.rows, w_cols.coords[0]])
    cols = np.concatenate([z.cols, w_cols.coords[1]])
    vals = np.concatenate([z.vals, -w_cols.data])
    b.add_rows(rows, cols, vals, rhs - slack, rhs + slack)


def build_layer_lp(net: ReluNetwork, bounds: NeuronBounds, k: int, extra=None) -> LayerLP:
    """The LP relaxation of layers ``0..k-1`` (inputs in the box) whose objective lives on
    ``a_{k-1}``.

    Parameters
    ----------
    net : ReluNetwork
    bounds : NeuronBounds
        Current (sound) bounds; those of layers ``< k`` define the relaxation.
    k : int
        The layer whose pre-activations will be bounded.
    extra : tuple (A, lo, hi) or None
        Linear constraints ``lo <= A x <= hi`` on the inputs (see
        :func:`normalize_extra_constraints`).
    """
    b = _Builder()
    x_cols = b.add_cols(bounds.input_lb, bounds.input_ub)
    if extra is not None:
        a_mat, lo, hi = extra
        nz = np.nonzero(a_mat)
        b.add_rows(nz[0], x_cols[nz[1]], a_mat[nz], lo, hi)
    a_map = _identity(x_cols)
    a_lo, a_hi = bounds.input_lb, bounds.input_ub
    for i in range(k):
        layer = net.layers[i]
        z_lo, z_hi = bounds.lower[i], bounds.upper[i]
        z_map, new_a = _layer_columns(b, z_lo, z_hi, bounds.caps[i], bounds.pieces(i))
        _affine_rows(b, layer.weights, layer.bias, a_map, z_map, a_lo, a_hi, z_lo, z_hi)
        a_map = new_a
        a_lo, a_hi = bounds.post_bounds(i)
    return b.finish(a_map)


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
    mag = (
        np.abs(row_terms).sum()
        + ((np.abs(cost) + abs_aty) * np.maximum(np.abs(lp.col_lo), np.abs(lp.col_hi))).sum()
    )
    slack = 2 * (lp.n_rows + lp.n_cols + 4) * _EPS * mag + _TINY
    return float(np.nextafter(value - slack, -np.inf))


def highs_model(lp: LayerLP):
    """``lp`` as a ``highspy.HighsLp`` (column-wise matrix, zero objective)."""
    import highspy

    order = np.argsort(lp.cols, kind="stable")
    model = highspy.HighsLp()
    model.num_col_, model.num_row_ = lp.n_cols, lp.n_rows
    model.col_cost_ = np.zeros(lp.n_cols)
    model.col_lower_, model.col_upper_ = lp.col_lo, lp.col_hi
    model.row_lower_ = np.where(np.isfinite(lp.row_lo), lp.row_lo, -highspy.kHighsInf)
    model.row_upper_ = np.where(np.isfinite(lp.row_hi), lp.row_hi, highspy.kHighsInf)
    model.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    starts = np.searchsorted(lp.cols[order], np.arange(lp.n_cols + 1))
    model.a_matrix_.start_ = starts.astype(np.int32)
    model.a_matrix_.index_ = lp.rows[order].astype(np.int32)
    model.a_matrix_.value_ = lp.vals[order]
    return model


class HighsLP:
    """One HiGHS LP whose objective is re-set per bound, keeping the simplex basis."""

    def __init__(self, lp: LayerLP):
        try:
            import highspy
        except ImportError as exc:  # pragma: no cover - highspy is a dependency
            raise SolverUnavailableError("lp_bounds needs highspy: pip install highspy.") from exc
        self.lp = lp
        self._h = h = certifying_highs()
        h.passModel(highs_model(lp))
        self._status = highspy.HighsModelStatus
        # statuses of a solve stopped early; others (e.g. kUnknown on badly scaled data) still
        # give a certified bound but say nothing about a time limit
        self._stopped = {
            self._status.kTimeLimit,
            self._status.kIterationLimit,
            self._status.kInterrupt,
        }
        self._obj_idx = lp.obj_cols.astype(np.int32)
        self._col_mag = np.maximum(np.abs(lp.col_lo), np.abs(lp.col_hi))

    def bound(self, w: np.ndarray, sense: str, deadline: float | None):
        """Certified bound of ``w @ a_{k-1}``: lower for ``"min"``, upper for ``"max"``.

        Returns ``(value or None, time_limited)``.  An infeasible status gives
        None: the inputs were checked to admit a point (:func:`check_inputs_feasible`)
        and every such point extends to the relaxation, so it can only come from
        numerical trouble or from a prior that is not sound.
        """
        sign = 1.0 if sense == "min" else -1.0
        cost, offset = self.lp.objective(sign * np.asarray(w, dtype=np.float64))
        h = self._h
        h.changeColsCost(len(self._obj_idx), self._obj_idx, cost[self.lp.obj_cols])
        if deadline is not None:
            h.setOptionValue("time_limit", max(deadline - time.time(), 1e-3))
        run_highs(h)
        status = h.getModelStatus()
        if status in (self._status.kInfeasible, self._status.kUnboundedOrInfeasible):
            return None, False
        limited = status in self._stopped
        y = np.asarray(h.getSolution().row_dual, dtype=np.float64)
        if y.shape != (self.lp.n_rows,) or not np.all(np.isfinite(y)):
            return None, limited
        cert = dual_certificate(self.lp, cost, y)
        # cost @ v + offset differs from sign * w @ a_{k-1} by the rounding of the
        # products w_r * obj_vals and of the offset (each column value is at most _col_mag)
        const = 0.0 if self.lp.obj_const is None else float(np.abs(w) @ np.abs(self.lp.obj_const))
        pad = (
            4
            * _EPS
            * (np.abs(cost) @ self._col_mag + (len(w) + 2) * const + abs(cert) + abs(offset))
            + _TINY
        )
        value = sign * float(np.nextafter(cert + offset - pad, -np.inf))
        return (value if np.isfinite(value) else None), limited


def solve_lp_chunk(task: ChunkTask) -> ChunkResult:
    """Tighten the neurons ``task.neurons`` of layer ``task.layer`` with one warm-started HiGHS
    LP."""
    if task.expired():  # queued before the deadline, started after it: do not build the LP
        return task.skipped()
    lp = build_layer_lp(task.network, task.bounds, task.layer, task.extra)
    solver = HighsLP(lp)
    layer = task.network.layers[task.layer]
    return task.run(lambda w, sense: solver.bound(w, sense, task.deadline), layer, greedy=True)


def lp_bounds(
    net: ReluNetwork,
    lb,
    ub,
    *,
    prior: NeuronBounds | None = None,
    workers: int = 1,
    executor=None,
    time_limit: float | None = None,
    progress: bool = False,
    extra_constraints=None,
    layers=None,
    tighten_outputs: bool = True,
) -> NeuronBounds:
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
    NetworkTypeError
        If ``net`` is not a ReluNetwork.
    InfeasibleBoxError
        When the box with ``extra_constraints`` admits no point.
    """
    require_network(net, "lp_bounds")
    bounds, report = tighten(
        net,
        lb,
        ub,
        method="lp",
        prior=prior,
        workers=workers,
        executor=executor,
        time_limit=time_limit,
        progress=progress,
        extra_constraints=extra_constraints,
        layers=layers,
        tighten_outputs=tighten_outputs,
    )
    return bounds.replace(report=report)


register_bound_method(
    BoundMethod(
        name="lp",
        compute=lp_bounds,
        description="LP-based tightening (OBBT) with HiGHS, every bound certified by the LP dual",
        chunk_solver=solve_lp_chunk,
    )
)
