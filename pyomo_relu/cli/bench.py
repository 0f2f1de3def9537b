"""``pyomo-relu bench``: run the benchmark suite and write CSV, markdown and a plot."""

from __future__ import annotations

from pathlib import Path

HELP = "run the benchmark suite (peaks, reformer, oil) under every configuration"


def _names(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def add_arguments(parser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small networks, two variants, 10 s limits (a few minutes)",
    )
    parser.add_argument(
        "--problems",
        type=_names,
        default=None,
        metavar="LIST",
        help="comma-separated subset of peaks,reformer,oil (default: all)",
    )
    parser.add_argument(
        "--variants",
        type=_names,
        default=None,
        metavar="LIST",
        help="comma-separated network variants (default: all, or plain,l1_strong with --quick)",
    )
    parser.add_argument(
        "--configs",
        type=_names,
        default=None,
        metavar="LIST",
        help="comma-separated configurations (default: all)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        metavar="S",
        help="SCIP seconds per solve, > 0 (default 10 with --quick, else 60); resuming needs "
        "the limit the CSV was made with",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench_results"),
        metavar="DIR",
        help="output directory for suite.csv, suite.md, suite.png (default ./bench_results)",
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=None,
        metavar="DIR",
        help="cache of trained networks (default ~/.cache/pyomo_relu/bench)",
    )
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="start a new CSV instead of skipping done rows (the old one is kept as suite.csv.bak)",
    )


def run(args) -> int:
    from ..benchmarks.runner import run as run_suite

    csv_path = run_suite(
        args.out,
        quick=args.quick,
        problems=args.problems,
        variants=args.variants,
        configs=args.configs,
        time_limit=args.time_limit,
        resume=not args.no_resume,
        cache_dir=args.cache,
    )
    print(f"wrote {csv_path}, {csv_path.parent / 'suite.md'} and {csv_path.parent / 'suite.png'}")
    return 0
