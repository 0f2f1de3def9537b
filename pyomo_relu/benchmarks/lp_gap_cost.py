"""Cost of the LP-gap regularizer: training time with ``lp_gap`` against plain training.

Run ``python -m pyomo_relu.benchmarks.lp_gap_cost [OUT_DIR] [--epochs N] [--samples 2,4:2]``.
A 2 -> 25 -> 25 -> 25 -> 1 ReLU network is trained on 10,000 seeded samples of the peaks
function on ``[-2, 2]^2`` (20% held out), with the same seed, epochs, batch size and
learning rate, once plainly and once per schedule with ``lp_gap`` on (the gap LPs of
``lp_gap_samples`` points of every ``lp_gap_every``-th minibatch, two LPs per point).
Each variant is trained ``--repeats`` times and its smallest wall-clock and CPU times are
kept (the machine may be shared); the ratios are those times over plain training's.  The
table also gives the accuracy and the mean LP gap and summed interval widths of the trained
network (at 500 training points, standardized units), so the cost can be weighed against
the effect.

It writes ``lp_gap_cost.md`` and ``lp_gap_cost.csv`` to ``OUT_DIR`` (default: the package's
``benchmarks/results``).  Needs the ``train`` extra (PyTorch).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from ._tables import write_csv
from .problems.peaks import peaks_function

__all__ = ["run", "main", "COLUMNS"]

HIDDEN = (25, 25, 25)
N_SAMPLES = 10_000
BOX = ([-2.0, -2.0], [2.0, 2.0])
COLUMNS = (
    "variant",
    "lp_gap_samples",
    "lp_gap_every",
    "lps_per_epoch",
    "wall_s",
    "wall_ratio",
    "cpu_s",
    "cpu_ratio",
    "train_mse",
    "val_mse",
    "mean_lp_gap",
    "interval_width",
)


def _data(seed: int = 0):
    X = np.random.default_rng(seed).uniform(-2.0, 2.0, size=(N_SAMPLES, 2))
    return X, peaks_function(X)


def _measures(result, X) -> tuple[float, float]:
    """Mean LP gap at the first 500 samples and summed interval widths (standardized units)."""
    import torch

    from ..relaxation_gap import LPGapSolver, lp_gap
    from ..training import bound_width_loss, interval_pass

    s = result.scaling
    lo, up = (torch.as_tensor((np.asarray(b) - s["x_mean"]) / s["x_std"]) for b in BOX)
    x = torch.as_tensor((X[:500] - s["x_mean"]) / s["x_std"])
    linears = [m for m in result.model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        gaps = lp_gap(linears, x, interval_pass(result.model, lo, up, None), LPGapSolver())
        width = bound_width_loss(result.model, lo, up, None)
    return float(gaps.mean()), float(width)


def _timed(X, y, options: dict, repeats: int):
    from ..training import train_mlp

    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = train_mlp(X, y, **options)
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    return result, best_wall, best_cpu


def run(
    out_dir: Path,
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lp_gap: float = 0.01,
    samples=((1, 1), (2, 1), (4, 1), (4, 2), (8, 1), (64, 1)),
    repeats: int = 2,
    progress: bool = False,
) -> list[dict]:
    """Train the variants, write the tables to ``out_dir`` and return the rows."""
    from ..training import train_mlp

    load, cores = os.getloadavg()[0], os.cpu_count()
    X, y = _data()
    base = {
        "hidden": HIDDEN,
        "epochs": epochs,
        "batch_size": batch_size,
        "lr": 3e-3,
        "seed": 0,
        "input_bounds": BOX,
    }
    # warm-up: imports, the HiGHS start-up and torch's first calls are not training time
    train_mlp(X[:200], y[:200], **{**base, "epochs": 1, "lp_gap": lp_gap})
    steps = int(np.ceil(round(0.8 * N_SAMPLES) / batch_size))
    rows = []
    variants = [("plain", {}, 0, 1)] + [
        (f"lp_gap={lp_gap:g}", {"lp_gap": lp_gap, "lp_gap_samples": m, "lp_gap_every": k}, m, k)
        for m, k in samples
    ]
    for name, extra, m, every in variants:
        result, wall, cpu = _timed(X, y, {**base, **extra}, repeats)
        gap, width = _measures(result, X)
        rows.append(
            {
                "variant": name,
                "lp_gap_samples": m or "-",
                "lp_gap_every": every if m else "-",
                "lps_per_epoch": 2 * min(m, batch_size) * -(-steps // every),
                "wall_s": wall,
                "wall_ratio": wall / rows[0]["wall_s"] if rows else 1.0,
                "cpu_s": cpu,
                "cpu_ratio": cpu / rows[0]["cpu_s"] if rows else 1.0,
                "train_mse": result.train_mse,
                "val_mse": result.val_mse,
                "mean_lp_gap": gap,
                "interval_width": width,
            }
        )
        if progress:
            print(", ".join(f"{k}={_fmt(rows[-1][k])}" for k in COLUMNS), flush=True)
    settings = dict(base, lp_gap=lp_gap, repeats=repeats, steps=steps, load=load, cores=cores)
    write_tables(rows, out_dir, settings=settings)
    return rows


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def write_tables(rows: list[dict], out_dir, *, settings: dict) -> tuple[Path, Path]:
    """``lp_gap_cost.csv`` and ``lp_gap_cost.md`` (table and reading) in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / "lp_gap_cost.csv", out_dir / "lp_gap_cost.md"
    write_csv(csv_path, rows, COLUMNS)
    s = settings
    lines = [
        "# Cost of the LP-gap regularizer",
        "",
        f"Network 2 -> {' -> '.join(map(str, s['hidden']))} -> 1, {N_SAMPLES} seeded samples of "
        f"peaks on [-2, 2]^2 (20% held out), seed {s['seed']}, {s['epochs']} epochs of "
        f"{s['steps']} steps, batch {s['batch_size']}, Adam lr {s['lr']:g}; every variant with "
        f"the same settings, lp_gap={s['lp_gap']:g} solving the gap LPs of lp_gap_samples "
        "points of every lp_gap_every-th minibatch (two LPs per point: the maximum and the "
        "minimum of the output). Times are the smallest of "
        f"{s['repeats']} runs (one torch thread, one HiGHS thread); ratios are over plain "
        "training. mean_lp_gap (at 500 training points) and interval_width (summed widths of "
        "the hidden interval bounds over the box) are in standardized units. Load average "
        f"of the machine at the start: {s['load']:.1f} on {s['cores']} cores (a busy machine "
        "stretches wall-clock times more than CPU times).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_fmt(r[c]) for c in COLUMNS) + " |" for r in rows]
    lines += ["", "## Reading", ""]
    plain = rows[0]
    for r in rows[1:]:
        worse = max(r["wall_ratio"], r["cpu_ratio"])
        m = r["lp_gap_samples"]
        lines.append(
            f"- {m} point{'s' if m != 1 else ''} every {_nth(r['lp_gap_every'])}step "
            f"({r['lps_per_epoch']} LPs per epoch): {r['wall_ratio']:.2f}x the wall-clock and "
            f"{r['cpu_ratio']:.2f}x the CPU time of plain training "
            f"({'within' if worse <= 10 else 'over'} 10x by the larger of the two); mean LP "
            f"gap {r['mean_lp_gap']:.3g} (plain {plain['mean_lp_gap']:.3g}), validation MSE "
            f"{r['val_mse']:.3g} (plain {plain['val_mse']:.3g})."
        )
    lines += ["", "Generated by `python -m pyomo_relu.benchmarks.lp_gap_cost`.", ""]
    md_path.write_text("\n".join(lines))
    return csv_path, md_path


def _nth(k: int) -> str:
    return {1: "", 2: "2nd ", 3: "3rd "}.get(k, f"{k}th ")


def _schedules(text: str) -> tuple[tuple[int, int], ...]:
    """``"2,4:2"`` -> ``((2, 1), (4, 2))``: points per step, optionally ``:`` every k-th step."""
    try:
        values = tuple(
            tuple(int(p) for p in (v.split(":") + ["1"])[:2]) for v in text.split(",") if v.strip()
        )
    except ValueError:
        values = ()
    if not values or min(min(v) for v in values) < 1:
        raise argparse.ArgumentTypeError(
            "expected comma-separated positive point counts, each optionally with ':K' for every "
            f"K-th step, such as 2,4:2,8; found {text!r}"
        )
    return values


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Training time with lp_gap against plain.")
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--epochs", type=int, default=5, help="epochs per run (default 5)")
    parser.add_argument("--batch-size", type=int, default=64, help="minibatch size (default 64)")
    parser.add_argument("--lp-gap", type=float, default=0.01, help="lp_gap weight (default 0.01)")
    parser.add_argument(
        "--samples",
        type=_schedules,
        default=((1, 1), (2, 1), (4, 1), (4, 2), (8, 1), (64, 1)),
        help="lp_gap_samples[:lp_gap_every] values (default 1,2,4,4:2,8,64)",
    )
    parser.add_argument("--repeats", type=int, default=2, help="runs per variant (default 2)")
    parser.add_argument("--progress", action="store_true", help="print each row when done")
    args = parser.parse_args(argv)
    run(
        args.out_dir,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lp_gap=args.lp_gap,
        samples=args.samples,
        repeats=args.repeats,
        progress=args.progress,
    )
    print(f"wrote {args.out_dir / 'lp_gap_cost.md'} and .csv")


if __name__ == "__main__":
    main()
