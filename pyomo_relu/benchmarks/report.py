"""Turn the suite's ``suite.csv`` into a markdown summary (``suite.md``) and a plot (``suite.png``).

Times compared are ``total_s`` = tightening + SCIP seconds (Pyomo model
building is reported separately and left out of the comparison).  An
instance not solved to optimality within the limit counts with the time
limit, which favours the configuration that failed; the geometric-mean ratio
is ``geomean(t_omlt / t_config)`` over the variants of a problem.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from ..errors import DataError

__all__ = ["SuiteFileError", "read_rows", "compare", "write_report", "REQUIRED"]

OURS = (
    "bigm",
    "scaled_bigm",
    "tightened_bigm",
    "milp_bigm",
    "best",
    "tightened_bigm_nocuts",
    "regions",
    "regions_nocuts",
)
#: (ours, OMLT) pairs that run SCIP with the same settings
SAME_SETTINGS = (
    ("tightened_bigm_nocuts", "omlt_bigm_nocuts"),
    ("regions_nocuts", "omlt_bigm_nocuts"),
)
BASELINE = "omlt_bigm"
GOAL_SPEEDUP = 5.0
#: columns the report needs in ``suite.csv``
REQUIRED = ("problem", "variant", "config", "status", "solved", "total_s", "time_limit")
NUMERIC = (
    "train_mse",
    "val_mse",
    "regions",
    "stable_interval",
    "objective",
    "bound",
    "gap",
    "nodes",
    "build_s",
    "tighten_s",
    "solve_s",
    "total_s",
    "fwd_err",
    "binaries",
    "stable",
    "max_M",
    "mean_M",
    "time_limit",
)


class SuiteFileError(DataError):
    """``suite.csv`` (or the folder it goes to) cannot be read, resumed or written."""


def _is_error(r: dict) -> bool:
    return str(r.get("status", "")).startswith("error")


def read_rows(csv_path) -> list[dict]:
    """Rows of ``suite.csv`` with numbers parsed (empty or unreadable fields become NaN).

    An empty file has no rows.  Raises :class:`SuiteFileError` for a file that is not
    UTF-8 CSV or lacks the columns the report needs (:data:`REQUIRED`).
    """
    path = Path(csv_path)
    rows = []
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in REQUIRED if c not in (reader.fieldnames or REQUIRED)]
            if missing:
                raise SuiteFileError(
                    f"{path}: not a benchmark suite file: column(s) {', '.join(missing)} missing "
                    "(header: "
                    f"{', '.join(reader.fieldnames)}); pass the suite.csv written by the "
                    "benchmark runner."
                )
            for r in reader:
                r.pop(None, None)  # cells beyond the header
                for key in NUMERIC:
                    try:
                        r[key] = float(r[key])
                    except (KeyError, TypeError, ValueError):
                        r[key] = math.nan
                r["status"] = " ".join(
                    str(r.get("status") or "").split()
                )  # one line, for the tables
                r["solved"] = r.get("solved") == "True" and not _is_error(r)
                rows.append(r)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SuiteFileError(
            f"{path}: not a readable CSV file ({exc}); pass the suite.csv of a benchmark run."
        ) from None
    return rows


def _time(r: dict) -> float:
    """Time of a row for comparisons: tightening + solve, or the limit when not solved."""
    if not r["solved"]:
        return r["time_limit"] + (r["tighten_s"] if math.isfinite(r["tighten_s"]) else 0.0)
    return max(r["total_s"], 1e-3)


def compare(rows: list[dict], problem: str | None, config: str, baseline: str = BASELINE) -> dict:
    """One of our configurations against an OMLT baseline on one problem (None: every problem)."""
    # a row that ended with an error has no time: its variant is left out rather than counted as a
    # time limit
    by = {
        ((r["problem"], r["variant"]), r["config"]): r
        for r in rows
        if (problem is None or r["problem"] == problem) and not _is_error(r)
    }
    variants = sorted({v for v, c in by if c == config and (v, baseline) in by})
    if not variants:
        return {}
    base = [by[v, baseline] for v in variants]
    ours = [by[v, config] for v in variants]
    ratios = [_time(b) / _time(o) for b, o in zip(base, ours)]
    return {
        "n": len(variants),
        "omlt_solved": sum(b["solved"] for b in base),
        "ours_solved": sum(o["solved"] for o in ours),
        "omlt_solved_kept": all(o["solved"] for b, o in zip(base, ours) if b["solved"]),
        "speedup": float(np.exp(np.mean(np.log(ratios)))),
    }


def _fmt(x, digits=3) -> str:
    if isinstance(x, str):
        return x
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{digits}g}"


def _headline(rows, problems) -> list[str]:
    out = [
        "## Ours vs OMLT big-M + SCIP (same networks)",
        "",
        "Speed-up = geometric mean over variants of t(OMLT) / t(config); goal: >= "
        f"{GOAL_SPEEDUP:g}x and every "
        "instance OMLT solves also solved.",
        "",
        "| problem | config | variants | OMLT solved | ours solved | OMLT-solved kept | speed-up "
        "| goal |",
        "|---|---|---|---|---|---|---|---|",
    ]
    scopes = problems + ([None] if len(problems) > 1 else [])  # None: the whole suite
    for p in scopes:
        stats = {c: compare(rows, p, c) for c in OURS}
        stats = {c: s for c, s in stats.items() if s}
        if not stats:
            continue
        best = max(stats, key=lambda c: stats[c]["speedup"])
        for c, s in stats.items():
            goal = "met" if s["speedup"] >= GOAL_SPEEDUP and s["omlt_solved_kept"] else "not met"
            name = f"**{c}**" if c == best else c
            out.append(
                f"| {p or 'whole suite'} | {name} | {s['n']} | {s['omlt_solved']} | "
                f"{s['ours_solved']} | "
                f"{'yes' if s['omlt_solved_kept'] else 'no'} | {s['speedup']:.2f}x | {goal} |"
            )
    if out[-1].startswith("|---"):  # no comparison at all
        out[-2:] = [
            f"No instance has both `{BASELINE}` and one of our configurations without an error; "
            "run the suite with `omlt_bigm` to compare."
        ]
    out += [
        "",
        "Bold: the configuration with the best speed-up on that problem (chosen after the fact). "
        "`regions` and every configuration without `_nocuts` run SCIP with its defaults, as "
        "`omlt_bigm` does.",
        "",
    ]
    same = [
        (p, ours, base, compare(rows, p, ours, base))
        for ours, base in SAME_SETTINGS
        for p in scopes
    ]
    same = [t for t in same if t[3]]
    if same:
        out += [
            "### Both sides without cutting planes",
            "",
            "Our configurations against `omlt_bigm_nocuts` (OMLT's model solved with the same "
            "SCIP settings).",
            "",
            "| problem | ours | variants | OMLT solved | ours solved | speed-up |",
            "|---|---|---|---|---|---|",
        ]
        out += [
            f"| {p or 'whole suite'} | {c} | {s['n']} | {s['omlt_solved']} | {s['ours_solved']} | "
            f"{s['speedup']:.2f}x |"
            for p, c, _, s in same
        ]
        out.append("")
    return out


def _cell(r: dict | None) -> str:
    if r is None:
        return ""
    if _is_error(r):
        return "error"
    t = f"{r['total_s']:.1f}s" if r["solved"] else f"TL gap {_fmt(r['gap'], 2)}"
    return f"{t} / {int(r['nodes']) if math.isfinite(r['nodes']) else '-'}"


def _detail(rows, problem, configs) -> list[str]:
    by = {(r["variant"], r["config"]): r for r in rows if r["problem"] == problem}
    variants = list(dict.fromkeys(r["variant"] for r in rows if r["problem"] == problem))
    out = [
        f"### {problem}",
        "",
        "Time (tightening + SCIP, or TL = time limit with the final gap) / nodes:",
        "",
        "| variant | " + " | ".join(configs) + " |",
        "|---" * (len(configs) + 1) + "|",
    ]
    for v in variants:
        out.append(f"| {v} | " + " | ".join(_cell(by.get((v, c))) for c in configs) + " |")
    out += [
        "",
        "Networks and indicators (stable share and mean big-M of the bounds each configuration "
        "uses):",
        "",
        "| variant | layers | val MSE | regions | stable IA | stable LP | stable model-LP | mean "
        "M IA | "
        "mean M LP | mean M scaled | binaries IA / LP / model-LP | optimum (fwd err) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for v in variants:
        g = lambda c, k, v=v: by[v, c][k] if (v, c) in by else math.nan  # noqa: E731
        any_row = next(by[v, c] for c in configs if (v, c) in by)
        reg = (
            f"{int(any_row['regions'])}{'' if any_row['regions_exact'] == 'True' else ' (sampled)'}"
            if math.isfinite(any_row["regions"])
            else "-"
        )
        opt = next((by[v, c] for c in configs if (v, c) in by and by[v, c]["solved"]), None)
        opt_s = f"{opt['objective']:.5g} ({opt['fwd_err']:.1e})" if opt else "-"
        out.append(
            f"| {v} | {any_row['layers']} | {_fmt(any_row['val_mse'])} | {reg} | "
            f"{_fmt(g('bigm', 'stable'), 2)} | {_fmt(g('tightened_bigm', 'stable'), 2)} | "
            f"{_fmt(g('best', 'stable'), 2)} | {_fmt(g('bigm', 'mean_M'))} | "
            f"{_fmt(g('tightened_bigm', 'mean_M'))} | {_fmt(g('scaled_bigm', 'mean_M'))} | "
            f"{_fmt(g('bigm', 'binaries'), 4)} / {_fmt(g('tightened_bigm', 'binaries'), 4)} / "
            f"{_fmt(g('best', 'binaries'), 4)} | {opt_s} |"
        )
    return out + [""]


def _checks(rows) -> list[str]:
    with_sol = [r for r in rows if math.isfinite(r["fwd_err"])]
    bad = [r for r in with_sol if r.get("check_ok") != "True"]
    errors = [r for r in rows if _is_error(r)]
    out = [
        "## Checks",
        "",
        f"- {len(with_sol)} rows have a solution; max forward-pass error (relative) "
        f"{max((r['fwd_err'] for r in with_sol), default=math.nan):.2e}; "
        f"{len(with_sol) - len(bad)} pass the forward-pass and grid/data checks.",
        f"- {len(errors)} rows ended with an error.",
    ]
    for r in bad + errors:
        out.append(
            f"  - {r['problem']}/{r['variant']}/{r['config']}: status {r['status']}, "
            f"fwd_err {_fmt(r['fwd_err'])}, check {r.get('check', '')}"
        )
    # the same optimum across configurations (where solved)
    diffs = []
    for key in {(r["problem"], r["variant"]) for r in rows}:
        objs = [r["objective"] for r in rows if (r["problem"], r["variant"]) == key and r["solved"]]
        if len(objs) > 1:
            diffs.append(max(objs) - min(objs))
    out.append(
        f"- largest spread of the optimum across configurations that solved the same instance: "
        f"{max(diffs, default=0.0):.2e}"
    )
    return out + [""]


def _plot(rows, problems, configs, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(problems), figsize=(6 * len(problems), 4.5), squeeze=False)
    for ax, p in zip(axes[0], problems):
        by = {(r["variant"], r["config"]): r for r in rows if r["problem"] == p}
        variants = list(dict.fromkeys(r["variant"] for r in rows if r["problem"] == p))
        width = 0.8 / len(configs)
        for i, c in enumerate(configs):
            xs, ts, hatch = [], [], []
            for j, v in enumerate(variants):
                if (v, c) in by and not _is_error(by[v, c]):
                    xs.append(j + i * width)
                    ts.append(_time(by[v, c]))
                    hatch.append(not by[v, c]["solved"])
            bars = ax.bar(xs, ts, width, label=c)
            for b, h in zip(bars, hatch):
                if h:
                    b.set_hatch("//")
        ax.set_yscale("log")
        ax.set_xticks(np.arange(len(variants)) + 0.4 - width / 2)
        ax.set_xticklabels(variants, rotation=30, ha="right")
        ax.set_title(p)
        ax.set_ylabel("tightening + SCIP seconds (hatched: time limit)")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(csv_path, out_dir) -> Path:
    """Write ``suite.md`` and ``suite.png`` for the rows of ``csv_path``; returns the markdown
    path."""
    rows = read_rows(csv_path)
    out = Path(out_dir)
    problems = list(dict.fromkeys(r["problem"] for r in rows))
    known = (BASELINE, "omlt_bigm_nocuts") + OURS
    configs = [c for c in known if any(r["config"] == c for r in rows)]
    configs += list(dict.fromkeys(r["config"] for r in rows if r["config"] not in known))
    limits = sorted({r["time_limit"] for r in rows if math.isfinite(r["time_limit"])})
    if rows:
        summary = (
            f"{len(rows)} runs; SCIP time limit {', '.join(f'{t:g}' for t in limits) or '-'} s "
            "per solve; "
            "times are tightening + SCIP CPU seconds (single-threaded SCIP, CPU clock)."
        )
    else:
        summary = f"No runs in {Path(csv_path).name} yet."
    lines = ["# Benchmark suite results", "", summary, ""]
    lines += _headline(rows, problems)
    lines += ["## Per problem", ""]
    for p in problems:
        lines += _detail(rows, p, configs)
    lines += _checks(rows)
    md = out / "suite.md"
    md.write_text("\n".join(lines))
    if rows:
        _plot(rows, problems, configs, out / "suite.png")
    return md
