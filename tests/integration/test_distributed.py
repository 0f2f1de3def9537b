"""LP / MILP tightening on a dask cluster: same bounds as serial, and sound when the cluster fails.

Every test runs on a real ``distributed.LocalCluster``: a scheduler and two worker
*processes* (one thread each), started once for the module and always closed.  The
executor is ``client.get_executor()``, the way a user passes a cluster to
``lp_bounds``, ``milp_bounds`` and ``relu.tighten_bounds``.  The faults are real
too: a worker process dies in the middle of a layer, the client or the cluster is
closed before the call, Ctrl-C (a real SIGINT) arrives during a long run.  A
SIGALRM guard turns a hang into a failure.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import threading
import time
import warnings
from concurrent.futures import Executor

import distributed
import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.errors import ExecutorWarning, UnknownOptionError
from tests.conftest import block_model, random_network, requires_scip

pytestmark = pytest.mark.solver

#: seconds any one test may run before the guard fails it (a hang, not slowness: the tests take
#: a few seconds each on a loaded 2-core machine)
HANG = 90


class Hung(BaseException):
    """Raised by the SIGALRM guard; a BaseException so that no fallback path swallows it."""


@pytest.fixture(autouse=True)
def no_hang():
    """Fail a test that runs longer than :data:`HANG` seconds instead of hanging the suite."""

    def alarm(signum, frame):
        raise Hung(f"the test ran for more than {HANG} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(HANG)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def start_cluster(n_workers: int):
    return distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # no fixed port: another cluster may hold 8787
        silence_logs=logging.CRITICAL,
    )


@pytest.fixture(scope="module")
def cluster():
    """A scheduler (in this process) and two worker processes, closed after the module."""
    with start_cluster(2) as cl, distributed.Client(cl) as client:
        client.wait_for_workers(2, timeout=60)
        yield cl, client


@pytest.fixture
def client(cluster):
    """The module's client, with both workers up (a test before may have killed one)."""
    cl, client = cluster
    client.wait_for_workers(2, timeout=60)
    return client


@pytest.fixture
def executor(client):
    """The cluster as a ``concurrent.futures.Executor``, one new task per chunk.

    ``pure=False``: dask's default (``pure=True``) names a task by a hash of its
    arguments, so a chunk that failed (``KilledWorker``) would, while any reference
    to its future lives, fail again at once in a later call with the same chunk.
    """
    return client.get_executor(pure=False)


def caught_run(fn, *args, **kwargs):
    """``(result, seconds, warnings caught)`` of ``fn(*args, **kwargs)``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        result = fn(*args, **kwargs)
    return result, time.perf_counter() - start, [w.message for w in caught]


@functools.cache
def serial_lp(sizes: tuple, seed: int):
    """The network ``random_network(sizes, seed)`` and its LP bounds over [-1, 1], serial."""
    net = random_network(sizes, seed=seed)
    return net, pr.lp_bounds(net, -1, 1)


def same_bounds(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.lower + a.upper, b.lower + b.upper))


def assert_sound(net, bounds, n=2000):
    """Forward passes at random points of the box lie inside every layer's bounds."""
    rng = np.random.default_rng(0)
    lb, ub = bounds.input_lb, bounds.input_ub
    x = lb + (ub - lb) * rng.random((n, len(lb)))
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]) and np.all(z <= bounds.upper[k]), f"layer {k} cut off"


def assert_contains(bounds, tighter):
    """Every interval of ``tighter`` lies inside the one of ``bounds`` (or equals it)."""
    for k in range(bounds.n_layers):
        assert np.all(bounds.lower[k] <= tighter.lower[k]), f"layer {k}: lower bound too high"
        assert np.all(bounds.upper[k] >= tighter.upper[k]), f"layer {k}: upper bound too low"


# -- the same bounds as serial -------------------------------------------------------------------
def test_lp_bounds_on_the_cluster_are_bit_identical_to_serial(executor):
    net, serial = serial_lp((6, 40, 40, 40, 1), 0)
    on_cluster, _, caught = caught_run(pr.lp_bounds, net, -1, 1, executor=executor)
    assert not [w for w in caught if isinstance(w, ExecutorWarning)]
    assert same_bounds(on_cluster, serial)
    assert on_cluster.report.n_solves == serial.report.n_solves > 0


@requires_scip
def test_milp_bounds_on_the_cluster_are_bit_identical_to_serial(executor):
    net = random_network((3, 10, 10, 1), seed=2)
    serial = pr.milp_bounds(net, -1, 1, time_limit_per_neuron=60)
    assert serial.report.n_time_limited == 0  # no limit was hit: the bounds are deterministic
    on_cluster = pr.milp_bounds(net, -1, 1, time_limit_per_neuron=60, executor=executor)
    assert on_cluster.report.n_time_limited == 0
    assert same_bounds(on_cluster, serial)


def test_the_transformation_passes_the_executor_to_the_cluster(executor):
    """``relu.tighten_bounds(executor=...)`` solves its chunks on the cluster: same bounds."""
    net, reference = serial_lp((4, 24, 24, 1), 3)
    submitted = []

    class Counting(Executor):  # the dask executor, counting what it is given
        def __init__(self, inner):
            self.inner = inner

        def submit(self, fn, /, *args, **kwargs):
            submitted.append(fn)
            return self.inner.submit(fn, *args, **kwargs)

    m = block_model(net, "bigm")
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(
        m, method="lp", executor=Counting(executor)
    )
    assert len(submitted) == sum(-(-r.n_candidates // 8) for r in reference.report.layers)
    assert same_bounds(m.nn.bounds, reference)


@pytest.mark.parametrize(
    "bad, expected",
    [
        (3, "executor: expected a concurrent.futures.Executor .* found int"),
        ("dask", "executor: expected a concurrent.futures.Executor .* found str"),
        (None, None),
    ],
)
def test_a_client_or_a_non_executor_is_refused_with_the_fix(client, bad, expected):
    net = random_network((2, 6, 1), seed=0)
    if bad is None:  # the client itself: its futures are dask's, not concurrent.futures ones
        bad = client
        expected = r"executor: found a Client .* pass client\.get_executor\(pure=False\)"
    with pytest.raises(UnknownOptionError, match=expected):
        pr.lp_bounds(net, -1, 1, executor=bad)
    with pytest.raises(UnknownOptionError, match="relu.tighten_bounds: " + expected):
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(
            block_model(net, "bigm"), executor=bad
        )


# -- a worker dies in the middle of a layer ------------------------------------------------------
def _die_once(marker: str, solve, task):
    """Run on a worker: the first call (across all processes) kills its own worker process."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return solve(task)
    os._exit(1)  # the worker process dies while running this chunk


class KillOnce(Executor):
    """The cluster's executor; the second chunk of ``layer`` kills the worker running it."""

    def __init__(self, inner, marker, layer):
        self.inner, self.marker, self.layer, self.seen = inner, marker, layer, 0

    def submit(self, fn, /, task):
        if task.layer == self.layer:
            self.seen += 1
            if self.seen == 2:
                return self.inner.submit(_die_once, self.marker, fn, task)
        return self.inner.submit(fn, task)


@pytest.mark.parametrize("allowed_failures", [0, 3])
def test_a_worker_killed_mid_layer_leaves_sound_bounds(
    cluster, executor, tmp_path, allowed_failures
):
    """A worker process dies while it solves a chunk of layer 2 (of 3).

    With ``allowed-failures = 0`` dask gives up the chunk (``KilledWorker``): it
    is solved here, with an ``ExecutorWarning``.  With dask's default of 3 the
    scheduler reruns it on the other worker, silently.  Either way the bounds
    are sound and the same as serial.
    """
    cl, _ = cluster
    net, serial = serial_lp((8, 64, 64, 64, 1), 0)
    marker = str(tmp_path / "killed")
    old, cl.scheduler.allowed_failures = cl.scheduler.allowed_failures, allowed_failures
    try:
        killing = KillOnce(executor, marker, layer=2)
        bounds, seconds, caught = caught_run(pr.lp_bounds, net, -1, 1, executor=killing)
    finally:
        cl.scheduler.allowed_failures = old
    assert os.path.exists(marker), "no worker was killed"
    assert_sound(net, bounds)
    assert_contains(bounds, serial)
    assert same_bounds(bounds, serial)  # a chunk solved again gives the same bounds
    fallbacks = [w for w in caught if isinstance(w, ExecutorWarning)]
    if allowed_failures == 0:
        assert len(fallbacks) == 1 and "KilledWorker" in str(fallbacks[0])
        assert "solved in this process" in str(fallbacks[0])
    else:
        assert not fallbacks
    assert seconds < 60


# -- the scheduler is gone before the call -------------------------------------------------------
def test_a_closed_client_falls_back_to_this_process_with_a_warning(cluster):
    cl, _ = cluster
    net, serial = serial_lp((6, 40, 40, 40, 1), 0)
    gone = distributed.Client(cl)
    executor = gone.get_executor()
    gone.close()
    bounds, seconds, caught = caught_run(pr.lp_bounds, net, -1, 1, executor=executor)
    fallbacks = [w for w in caught if isinstance(w, ExecutorWarning)]
    assert len(fallbacks) == 1 and "lp_bounds: the executor failed" in str(fallbacks[0])
    assert same_bounds(bounds, serial)
    assert seconds < 30


def test_a_closed_cluster_falls_back_to_this_process_with_a_warning():
    net, serial = serial_lp((6, 40, 40, 40, 1), 0)
    with start_cluster(1) as cl, distributed.Client(cl) as client:
        executor = client.get_executor()
        cl.close()  # the scheduler and its worker stop; the client notices
        bounds, seconds, caught = caught_run(pr.lp_bounds, net, -1, 1, executor=executor)
    fallbacks = [w for w in caught if isinstance(w, ExecutorWarning)]
    assert len(fallbacks) == 1 and "the executor failed" in str(fallbacks[0])
    assert same_bounds(bounds, serial)
    assert seconds < 30


# -- Ctrl-C --------------------------------------------------------------------------------------
def test_ctrl_c_stops_a_long_run_on_the_cluster_which_stays_usable(client, executor):
    """SIGINT 1.5 s into a tightening of about 30 s (serial): KeyboardInterrupt comes within
    seconds (the chunks in flight are cancelled or finish on the workers) and the cluster then
    runs the next call."""
    net = random_network((10, 150, 150, 150, 1), seed=0)
    timer = threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            pr.lp_bounds(net, -1, 1, executor=executor)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 1.5 + 10
    small, serial = serial_lp((4, 24, 24, 1), 3)
    client.wait_for_workers(2, timeout=30)
    assert same_bounds(pr.lp_bounds(small, -1, 1, executor=executor), serial)


# -- the benchmark runner's solves ---------------------------------------------------------------
@requires_scip
def test_the_benchmark_runner_solves_its_configurations_on_the_cluster(
    executor, tmp_path, monkeypatch
):
    """``runner.run(executor=...)``: the rows of the cluster run are those of a serial run."""
    import csv
    import dataclasses

    from pyomo_relu.benchmarks import runner
    from pyomo_relu.benchmarks.problems import PROBLEMS, TrainedNet

    def train(variant, *, cache_dir, quick=False):  # in this process only: the workers get data
        return {"f": TrainedNet(random_network((2, 8, 8, 1), seed=4), 0.1, 0.2)}

    monkeypatch.setitem(
        PROBLEMS, "peaks", dataclasses.replace(PROBLEMS["peaks"], train_networks=train)
    )
    configs = ["bigm", "tightened_bigm"]
    opts = dict(problems=["peaks"], variants=["plain"], configs=configs, time_limit=30)
    opts.update(cache_dir=tmp_path / "cache", progress=False)

    def rows(out, **more):
        with open(runner.run(out, **opts, **more)) as fh:
            return {r["config"]: r for r in csv.DictReader(fh)}

    serial, on_cluster = rows(tmp_path / "serial"), rows(tmp_path / "dask", executor=executor)
    assert sorted(on_cluster) == sorted(configs)
    for config in configs:
        for field in ("status", "objective", "binaries", "stable", "max_M", "check_ok"):
            assert on_cluster[config][field] == serial[config][field], (config, field)
    assert on_cluster["bigm"]["status"] == "optimal"
    with pytest.raises(UnknownOptionError, match="bench: executor: expected"):
        runner.run(tmp_path / "bad", **opts, executor=4)


# -- the example ---------------------------------------------------------------------------------
@requires_scip
def test_the_dask_example_runs_on_a_given_cluster(cluster):
    """``examples/tighten_on_dask.py ADDRESS`` (here the module's scheduler) reports identical
    bounds for lp_bounds, milp_bounds and relu.tighten_bounds."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cl, _ = cluster
    out = subprocess.run(
        [sys.executable, str(root / "examples" / "tighten_on_dask.py"), cl.scheduler_address],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(root)},
        timeout=HANG - 10,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("identical to serial: True") == 2, out.stdout
    assert "relu.tighten_bounds on the cluster identical: True" in out.stdout
