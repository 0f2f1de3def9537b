"""The layer-by-layer tightening loop and its executor plumbing.

:func:`tighten` visits the layers in order.  For layer ``k`` the candidate
neurons (unstable ones; all neurons of a linear output layer) are split into
chunks; each chunk is a picklable :class:`ChunkTask` (plain numpy network and
bounds) that a worker turns into one LP (or MILP) of layers ``< k`` and solves
for its neurons, warm-starting from one neuron to the next.  The results are
intersected with the current bounds (never loosened) before layer ``k + 1``.

Executors.  ``workers=n > 1`` solves in this process and in ``n - 1``
processes of one ``ProcessPoolExecutor`` started once per call.  Where the
platform has it (Linux) the pool *forks*: workers inherit the imported
package, so they start in milliseconds and a user's script needs no
``if __name__ == "__main__"`` guard.  Elsewhere it spawns (each worker imports
the package, about a second, which this process hides by solving chunks while
the pool starts; the calling script then needs the usual main guard).  Keep
your own executor alive to pay start-up once per session.
``executor=`` takes any ``concurrent.futures.Executor`` instead:

* ``ThreadPoolExecutor(n)``: no start-up, but the HiGHS solve holds the GIL,
  so threads give correct bounds and no speed-up;
* ``ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn"))``
  reused across calls;
* dask: ``distributed.Client(address).get_executor(pure=False)`` runs the
  chunks on a cluster (the workers need pyomo_relu, numpy, highspy and
  pyscipopt); the ``Client`` itself is refused (its futures are dask's own);
* Ray: :class:`~.distributed.RayExecutor`, or any ``concurrent.futures``-style
  wrapper whose ``submit`` returns futures compatible with
  ``concurrent.futures.as_completed``.

``docs/distributed.md`` shows both and what happens when a cluster fails.

An executor that fails (a ``BrokenProcessPool``, a future that raises) is
dropped with an ``ExecutorWarning`` (a ``RuntimeWarning``) and the remaining
chunks are solved in this process; Ctrl-C terminates our own worker
processes at once (see :class:`_Runner`).

A layer's candidates are cut into chunks of :data:`CHUNK_SIZE` neurons
whatever the executor, so the bounds do not depend on ``workers`` or on the
executor (bit-identical: HiGHS is deterministic with one thread).
"""

from __future__ import annotations

import multiprocessing
import numbers
import signal
import threading
import time
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from dataclasses import dataclass

import numpy as np

from .._options import seconds_option
from ..errors import (
    ExecutorWarning,
    InfeasibleBoxError,
    ShapeMismatchError,
    TimeLimitWarning,
    UnknownOptionError,
)
from ..network import DenseLayer, ReluNetwork
from .constraints import check_inputs_feasible, normalize_extra_constraints
from .core import NeuronBounds, check_box
from .interval import interval_bounds
from .registry import get_bound_method
from .report import LayerReport, TighteningReport

__all__ = ["ChunkTask", "ChunkResult", "tighten", "split_chunks", "check_executor"]

_EPS = np.finfo(np.float64).eps
CHUNK_SIZE = 8
"""Neurons per chunk: one LP build and cold start per 16 warm-started solves, and
enough chunks per layer (e.g. 10 for 80 unstable neurons) to balance workers."""
_GRACE = 1.0
"""Seconds past the deadline that an executor may take to return its chunks.  Every
solve of a chunk stops at the deadline, so a healthy executor returns well within
this; one that does not (all its workers busy with other jobs, a lost worker) is
not waited for, and its chunks count as cut short by the time limit."""


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

    def expired(self) -> bool:
        """Whether the call's deadline has passed (nothing of this chunk would be solved)."""
        return self.deadline is not None and time.time() >= self.deadline

    def skipped(self) -> ChunkResult:
        """The result of a chunk that the time limit left unsolved: no bounds, every neuron cut
        short."""
        n = len(self.neurons)
        return ChunkResult(self.layer, self.neurons, np.full(n, np.nan), np.full(n, np.nan), 0, n)

    def run(self, bound, layer: DenseLayer, greedy: bool = False) -> ChunkResult:
        """Drive ``bound(w, sense) -> (value | None, limited)`` over the chunk's neurons.

        ``value`` must be a certified lower (``sense="min"``) or upper
        (``"max"``) bound of ``w @ a_{k-1}``; this adds the bias and the
        rounding error of a float64 forward pass (as :mod:`.interval` does).
        For a piecewise layer the minimum is skipped once the maximum shows the
        neuron is never active (its lower bound then no longer matters).  All
        maxima are solved before all minima: consecutive objectives then point
        in similar directions, so a warm start saves more (for HiGHS about 15%
        fewer simplex iterations than alternating max and min per neuron).
        With ``greedy`` the ``2 n`` objectives (``max w_j`` is ``min -w_j``)
        are instead visited greedily, each the most similar (by cosine) to the
        last one solved: another 3-5% fewer HiGHS iterations.
        """
        n = len(self.neurons)
        res = ChunkResult(self.layer, self.neurons, np.full(n, np.nan), np.full(n, np.nan))
        a_lo, a_hi = self._input_bounds()
        mag = abs(layer.weights) @ np.maximum(np.abs(a_lo), np.abs(a_hi)) + np.abs(layer.bias)
        slack = (layer.n_in + 2) * _EPS * mag + np.finfo(np.float64).tiny
        out_of_time = np.zeros(n, dtype=bool)  # neurons the deadline cut short (counted once)
        piecewise = layer.activation.is_piecewise
        rows = _dense_rows(layer, self.neurons)  # a chunk's rows only, even of a sparse layer
        norm = np.linalg.norm(rows, axis=1)
        unit = rows / np.where(norm > 0, norm, 1.0)[:, None]
        cos = unit @ unit.T
        todo = np.ones((n, 2), dtype=bool)  # column 0: maximum, 1: minimum still to visit
        last = None
        while todo.any():
            i, s = _next_objective(cos, todo, last, piecewise, greedy)
            todo[i, s] = False
            j = self.neurons[i]
            if self.deadline is not None and time.time() >= self.deadline:
                res.n_time_limited += int(not out_of_time[i])
                out_of_time[i] = True
                continue
            if s == 1 and piecewise and res.upper[i] <= 0.0:
                continue
            value, limited = bound(rows[i], "max" if s == 0 else "min")
            last = (i, s)
            res.n_solves += 1
            res.n_time_limited += int(limited)
            if value is None:
                continue
            if s == 0:
                res.upper[i] = np.nextafter(value + layer.bias[j] + slack[j], np.inf)
            else:
                res.lower[i] = np.nextafter(value + layer.bias[j] - slack[j], -np.inf)
        return res

    def _input_bounds(self):
        if self.layer == 0:
            return self.bounds.input_lb, self.bounds.input_ub
        return self.bounds.post_bounds(self.layer - 1)


def _dense_rows(layer: DenseLayer, neurons: np.ndarray) -> np.ndarray:
    """The weight rows of ``neurons`` as a dense ``(len(neurons), n_in)`` array."""
    if layer.is_sparse:
        return layer.weights[np.asarray(neurons, dtype=np.intp)].toarray()
    return np.asarray(layer.weights[neurons])


def _next_objective(
    cos: np.ndarray, todo: np.ndarray, last, piecewise: bool, greedy: bool
) -> tuple:
    """The next ``(neuron, 0 for max / 1 for min)`` of a chunk: the one most like the last solved.

    Maximizing ``w_i`` and ``w_m`` are alike when ``cos(w_i, w_m)`` is large,
    maximizing one and minimizing the other when it is small.  For a
    piecewise layer a minimum waits for its maximum (which may make it
    unnecessary).  Ties go to the lowest index, so the order is deterministic.
    """
    avail = todo.copy()
    if piecewise:
        avail[:, 1] &= ~todo[:, 0]
    if not greedy:  # all maxima, then all minima, in chunk order
        return divmod(int(np.argmax(avail.T.ravel())), len(todo))[::-1]
    if last is None:
        score = np.zeros(todo.shape)
    else:
        c = cos[last[0]] * (1.0 if last[1] == 0 else -1.0)
        score = np.stack([c, -c], axis=1)
    flat = int(np.argmax(np.where(avail, score, -np.inf)))
    return flat // 2, flat % 2


def split_chunks(neurons: np.ndarray, size: int = CHUNK_SIZE) -> list:
    """Split neuron indices into consecutive chunks of ``size`` (the last may be shorter).

    The split depends on the layer only, never on the number of workers, so
    every executor solves the same LPs in the same order and returns
    bit-identical bounds.
    """
    return [neurons[i : i + size] for i in range(0, len(neurons), size)]


def _warmup() -> int:
    """Run in each new worker process so imports happen while the parent works."""
    return 0


def _candidates(bounds: NeuronBounds, k: int) -> np.ndarray:
    """Neurons of layer ``k`` worth tightening: the unstable ones, or all of a linear layer."""
    p = bounds.pieces(k)
    return np.flatnonzero(p.unstable if p.piecewise else ~p.unstable)


def _start_bounds(net, lb, ub, prior) -> NeuronBounds:
    bounds = interval_bounds(net, lb, ub)
    if prior is None:
        return bounds
    if not isinstance(prior, NeuronBounds):
        raise UnknownOptionError(
            f"prior: expected NeuronBounds (e.g. from interval_bounds or lp_bounds) or None, "
            f"found {type(prior).__name__}; pass the bounds object itself."
        )
    prior.check_network(net)
    if np.any(prior.input_lb > bounds.input_lb) or np.any(prior.input_ub < bounds.input_ub):
        raise ShapeMismatchError(
            "prior: these bounds were computed for an input box that does not contain "
            f"[{bounds.input_lb.tolist()}, {bounds.input_ub.tolist()}] (prior box "
            f"[{prior.input_lb.tolist()}, {prior.input_ub.tolist()}]); compute them for this box "
            "or a larger one."
        )
    try:
        return bounds.intersect(prior)
    except InfeasibleBoxError as exc:
        raise InfeasibleBoxError(
            f"prior: disagrees with the interval bounds of this box ({exc}); a sound prior for "
            "this "
            "box cannot exclude every point - recompute it for this network and box."
        ) from None


def _apply(bounds: NeuronBounds, results: list, k: int, method: str) -> NeuronBounds:
    """``bounds`` with layer ``k`` tightened by the chunk results (never loosened)."""
    lo, up = bounds.lower[k].copy(), bounds.upper[k].copy()
    for res in results:
        new_lo = np.fmax(lo[res.neurons], res.lower)  # fmax ignores NaN (nothing certified)
        new_up = np.fmin(up[res.neurons], res.upper)
        crossed = np.flatnonzero(new_lo > new_up)
        if crossed.size:
            j = int(res.neurons[crossed[0]])
            i = int(crossed[0])
            raise InfeasibleBoxError(
                f"{method} tightening: layer {k} neuron {j} got lower bound {new_lo[i]} > upper "
                f"bound {new_up[i]}; expected crossing-free bounds - the prior bounds are not "
                "sound "
                "for this box (recompute them with interval_bounds) or the constraints leave "
                "(almost) no point."
            )
        lo[res.neurons], up[res.neurons] = new_lo, new_up
    if np.array_equal(lo, bounds.lower[k]) and np.array_equal(up, bounds.upper[k]):
        return bounds
    return bounds.with_layer(k, lo, up, method)


def _target_layers(net, layers, tighten_outputs, extra) -> list:
    if layers is None:
        layers = range(net.n_layers if tighten_outputs else net.n_layers - 1)
    elif isinstance(layers, numbers.Integral):
        layers = [layers]
    try:
        out = sorted(set(_integer(k) for k in layers))
    except (TypeError, ValueError):
        raise UnknownOptionError(
            "layers: expected layer indices (an int or an iterable of ints in "
            f"0..{net.n_layers - 1}), "
            f"found {layers!r}."
        ) from None
    for k in out:
        if not 0 <= k < net.n_layers:
            raise ShapeMismatchError(
                f"layers: layer {k} does not exist; the network has layers 0..{net.n_layers - 1}."
            )
    # layer 0 over a box alone is exact with interval arithmetic: no LP needed
    return [k for k in out if k > 0 or extra is not None]


def _integer(value) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(value)
    return int(value)


def check_executor(executor, what: str = ""):
    """``executor`` if it is None or a ``concurrent.futures``-style executor; else an error.

    An executor is an object with ``submit(fn, *args)`` returning a
    ``concurrent.futures.Future``.  A dask ``distributed.Client`` has a
    ``submit`` too, but its futures are dask's own (``as_completed`` cannot wait
    on them): it is refused with the fix, ``client.get_executor()``.

    Raises
    ------
    UnknownOptionError
        Starting with ``what`` (e.g. ``"relu.tighten_bounds: "``), naming the type found.
    """
    if executor is None:
        return None
    if callable(getattr(executor, "get_executor", None)):
        raise UnknownOptionError(
            f"{what}executor: found a {type(executor).__name__} (a dask distributed client), "
            "expected a concurrent.futures.Executor; pass client.get_executor(pure=False)."
        )
    if not callable(getattr(executor, "submit", None)):
        raise UnknownOptionError(
            f"{what}executor: expected a concurrent.futures.Executor (an object with submit()), "
            f"found {type(executor).__name__}; pass e.g. ThreadPoolExecutor(2), "
            "distributed.Client(...).get_executor(pure=False) or None."
        )
    return executor


def _check_options(workers, executor, time_limit, time_limit_per_neuron, what: str):
    """Validate the run options of :func:`tighten`; return ``(workers, time_limit,
    time_limit_per_neuron)``."""
    check_executor(executor)
    try:
        count = _integer(workers)
    except TypeError:
        count = 0
    if count < 1:
        raise UnknownOptionError(
            f"workers: expected an integer >= 1 (1 solves in this process), found {workers!r}."
        )
    return (
        count,
        seconds_option(time_limit, what),
        seconds_option(time_limit_per_neuron, what, name="time_limit_per_neuron", allow_zero=False),
    )


def _ignore_sigint() -> None:
    """Initializer of our worker processes: Ctrl-C (sent to the whole process group) is for the
    parent.

    The parent stops the call and terminates the workers; a worker that caught
    the interrupt itself would only print a traceback and break the pool.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the worker processes of ``pool`` now, without waiting for their current chunks.

    A MILP chunk can run for minutes (16 solves of up to ``time_limit_per_neuron``
    each); waiting for it after Ctrl-C or an error would keep the caller hanging.
    """
    stop = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if stop is not None:
        stop()
        return
    for proc in list((getattr(pool, "_processes", None) or {}).values()):
        if proc.is_alive():
            proc.terminate()


class _Runner:
    """Runs a layer's chunks: in this process, on our own pool, or on a user executor.

    With our own pool (``workers=n``: ``n - 1`` worker processes) this
    process solves chunks too, so the pool's start-up (importing the package
    in each new process) overlaps with useful work instead of idling.

    Failures.  When the executor fails (``submit`` or a future raises an
    ``Exception``: a ``BrokenProcessPool``, a lost cluster worker, an executor
    that was shut down), an ``ExecutorWarning`` names the failure and the
    remaining chunks are solved in this process, so the bounds are the same.
    A ``BaseException`` such as ``KeyboardInterrupt`` (raised here or by a
    future) cancels the chunks not started, terminates our own worker
    processes and propagates.  Past the deadline (plus :data:`_GRACE`), chunks
    the executor has not returned are given up (they count as time-limited).
    """

    def __init__(self, workers: int, executor: Executor | None, label: str = "bound tightening"):
        self.label = label  # names the call in warnings
        self.own = executor is None and workers > 1
        # two chunks in flight per process so none idles while this process tops up
        self.slots = 2 * (workers - 1) if self.own else 1 << 30
        self.pool = executor
        self.usable = executor is not None or self.own  # False once the executor failed
        self.stuck = False  # chunks were given up: our own workers may still be busy
        if self.own:
            ctx = multiprocessing.get_context(
                "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            )
            self.pool = ProcessPoolExecutor(
                max_workers=workers - 1, mp_context=ctx, initializer=_ignore_sigint
            )
            for _ in range(workers - 1):
                self.pool.submit(_warmup)

    def close(self, abort: bool = False) -> None:
        """Shut our own pool down; with ``abort`` (or after giving chunks up) without waiting for
        its chunks."""
        if self.own:
            if abort or self.stuck or not self.usable:
                _terminate(self.pool)
            self.pool.shutdown(wait=True, cancel_futures=True)

    def run(self, solve, tasks, bar, deadline: float | None = None) -> list:
        pending, running, results = list(tasks), {}, []

        def done(task, res):
            results.append(res)
            bar.update(len(task.neurons))

        def here(task):  # solve in this process (the chunk solvers skip a chunk whose time is up)
            done(task, solve(task))

        try:
            while pending or running:
                for fut in [f for f in running if f.done()]:
                    self._collect(fut, running.pop(fut), here, done)
                while self.usable and pending and len(running) < self.slots:
                    task = pending.pop(0)
                    if task.expired():  # skip it without shipping the network to a worker
                        done(task, task.skipped())
                        continue
                    try:
                        running[self.pool.submit(solve, task)] = task
                    except (
                        Exception
                    ) as exc:  # e.g. BrokenProcessPool, or an executor that was shut down
                        self._fail(exc)
                        pending.insert(0, task)
                if self.own and self.usable and not pending:
                    pending += self._steal(running)
                if pending and (not self.usable or self.own):
                    here(pending.pop(0))
                elif running:
                    self._wait(running, here, done, deadline)
        except BaseException:
            for fut in running:
                fut.cancel()
            raise
        return results

    def _collect(self, fut, task, here, done) -> None:
        try:
            res = fut.result()
        except Exception as exc:  # the executor failed on this chunk: solve it here
            self._fail(exc)
            here(task)
            return
        done(task, res)

    def _wait(self, running: dict, here, done, deadline) -> None:
        """Collect one finished chunk; past the deadline and the grace, give up the unfinished
        ones."""
        timeout = None if deadline is None else max(deadline - time.time(), 0.0) + _GRACE
        if (
            timeout is not None and timeout >= threading.TIMEOUT_MAX
        ):  # a limit of years: wait as without one
            timeout = None
        try:
            fut = next(as_completed(running, timeout=timeout))
        except FuturesTimeout:
            for fut, task in list(running.items()):
                fut.cancel()
                done(task, task.skipped())
            running.clear()
            self.stuck = True
            return
        self._collect(fut, running.pop(fut), here, done)

    def _fail(self, exc: Exception) -> None:
        if self.usable:
            warnings.warn(
                ExecutorWarning(
                    f"{self.label}: the executor failed ({type(exc).__name__}: {exc}); the "
                    "remaining chunks are "
                    "solved in this process (same bounds, no parallelism) - check the executor or "
                    "its workers."
                ),
                stacklevel=2,
            )
        self.usable = False

    @staticmethod
    def _steal(running: dict) -> list:
        """Take back one chunk that no process has started (its future can still be cancelled)."""
        for fut in reversed(list(running)):
            if fut.cancel():
                return [running.pop(fut)]
        return []


def tighten(
    net: ReluNetwork,
    lb,
    ub,
    *,
    method: str = "lp",
    prior: NeuronBounds | None = None,
    workers: int = 1,
    executor: Executor | None = None,
    time_limit: float | None = None,
    time_limit_per_neuron: float | None = None,
    progress: bool = False,
    extra_constraints=None,
    layers=None,
    tighten_outputs: bool = True,
) -> tuple[NeuronBounds, TighteningReport]:
    """Optimization-based bound tightening, layer by layer.

    Parameters are those of :func:`~pyomo_relu.bounds.lp.lp_bounds` and
    :func:`~pyomo_relu.bounds.milp.milp_bounds`; ``method`` is ``"lp"`` or
    ``"milp"``.

    Returns
    -------
    (NeuronBounds, TighteningReport)
    """
    # tqdm.auto costs about 50 ms to import: paid by the calls that tighten, not by every
    # import of the package (worker processes among them)
    from tqdm.auto import tqdm

    solve = get_bound_method(method, layerwise=True, option="tighten: method").chunk_solver
    workers, time_limit, time_limit_per_neuron = _check_options(
        workers, executor, time_limit, time_limit_per_neuron, f"{method}_bounds"
    )
    start = time.perf_counter()
    lb, ub = check_box(net, lb, ub)
    extra = normalize_extra_constraints(extra_constraints, net.n_inputs)
    check_inputs_feasible(lb, ub, extra)
    bounds = _start_bounds(net, lb, ub, prior)
    targets = _target_layers(net, layers, tighten_outputs, extra)
    deadline = None if time_limit is None else time.time() + time_limit
    report = TighteningReport(method, workers=workers)
    estimate = {k: len(_candidates(bounds, k)) for k in targets}
    # more processes than the largest layer has chunks would only cost start-up time
    most_chunks = max((-(-n // CHUNK_SIZE) for n in estimate.values()), default=0)
    if time_limit == 0:  # nothing will be solved: starting worker processes would only cost time
        most_chunks = 0
    runner = _Runner(min(workers, max(most_chunks, 1)), executor, f"{method}_bounds")
    try:
        with tqdm(
            total=sum(estimate.values()),
            disable=not progress,
            desc=f"{method} bounds",
            unit="neuron",
        ) as bar:
            bounds = _loop(
                net,
                bounds,
                targets,
                estimate,
                runner,
                solve,
                bar,
                report,
                (extra, deadline, time_limit_per_neuron),
            )
    except BaseException:
        # Ctrl-C or an error: do not wait for chunks still running in our worker processes
        runner.close(abort=True)
        raise
    runner.close()
    report.total_time = time.perf_counter() - start
    if report.n_time_limited:
        warnings.warn(
            TimeLimitWarning(
                f"{method} bounds: a time limit cut {report.n_time_limited} bound computations "
                "short "
                f"({report.n_solves} solves run); the bounds are sound but may be looser than "
                "without the "
                "limit (skipped neurons keep their prior bounds) - raise time_limit / "
                "time_limit_per_neuron "
                "for tighter bounds."
            ),
            stacklevel=3,
        )
    return bounds, report


def _loop(net, bounds, targets, estimate, runner, solve, bar, report, options) -> NeuronBounds:
    """The layer-by-layer loop of :func:`tighten`: the tightened bounds (the report is filled
    in)."""
    method = report.method
    # bounds that hold only where the caller's input constraints hold say so: checks over the
    # whole box (e.g. bounds.checks.check_sound_at_samples) must not hold them against other points
    label = method if options[0] is None else f"{method}-constrained"
    for k in targets:
        t0 = time.perf_counter()
        rep = LayerReport(k, len(bounds.lower[k]), bounds.is_piecewise(k))
        rep.record_before(bounds)
        neurons = _candidates(bounds, k)
        rep.n_candidates = len(neurons)
        bar.total -= estimate[k] - len(
            neurons
        )  # earlier layers' tightening made more neurons stable
        tasks = [ChunkTask(net, bounds, k, c, *options) for c in split_chunks(neurons)]
        results = runner.run(solve, tasks, bar, options[1])
        for res in results:
            rep.n_solves += res.n_solves
            rep.n_time_limited += res.n_time_limited
        bounds = _apply(bounds, results, k, label)
        rep.record_after(bounds)
        rep.time = time.perf_counter() - t0
        report.layers.append(rep)
    return bounds
