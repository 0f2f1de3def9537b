"""MILP-based bound tightening with SCIP's dual bound.

For layer ``k`` and each unstable neuron we minimize and maximize its
pre-activation over an exact MILP model of layers ``< k`` (SCIP through
``pyscipopt`` directly, no modelling layer).  With ``c`` the cap of a clipped
ReLU (``inf`` for a plain ReLU) every activation is written as

    a = relu(z) - relu(z - c),

and each ``relu(z - t)`` whose kink ``t`` lies strictly inside ``(l, u)`` gets
the big-M formulation with the current bounds and one binary ``d``
(``h >= 0``, ``h >= z - t``, ``h <= z - t - (l - t)(1 - d)``, ``h <= (u - t) d``);
outside, it is ``0`` or ``z - t``.  So stable neurons get no binary and a
clipped neuron with both kinks reachable gets two (``d_c <= d_0``).

Soundness.  We take SCIP's *dual* bound (``getDualbound``), never a primal
value, so a time limit still yields a valid, if looser, bound.  SCIP works in
floating point with tolerances (``feastol`` = 1e-6, relative) and no exact
dual bound, and its errors scale with the magnitudes in the model, not with
the objective: on networks with a 1e6-wide box, or 1e5 first-layer weights
followed by 1e-3 ones, SCIP's dual bound cut off reachable values by up to
about ``1.3 feastol ||w||_1 M`` (``M`` the largest absolute bound of an input
or pre-activation in the model).  Each bound is therefore padded outward by
``feastol * (1 + |v| + 3 ||w||_1 (1 + M))`` (a randomized sweep over 900 such
networks found no cut-off with it).  Where the magnitudes are huge the pad
makes the MILP bounds no tighter than the prior, which is kept.  Each
layer's variables are given to SCIP in units of the layer's largest bound,
so a box of 1e12 or 1e100 is as tight, relatively, as one of 1e6.  Wider
sweeps (weights of 1e-3..1e5 per layer, clipped-ReLU caps of 1e-2..1e6,
boxes up to 1e12) still met SCIP dual bounds off by up to 13 % of a
neuron's range, in about 1 % of the networks; a bound is therefore also
checked against forward passes at points of the box (:class:`_Witnesses`)
and dropped when one of them goes beyond it: then none of another 3000 such
networks had a value cut off.  This is a safety margin, not a proof; for a certified bound use
:func:`~pyomo_relu.bounds.lp.lp_bounds` (an exact dual certificate), and
combine: ``milp_bounds(..., prior=lp_bounds(...))`` never loosens the LP
bounds and gives SCIP tighter big-M values to start from.
"""

from __future__ import annotations

import itertools
import time
import warnings

import numpy as np

from .._options import NO_LIMIT, seconds_option
from ..errors import ReluError, SolverUnavailableError, TimeLimitWarning
from ..network import ReluNetwork
from .core import NeuronBounds, require_network
from .lp import lp_bounds
from .parallel import ChunkResult, ChunkTask, tighten
from .registry import BoundMethod, register_bound_method

__all__ = ["ScipLayerMILP", "solve_milp_chunk", "milp_bounds"]

MIP_GAP = 1e-4
"""Relative gap at which SCIP stops: its dual bound is then within 0.01 % of the optimum."""

_MAGNITUDE_FACTOR = 3.0
"""Pad multiple of ``feastol ||w||_1 (1 + M)``: errors up to about 1.3x that were observed."""


def _scip():
    try:
        import pyscipopt
    except ImportError as exc:  # pragma: no cover - pyscipopt is a dependency
        raise SolverUnavailableError("milp_bounds needs SCIP: pip install pyscipopt.") from exc
    return pyscipopt


def _linear(terms_vars, coefs, constant=0.0):
    from pyscipopt import quicksum

    return quicksum(float(c) * v for c, v in zip(coefs, terms_vars) if c != 0.0) + float(constant)


class ScipLayerMILP:
    """An exact big-M MILP of layers ``0..k-1`` whose objective is re-set per bound.

    Each layer's variables are stored in units of that layer's largest bound
    ``S`` (see :func:`_unit`), so the model SCIP sees has values of order 1
    whatever the box or the weights.  SCIP's tolerances are partly absolute:
    with bounds of ``1e12`` its dual bound was found off by 30 % of the
    range, and bounds of ``1e20`` (SCIP's infinity) made it refuse the model.
    """

    def __init__(self, net: ReluNetwork, bounds: NeuronBounds, k: int, extra=None):
        scip = _scip()
        self.model = m = scip.Model(f"obbt_layer_{k}")
        m.hideOutput()
        m.setParam("limits/gap", MIP_GAP)
        # small models: root cut loops and exhaustive presolve cost more than they save
        m.setSeparating(scip.SCIP_PARAMSETTING.FAST)
        m.setPresolve(scip.SCIP_PARAMSETTING.FAST)
        scale = _unit(np.maximum(np.abs(bounds.input_lb), np.abs(bounds.input_ub)))
        a = [
            m.addVar(f"x{i}", lb=float(lo / scale), ub=float(up / scale))
            for i, (lo, up) in enumerate(zip(bounds.input_lb, bounds.input_ub))
        ]
        if extra is not None:
            self._add_extra(a, extra, scale)
        for i in range(k):
            a, scale = self._add_layer(net, bounds, i, a, scale)
        self.objective_vars, self.objective_scale = a, scale
        self.witnesses = _Witnesses(net, bounds, k, extra)
        self.magnitude = max(
            [float(np.max(np.maximum(np.abs(bounds.input_lb), np.abs(bounds.input_ub))))]
            + [float(np.max(bounds.big_m(i))) for i in range(k)]
        )

    def _add_extra(self, x, extra, scale: float) -> None:
        """``lo <= A x <= hi`` rows on the inputs (one-sided where a side is infinite)."""
        for r, (row, lo, hi) in enumerate(zip(*extra)):
            expr = _linear(x, row)
            if np.isfinite(lo):
                self.model.addCons(expr >= float(lo / scale), f"extra_lo{r}")
            if np.isfinite(hi):
                self.model.addCons(expr <= float(hi / scale), f"extra_hi{r}")

    def _add_layer(self, net, bounds, i, a_prev, s_prev: float):
        """Variables and rows of layer ``i``; returns its outputs and their unit ``S_i``.

        In units ``z = S_i z'`` and ``a_prev = s_prev a'`` the affine rows read
        ``z' - (s_prev / S_i) W a' = b / S_i``, and every bound and cap is divided by ``S_i``.
        """
        m = self.model
        layer = net.layers[i]
        s = _unit(bounds.big_m(i))
        lo, up, caps = bounds.lower[i] / s, bounds.upper[i] / s, bounds.caps[i] / s
        z = [m.addVar(f"z{i}_{j}", lb=float(lo[j]), ub=float(up[j])) for j in range(layer.n_out)]
        for j in range(layer.n_out):
            cols, vals = layer.row(j)  # the nonzeros only, for dense and sparse layers alike
            expr = _linear([a_prev[c] for c in cols], vals * (s_prev / s))
            m.addCons(z[j] - expr == float(layer.bias[j] / s), f"aff{i}_{j}")
        if not layer.activation.is_piecewise:
            return z, s
        post_lo, post_up = (v / s for v in bounds.post_bounds(i))
        out = []
        for j in range(layer.n_out):
            a = m.addVar(f"a{i}_{j}", lb=float(post_lo[j]), ub=float(post_up[j]))
            h0, d0 = self._relu_shift(z[j], lo[j], up[j], 0.0, f"{i}_{j}_0")
            hc, dc = self._relu_shift(z[j], lo[j], up[j], caps[j], f"{i}_{j}_c")
            m.addCons(a - h0 + hc == 0.0, f"act{i}_{j}")
            if d0 is not None and dc is not None:
                c, l, u = float(caps[j]), float(lo[j]), float(up[j])
                m.addCons(dc <= d0, f"order{i}_{j}")
                # convex-hull rows (valid, not implied by the two big-M relaxations)
                m.addCons(a >= (c / u) * z[j], f"hull_lo{i}_{j}")
                m.addCons(a <= (c / (c - l)) * (z[j] - l), f"hull_up{i}_{j}")
            out.append(a)
        return out, s

    def _relu_shift(self, z, lo, up, t, name):
        """``relu(z - t)`` for ``z`` in ``[lo, up]``: expression and binary (None when linear)."""
        m = self.model
        if up <= t:
            return 0.0, None
        if lo >= t:
            return z - float(t), None
        h = m.addVar(f"h{name}", lb=0.0, ub=float(up - t))
        d = m.addVar(f"d{name}", vtype="B")
        m.addCons(h >= z - float(t), f"ge{name}")
        m.addCons(h <= z - float(t) - float(lo - t) * (1 - d), f"le{name}")
        m.addCons(h <= float(up - t) * d, f"on{name}")
        return h, d

    def bound(self, w: np.ndarray, sense: str, deadline: float | None, limit: float | None):
        """Padded SCIP dual bound of ``w @ a_{k-1}``: ``(value or None, time_limited)``."""
        m = self.model
        sign = 1.0 if sense == "min" else -1.0
        m.freeTransform()
        m.setObjective(
            _linear(self.objective_vars, sign * w), "minimize"
        )  # in units of objective_scale
        # limits come from seconds_option, which reads NO_LIMIT (SCIP's infinity) and more as none
        budget = NO_LIMIT if limit is None else float(limit)
        if deadline is not None:
            budget = min(budget, deadline - time.time())
        m.setParam("limits/time", max(budget, 1e-2))
        try:
            m.optimize()
        except Exception:  # pyscipopt raises a bare Exception on SCIP errors (e.g. LP numerics)
            return None, False  # nothing proved: the neuron keeps its prior bound
        status = m.getStatus()
        if status == "userinterrupt":
            # SCIP caught the user's Ctrl-C itself (misc/catchctrlc), so Python never saw it:
            # without this, each press would only cut one solve short and the call would go on
            raise KeyboardInterrupt
        if status == "infeasible":
            # the inputs were checked to admit a point, and each extends to a point of this
            # MILP: "infeasible" is numerical trouble (or an unsound prior), so nothing is proved
            return None, False
        dual = m.getDualbound()
        limited = status != "optimal" and status != "gaplimit"
        if not np.isfinite(dual) or abs(dual) >= m.infinity():
            return None, limited
        dual *= self.objective_scale
        feastol = m.getParam("numerics/feastol")
        pad = feastol * (
            1.0 + abs(dual) + _MAGNITUDE_FACTOR * float(np.abs(w).sum()) * (1.0 + self.magnitude)
        )
        if dual - pad > self.witnesses.extreme(sign * w):
            # a forward pass reaches beyond SCIP's bound: its numerics failed here, nothing is
            # proved
            return None, limited
        return sign * (dual - pad), limited


class _Witnesses:
    """Reachable values of ``a_{k-1}``: forward passes at points of the input set.

    A check on SCIP, whose dual bound is not certified: a bound that a forward
    pass exceeds is wrong (seen with per-neuron caps spanning 1e-2..1e6 under
    bounds of 1e8, where SCIP cut off up to 13 % of a neuron's range) and is
    dropped.  The points are the box's centre, corners (256 random ones beyond
    8 inputs) and 256 to 4096 random points (fewer for wide networks), those
    that satisfy the extra constraints.  Without extra constraints each bound
    also follows the sign of the gradient from the best points to the
    vertices it points at (a few hops), which finds the extremes of a
    piecewise-linear function far better than sampling in many dimensions.
    Passing the check does not prove a bound.
    """

    _HOP_STARTS, _HOPS = 4, 4
    #: random points: as many as keep one pass under about this many neuron evaluations
    _WORK = 2_000_000

    def __init__(self, net: ReluNetwork, bounds: NeuronBounds, k: int, extra):
        self.layers, self.extra = net.layers[:k], extra
        self.lb, self.ub = (
            np.asarray(bounds.input_lb, np.float64),
            np.asarray(bounds.input_ub, np.float64),
        )
        rng = np.random.default_rng(0)
        n = self.lb.size
        corners = (
            np.array(list(itertools.product((0.0, 1.0), repeat=n)))
            if n <= 8
            else rng.integers(0, 2, (256, n)).astype(np.float64)
        )
        n_random = int(
            np.clip(self._WORK // (n + sum(layer.n_out for layer in self.layers)), 256, 4096)
        )
        y = np.vstack([np.full((1, n), 0.5), corners, rng.random((n_random, n))])
        x = self.lb + (self.ub - self.lb) * y
        if extra is not None:
            a_mat, lo, hi = extra
            ax = x @ a_mat.T
            slack = 1e-9 * (1.0 + np.abs(x) @ np.abs(a_mat).T)
            x = x[np.all((ax >= lo - slack) & (ax <= hi + slack), axis=1)]
        self.x, self.values = x, self._forward(x)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        a = x
        with np.errstate(over="ignore", invalid="ignore"):
            for layer in self.layers:
                a = layer(a)
        return a

    def extreme(self, c: np.ndarray) -> float:
        """The smallest value of ``c @ a_{k-1}`` found (``inf`` if none is finite)."""
        with np.errstate(over="ignore", invalid="ignore"):
            vals = self.values @ c
            vals = np.where(np.isfinite(vals), vals, np.inf)
            if not vals.size:
                return np.inf
            best = float(vals.min())
            if self.extra is None:
                for x in self.x[np.argsort(vals)[: self._HOP_STARTS]]:
                    for _ in range(self._HOPS):
                        x = np.where(self._gradient(x, c) > 0.0, self.lb, self.ub)
                        v = float(self._forward(x[None, :])[0] @ c)
                        best = min(best, v) if np.isfinite(v) else best
        return best

    def _gradient(self, x: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Gradient of ``c @ a_{k-1}`` at ``x`` (one-sided at kinks), by one backward pass."""
        a, slopes = x, []
        for layer in self.layers:
            z = layer.preactivation(a)
            on = (
                (z > 0.0) & (z < layer.activation.caps(layer.n_out))
                if layer.activation.is_piecewise
                else True
            )
            slopes.append(np.where(on, 1.0, 0.0))
            a = layer.activation.apply(z)
        g = c
        for layer, slope in zip(reversed(self.layers), reversed(slopes)):
            g = layer.weights.T @ (g * slope)  # dense or sparse weights alike
        return g


def _unit(magnitudes: np.ndarray) -> float:
    """The unit ``S >= 1`` of one layer's variables: its largest bound (1 when all are below 1).

    Only large values are scaled down: the pad of :meth:`ScipLayerMILP.bound` is
    in original units and at least ``feastol``, so scaling small values up
    would not give tighter bounds.
    """
    return max(float(np.max(magnitudes, initial=0.0)), 1.0)


def solve_milp_chunk(task: ChunkTask) -> ChunkResult:
    """Tighten the neurons ``task.neurons`` of layer ``task.layer`` with one reused SCIP model."""
    if task.expired():  # building the MILP of a deep layer takes long: not for nothing
        return task.skipped()
    layer = task.network.layers[task.layer]
    try:
        milp = ScipLayerMILP(task.network, task.bounds, task.layer, task.extra)
    except ReluError:  # e.g. SCIP is not installed
        raise
    except Exception:  # pyscipopt raises a bare Exception when SCIP refuses the data
        n = len(task.neurons)
        return ChunkResult(task.layer, task.neurons, np.full(n, np.nan), np.full(n, np.nan))
    return task.run(
        lambda w, sense: milp.bound(w, sense, task.deadline, task.time_limit_per_neuron), layer
    )


def milp_bounds(
    net: ReluNetwork,
    lb,
    ub,
    *,
    prior: NeuronBounds | None = None,
    time_limit_per_neuron: float = 10.0,
    time_limit: float | None = None,
    workers: int = 1,
    executor=None,
    progress: bool = False,
    extra_constraints=None,
    layers=None,
    tighten_outputs: bool = True,
) -> NeuronBounds:
    """MILP-tightened pre-activation bounds of ``net`` over ``[lb, ub]`` (SCIP dual bounds).

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like (n_inputs,) or scalar
        Finite input box.
    prior : NeuronBounds, optional
        Sound bounds to start from, never loosened.  Default: ``lp_bounds``
        of the same box and constraints (cheap; neurons it proves stable need
        no MILP, and the others start from smaller big-M values).
    time_limit_per_neuron : float
        SCIP time limit in seconds per min or max solve; on hitting it the
        dual bound reached so far is used.
    time_limit : float, optional
        Wall-clock budget for the whole call (the default LP prior included);
        later neurons keep their prior bounds.
    workers, executor, progress, extra_constraints, layers, tighten_outputs
        As in :func:`~pyomo_relu.bounds.lp.lp_bounds`.

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
    require_network(net, "milp_bounds")
    start = time.perf_counter()
    # checked here, before the LP pass, so that the message names milp_bounds
    time_limit = seconds_option(time_limit, "milp_bounds")
    seconds_option(
        time_limit_per_neuron, "milp_bounds", name="time_limit_per_neuron", allow_zero=False
    )
    prior_limited = []
    if prior is None:
        # with its own progress bar: on a big network the LP pass alone takes minutes
        with warnings.catch_warnings(record=True) as lp_limited:
            # a limit that cuts the LP pass short leaves the MILP pass no time: its own warning
            # (naming milp_bounds, as the caller did) counts those neurons, so this one is held back
            warnings.simplefilter("always", TimeLimitWarning)
            prior = lp_bounds(
                net,
                lb,
                ub,
                workers=workers,
                executor=executor,
                time_limit=time_limit,
                progress=progress,
                extra_constraints=extra_constraints,
                layers=layers,
                tighten_outputs=tighten_outputs,
            )
        for w in lp_limited:
            if not issubclass(w.category, TimeLimitWarning):  # others go on to the caller
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        prior_limited = [w for w in lp_limited if issubclass(w.category, TimeLimitWarning)]
        if time_limit is not None:  # the budget covers the LP pass too
            time_limit = max(float(time_limit) - (time.perf_counter() - start), 0.0)
    bounds, report = tighten(
        net,
        lb,
        ub,
        method="milp",
        prior=prior,
        workers=workers,
        executor=executor,
        time_limit=time_limit,
        time_limit_per_neuron=time_limit_per_neuron,
        progress=progress,
        extra_constraints=extra_constraints,
        layers=layers,
        tighten_outputs=tighten_outputs,
    )
    if prior_limited and not report.n_time_limited:  # the MILP pass had nothing left to cut short
        warnings.warn(TimeLimitWarning(f"milp_bounds: {prior_limited[0].message}"), stacklevel=2)
    return bounds.replace(report=report)


register_bound_method(
    BoundMethod(
        name="milp",
        compute=milp_bounds,
        description="MILP-based tightening with SCIP's dual bounds (after an LP pass)",
        chunk_solver=solve_milp_chunk,
    )
)
