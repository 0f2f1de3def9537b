"""The LP relaxation gap of a ReLU network at fixed inputs, differentiable through the LP duals.

For a fixed input ``x`` (a training point) and interval bounds ``[l_k, u_k]`` of the hidden
pre-activations over the *input box* (not over ``x``), the LP is the big-M relaxation with
those bounds, which is the triangle relaxation of every neuron:

.. math::

    z_1 = W_1 x + b_1,\\qquad z_k = W_k a_{k-1} + b_k \\;(k \\ge 2),\\qquad
    l_k \\le z_k \\le u_k,

    a_k \\ge 0,\\qquad a_k \\ge z_k,\\qquad a_k \\le s_k (z_k - l_k^-),\\qquad
    s_k = \\frac{u_k^+}{u_k^+ - l_k^-},

with ``u^+ = max(u, 0)`` and ``l^- = min(l, 0)``.  For an unstable neuron (``l < 0 < u``) the
last row is the chord of the triangle; for a stable active neuron (``l >= 0``) it reads
``a <= z`` (so ``a = z``), for a stable inactive one (``u <= 0``) ``a <= 0`` (so ``a = 0``):
one row structure for every neuron, continuous in ``(l, u)``.  The output
``y_o = W_L[o] a_K + b_L[o]`` is minimized and maximized over this LP; the true value
``f(x)`` is feasible, so ``lp_lo(x) <= f(x) <= lp_hi(x)``, and the gap of ``x`` is

.. math::

    \\mathrm{gap}(x) = \\sum_o \\big(lp\\_hi_o(x) - f_o(x)\\big) + \\big(f_o(x) - lp\\_lo_o(x)\\big)
                   = \\sum_o lp\\_hi_o(x) - lp\\_lo_o(x).

It is zero when the relaxation is exact at ``x`` (all neurons stable over the box, or the
chords never reached).  Layer 1 at fixed ``x`` has an exact pre-activation, but its
activation ``a_1`` may still lie anywhere between ``relu(z_1)`` and the chord: the box
bounds, not ``x``, make the relaxation loose.

The gradient comes from the envelope theorem: with the optimal primal point ``v*`` and the
row duals ``y`` and column duals ``d`` of HiGHS, the derivative of an LP value in a row's
coefficient ``alpha`` and bound ``beta`` is ``-y v*`` and ``y``, and in a column bound it is
the column dual (the lower bound takes a positive, the upper bound a negative column dual
of a minimization).  This gives the derivatives in ``W_k``, ``b_k``, ``s_k``, ``l_k^-``
terms and ``l_k, u_k``; torch carries them on through ``s_k`` and the interval bounds to
the weights, so the gradient is the total derivative of the gap (direct through the
weights and indirect through the box bounds).  All LPs of a minibatch are one
block-diagonal LP (two blocks per sample and output), solved by one HiGHS call that warm
starts from the basis of the previous call.

Reference: C. Tsay, "Relaxation-Informed Training of Neural Network Surrogate Models",
arXiv:2604.22746 (2026), which proposes the per-sample LP gap regularizer and its gradient
from LP duals.
"""

from __future__ import annotations

import numpy as np
import torch

from ._highs import certifying_highs, run_highs
from .errors import SolverError

__all__ = ["LPGapSolver", "lp_gap"]


class LPGapSolver:
    """One HiGHS instance reused for the gap LPs of a training run (warm starts between LPs).

    A call writes the LP of one network copy once (its matrix holds the weights of this
    step).  The LPs of one output and direction (maximum or minimum) differ between samples
    only in the column bounds of the first layer, which keeps the basis dual feasible: they
    are solved one after the other by the dual simplex method, each from the optimal basis
    of the previous one, and the last basis of each direction starts the next call.
    """

    def __init__(self):
        import highspy

        self._hs = highspy
        self._highs = certifying_highs()
        self._bases: dict = {}

    def solve(self, x, weights, biases, lower, upper, slopes, offsets):
        """Solve the gap LPs at the rows of ``x``; return ``(gaps, solution)`` as numpy data.

        Every argument is a float64 numpy array: ``x`` (B, n_0); ``weights[k]``,
        ``biases[k]`` of all layers (the last one is the output layer); ``lower[k]``,
        ``upper[k]``, ``slopes[k]`` (``s_k``) and ``offsets[k]`` (``-s_k l_k^-``) of the
        hidden layers.  ``solution`` holds the primal values and duals of every LP
        ("block"), ordered by sample, then output, then sign (maximum first).
        """
        h = self._highs
        sizes = [len(b) for b in biases[:-1]]
        n_samples, n_out = x.shape[0], len(biases[-1])
        lp, layout = _network_lp(self._hs, weights, biases, lower, upper, slopes, offsets)
        h.passModel(lp)
        n_blocks = n_samples * n_out * 2
        nc, nr = layout["n_cols"], layout["n_rows"]
        solution = {
            "col_value": np.empty((n_blocks, nc)),
            "col_dual": np.empty((n_blocks, nc)),
            "row_dual": np.empty((n_blocks, nr)),
            "sign": np.tile([1.0, -1.0], n_samples * n_out),
            "out": np.tile(np.repeat(np.arange(n_out), 2), n_samples),
            **layout,
        }
        first = np.arange(sizes[0], dtype=np.int32)
        last = np.arange(nc - sizes[-1], nc, dtype=np.int32)
        # a_1 at fixed x: between relu(z_1) and the chord s_1 (z_1 - l_1^-)
        z1 = x @ weights[0].T + biases[0]
        a1_lo = np.maximum(z1, 0.0)
        a1_up = np.maximum(slopes[0] * z1 + offsets[0], a1_lo)  # equal up to rounding at ends
        solution["z1"], solution["slopes0"] = z1, slopes[0]
        values = np.empty(n_blocks)
        for out in range(n_out):
            for side, sign in enumerate((1.0, -1.0)):
                key = (out, side, lp.num_col_, lp.num_row_)
                h.changeColsCost(sizes[-1], last, -sign * weights[-1][out])
                if key in self._bases:
                    h.setBasis(self._bases[key])
                for sample in range(n_samples):
                    h.changeColsBounds(sizes[0], first, a1_lo[sample], a1_up[sample])
                    block = (sample * n_out + out) * 2 + side
                    values[block] = self._run(n_samples)
                    sol = h.getSolution()
                    solution["col_value"][block] = sol.col_value
                    solution["col_dual"][block] = sol.col_dual
                    solution["row_dual"][block] = sol.row_dual
                self._bases[key] = h.getBasis()
        # gap_i = sum_o max_o - min_o = -(sum of the optimal values of sample i's blocks)
        gaps = -values.reshape(n_samples, 2 * n_out).sum(axis=1)
        return gaps, solution

    def _run(self, n_samples: int) -> float:
        hs, h = self._hs, self._highs
        run_highs(h)
        if h.getModelStatus() != hs.HighsModelStatus.kOptimal:
            h.clearSolver()  # a warm start gone bad (e.g. cycling): solve from scratch
            run_highs(h)
        status = h.getModelStatus()
        if status != hs.HighsModelStatus.kOptimal:
            raise SolverError(
                f"lp_gap: HiGHS did not solve the LP relaxation at one of {n_samples} training "
                f"points to optimality (status {h.modelStatusToString(status)}); the bounds or "
                "weights are numerically unusable: lower lr or the lp_gap weight."
            )
        return h.getInfo().objective_function_value


def _network_lp(hs, weights, biases, lower, upper, slopes, offsets):
    """The LP of one network copy (first-layer bounds and objective are set per solve).

    Columns: ``a_1, z_2, a_2, ..., z_K, a_K``; rows per layer ``k >= 2``: ``E_k`` (the
    pre-activation equalities ``z_k - W_k a_{k-1} = b_k``), ``R1_k`` (``a_k - z_k >= 0``)
    and ``R2_k`` (``a_k - s_k z_k <= -s_k l_k^-``).  Layer 1 needs no rows at fixed ``x``.
    """
    sizes = [len(b) for b in biases[:-1]]
    # z_k starts at col_z[k] and a_k follows it; layer 1 has only a_1, at column 0
    col_z = np.cumsum([-sizes[0], 2 * sizes[0]] + [2 * n for n in sizes[1:-1]])[: len(sizes)]
    n_cols = 2 * sum(sizes) - sizes[0]
    starts, index, value, row_lo, row_up = [], [], [], [], []
    nnz = 0
    for k, n in enumerate(sizes[1:], start=1):
        z, a = col_z[k], col_z[k] + n
        ids = np.arange(n)
        prev = col_z[k - 1] + sizes[k - 1] + np.arange(sizes[k - 1])  # a_{k-1}
        e_index = np.column_stack([z + ids, np.broadcast_to(prev, (n, sizes[k - 1]))])
        e_value = np.column_stack([np.ones(n), -weights[k]])
        r_index = np.column_stack([a + ids, z + ids])
        r1_value = np.column_stack([np.ones(n), -np.ones(n)])
        r2_value = np.column_stack([np.ones(n), -slopes[k]])
        for idx, val in ((e_index, e_value), (r_index, r1_value), (r_index, r2_value)):
            starts.append(nnz + idx.shape[1] * np.arange(n))
            index.append(idx.ravel())
            value.append(val.ravel())
            nnz += idx.size
        row_lo += [biases[k], np.zeros(n), np.full(n, -np.inf)]
        row_up += [biases[k], np.full(n, np.inf), offsets[k]]
    empty = [np.zeros(0)]
    lp = hs.HighsLp()
    lp.num_col_, lp.num_row_ = n_cols, 3 * (sum(sizes) - sizes[0])
    lp.col_cost_ = np.zeros(n_cols)
    lp.col_lower_ = np.concatenate(
        [np.zeros(sizes[0])]
        + [v for k in range(1, len(sizes)) for v in (lower[k], np.zeros(sizes[k]))]
    )
    lp.col_upper_ = np.concatenate(
        [np.zeros(sizes[0])]
        + [v for k in range(1, len(sizes)) for v in (upper[k], np.full(sizes[k], np.inf))]
    )
    lp.row_lower_ = np.concatenate(row_lo or empty)
    lp.row_upper_ = np.concatenate(row_up or empty)
    lp.a_matrix_.format_ = hs.MatrixFormat.kRowwise
    lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = lp.num_col_, lp.num_row_
    lp.a_matrix_.start_ = np.append(np.concatenate(starts or empty), nnz).astype(np.int32)
    lp.a_matrix_.index_ = np.concatenate(index or empty).astype(np.int32)
    lp.a_matrix_.value_ = np.concatenate(value or empty)
    return lp, {"n_cols": n_cols, "n_rows": lp.num_row_, "col_z": col_z, "sizes": sizes}


def _gradients(solution, gamma, x, n_layers):
    """Derivatives of ``sum_b gamma_b V_b`` (``V_b`` the optimal value of block ``b``).

    Returned in the order of :class:`_LPGap`'s tensors: ``W_k``, ``b_k`` of all layers, then
    ``l_k``, ``u_k``, ``s_k``, ``t_k`` (``t = -s l^-``) of the hidden layers.
    """
    value, col_dual, row_dual = solution["col_value"], solution["col_dual"], solution["row_dual"]
    sizes, col_z = solution["sizes"], solution["col_z"]
    n = sizes[0]
    p = np.repeat(x, value.shape[0] // x.shape[0], axis=0)
    z1 = np.repeat(solution["z1"], value.shape[0] // x.shape[0], axis=0)
    # layer 1: a_1 in [max(z_1, 0), s_1 z_1 + t_1]; a positive column dual means the lower
    # bound holds, a negative one the upper bound (minimization)
    d = gamma[:, None] * col_dual[:, :n]
    at_lower = col_dual[:, :n] > 0
    d_lo, d_up = np.where(at_lower, d, 0.0), np.where(at_lower, 0.0, d)
    mu = d_lo * (z1 > 0) + d_up * solution["slopes0"]
    g_w, g_b = [mu.T @ p], [mu.sum(axis=0)]
    g_l, g_u = [np.zeros(n)], [np.zeros(n)]
    g_s, g_t = [(d_up * z1).sum(axis=0)], [d_up.sum(axis=0)]
    p = value[:, :n]
    row = 0
    for k, n in enumerate(sizes[1:], start=1):
        z = value[:, col_z[k] : col_z[k] + n]
        y_e = gamma[:, None] * row_dual[:, row : row + n]
        y_r2 = gamma[:, None] * row_dual[:, row + 2 * n : row + 3 * n]
        d_z = gamma[:, None] * col_dual[:, col_z[k] : col_z[k] + n]
        at_lower = col_dual[:, col_z[k] : col_z[k] + n] > 0
        g_w.append(y_e.T @ p)
        g_b.append(y_e.sum(axis=0))
        g_l.append(np.where(at_lower, d_z, 0.0).sum(axis=0))
        g_u.append(np.where(at_lower, 0.0, d_z).sum(axis=0))
        g_s.append((y_r2 * z).sum(axis=0))
        g_t.append(y_r2.sum(axis=0))
        p = value[:, col_z[k] + n : col_z[k] + 2 * n]  # a_k feeds layer k + 1
        row += 3 * n
    sign, out = solution["sign"], solution["out"]
    w_last = np.zeros((int(out.max()) + 1, sizes[-1]))
    np.add.at(w_last, out, (-sign * gamma)[:, None] * p)
    g_w.append(w_last)
    g_b.append(np.zeros(w_last.shape[0]))  # max and min of an output shift with its bias
    assert len(g_w) == n_layers
    return g_w + g_b + g_l + g_u + g_s + g_t


class _LPGap(torch.autograd.Function):
    """Per-sample LP gaps; the backward pass reads the LP duals and primal solution."""

    @staticmethod
    def forward(ctx, solver, x, n_layers, *tensors):
        arrays = [t.detach().cpu().numpy().astype(np.float64) for t in tensors]
        L, K = n_layers, n_layers - 1
        weights, biases = arrays[:L], arrays[L : 2 * L]
        lower, upper = arrays[2 * L : 2 * L + K], arrays[2 * L + K : 2 * L + 2 * K]
        slopes, offsets = arrays[2 * L + 2 * K : 2 * L + 3 * K], arrays[2 * L + 3 * K :]
        x_np = x.detach().cpu().numpy().astype(np.float64)
        gaps, solution = solver.solve(x_np, weights, biases, lower, upper, slopes, offsets)
        ctx.solution, ctx.x, ctx.n_layers = solution, x_np, n_layers
        ctx.like = tensors
        return x.new_tensor(gaps)

    @staticmethod
    def backward(ctx, grad_gaps):
        n_blocks = ctx.solution["col_value"].shape[0]
        per_sample = n_blocks // ctx.x.shape[0]
        # gap_i = -(sum of the optimal values of sample i's blocks)
        gamma = -np.repeat(grad_gaps.detach().cpu().numpy().astype(np.float64), per_sample)
        grads = _gradients(ctx.solution, gamma, ctx.x, ctx.n_layers)
        out = [like.new_tensor(g) for like, g in zip(ctx.like, grads)]
        return (None, None, None, *out)


def lp_gap(model_linears, x: torch.Tensor, bounds, solver: LPGapSolver) -> torch.Tensor:
    """Per-sample LP relaxation gaps ``lp_hi(x) - lp_lo(x)`` (summed over outputs), shape (B,).

    Parameters
    ----------
    model_linears : sequence of torch.nn.Linear
        The layers of a ReLU network, the output layer last.
    x : torch.Tensor (B, n_0)
        Fixed inputs (no gradient flows to them), inside the box of ``bounds``.
    bounds : list of (torch.Tensor, torch.Tensor)
        Interval bounds ``(l_k, u_k)`` of the hidden pre-activations over the input box, as
        returned by :func:`pyomo_relu.training.interval_pass`; gradients flow through them.
    solver : LPGapSolver
        The HiGHS instance (reused across calls for warm starts).

    Differentiable in the weights, biases and bounds (see the module docstring).
    """
    lower = [lo for lo, _ in bounds]
    upper = [up for _, up in bounds]
    slopes, offsets = [], []
    for lo, up in bounds:
        l_neg, u_pos = lo.clamp(max=0.0), up.clamp(min=0.0)
        width = u_pos - l_neg
        # both zero only when l = u = 0: the neuron is 0 on the box, the row reads a <= 0
        s = torch.where(width > 0, u_pos / torch.where(width > 0, width, 1.0), 0.0 * width)
        slopes.append(s)
        offsets.append(-s * l_neg)
    weights = [lin.weight for lin in model_linears]
    biases = [lin.bias for lin in model_linears]
    tensors = weights + biases + lower + upper + slopes + offsets
    return _LPGap.apply(solver, x.detach(), len(weights), *tensors)
