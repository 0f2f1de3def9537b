"""The test-function study of Plate et al. (2026) and Tsay (2026), solved with SCIP.

Problems (see :mod:`.problems._box`): peaks on ``[-2, 2]^2`` (``peaks2``),
Himmelblau on ``[-5, 5]^2``, Ackley on ``[-3.5, 3.5]^2`` and ``[-3.5, 3.5]^5``.
The surrogate's output is minimized directly over the box.  Networks (full run):
2-25x{2,3,5}-1 for the two-input problems and 5-{25,50}x{3,5}-1 for Ackley-5,
trained with Adam for 200 epochs (batch 64, lr 3e-3, seed 0) on seeded
Latin-hypercube samples: 2000 for the two-input problems, 5000 for Ackley-5, 20%
held out for the validation MSE.  Every network is trained once per regularizer
and strength and cached (``train_cached``).

Regularizers: none; ``l1`` (weights); ``stability`` (ReLU-stability loss of Xiao
et al. 2019); and, when ``train_mlp`` offers them, ``bound_width`` (sum of the
interval widths of the hidden pre-activations) and ``lp_gap`` (LP-relaxation gap
at training points, here on 4 points of every 4th minibatch) of Tsay (2026),
alone and together, each at the strengths 1e-4 and 1e-3.  A regularizer that this
version of ``train_mlp`` does not offer is listed in the table as not run.

Per network: validation MSE; unstable hidden neurons with interval and with LP
(OBBT) bounds over the box; linear regions of a two-input network
(:func:`pyomo_relu.analysis.count_linear_regions`); and one SCIP solve of the
big-M model with interval bounds (configuration ``bigm``; the unregularized
networks are also solved with LP-tightened bounds, ``tightened_bigm``).  Each
solve runs in its own process with a SCIP time limit (CPU seconds, 120 s full /
30 s quick) and a wall-clock guard; an unsolved solve counts at the limit.  A
solve reports the LP relaxation of the same big-M model (binaries relaxed,
HiGHS) and its gap to the MIP optimum, SCIP's nodes and time, the forward-pass
check, the network's minimum on a 401 x 401 grid (2-D) or 10^6 samples (5-D)
(the MIP optimum must not lie above it) and the optimum's distance to the true
function's minimizer.  The full plan has 156 solves; on two cores shared with
other work (load 4-9) the committed run did the first 108 in the run order of
:func:`plan` in about 65 minutes, then the 13 ``tightened_bigm`` solves
(``--regularizers none``); a rerun continues from there.  ``--quick``
trains 2-10x3-1 networks on 500/1000 samples for 40 epochs.

``--deep`` (:func:`run_deep`) solves the five networks with five hidden layers again
with a 600 s limit, unregularized and with bound_width, bound_width+lp_gap and lp_gap at
strengths between 1e-4 and 1e-3 (:data:`DEEP_SETTINGS`), two solves at a time, into
``paper_deep.csv``; ``paper.md`` gets a section on it.

Rows are appended to ``paper.csv`` as each solve ends (a rerun skips rows that
are there), and ``paper.md`` is written from the CSV.  Run
``python -m pyomo_relu.benchmarks.paper [OUT_DIR] [--quick]``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import inspect
import math
import pickle
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from ..analysis import count_linear_regions, stable_fraction
from ..bounds import interval_bounds
from ..errors import UnknownOptionError
from .problems import BOX_FUNCTIONS, _box, default_cache_dir, get_problem

__all__ = [
    "ARCHS",
    "REGULARIZERS",
    "FIELDS",
    "available",
    "plan",
    "solve_network",
    "run",
    "deep_plan",
    "run_deep",
    "main",
]

ARCHS = {
    "peaks2": ((25,) * 2, (25,) * 3, (25,) * 5),
    "himmelblau": ((25,) * 2, (25,) * 3, (25,) * 5),
    "ackley2": ((25,) * 2, (25,) * 3, (25,) * 5),
    "ackley5": ((25,) * 3, (25,) * 5, (50,) * 3, (50,) * 5),
}
QUICK_ARCHS = {name: ((10,) * 3,) for name in ARCHS}
#: regularizer name -> train_mlp options set to the strength
REGULARIZERS = {
    "none": (),
    "l1": ("l1",),
    "stability": ("stability",),
    "bound_width": ("bound_width",),
    "lp_gap": ("lp_gap",),
    "bound_width+lp_gap": ("bound_width", "lp_gap"),
}
STRENGTHS = {"full": (1e-4, 1e-3), "quick": (1e-3,)}
#: lp_gap's LPs on 4 points of every 4th minibatch (train_mlp's default: 8 of every one),
# which keeps its training within a few times plain training on two shared cores
LP_GAP_OPTIONS = {"lp_gap_samples": 4, "lp_gap_every": 4}
TIME_LIMIT = {"full": 120.0, "quick": 30.0}
#: wall-clock guard of one solve process: the CPU limit times this, plus a minute
WALL_FACTOR = 3.0
REGION_LIMIT = {"full": 10.0, "quick": 5.0}
FIELDS = (
    "problem",
    "arch",
    "regularizer",
    "strength",
    "config",
    "samples",
    "epochs",
    "train_mse",
    "val_mse",
    "hidden",
    "unstable_interval",
    "unstable_lp",
    "regions",
    "regions_exact",
    "status",
    "solved",
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
    "grid_ok",
    "true_f_at_opt",
    "distance",
    "time_limit",
)


def available(regularizer: str) -> bool:
    """Whether this version of ``train_mlp`` offers every option of ``regularizer``."""
    from ..training import train_mlp

    params = inspect.signature(train_mlp).parameters
    return all(opt in params for opt in REGULARIZERS[regularizer])


def _missing() -> list[str]:
    return [r for r in REGULARIZERS if not available(r)]


def arch_name(dim: int, hidden) -> str:
    """``2-25x3-1`` for two inputs and three hidden layers of 25."""
    widths = set(hidden)
    body = f"{hidden[0]}x{len(hidden)}" if len(widths) == 1 else "-".join(map(str, hidden))
    return f"{dim}-{body}-1"


#: run order of the regularizers on the deep networks (Tsay's first)
_DEEP_ORDER = {
    ("bound_width+lp_gap", "small"): 0,
    ("bound_width", "large"): 1,
    ("lp_gap", "small"): 2,
    ("bound_width", "small"): 3,
    ("l1", "large"): 4,
    ("stability", "large"): 5,
}


def _priority(job: dict, strongest: float) -> tuple:
    """Run order: what the study's questions need first (see :func:`plan`)."""
    depth, reg = len(job["hidden"]), job["regularizer"]
    size = "large" if job["strength"] == strongest else "small"
    problem = tuple(ARCHS).index(job["problem"])
    wide = max(job["hidden"]) > 25  # Ackley-5's 50-wide networks: the slowest, after the rest
    if job["config"] != "bigm":
        return (6,)
    order = -1 if reg == "none" else _DEEP_ORDER.get((reg, size))
    if depth == 5 and order is not None:
        if wide:
            return (2, order)
        return (0, problem, order) if order < 3 else (1, order)
    if reg == "none":
        return (2, -1)
    if size == "large" and reg in ("l1", "stability", "bound_width"):
        return (2 if depth == 3 else 3,)
    return (4,) if "lp_gap" not in reg or depth == 5 else (7,)


def plan(*, quick: bool = False, problems=None, regularizers=None) -> list[dict]:
    """The solves of the study in run order, most telling first.

    0. per problem, the unregularized network with five hidden layers of 25 and the
       same network with bound_width+lp_gap and lp_gap at the smaller strength and
       bound_width at the larger one (the study's main question); 1. those networks
       with bound_width at the smaller strength and l1 and stability at the larger;
       2. the same for the 50-wide networks, the other unregularized networks and the
       three-layer networks with l1, stability and bound_width at the larger strength;
       3. the same for the two-layer networks; 4. the other strengths;
       6. ``tightened_bigm`` solves of the unregularized networks; 7. lp_gap on the
       shallower networks (its training solves LPs, so it is the most expensive).
    An interrupted run has the comparisons that matter most.
    """
    problems = _choose("problem", problems, tuple(ARCHS))
    regularizers = _choose("regularizer", regularizers, tuple(REGULARIZERS))
    mode = "quick" if quick else "full"
    archs = QUICK_ARCHS if quick else ARCHS
    jobs = []
    for name in problems:
        for hidden in archs[name]:
            for reg in regularizers:
                job = {"problem": name, "hidden": hidden, "regularizer": reg}
                if reg == "none":
                    jobs.append({**job, "strength": 0.0, "config": "bigm"})
                    jobs.append({**job, "strength": 0.0, "config": "tightened_bigm"})
                    continue
                for strength in sorted(STRENGTHS[mode], reverse=True):
                    jobs.append({**job, "strength": strength, "config": "bigm"})
    strongest = max(STRENGTHS[mode])
    return sorted(jobs, key=lambda job: _priority(job, strongest))  # stable: problem order kept


def _choose(kind: str, names, valid) -> list[str]:
    if names is None:
        return list(valid)
    names = list(dict.fromkeys([names] if isinstance(names, str) else names))
    unknown = [n for n in names if n not in valid]
    if unknown or not names:
        raise UnknownOptionError(
            f"unknown or empty list of {kind}s {unknown or names!r}; valid: {', '.join(valid)}."
        )
    return names


# -- one network: training and indicators --------------------------------------
def _train(job: dict, *, cache_dir, quick: bool):
    spec = BOX_FUNCTIONS[job["problem"]]
    options = {opt: job["strength"] for opt in REGULARIZERS[job["regularizer"]]}
    if "lp_gap" in options:
        options.update(LP_GAP_OPTIONS)
    tag = f"{job['regularizer']}-{job['strength']:g}-{len(job['hidden'])}x{job['hidden'][0]}"
    return _box.train(spec, job["hidden"], options, cache_dir=cache_dir, quick=quick, tag=tag)


def _unstable(bounds) -> tuple[int, int]:
    rep = stable_fraction(bounds)
    return rep.n - rep.n_stable, rep.n


def indicators(name: str, net, *, quick: bool) -> dict:
    """Unstable neurons (interval, LP bounds) and linear regions (two inputs) of ``net``."""
    from ..bounds.lp import lp_bounds

    spec = BOX_FUNCTIONS[name]
    lb, ub = spec.box()
    ib = interval_bounds(net, lb, ub)
    unstable_i, n = _unstable(ib)
    unstable_lp, _ = _unstable(lp_bounds(net, lb, ub, prior=ib, tighten_outputs=False))
    out = {"hidden": n, "unstable_interval": unstable_i, "unstable_lp": unstable_lp}
    if spec.dim == 2:
        limit = REGION_LIMIT["quick" if quick else "full"]
        rc = count_linear_regions(net, lb, ub, time_limit=limit)
        out.update({"regions": rc.count, "regions_exact": rc.exact})
    else:
        out.update({"regions": "", "regions_exact": ""})
    return out


# -- one solve, in its own process -------------------------------------------
def _lp_relaxation(problem, net, bounds) -> float:
    """Optimal value of the big-M model with its binaries relaxed (HiGHS)."""
    import pyomo.environ as pyo

    from ..solving import solve_model

    m, _ = problem.build({"f": net}, formulation="bigm", bounds=bounds)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
    out = solve_model(m, solver="appsi_highs")
    return float(out.objective) if out.has_solution else math.nan


def solve_network(name: str, net, config: str, time_limit: float) -> dict:
    """LP relaxation and SCIP solve of the big-M model of ``net`` (problem ``name``), checked.

    ``config`` ``"bigm"`` uses interval bounds, ``"tightened_bigm"`` LP (OBBT) bounds.
    """
    from .runner import forward_error, solve_scip

    problem, spec = get_problem(name), BOX_FUNCTIONS[name]
    bounds = None
    if config == "tightened_bigm":
        from ..bounds.lp import lp_bounds

        bounds = {"f": lp_bounds(net, *spec.box())}
    lp = _lp_relaxation(problem, net, bounds)
    m, blocks = problem.build({"f": net}, formulation="bigm", bounds=bounds)
    sol = solve_scip(m, time_limit=time_limit)
    row = {k: sol[k] for k in ("status", "solved", "objective", "bound", "nodes", "solve_s")}
    row["lp_relaxation"] = lp
    if sol["has_solution"]:
        gap = sol["objective"] - lp
        row.update({"lp_gap_abs": gap, "lp_gap_rel": gap / max(1.0, abs(sol["objective"]))})
        row["fwd_err"] = forward_error(blocks)
        info = problem.check(m, blocks, {"f": net}, solved=sol["solved"])
        row.update({k: info[k] for k in ("grid_best", "grid_ok", "true_f_at_opt")})
        row["distance"] = info["distance_to_minimizer"]
    return row


def _solve_from_files(job_file: str, result_file: str) -> None:
    """Entry point of a solve process: pickled arguments in, pickled result out."""
    args = pickle.loads(Path(job_file).read_bytes())
    try:
        result = ("ok", solve_network(*args))
    except Exception as exc:  # reported to the parent, which records it in the row
        result = ("error", f"{type(exc).__name__}: {exc}")
    Path(result_file).write_bytes(pickle.dumps(result))


def solve_in_process(name: str, net, config: str, time_limit: float) -> dict:
    """:func:`solve_network` in a fresh Python process, killed after the wall-clock guard."""
    guard = WALL_FACTOR * time_limit + 60.0
    code = "import sys; from pyomo_relu.benchmarks.paper import _solve_from_files; "
    code += "_solve_from_files(*sys.argv[1:])"
    with tempfile.TemporaryDirectory() as tmp:
        job, result = Path(tmp) / "job.pkl", Path(tmp) / "result.pkl"
        job.write_bytes(pickle.dumps((name, net, config, time_limit)))
        try:
            proc = subprocess.run(
                [sys.executable, "-c", code, str(job), str(result)],
                capture_output=True,
                text=True,
                timeout=guard,
            )
        except subprocess.TimeoutExpired:
            kind, payload = "error", f"killed after {guard:g} s wall clock"
        else:
            if result.exists():
                kind, payload = pickle.loads(result.read_bytes())
            else:
                tail = " ".join(proc.stderr.strip().splitlines()[-1:])
                kind, payload = "error", f"solve process exited with {proc.returncode}: {tail}"
    if kind == "ok":
        return payload
    return {"status": " ".join(f"error: {payload}".split())[:300], "solved": False}


# -- the study ---------------------------------------------------------------
def _key(row: dict) -> tuple:
    return (row["problem"], row["arch"], row["regularizer"], float(row["strength"]), row["config"])


def _done(csv_path: Path, time_limit: float) -> set:
    if not csv_path.exists():
        return set()
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if float(r["time_limit"]) != time_limit:
            raise UnknownOptionError(
                f"{csv_path} holds solves with a {r['time_limit']} s limit, this run uses "
                f"{time_limit:g} s; move the file away or pass another output folder."
            )
    return {_key(r) for r in rows}


def _append(csv_path: Path, row: dict) -> None:
    new = not csv_path.exists()
    with open(csv_path, "a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _row(job: dict, mode: str, time_limit: float) -> dict:
    spec = BOX_FUNCTIONS[job["problem"]]
    return {
        "problem": job["problem"],
        "arch": arch_name(spec.dim, job["hidden"]),
        "regularizer": job["regularizer"],
        "strength": job["strength"],
        "config": job["config"],
        "samples": spec.samples[mode],
        "epochs": spec.epochs[mode],
        "time_limit": time_limit,
    }


def _solve_job(job, row, *, cache, quick, facts, progress, lock=None) -> dict:
    """Train (cached) and analyse the network of ``job``, solve it in a process, fill ``row``.

    ``lock`` (deep run) keeps training and the indicators to one thread at a time; the
    solves, each in its own process, run in parallel.
    """
    net_key = _key(row)[:4]
    start = time.perf_counter()
    with lock if lock is not None else contextlib.nullcontext():
        if net_key not in facts:
            trained = _train(job, cache_dir=cache, quick=quick)
            facts[net_key] = (
                trained.network,
                {"train_mse": trained.train_mse, "val_mse": trained.val_mse}
                | indicators(job["problem"], trained.network, quick=quick),
            )
    net, info = facts[net_key]
    row.update(info)
    row.update(solve_in_process(job["problem"], net, job["config"], row["time_limit"]))
    row["time_s"] = row.get("solve_s", math.nan) if row.get("solved") else row["time_limit"]
    if progress:
        print(
            f"{row['problem']} {row['arch']} {row['regularizer']} {row['strength']:g} "
            f"{row['config']}: {row['status']} {row.get('solve_s', math.nan):.2f} s, "
            f"unstable {row['unstable_interval']}/{row['hidden']}, "
            f"{time.perf_counter() - start:.0f} s wall",
            flush=True,
        )
    return row


def run(
    out_dir,
    *,
    quick: bool = False,
    problems=None,
    regularizers=None,
    cache_dir=None,
    progress: bool = True,
) -> Path:
    """Train, analyse and solve every planned network; append rows to ``paper.csv``.

    Regularizers that ``train_mlp`` does not offer are skipped (and listed in ``paper.md``).
    Returns the CSV path; ``paper.md`` is written next to it.
    """
    mode = "quick" if quick else "full"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else default_cache_dir() / "paper"
    csv_path = out / "paper.csv"
    time_limit = TIME_LIMIT[mode]
    done = _done(csv_path, time_limit)
    facts = {}
    for job in plan(quick=quick, problems=problems, regularizers=regularizers):
        row = _row(job, mode, time_limit)
        if _key(row) in done or not available(job["regularizer"]):
            continue
        _solve_job(job, row, cache=cache, quick=quick, facts=facts, progress=progress)
        _append(csv_path, row)
    from .paper_report import write_report

    write_report(csv_path, out, quick=quick, missing=_missing())
    return csv_path


# -- the five-layer networks at a longer limit (--deep) ------------------------
#: the unregularized networks with five hidden layers
DEEP_ARCHS = {
    "peaks2": ((25,) * 5,),
    "himmelblau": ((25,) * 5,),
    "ackley2": ((25,) * 5,),
    "ackley5": ((25,) * 5, (50,) * 5),
}
#: (regularizer, strength) of the deep run, between the 1e-4 and 1e-3 of the main run,
# in run order (the most telling first, lp_gap alone last: its training is the slowest)
DEEP_SETTINGS = (
    ("bound_width", 3e-4),
    ("bound_width+lp_gap", 2e-4),
    ("bound_width", 5e-4),
    ("bound_width", 2e-4),
    ("bound_width+lp_gap", 3e-4),
    ("lp_gap", 3e-4),
)
DEEP_TIME_LIMIT = 600.0
DEEP_WORKERS = 2


def deep_plan(problems=None) -> tuple[list[dict], list[dict], list[dict]]:
    """The deep run's solves: the baselines, the regularized networks, the optional ones.

    Baselines first the two that were unsolved at 120 s (peaks2 2-25x5-1, ackley5
    5-50x5-1), then the rest; regularized networks setting by setting
    (:data:`DEEP_SETTINGS`), each on every network; lp_gap alone (the slowest to train,
    and unsolved at 120 s on the widest network) last, after every baseline.
    """
    problems = _choose("problem", problems, tuple(DEEP_ARCHS))
    nets = [(name, hidden) for name in problems for hidden in DEEP_ARCHS[name]]
    slow = {("peaks2", (25,) * 5), ("ackley5", (50,) * 5)}
    base = [
        {"problem": n, "hidden": h, "regularizer": "none", "strength": 0.0, "config": "bigm"}
        for n, h in sorted(nets, key=lambda nh: nh not in slow)
    ]
    regularized = [
        {"problem": n, "hidden": h, "regularizer": reg, "strength": s, "config": "bigm"}
        for reg, s in DEEP_SETTINGS
        for n, h in nets
    ]
    optional = [j for j in regularized if j["regularizer"] == "lp_gap"]
    return base, [j for j in regularized if j not in optional], optional


def run_deep(out_dir, *, problems=None, cache_dir=None, workers=DEEP_WORKERS, progress=True):
    """The five-layer networks at a :data:`DEEP_TIME_LIMIT` s limit; rows in ``paper_deep.csv``.

    Architecture, seed, samples and epochs are those of the main run (the baselines come
    from the same network cache).  Two lanes run side by side: one takes the long
    baselines first, the other the regularized networks first; each takes from the
    other queue when its own is empty, and lp_gap alone comes when both are.
    ``paper.md`` is rewritten at the end.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache_dir) if cache_dir else default_cache_dir() / "paper"
    csv_path = out / "paper_deep.csv"
    done = _done(csv_path, DEEP_TIME_LIMIT)
    queues = [
        [j for j in jobs if _key(_row(j, "full", DEEP_TIME_LIMIT)) not in done]
        for jobs in deep_plan(problems)
    ]
    train_lock, queue_lock, csv_lock = threading.Lock(), threading.Lock(), threading.Lock()
    facts: dict = {}
    errors: list[BaseException] = []

    def lane(first: int) -> None:
        while True:
            with queue_lock:
                order = (queues[first], queues[1 - first], queues[2])
                job = next((q.pop(0) for q in order if q), None)
            if job is None:
                return
            row = _row(job, "full", DEEP_TIME_LIMIT)
            try:
                _solve_job(
                    job, row, cache=cache, quick=False, facts=facts, progress=progress,
                    lock=train_lock,
                )  # fmt: skip
            except BaseException as exc:  # noqa: BLE001 - re-raised once the other lane ends
                errors.append(exc)
                return
            with csv_lock:
                _append(csv_path, row)

    threads = [threading.Thread(target=lane, args=(i % 2,)) for i in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    from .paper_report import write_report

    write_report(out / "paper.csv", out, missing=_missing())
    return csv_path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description="Plate et al.'s test-function study (peaks2, himmelblau, ackley2, ackley5)."
    )
    parser.add_argument("out_dir", nargs="?", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--quick", action="store_true", help="tiny networks, 30 s limits")
    parser.add_argument("--problems", default=None, help="comma-separated subset")
    parser.add_argument("--regularizers", default=None, help="comma-separated subset")
    parser.add_argument("--cache", type=Path, default=None, help="network cache folder")
    parser.add_argument(
        "--deep",
        action="store_true",
        help=f"five-layer networks, strengths between 1e-4 and 1e-3, {DEEP_TIME_LIMIT:g} s limit "
        "(paper_deep.csv)",
    )
    parser.add_argument("--report-only", action="store_true", help="rewrite paper.md from the CSV")
    args = parser.parse_args(argv)
    split = lambda s: None if s is None else [p.strip() for p in s.split(",") if p.strip()]  # noqa: E731
    if args.report_only:
        from .paper_report import write_report

        write_report(args.out_dir / "paper.csv", args.out_dir, quick=args.quick, missing=_missing())
    elif args.deep:
        run_deep(args.out_dir, problems=split(args.problems), cache_dir=args.cache)
    else:
        run(
            args.out_dir,
            quick=args.quick,
            problems=split(args.problems),
            regularizers=split(args.regularizers),
            cache_dir=args.cache,
        )
    print(f"wrote {args.out_dir / 'paper.csv'} and paper.md")


if __name__ == "__main__":
    main()
