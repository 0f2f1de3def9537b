"""Two levers on SCIP's dual bound: objective cut-off tightening and ideal single-neuron cuts.

Run with ``python -m pyomo_relu.benchmarks.dual_levers [OUT_DIR] [--time-limit S]``
(default ``OUT_DIR``: ``pyomo_relu/benchmarks/results``, limit 60 s); it writes
``dual_levers.csv`` and ``dual_levers.md``.  Every solve runs in a fresh
subprocess (``--one PROBLEM CONFIG``), so no solve inherits another's memory or
caches.

Problems (output 0 of each network over its box; trained networks are cached):

* ``peaks``: the 2-50x3-1 surrogate of peaks on ``[-3, 3]^2``, minimized;
* ``sines5``: a 5-64x3-1 surrogate of :math:`\\sum_i \\sin(2 x_i)` on ``[-3, 3]^5``, minimized;
* ``ackley5``: the 5-25x3-1 surrogate of Ackley-5 on ``[-3.5, 3.5]^5``, minimized;
* ``random5``: a seeded random 5-50x6-5 network on ``[-1, 1]^5``, output 0 maximized.

Every configuration starts from the big-M formulation with LP-tightened bounds
(``relu.tighten_bounds(method="lp")``) and gives SCIP the same start solution:
the best of 20,000 seeded uniform forward passes (the incumbent).  Then

* ``base``: nothing more;
* ``cutoff``: ``relu.tighten_bounds(objective_cutoff="incumbent")`` (the model
  pass over the whole model with the row objective <= incumbent, which is added
  to the model);
* ``cutoff3``: the same with up to three passes (``passes=3``; each pass starts
  from the bounds of the one before);
* ``cuts``: the ideal-cut separator (:func:`pyomo_relu.scip_cuts.ideal_cuts`,
  root only), SCIP's own separators switched off;
* ``cutoff+cuts``, ``cutoff3+cuts``: both.

SCIP runs with the package's ``"relu"`` settings (no separation rounds) except
that the configurations with cuts allow rounds for the ideal cuts only; the
clock is CPU time (``timing/clocktype = 1``), since the machine is shared.
Recorded: SCIP's time, root dual bound, final bound, nodes, status, cuts
added, and the tightening's time, stable neurons and mean big-M.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from .heuristic import sum_of_sines

#: this module's name, for its subprocesses (``__name__`` is ``"__main__"`` under ``-m``)
_MODULE = "pyomo_relu.benchmarks.dual_levers"
PROBLEMS = ("peaks", "sines5", "ackley5", "random5")
CONFIGS = ("base", "cutoff", "cutoff3", "cuts", "cutoff+cuts", "cutoff3+cuts")
SAMPLES = 20_000
FIELDS = (
    "problem",
    "config",
    "status",
    "incumbent",
    "objective",
    "root_bound",
    "bound",
    "nodes",
    "scip_seconds",
    "tighten_seconds",
    "cutoff_seconds",
    "stable",
    "unstable",
    "mean_M",
    "cuts",
    "start_accepted",
)


def network(name: str, cache_dir=None):
    """``(network, lb, ub, maximize)`` of problem ``name`` (trained networks come from a cache)."""
    from .problems import _box, peaks
    from .problems._common import Variant, default_cache_dir
    from .problems.ackley import SPECS
    from .tightening import random_network

    cache_dir = cache_dir or default_cache_dir()
    if name == "peaks":
        nets = peaks.train_networks(Variant("plain_alt", {"arch": "alt"}), cache_dir=cache_dir)
        return nets["f"].network, np.full(2, peaks.LOWER), np.full(2, peaks.UPPER), False
    if name == "sines5":
        spec = _box.BoxFunction("sines5", sum_of_sines, 5, -3.0, 3.0, -5.0, ((-math.pi / 4,) * 5,))
        spec = replace(spec, samples={"full": 5000, "quick": 1000})
        net = _box.train(spec, (64, 64, 64), {}, cache_dir=cache_dir, tag="heur").network
        return net, np.full(5, -3.0), np.full(5, 3.0), False
    if name == "ackley5":
        spec = SPECS[5]
        net = _box.train_networks(spec, Variant("plain"), cache_dir=cache_dir)["f"].network
        lb, ub = spec.box()
        return net, lb, ub, False
    if name == "random5":
        return random_network((5,) + (50,) * 6 + (5,), seed=7), -np.ones(5), np.ones(5), True
    raise ValueError(f"unknown problem {name!r}; valid: {', '.join(PROBLEMS)}")


def incumbent(net, lb, ub, maximize: bool, *, samples: int = SAMPLES, seed: int = 0):
    """The best of ``samples`` seeded uniform forward passes: ``(x, output 0)``."""
    x = np.random.default_rng(seed).uniform(lb, ub, size=(samples, len(lb)))
    out = net.forward(x)[:, 0]
    best = int(np.argmax(out) if maximize else np.argmin(out))
    return x[best], float(out[best])


def _model(net, lb, ub, maximize):
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _, i: (float(lb[i]), float(ub[i])))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize if maximize else pyo.minimize)
    return m


def load_point(m, x) -> None:
    """Set the inputs, ``mip`` variables and outputs of ``m``'s block to the network at ``x``."""
    blk, net = m.nn, m.nn.network
    pre = [p[0] for p in net.preactivations(np.asarray(x)[None, :])]
    for v, xi in zip(blk.inputs.values(), x):
        v.set_value(float(xi))
    for (k, j), z in blk.mip.z.items():
        z.set_value(float(pre[k][j]))
    for (k, j), y in blk.mip.y.items():
        piecewise = net.layers[k].activation.is_piecewise
        y.set_value(max(float(pre[k][j]), 0.0) if piecewise else float(pre[k][j]))
    for (k, j), d in blk.mip.d.items():
        d.set_value(1.0 if pre[k][j] > 0 else 0.0)
    for v, out in zip(blk.outputs.values(), net.forward(np.asarray(x)[None, :])[0]):
        v.set_value(float(out))


def _statistics(blk) -> dict:
    b = blk.bounds
    piece = [k for k in range(b.n_layers) if b.is_piecewise(k)]
    big_m = b.unstable_big_m()
    return {
        "stable": sum(int(b.stable(k).sum()) for k in piece),
        "unstable": sum(int(b.unstable(k).sum()) for k in piece),
        "mean_M": float(big_m.mean()) if big_m.size else 0.0,
    }


def _finite(value):
    return None if value is None or not math.isfinite(value) or abs(value) >= 1e19 else value


def run_one(problem: str, config: str, time_limit: float) -> dict:
    """One solve of ``problem`` in configuration ``config`` (see the module docstring)."""
    import pyomo.environ as pyo
    from pyscipopt import SCIP_PARAMSETTING

    from ..scip_cuts import ideal_cuts, to_scip

    net, lb, ub, maximize = network(problem)
    x0, value = incumbent(net, lb, ub, maximize)
    m = _model(net, lb, ub, maximize)
    xf = pyo.TransformationFactory("relu.tighten_bounds")
    start = time.perf_counter()
    xf.apply_to(m, method="lp")
    row = {"problem": problem, "config": config, "incumbent": value}
    row["tighten_seconds"] = time.perf_counter() - start
    if "cutoff" in config:
        load_point(m, x0)
        start = time.perf_counter()
        passes = 3 if config.startswith("cutoff3") else 1
        xf.apply_to(m, objective_cutoff="incumbent", passes=passes)
        row["cutoff_seconds"] = time.perf_counter() - start
    row.update(_statistics(m.nn))
    load_point(m, x0)  # the rebuilt block's variables get the incumbent again
    s, var_map = to_scip(m)
    s.hideOutput()
    s.setParam("limits/time", float(time_limit))
    s.setParam("timing/clocktype", 1)
    sepa = None
    if "cuts" in config:
        s.setSeparating(SCIP_PARAMSETTING.OFF)
        sepa = ideal_cuts(m)(s, var_map)
    else:
        s.setParam("separating/maxrounds", 0)
        s.setParam("separating/maxroundsroot", 0)
    sol = s.createSol()
    for v, sv in var_map.items():
        if v.value is not None:
            s.setSolVal(sol, sv, float(v.value))
    row["start_accepted"] = bool(s.addSol(sol))
    s.optimize()
    row.update(
        status=s.getStatus(),
        objective=_finite(s.getObjVal()) if s.getNSols() else None,
        root_bound=_finite(s.getDualboundRoot()),
        bound=_finite(s.getDualbound()),
        nodes=int(s.getNNodes()),
        scip_seconds=float(s.getSolvingTime()),
        cuts=0 if sepa is None else sepa.n_cuts,
    )
    return row


def run(out_dir: Path, time_limit: float, problems=PROBLEMS, configs=CONFIGS) -> list[dict]:
    """Every problem in every configuration, one subprocess each; writes the CSV and markdown."""
    rows = []
    for problem in problems:
        for config in configs:
            cmd = [sys.executable, "-m", _MODULE, "--one", problem, config]
            cmd += ["--time-limit", str(time_limit)]
            done = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{problem} / {config} failed:\n{done.stderr[-3000:]}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(rows[-1]), flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "dual_levers.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k) for k in FIELDS})
    (out_dir / "dual_levers.md").write_text(table(rows, time_limit))
    return rows


def _fmt(value, digits=4):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def table(rows: list[dict], time_limit: float) -> str:
    """The markdown table of ``rows`` (the findings are written by hand below it)."""
    head = (
        "| problem | config | status | SCIP s | nodes | root bound | final bound | best | "
        "incumbent | stable/unstable | mean M | tighten s | cut-off s | cuts |"
    )
    lines = [
        f"# Dual levers: cut-off tightening and ideal cuts ({time_limit:g} s SCIP limit, CPU)",
        "",
        head,
        "|" + "---|" * (head.count("|") - 1),
    ]
    for r in rows:
        lines.append(
            f"| {r['problem']} | {r['config']} | {r['status']} | {_fmt(r['scip_seconds'], 3)} | "
            f"{r['nodes']} | {_fmt(r['root_bound'], 6)} | {_fmt(r['bound'], 6)} | "
            f"{_fmt(r['objective'], 6)} | {_fmt(r['incumbent'], 6)} | "
            f"{r['stable']}/{r['unstable']} | {_fmt(r['mean_M'], 3)} | "
            f"{_fmt(r['tighten_seconds'], 3)} | {_fmt(r.get('cutoff_seconds'), 3)} | {r['cuts']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", nargs="?", default=str(Path(__file__).parent / "results"))
    parser.add_argument("--time-limit", type=float, default=60.0)
    parser.add_argument("--one", nargs=2, metavar=("PROBLEM", "CONFIG"))
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(*args.one, args.time_limit)))
        return
    run(Path(args.out_dir), args.time_limit, args.problems, args.configs)


if __name__ == "__main__":
    main()
