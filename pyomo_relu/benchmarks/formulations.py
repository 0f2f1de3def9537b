"""Compare the layer formulations on three trained networks: one subprocess per solve.

Networks (trained with ``pyomo_relu.training.train_mlp``, seed 0, on seeded
Latin-hypercube samples of the test function's box):

* ``peaks2 2-50x3-1``: peaks on [-2, 2]^2, 2000 samples, hidden (50, 50, 50);
* ``ackley5 5-25x3-1``: Ackley on [-3.5, 3.5]^5, 5000 samples, hidden (25, 25, 25);
* ``ackley5 5-64x3-1``: the same data, hidden (64, 64, 64).

Each solve minimizes the network's output with SCIP (``solve_model``, 60 s) in a
fresh process, which builds the block (preparation: LP tightening where the
formulation has it) and solves it.  Usage::

    python -m pyomo_relu.benchmarks.formulations train     # networks -> data/formulations/
    python -m pyomo_relu.benchmarks.formulations run [names]   # rows -> results/formulations.csv
    python -m pyomo_relu.benchmarks.formulations solve NET FORMULATION   # one solve (run's)
    python -m pyomo_relu.benchmarks.formulations table CSV...  # markdown table of CSV rows
"""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"
NETS = Path(__file__).resolve().parent / "data" / "formulations"
CSV = HERE / "formulations.csv"
TIME_LIMIT = 60.0

NETWORKS = {
    "peaks2_2-50x3-1": ("peaks2", 2000, (50, 50, 50)),
    "ackley5_5-25x3-1": ("ackley5", 5000, (25, 25, 25)),
    "ackley5_5-64x3-1": ("ackley5", 5000, (64, 64, 64)),
}
FORMULATIONS = [
    "tightened_bigm",
    "tightened_partition_p2",
    "tightened_partition_p4",
    "tightened_partition_p2_by_weight",
    "sos1",
    "tightened_sos1",
    "auto",
]


def _spec(name):
    from pyomo_relu.benchmarks.problems.ackley import SPECS
    from pyomo_relu.benchmarks.problems.peaks import PEAKS2

    return PEAKS2 if name == "peaks2" else SPECS[5]


def train() -> None:
    from pyomo_relu.benchmarks.problems._box import samples
    from pyomo_relu.io.onnx import save_onnx
    from pyomo_relu.training import train_mlp

    NETS.mkdir(exist_ok=True)
    for tag, (problem, n, hidden) in NETWORKS.items():
        spec = _spec(problem)
        X, y = samples(spec, n, seed=0)
        lb, ub = spec.box()
        start = time.perf_counter()
        res = train_mlp(
            X, y, hidden=hidden, epochs=200, batch_size=64, lr=3e-3, seed=0,
            input_bounds=(lb.tolist(), ub.tolist()),
        )  # fmt: skip
        save_onnx(res.network, NETS / f"{tag}.onnx")
        print(tag, f"val_mse={res.val_mse:.4g}", f"{time.perf_counter() - start:.1f} s")


def _formulation(name):
    from pyomo_relu.formulations import (
        SOS1,
        LayerFormulation,
        TightenedBigM,
        TightenedPartition,
    )
    from pyomo_relu.formulations.steps import Tighten

    if name == "tightened_bigm":
        return TightenedBigM()
    if name == "auto":
        return "auto"
    if name == "sos1":
        return SOS1()
    if name == "tightened_sos1":
        return LayerFormulation(
            "tightened_sos1", "OBBT, then SOS1", steps=[Tighten()], encoding="sos1"
        )
    parts = int(re.search(r"_p(\d+)", name).group(1))
    strategy = "by_weight" if name.endswith("by_weight") else "equal_size"
    return TightenedPartition(n_parts=parts, strategy=strategy)


def solve(net_tag: str, name: str) -> dict:
    import pyomo.environ as pyo

    import pyomo_relu as pr
    from pyomo_relu.solving import solve_model

    problem = NETWORKS[net_tag][0]
    lb, ub = _spec(problem).box()
    net = pr.load_onnx(NETS / f"{net_tag}.onnx")
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (lb[i], ub[i]))
    start = time.perf_counter()
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=_formulation(name))
    build = time.perf_counter() - start
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
    out = solve_model(m, time_limit=TIME_LIMIT)
    stats = m.nn.build_stats
    return {
        "network": net_tag,
        "formulation": name,
        "build_s": round(build, 2),
        "binaries": stats.binaries,
        "rows": stats.rows,
        "variables": stats.variables,
        "status": out.status,
        "objective": out.objective,
        "bound": out.bound,
        "gap": out.gap,
        "solve_s": round(out.seconds, 2),
        "nodes": out.nodes,
    }


def run(names) -> None:
    fields = None
    for tag in NETWORKS:
        for name in names or FORMULATIONS:
            proc = subprocess.run(
                [sys.executable, __file__, "solve", tag, name], capture_output=True, text=True
            )
            if proc.returncode != 0:
                print(tag, name, "failed:", proc.stderr[-2000:], flush=True)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            print(row, flush=True)
            new = not CSV.exists()
            with open(CSV, "a", newline="") as fh:
                fields = fields or list(row)
                writer = csv.DictWriter(fh, fieldnames=fields)
                if new:
                    writer.writeheader()
                writer.writerow(row)


def _num(value, fmt):
    return "-" if value in ("", None) else format(float(value), fmt)


def table(paths) -> None:
    """Print one markdown table: a row per network and formulation, one column group per file."""
    runs = []
    for path in paths:
        with open(path) as fh:
            runs.append({(r["network"], r["formulation"]): r for r in csv.DictReader(fh)})
    head = "| network | formulation | binaries | rows |"
    head += "".join(f" run {i + 1}: status, best, bound, s, nodes |" for i in range(len(runs)))
    print(head)
    print("|" + "---|" * (4 + len(runs)))
    for tag in NETWORKS:
        for name in FORMULATIONS:
            rows = [run.get((tag, name)) for run in runs]
            first = next((r for r in rows if r), None)
            if first is None:
                continue
            cells = [
                "-"
                if r is None
                else f"{r['status']}, {_num(r['objective'], '.4f')}, {_num(r['bound'], '.3f')}, "
                f"{_num(r['solve_s'], '.1f')}, {r['nodes']}"
                for r in rows
            ]
            line = f"| {tag} | {name} | {first['binaries']} | {first['rows']} | "
            print(line + " | ".join(cells) + " |")


if __name__ == "__main__":
    if sys.argv[1] == "train":
        train()
    elif sys.argv[1] == "run":
        run(sys.argv[2:])
    elif sys.argv[1] == "table":
        table(sys.argv[2:])
    else:
        print(json.dumps(solve(sys.argv[2], sys.argv[3])))
