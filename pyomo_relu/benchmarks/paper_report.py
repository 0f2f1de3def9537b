"""``paper.md`` from ``paper.csv``: the tables of the test-function study of :mod:`.paper`.

The tables are generated; the section "Findings" compares the measured numbers
with the findings of Plate et al. (2026) and Tsay (2026) point by point, and the
section "Deep networks" answers the study's question: on the unregularized
networks with five hidden layers, does a regularizer of Tsay (``bound_width``,
``lp_gap``) at some strength keep the validation MSE within 2x of the baseline,
cut SCIP's time to optimality by at least 100x and halve the unstable neurons?
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["read_rows", "deep_network_verdicts", "effect_table", "write_report"]

_PLACEHOLDER = "(to be written from the tables above)"
NEW_REGULARIZERS = ("bound_width", "lp_gap", "bound_width+lp_gap")
OLD_REGULARIZERS = ("l1", "stability")
_NUMBERS = (
    "strength",
    "samples",
    "epochs",
    "train_mse",
    "val_mse",
    "hidden",
    "unstable_interval",
    "unstable_lp",
    "regions",
    "objective",
    "bound",
    "lp_relaxation",
    "lp_gap_abs",
    "lp_gap_rel",
    "nodes",
    "solve_s",
    "time_s",
    "fwd_err",
    "grid_best",
    "true_f_at_opt",
    "distance",
    "time_limit",
)


def _num(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def read_rows(csv_path) -> list[dict]:
    """The rows of ``paper.csv``, numbers as floats (NaN when empty), flags as booleans."""
    path = Path(csv_path)
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for key in _NUMBERS:
            r[key] = _num(r.get(key))
        for key in ("solved", "grid_ok", "regions_exact"):
            r[key] = {"True": True, "False": False}.get(r.get(key), None)
    return rows


def _depth(arch: str) -> int:
    return int(arch.split("x")[1].split("-")[0]) if "x" in arch else arch.count("-") - 1


def _f(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e9:
        return str(int(value))
    return f"{value:.{digits}g}"


def _time(r: dict) -> str:
    if r["solved"]:
        return _f(r["solve_s"])
    return f">{_f(r['time_limit'])}" if r["status"].startswith("time") else r["status"][:40]


def _table(rows: list[dict]) -> list[str]:
    head = (
        "| arch | regularizer | strength | config | val MSE | unstable IA / LP (of N) | "
        "regions | LP gap abs (rel) | status | nodes | SCIP s | optimum | dist. to true min "
        "| grid |"
    )
    out = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        regions = _f(r["regions"]) + ("" if r["regions_exact"] in (True, None) else "+")
        grid = {True: "ok", False: "FAIL", None: "-"}[r["grid_ok"]]
        out.append(
            f"| {r['arch']} | {r['regularizer']} | {_f(r['strength'])} | {r['config']} | "
            f"{_f(r['val_mse'])} | {_f(r['unstable_interval'])} / {_f(r['unstable_lp'])} "
            f"({_f(r['hidden'])}) | {regions} | {_f(r['lp_gap_abs'])} ({_f(r['lp_gap_rel'], 2)}) "
            f"| {r['status'][:24]} | {_f(r['nodes'])} | {_time(r)} | {_f(r['objective'], 4)} | "
            f"{_f(r['distance'])} | {grid} |"
        )
    return out


def _baseline(rows: list[dict], problem: str, arch: str, config: str = "bigm"):
    for r in rows:
        if (r["problem"], r["arch"], r["regularizer"], r["config"]) == (
            problem,
            arch,
            "none",
            config,
        ):
            return r
    return None


def deep_network_verdicts(rows: list[dict], regularizers=NEW_REGULARIZERS) -> list[dict]:
    """Per unregularized 5-hidden-layer network: the best regularized network of ``regularizers``.

    A candidate qualifies when its validation MSE is at most twice the baseline's.  Among
    those, the one with the largest time ratio (baseline time, at the limit when unsolved,
    over the candidate's time, at the limit when unsolved) is reported, with whether it
    reaches >= 100x and halves the interval-unstable neurons.
    """
    out = []
    for base in rows:
        if base["regularizer"] != "none" or base["config"] != "bigm" or _depth(base["arch"]) != 5:
            continue
        cands = [
            r
            for r in rows
            if (r["problem"], r["arch"], r["config"]) == (base["problem"], base["arch"], "bigm")
            and r["regularizer"] in regularizers
            and r["val_mse"] <= 2 * base["val_mse"]
        ]
        best = max(cands, key=lambda r: base["time_s"] / max(r["time_s"], 1e-3), default=None)
        entry = {"base": base, "best": best, "tried": sum(
            r["regularizer"] in regularizers
            and (r["problem"], r["arch"], r["config"]) == (base["problem"], base["arch"], "bigm")
            for r in rows
        )}  # fmt: skip
        if best is not None:
            ratio = base["time_s"] / max(best["time_s"], 1e-3)
            entry.update(
                ratio=ratio,
                fast=ratio >= 100 and best["solved"],
                halved=best["unstable_interval"] <= base["unstable_interval"] / 2,
            )
        out.append(entry)
    return out


def effect_table(rows: list[dict]) -> list[str]:
    """Each regularized ``bigm`` network against its unregularized baseline, as markdown rows.

    Validation MSE, interval-unstable neurons, regions and SCIP time as ``value (x baseline)``.
    """
    out = [
        "| problem | arch | regularizer | strength | val MSE (x base) | unstable IA (base) | "
        "regions (base) | SCIP s (base) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        base = _baseline(rows, r["problem"], r["arch"])
        if r["regularizer"] == "none" or r["config"] != "bigm" or base is None:
            continue
        ratio = r["val_mse"] / base["val_mse"] if base["val_mse"] > 0 else math.nan
        out.append(
            f"| {r['problem']} | {r['arch']} | {r['regularizer']} | {_f(r['strength'])} | "
            f"{_f(r['val_mse'])} ({ratio:.2g}x) | {_f(r['unstable_interval'])} "
            f"({_f(base['unstable_interval'])}) | {_f(r['regions'])} ({_f(base['regions'])}) | "
            f"{_time(r)} ({_time(base)}) |"
        )
    return out


def _verdict_lines(rows: list[dict], regularizers, label: str) -> list[str]:
    lines = []
    for v in deep_network_verdicts(rows, regularizers):
        b = v["base"]
        head = (
            f"- {b['problem']} {b['arch']}: baseline {_time(b)} s, {_f(b['unstable_interval'])} "
            f"unstable (IA), val MSE {_f(b['val_mse'])}"
        )
        if not v["tried"]:
            lines.append(f"{head}; no {label} network in the table.")
        elif v["best"] is None:
            lines.append(f"{head}; no {label} network keeps the validation MSE within 2x.")
        else:
            r = v["best"]
            lines.append(
                f"{head}; best within 2x MSE: {r['regularizer']} {_f(r['strength'])}, "
                f"{_time(r)} s ({v['ratio']:.0f}x{' >= 100x' if v['fast'] else ', < 100x'}), "
                f"{_f(r['unstable_interval'])} unstable "
                f"({'halved' if v['halved'] else 'not halved'}), val MSE {_f(r['val_mse'])} "
                f"-> {'both hold' if v['fast'] and v['halved'] else 'not met'}."
            )
    return lines


def write_report(csv_path, out_dir, *, quick: bool = False, findings: str = "", missing=()) -> Path:
    """Write ``paper.md`` for the rows of ``csv_path``; returns its path.

    ``findings``: markdown of the hand-written comparison with the literature, kept from
    an existing ``paper.md`` (its section "Findings") when empty.  ``missing``: names of
    the regularizers that this version of ``train_mlp`` does not offer (listed as not run).
    """
    rows = read_rows(csv_path)
    md = Path(out_dir) / "paper.md"
    if not findings and md.exists():
        text = md.read_text()
        if "\n## Findings\n" in text:
            findings = text.split("\n## Findings\n", 1)[1].strip()
    if findings == _PLACEHOLDER:
        findings = ""
    limits = sorted({r["time_limit"] for r in rows})
    lines = [
        "# Test-function study (Plate et al. 2026, Tsay 2026) with SCIP",
        "",
        "Tables generated by `python -m pyomo_relu.benchmarks.paper` from `paper.csv` "
        "(`--report-only` rewrites them and keeps the section Findings, which is written "
        "by hand and is the last section).",
        "",
        "Surrogates of peaks on [-2, 2]^2 (`peaks2`), Himmelblau on [-5, 5]^2, Ackley on "
        "[-3.5, 3.5]^2 and [-3.5, 3.5]^5, minimized directly over the box. "
        + (
            "Quick run: 2-10x3-1 networks, 500 (1000 for Ackley-5) samples, 40 epochs."
            if quick
            else "Networks 2-25x{2,3,5}-1 and 5-{25,50}x{3,5}-1, Adam 200 epochs, batch 64, "
            "lr 3e-3, seed 0, on seeded Latin-hypercube samples (2000; 5000 for Ackley-5), "
            "20% held out for the validation MSE."
        ),
        f"SCIP 10 (default settings, CPU clock) on the big-M model with interval bounds "
        f"(`bigm`) or LP (OBBT) bounds (`tightened_bigm`); time limit "
        f"{', '.join(_f(t) for t in limits) or '-'} CPU s per solve, each solve in its own "
        "process; an unsolved solve counts at the limit (`>limit`). Two cores shared with "
        "other work: CPU seconds are comparable, wall-clock ones are not.",
        "",
        "Columns: unstable hidden neurons over the box with interval (IA) and LP bounds; "
        "linear regions of the 2-D networks (exact; `+` marks a lower bound when the count hit "
        "its 10 s limit); LP gap = MIP optimum (best solution when unsolved) minus the LP "
        "relaxation of the same big-M model, absolute and relative to max(1, |optimum|); "
        "dist. to true min = distance of the MIP solution to the nearest true minimizer; "
        "grid = the MIP optimum is not above the network's minimum on a 401 x 401 grid (2-D) "
        "or 10^6 samples (5-D).",
        "",
    ]
    if missing:
        lines += [
            f"Not run: {', '.join(missing)} (this version of `train_mlp` has no such option).",
            "",
        ]
    for problem in dict.fromkeys(r["problem"] for r in rows):
        lines += [f"## {problem}", "", *_table([r for r in rows if r["problem"] == problem]), ""]
    lines += [
        "## Regularized against unregularized",
        "",
        "Each regularized network (big-M, interval bounds) beside the unregularized network "
        "of the same problem and architecture, in the run order of the study.",
        "",
        *effect_table(rows),
        "",
        "## Deep networks: >= 100x faster and half the unstable neurons at <= 2x MSE?",
        "",
        "Tsay's regularizers (bound_width, lp_gap, both):",
        "",
        *(_verdict_lines(rows, NEW_REGULARIZERS, "bound_width/lp_gap") or ["- no rows yet."]),
        "",
        "For comparison, the existing regularizers (l1, stability):",
        "",
        *(_verdict_lines(rows, OLD_REGULARIZERS, "l1/stability") or ["- no rows yet."]),
        "",
        "## Findings",
        "",
        findings or _PLACEHOLDER,
        "",
    ]
    md.write_text("\n".join(lines))
    return md
