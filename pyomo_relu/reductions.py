"""Function-preserving reductions of a ReLU network: rescaling and stable-neuron pruning.

Both reductions map a :class:`~pyomo_relu.network.ReluNetwork` with sound
:class:`~pyomo_relu.bounds.NeuronBounds` to a new network with the same function
(on the bounds' input box) and sound bounds for the new network, plus the data
needed to map values back to the original network.

Soundness under floating point.  The new network's weights are rounded, so its
float64 forward pass is not exactly the ideal (real-valued) transformed network.
The new bounds are the ideal ones (the old bounds, scaled or sliced) widened by a
propagated deviation ``e_k``: per layer ``e_k = |W'_k| e_{k-1} + E_k (|a| + e_{k-1})
+ E_b + (n + 2) eps (|W'_k| (|a| + e_{k-1}) + |b'_k|)``, where ``E_k``, ``E_b``
bound the rounding of the stored weights and biases and the last term bounds the
rounding of the forward pass itself (as in :mod:`pyomo_relu.bounds.interval`).

Sparse layers.  A layer with ``scipy.sparse`` CSR weights stays sparse: the
factors scale its stored entries (the same two roundings per entry as a dense
layer), pruning selects and folds CSR matrices, and the error matrices ``E_k``
are sparse with the same pattern.  Nothing here densifies a sparse layer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ._highs import new_highs, run_highs
from .bounds.checks import check_sound_at_samples, validated_bounds
from .bounds.core import NeuronBounds, pad_outward, require_network
from .bounds.lp import LayerLP, highs_model
from .errors import ShapeMismatchError, SolverError, UnknownOptionError
from .network import Activation, ActivationKind, DenseLayer, ReluNetwork

__all__ = [
    "RESCALE_RULES",
    "ScaledNetwork",
    "PrunedNetwork",
    "rescale",
    "prune_stable",
    "rescale_rule",
    "coefficient_spread",
]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny
_NOISE = 1e-12  # bounds below this times the neuron's magnitude are rounding noise
_FLOOR = 1e-300  # absolute floor: sound bounds of an all-zero neuron are padded by a few ``tiny``

RESCALE_RULES = ("max_abs", "upper", "row_norm", "min_range")
"""Valid values of ``rescale(..., rule=...)``."""


# -- weights of either kind: dense ndarray or scipy.sparse CSR ---------------------
def _entry_rows(w: sp.csr_array) -> np.ndarray:
    """The row of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))


def _with_data(w: sp.csr_array, data: np.ndarray) -> sp.csr_array:
    """``w``'s pattern with other values (entries that became zero are dropped)."""
    out = sp.csr_array((data, w.indices.copy(), w.indptr.copy()), shape=w.shape)
    out.eliminate_zeros()
    return out


def _div_cols(w, col: np.ndarray):
    """``w / col`` (column ``i`` divided by ``col[i]``)."""
    if sp.issparse(w):
        w = sp.csr_array(w)
        return _with_data(w, w.data / col[w.indices])
    return w / col


def _scale_rows(w, row: np.ndarray, *, divide: bool = False):
    """``row[:, None] * w`` (or ``w / row[:, None]`` with ``divide``)."""
    if sp.issparse(w):
        w = sp.csr_array(w)
        r = row[_entry_rows(w)]
        return _with_data(w, w.data / r if divide else r * w.data)
    return w / row[:, None] if divide else row[:, None] * w


def _row_max_abs(w) -> np.ndarray:
    """``max_i |w[j, i]|`` per row (0 for an empty row)."""
    if sp.issparse(w):
        w = sp.csr_array(w)
        out = np.zeros(w.shape[0])
        np.maximum.at(out, _entry_rows(w), np.abs(w.data))
        return out
    return np.abs(w).max(axis=1)


def _row_sum_squares(w) -> np.ndarray:
    if sp.issparse(w):
        w = sp.csr_array(w)
        return np.bincount(_entry_rows(w), weights=w.data * w.data, minlength=w.shape[0])
    return np.sum(w * w, axis=1)


def _zeros_like(w):
    return sp.csr_array(w.shape) if sp.issparse(w) else np.zeros(w.shape)


def _zero_rows(w, keep: np.ndarray):
    """``w`` with the rows where ``keep`` is False set to zero."""
    if sp.issparse(w):
        w = sp.csr_array(w)
        return _with_data(w, np.where(keep[_entry_rows(w)], w.data, 0.0))
    return np.where(keep[:, None], w, 0.0)


def _nonzeros(w):
    """``(rows, cols, values)`` of the nonzero entries, row by row, columns ascending."""
    if sp.issparse(w):
        w = sp.csr_array(w)
        w.sum_duplicates()
        nz = w.data != 0.0
        return _entry_rows(w)[nz], w.indices[nz], w.data[nz]
    r, c = np.nonzero(w)
    return r, c, w[r, c]


# -- shared: sound bounds of a transformed network --------------------------------
def _post(lo, up, caps, linear: bool):
    """Bounds of the activation output for pre-activation bounds ``[lo, up]``."""
    if linear:
        return lo, up
    return np.minimum(np.maximum(lo, 0.0), caps), np.minimum(np.maximum(up, 0.0), caps)


def _sound_bounds(net, ideal_lo, ideal_up, err_w, err_b, err_cap, template: NeuronBounds, methods):
    """Bounds of ``net`` from bounds of the ideal network it rounds (see the module docstring).

    ``ideal_lo/up[k]`` bound the ideal network's pre-activations; ``err_w[k]``,
    ``err_b[k]``, ``err_cap[k]`` bound entrywise ``|stored - ideal|`` of weights,
    biases and caps of layer ``k``.
    """
    dev_in = np.zeros(net.n_inputs)
    amax = np.maximum(np.abs(template.input_lb), np.abs(template.input_ub))
    lower, upper = [], []
    for k, layer in enumerate(net.layers):
        abs_w, abs_b = abs(layer.weights), np.abs(layer.bias)
        reach = amax + dev_in
        dev = abs_w @ dev_in + err_w[k] @ reach + err_b[k]
        dev = dev + (layer.n_in + 2) * _EPS * (abs_w @ reach + abs_b) + _TINY
        lo, up = pad_outward(ideal_lo[k], ideal_up[k], dev)
        lower.append(lo)
        upper.append(up)
        linear = layer.activation.kind is ActivationKind.LINEAR
        caps = layer.activation.caps(layer.n_out) + err_cap[k]
        post_lo, post_up = _post(ideal_lo[k], ideal_up[k], caps, linear)
        amax = np.maximum(np.abs(post_lo), np.abs(post_up))
        # ReLU and clipping are 1-Lipschitz in z and in the cap.
        dev_in = dev + err_cap[k]
    return NeuronBounds(
        template.input_lb.copy(),
        template.input_ub.copy(),
        lower,
        upper,
        list(methods),
        NeuronBounds.caps_of(net),
    )


def _check_bounds(net: ReluNetwork, bounds, what: str) -> NeuronBounds:
    require_network(net, what)
    return validated_bounds(bounds, what, net)


# -- rescaling --------------------------------------------------------------------
@dataclass(frozen=True)
class ScaledNetwork:
    """A rescaled network and the data to map its values back.

    Attributes
    ----------
    network : ReluNetwork
        The rescaled network; same outputs as the original.
    bounds : NeuronBounds
        Sound pre-activation bounds of ``network`` over the original input box.
    factors : list of ndarray
        ``factors[k][j] = c > 0``: the rescaled layer ``k`` computes ``c`` times the
        original pre-activation (and activation) of neuron ``j``; all ones for the
        final layer.
    rule : str
        The rule that chose the factors.
    """

    network: ReluNetwork
    bounds: NeuronBounds
    factors: list
    rule: str

    def _check(self, k: int, values) -> np.ndarray:
        n = len(self.factors)
        if not -n <= k < n:
            raise ShapeMismatchError(
                f"ScaledNetwork: layer index {k} out of range for a network of {n} layers."
            )
        values = np.asarray(values, dtype=np.float64)
        if values.shape[-1:] != self.factors[k].shape:
            raise ShapeMismatchError(
                f"ScaledNetwork: layer {k} has {self.factors[k].size} neurons but the values have "
                f"shape {values.shape}; the last axis must index the neurons."
            )
        return values

    def to_original(self, k: int, values) -> np.ndarray:
        """Map pre-activations or activations of layer ``k`` of the rescaled network to the
        original."""
        return self._check(k, values) / self.factors[k]

    def to_scaled(self, k: int, values) -> np.ndarray:
        """Map pre-activations or activations of layer ``k`` of the original network to the rescaled
        one."""
        return self._check(k, values) * self.factors[k]


def _safe_inverse(m: np.ndarray) -> np.ndarray:
    """``1 / m`` where that is a usable positive factor, else 1 (dead or degenerate neurons)."""
    with np.errstate(divide="ignore", over="ignore"):
        c = 1.0 / m
        ok = (m > 0) & np.isfinite(c) & np.isfinite(1.0 / c) & (c > 0)
    return np.where(ok, c, 1.0)


def _factors(rule: str, lo, up, w_in, bias, magnitude) -> np.ndarray:
    """Per-neuron factors of one hidden layer (``w_in``: incoming weights already column-scaled).

    ``magnitude`` is ``|W| max|a| + |b|`` per neuron in the original network: bounds
    below ``_NOISE`` times it are rounding noise of an (almost) dead neuron, and
    scaling them up would only amplify that noise, so such neurons keep ``c = 1``.
    """
    m = np.maximum(np.abs(lo), np.abs(up))
    if rule == "row_norm":
        # scaled by the largest entry so that squaring neither overflows nor underflows
        big = np.maximum(_row_max_abs(w_in), np.abs(bias))
        s = np.where(big > 0.0, big, 1.0)
        w, b = _scale_rows(w_in, s, divide=True), bias / s
        return _safe_inverse(s * np.sqrt(_row_sum_squares(w) + b * b))
    if rule == "max_abs":
        c = _safe_inverse(m)
    else:
        c = np.where(up > 0, _safe_inverse(np.where(up > 0, up, 1.0)), _safe_inverse(m))
    return np.where(m <= _NOISE * magnitude + _FLOOR, 1.0, c)


def _scaled_activation(act: Activation, c: np.ndarray) -> Activation:
    if act.kind is not ActivationKind.CLIPPED_RELU or np.all(c == 1.0):
        return act
    return Activation.CLIPPED_RELU(tuple(act.caps(c.size) * c))


# -- the min_range rule: a log-domain LP over all factors at once ------------------
# |log2 c| <= 200: every factor in [2**-200, 2**200] (about 6e-61 to 1.6e60), far from float64's
# over- and underflow (1e+-308).  The optimum keeps every coefficient within the unscaled range
# anyway; the bound only matters for networks whose own neuron scales differ by more.
_LOG2_BOUND = 200.0
_BAND_SLACK = 1e-6  # second stage: the first stage's band, widened by this many log2 units


def _noise_masks(net: ReluNetwork, bounds: NeuronBounds) -> list:
    """Per layer, the neurons whose bounds are zero or rounding noise (see :func:`_factors`)."""
    amax = np.maximum(np.abs(bounds.input_lb), np.abs(bounds.input_ub))
    masks = []
    for k, layer in enumerate(net.layers):
        magnitude = abs(layer.weights) @ amax + np.abs(layer.bias)
        m = np.maximum(np.abs(bounds.lower[k]), np.abs(bounds.upper[k]))
        masks.append(m <= _NOISE * magnitude + _FLOOR)
        post = bounds.post_bounds(k)
        amax = np.maximum(np.abs(post[0]), np.abs(post[1]))
    return masks


def _written(bounds: NeuronBounds, k: int):
    """How a big-M model treats layer ``k``'s neurons: ``(row, unstable, constant value)``.

    ``row``: the neuron has a row and a variable (unstable, stably linear, or a
    linear layer); ``unstable``: it also has big-M rows; the others are
    constants (0 when stably inactive, the cap when saturated), as the layer
    writer of :mod:`pyomo_relu.formulations.writer` decides.
    """
    lo, up = bounds.lower[k], bounds.upper[k]
    n = lo.size
    if not bounds.is_piecewise(k):
        return np.ones(n, bool), np.zeros(n, bool), np.zeros(n)
    cap = bounds.caps[k]
    linear = (lo >= 0.0) & (up <= cap)
    saturated = (lo >= cap) & ~linear
    row = linear | ~((up <= 0.0) | saturated)
    value = np.where(saturated, np.where(np.isfinite(cap), cap, 0.0), 0.0)
    return row, row & ~linear, value


@dataclass(frozen=True)
class _Coefficients:
    """The coefficients of a big-M model of a network and how a rescaling moves them.

    After scaling hidden neurons by ``c = 2**s``, entry ``e`` has magnitude
    ``2**(log2[e] + s[plus[e]] - s[minus[e]])``; index ``-1`` stands for an
    unscaled quantity (an input, an output, a neuron kept at ``c = 1``).
    ``index[k][j]`` is the variable of neuron ``(k, j)`` or -1.
    """

    log2: np.ndarray
    plus: np.ndarray
    minus: np.ndarray
    index: list
    n_vars: int

    def values(self, s: np.ndarray) -> np.ndarray:
        """log2 magnitudes after scaling by ``2**s``, with the unit coefficients (0)."""
        s0 = np.append(np.asarray(s, dtype=np.float64), 0.0)  # s0[-1] = 0 for index -1
        return np.append(self.log2 + s0[self.plus] - s0[self.minus], 0.0)


def _coefficients(net: ReluNetwork, bounds: NeuronBounds) -> _Coefficients:
    """Collect every coefficient of the rows the big-M formulation writes for ``net``.

    Per written neuron ``i`` of layer ``k``: its nonzero weights on the previous
    layer's variables (``W[i, j]``, scaled by ``c_i / c_j``), its nonzero constant
    (bias plus the saturated neurons' share, scaled by ``c_i``) and, when unstable,
    its big-M coefficients (``|l|`` and ``min(u, cap)`` when ``l < 0``, ``u - cap``
    and ``cap`` when ``u > cap``; all scaled by ``c_i``).  The unit coefficients
    of the ``z``, ``y`` and output variables are not scaled; :meth:`_Coefficients.values`
    adds them.
    """
    noise = _noise_masks(net, bounds)
    last = net.n_layers - 1
    index, n_vars = [], 0
    prev_idx, prev_row, prev_val = -np.ones(net.n_inputs, int), None, np.zeros(net.n_inputs)
    logs, plus, minus = [], [], []

    def add(values, p, m):
        values = np.abs(np.asarray(values, dtype=np.float64))
        keep = values > 0.0
        logs.append(np.log2(values[keep]))
        plus.append(np.broadcast_to(p, values.shape)[keep])
        minus.append(np.broadcast_to(m, values.shape)[keep])

    for k, layer in enumerate(net.layers):
        row, unstable, value = _written(bounds, k)
        idx = -np.ones(layer.n_out, int)
        free = row & ~noise[k] if k < last else np.zeros(layer.n_out, bool)
        idx[free] = np.arange(n_vars, n_vars + int(free.sum()))
        n_vars += int(free.sum())
        index.append(idx)
        rows = np.flatnonzero(row)
        cols = np.arange(layer.n_in) if prev_row is None else np.flatnonzero(prev_row)
        w = layer.weights[rows]
        r, c, v = _nonzeros(w[:, cols])
        add(v, idx[rows[r]], prev_idx[cols[c]])
        add(layer.bias[rows] + w @ prev_val, idx[rows], -1)
        lo, up, cap = bounds.lower[k], bounds.upper[k], bounds.caps[k]
        on = unstable & (lo < 0.0)
        add(lo[on], idx[on], -1)
        add(np.minimum(up[on], cap[on]), idx[on], -1)
        sat = unstable & (up > cap)
        add(up[sat] - cap[sat], idx[sat], -1)
        add(cap[sat], idx[sat], -1)
        prev_idx, prev_row, prev_val = idx, row, value
    return _Coefficients(
        np.concatenate(logs), np.concatenate(plus), np.concatenate(minus), index, n_vars
    )


def coefficient_spread(net: ReluNetwork, bounds: NeuronBounds, factors=None) -> float:
    """``log2(max |a| / min |a|)`` over the nonzero coefficients of ``net``'s big-M rows.

    The coefficients are those the big-M formulations write: the weights on the
    variables of the previous layer, the row constants (bias plus saturated
    neurons), the big-M values of unstable neurons (``l``, ``min(u, cap)``,
    ``u - cap``, ``cap``) and the unit coefficients of the neuron variables.  The
    ``"min_range"`` rule of :func:`rescale` minimizes this quantity.

    Parameters
    ----------
    net : ReluNetwork
    bounds : NeuronBounds
        Sound bounds of ``net``; they decide which neurons are stable.
    factors : list of ndarray, optional
        Per-layer positive factors (as :attr:`ScaledNetwork.factors`): the spread
        the rows of ``rescale(net, bounds)`` would have with these factors,
        without building that network.  Factors of the input layer do not exist
        and those of neurons without rows do not matter.  Default: all ones.

    Returns
    -------
    float
        The spread in bits (0 when every coefficient has magnitude 1).
    """
    bounds = _check_bounds(net, bounds, "coefficient_spread")
    coef = _coefficients(net, bounds)
    s = np.zeros(coef.n_vars)
    if factors is not None:
        if len(factors) != net.n_layers:
            raise ShapeMismatchError(
                f"coefficient_spread: {len(factors)} factor arrays for a network of "
                f"{net.n_layers} layers; pass one array per layer (ScaledNetwork.factors)."
            )
        for k, idx in enumerate(coef.index):
            c = np.broadcast_to(np.asarray(factors[k], dtype=np.float64), idx.shape)
            s[idx[idx >= 0]] = np.log2(c[idx >= 0])
    values = coef.values(s)
    return float(values.max() - values.min())


def _solve(lp: LayerLP, cost: np.ndarray, stage: str, *, ipm: bool = False) -> np.ndarray:
    """Solve ``lp`` with ``cost`` by HiGHS (simplex, or interior point with crossover); the
    primal solution."""
    import highspy

    h = new_highs()
    h.setOptionValue("threads", 1)
    if ipm:
        h.setOptionValue("solver", "ipm")
    h.passModel(highs_model(lp))
    h.changeColsCost(cost.size, np.arange(cost.size, dtype=np.int32), cost)
    run_highs(h)
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise SolverError(
            f"rescale(rule='min_range'): HiGHS ended the {stage} LP with status "
            f"{h.modelStatusToString(status)!r}, expected an optimal solution; use another rule "
            f"({', '.join(map(repr, RESCALE_RULES[:-1]))})."
        )
    return np.asarray(h.getSolution().col_value, dtype=np.float64)


def _band(coef: _Coefficients) -> tuple[float, float]:
    """First stage: the narrowest band ``[t_lo, t_hi]`` of log2 magnitudes (an LP).

    ``min t_hi - t_lo`` over ``t_lo <= log2|a_e| + s_p - s_m <= t_hi`` for every
    entry, ``|s| <= 200``; the unscaled entries (and the unit coefficients) bound
    ``t`` directly.  Entries of one pair ``(p, m)`` share two rows: their largest
    and smallest value.
    """
    n = coef.n_vars
    fixed = (coef.plus < 0) & (coef.minus < 0)
    const = np.append(coef.log2[fixed], 0.0)
    pairs = np.stack([coef.plus[~fixed], coef.minus[~fixed]], axis=1)
    pairs, group = np.unique(pairs, axis=0, return_inverse=True)
    group = group.ravel()
    g = len(pairs)
    top = np.full(g, -np.inf)
    np.maximum.at(top, group, coef.log2[~fixed])
    bottom = np.full(g, np.inf)
    np.minimum.at(bottom, group, coef.log2[~fixed])
    rows, cols, vals = [], [], []
    for offset, t_col in ((0, n + 1), (g, n)):  # rows 0..g-1 against t_hi, g..2g-1 against t_lo
        r = offset + np.arange(g)
        for sign, col in ((1.0, pairs[:, 0]), (-1.0, pairs[:, 1])):
            rows.append(r[col >= 0])
            cols.append(col[col >= 0])
            vals.append(np.full(int((col >= 0).sum()), sign))
        rows.append(r)
        cols.append(np.full(g, t_col))
        vals.append(np.full(g, -1.0))
    lp = LayerLP(
        col_lo=np.concatenate([np.full(n, -_LOG2_BOUND), [-np.inf, const.max()]]),
        col_hi=np.concatenate([np.full(n, _LOG2_BOUND), [const.min(), np.inf]]),
        row_lo=np.concatenate([np.full(g, -np.inf), -bottom]),
        row_hi=np.concatenate([-top, np.full(g, np.inf)]),
        rows=np.concatenate(rows),
        cols=np.concatenate(cols),
        vals=np.concatenate(vals),
        obj_cols=np.zeros(0, int),
    )
    cost = np.zeros(n + 2)
    cost[n], cost[n + 1] = -1.0, 1.0
    x = _solve(lp, cost, "band")
    return float(x[n]), float(x[n + 1])


def _centred(coef: _Coefficients, t_lo: float, t_hi: float) -> np.ndarray:
    """Second stage: inside the band, the log factors closest to unit coefficients (an LP).

    ``min sum_e |log2|a_e| + s_p - s_m|`` with every entry kept in
    ``[t_lo, t_hi]`` (widened by ``_BAND_SLACK``): each entry is ``p_e - n_e`` with
    ``0 <= p_e <= t_hi`` and ``0 <= n_e <= -t_lo``.  The first stage leaves the
    factors of the neurons off its critical entries free in an interval; this
    picks them by the L1 form of Curtis and Reid's least-squares scaling.
    """
    n = coef.n_vars
    live = np.flatnonzero((coef.plus >= 0) | (coef.minus >= 0))
    e = live.size
    p, m = coef.plus[live], coef.minus[live]
    r = np.arange(e)
    rows = [r[p >= 0], r[m >= 0], r, r]
    cols = [p[p >= 0], m[m >= 0], n + r, n + e + r]
    vals = [np.ones(int((p >= 0).sum())), -np.ones(int((m >= 0).sum())), -np.ones(e), np.ones(e)]
    hi, lo = max(t_hi, 0.0) + _BAND_SLACK, max(-t_lo, 0.0) + _BAND_SLACK
    lp = LayerLP(
        col_lo=np.concatenate([np.full(n, -_LOG2_BOUND), np.zeros(2 * e)]),
        col_hi=np.concatenate([np.full(n, _LOG2_BOUND), np.full(e, hi), np.full(e, lo)]),
        row_lo=-coef.log2[live],
        row_hi=-coef.log2[live],
        rows=np.concatenate(rows),
        cols=np.concatenate(cols),
        vals=np.concatenate(vals),
        obj_cols=np.zeros(0, int),
    )
    # degenerate for the simplex method (every entry is a row): interior point is 3-5x faster
    cost = np.concatenate([np.zeros(n), np.ones(2 * e)])
    return _solve(lp, cost, "centring", ipm=True)[:n]


def _min_range_factors(net: ReluNetwork, bounds: NeuronBounds) -> list:
    """Per-layer factors of the ``"min_range"`` rule (see :func:`rescale`)."""
    coef = _coefficients(net, bounds)
    s = np.zeros(coef.n_vars)
    if coef.n_vars:
        s = np.clip(_centred(coef, *_band(coef)), -_LOG2_BOUND, _LOG2_BOUND)
    factors = []
    for idx in coef.index:
        c = np.ones(idx.size)
        c[idx >= 0] = np.exp2(s[idx[idx >= 0]])
        factors.append(c)
    return factors


def rescale_rule(rule, what: str) -> str:
    """``rule`` if it is one of :data:`RESCALE_RULES`; else UnknownOptionError naming ``what``."""
    if not isinstance(rule, str) or rule not in RESCALE_RULES:
        raise UnknownOptionError(
            f"{what}: unknown rescaling rule {rule!r}; valid rules are "
            f"{', '.join(map(repr, RESCALE_RULES))}."
        )
    return rule


def rescale(net: ReluNetwork, bounds: NeuronBounds, *, rule: str = "max_abs") -> ScaledNetwork:
    r"""Rescale every hidden neuron by a positive factor without changing the network function.

    ReLU is positively homogeneous, :math:`\max(0, cz) = c\max(0, z)` for :math:`c > 0`,
    and so is the clipped ReLU when its cap scales too,
    :math:`\min(\max(0, cz), c\,\kappa) = c\min(\max(0, z), \kappa)`.  Multiplying row
    ``j`` of layer ``k``'s weights and bias (and its cap) by ``c`` and column ``j`` of
    layer ``k + 1``'s weights by ``1 / c`` therefore leaves the output unchanged.  Apart
    from permutations these are the only function-preserving changes of a ReLU
    network's weights (Phuong & Lampert, "Functional vs. parametric equivalence of
    ReLU networks", ICLR 2020).  Plate et al. ("An analysis of optimization problems
    involving ReLU neural networks", arXiv 2502.03016, 2025) use such a scaling to
    normalize the big-M values of a trained network.

    This is a change of variables: the LP relaxation of a big-M model of the scaled
    network has the same optimum as that of the original.  Any effect on a MIP
    solver comes from numerics (coefficient ranges, tolerances, presolve, cuts and
    heuristics), and can go either way.

    Parameters
    ----------
    net : ReluNetwork
    bounds : NeuronBounds
        Sound bounds of ``net``; they choose the factors and are scaled with them.
    rule : {"max_abs", "upper", "row_norm", "min_range"}, keyword-only
        How factor ``c`` of a hidden neuron with bounds ``[l, u]`` is chosen:

        - ``"max_abs"`` (default): ``c = 1 / max(|l|, |u|)``; every hidden
          pre-activation then lies in ``[-1, 1]`` and every hidden big-M is at most 1
          (up to the outward rounding of the bounds).
        - ``"upper"``: ``c = 1 / u`` where ``u > 0`` (the upper big-M becomes 1),
          else as ``"max_abs"``.
        - ``"row_norm"``: ``c = 1 / ||(w, b)||_2``, the Euclidean norm of the neuron's
          incoming weight row *including its bias*, taken after the previous layer
          was rescaled, so every hidden affine map of the result has unit rows in
          homogeneous coordinates.  Independent of the bounds.
        - ``"min_range"``: all factors at once, in the log domain, so that the
          rows of the big-M model have the smallest coefficient range
          ``max |a| / min |a|`` (see :func:`coefficient_spread` for the
          coefficients: weights, row constants, big-M values, unit coefficients).
          With ``s = log2 c``, a weight ``W[i, j]`` becomes
          ``log2|W[i, j]| + s_i - s_j``, a constant or big-M value of neuron ``i``
          ``log2|a| + s_i``: the spread is a linear program,
          ``min t_hi - t_lo`` s.t. ``t_lo <= log2|a_e| + s_i - s_j <= t_hi``,
          ``|s| <= 200``, solved by HiGHS.  A second LP keeps that band and, among
          its many optimal scalings, takes the one with the least
          ``sum_e |log2|a_e| + s_i - s_j|`` (coefficients closest to 1; the L1
          form of Curtis and Reid's least-squares scaling).  A convex problem
          in the log factors solved a posteriori, as in Plate et al.; neurons
          without rows (stably inactive or saturated) keep ``c = 1``.  Costs
          two LPs with about two rows (the first) or two columns (the second) per
          weight: 0.3 s for 2 000 weights, 6-12 s for 22 000 (docs/scaling.md).

        Neurons whose bounds are zero or mere rounding noise,
        ``max(|l|, |u|) <= 1e-12 (|w| max|a| + |b|) + 1e-300`` (dead neurons), a zero row for
        ``"row_norm"``, and factors that would overflow keep ``c = 1``.  The final layer always has
        ``c = 1`` so outputs stay in the original units.

    Returns
    -------
    ScaledNetwork
        The network, its sound bounds (old bounds times the factors, widened by the
        rounding of the new weights; see the module docstring), the factors and
        the rule.

    Raises
    ------
    UnknownOptionError
        If ``rule`` is not one of :data:`RESCALE_RULES`.
    NetworkTypeError, BoundsTypeError
        If ``net`` is not a ReluNetwork or ``bounds`` not a NeuronBounds.
    ShapeMismatchError
        If ``bounds`` belong to a network of another shape.
    MissingBoundsError, InfeasibleBoxError
        If a bound is NaN or a lower bound exceeds its upper bound.
    """
    rule = rescale_rule(rule, "rescale")
    bounds = _check_bounds(net, bounds, "rescale")
    chosen = _min_range_factors(net, bounds) if rule == "min_range" else None
    c_prev = np.ones(net.n_inputs)
    amax = np.maximum(np.abs(bounds.input_lb), np.abs(bounds.input_ub))
    layers, factors, ideal_lo, ideal_up, err_w, err_b, err_cap = [], [], [], [], [], [], []
    for k, layer in enumerate(net.layers):
        w_in = _div_cols(layer.weights, c_prev)
        if k == net.n_layers - 1:
            c = np.ones(layer.n_out)
        elif chosen is not None:
            c = chosen[k]
        else:
            magnitude = abs(layer.weights) @ amax + np.abs(layer.bias)
            c = _factors(rule, bounds.lower[k], bounds.upper[k], w_in, layer.bias, magnitude)
        new = DenseLayer(
            _scale_rows(w_in, c),
            c * layer.bias,
            _scaled_activation(layer.activation, c),
            name=f"layer {k}",
        )
        layers.append(new)
        factors.append(c)
        # c * l rounds by at most half an ulp: one ulp outward keeps the ideal bounds sound.
        lo, up = pad_outward(c * bounds.lower[k], c * bounds.upper[k])
        ideal_lo.append(lo)
        ideal_up.append(up)
        # Two roundings per weight (divide, multiply), one per bias and cap.
        err_w.append(abs(new.weights) * (2 * _EPS))
        err_b.append(_EPS * np.abs(new.bias))
        caps = new.activation.caps(new.n_out)
        err_cap.append(np.where(np.isfinite(caps), _EPS * caps, 0.0))
        c_prev = c
        post = bounds.post_bounds(k)
        amax = np.maximum(np.abs(post[0]), np.abs(post[1]))
    scaled = net.with_layers(layers)
    new_bounds = _sound_bounds(
        scaled, ideal_lo, ideal_up, err_w, err_b, err_cap, bounds, bounds.methods
    )
    return ScaledNetwork(scaled, new_bounds, factors, rule)


# -- pruning ----------------------------------------------------------------------
@dataclass(frozen=True)
class PrunedNetwork:
    """A network without its stable constant neurons and stably linear layers.

    Attributes
    ----------
    network : ReluNetwork
        Same function as the original on the bounds' input box.
    bounds : NeuronBounds
        Sound pre-activation bounds of ``network`` over that box.
    kept : list of ndarray
        Per hidden layer of the original, the indices (original numbering) of its
        neurons that are neurons of ``network``; empty for a layer that was folded
        into the next one.
    layer_map : tuple of (int or None)
        Per layer of the original, the index of the layer of ``network`` that holds
        its kept neurons, or None if the layer was folded away.
    n_constant : int
        Neurons removed as constants (stably inactive or stably saturated).
    n_folded : int
        Neurons removed because their whole layer was stably linear (or linear).
    n_dead : int
        Neurons removed because no output depends on them: every outgoing weight to a
        neuron of the next layer that is kept and not constant is zero.
    """

    network: ReluNetwork
    bounds: NeuronBounds
    kept: list
    layer_map: tuple
    n_constant: int
    n_folded: int
    n_dead: int = 0


def _classify(bounds: NeuronBounds, k: int):
    """Constant mask, constant values and stably-linear mask of hidden layer ``k``.

    ``bounds`` carry the network's caps (see :func:`_check_bounds`).
    """
    p = bounds.pieces(k)
    if not p.piecewise:
        return p.unstable, np.zeros(p.unstable.size), p.linear
    caps = bounds.caps[k]
    value = np.where(p.saturated, np.where(np.isfinite(caps), caps, 0.0), 0.0)
    return p.inactive | p.saturated, value, p.linear


def _dead_masks(net: ReluNetwork, consts: list) -> list:
    """Per hidden layer, the non-constant neurons that no output depends on.

    A backward pass: every output is needed; a hidden neuron is needed when some
    needed, non-constant neuron of the next layer has a nonzero weight from it
    (constants are replaced by their values, so what feeds them does not matter).
    Removing a neuron can thus make the neurons feeding only it dead too.
    """
    needed = np.ones(net.layers[-1].n_out, dtype=bool)
    dead = [None] * (net.n_layers - 1)
    for k in range(net.n_layers - 2, -1, -1):
        w_next = net.layers[k + 1].weights
        reached = np.zeros(w_next.shape[1], dtype=bool)
        reached[_nonzeros(w_next[np.flatnonzero(needed)])[1]] = True
        dead[k] = ~reached & ~consts[k]
        needed = reached & ~consts[k]
    return dead


def _gamma(n: int) -> float:
    """Bound of the relative rounding error of a length-``n`` dot product (Higham's gamma_n)."""
    return (n + 1) * _EPS


def _keep_activation(act: Activation, keep: np.ndarray) -> Activation:
    if act.kind is ActivationKind.CLIPPED_RELU and isinstance(act.cap, tuple):
        return Activation.CLIPPED_RELU(tuple(np.asarray(act.cap)[keep]))
    return act


def _fold(pending, keep, value, w_next, b_next):
    """Fold a layer whose non-constant neurons are all stably linear into the next affine map.

    Its output is ``P h + q`` (rows of ``P`` zero for constants), so the next
    pre-activation is ``(W P) h + (W q + b)``.  Entrywise rounding error bounds are
    carried along.
    """
    a, d, ea, ed = pending
    p = _zero_rows(a, keep)
    q = np.where(keep, d, value)
    abs_w = abs(w_next)
    new_a = w_next @ p
    new_d = w_next @ q + b_next
    new_ea = abs_w @ _zero_rows(ea, keep) + (abs_w @ abs(p)) * _gamma(len(q))
    new_ed = abs_w @ np.where(keep, ed, 0.0) + _gamma(len(q) + 1) * (
        abs_w @ np.abs(q) + np.abs(b_next)
    )
    return new_a, new_d, new_ea, new_ed


def _after_emit(keep, value, w_next, b_next):
    """Pending affine map of the next layer after a layer was kept (constants into its bias)."""
    const = ~keep
    a = w_next[:, np.flatnonzero(keep)]
    w_const = w_next[:, np.flatnonzero(const)]
    d = b_next + w_const @ value[const]
    ed = _gamma(int(const.sum()) + 1) * (abs(w_const) @ np.abs(value[const]) + np.abs(b_next))
    if not const.any():  # b_next + 0 is exact
        ed = np.zeros_like(d)
    return a, d, _zeros_like(a), ed


def prune_stable(net: ReluNetwork, bounds: NeuronBounds) -> PrunedNetwork:
    """Remove the hidden neurons that the bounds prove stable, keeping the function on the box.

    Per hidden layer ``k`` (the final layer is never changed):

    - stably inactive neurons (``u <= 0``) output 0: their row is dropped and so is
      column ``j`` of the next layer;
    - stably saturated clipped neurons (``l >= cap``) output ``cap``: ``cap`` times
      column ``j`` of the next layer moves into its bias and the neuron is dropped;
    - if every remaining neuron is stably linear (``0 <= l`` and ``u <= cap``), or the
      layer is linear, or no neuron remains, the layer is the affine map
      ``a_k = P h + q`` and is folded into the next one:
      ``W_{k+1} P h + (W_{k+1} q + b_{k+1})``.  Layers therefore never become
      empty; a network that is constant on the box ends as one affine layer with
      zero weights.
    - stably linear neurons in a layer that also has unstable neurons stay as they
      are (a big-M formulation gives them no binary anyway): a dense network has
      no skip connections to route them past the layer.
    - dead neurons, stable or not, whose outgoing weights to the neurons kept in the
      next layer are all zero, do not affect the output: they are dropped like
      inactive ones (output 0).  This repeats backwards through the layers, since
      dropping a neuron can leave the neurons that fed only it dead as well.

    Parameters
    ----------
    net : ReluNetwork
    bounds : NeuronBounds
        Sound bounds of ``net``; the result equals ``net`` only on their input box.

    Returns
    -------
    PrunedNetwork

    Raises
    ------
    NetworkTypeError, BoundsTypeError
        If ``net`` is not a ReluNetwork or ``bounds`` not a NeuronBounds.
    ShapeMismatchError
        If ``bounds`` belong to a network of another shape, or do not contain the
        network's pre-activations at a few points of their box (bounds of another
        network of the same shape; see :func:`check_sound_at_samples`).
    MissingBoundsError, InfeasibleBoxError
        If a bound is NaN or a lower bound exceeds its upper bound.
    """
    bounds = _check_bounds(net, bounds, "prune_stable")
    check_sound_at_samples(net, bounds, bounds.input_lb, bounds.input_ub, "prune_stable")
    first = net.layers[0]
    pending = (
        first.weights.copy(),
        np.array(first.bias),
        _zeros_like(first.weights),
        np.zeros(first.n_out),
    )
    layers, kept, layer_map, methods = [], [], [], []
    ideal_lo, ideal_up, err_w, err_b = [], [], [], []
    n_constant = n_folded = n_dead = 0
    classes = [_classify(bounds, k) for k in range(net.n_layers - 1)]
    dead = _dead_masks(net, [c[0] for c in classes])
    for k, layer in enumerate(net.layers):
        last = k == net.n_layers - 1
        if last:
            const, value, linear = np.zeros(layer.n_out, bool), np.zeros(layer.n_out), None
        else:
            const, value, linear = classes[k]
            n_constant += int(const.sum())
            n_dead += int(dead[k].sum())
            # a dead neuron counts as the constant 0: every weight that reads it is zero
            const, value = const | dead[k], np.where(dead[k], 0.0, value)
        keep = ~const
        if linear is not None and np.all(linear[keep]):
            n_folded += int(keep.sum())
            kept.append(np.zeros(0, dtype=int))
            layer_map.append(None)
            nxt = net.layers[k + 1]
            pending = _fold(pending, keep, value, nxt.weights, nxt.bias)
            continue
        a, d, ea, ed = pending
        act = _keep_activation(layer.activation, keep)
        rows = np.flatnonzero(keep)
        layers.append(DenseLayer(a[rows], d[keep], act, name=f"layer {len(layers)}"))
        ideal_lo.append(bounds.lower[k][keep])
        ideal_up.append(bounds.upper[k][keep])
        err_w.append(ea[rows])
        err_b.append(ed[keep])
        methods.append(bounds.methods[k])
        layer_map.append(len(layers) - 1)
        if not last:
            kept.append(np.flatnonzero(keep))
            nxt = net.layers[k + 1]
            pending = _after_emit(keep, value, nxt.weights, nxt.bias)
    pruned = net.with_layers(layers)
    err_cap = [np.zeros(layer.n_out) for layer in layers]
    new_bounds = _sound_bounds(pruned, ideal_lo, ideal_up, err_w, err_b, err_cap, bounds, methods)
    return PrunedNetwork(pruned, new_bounds, kept, tuple(layer_map), n_constant, n_folded, n_dead)
