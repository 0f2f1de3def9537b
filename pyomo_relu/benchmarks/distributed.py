"""LP tightening on a dask cluster against serial and the built-in process pool.

Run with ``python -m pyomo_relu.benchmarks.distributed [OUT_DIR] [--quick]``
(default ``OUT_DIR``: ``pyomo_relu/benchmarks/results``); it writes
``distributed.md``.  In one run, on one seeded random network over ``[-1, 1]^n``
(10-150-150-150-1: 39 chunks of 8 neurons; ``--quick``: 8-64-64-64-1):

(a) ``lp_bounds`` serial; (b) ``lp_bounds(executor=...)`` on a
``distributed.LocalCluster`` of 2 worker processes (1 thread each), the
cluster started and its workers' imports done beforehand (start-up reported
apart); (c) ``lp_bounds(workers=2)``: this process and one forked pool worker,
start-up included.  Every run's bounds are compared with the serial ones (bit
for bit).  The CPU seconds of this process and of the busiest worker process are
recorded beside the wall-clock times: on a shared machine the wall-clock ratio
says little, and ``idle estimate`` = serial CPU / max(CPU of any one process of
the run) is the speed-up an otherwise idle 2-core machine would show.

(d) The overhead per chunk of each executor: ``N`` chunks whose work is nothing
(the function returns at once) but whose argument is a real :class:`ChunkTask`
of the network (its pickled size is reported), submitted together and waited
for; the wall time divided by ``N`` is what serialization, scheduling and the
round trip cost per chunk.  dask is measured with ``pure=False`` (a fresh task
per submit, what the docs recommend) and with its default ``pure=True`` (the
arguments are hashed to name the task); the arguments of every chunk differ, as
those of real chunks do.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import multiprocessing
import os
import pickle
import resource
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from ..bounds.interval import interval_bounds
from ..bounds.lp import lp_bounds
from ..bounds.parallel import CHUNK_SIZE, ChunkTask
from .tightening import random_network

__all__ = ["network", "tightening_rows", "overhead_rows", "run", "main"]

SIZES = {False: (10, 150, 150, 150, 1), True: (8, 64, 64, 64, 1)}
N_CHUNKS = {False: 400, True: 100}


def network(quick: bool):
    """The benchmark's network: seeded He-initialised, most neurons unstable over the box."""
    return random_network(SIZES[quick], seed=0)


def _cpu() -> float:
    """CPU seconds of this process so far."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def _children_cpu() -> float:
    """CPU seconds of the child processes of this process that have exited."""
    use = resource.getrusage(resource.RUSAGE_CHILDREN)
    return use.ru_utime + use.ru_stime


def _noop_chunk(task: ChunkTask, index: int) -> int:
    """A chunk whose solve is nothing: its round trip is pure executor overhead.

    ``index`` makes the arguments of every call differ, as those of real chunks do (dask
    with ``pure=True`` would otherwise run one task for all equal calls).
    """
    return len(task.neurons) + index


def _same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.lower + a.upper, b.lower + b.upper))


def _timed(label, net, serial, client=None, **kwargs) -> dict:
    """One ``lp_bounds`` run: wall and CPU seconds, and whether it matches ``serial``."""
    workers_cpu = client.run(_cpu) if client is not None else {}
    cpu, start = _cpu(), time.perf_counter()
    bounds = lp_bounds(net, -1, 1, **kwargs)
    wall = time.perf_counter() - start
    own = _cpu() - cpu
    after = client.run(_cpu) if client is not None else {}
    used = [after[w] - workers_cpu[w] for w in after]
    return {
        "run": label,
        "wall_s": wall,
        "cpu_this_process_s": own,
        "cpu_busiest_worker_s": max(used, default=0.0),
        "cpu_all_workers_s": sum(used),
        "same_as_serial": "yes" if serial is None or _same(bounds, serial) else "NO",
        "chunks": sum(-(-r.n_candidates // CHUNK_SIZE) for r in bounds.report.layers),
        "load_avg": os.getloadavg()[0],
        "bounds": bounds,
    }


def _cluster():
    import distributed

    return distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.ERROR,
    )


def tightening_rows(net, client) -> list[dict]:
    """Rows (a), (b), (c): serial, the dask cluster, the built-in pool (``workers=2``)."""
    lp_bounds(random_network((2, 8, 8, 1), seed=0), -1, 1)  # first-call imports, not timed
    serial = _timed("serial (this process)", net, None)
    rows = [serial]
    rows.append(
        _timed(
            "dask LocalCluster, 2 worker processes",
            net,
            serial["bounds"],
            client,
            executor=client.get_executor(pure=False),
        )
    )
    # the pool's worker is a child process: its CPU time is counted once it has exited
    before = _children_cpu()
    pool = _timed("built-in pool, workers=2 (start-up included)", net, serial["bounds"], workers=2)
    pool["cpu_busiest_worker_s"] = pool["cpu_all_workers_s"] = _children_cpu() - before
    rows.append(pool)
    for row in rows:
        busiest = max(row["cpu_this_process_s"], row["cpu_busiest_worker_s"])
        row["speedup_wall"] = serial["wall_s"] / row["wall_s"]
        row["speedup_idle_estimate"] = serial["cpu_this_process_s"] / busiest
    return rows


class _Direct(Executor):
    """Calls the function at once in this process (the baseline of no executor)."""

    def submit(self, fn, /, *args, **kwargs):
        from concurrent.futures import Future

        fut = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def _per_chunk(executor, task, n: int, rounds: int = 3) -> float:
    """Seconds per chunk of ``n`` no-op chunks submitted together: the best of ``rounds``
    rounds (after a warm-up), as other load on the machine only ever adds time."""
    wait([executor.submit(_noop_chunk, task, -1 - i) for i in range(4)])
    best = float("inf")
    for r in range(rounds):
        start = time.perf_counter()
        futures = [executor.submit(_noop_chunk, task, r * n + i) for i in range(n)]
        wait(futures)
        best = min(best, time.perf_counter() - start)
        if [f.result() for f in futures] != [len(task.neurons) + r * n + i for i in range(n)]:
            raise RuntimeError("a no-op chunk returned a wrong result")
    return best / n


def overhead_rows(net, client, n: int) -> list[dict]:
    """Row (d) per executor: seconds of overhead per chunk, with a real chunk's argument."""
    bounds = interval_bounds(net, -1, 1)
    task = ChunkTask(net, bounds, 2, np.arange(CHUNK_SIZE))
    size = len(pickle.dumps(task))
    fork = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    rows = []
    with ThreadPoolExecutor(2) as threads, ProcessPoolExecutor(2, mp_context=fork) as procs:
        for label, ex in [
            ("in this process (no executor)", _Direct()),
            ("ThreadPoolExecutor(2)", threads),
            ("ProcessPoolExecutor(2) (the built-in pool's kind)", procs),
            ("dask, get_executor(pure=False)", client.get_executor(pure=False)),
            ("dask, get_executor() (pure=True)", client.get_executor()),
        ]:
            rows.append(
                {
                    "executor": label,
                    "chunks": n,
                    "payload_bytes": size,
                    "ms_per_chunk": 1e3 * _per_chunk(ex, task, n),
                    "load_avg": os.getloadavg()[0],
                }
            )
    return rows


def _table(rows, fields) -> list[str]:
    def fmt(v):
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    out = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    out += ["| " + " | ".join(fmt(r[f]) for f in fields) + " |" for r in rows]
    return out


TIGHTEN_FIELDS = (
    "run",
    "chunks",
    "wall_s",
    "speedup_wall",
    "cpu_this_process_s",
    "cpu_busiest_worker_s",
    "cpu_all_workers_s",
    "speedup_idle_estimate",
    "same_as_serial",
    "load_avg",
)
OVERHEAD_FIELDS = ("executor", "chunks", "payload_bytes", "ms_per_chunk", "load_avg")


def run(out_dir, *, quick: bool = False) -> Path:
    """Run (a)-(d) and write ``distributed.md`` into ``out_dir``; returns its path."""
    import distributed

    net = network(quick)
    start = time.perf_counter()
    with _cluster() as cluster, distributed.Client(cluster) as client:
        client.wait_for_workers(2, timeout=120)
        client.run(importlib.import_module, "pyomo_relu.bounds")  # what a warm cluster has done
        startup = time.perf_counter() - start
        tighten = tightening_rows(net, client)
        overhead = overhead_rows(net, client, N_CHUNKS[quick])
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    name = "-".join(map(str, net.layer_sizes))
    text = [
        "# LP tightening on a dask cluster",
        "",
        f"`python -m pyomo_relu.benchmarks.distributed{' --quick' if quick else ''}` "
        f"(dask {distributed.__version__}). Host: {os.cpu_count()} cores, shared with other "
        "work while this ran (`load_avg`: the 1-minute load average after each row; above 2 "
        "the processes of a run competed for the cores with other jobs, so the wall-clock "
        "times are pessimistic).",
        "",
        f"## Tightening: seeded random network {name} over [-1, 1]^{net.n_inputs}",
        "",
        f"Cluster start-up (scheduler, 2 worker processes, their imports): {startup:.1f} s, "
        "not included below; it is paid once per session.",
        "",
        *_table(tighten, TIGHTEN_FIELDS),
        "",
        "`speedup_idle_estimate`: serial CPU seconds over the largest CPU seconds of any one "
        "process of the run (this process or a worker), the speed-up an otherwise idle 2-core "
        "machine would show. With the cluster, this process only ships chunks; with "
        "`workers=2` it solves chunks too, next to one pool worker.",
        "",
        "## Overhead per chunk",
        "",
        f"{N_CHUNKS[quick]} chunks that do no work, each carrying a real chunk argument (the "
        "network and its bounds), submitted together; wall time per chunk, the best of 3 "
        "rounds. A real chunk of "
        "this network costs about "
        f"{1e3 * tighten[0]['wall_s'] / max(tighten[0]['chunks'], 1):.0f} ms serial.",
        "",
        *_table(overhead, OVERHEAD_FIELDS),
        "",
    ]
    path = out / "distributed.md"
    path.write_text("\n".join(text))
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "out_dir", nargs="?", default="pyomo_relu/benchmarks/results", help="output folder"
    )
    parser.add_argument("--quick", action="store_true", help="a small network (seconds)")
    args = parser.parse_args(argv)
    print(run(args.out_dir, quick=args.quick).read_text())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
