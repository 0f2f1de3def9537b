"""``pyomo-relu bench``: run the benchmark suite and write CSV, markdown and a plot."""

from __future__ import annotations

from pathlib import Path

HELP = (
    "run the benchmark suite (peaks, reformer, oil and the test functions peaks2, himmelblau, "
    "ackley2, ackley5) under every configuration"
)
#: problem names for the help text (the runner checks them against the registry)
PROBLEM_NAMES = "peaks,reformer,oil,peaks2,himmelblau,ackley2,ackley5"


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
        help=f"comma-separated subset of {PROBLEM_NAMES}; ackley stands for ackley2,ackley5 and "
        "paper for peaks2,himmelblau,ackley2,ackley5 (default: peaks,reformer,oil)",
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
    from ..benchmarks.problems import expand_problem_names
    from ..benchmarks.runner import run as run_suite

    problems = None if args.problems is None else expand_problem_names(args.problems)
    csv_path = run_suite(
        args.out,
        quick=args.quick,
        problems=problems,
        variants=args.variants,
        configs=args.configs,
        time_limit=args.time_limit,
        resume=not args.no_resume,
        cache_dir=args.cache,
    )
    print(f"wrote {csv_path}, {csv_path.parent / 'suite.md'} and {csv_path.parent / 'suite.png'}")
    return 0
