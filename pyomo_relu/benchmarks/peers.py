"""Side by side: our formulations against OMLT, PySCIPOpt-ML and gurobi-ml on the same networks.

``python -m pyomo_relu.benchmarks.peers`` solves every network of :data:`NETWORKS`
under every configuration of :data:`CONFIGS`, in that order, one solve at a time
and **one subprocess per solve**: a worker process imports everything, loads the
network, then times the model building and the solve, checks the solution against
the network's forward pass and writes one result; imports are not timed.

================== =====================================================================
``omlt_bigm``      OMLT's ``FullSpaceNN``-style ``ReluBigMFormulation`` (its own interval
                   bounds) in Pyomo, solved by Pyomo's ``scip_direct`` at SCIP defaults
``pyscipopt_ml``   PySCIPOpt-ML's default (SOS1) formulation of the network as a torch
                   ``nn.Sequential``, in a PySCIPOpt model at SCIP defaults
``gurobi_ml``      gurobi-ml's formulation of the same ``nn.Sequential`` in gurobipy,
                   one thread; a model over the pip licence's size limit (about 2000
                   variables and rows) is recorded as too large, not solved
``ours_quickstart`` the README quick start: ``ReluNetworkBlock`` with its default
                   formulation (big-M with interval bounds), ``scip_direct`` at SCIP defaults
``ours_tightened_bigm`` ``formulation="tightened_bigm"`` + :func:`pyomo_relu.solve_model`
``ours_auto``      ``formulation="auto"`` + :func:`pyomo_relu.solve_model` (the default pipeline)
================== =====================================================================

Every configuration gets the same wall-clock budget (``--limit``) for building and
solving: the solver's time limit is what building left of it.  A row records the
status, the total, building and solving wall times, the solver's own time, nodes,
best objective, bound and gap, the model size, the solution's inputs, the objective
recomputed by the network's forward pass at those inputs (and its difference from
the reported one) and, for a proven optimum, that it is not worse than the best of
10^5 sampled inputs.  Peers are imported only in the worker that needs them; one
that is missing gives a row with status ``not_installed`` and the pip command.

The networks (cached as ONNX under ``benchmarks/data/peers/``, trained with
``train_mlp`` and seeded when missing): a 5-input sum-of-sines surrogate
5-64x3-1, an Ackley-5 surrogate 5-25x3-1, a CSTR surrogate 3-20x4-1, a random
network in ACAS Xu's shape 5-50x6-5 (maximize output 0), the peaks surrogates
2-25-25-1 and 2-50x3-1.  ``--oil`` runs the oil production problem
(:mod:`.problems.oil`, its seven network variants, networks cached under
``data/peers/oil``) instead, for OMLT and ours only: PySCIPOpt-ML and gurobi-ml
build models in their own modeling layers, and this problem is written in Pyomo.

Rows are appended to the CSV (``--out``, default ``benchmarks/results/peers.csv``)
as they finish; a rerun skips the (network, configuration, limit) rows already
there.  ``--report-only`` regenerates the markdown table (:mod:`.peers_report`)
from the CSV without solving.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import UnknownOptionError
from .peers_checks import FIELDS, check_box_solution, make_row, solve_one
from .peers_configs import CONFIGS, OIL_CONFIGS, Solved
from .peers_networks import (
    DATA_DIR,
    DEFAULT_NETWORKS,
    NETWORKS,
    OIL_NETWORKS,
    QUICK_NETWORKS,
    get_network,
    load_network,
)
from .peers_report import write_report

__all__ = [
    "CONFIGS",
    "OIL_CONFIGS",
    "NETWORKS",
    "QUICK_NETWORKS",
    "OIL_NETWORKS",
    "FIELDS",
    "Solved",
    "check_box_solution",
    "get_network",
    "load_network",
    "solve_one",
    "read_rows",
    "run",
    "run_in_subprocess",
    "main",
]

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_CSV = RESULTS_DIR / "peers.csv"


# -- the runner (one subprocess per solve) ----------------------------------------------
def _worker_command(network: str, config: str, limit: float, result: Path, data_dir: Path):
    return [
        sys.executable, "-m", "pyomo_relu.benchmarks.peers", "--worker", network, config,
        "--limit", repr(float(limit)), "--result", str(result), "--data-dir", str(data_dir),
    ]  # fmt: skip


def _failed(network, config, limit, status: str, note: str) -> dict:
    return make_row(network, config, limit, Solved(status, note=note), {})


def run_in_subprocess(
    network: str, config: str, limit: float, *, data_dir: Path = DATA_DIR, timeout=None
) -> dict:
    """:func:`solve_one` in a fresh Python process; a crash or an overrun becomes a row too.

    ``timeout`` (default ``3 * limit + 180`` s) ends a worker that overruns its limit
    (status ``killed``); a worker that exits without a result gives status ``crashed``
    with the last line of its error output.
    """
    timeout = 3 * limit + 180 if timeout is None else timeout
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory(prefix="pyomo_relu_peers_") as tmp:
        result = Path(tmp) / "row.json"
        cmd = _worker_command(network, config, limit, result, Path(data_dir))
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return _failed(network, config, limit, "killed", f"no result after {timeout:.0f} s")
        if result.exists():
            return json.loads(result.read_text())
        lines = [ln for ln in (proc.stderr or "").strip().splitlines() if ln.strip()]
        note = f"exit {proc.returncode}: " + (lines[-1][:300] if lines else "no error output")
        return _failed(network, config, limit, "crashed", note)


def _key(row) -> tuple:
    return (row["network"], row["config"], float(row["limit"]))


def read_rows(csv_path: Path) -> list[dict]:
    """The rows of a peers CSV (empty when the file does not exist)."""
    path = Path(csv_path)
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def _append(csv_path: Path, row: dict) -> None:
    path = Path(csv_path)
    new = not path.exists() or path.stat().st_size == 0
    if not new:
        with open(path, newline="") as fh:
            header = next(csv.reader(fh), [])
        if header != FIELDS:
            raise UnknownOptionError(
                f"{path} has the columns {header}, not those of this benchmark ({FIELDS}); "
                "move it away or pass another --out."
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _describe(row: dict) -> str:
    status = row["status"]
    if status == "optimal":
        text = f"optimal {float(row['total_s']):.1f} s, obj {float(row['objective']):.6g}"
    elif row.get("objective") not in (None, ""):
        gap = row.get("gap")
        text = f"{status}, best {float(row['objective']):.6g}, gap {gap}"
    else:
        text = f"{status} {row.get('note') or ''}".strip()
    if row.get("forward_ok") is not None and row.get("forward_ok") != "":
        text += f", forward {'ok' if str(row['forward_ok']) == 'True' else 'MISMATCH'}"
    return text


def run(
    *,
    networks=None,
    configs=None,
    limit: float = 60.0,
    csv_path: Path = DEFAULT_CSV,
    data_dir: Path = DATA_DIR,
    oil: bool = False,
    quick: bool = False,
    resume: bool = True,
) -> Path:
    """Solve every (network, configuration) not yet in ``csv_path``, appending a row each.

    Networks run one after the other, each under every configuration in :data:`CONFIGS`
    order (the oil networks under :data:`OIL_CONFIGS` plus the peers' ``not_expressible``
    rows).  Returns the CSV path.
    """
    if networks is None:
        networks = OIL_NETWORKS if oil else (QUICK_NETWORKS if quick else DEFAULT_NETWORKS)
    for name in networks:
        if name not in OIL_NETWORKS:
            get_network(name)
    configs = list(CONFIGS if configs is None else configs)
    unknown = [c for c in configs if c not in CONFIGS]
    if unknown:
        raise UnknownOptionError(
            f"unknown peers configuration(s) {unknown}; valid: {', '.join(CONFIGS)}."
        )
    csv_path = Path(csv_path)
    if not resume and csv_path.exists():
        csv_path.replace(csv_path.with_suffix(".csv.bak"))
    done = {_key(r) for r in read_rows(csv_path)}
    jobs = [(n, c) for n in networks for c in configs if (n, c, float(limit)) not in done]
    print(f"peers: {len(jobs)} solves to run ({len(done)} rows already in {csv_path}), "
          f"limit {limit:g} s", flush=True)  # fmt: skip
    for k, (network, config) in enumerate(jobs, 1):
        print(f"[{k}/{len(jobs)}] {network} {config} ...", end=" ", flush=True)
        row = run_in_subprocess(network, config, limit, data_dir=data_dir)
        _append(csv_path, row)
        print(_describe(row), flush=True)
    return csv_path


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m pyomo_relu.benchmarks.peers",
        description="Side-by-side benchmark: pyomo_relu against OMLT, PySCIPOpt-ML and gurobi-ml.",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help=f"networks {','.join(QUICK_NETWORKS)} at a 10 s limit (a few minutes)",
    )
    p.add_argument(
        "--oil",
        action="store_true",
        help="the oil problem's seven network variants (default limit 300 s)",
    )
    p.add_argument(
        "--limit",
        type=float,
        default=None,
        metavar="S",
        help="wall seconds per solve, building included (default 60; 10 with --quick, "
        "300 with --oil)",
    )
    p.add_argument(
        "--networks",
        type=_names,
        default=None,
        metavar="LIST",
        help=f"comma-separated subset of {','.join(NETWORKS)} or {','.join(OIL_NETWORKS)}",
    )
    p.add_argument(
        "--configs",
        type=_names,
        default=None,
        metavar="LIST",
        help=f"comma-separated subset of {','.join(CONFIGS)}",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="CSV",
        help="results CSV (default benchmarks/results/peers.csv, peers_oil.csv with --oil); "
        "the markdown table is written next to it",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DATA_DIR,
        metavar="DIR",
        help="where the networks are cached as ONNX (default benchmarks/data/peers)",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="start a new CSV (the old one is kept as .csv.bak) instead of skipping done rows",
    )
    p.add_argument(
        "--report-only",
        action="store_true",
        help="only regenerate the markdown table from the CSV(s)",
    )
    p.add_argument("--worker", nargs=2, metavar=("NETWORK", "CONFIG"), help=argparse.SUPPRESS)
    p.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return p  # fmt: skip


def _limit(args) -> float:
    if args.limit is not None:
        if not (args.limit > 0 and math.isfinite(args.limit)):
            raise UnknownOptionError(
                f"--limit must be a positive number of seconds, not {args.limit}."
            )
        return float(args.limit)
    return 10.0 if args.quick else (300.0 if args.oil else 60.0)


def _descriptions() -> dict:
    out = {
        n: f"{p.description} over [{p.lower[0]:g}, {p.upper[0]:g}]^{len(p.lower)}"
        for n, p in NETWORKS.items()
    }
    out.update(
        {n: f"oil production, network variant {n.removeprefix('oil_')}" for n in OIL_NETWORKS}
    )
    return out


def main(argv=None) -> int:
    """Command line of the benchmark (see the module docstring)."""
    args = _parser().parse_args(argv)
    limit = _limit(args)
    if args.worker:
        row = solve_one(*args.worker, limit, data_dir=args.data_dir)
        Path(args.result).write_text(json.dumps(row))
        return 0
    csv_path = args.out or (RESULTS_DIR / ("peers_oil.csv" if args.oil else "peers.csv"))
    if not args.report_only:
        run(
            networks=args.networks,
            configs=args.configs,
            limit=limit,
            csv_path=csv_path,
            data_dir=args.data_dir,
            oil=args.oil,
            quick=args.quick,
            resume=not args.no_resume,
        )
    md = write_report(csv_path, descriptions=_descriptions())
    print(f"wrote {md} from {csv_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
