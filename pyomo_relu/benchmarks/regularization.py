"""Regularization study: what training-time levers do to a peaks surrogate.

On the peaks problem (P1: MATLAB's peaks function on ``[-3, 3]^2``), every
variant is trained on the same seeded data with the same seed and
architecture (2 -> 25 -> 25 -> 1): plain; L1 on the weights at three
strengths; the ReLU-stability loss of Xiao et al. (ICLR 2019) at three
strengths; clipped ReLU; dropout.  For each variant the table reports

* accuracy: train and validation MSE, and the RMSE against the true function on
  a 201 x 201 grid (the accuracy cost of the lever);
* the share of hidden neurons that are stable over the box (``l >= 0`` or
  ``u <= 0``; for clipped ReLU also ``l >= cap`` or ``0 <= l, u <= cap``) with
  interval bounds and with LP-tightened (OBBT) bounds; stable neurons need no
  binary in a big-M formulation;
* the mean big-M value ``max(|l|, |u|)`` of the unstable neurons (interval);
* the number of linear regions on the box, counted exactly by
  :func:`pyomo_relu.analysis.count_linear_regions` (two inputs); the column
  ``regions_method`` says how each count was obtained (a sampled count is a
  lower bound and labelled so).

Run ``python -m pyomo_relu.benchmarks.regularization [OUT_DIR] [--quick]``;
it writes ``regularization.md`` and ``regularization.csv`` to ``OUT_DIR``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from ..bounds import interval_bounds
from ._tables import write_csv
from .problems.peaks import peaks_function as peaks

__all__ = [
    "peaks",
    "peaks_data",
    "variants",
    "evaluate",
    "findings",
    "run",
    "write_tables",
    "sampled_regions",
    "COLUMNS",
]

BOX = (-3.0, 3.0)
HIDDEN = (25, 25)
SEED = 0
#: training settings shared by all variants (the shipped peaks.onnx uses the same)
FULL = {"samples": 3000, "epochs": 1000, "batch_size": 32, "lr": 2e-3}
QUICK = {"samples": 1000, "epochs": 60, "batch_size": 32, "lr": 5e-3}

COLUMNS = (
    "variant",
    "options",
    "train_mse",
    "val_mse",
    "grid_rmse",
    "stable_interval",
    "stable_lp",
    "mean_big_m_unstable",
    "regions",
    "regions_method",
    "train_s",
)


def peaks_data(n: int = 3000, *, seed: int = 0, low: float = BOX[0], high: float = BOX[1]):
    """``n`` uniform samples of the box ``[low, high]^2`` (seeded) and their peaks values."""
    X = np.random.default_rng(seed).uniform(low, high, size=(n, 2))
    return X, peaks(X)


def variants(quick: bool = False) -> list[tuple[str, dict]]:
    """``(name, train_mlp options)`` of the variants in the study."""
    out = [
        ("plain", {}),
        ("l1 weak", {"l1": 1e-4}),
        ("l1 medium", {"l1": 1e-3}),
        ("l1 strong", {"l1": 3e-3}),
        ("stability weak", {"stability": 3e-4}),
        ("stability medium", {"stability": 1e-3}),
        ("stability strong", {"stability": 3e-3}),
        ("clipped relu", {"activation": "clipped_relu", "cap": 1.0}),
        ("dropout", {"dropout": 0.1}),
    ]
    if quick:
        keep = {"plain", "l1 strong", "stability strong", "clipped relu"}
        out = [v for v in out if v[0] in keep]
    return out


# -- indicators --------------------------------------------------------------
def _hidden_stable(bounds) -> np.ndarray:
    return np.concatenate(
        [bounds.stable(k) for k in range(bounds.n_layers) if bounds.is_piecewise(k)]
    )


def _mean_big_m_unstable(bounds) -> float:
    vals = bounds.unstable_big_m()
    return float(vals.mean()) if vals.size else 0.0


def _lp_stable_share(net, lb, ub, prior) -> float:
    """Stable share with LP bounds, NaN when the LP tightening module is not available."""
    try:
        from ..bounds.lp import lp_bounds
    except ImportError:
        return float("nan")
    return float(_hidden_stable(lp_bounds(net, lb, ub, prior=prior, tighten_outputs=False)).mean())


def _grid(n: int) -> np.ndarray:
    g = np.linspace(BOX[0], BOX[1], n)
    return np.array(np.meshgrid(g, g)).reshape(2, -1).T


def sampled_regions(net, n: int = 801) -> int:
    """Distinct activation patterns on an ``n x n`` grid of the box (a lower bound on the
    regions)."""
    pats = net.activation_patterns(_grid(n))
    bits = np.packbits(np.concatenate([pats >= 1, pats >= 2], axis=1), axis=1)
    rows = np.ascontiguousarray(bits).view(np.dtype((np.void, bits.shape[1])))
    return int(np.unique(rows).shape[0])


def _regions(net, lb, ub) -> tuple[int, str]:
    try:
        from ..analysis import count_linear_regions
    except ImportError:
        return sampled_regions(net), "sampled 801x801"
    count = count_linear_regions(net, lb, ub, method="auto", time_limit=120.0)
    return count.count, count.method if count.exact else f"{count.method} (lower bound)"


def evaluate(result, *, name: str = "", train_s: float = float("nan")) -> dict:
    """One table row of indicators for a :class:`~pyomo_relu.training.TrainResult`."""
    net = result.network
    lb, ub = np.full(2, BOX[0]), np.full(2, BOX[1])
    bounds = interval_bounds(net, lb, ub)
    grid = _grid(201)
    regions, method = _regions(net, lb, ub)
    opts = {
        k: v for k, v in result.options.items() if k in ("l1", "l2", "stability", "dropout") and v
    }
    if result.options.get("activation") == "clipped_relu":
        opts["cap"] = result.options["cap"]
    return {
        "variant": name,
        "options": ", ".join(f"{k}={v:g}" for k, v in opts.items()) or "-",
        "train_mse": result.train_mse,
        "val_mse": result.val_mse,
        "grid_rmse": float(np.sqrt(np.mean((net.forward(grid)[:, 0] - peaks(grid)) ** 2))),
        "stable_interval": float(_hidden_stable(bounds).mean()),
        "stable_lp": _lp_stable_share(net, lb, ub, bounds),
        "mean_big_m_unstable": _mean_big_m_unstable(bounds),
        "regions": regions,
        "regions_method": method,
        "train_s": train_s,
    }


# -- output ------------------------------------------------------------------
def _fmt(key, value) -> str:
    if isinstance(value, str):
        return value
    if key.startswith("stable"):
        return "n/a" if np.isnan(value) else f"{100 * value:.0f}%"
    if isinstance(value, (int, np.integer)):
        return str(value)
    return f"{value:.1f}" if key == "train_s" else f"{value:.4g}"


def _monotone(values, increasing: bool) -> bool:
    pairs = list(zip(values, values[1:]))
    return all(b >= a for a, b in pairs) if increasing else all(b <= a for a, b in pairs)


def findings(rows: list[dict]) -> list[str]:
    """Plain-language reading of the table: does a stronger lever buy stability and fewer regions,
    at what cost?"""
    by_name = {row["variant"]: row for row in rows}
    plain = by_name.get("plain")
    out = []
    for family in ("l1", "stability"):
        fam = [plain] + [
            by_name[n]
            for n in (f"{family} weak", f"{family} medium", f"{family} strong")
            if n in by_name
        ]
        if plain is None or len(fam) < 2:
            continue
        stable = [r["stable_interval"] for r in fam]
        regions = [r["regions"] for r in fam]
        val = [r["val_mse"] for r in fam]
        up = "rises monotonically" if _monotone(stable, True) else "does not rise monotonically"
        down = "falls monotonically" if _monotone(regions, False) else "does not fall monotonically"
        out.append(
            f"- {family}: from plain to strongest, the interval-stable share {up} "
            f"({' -> '.join(_fmt('stable', v) for v in stable)}), the region count {down} "
            f"({' -> '.join(str(v) for v in regions)}), and the validation MSE goes "
            f"{' -> '.join(f'{v:.3g}' for v in val)}."
        )
    for name in ("clipped relu", "dropout"):
        if name in by_name and plain is not None:
            r = by_name[name]
            out.append(
                f"- {name}: stable share {_fmt('stable', r['stable_interval'])} (plain "
                f"{_fmt('stable', plain['stable_interval'])}), {r['regions']} regions (plain "
                f"{plain['regions']}), "
                f"validation MSE {r['val_mse']:.3g} (plain {plain['val_mse']:.3g})."
            )
    lp_gain = [r["variant"] for r in rows if r["stable_lp"] > r["stable_interval"]]
    if rows and not np.isnan(rows[0]["stable_lp"]):
        out.append(
            "- LP (OBBT) bounds make more neurons stable than interval bounds for: "
            f"{', '.join(lp_gain) if lp_gain else 'none of the variants'} (they still shrink the "
            "big-M values)."
        )
    return out


def write_tables(rows: list[dict], out_dir, *, settings: dict) -> tuple[Path, Path]:
    """Write ``regularization.csv`` and ``regularization.md`` to ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / "regularization.csv", out / "regularization.md"
    write_csv(csv_path, rows, COLUMNS)
    lines = [
        "# Regularization study on the peaks surrogate",
        "",
        f"Network 2 -> {' -> '.join(map(str, HIDDEN))} -> 1, {settings['samples']} seeded samples "
        "of peaks on "
        f"[-3, 3]^2 (20% held out), seed {SEED}, {settings['epochs']} epochs, batch "
        f"{settings['batch_size']}, "
        f"Adam lr {settings['lr']:g}. Errors in physical units; grid RMSE against the true "
        "function on "
        "201 x 201 points. Stable shares over the 50 hidden neurons and the box [-3, 3]^2 (a "
        "clipped neuron "
        "is stable when one of its three pieces covers the box). train_s is wall-clock training "
        "time on the "
        "machine that produced the table (noisy when it is busy).",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_fmt(k, row[k]) for k in COLUMNS) + " |" for row in rows]
    lines += ["", "## Reading", "", *findings(rows)]
    lines += ["", "Generated by `python -m pyomo_relu.benchmarks.regularization`.", ""]
    md_path.write_text("\n".join(lines))
    return md_path, csv_path


def run(out_dir, quick: bool = False, *, progress: bool = False) -> list[dict]:
    """Train every variant, evaluate it and write the tables to ``out_dir``; return the rows."""
    from ..training import train_mlp

    settings = QUICK if quick else FULL
    X, y = peaks_data(settings["samples"], seed=SEED)
    rows = []
    for name, options in variants(quick):
        start = time.perf_counter()
        result = train_mlp(
            X,
            y,
            hidden=HIDDEN,
            epochs=settings["epochs"],
            batch_size=settings["batch_size"],
            lr=settings["lr"],
            seed=SEED,
            input_bounds=BOX,
            verbose=progress,
            **options,
        )
        rows.append(evaluate(result, name=name, train_s=time.perf_counter() - start))
        if progress:
            print(", ".join(f"{k}={_fmt(k, rows[-1][k])}" for k in COLUMNS))
    write_tables(rows, out_dir, settings=settings)
    return rows


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Regularization study on the peaks surrogate.")
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true", help="fewer variants, samples and epochs")
    parser.add_argument("--progress", action="store_true")
    args = parser.parse_args(argv)
    run(args.out_dir, quick=args.quick, progress=args.progress)
    print(f"wrote {args.out_dir / 'regularization.md'} and .csv")


if __name__ == "__main__":
    main()
