r"""The LP of one activation pattern: the network is affine on the pattern's polytope.

Fix every piecewise neuron of a network to one piece: *off* (:math:`z \le 0`,
output 0), *on* (:math:`0 \le z \le c`, output :math:`z`) or *saturated*
(:math:`z \ge c`, output the cap :math:`c` of a clipped ReLU).  On the set of
inputs where every neuron is on its piece (a polytope) the network is the affine
map :math:`x \mapsto M_L x + m_L`, composed layer by layer:

.. math:: z_k = W_k a_{k-1} + b_k = M_k x + m_k,\quad
          a_k = D_k z_k + s_k,

with :math:`D_k` the diagonal 0/1 matrix of the *on* neurons and :math:`s_k`
the caps of the saturated ones.  A linear objective over inputs and outputs is
then linear in :math:`x`, and its minimum over the polytope (intersected with
the input box and any linear input constraints) is one small LP in the inputs
only, solved with HiGHS.  The rows of neurons whose pre-activation sits at a
kink at the LP optimum, with a nonzero dual, are the ones whose flip to the
neighbouring piece can improve the objective (:mod:`pyomo_relu.heuristics.primal`).

Weights may be dense arrays or ``scipy.sparse`` matrices: only ``W @ A`` is used.
No Pyomo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._highs import certifying_highs, run_highs
from ..network import ReluNetwork

__all__ = ["OFF", "ON", "SATURATED", "PatternLP", "affine_maps", "solve_pattern_lp"]

#: piece of a neuron: at 0, equal to its pre-activation, at its cap
OFF, ON, SATURATED = 0, 1, 2


def affine_maps(net: ReluNetwork, pattern) -> list[tuple[np.ndarray, np.ndarray]]:
    """``[(M_k, m_k)]``: the pre-activation ``z_k = M_k x + m_k`` of every layer under ``pattern``.

    ``pattern[k]`` holds the piece (:data:`OFF`, :data:`ON`, :data:`SATURATED`) of each
    neuron of layer ``k``; linear layers are read as all :data:`ON`.
    """
    maps = []
    mat = np.eye(net.n_inputs)
    vec = np.zeros(net.n_inputs)
    for k, layer in enumerate(net.layers):
        z_mat = np.asarray(layer.weights @ mat)
        z_vec = np.asarray(layer.weights @ vec).ravel() + layer.bias
        maps.append((z_mat, z_vec))
        if not layer.activation.is_piecewise:
            mat, vec = z_mat, z_vec
            continue
        on = pattern[k] == ON
        caps = layer.activation.caps(layer.n_out)
        mat = z_mat * on[:, None]
        vec = np.where(on, z_vec, np.where(pattern[k] == SATURATED, caps, 0.0))
    return maps


@dataclass(frozen=True)
class PatternLP:
    """The optimum of one pattern's LP.

    ``inputs`` is the minimizer (None if the LP is infeasible or failed), ``value`` the LP
    objective there, ``kinks`` the ``(layer, neuron, piece)`` flips worth trying, ordered by
    the size of their row's dual (largest first).
    """

    inputs: np.ndarray | None
    value: float
    kinks: tuple


def solve_pattern_lp(
    net: ReluNetwork,
    pattern,
    lb: np.ndarray,
    ub: np.ndarray,
    input_coefs: np.ndarray,
    output_coefs: np.ndarray,
    constraints=None,
    *,
    kink_tol: float = 1e-7,
) -> PatternLP:
    """Minimize ``input_coefs @ x + output_coefs @ f(x)`` over ``pattern``'s polytope in the box.

    ``constraints`` is ``(A, lo, hi)`` (``lo <= A x <= hi``) or None.  The returned kinks
    are the neurons whose pre-activation is within ``kink_tol`` (scaled by the row's size)
    of a piece boundary at the optimum and whose row has a nonzero dual, each with the piece
    on the other side of that boundary.
    """
    import highspy

    maps = affine_maps(net, pattern)
    rows, row_lo, row_hi, keys = [], [], [], []
    for k, layer in enumerate(net.layers):
        if not layer.activation.is_piecewise:
            continue
        z_mat, z_vec = maps[k]
        caps = layer.activation.caps(layer.n_out)
        piece = pattern[k]
        # rows lo <= M x <= hi with lo, hi = (piece bounds) - m
        lo = np.where(piece == OFF, -np.inf, np.where(piece == ON, 0.0, caps)) - z_vec
        hi = np.where(piece == OFF, 0.0, np.where(piece == ON, caps, np.inf)) - z_vec
        rows.append(z_mat)
        row_lo.append(lo)
        row_hi.append(hi)
        keys.extend((k, j) for j in range(layer.n_out))
    if constraints is not None:
        a, lo, hi = constraints
        rows.append(np.asarray(a.toarray() if hasattr(a, "toarray") else a, dtype=np.float64))
        row_lo.append(np.asarray(lo, dtype=np.float64))
        row_hi.append(np.asarray(hi, dtype=np.float64))
    last_mat, last_vec = maps[-1]
    if net.layers[-1].activation.is_piecewise:
        on = pattern[-1] == ON
        caps = net.layers[-1].activation.caps(net.layers[-1].n_out)
        last_vec = np.where(on, last_vec, np.where(pattern[-1] == SATURATED, caps, 0.0))
        last_mat = last_mat * on[:, None]
    cost = np.asarray(input_coefs, dtype=np.float64) + output_coefs @ last_mat
    offset = float(output_coefs @ last_vec)
    matrix = np.vstack(rows) if rows else np.zeros((0, net.n_inputs))
    h = _highs_lp(matrix, np.concatenate(row_lo), np.concatenate(row_hi), lb, ub, cost)
    run_highs(h)
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return PatternLP(None, np.inf, ())
    sol = h.getSolution()
    x = np.clip(np.asarray(sol.col_value, dtype=np.float64), lb, ub)
    duals = np.abs(np.asarray(sol.row_dual, dtype=np.float64))[: len(keys)]
    kinks = _kinks(net, pattern, maps, x, duals, kink_tol)
    return PatternLP(x, float(cost @ x + offset), kinks)


def _highs_lp(matrix, row_lo, row_hi, lb, ub, cost):
    """A quiet HiGHS instance holding ``min cost @ x`` s.t. ``row_lo <= matrix x <= row_hi``."""
    import highspy

    inf = highspy.kHighsInf
    h = certifying_highs()  # single thread, no presolve: the duals are those of these rows
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = cost
    lp.col_lower_, lp.col_upper_ = np.asarray(lb, float), np.asarray(ub, float)
    lp.row_lower_ = np.where(np.isfinite(row_lo), row_lo, -inf)
    lp.row_upper_ = np.where(np.isfinite(row_hi), row_hi, inf)
    nz = matrix != 0.0
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = np.concatenate([[0], np.cumsum(nz.sum(axis=1))]).astype(np.int32)
    lp.a_matrix_.index_ = np.nonzero(nz)[1].astype(np.int32)
    lp.a_matrix_.value_ = matrix[nz]
    h.passModel(lp)
    return h


def _kinks(net, pattern, maps, x, duals, tol) -> tuple:
    """Neighbouring pieces of the neurons at a kink whose row binds (nonzero dual) at ``x``."""
    found = []
    row = 0
    for k, layer in enumerate(net.layers):
        if not layer.activation.is_piecewise:
            continue
        z_mat, z_vec = maps[k]
        z = z_mat @ x + z_vec
        scale = tol * (1.0 + np.abs(z_mat) @ np.abs(x) + np.abs(z_vec))
        caps = layer.activation.caps(layer.n_out)
        piece = pattern[k]
        d = duals[row : row + layer.n_out]
        row += layer.n_out
        at_zero = np.abs(z) <= scale
        at_cap = np.abs(z - caps) <= scale
        for j in np.flatnonzero((at_zero | at_cap) & (d > 1e-12)):
            if piece[j] == ON:
                new = OFF if at_zero[j] else SATURATED
            else:
                new = ON
            found.append((float(d[j]), k, int(j), new))
    found.sort(key=lambda t: -t[0])
    return tuple((k, j, new) for _, k, j, new in found)
