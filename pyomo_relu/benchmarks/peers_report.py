"""The markdown table of the peers benchmark, generated from its CSV (:mod:`.peers`).

Per network: the time to a proven optimum of every configuration, or at the limit its
gap, best objective and bound; then per configuration the instances solved and the
geometric mean of the times (an unsolved solve counts as the limit), the ratios of
``ours_auto`` against each peer over the networks both ran, and the checks of every
solution against the network's forward pass.  The module reads only the CSV, so the
table can be regenerated after any (partial) run: ``python -m
pyomo_relu.benchmarks.peers --report-only``.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

__all__ = ["LABELS", "write_report", "render", "geometric_mean"]

#: column titles of the configurations, in their run order
LABELS = {
    "omlt_bigm": "OMLT big-M + SCIP",
    "pyscipopt_ml": "PySCIPOpt-ML (SOS1) + SCIP",
    "gurobi_ml": "gurobi-ml + Gurobi (1 thread)",
    "ours_quickstart": "ours: quick start (bigm, scip_direct)",
    "ours_tightened_bigm": "ours: tightened_bigm + solve_model",
    "ours_auto": "ours: auto + solve_model",
}
#: statuses of rows that did not solve anything (left out of means and ratios)
NOT_RUN = {
    "not_installed": "not installed",
    "too_large": "too large for the pip licence",
    "not_expressible": "n/a (not expressible)",
    "crashed": "crashed",
}
PEERS = ("omlt_bigm", "pyscipopt_ml", "gurobi_ml")
OURS = "ours_auto"


def _float(v):
    try:
        x = float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _flag(row) -> str:
    bad = [k for k in ("forward_ok", "sample_ok") if row.get(k) == "False"]
    return " (check FAILED: " + ", ".join(bad) + ")" if bad else ""


def _cell(row) -> str:
    if row is None:
        return "-"
    status = row["status"]
    if status in NOT_RUN:
        return NOT_RUN[status]
    if status == "optimal":
        return f"{float(row['total_s']):.1f} s{_flag(row)}"
    best, bound, gap = _float(row["objective"]), _float(row["bound"]), _float(row["gap"])
    limit = float(row["limit"])
    if best is None:
        return f"{status}, no solution at {limit:g} s"
    gap_text = "inf" if gap is None else f"{100 * gap:.2f}%"
    bound_text = "-" if bound is None else f"{bound:.5g}"
    return f"{status}: gap {gap_text}, best {best:.5g}, bound {bound_text}{_flag(row)}"


def _time(row) -> float | None:
    """Time of a row for the means: the total if solved, the limit if not, None if not run."""
    if row is None or row["status"] in NOT_RUN:
        return None
    if row["status"] == "optimal":
        return max(float(row["total_s"]), 1e-3)
    return float(row["limit"])


def geometric_mean(values) -> float | None:
    """Geometric mean of positive numbers (None for none)."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _read(csv_path: Path) -> list[dict]:
    with open(csv_path, newline="") as fh:
        return list(csv.DictReader(fh))


def _by_key(rows) -> tuple[list, list, dict]:
    networks, configs, table = [], [], {}
    for r in rows:
        networks += [r["network"]] if r["network"] not in networks else []
        configs += [r["config"]] if r["config"] not in configs else []
        table[r["network"], r["config"]] = r
    configs.sort(key=lambda c: list(LABELS).index(c) if c in LABELS else len(LABELS))
    return networks, configs, table


def _summary(networks, configs, table) -> list[str]:
    out = ["| configuration | solved | unsolved at the limit | not run | geometric mean (s) |"]
    out.append("|---|---|---|---|---|")
    for c in configs:
        rows = [table.get((n, c)) for n in networks]
        solved = [n for n, r in zip(networks, rows) if r and r["status"] == "optimal"]
        ran = [r for r in rows if _time(r) is not None]
        not_run = sum(1 for r in rows if r is None or r["status"] in NOT_RUN)
        gm = geometric_mean(_time(r) for r in ran)
        gm_text = "-" if gm is None else f"{gm:.2f}"
        out.append(
            f"| {LABELS.get(c, c)} | {len(solved)}/{len(networks)} | {len(ran) - len(solved)} "
            f"| {not_run} | {gm_text} |"
        )
    return out


def _ratios(networks, configs, table) -> list[str]:
    if OURS not in configs:
        return []
    out = [
        f"Speed-up of `{OURS}`: geometric mean of the peer's times over that of ours, on the "
        "networks both ran (unsolved = the limit; > 1 means ours is faster).",
        "",
        "| against | networks | peer geo. mean (s) | ours geo. mean (s) | speed-up |",
        "|---|---|---|---|---|",
    ]
    for peer in (p for p in PEERS if p in configs):
        common = [
            n
            for n in networks
            if _time(table.get((n, peer))) is not None and _time(table.get((n, OURS))) is not None
        ]
        if not common:
            out.append(f"| {LABELS[peer]} | 0 | - | - | - |")
            continue
        gp = geometric_mean(_time(table[n, peer]) for n in common)
        go = geometric_mean(_time(table[n, OURS]) for n in common)
        out.append(f"| {LABELS[peer]} | {len(common)} | {gp:.2f} | {go:.2f} | {gp / go:.2f}x |")
    return out


def _checks(networks, configs, table) -> list[str]:
    out = [
        "| configuration | forward pass ok | mismatch | not checked (no solution) "
        "| optimum <= sample best | above it |",
        "|---|---|---|---|---|---|",
    ]
    for c in configs:
        rows = [table.get((n, c)) for n in networks]
        rows = [r for r in rows if r is not None and r["status"] not in NOT_RUN]
        fw = [r.get("forward_ok") for r in rows]
        sp = [r.get("sample_ok") for r in rows]
        out.append(
            f"| {LABELS.get(c, c)} | {fw.count('True')} | {fw.count('False')} "
            f"| {sum(1 for v in fw if v not in ('True', 'False'))} | {sp.count('True')} "
            f"| {sp.count('False')} |"
        )
    agree = []
    for n in networks:
        opts = [
            (c, float(table[n, c]["objective"]))
            for c in configs
            if (n, c) in table and table[n, c]["status"] == "optimal"
        ]
        if len(opts) > 1:
            values = [v for _, v in opts]
            spread = max(values) - min(values)
            ok = spread <= 1e-4 * max(1.0, max(abs(v) for v in values)) * 2
            verdict = "yes" if ok else "NO"
            agree.append(f"| {n} | {len(opts)} | {min(values):.7g} | {spread:.2g} | {verdict} |")
    if agree:
        out += [
            "",
            "Proven optima of the same network agree (within twice the 1e-4 relative gap):",
            "",
            "| network | optimal configurations | optimum | spread | agree |",
            "|---|---|---|---|---|",
            *agree,
        ]
    return out


def render(
    rows: list[dict],
    *,
    title: str = "Peers benchmark",
    descriptions=None,
    command: str = "python -m pyomo_relu.benchmarks.peers --report-only",
) -> str:
    """The markdown report of the peers CSV rows ``rows``.

    ``descriptions`` (network name -> problem text) adds a table of the networks and
    orders them as it does.
    """
    networks, configs, table = _by_key(rows)
    if descriptions:  # the benchmark's own order of the networks, whatever order they ran in
        order = list(descriptions)
        networks.sort(key=lambda n: order.index(n) if n in order else len(order))
    limits = sorted({float(r["limit"]) for r in rows})
    lines = [
        f"# {title}",
        "",
        f"Generated by `{command}` from the CSV next "
        "to this file (one subprocess per solve, imports not timed, one solve at a time on a "
        "shared 2-core machine). Times are wall seconds of building plus solving, the budget "
        f"of each solve is the limit ({', '.join(f'{x:g}' for x in limits)} s); at the limit a "
        "cell gives SCIP's (or Gurobi's) relative gap, best objective and bound.",
        "",
    ]
    if descriptions:
        lines += ["| network | problem |", "|---|---|"]
        lines += [f"| {n} | {descriptions.get(n, '')} |" for n in networks]
        lines.append("")
    lines += ["| network | " + " | ".join(LABELS.get(c, c) for c in configs) + " |"]
    lines.append("|---" * (len(configs) + 1) + "|")
    for n in networks:
        lines.append(f"| {n} | " + " | ".join(_cell(table.get((n, c))) for c in configs) + " |")
    lines += ["", "## Solved instances and geometric means", ""]
    lines += _summary(networks, configs, table)
    lines += [""] + _ratios(networks, configs, table)
    lines += ["", "Solved by each configuration:", ""]
    for c in configs:
        solved = [n for n in networks if (n, c) in table and table[n, c]["status"] == "optimal"]
        lines.append(f"- {LABELS.get(c, c)}: {', '.join(solved) or 'none'}")
    lines += ["", "## Checks of every solution", ""]
    lines += _checks(networks, configs, table)
    return "\n".join(lines) + "\n"


def write_report(csv_path, *, descriptions=None) -> Path:
    """Write ``<csv stem>.md`` next to ``csv_path`` from its rows; returns its path."""
    csv_path = Path(csv_path)
    rows = _read(csv_path) if csv_path.exists() else []
    oil = "oil" in csv_path.stem
    title = "Peers benchmark: oil production" if oil else "Peers benchmark"
    command = "python -m pyomo_relu.benchmarks.peers" + (" --oil" if oil else "") + " --report-only"
    md = csv_path.with_suffix(".md")
    md.write_text(render(rows, title=title, descriptions=descriptions, command=command))
    return md
