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

__all__ = ["read_rows", "deep_network_verdicts", "deep_section", "effect_table", "write_report"]

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


def _ratio(base: dict, r: dict) -> float:
    return base["time_s"] / max(r["time_s"], 1e-3)


def _meets(base: dict, r: dict) -> tuple[bool, bool]:
    """(>= 100x faster and solved, interval-unstable neurons at most half the baseline's)."""
    fast = _ratio(base, r) >= 100 and bool(r["solved"])
    return fast, r["unstable_interval"] <= base["unstable_interval"] / 2


def _merit(base: dict, r: dict) -> tuple:
    fast, halved = _meets(base, r)
    return (fast and halved, _ratio(base, r))


def deep_network_verdicts(rows: list[dict], regularizers=NEW_REGULARIZERS) -> list[dict]:
    """Per unregularized 5-hidden-layer network: the best regularized network of ``regularizers``.

    A candidate qualifies when its validation MSE is at most twice the baseline's.  Among
    those, one that meets both conditions if there is one, else the one with the largest time
    ratio (baseline time, at the limit when unsolved, over the candidate's time, at the limit
    when unsolved), is reported, with whether it reaches >= 100x and halves the
    interval-unstable neurons.
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
        best = max(cands, key=lambda r: _merit(base, r), default=None)
        entry = {"base": base, "best": best, "tried": sum(
            r["regularizer"] in regularizers
            and (r["problem"], r["arch"], r["config"]) == (base["problem"], base["arch"], "bigm")
            for r in rows
        )}  # fmt: skip
        if best is not None:
            fast, halved = _meets(base, best)
            entry.update(ratio=_ratio(base, best), fast=fast, halved=halved)
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


def _speedup(base: dict | None, r: dict) -> str:
    """Baseline time over ``r``'s: ``>=`` when the baseline is unsolved, ``<=`` when ``r`` is."""
    if base is None:
        return "-"
    if not base["solved"] and not r["solved"]:
        return "- (both unsolved)"
    ratio = _f(_ratio(base, r), 3) + "x"
    if not base["solved"]:
        return ">= " + ratio
    return ("<= " if not r["solved"] else "") + ratio


def _check(r: dict) -> str:
    """The optimum's checks: forward-pass error and the grid / sample minimum."""
    if math.isnan(r["fwd_err"]):
        return "-"
    grid = {True: "grid ok", False: "grid FAIL", None: "no grid"}[r["grid_ok"]]
    return f"fwd {_f(r['fwd_err'], 2)}, {grid}"


def deep_section(rows: list[dict], time_limit: float) -> list[str]:
    """Markdown of the deep run (``paper_deep.csv``): per five-layer network, each regularized
    network beside the baseline solved at the same limit, and the study's criterion."""
    lim = _f(time_limit)
    lines = [
        f"## Five-layer networks at a {lim} s limit",
        "",
        f"Generated from `paper_deep.csv` (`python -m pyomo_relu.benchmarks.paper --deep`): "
        f"the five unregularized networks with five hidden layers solved again with a {lim} "
        "CPU-second SCIP limit, and bound_width, bound_width+lp_gap and lp_gap at strengths "
        "between the 1e-4 and 1e-3 of the tables above (lp_gap on 4 points of every 4th "
        "minibatch); architecture, seed, samples and epochs as the baselines, big-M with "
        "interval bounds, two solves at a time. Speed-up = baseline time over the network's, "
        "an unsolved solve at the limit (`>=`: the baseline is unsolved, so the ratio is a "
        "lower bound). Criterion: val MSE <= 2x the baseline's, >= 100x faster (and solved), "
        "unstable neurons (IA) at most half the baseline's. check = |MIP objective - forward "
        "pass at the MIP input| and the grid / sample minimum.",
        "",
    ]
    nets = list(dict.fromkeys((r["problem"], r["arch"]) for r in rows))
    head = (
        "| regularizer | strength | val MSE (x base) | unstable IA / LP (of N) | status | "
        "nodes | SCIP s | speed-up | check | MSE / 100x / half |"
    )
    for problem, arch in nets:
        base = _baseline(rows, problem, arch)
        group = [r for r in rows if (r["problem"], r["arch"]) == (problem, arch)]
        lines += [f"### {problem} {arch}", ""]
        if base is None:
            lines += ["Baseline: not finished when this table was written.", ""]
        lines += [head, "|" + "---|" * (head.count("|") - 1)]
        order = lambda r: (r["regularizer"] != "none", r["regularizer"], r["strength"])  # noqa: E731
        for r in sorted(group, key=order):
            if base is None or r is base:
                mse, crit = _f(r["val_mse"]), "-" if r is base else "no baseline"
            else:
                fast, halved = _meets(base, r)
                within = r["val_mse"] <= 2 * base["val_mse"]
                mse = f"{_f(r['val_mse'])} ({r['val_mse'] / base['val_mse']:.2g}x)"
                crit = " / ".join("yes" if c else "no" for c in (within, fast, halved))
            lines.append(
                f"| {r['regularizer']} | {_f(r['strength'])} | {mse} | "
                f"{_f(r['unstable_interval'])} / {_f(r['unstable_lp'])} ({_f(r['hidden'])}) | "
                f"{r['status'][:24]} | {_f(r['nodes'])} | {_time(r)} | "
                f"{'-' if r is base else _speedup(base, r)} | {_check(r)} | {crit} |"
            )
        lines.append("")
    lines += [
        f"Verdict per network at the {lim} s limit (bound_width, lp_gap, both; the best "
        "network within 2x MSE, one that meets both conditions if any):",
        "",
        *(_verdict_lines(rows, NEW_REGULARIZERS, "bound_width/lp_gap") or ["- no rows yet."]),
    ]
    missing = [f"{p} {a}" for p, a in nets if _baseline(rows, p, a) is None]
    if missing:
        lines.append(f"- {', '.join(missing)}: baseline not finished, no verdict.")
    return lines + [""]


def write_report(csv_path, out_dir, *, quick: bool = False, findings: str = "", missing=()) -> Path:
    """Write ``paper.md`` for the rows of ``csv_path``; returns its path.

    ``findings``: markdown of the hand-written comparison with the literature, kept from
    an existing ``paper.md`` (its section "Findings") when empty.  ``missing``: names of
    the regularizers that this version of ``train_mlp`` does not offer (listed as not run).
    """
    rows = read_rows(csv_path)
    deep_rows = read_rows(Path(csv_path).parent / "paper_deep.csv")
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
        *(deep_section(deep_rows, deep_rows[0]["time_limit"]) if deep_rows else []),
        "## Findings",
        "",
        findings or _PLACEHOLDER,
        "",
    ]
    md.write_text("\n".join(lines))
    return md
