"""Coefficient range, big-M values and SCIP time with no scaling, ``max_abs`` and ``min_range``.

Run with ``python -m pyomo_relu.benchmarks.scaling [--out DIR] [--quick]``.  For
each network (the shipped peaks surrogate and seeded random ReLU networks of
growing depth) and each formulation, the same model - minimize output 0 over
the input box - is built and solved with SCIP.  The formulations are big-M
without scaling, with the ``max_abs`` rescaling (every hidden big-M at most 1)
and with the ``min_range`` rescaling (the factors that minimize the range of
the rows' coefficients, by a log-domain LP), each on interval bounds and on
LP-tightened bounds.  Recorded: the coefficient range of the rows actually
written (``max |a| / min |a|`` over the nonzero matrix coefficients of the
block's constraints, and over those together with the right-hand sides), the
big-M values of the unstable neurons (max, max/min), binaries, tightening +
build time, SCIP time, nodes, objective and the forward-pass check at the
solution (``fwd err``: the largest difference between the MIP's outputs and
the network evaluated at the MIP's inputs, the numerical trouble a solve can
show).  Every formulation must reach the same optimum (the scaling is function
preserving); the table says so per network.
"""

from __future__ import annotations

import argparse
import importlib.resources
import math
import time
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
from pyomo.repn import generate_standard_repn

from ..block import ReluNetworkBlock
from ..formulations import BigM, ScaledBigM, TightenedBigM, TightenedScaledBigM
from ..io import load_onnx
from ..network import Activation, DenseLayer, ReluNetwork
from ..solving import solve_model
from ._tables import write_csv

#: label -> formulation factory; "[rule]" names the rescaling rule
FORMULATIONS = {
    "bigm": BigM,
    "scaled_bigm[max_abs]": lambda: ScaledBigM(rule="max_abs"),
    "scaled_bigm[min_range]": lambda: ScaledBigM(rule="min_range"),
    "tightened_bigm": TightenedBigM,
    "tightened_scaled_bigm[max_abs]": lambda: TightenedScaledBigM(rule="max_abs"),
    "tightened_scaled_bigm[min_range]": lambda: TightenedScaledBigM(rule="min_range"),
}
FIELDS = (
    "network",
    "formulation",
    "coef_range",
    "coef_rhs_range",
    "max_M",
    "ratio_M",
    "binaries",
    "build_s",
    "solve_s",
    "nodes",
    "status",
    "objective",
    "fwd_err",
)


def coefficient_ranges(block) -> tuple[float, float]:
    """``max |a| / min |a|`` of the nonzero coefficients of ``block``'s rows, without and with
    the right-hand sides (row bounds minus the row's constant)."""
    coefs, sides = [], []
    for con in block.component_data_objects(pyo.Constraint, active=True):
        repn = generate_standard_repn(con.body, compute_values=True)
        coefs.extend(abs(float(a)) for a in repn.linear_coefs)
        const = float(repn.constant)
        sides.extend(abs(float(v) - const) for v in (con.lower, con.upper) if v is not None)
    coefs = np.array([a for a in coefs if a > 0.0])
    both = np.concatenate([coefs, [v for v in sides if v > 0.0]])
    if not coefs.size:
        return 1.0, 1.0
    return float(coefs.max() / coefs.min()), float(both.max() / both.min())


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
    """Build and solve one model; the row of the table (see the module docstring)."""
    start = time.perf_counter()
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(lb, ub))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation=FORMULATIONS[formulation]())
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
    build = time.perf_counter() - start
    big_m = m.nn.prepared.bounds.unstable_big_m()
    coef_range, coef_rhs_range = coefficient_ranges(m.nn.mip)
    out = solve_model(
        m, time_limit=time_limit, settings="default"
    )  # SCIP defaults, as in the committed tables
    return {
        "formulation": formulation,
        "coef_range": coef_range,
        "coef_rhs_range": coef_rhs_range,
        "max_M": float(big_m.max()) if big_m.size else 0.0,
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
                f"{name:28s} {formulation:34s} range {row['coef_range']:9.3g} "
                f"{row['coef_rhs_range']:9.3g}  SCIP {row['solve_s']:7.2f}s  "
                f"nodes {row['nodes']}  obj {row['objective']}  err {row['fwd_err']:.1e}",
                flush=True,
            )
    write_csv(out_dir / "scaling.csv", rows, FIELDS)
    (out_dir / "scaling.md").write_text(markdown(rows, time_limit, quick))
    return rows


def read_rows(path) -> list[dict]:
    """The rows of a ``scaling.csv`` written by :func:`run`, with numbers as numbers."""
    import csv

    ints, texts = {"binaries", "nodes"}, {"network", "formulation", "status"}
    rows = []
    with open(path, newline="") as fh:
        for raw in csv.DictReader(fh):
            row = {}
            for key, value in raw.items():
                if key in texts:
                    row[key] = value
                elif value == "":
                    row[key] = None
                else:
                    row[key] = int(value) if key in ints else float(value)
            rows.append(row)
    return rows


def _geomean(values) -> float:
    values = np.asarray([v for v in values if v is not None and v > 0], dtype=np.float64)
    return float(np.exp(np.log(values).mean())) if values.size else math.nan


def summary_lines(rows: list[dict]) -> list[str]:
    """Per formulation over the networks: geometric means of the range and of the SCIP time and
    nodes relative to ``bigm`` on the same network, solves with bigm's optimum, the largest
    forward-pass error."""
    base = {r["network"]: r for r in rows if r["formulation"] == "bigm"}
    lines = [
        "Per formulation over all networks (geometric means; time and nodes relative to `bigm` "
        "on the same network, so below 1 is better):",
        "",
        "| formulation | range | range+rhs | SCIP time / bigm | nodes / bigm | same opt | "
        "max fwd err |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(r["formulation"] for r in rows):
        mine = [r for r in rows if r["formulation"] == name and r["network"] in base]
        same = sum(_same(r["objective"], base[r["network"]]["objective"]) for r in mine)
        errors = [r["fwd_err"] for r in mine if r["fwd_err"] is not None]
        time_ratio = _geomean(r["solve_s"] / base[r["network"]]["solve_s"] for r in mine)
        nodes = [r["nodes"] / max(base[r["network"]]["nodes"], 1) for r in mine if r["nodes"]]
        lines.append(
            f"| {name} | {_geomean(r['coef_range'] for r in mine):.3g} | "
            f"{_geomean(r['coef_rhs_range'] for r in mine):.3g} | {time_ratio:.2f} | "
            f"{_geomean(nodes):.2f} | {same}/{len(mine)} | "
            f"{max(errors) if errors else math.nan:.1e} |"
        )
    return lines


def _same(obj, ref) -> bool:
    return obj is not None and ref is not None and abs(obj - ref) <= 1e-6 * max(1.0, abs(ref))


def markdown(rows: list[dict], time_limit: float, quick: bool = False) -> str:
    lines = [
        "# Coefficient range and SCIP time: no scaling vs max_abs vs min_range rescaling",
        "",
        "Minimize output 0 over the input box; SCIP via Pyomo `scip_direct` with default "
        f"settings, time limit {time_limit:g} s, all solves in one process"
        f"{' (`--quick`)' if quick else ''}. "
        "`range` is max/min |coefficient| over the nonzero matrix coefficients of every row the "
        "block writes, `range+rhs` also counts the right-hand sides. M statistics over the "
        "unstable neurons of the formulation actually written (scaled units for the scaled "
        "variants). `build s` includes LP tightening for the tightened variants and the two "
        "scaling LPs for `min_range`. `same opt` compares each optimum with `bigm`'s "
        "(relative 1e-6); `fwd err` is max |MIP output - forward pass at the MIP's inputs|.",
        "",
        "| network | formulation | range | range+rhs | max M | max/min M | binaries | build s | "
        "SCIP s | nodes | status | objective | same opt | fwd err |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    reference = {r["network"]: r["objective"] for r in rows if r["formulation"] == "bigm"}
    for r in rows:
        obj = r["objective"]
        same = _same(obj, reference.get(r["network"]))
        lines.append(
            f"| {r['network']} | {r['formulation']} | {r['coef_range']:.3g} | "
            f"{r['coef_rhs_range']:.3g} | {r['max_M']:.3g} | {r['ratio_M']:.3g} | "
            f"{r['binaries']} | {r['build_s']:.2f} | {r['solve_s']:.2f} | {r['nodes']} | "
            f"{r['status']} | {obj if obj is None else f'{obj:.6g}'} | "
            f"{'yes' if same else 'NO'} | {r['fwd_err']:.1e} |"
        )
    lines += ["", *summary_lines(rows)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="pyomo_relu/benchmarks/results", help="output folder")
    parser.add_argument("--quick", action="store_true", help="fewer, smaller networks")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="SCIP time limit per solve (s)"
    )
    parser.add_argument(
        "--tables-only",
        action="store_true",
        help="rewrite scaling.md from the scaling.csv in --out without solving",
    )
    args = parser.parse_args(argv)
    if args.tables_only:
        out = Path(args.out)
        rows = read_rows(out / "scaling.csv")
        (out / "scaling.md").write_text(markdown(rows, args.time_limit, args.quick))
        return 0
    run(args.out, quick=args.quick, time_limit=args.time_limit)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
