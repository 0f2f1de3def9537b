"""The layer-by-layer tightening loop and its executor plumbing.

:func:`tighten` visits the layers in order.  For layer ``k`` the candidate
neurons (unstable ones; all neurons of a linear output layer) are split into
chunks; each chunk is a picklable :class:`ChunkTask` (plain numpy network and
bounds) that a worker turns into one LP (or MILP) of layers ``< k`` and solves
for its neurons, warm-starting from one neuron to the next.  The results are
intersected with the current bounds (never loosened) before layer ``k + 1``.

Executors.  ``workers=n > 1`` starts one ``ProcessPoolExecutor`` (spawn
context: safe with the solvers' threads) for the whole call, so start-up is
paid once per call; keep your own executor alive to pay it once per session.
``executor=`` takes any ``concurrent.futures.Executor`` instead:

* ``ThreadPoolExecutor(n)``: no start-up; HiGHS and SCIP release the GIL
  while they solve, so threads scale for the solve-dominated part;
* ``ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))``
  reused across calls;
* dask: ``distributed.Client(address).get_executor()`` runs the chunks on a
  cluster (the workers need pyomo_relu, numpy, highspy and pyscipopt);
* Ray: any ``concurrent.futures``-style wrapper whose ``submit`` returns
  futures compatible with ``concurrent.futures.as_completed``, e.g. one that
  calls ``ray.remote(fn).remote(task).future()``.

A layer's candidates are cut into chunks of :data:`CHUNK_SIZE` neurons
whatever the executor, so the bounds do not depend on ``workers`` or on the
executor (bit-identical: HiGHS is deterministic with one thread).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from ..errors import InfeasibleBoxError, ShapeMismatchError, UnknownOptionError
from ..network import DenseLayer, ReluNetwork
from .core import NeuronBounds, check_box
from .interval import interval_bounds
from .report import LayerReport, TighteningReport

__all__ = ["ChunkTask", "ChunkResult", "tighten", "split_chunks"]

_EPS = np.finfo(np.float64).eps
_METHODS = ("lp", "milp")
CHUNK_SIZE = 8
"""Neurons per chunk: one LP build and cold start per 16 warm-started solves, and
enough chunks per layer (e.g. 10 for 80 unstable neurons) to balance workers."""


@dataclass
class ChunkResult:
    """New bounds for some neurons of one layer (NaN where nothing was certified)."""

    layer: int
    neurons: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n_solves: int = 0
    n_time_limited: int = 0


@dataclass
class ChunkTask:
    """Everything a worker needs to tighten ``neurons`` of ``layer`` (picklable)."""

    network: ReluNetwork
    bounds: NeuronBounds
    layer: int
    neurons: np.ndarray
    extra: tuple | None = None
    deadline: float | None = None
    time_limit_per_neuron: float | None = None

    def run(self, bound, layer: DenseLayer) -> ChunkResult:
        """Drive ``bound(w, sense) -> (value | None, limited)`` over the chunk's neurons.

        ``value`` must be a certified lower (``sense="min"``) or upper
        (``"max"``) bound of ``w @ a_{k-1}``; this adds the bias and the
        rounding error of a float64 forward pass (as :mod:`.interval` does).
        For a piecewise layer the minimum is skipped once the maximum shows the
        neuron is never active (its lower bound then no longer matters).
        """
        n = len(self.neurons)
        res = ChunkResult(self.layer, self.neurons, np.full(n, np.nan), np.full(n, np.nan))
        a_lo, a_hi = self._input_bounds()
        mag = np.abs(layer.weights) @ np.maximum(np.abs(a_lo), np.abs(a_hi)) + np.abs(layer.bias)
        slack = (layer.n_in + 2) * _EPS * mag + np.finfo(np.float64).tiny
        for i, j in enumerate(self.neurons):
            for sense in ("max", "min"):
                if self.deadline is not None and time.time() >= self.deadline:
                    res.n_time_limited += 1
                    break
                if sense == "min" and layer.activation.is_piecewise and res.upper[i] <= 0.0:
                    break
                value, limited = bound(layer.weights[j], sense)
                res.n_solves += 1
                res.n_time_limited += int(limited)
                if value is None:
                    continue
                if sense == "max":
                    res.upper[i] = np.nextafter(value + layer.bias[j] + slack[j], np.inf)
                else:
                    res.lower[i] = np.nextafter(value + layer.bias[j] - slack[j], -np.inf)
        return res

    def _input_bounds(self):
        if self.layer == 0:
            return self.bounds.input_lb, self.bounds.input_ub
        return self.bounds.post_bounds(self.layer - 1)


def split_chunks(neurons: np.ndarray, size: int = CHUNK_SIZE) -> list:
    """Split neuron indices into consecutive chunks of ``size`` (the last may be shorter).

    The split depends on the layer only, never on the number of workers, so
    every executor solves the same LPs in the same order and returns
    bit-identical bounds.
    """
    return [neurons[i:i + size] for i in range(0, len(neurons), size)]


def _warmup() -> int:
    """Run in each new worker process so imports happen while the parent works."""
    return 0


def _candidates(bounds: NeuronBounds, k: int) -> np.ndarray:
    if bounds.is_piecewise(k):
        return np.flatnonzero(bounds.unstable(k))
    return np.arange(len(bounds.lower[k]))


def _start_bounds(net, lb, ub, prior) -> NeuronBounds:
    bounds = interval_bounds(net, lb, ub)
    if prior is None:
        return bounds
    prior.check_network(net)
    if np.any(prior.input_lb > bounds.input_lb) or np.any(prior.input_ub < bounds.input_ub):
        raise ShapeMismatchError(
            "prior: these bounds were computed for an input box that does not contain "
            f"[{bounds.input_lb.tolist()}, {bounds.input_ub.tolist()}] (prior box "
            f"[{prior.input_lb.tolist()}, {prior.input_ub.tolist()}]); compute them for this box or a larger one."
        )
    return bounds.intersect(prior)


def _apply(bounds: NeuronBounds, res: ChunkResult, method: str) -> None:
    k = res.layer
    lo, up = bounds.lower[k], bounds.upper[k]
    new_lo = np.fmax(lo[res.neurons], res.lower)  # fmax ignores NaN (nothing certified)
    new_up = np.fmin(up[res.neurons], res.upper)
    crossed = np.flatnonzero(new_lo > new_up)
    if crossed.size:
        j = int(res.neurons[crossed[0]])
        raise InfeasibleBoxError(
            f"{method} tightening: layer {k} neuron {j} got lower bound {lo[j]} > upper bound {up[j]}; "
            "the input box with the extra constraints admits no point."
        )
    if np.any(new_lo > lo[res.neurons]) or np.any(new_up < up[res.neurons]):
        bounds.methods[k] = method
    lo[res.neurons], up[res.neurons] = new_lo, new_up


def _target_layers(net, layers, tighten_outputs, extra) -> list:
    if layers is None:
        layers = range(net.n_layers if tighten_outputs else net.n_layers - 1)
    out = sorted(set(int(k) for k in layers))
    for k in out:
        if not 0 <= k < net.n_layers:
            raise ShapeMismatchError(f"layers: layer {k} does not exist; the network has layers 0..{net.n_layers - 1}.")
    # layer 0 over a box alone is exact with interval arithmetic: no LP needed
    return [k for k in out if k > 0 or extra is not None]


def _solver_for(method: str):
    if method == "lp":
        from .lp import solve_lp_chunk
        return solve_lp_chunk
    from .milp import solve_milp_chunk
    return solve_milp_chunk


def _executor_context(workers: int, executor: Executor | None):
    if executor is not None:
        return nullcontext(executor)
    if workers > 1:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
        for _ in range(workers):
            pool.submit(_warmup)
        return pool
    return nullcontext(None)


def _run_layer(solve, tasks, pool, bar) -> list:
    if pool is None:
        out = []
        for task in tasks:
            out.append(solve(task))
            bar.update(len(task.neurons))
        return out
    futures = {pool.submit(solve, task): task for task in tasks}
    out = []
    for fut in as_completed(futures):
        out.append(fut.result())
        bar.update(len(futures[fut].neurons))
    return out


def tighten(net: ReluNetwork, lb, ub, *, method: str = "lp", prior: NeuronBounds | None = None,
            workers: int = 1, executor: Executor | None = None, time_limit: float | None = None,
            time_limit_per_neuron: float | None = None, progress: bool = False, extra_constraints=None,
            layers=None, tighten_outputs: bool = True) -> tuple[NeuronBounds, TighteningReport]:
    """Optimization-based bound tightening, layer by layer.

    Parameters are those of :func:`~pyomo_relu.bounds.lp.lp_bounds` and
    :func:`~pyomo_relu.bounds.milp.milp_bounds`; ``method`` is ``"lp"`` or
    ``"milp"``.

    Returns
    -------
    (NeuronBounds, TighteningReport)
    """
    from tqdm.auto import tqdm

    from .lp import normalize_extra_constraints

    if method not in _METHODS:
        raise UnknownOptionError(f"tighten: method={method!r} is not one of {list(_METHODS)}.")
    if int(workers) < 1:
        raise ValueError(f"tighten: workers must be >= 1, found {workers}.")
    start = time.perf_counter()
    lb, ub = check_box(net, lb, ub)
    extra = normalize_extra_constraints(extra_constraints, net.n_inputs)
    bounds = _start_bounds(net, lb, ub, prior)
    targets = _target_layers(net, layers, tighten_outputs, extra)
    deadline = None if time_limit is None else time.time() + float(time_limit)
    report = TighteningReport(method, workers=int(workers))
    solve = _solver_for(method)
    total = sum(len(_candidates(bounds, k)) for k in targets)
    with _executor_context(int(workers), executor) as pool, \
            tqdm(total=total, disable=not progress, desc=f"{method} bounds", unit="neuron") as bar:
        for k in targets:
            t0 = time.perf_counter()
            rep = LayerReport(k, len(bounds.lower[k]), bounds.is_piecewise(k))
            rep.record_before(bounds)
            neurons = _candidates(bounds, k)
            rep.n_candidates = len(neurons)
            tasks = [ChunkTask(net, bounds, k, c, extra, deadline, time_limit_per_neuron)
                     for c in split_chunks(neurons)]
            for res in _run_layer(solve, tasks, pool, bar):
                _apply(bounds, res, method)
                rep.n_solves += res.n_solves
                rep.n_time_limited += res.n_time_limited
            rep.record_after(bounds)
            rep.time = time.perf_counter() - t0
            report.layers.append(rep)
    report.total_time = time.perf_counter() - start
    return bounds, report
