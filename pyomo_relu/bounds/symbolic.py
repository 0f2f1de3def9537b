r"""Symbolic bounds: linear relaxations back-substituted to the input box (DeepPoly / CROWN).

For the pre-activations ``z_k = W_k a_{k-1} + b_k`` of layer ``k`` the bound of each neuron
is an upper bound of ``mu^T a_{k-1} + c`` with ``mu = \pm W_k[j]``, ``c = \pm b_k[j]``.  Going
back one layer at a time, every neuron ``j`` of layer ``i`` with activation ``sigma`` and
bounds ``[l_j, u_j]`` is replaced by a line: with a slope ``s_j`` and
``lambda_j = mu_j s_j``,

.. math::  \mu_j \sigma(z) \le \lambda_j z + d_j, \qquad
           d_j = \max_{p \in P_j} \mu_j \sigma(p) - \lambda_j p \quad (z \in [l_j, u_j]),

where ``P_j`` holds ``l_j``, ``u_j`` and the kinks ``0`` and the cap ``c`` that lie inside
(``mu sigma - lambda z`` is linear between them, so ``d_j`` is exact).  Then
``lambda^T z_i = (W_i^T lambda)^T a_{i-1} + lambda^T b_i`` carries the bound one layer further
back, and at the input the linear function is maximised over the box
(Singh et al., "An abstract domain for certifying neural networks", POPL 2019; Zhang et al.,
"Efficient neural network robustness certification with general activation functions",
NeurIPS 2018).

Slopes.  ``mu_j > 0`` needs an upper line of ``sigma``, ``mu_j < 0`` a lower one.  Where
``sigma`` is convex on ``[l, u]`` (the 0 kink) the upper line is the chord and the lower slope
is free in ``[0, 1]`` (``[0, c/u]`` when both kinks are inside); where it is concave (the cap
kink) the lower line is the chord and the upper slope, through ``(c, c)``, is free in ``[0, 1]``
(``[0, c/(c - l)]`` with both kinks).  The free slope is chosen at the end of its range that
leaves the smaller area between line and function: the upper end for the 0 kink when
``u > -l`` (DeepPoly's rule), for the cap kink when ``u - c < c - l``.  With ``optimize=True``
the free slopes of every (target neuron, earlier neuron) pair are improved by projected
gradient steps (Adam) on the bound itself (alpha-CROWN: Xu et al., "Fast and complete",
ICLR 2021); the gradient is the exact adjoint of the back-substitution, in numpy.

Soundness.  Because ``d_j`` is the exact intercept for *any* slope, every slope (even a
rounded or badly optimized one) gives a valid bound: optimization only ever changes how
tight it is.  The final evaluation adds a budget for floating point: the rounding of each
``d_j``, of ``W_i^T lambda`` (``gamma_n |lambda|^T |W_i| max|a_{i-1}|``, Higham sec. 3.1), of
the sums, and the error of a float64 forward pass of every layer, as :mod:`.interval` pads it;
the result is rounded one ulp outward.  So the bounds contain every real and every float64
pre-activation of the box.  Each layer is finally intersected with its interval bounds
(computed from the symbolic bounds of the layer before) and with ``prior``: never looser than
either.

Input constraints.  With ``extra_constraints=(A, lo, hi)`` the last step maximises over the box
intersected with ``lo <= A x <= hi`` by one small HiGHS LP per bound, certified by its dual
(:class:`~.lp.HighsLP`); the slopes are still chosen (and optimized) against the box alone.
The bounds' provenance is then ``symbolic-constrained``.

Weights may be dense arrays or ``scipy.sparse`` matrices: the back-substitution only multiplies
dense coefficient matrices by ``W`` (``M @ W``, ``G @ W.T``) and takes ``abs(W)``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import InfeasibleBoxError, ShapeMismatchError, UnknownOptionError
from ..network import ReluNetwork
from .constraints import check_inputs_feasible, normalize_extra_constraints
from .core import LayerPieces, NeuronBounds, Provenance, Scope, check_box, require_network
from .interval import affine_interval, interval_bounds
from .registry import BoundMethod, register_bound_method

__all__ = ["symbolic_bounds", "LayerRelaxation"]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny


def _abs(w):
    """``|W|`` of the same kind (dense or sparse)."""
    return abs(w) if sp.issparse(w) else np.abs(w)


def _rows(w, idx: np.ndarray) -> np.ndarray:
    """Rows ``idx`` of ``W`` as a dense array (the coefficient matrices are dense)."""
    part = w[idx]
    return np.asarray(part.toarray() if sp.issparse(part) else part, dtype=np.float64)


def _times(m: np.ndarray, w) -> np.ndarray:
    """``M @ W`` as a dense array, for dense or sparse ``W``."""
    return np.asarray(m @ w, dtype=np.float64)


def _forward_slack(layer, a_mag: np.ndarray) -> np.ndarray:
    """Bound on the error of a float64 forward pass of ``layer`` (as :mod:`.interval` pads)."""
    mag = np.asarray(_abs(layer.weights) @ a_mag).ravel() + np.abs(layer.bias)
    return (layer.n_in + 2) * _EPS * mag + _TINY


@dataclass(frozen=True)
class LayerRelaxation:
    """The lines of one layer's activations over its bounds ``[lo, up]``.

    Attributes
    ----------
    points, values : ndarray (4, n)
        Breakpoints ``p`` of each neuron inside ``[lo, up]`` (``lo``, ``up``, 0, the cap;
        repeated where absent) and ``sigma(p)``.
    s_up, s_lo : ndarray (n,)
        Default slopes of the upper and lower lines.
    free_up, free_lo : ndarray (n,)
        Upper end of the free range ``[0, free]`` of the upper / lower slope (0: fixed).
    a_mag : ndarray (n,)
        ``max |sigma(z)|`` over the bounds (for the rounding budget of the next layer).
    """

    points: np.ndarray
    values: np.ndarray
    s_up: np.ndarray
    s_lo: np.ndarray
    free_up: np.ndarray
    free_lo: np.ndarray
    a_mag: np.ndarray

    @staticmethod
    def of(lo: np.ndarray, up: np.ndarray, cap: np.ndarray, piecewise: bool) -> LayerRelaxation:
        """The relaxation of ``a = min(max(0, z), cap)`` (identity for a linear layer)."""
        n = lo.size
        if not piecewise:
            pts = np.stack([lo, up, lo, up])
            one, zero = np.ones(n), np.zeros(n)
            mag = np.maximum(np.abs(lo), np.abs(up))
            return LayerRelaxation(pts, pts.copy(), one, one, zero, zero, mag)
        k0 = (lo < 0.0) & (up > 0.0)
        kc = (lo < cap) & (up > cap)
        pts = np.stack([lo, up, np.where(k0, 0.0, lo), np.where(kc, cap, lo)])
        vals = np.minimum(np.maximum(pts, 0.0), cap)
        width = np.where(up > lo, up - lo, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            chord = np.where(up > lo, (vals[1] - vals[0]) / width, 0.0)
            # free ranges: lower slope through the 0 kink, upper slope through the cap
            free_lo = np.where(k0, np.where(kc, cap / up, 1.0), 0.0)
            free_up = np.where(kc, np.where(k0, cap / (cap - lo), 1.0), 0.0)
        active = (lo >= 0.0) & (up <= cap)  # the identity piece on the whole range
        fixed = np.where(active, 1.0, np.where(k0 | kc, chord, 0.0))
        s_lo = np.where(k0, np.where(up > -lo, free_lo, 0.0), fixed)
        s_up = np.where(kc, np.where(up - cap < cap - lo, free_up, 0.0), fixed)
        mag = np.max(np.abs(vals), axis=0)
        return LayerRelaxation(pts, vals, s_up, s_lo, free_up, free_lo, mag)


@dataclass
class _Pass:
    """One back-substitution for the rows ``(w, c)``: values, and what the adjoint needs."""

    upper: np.ndarray
    mu_x: np.ndarray
    steps: list  # per earlier layer i (k-1 down to 0): (mu_i, slope_i, argmax point, value)


def _slopes(mu: np.ndarray, r: LayerRelaxation, theta):
    """Slope of each (row, neuron): the upper line where ``mu > 0``, else the lower one."""
    pos = mu > 0.0
    slope = np.where(pos, r.s_up, r.s_lo)
    if theta is not None:
        t_up, t_lo = theta
        slope = np.where(pos & (r.free_up > 0), t_up * r.free_up, slope)
        slope = np.where(~pos & (r.free_lo > 0), t_lo * r.free_lo, slope)
    return slope


def _intercepts(mu: np.ndarray, lam: np.ndarray, r: LayerRelaxation):
    """``d = max_p mu sigma(p) - lam p`` per entry, and the maximising point and value."""
    cand = mu[None] * r.values[:, None, :] - lam[None] * r.points[:, None, :]
    best = np.argmax(cand, axis=0)
    d = np.take_along_axis(cand, best[None], axis=0)[0]
    return d, best


def _backward(net, relax, k, w, c, lb, ub, theta=None, record=False) -> _Pass:
    """Upper bounds of ``w @ a_{k-1} + c`` over the box, by back-substitution (no rounding
    budget: see :func:`_certified`)."""
    mu, const, steps = w, c.copy(), []
    for i in range(k - 1, -1, -1):
        r, layer = relax[i], net.layers[i]
        slope = _slopes(mu, r, None if theta is None else theta[i])
        lam = mu * slope
        d, best = _intercepts(mu, lam, r)
        const += d.sum(axis=1) + lam @ layer.bias
        if record:
            steps.append((mu, slope, best))
        mu = _times(lam, layer.weights)
    upper = const + np.maximum(mu * ub, mu * lb).sum(axis=1)
    return _Pass(upper, mu, steps)


def _gradient(net, relax, k, p: _Pass, lb, ub, theta) -> list:
    """``d sum(upper) / d theta`` for every earlier layer: the adjoint of :func:`_backward`."""
    g_prev = np.where(p.mu_x > 0.0, ub, lb)  # d upper / d mu_{-1}
    grads = [None] * k
    for i, (mu, slope, best) in zip(range(k), reversed(p.steps)):
        r, layer = relax[i], net.layers[i]
        point = r.points[best, np.arange(mu.shape[1])[None, :]]
        value = r.values[best, np.arange(mu.shape[1])[None, :]]
        g_lam = _times(g_prev, layer.weights.T) + layer.bias[None, :] - point
        g_slope = g_lam * mu
        pos = mu > 0.0
        grads[i] = (
            np.where(pos & (r.free_up > 0), g_slope * r.free_up, 0.0),
            np.where(~pos & (r.free_lo > 0), g_slope * r.free_lo, 0.0),
        )
        g_prev = g_lam * slope + value
    return grads


def _initial_theta(relax, k, rows: int) -> list:
    """The default slopes as fractions of their free ranges, one per (row, neuron)."""
    theta = []
    for i in range(k):
        r = relax[i]
        t_up = np.where(r.free_up > 0, r.s_up / np.where(r.free_up > 0, r.free_up, 1.0), 0.0)
        t_lo = np.where(r.free_lo > 0, r.s_lo / np.where(r.free_lo > 0, r.free_lo, 1.0), 0.0)
        theta.append((np.tile(t_up, (rows, 1)), np.tile(t_lo, (rows, 1))))
    return theta


def _optimize(net, relax, k, w, c, lb, ub, iterations: int, lr: float = 0.2):
    """Projected Adam on the free slopes (each row on its own); the best slopes seen per row."""
    theta = _initial_theta(relax, k, len(w))
    if not any(np.any(r.free_up > 0) or np.any(r.free_lo > 0) for r in relax[:k]):
        return theta
    best_val = np.full(len(w), np.inf)
    best = [(a.copy(), b.copy()) for a, b in theta]
    m1 = [(np.zeros_like(a), np.zeros_like(b)) for a, b in theta]
    m2 = [(np.zeros_like(a), np.zeros_like(b)) for a, b in theta]
    b1, b2 = 0.9, 0.999
    for it in range(1, iterations + 2):
        p = _backward(net, relax, k, w, c, lb, ub, theta, record=True)
        better = p.upper < best_val
        best_val = np.where(better, p.upper, best_val)
        for i in range(k):
            for s in (0, 1):
                best[i][s][better] = theta[i][s][better]
        if it > iterations:
            break
        grads = _gradient(net, relax, k, p, lb, ub, theta)
        for i in range(k):
            new = []
            for s in (0, 1):
                g = grads[i][s]
                m1[i][s][...] = b1 * m1[i][s] + (1 - b1) * g
                m2[i][s][...] = b2 * m2[i][s] + (1 - b2) * g * g
                step = m1[i][s] / (1 - b1**it) / (np.sqrt(m2[i][s] / (1 - b2**it)) + 1e-12)
                new.append(np.clip(theta[i][s] - lr * step, 0.0, 1.0))
            theta[i] = tuple(new)
    return best


def _certified(net, relax, k, w, c, lb, ub, in_mag, theta, inputs) -> np.ndarray:
    """Rigorous upper bounds of ``w @ a_{k-1} + c`` (and of the float64 forward pass).

    The same back-substitution as :func:`_backward` with a budget for every rounding; see the
    module docstring.  ``inputs`` maximises the final linear function over the input set.
    """
    layer_k = net.layers[k]
    a_mag = in_mag if k == 0 else relax[k - 1].a_mag
    err = (layer_k.n_in + 2) * _EPS * (np.abs(w) @ a_mag + np.abs(c)) + _TINY
    mu, const, mag, terms = w, c.copy(), np.abs(c), 1
    for i in range(k - 1, -1, -1):
        r, layer = relax[i], net.layers[i]
        lam = mu * _slopes(mu, r, None if theta is None else theta[i])
        d, _ = _intercepts(mu, lam, r)
        abs_lam = np.abs(lam)
        pt_mag = np.max(np.abs(r.points), axis=0)
        err += 3 * _EPS * (np.abs(mu) @ r.a_mag + abs_lam @ pt_mag) + _TINY
        lam_b = lam @ layer.bias
        prev_mag = in_mag if i == 0 else relax[i - 1].a_mag
        slack = _forward_slack(layer, prev_mag)  # float64 forward pass of layer i
        err += abs_lam @ slack
        err += 2 * (layer.n_in + 2) * _EPS * (_times(abs_lam, _abs(layer.weights)) @ prev_mag)
        err += (layer.n_out + 2) * _EPS * (abs_lam @ np.abs(layer.bias))
        const += d.sum(axis=1) + lam_b
        mag += np.abs(d).sum(axis=1) + np.abs(lam_b)
        terms += layer.n_out + 1
        mu = _times(lam, layer.weights)
    top, top_mag = inputs(mu)
    mag += top_mag
    err += (terms + len(lb) + 4) * 2 * _EPS * mag
    return np.nextafter(const + top + err, np.inf)


def _box_max(lb, ub):
    """``max_x mu @ x`` over the box, with the magnitude of its terms."""

    def top(mu):
        terms = np.maximum(mu * ub, mu * lb)
        return terms.sum(axis=1), np.abs(mu) @ np.maximum(np.abs(lb), np.abs(ub))

    return top


def _polytope_max(lb, ub, extra):
    """``max_x mu @ x`` over the box and ``lo <= A x <= hi``: certified HiGHS LPs, one per row."""
    from .lp import HighsLP, LayerLP

    a_mat, lo, hi = extra
    rows, cols = np.nonzero(a_mat)
    lp = LayerLP(lb, ub, lo, hi, rows, cols, a_mat[rows, cols], np.arange(len(lb)))
    solver, box = HighsLP(lp), _box_max(lb, ub)

    def top(mu):
        best, mag = box(mu)  # the box alone is a valid (looser) fallback
        for t, row in enumerate(mu):
            value, _ = solver.bound(row, "max", None)
            if value is not None and value < best[t]:
                best[t] = value
        return best, mag + np.abs(best)

    return top


def _count(value, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) or value < 0:
        raise UnknownOptionError(
            f"symbolic_bounds: {name}={value!r}; expected an integer >= 0 (e.g. {name}=20)."
        )
    return int(value)


def _checked_prior(net, lb, ub, prior) -> NeuronBounds | None:
    if prior is None:
        return None
    if not isinstance(prior, NeuronBounds):
        raise UnknownOptionError(
            f"symbolic_bounds: prior must be NeuronBounds (e.g. from interval_bounds) or None, "
            f"found {type(prior).__name__}; pass the bounds object itself."
        )
    prior.check_network(net)
    if np.any(prior.input_lb > lb) or np.any(prior.input_ub < ub):
        raise ShapeMismatchError(
            "symbolic_bounds: prior was computed for an input box that does not contain "
            f"[{lb.tolist()}, {ub.tolist()}] (prior box [{prior.input_lb.tolist()}, "
            f"{prior.input_ub.tolist()}]); compute it for this box or a larger one."
        )
    return prior


def _narrowest(scopes) -> Scope:
    scopes = set(scopes)
    for scope in (Scope.MODEL, Scope.CONSTRAINED):
        if scope in scopes:
            return scope
    return Scope.BOX


def symbolic_bounds(
    net: ReluNetwork,
    lb,
    ub,
    *,
    prior: NeuronBounds | None = None,
    optimize: bool = False,
    iterations: int = 20,
    extra_constraints=None,
) -> NeuronBounds:
    """Symbolic (DeepPoly / CROWN) pre-activation bounds of every layer of ``net`` over the box.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
        Finite input box.
    prior : NeuronBounds, optional
        Sound bounds of a box containing this one; used for the relaxations and intersected
        with the result, which is never looser than ``prior`` or the interval bounds.
    optimize : bool
        Improve the free slopes by ``iterations`` projected gradient steps per layer
        (alpha-CROWN); default: DeepPoly's adaptive slopes.
    iterations : int
        Gradient steps per layer with ``optimize``.
    extra_constraints : tuple (A, lo, hi), optional
        Linear constraints ``lo <= A x <= hi`` on the inputs (as for ``lp_bounds``); the layers'
        provenance is then ``symbolic-constrained``.

    Returns
    -------
    NeuronBounds
        Layers improved here are labelled ``symbolic``; the others keep the label of the tighter
        bounds (interval or ``prior``).

    Raises
    ------
    NetworkTypeError, MissingBoundsError, InfeasibleBoxError, ShapeMismatchError
        For a wrong network, box, prior or empty constraint set.
    UnknownOptionError
        For an invalid ``optimize``, ``iterations`` or ``prior``.
    """
    require_network(net, "symbolic_bounds")
    if not isinstance(optimize, (bool, np.bool_)):
        raise UnknownOptionError(
            f"symbolic_bounds: optimize={optimize!r}; expected True (alpha-CROWN slopes) or False."
        )
    iterations = _count(iterations, "iterations")
    lb, ub = check_box(net, lb, ub, what="symbolic_bounds")
    extra = normalize_extra_constraints(extra_constraints, net.n_inputs)
    check_inputs_feasible(lb, ub, extra)
    prior = _checked_prior(net, lb, ub, prior)
    start = interval_bounds(net, lb, ub)
    if prior is not None:
        start = start.intersect(prior)
    inputs = _box_max(lb, ub) if extra is None else _polytope_max(lb, ub, extra)
    in_mag = np.maximum(np.abs(lb), np.abs(ub))
    lower, upper, prov = list(start.lower), list(start.upper), list(start.provenance)
    relax = []
    for k, layer in enumerate(net.layers):
        if k > 0 or extra is not None:
            a_lo, a_up = (lb, ub) if k == 0 else _post(lower[k - 1], upper[k - 1], start, k - 1)
            i_lo, i_up = affine_interval(layer.weights, layer.bias, a_lo, a_up)
            lo, up = np.maximum(lower[k], i_lo), np.minimum(upper[k], i_up)
            s_lo, s_up = _layer(net, relax, k, lb, ub, in_mag, inputs, optimize, iterations)
            new_lo, new_up = np.maximum(lo, s_lo), np.minimum(up, s_up)
            _check_crossing(k, new_lo, new_up)
            # improved on the start (interval, prior): by the back-substitution itself or by the
            # interval step from the earlier layers' symbolic bounds
            if np.any(new_lo > start.lower[k]) or np.any(new_up < start.upper[k]):
                used = [prov[i].scope for i in range(k)] + [prov[k].scope]
                scope = Scope.CONSTRAINED if extra is not None else _narrowest(used)
                prov[k] = Provenance("symbolic", scope)
            lower[k], upper[k] = new_lo, new_up
        relax.append(LayerRelaxation.of(lower[k], upper[k], start.caps[k], start.is_piecewise(k)))
    return NeuronBounds(lb, ub, lower, upper, prov, start.caps)


def _post(lo: np.ndarray, up: np.ndarray, bounds: NeuronBounds, k: int):
    """Bounds of layer ``k``'s activation output from pre-activation bounds ``[lo, up]``."""
    p = LayerPieces.of(lo, up, bounds.caps[k], bounds.is_piecewise(k))
    return p.post_lower, p.post_upper


def _layer(net, relax, k, lb, ub, in_mag, inputs, optimize, iterations):
    """Certified symbolic lower and upper bounds of every neuron of layer ``k``."""
    layer = net.layers[k]
    idx = np.arange(layer.n_out)
    w = _rows(layer.weights, idx)
    rows_w = np.vstack([w, -w])
    rows_c = np.concatenate([layer.bias, -layer.bias])
    theta = None
    if optimize and iterations > 0 and k > 0:
        theta = _optimize(net, relax, k, rows_w, rows_c, lb, ub, iterations)
    up = _certified(net, relax, k, rows_w, rows_c, lb, ub, in_mag, theta, inputs)
    n = layer.n_out
    return -up[n:], up[:n]


def _check_crossing(k: int, lo: np.ndarray, up: np.ndarray) -> None:
    crossed = np.flatnonzero(lo > up)
    if crossed.size:
        j = int(crossed[0])
        raise InfeasibleBoxError(
            f"symbolic_bounds: layer {k} neuron {j} got lower bound {lo[j]} > upper bound "
            f"{up[j]}; expected crossing-free bounds - the prior is not sound for this box "
            "(recompute it with interval_bounds) or the input constraints leave no point."
        )


register_bound_method(
    BoundMethod(
        name="symbolic",
        compute=symbolic_bounds,
        description="symbolic bounds (DeepPoly/CROWN back-substitution, optional alpha-CROWN "
        "slopes), certified with a rounding budget; never looser than interval",
    )
)
