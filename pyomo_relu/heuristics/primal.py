r"""A primal heuristic for a linear objective over a ReLU network's inputs and outputs.

Minimize (or maximize) :math:`c_x^\top x + c_y^\top f(x) + c_0` over an input box
:math:`lb \le x \le ub`, optionally with linear input constraints
:math:`lo \le A x \le hi`:

1. **Sampling.**  Batched forward passes at a Latin hypercube sample of the box, its
   corners (all of them up to 12 inputs, a random subset above), its centre and any
   given points (e.g. the inputs of an LP solution); the best few with distinct
   activation patterns are kept.
2. **Local search.**  From each kept point: the LP over the inputs with the point's
   activation pattern fixed (:mod:`pyomo_relu.heuristics.pattern_lp`; exact objective,
   the network being affine on the pattern's polytope), then flips of the neurons whose
   pre-activation sits at a kink at the LP optimum with a binding row (neighbouring
   patterns, largest dual first), repeated until no flip improves or the time is up.

Every reported point is evaluated by the forward pass, so its outputs and objective are
exact for the network (not the LP's values).  No Pyomo: the modeling layer
(:mod:`pyomo_relu.scip_plugins`) feeds the points to SCIP.  Weights may be dense arrays
or ``scipy.sparse`` matrices.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from .._options import seconds_option
from ..errors import InfeasibleBoxError, MissingBoundsError, ShapeMismatchError
from ..network import ReluNetwork
from .pattern_lp import OFF, ON, SATURATED, solve_pattern_lp

__all__ = [
    "LinearObjective",
    "Candidate",
    "SearchResult",
    "evaluate",
    "search",
    "polish",
    "preactivation",
]

#: points evaluated per forward batch
_CHUNK = 8192
#: relative improvement below which a local-search step counts as none
_IMPROVE = 1e-9


@dataclass(frozen=True)
class LinearObjective:
    """``input_coefs @ x + output_coefs @ y + constant``, to be minimized (or maximized).

    Parameters
    ----------
    output_coefs : array_like, shape (n_outputs,)
    input_coefs : array_like, shape (n_inputs,), optional
        Zero if omitted.
    constant : float
    maximize : bool
    """

    output_coefs: np.ndarray
    input_coefs: np.ndarray | None = None
    constant: float = 0.0
    maximize: bool = False

    def checked(self, net: ReluNetwork) -> LinearObjective:
        """This objective with float64 coefficient arrays of the network's sizes."""
        out = np.asarray(self.output_coefs, dtype=np.float64).ravel()
        inp = (
            np.zeros(net.n_inputs)
            if self.input_coefs is None
            else np.asarray(self.input_coefs, dtype=np.float64).ravel()
        )
        if out.shape != (net.n_outputs,) or inp.shape != (net.n_inputs,):
            raise ShapeMismatchError(
                f"LinearObjective: expected {net.n_outputs} output and {net.n_inputs} input "
                f"coefficients for this network, found {out.size} and {inp.size}; pass one "
                "coefficient per output (and per input)."
            )
        if not (np.all(np.isfinite(out)) and np.all(np.isfinite(inp))):
            raise ShapeMismatchError("LinearObjective: coefficients must be finite numbers.")
        return LinearObjective(out, inp, float(self.constant), bool(self.maximize))

    def values(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Objective of a batch of inputs ``x`` (N, n_in) with outputs ``y`` (N, n_out)."""
        return x @ self.input_coefs + y @ self.output_coefs + self.constant

    def is_better(self, a: float, b: float) -> bool:
        """Whether objective ``a`` is strictly better than ``b`` (beyond rounding)."""
        margin = _IMPROVE * (1.0 + abs(b))
        return a < b - margin if not self.maximize else a > b + margin


@dataclass(frozen=True)
class Candidate:
    """A point found by the heuristic, evaluated by the forward pass.

    ``pattern[k]`` is the piece of every neuron of layer ``k`` at ``inputs``
    (:data:`~pyomo_relu.heuristics.pattern_lp.OFF`, ``ON`` or ``SATURATED``; linear
    layers all ``ON``); ``violation`` is the largest violation of the linear input
    constraints (0 without them).
    """

    inputs: np.ndarray
    outputs: np.ndarray
    objective: float
    pattern: tuple
    violation: float = 0.0

    @property
    def pattern_key(self) -> bytes:
        """Hashable form of ``pattern``."""
        return b"".join(np.asarray(p, dtype=np.int8).tobytes() for p in self.pattern)


@dataclass
class SearchResult:
    """What :func:`search` found: ``candidates`` best first, and how much work it took."""

    candidates: list
    evaluated: int = 0
    lps: int = 0
    seconds: float = 0.0
    improved_by_lp: int = field(default=0)

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None


# -- forward passes ------------------------------------------------------------------------
def _is_sparse(matrix) -> bool:
    """``scipy.sparse.issparse(matrix)``, without importing scipy when nothing has.

    Importing scipy next to Pyomo loads ``scipy.stats`` too (Pyomo's deferred import of
    scipy), which costs seconds; a sparse matrix exists only once scipy.sparse is loaded.
    """
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(matrix)


def preactivation(layer, a: np.ndarray) -> np.ndarray:
    """``a @ W.T + b`` for a batch ``a`` (N, n_in), for dense or ``scipy.sparse`` weights.

    Dense weights give the same floating-point result as ``ReluNetwork.forward``.
    """
    w = layer.weights
    if _is_sparse(w):
        return np.asarray(w @ a.T).T + layer.bias
    return a @ w.T + layer.bias


def _pieces(layer, z: np.ndarray) -> np.ndarray:
    """Piece of each pre-activation in ``z`` (rows: points)."""
    if not layer.activation.is_piecewise:
        return np.full(z.shape, ON, dtype=np.int8)
    caps = layer.activation.caps(layer.n_out)
    return np.where(z <= 0.0, OFF, np.where(z >= caps, SATURATED, ON)).astype(np.int8)


def _forward(net: ReluNetwork, x: np.ndarray, with_pattern: bool):
    """Outputs of a batch ``x`` (N, n_in), and the pieces of every layer if asked."""
    a = x
    pattern = []
    for layer in net.layers:
        z = preactivation(layer, a)
        if with_pattern:
            pattern.append(_pieces(layer, z))
        a = layer.activation.apply(z)
    return a, pattern


def _violation(x: np.ndarray, constraints) -> np.ndarray:
    """Largest violation of ``lo <= A x <= hi`` per point of the batch ``x`` (0 if none)."""
    if constraints is None:
        return np.zeros(x.shape[0])
    a, lo, hi = constraints
    ax = np.asarray(a @ x.T).T
    return np.maximum(np.max(np.maximum(lo - ax, ax - hi), axis=1, initial=0.0), 0.0)


def evaluate(net: ReluNetwork, x, objective: LinearObjective, constraints=None) -> list[Candidate]:
    """Forward-pass evaluation of the points ``x`` (N, n_in) as :class:`Candidate` objects.

    Each point is passed on its own (a batch of one), so its outputs are bit for bit those
    of ``net.forward(point)``: matrix products of larger batches may round differently.
    """
    objective = objective.checked(net)
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))
    viol = _violation(x, constraints)
    found = []
    for i in range(x.shape[0]):
        point = x[i : i + 1].copy()
        y, pattern = _forward(net, point, True)
        value = float(objective.values(point, y)[0])
        found.append(Candidate(point[0], y[0], value, tuple(p[0] for p in pattern), viol[i]))
    return found


# -- sampling ------------------------------------------------------------------------------
def _latin_hypercube(lb, ub, n: int, rng) -> np.ndarray:
    """``n`` points of a Latin hypercube sample of the box (one per stratum and input)."""
    d = lb.size
    strata = np.argsort(rng.random((n, d)), axis=0)
    return lb + (strata + rng.random((n, d))) / n * (ub - lb)


def _corners(lb, ub, rng, limit: int = 4096) -> np.ndarray:
    """All corners of the box for up to 12 inputs, otherwise ``limit`` random ones."""
    d = lb.size
    if d <= 12:
        bits = (np.arange(2**d)[:, None] >> np.arange(d)) & 1
    else:
        bits = rng.integers(0, 2, size=(limit, d))
    return np.where(bits == 1, ub, lb)


def _keep_best(pool: list, new: list, objective, keep: int) -> list:
    """The best ``keep`` candidates of ``pool + new`` with distinct activation patterns.

    Points that violate the input constraints rank after those that satisfy them.
    """
    sign = -1.0 if objective.maximize else 1.0
    merged = sorted(pool + new, key=lambda c: (c.violation > 1e-9, c.violation, sign * c.objective))
    seen, best = set(), []
    for c in merged:
        if c.pattern_key in seen:
            continue
        seen.add(c.pattern_key)
        best.append(c)
        if len(best) == keep:
            break
    return best


def _sample(net, lb, ub, objective, constraints, points, *, keep, samples, deadline, rng):
    """Forward passes at the sample points; the best ``keep`` and the number evaluated."""
    fixed = [((lb + ub) / 2.0)[None, :], _corners(lb, ub, rng)]
    if points is not None and len(points):
        fixed.insert(0, np.clip(np.atleast_2d(np.asarray(points, dtype=np.float64)), lb, ub))
    pool, count, sampled = [], 0, 0
    for batch in fixed + [None] * max(1, -(-samples // _CHUNK)):
        if batch is None:
            if sampled >= samples or time.perf_counter() > deadline:
                break
            batch = _latin_hypercube(lb, ub, min(_CHUNK, samples - sampled), rng)
            sampled += batch.shape[0]
        y, _ = _forward(net, batch, False)
        values = objective.values(batch, y)
        viol = _violation(batch, constraints)
        rank = np.lexsort(((-values if objective.maximize else values), viol > 1e-9))
        top = rank[: 4 * keep]  # a few more than kept: several may share a pattern
        pool = _keep_best(pool, evaluate(net, batch[top], objective, constraints), objective, keep)
        count += batch.shape[0]
    return pool, count


# -- local search --------------------------------------------------------------------------
def _lp_step(net, pattern, lb, ub, objective, constraints, counter):
    """Optimum of ``pattern``'s LP, evaluated by the forward pass; (candidate or None, kinks)."""
    sign = -1.0 if objective.maximize else 1.0
    counter[0] += 1
    res = solve_pattern_lp(
        net,
        pattern,
        lb,
        ub,
        sign * objective.input_coefs,
        sign * objective.output_coefs,
        constraints,
    )
    if res.inputs is None:
        return None, ()
    return evaluate(net, res.inputs, objective, constraints)[0], res.kinks


def _accept(objective, new: Candidate | None, old: Candidate) -> bool:
    if new is None or new.violation > max(old.violation, 1e-9):
        return False
    if new.violation < old.violation - 1e-9:
        return True
    return objective.is_better(new.objective, old.objective)


def polish(
    net: ReluNetwork,
    start: Candidate,
    lb,
    ub,
    objective: LinearObjective,
    constraints=None,
    *,
    deadline: float | None = None,
    max_flips: int = 8,
    counter=None,
) -> Candidate:
    """Local search from ``start``: its pattern's LP, then improving flips at kinks.

    Each round solves the LP of the current pattern, then tries the neighbouring patterns of
    up to ``max_flips`` neurons at a kink with a binding row (largest dual first); the first
    that improves the (forward-pass) objective becomes current.  Stops when no flip
    improves or at ``deadline`` (``time.perf_counter()`` value).  Never returns a worse
    point than ``start``.
    """
    objective = objective.checked(net)
    counter = [0] if counter is None else counter
    best = start
    found, kinks = _lp_step(net, start.pattern, lb, ub, objective, constraints, counter)
    if _accept(objective, found, best):
        best = found
    pattern = [np.array(p) for p in start.pattern]
    while kinks and (deadline is None or time.perf_counter() < deadline):
        improved = False
        for k, j, piece in kinks[:max_flips]:
            if deadline is not None and time.perf_counter() >= deadline:
                break
            trial = [p.copy() for p in pattern]
            trial[k][j] = piece
            found, new_kinks = _lp_step(net, trial, lb, ub, objective, constraints, counter)
            if _accept(objective, found, best):
                best, pattern, kinks, improved = found, trial, new_kinks, True
                break
        if not improved:
            break
    return best


def _check_box(net: ReluNetwork, lb, ub):
    lb = np.asarray(lb, dtype=np.float64).ravel()
    ub = np.asarray(ub, dtype=np.float64).ravel()
    if lb.shape != (net.n_inputs,) or ub.shape != (net.n_inputs,):
        raise ShapeMismatchError(
            f"primal heuristic: the input box must have {net.n_inputs} lower and upper bounds, "
            f"found {lb.size} and {ub.size}."
        )
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))):
        raise MissingBoundsError(
            "primal heuristic: the input box must be finite (it samples the box); give every "
            "input a finite lower and upper bound."
        )
    if np.any(lb > ub):
        i = int(np.flatnonzero(lb > ub)[0])
        raise InfeasibleBoxError(
            f"primal heuristic: input {i} has lower bound {lb[i]} above its upper bound {ub[i]}."
        )
    return lb, ub


def _check_constraints(net: ReluNetwork, constraints):
    if constraints is None:
        return None
    a, lo, hi = constraints
    shape = getattr(a, "shape", None)
    lo = np.asarray(lo, dtype=np.float64).ravel()
    hi = np.asarray(hi, dtype=np.float64).ravel()
    if shape is None or len(shape) != 2 or shape[1] != net.n_inputs or lo.size != shape[0]:
        raise ShapeMismatchError(
            f"primal heuristic: input constraints must be (A, lo, hi) with A of shape (m, "
            f"{net.n_inputs}) and m entries in lo and hi, found A of shape {shape}."
        )
    if hi.size != lo.size:
        raise ShapeMismatchError("primal heuristic: lo and hi of the input constraints differ.")
    return (a, lo, hi)


def search(
    net: ReluNetwork,
    lb,
    ub,
    objective: LinearObjective,
    *,
    constraints=None,
    points=None,
    samples: int = 100_000,
    keep: int = 5,
    time_limit: float | None = 1.0,
    seed: int = 0,
) -> SearchResult:
    """Sample the box, keep the best ``keep`` points, improve each by local search.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like
        The (finite) input box.
    objective : LinearObjective
    constraints : tuple (A, lo, hi), optional
        Linear input constraints ``lo <= A x <= hi`` (``A`` dense or sparse).
    points : array_like (N, n_inputs), optional
        Points evaluated first (clipped to the box), e.g. an LP solution's inputs.
    samples : int
        Latin hypercube points at most (fewer if the time runs out; corners and centre extra).
    keep : int
        Points improved by local search.
    time_limit : float or None
        Seconds for the whole search; sampling takes at most 40 % of it.
    seed : int
        Seed of the sample.

    Returns
    -------
    SearchResult
        Candidates best first (those satisfying the input constraints first).
    """
    start = time.perf_counter()
    time_limit = seconds_option(time_limit, "primal heuristic")
    objective = objective.checked(net)
    lb, ub = _check_box(net, lb, ub)
    constraints = _check_constraints(net, constraints)
    deadline = None if time_limit is None else start + time_limit
    sample_end = np.inf if time_limit is None else start + 0.4 * time_limit
    rng = np.random.default_rng(seed)
    pool, count = _sample(
        net,
        lb,
        ub,
        objective,
        constraints,
        points,
        keep=keep,
        samples=samples,
        deadline=sample_end,
        rng=rng,
    )
    counter = [0]
    polished = []
    for cand in pool:
        if deadline is not None and time.perf_counter() >= deadline:
            polished.append(cand)
            continue
        polished.append(
            polish(net, cand, lb, ub, objective, constraints, deadline=deadline, counter=counter)
        )
    result = _keep_best([], polished, objective, keep)
    improved = sum(objective.is_better(p.objective, c.objective) for p, c in zip(polished, pool))
    return SearchResult(result, count, counter[0], time.perf_counter() - start, improved)
