"""The network primal heuristic in SCIP: incumbents over time, with and without it.

Run with ``python -m pyomo_relu.benchmarks.heuristic [--out DIR] [--time-limit 60]
[--problems ...] [--modes ...]``.  Each (problem, mode) pair is one SCIP solve in a
process of its own (``solve_model(..., heuristic=mode)``, big-M formulation, the
``relu`` settings).  Modes: ``off`` (SCIP alone), ``auto`` (the default: the heuristic's points
as start solutions), ``plugin`` (start solutions and the heuristic plugin during the solve).

Problems:

* ``sines5``: minimize a 5-64x3-1 surrogate of :math:`\\sum_i \\sin(2 x_i)` over
  :math:`[-3, 3]^5` (trained once, cached);
* ``acas``: maximize output 0 of a random (He-initialised, seeded) 5-50x6-5 network, the
  ACAS Xu shape, over :math:`[-1, 1]^5`;
* ``peaks``: minimize the 2-50x3-1 peaks surrogate over :math:`[-3, 3]^2`;
* ``ackley5``: minimize the 5-25x3-1 Ackley surrogate over :math:`[-3.5, 3.5]^5`.

Recorded (wall-clock seconds from the call of ``solve_model``, so the model's loading into
SCIP and the heuristic's start search count): the time to the first incumbent, the best
objective at 10, 30 and 60 s (each new incumbent is noted by a SCIP event handler, given
through ``scip_callbacks``), the time to optimality (if reached) and the final bound.
Results go to ``heuristic.md`` and ``heuristic.csv``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from ._tables import write_csv

__all__ = ["PROBLEMS", "MODES", "build", "run_one", "run", "main"]

PROBLEMS = ("sines5", "acas", "peaks", "ackley5")
MODES = ("off", "auto", "plugin")
CHECKPOINTS = (10.0, 30.0, 60.0)
FIELDS = (
    "problem",
    "network",
    "sense",
    "mode",
    "status",
    "first_incumbent_s",
    "best_10s",
    "best_30s",
    "best_60s",
    "optimal_s",
    "objective",
    "bound",
    "nodes",
    "heuristic_s",
    "plugin_accepted",
)


def sum_of_sines(x) -> np.ndarray:
    """:math:`\\sum_i \\sin(2 x_i)` of points ``x`` with shape (N, d)."""
    return np.sum(np.sin(2.0 * np.asarray(x, dtype=np.float64)), axis=-1)


def _network(name: str, cache_dir):
    """``(network, lb, ub, maximize)`` of a problem."""
    from .problems import _box, peaks
    from .problems._common import Variant, default_cache_dir
    from .problems.ackley import SPECS
    from .tightening import random_network

    cache_dir = cache_dir or default_cache_dir()
    if name == "sines5":
        spec = _box.BoxFunction("sines5", sum_of_sines, 5, -3.0, 3.0, -5.0, ((-math.pi / 4,) * 5,))
        spec = replace(spec, samples={"full": 5000, "quick": 1000})
        net = _box.train(spec, (64, 64, 64), {}, cache_dir=cache_dir, tag="heur").network
        return net, np.full(5, -3.0), np.full(5, 3.0), False
    if name == "acas":
        return random_network((5,) + (50,) * 6 + (5,), seed=7), -np.ones(5), np.ones(5), True
    if name == "peaks":
        nets = peaks.train_networks(Variant("plain_alt", {"arch": "alt"}), cache_dir=cache_dir)
        return nets["f"].network, np.full(2, peaks.LOWER), np.full(2, peaks.UPPER), False
    if name == "ackley5":
        spec = SPECS[5]
        net = _box.train_networks(spec, Variant("plain"), cache_dir=cache_dir)["f"].network
        lb, ub = spec.box()
        return net, lb, ub, False
    raise ValueError(f"unknown problem {name!r}; valid: {', '.join(PROBLEMS)}")


def build(name: str, cache_dir=None):
    """``(model, network, maximize)``: optimize output 0 of the problem's network over its box."""
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock

    net, lb, ub, maximize = _network(name, cache_dir)
    m = pyo.ConcreteModel(name=name)
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _, i: (float(lb[i]), float(ub[i])))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    sense = pyo.maximize if maximize else pyo.minimize
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
    return m, net, maximize


def _best_by(times, values, t: float, maximize: bool):
    found = [v for s, v in zip(times, values) if s <= t]
    if not found:
        return None
    return max(found) if maximize else min(found)


def _recorder(t0: float):
    """A SCIP event handler that notes (seconds since ``t0``, objective) of each new incumbent.

    Wall-clock seconds of this process (SCIP's own solution times start at different
    clocks for given and found solutions); incumbents SCIP already holds when the handler
    starts (start solutions) are noted then.
    """
    from pyscipopt import SCIP_EVENTTYPE, Eventhdlr

    class Recorder(Eventhdlr):
        found: list = []

        def _note(self):
            if self.model.getNSols():
                obj = self.model.getSolObjVal(self.model.getBestSol())
                self.found.append((time.perf_counter() - t0, obj))

        def eventinit(self):
            self._note()
            self.model.catchEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

        def eventexit(self):
            self.model.dropEvent(SCIP_EVENTTYPE.BESTSOLFOUND, self)

        def eventexec(self, event):
            self._note()

    return Recorder()


def run_one(name: str, mode: str, time_limit: float, cache_dir=None) -> dict:
    """One solve of problem ``name`` with ``heuristic=mode``; the row of the table."""
    from ..solving import solve_model

    m, net, maximize = build(name, cache_dir)
    t0 = time.perf_counter()
    rec = _recorder(t0)
    rec.found = []

    def record(scip_model, var_map):
        scip_model.includeEventhdlr(rec, "incumbents", "incumbent times of the benchmark")

    out = solve_model(m, time_limit=time_limit, heuristic=mode, scip_callbacks=[record])
    wall = time.perf_counter() - t0
    times = [t for t, _ in rec.found]
    values = [v for _, v in rec.found]
    x = np.array([m.x[i].value for i in range(net.n_inputs)])
    if out.has_solution:  # the loaded solution is exact for the network
        assert abs(net.forward(x)[0] - out.objective) <= 1e-4 * (1 + abs(out.objective))
    report = out.heuristic or {}
    row = {
        "problem": name,
        "network": "-".join(map(str, net.layer_sizes)),
        "sense": "max" if maximize else "min",
        "mode": mode,
        "status": out.status,
        "first_incumbent_s": min(times) if times else None,
        "optimal_s": wall if out.status == "optimal" else None,
        "objective": out.objective,
        "bound": out.bound,
        "nodes": out.nodes,
        "heuristic_s": report.get("seconds"),
        "plugin_accepted": report.get("plugin_accepted"),
    }
    for t in CHECKPOINTS:
        row[f"best_{int(t)}s"] = _best_by(times, values, t, maximize)
    return row


def _fmt(value, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e5 else f"{value:.3e}"
    return str(value)


def _table(rows: list) -> str:
    head = (
        "| problem | network | sense | mode | first incumbent (s) | best @10 s | best @30 s |"
        " best @60 s | optimal (s) | bound | nodes | start search (s) | plugin sols |"
    )
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        cells = [
            r["problem"],
            r["network"],
            r["sense"],
            r["mode"],
            _fmt(r["first_incumbent_s"], 3),
            _fmt(r["best_10s"]),
            _fmt(r["best_30s"]),
            _fmt(r["best_60s"]),
            _fmt(r["optimal_s"], 3),
            _fmt(r["bound"]),
            _fmt(r["nodes"]),
            _fmt(r["heuristic_s"], 2),
            _fmt(r["plugin_accepted"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(problems, modes, *, time_limit: float, out: Path, cache_dir=None) -> list:
    """Every (problem, mode) solve in its own process; writes the CSV and the markdown table."""
    for name in problems:  # train (or load) every network once, before the timed processes
        _network(name, cache_dir)
    rows = []
    for name in problems:
        for mode in modes:
            cmd = [sys.executable, "-m", "pyomo_relu.benchmarks.heuristic", "--one", name, mode]
            cmd += ["--time-limit", str(time_limit)]
            if cache_dir is not None:
                cmd += ["--cache-dir", str(cache_dir)]
            res = subprocess.run(cmd, capture_output=True, text=True)
            if res.returncode:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stderr}")
            rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
            print(_table(rows[-1:]).splitlines()[-1], flush=True)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "heuristic.csv", rows, FIELDS)
    (out / "heuristic.md").write_text(
        "# The network primal heuristic in SCIP\n\n"
        f"`python -m pyomo_relu.benchmarks.heuristic --time-limit {time_limit:g}`: one SCIP solve "
        "per row, each in its own process (big-M formulation, `relu` settings). Modes: `off` "
        "SCIP alone, `auto` (the default) the heuristic's start solutions, `plugin` start "
        "solutions and the plugin. Times include the model's loading and the start search; "
        "`best @t` is the best "
        "incumbent by then (noted by a SCIP event handler). Findings: docs/solving.md.\n\n"
        + _table(rows)
        + "\n"
    )
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--problems", nargs="+", default=list(PROBLEMS), choices=PROBLEMS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--cache-dir", type=Path, default=None)
    parser.add_argument("--one", nargs=2, metavar=("PROBLEM", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        row = run_one(*args.one, args.time_limit, args.cache_dir)
        print(json.dumps(row))
        return
    run(
        args.problems,
        args.modes,
        time_limit=args.time_limit,
        out=args.out,
        cache_dir=args.cache_dir,
    )


if __name__ == "__main__":
    main()
