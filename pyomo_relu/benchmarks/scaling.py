"""Big-M statistics and SCIP time of bigm, tightened_bigm and scaled formulations, side by side.

Run with ``python -m pyomo_relu.benchmarks.scaling [--out DIR] [--quick]``.  For
each network (the shipped peaks surrogate and seeded random ReLU networks of
growing depth) and each formulation, the same model - minimize output 0 over
the input box - is built and solved with SCIP.  Recorded: the big-M values
of the formulation's unstable neurons (max, mean, max/min ratio), binaries,
tightening + build time, SCIP time, nodes, objective and the forward-pass
check at the solution.  Every formulation must reach the same optimum
(the scaling is function preserving); the table says so per network.
"""

from __future__ import annotations

import argparse
import importlib.resources
import math
import time
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from ..block import ReluNetworkBlock
from ..io import load_onnx
from ..network import Activation, DenseLayer, ReluNetwork
from ..solving import solve_model
from ._tables import write_csv

FORMULATIONS = ("bigm", "tightened_bigm", "scaled_bigm", "tightened_scaled_bigm")
FIELDS = (
    "network",
    "formulation",
    "max_M",
    "mean_M",
    "ratio_M",
    "binaries",
    "build_s",
    "solve_s",
    "nodes",
    "status",
    "objective",
    "fwd_err",
)


def random_relu_network(sizes, *, seed: int, clipped: bool = False) -> ReluNetwork:
    """He-initialised network with unequal neuron scales (as trained networks have)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        w = rng.normal(size=(sizes[k + 1], sizes[k])) * np.sqrt(2.0 / sizes[k])
        w *= rng.lognormal(
            0.0, 1.0, size=(sizes[k + 1], 1)
        )  # neuron scales differ by orders of magnitude
        b = rng.normal(size=sizes[k + 1]) * 0.3
        last = k == len(sizes) - 2
        act = (
            Activation.LINEAR
            if last
            else (Activation.CLIPPED_RELU(2.0) if clipped else Activation.RELU)
        )
        layers.append(DenseLayer(w, b, act, name=f"layer {k}"))
    return ReluNetwork(layers)


def networks(quick: bool) -> dict:
    """name -> (network, lb, ub)."""
    with importlib.resources.as_file(
        importlib.resources.files("pyomo_relu") / "data" / "peaks.onnx"
    ) as path:
        peaks = load_onnx(path)
    nets = {"peaks 2-25-25-1 (trained)": (peaks, -3.0, 3.0)}
    sizes = (
        [(2, 20, 20, 20, 1)]
        if quick
        else [
            (2, 20, 20, 20, 1),
            (3, 25, 25, 25, 1),
            (2, 15, 15, 15, 15, 1),
            (4, 30, 30, 1),
            (2, 30, 30, 30, 1),
        ]
    )
    for i, s in enumerate(sizes):
        nets[f"random {'-'.join(map(str, s))}"] = (random_relu_network(s, seed=100 + i), -1.0, 1.0)
    nets["clipped 2-30-30-1"] = (
        random_relu_network((2, 30, 30, 1), seed=7, clipped=True),
        -1.0,
        1.0,
    )
    return nets


def run_one(net, lb, ub, formulation: str, *, time_limit: float) -> dict:
    start = time.perf_counter()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(lb, ub))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
    build = time.perf_counter() - start
    b = m.nn.prepared.bounds
    big_m = b.unstable_big_m()
    out = solve_model(
        m, time_limit=time_limit, settings="default"
    )  # SCIP defaults, as in the committed tables
    return {
        "formulation": formulation,
        "max_M": float(big_m.max()) if big_m.size else 0.0,
        "mean_M": float(big_m.mean()) if big_m.size else 0.0,
        "ratio_M": float(big_m.max() / big_m.min()) if big_m.size else 1.0,
        "binaries": m.nn.summary()["binaries"],
        "build_s": build,
        "solve_s": out.seconds,
        "nodes": out.nodes,
        "status": out.status,
        "objective": out.objective,
        "fwd_err": m.nn.prediction_error() if out.has_solution else math.nan,
    }


def run(out_dir, *, quick: bool = False, time_limit: float = 120.0) -> list[dict]:
    """Run every network x formulation, write ``scaling.csv`` and ``scaling.md`` to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (net, lb, ub) in networks(quick).items():
        for formulation in FORMULATIONS:
            row = {"network": name, **run_one(net, lb, ub, formulation, time_limit=time_limit)}
            rows.append(row)
            print(
                f"{name:32s} {formulation:22s} max M {row['max_M']:10.3g}  SCIP "
                f"{row['solve_s']:7.2f}s  "
                f"nodes {row['nodes']}  obj {row['objective']}",
                flush=True,
            )
    write_csv(out_dir / "scaling.csv", rows, FIELDS)
    (out_dir / "scaling.md").write_text(markdown(rows, time_limit))
    return rows


def markdown(rows: list[dict], time_limit: float) -> str:
    lines = [
        "# Big-M values and SCIP time: bigm vs tightened_bigm vs scaled_bigm",
        "",
        "Minimize output 0 over the input box; SCIP via Pyomo `scip_direct`, time limit "
        f"{time_limit:g} s. "
        "M statistics over the unstable neurons of the formulation actually written (scaled units "
        "for the "
        "scaled variants). `build s` includes LP tightening for the tightened variants. `same "
        "opt` compares "
        "each optimum with `bigm`'s (relative 1e-6).",
        "",
        "| network | formulation | max M | mean M | max/min M | binaries | build s | SCIP s | "
        "nodes | status | "
        "objective | same opt | fwd err |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    reference = {r["network"]: r["objective"] for r in rows if r["formulation"] == "bigm"}
    for r in rows:
        ref, obj = reference.get(r["network"]), r["objective"]
        same = obj is not None and ref is not None and abs(obj - ref) <= 1e-6 * max(1.0, abs(ref))
        lines.append(
            f"| {r['network']} | {r['formulation']} | {r['max_M']:.3g} | {r['mean_M']:.3g} | "
            f"{r['ratio_M']:.3g} | "
            f"{r['binaries']} | {r['build_s']:.2f} | {r['solve_s']:.2f} | {r['nodes']} | "
            f"{r['status']} | "
            f"{obj if obj is None else f'{obj:.6g}'} | {'yes' if same else 'NO'} | "
            f"{r['fwd_err']:.1e} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="pyomo_relu/benchmarks/results", help="output folder")
    parser.add_argument("--quick", action="store_true", help="fewer, smaller networks")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="SCIP time limit per solve (s)"
    )
    args = parser.parse_args(argv)
    run(args.out, quick=args.quick, time_limit=args.time_limit)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
