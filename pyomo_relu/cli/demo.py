"""``pyomo-relu demo``: global minimum of the shipped peaks surrogate.

The package ships a 2 -> 25 -> 25 -> 1 ReLU network trained on MATLAB's peaks
function over ``[-3, 3]^2`` (``pyomo_relu/data/peaks.onnx``).  The demo
minimizes its output over the box with the big-M formulations and the
region formulation (the network has two inputs), solved with SCIP, and checks
every optimum three ways:

* the forward pass of the network at the optimal inputs equals the MIP's
  output variable (the formulation is exact);
* the MIP optimum is at most the minimum of the network on a dense grid (it
  is a global minimum, so no grid point may be lower);
* the optimum is compared with the true peaks minimum, about -6.551 near
  (0.228, -1.626), to show how good the surrogate is.

It exits with code 1 if a check fails.
"""

from __future__ import annotations

import argparse
import time
from importlib import resources

import numpy as np

from ..solving import SOLVERS, solve_model
from .solve import build_model, seconds

HELP = "minimize the shipped peaks surrogate with each formulation and check the optima"

#: minimum of MATLAB's peaks function on [-3, 3]^2 (computed to 4 digits)
PEAKS_MIN, PEAKS_ARGMIN = -6.551, (0.228, -1.626)
BOX = (-3.0, 3.0)
#: a MIP optimum may undercut the grid minimum, never exceed it by more than this
GRID_TOL = 1e-6
FORWARD_TOL = 1e-5
#: points per axis of the check grid: two are needed for a spacing; 10,001 (1e8 points,
#: spacing 6e-4) already takes minutes
GRID_RANGE = (2, 10_001)


def _grid_points(text: str) -> int:
    """Argparse type of ``--grid``: an integer in :data:`GRID_RANGE`."""
    lo, hi = GRID_RANGE
    try:
        n = int(text)
    except ValueError:
        n = None
    if n is None or not lo <= n <= hi:
        raise argparse.ArgumentTypeError(
            f"expected an integer from {lo} to {hi:,} points per axis, found {text!r}"
        )
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..formulations import formulation_names

    parser.add_argument(
        "--formulation",
        choices=formulation_names(),
        action="append",
        default=None,
        help="formulation to run (repeatable; default: bigm, tightened_bigm, scaled_bigm, regions)",
    )
    parser.add_argument(
        "--grid",
        type=_grid_points,
        default=601,
        metavar="N",
        help=f"points per axis of the dense check grid, {GRID_RANGE[0]} to {GRID_RANGE[1]:,} "
        "(default: 601, spacing 0.01)",
    )
    parser.add_argument(
        "--solver",
        choices=sorted(SOLVERS),
        default="scip_direct",
        help="MIP solver interface (default: scip_direct)",
    )
    parser.add_argument(
        "--time-limit",
        type=seconds,
        default=60.0,
        metavar="S",
        help="time limit per solve in seconds (default: 60)",
    )
    parser.add_argument("--log", action="store_true", help="show the solver log of every solve")


def load_peaks_network():
    """The shipped peaks surrogate (``pyomo_relu/data/peaks.onnx``)."""
    from ..io import load_onnx

    ref = resources.files("pyomo_relu") / "data" / "peaks.onnx"
    with resources.as_file(ref) as path:
        if not path.is_file():
            raise FileNotFoundError(
                f"the shipped example network {str(path)!r} is missing; reinstall pyomo_relu "
                "(the file is package data) or regenerate it with examples/train_peaks.py."
            )
        return load_onnx(path)


def grid_minimum(net, n: int, lo: float = BOX[0], hi: float = BOX[1]) -> tuple[float, np.ndarray]:
    """Minimum of output 0 of ``net`` over an ``n x n`` grid of ``[lo, hi]^2`` and its point.

    The grid is evaluated a block of rows at a time, so memory stays bounded for large ``n``.
    """
    axis = np.linspace(lo, hi, n)
    rows = max(1, 100_000 // n)
    best, point = np.inf, None
    for start in range(0, n, rows):
        xs, ys = np.meshgrid(axis[start : start + rows], axis, indexing="ij")
        chunk = np.column_stack([xs.ravel(), ys.ravel()])
        values = net.forward(chunk)[:, 0]
        i = int(np.argmin(values))
        if values[i] < best:
            best, point = float(values[i]), chunk[i]
    return best, point


def solve_one(net, formulation: str, *, solver: str, time_limit: float, tee: bool) -> dict:
    """Minimize output 0 over the box with one formulation; the table row."""
    start = time.perf_counter()
    m = build_model(net, 0, sense="min", lb=BOX[0], ub=BOX[1], formulation=formulation)
    build = time.perf_counter() - start
    out = solve_model(m, solver=solver, time_limit=time_limit, tee=tee)
    summary = m.nn.summary()
    row = {
        "formulation": formulation,
        "status": out.status,
        "objective": out.objective,
        "build_s": build,
        "solve_s": out.seconds,
        "nodes": out.nodes,
        "binaries": summary["binaries"],
        "argmin": None,
        "forward_err": None,
        # the region formulation has no big-M at all
        "max_M": float("nan") if "regions" in summary else summary["max_M"],
    }
    if out.has_solution:
        row["argmin"] = m.nn.input_values()
        row["forward_err"] = m.nn.prediction_error()
    return row


def _table(rows: list[dict]) -> None:
    head = (
        f"{'formulation':<15} {'status':<10} {'objective':>11} {'argmin (x, y)':>20} "
        f"{'build s':>8} "
        f"{'SCIP s':>7} {'nodes':>6} {'binaries':>8} {'max M':>9} {'fwd err':>8}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        obj = "-" if r["objective"] is None else f"{r['objective']:.5f}"
        arg = "-" if r["argmin"] is None else f"({r['argmin'][0]:.4f}, {r['argmin'][1]:.4f})"
        err = "-" if r["forward_err"] is None else f"{r['forward_err']:.1e}"
        nodes = "-" if r["nodes"] is None else str(r["nodes"])
        print(
            f"{r['formulation']:<15} {r['status']:<10} {obj:>11} {arg:>20} {r['build_s']:>8.3f} "
            f"{r['solve_s']:>7.2f} {nodes:>6} {r['binaries']:>8} "
            f"{'-' if np.isnan(r['max_M']) else format(r['max_M'], '.3g'):>9} {err:>8}"
        )


def _checks(rows: list[dict], grid_val: float, grid_pt: np.ndarray, n: int) -> list[str]:
    """Print the comparisons; return the failed checks."""
    from ..benchmarks.regularization import peaks

    step = (BOX[1] - BOX[0]) / (n - 1)
    print(
        f"\nnetwork minimum on a {n} x {n} grid (spacing {step:.3g}): {grid_val:.5f} "
        f"at ({grid_pt[0]:.4f}, {grid_pt[1]:.4f})"
    )
    print(f"true peaks minimum: {PEAKS_MIN} at about {PEAKS_ARGMIN}")
    failed = []
    for r in rows:
        name = r["formulation"]
        if r["status"] != "optimal" or r["argmin"] is None:
            failed.append(f"{name}: status {r['status']} (not solved to optimality)")
            continue
        true_val = float(peaks(r["argmin"]))
        print(
            f"{name}: MIP optimum - grid minimum = {r['objective'] - grid_val:+.2e}; "
            f"surrogate error at the argmin: network {r['objective']:.4f} vs peaks {true_val:.4f}; "
            f"distance to the true argmin {np.hypot(*(r['argmin'] - PEAKS_ARGMIN)):.3f}"
        )
        if r["objective"] > grid_val + GRID_TOL:
            failed.append(
                f"{name}: MIP optimum {r['objective']:.8g} is above the grid minimum {grid_val:.8g}"
            )
        if r["forward_err"] > FORWARD_TOL:
            failed.append(
                f"{name}: forward pass differs from the MIP outputs by {r['forward_err']:.3g}"
            )
    return failed


def run(args: argparse.Namespace) -> int:
    net = load_peaks_network()
    formulations = args.formulation or ["bigm", "tightened_bigm", "scaled_bigm", "regions"]
    print(
        f"peaks surrogate {net!r}: minimize {net.output_names[0]} over "
        f"[{BOX[0]:g}, {BOX[1]:g}]^2 with {args.solver}"
    )
    rows = []
    for name in formulations:
        print(f"  solving with {name} ...", flush=True)
        rows.append(
            solve_one(net, name, solver=args.solver, time_limit=args.time_limit, tee=args.log)
        )
    print()
    _table(rows)
    grid_val, grid_pt = grid_minimum(net, args.grid)
    failed = _checks(rows, grid_val, grid_pt, args.grid)
    objectives = [r["objective"] for r in rows if r["objective"] is not None]
    if len(objectives) > 1:
        print(f"spread of the optima across formulations: {max(objectives) - min(objectives):.2e}")
    if failed:
        print("\nFAILED checks:\n  " + "\n  ".join(failed))
        return 1
    print(
        "\nall checks passed: the optima agree with the forward pass and lie at or below the grid "
        "minimum."
    )
    return 0
