"""Run the benchmark suite: every problem x network variant x configuration, solved with SCIP.

Configurations (all on the same model and the same trained networks):

============== ==============================================================
``omlt_bigm``  OMLT's ``ReluBigMFormulation`` (its own interval bounds)
``bigm``       ours, big-M with interval bounds
``scaled_bigm`` ours, interval bounds, network rescaled so every big-M <= 1
``tightened_bigm`` ours, LP-tightened bounds (OBBT over the input box)
``milp_bigm``  ours, LP then MILP-tightened bounds (SCIP dual bounds per neuron)
``best``       ours, LP bounds, then ``relu.tighten_bounds(method="lp",
               context="model")`` (the model's own constraints cut the bounds)
``omlt_bigm_nocuts`` OMLT's formulation, SCIP without cutting planes
``tightened_bigm_nocuts`` ours, LP-tightened, SCIP without cutting planes
``regions``    ours, formulation ``auto``: the exact ``regions`` formulation for
               networks with <= 2 free inputs, LP-tightened big-M for the others
``regions_nocuts`` the same, SCIP without cutting planes
============== ==============================================================

All configurations but the ``*_nocuts`` ones run SCIP with its default
parameters; those use :data:`pyomo_relu.solving.SCIP_SETTINGS` ``["relu"]``
(the settings ``pyomo-relu solve`` uses), so the effect of the solver settings
is seen apart from that of the formulation, on OMLT's model as well as ours.

Per row: build, tightening and SCIP time, nodes, gap, status, objective and
bound, the forward-pass check at the MIP solution (max |MIP outputs -
forward(MIP inputs)| over all embedded networks), the problem's own check
(dense grid or data), binaries, stable share and big-M statistics of the
bounds used, linear regions and the networks' training/validation error.
All times are CPU seconds of this process (SCIP runs with
``timing/clocktype = 1``; tightening and building are timed with
``time.process_time``), so other load on the machine does not inflate them.
Rows are appended to ``suite.csv`` as they finish, so an interrupted run keeps
its finished rows; a rerun skips rows already there (a row that ended with an
error counts as done: delete it to retry).  A rerun refuses a ``suite.csv``
with other columns, another time limit or other networks for the same problem
and variant, rather than mixing incomparable rows; a last row cut off by a
crash is dropped and rerun.  :mod:`.report` turns the CSV into ``suite.md``
and ``suite.png``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
import warnings
from concurrent.futures import as_completed
from pathlib import Path

import numpy as np
import pyomo.environ as pyo

from ..analysis import count_linear_regions, stable_fraction
from ..bounds import interval_bounds
from ..bounds.parallel import check_executor
from ..errors import ExecutorWarning, UnknownOptionError
from ..formulations import get_formulation
from ..solving import solve_model
from .problems import (
    DEFAULT_PROBLEMS,
    OMLT_FORMULATION,
    PROBLEMS,
    VARIANTS,
    block_network,
    default_cache_dir,
    get_problem,
    select_variants,
)
from .report import SuiteFileError

__all__ = [
    "CONFIGS",
    "FIELDS",
    "run",
    "solve_scip",
    "forward_error",
    "run_instance",
    "instance_row",
]

CONFIGS = (
    "omlt_bigm",
    "bigm",
    "scaled_bigm",
    "tightened_bigm",
    "milp_bigm",
    "best",
    "omlt_bigm_nocuts",
    "tightened_bigm_nocuts",
    "regions",
    "regions_nocuts",
)
#: configurations solved with SCIP's "relu" settings (no cutting planes); all others use SCIP's
# defaults
NOCUTS = ("omlt_bigm_nocuts", "tightened_bigm_nocuts", "regions_nocuts")
FIELDS = (
    "problem",
    "variant",
    "config",
    "layers",
    "train_mse",
    "val_mse",
    "regions",
    "regions_exact",
    "stable_interval",
    "status",
    "solved",
    "objective",
    "bound",
    "gap",
    "nodes",
    "build_s",
    "tighten_s",
    "solve_s",
    "total_s",
    "fwd_err",
    "check_ok",
    "check",
    "binaries",
    "stable",
    "max_M",
    "mean_M",
    "time_limit",
)
#: relative tolerance of the forward-pass check (SCIP's feasibility tolerance is 1e-6 per row)
FWD_TOL = 1e-4


# -- solving -----------------------------------------------------------------
def solve_scip(m, *, time_limit: float, settings: str = "default") -> dict:
    """Solve ``m`` with SCIP (``scip_direct``) on its CPU clock and load the incumbent.

    Returns status, solved, objective, bound, gap (SCIP's ``|p - d| / min(|p|, |d|)``,
    inf when undefined), nodes and SCIP's solving time.
    """
    # CPU clock: on a shared machine wall-clock times would measure the other processes too
    out = solve_model(m, time_limit=time_limit, options={"timing/clocktype": 1}, settings=settings)
    return {
        "status": out.status,
        "solved": out.status == "optimal" and out.has_solution,
        "has_solution": out.has_solution,
        "objective": out.objective if out.has_solution else math.nan,
        "bound": out.bound,
        "gap": math.inf if out.gap is None else out.gap,
        "nodes": out.nodes,
        "solve_s": out.seconds,
    }


def _values(var) -> np.ndarray:
    return np.array([pyo.value(v) for v in var.values()], dtype=float)


def forward_error(blocks: dict) -> float:
    """max over blocks of ``max |outputs - forward(inputs)| / (1 + |forward(inputs)|)`` at the
    loaded solution."""
    worst = 0.0
    for blk in blocks.values():
        net = block_network(blk)
        ref = net.forward(_values(blk.inputs))
        worst = max(worst, float(np.max(np.abs(_values(blk.outputs) - ref) / (1.0 + np.abs(ref)))))
    return worst


# -- configurations ----------------------------------------------------------
def _block_bounds(problem, nets, method: str, *, time_limit: float, quick: bool, only=None) -> dict:
    """Tightened NeuronBounds per block (a network embedded twice is tightened once).

    ``only``: names of the blocks to tighten (default: all).
    """
    from ..bounds.lp import lp_bounds

    boxes, by_block = problem.input_boxes(nets), problem.block_networks(nets)
    done, out = {}, {}
    for name, net in by_block.items():
        if only is not None and name not in only:
            continue
        lb, ub = boxes[name]
        key = (id(net), tuple(lb), tuple(ub))
        if key not in done:
            bounds = lp_bounds(net, lb, ub)
            if method == "milp":
                from ..bounds.milp import milp_bounds

                bounds = milp_bounds(
                    net,
                    lb,
                    ub,
                    prior=bounds,
                    time_limit=time_limit,
                    time_limit_per_neuron=0.2 if quick else 1.0,
                )
            done[key] = bounds
        out[name] = done[key]
    return out


def build_config(problem, nets: dict, config: str, *, time_limit: float, quick: bool = False):
    """Model, blocks, build seconds and tightening seconds of one configuration."""
    if config not in CONFIGS:
        raise UnknownOptionError(f"unknown configuration {config!r}; valid: {', '.join(CONFIGS)}.")
    tighten = 0.0
    bounds = None
    if config in ("tightened_bigm", "milp_bigm", "best", "tightened_bigm_nocuts"):
        start = time.process_time()
        bounds = _block_bounds(
            problem,
            nets,
            "milp" if config == "milp_bigm" else "lp",
            time_limit=time_limit,
            quick=quick,
        )
        tighten = time.process_time() - start
    enumerated = set()
    if config.startswith("regions"):
        # preprocessing, like tightening: the regions 'auto' will use (remembered for the build),
        # and LP bounds only where it falls back to big-M
        start = time.process_time()
        boxes, auto, wide = problem.input_boxes(nets), get_formulation("auto"), set()
        for name, net in problem.block_networks(nets).items():
            part = auto.partition(net, interval_bounds(net, *boxes[name]))
            if part is None:
                wide.add(name)
            else:
                enumerated.add(id(part))
        bounds = _block_bounds(problem, nets, "lp", time_limit=time_limit, quick=quick, only=wide)
        tighten = time.process_time() - start
    formulation = {
        "omlt_bigm": OMLT_FORMULATION,
        "omlt_bigm_nocuts": OMLT_FORMULATION,
        "scaled_bigm": "scaled_bigm",
        "regions": "auto",
        "regions_nocuts": "auto",
    }.get(config, "bigm")
    start = time.process_time()
    m, blocks = problem.build(nets, formulation=formulation, bounds=bounds)
    build = time.process_time() - start
    if config.startswith(
        "regions"
    ):  # a partition enumerated during the build (not remembered) is preprocessing too
        enum = sum(
            blk.prepared.info["partition"].cpu_time
            for blk in blocks.values()
            if "partition" in blk.prepared.info
            and id(blk.prepared.info["partition"]) not in enumerated
        )
        build, tighten = build - enum, tighten + enum
    if config == "best":
        start = time.process_time()
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp", context="model")
        tighten += time.process_time() - start
    return m, blocks, build, tighten


def _formulation_stats(blocks: dict, config: str) -> dict:
    """Binaries in the network blocks; stable share and big-M of the bounds the rows use."""
    binaries = sum(
        1 for blk in blocks.values() for v in blk.component_data_objects(pyo.Var) if v.is_binary()
    )
    if config.startswith("omlt_bigm"):  # OMLT's big-M values are interval bounds
        bounds = [interval_bounds(block_network(b), *_box(b)) for b in blocks.values()]
    else:
        bounds = [blk.prepared.bounds for blk in blocks.values()]
    n = stable = 0
    ms = []
    for b in bounds:
        rep = stable_fraction(b)
        n, stable = n + rep.n, stable + rep.n_stable
        ms.append(b.unstable_big_m())
    ms = np.concatenate(ms) if ms else np.zeros(0)
    return {
        "binaries": binaries,
        "stable": stable / n if n else 1.0,
        "max_M": float(ms.max()) if ms.size else 0.0,
        "mean_M": float(ms.mean()) if ms.size else 0.0,
    }


def _box(blk):
    ins = list(blk.inputs.values())
    return np.array([v.lb for v in ins], float), np.array([v.ub for v in ins], float)


def run_instance(
    problem, nets: dict, config: str, *, time_limit: float, quick: bool = False
) -> dict:
    """Build, tighten, solve and check one configuration; returns the measured fields."""
    m, blocks, build, tighten = build_config(
        problem, nets, config, time_limit=time_limit, quick=quick
    )
    row = {"build_s": build, "tighten_s": tighten, **_formulation_stats(blocks, config)}
    sol = solve_scip(m, time_limit=time_limit, settings="relu" if config in NOCUTS else "default")
    row.update(
        {k: sol[k] for k in ("status", "solved", "objective", "bound", "gap", "nodes", "solve_s")}
    )
    row["total_s"] = tighten + sol["solve_s"]
    if sol["has_solution"]:
        row["fwd_err"] = forward_error(blocks)
        info = problem.check(m, blocks, nets, solved=sol["solved"])
        ok = info.get("grid_ok")
        row["check_ok"] = bool(row["fwd_err"] <= FWD_TOL and (ok is None or ok))
        row["check"] = json.dumps(info)
    else:
        row.update({"fwd_err": math.nan, "check_ok": "", "check": ""})
    return row


# -- networks and their indicators -------------------------------------------
def network_facts(problem, trained: dict, *, quick: bool) -> dict:
    """Layers, errors, linear regions and interval-stable share of a variant's networks."""
    nets = {k: t.network for k, t in trained.items()}
    boxes = problem.input_boxes(nets)
    seen, regions, exact, n, stable = set(), 0, True, 0, 0
    for name, net in problem.block_networks(nets).items():
        lb, ub = boxes[name]
        if id(net) in seen:
            continue
        seen.add(id(net))
        rc = count_linear_regions(
            net, lb, ub, time_limit=5.0 if quick else 30.0, n_samples=20_000 if quick else 100_000
        )
        regions, exact = regions + rc.count, exact and rc.exact
        rep = stable_fraction(interval_bounds(net, lb, ub))
        n, stable = n + rep.n, stable + rep.n_stable
    layers = sorted({"-".join(map(str, t.network.layer_sizes)) for t in trained.values()})
    return {
        "layers": " ".join(layers),
        "train_mse": float(np.mean([t.train_mse for t in trained.values()])),
        "val_mse": float(np.mean([t.val_mse for t in trained.values()])),
        "regions": regions,
        "regions_exact": exact,
        "stable_interval": stable / n if n else 1.0,
    }


# -- the suite file ----------------------------------------------------------
def _choose(kind: str, names, valid, default) -> list[str]:
    """``names`` without repeats, checked against ``valid`` (None: ``default``)."""
    if names is None:
        return list(default)
    names = list(dict.fromkeys([names] if isinstance(names, str) else names))
    if not names:
        raise UnknownOptionError(
            f"the list of {kind}s is empty; pass one or more of: {', '.join(valid)}."
        )
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise UnknownOptionError(
            f"unknown {kind}(s) {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}."
        )
    return names


def _check_time_limit(time_limit, quick: bool) -> float:
    if time_limit is None:
        return 10.0 if quick else 60.0
    try:
        value = float(time_limit)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(time_limit, bool) or not (math.isfinite(value) and value > 0):
        raise UnknownOptionError(
            f"time_limit must be a finite number of SCIP seconds > 0, found {time_limit!r}; "
            "leave it out for the default (10 quick, 60 full)."
        )
    return value


def _folder(path: Path, what: str) -> Path:
    """``path`` created if needed and writable; SuiteFileError otherwise."""
    if path.exists() and not path.is_dir():
        raise SuiteFileError(
            f"the {what} {str(path)!r} is a file, not a folder; pass a folder path."
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SuiteFileError(
            f"cannot create the {what} {str(path)!r} ({exc.strerror or exc}); pass a folder that "
            "can be written."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SuiteFileError(
            f"the {what} {str(path)!r} is not writable; pass a folder that can be written."
        )
    return path


def _start_new(path: Path) -> str:
    """Move an existing, non-empty ``path`` aside (``suite.csv.bak``, ``suite.csv.1.bak``, ...)."""
    if not path.exists() or path.stat().st_size == 0:
        return ""
    backup, k = path.with_name(path.name + ".bak"), 0
    while backup.exists():
        k += 1
        backup = path.with_name(f"{path.name}.{k}.bak")
    path.rename(backup)
    return backup.name


def _read_suite(path: Path) -> tuple[list[dict], bool]:
    """The complete rows of an existing ``suite.csv`` (header checked), and whether it needs a
    repair.

    The runner writes every row whole, ending with a line break; a last row without one
    was cut off by a crash, so it is left out (and rerun).  A blank file holds no rows.
    Repair (:func:`_repair`) rewrites the file with just the complete rows.
    """
    if not path.exists():
        return [], False
    try:  # a path that is not a file was refused by _open_suite
        with open(path, newline="", encoding="utf-8") as fh:
            text = fh.read()
        records = list(csv.reader(io.StringIO(text)))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise SuiteFileError(f"{path}: not a readable CSV file ({exc}); {_FIX}") from None
    if not text.strip():
        return [], True  # a blank file: removed, so the first row writes the header
    header, records = records[0], records[1:]
    if header != list(FIELDS):
        missing = [f for f in FIELDS if f not in header]
        extra = [h for h in header if h not in FIELDS]
        if len(missing) == len(FIELDS):
            found = f"none of the columns of a suite.csv (header: {', '.join(header)[:200]})"
        else:
            found = (
                "columns that differ from this version's suite.csv (missing: "
                f"{', '.join(missing) or '-'}; "
                "unexpected: "
                f"{', '.join(extra) or '-'}{'; order differs' if not (missing or extra) else ''})"
            )
        raise SuiteFileError(f"{path}: it has {found}, so rows cannot be added to it; {_FIX}")
    cut = bool(records) and (not text.endswith("\n") or len(records[-1]) != len(FIELDS))
    if cut:
        records = records[:-1]
    for k, rec in enumerate(records):
        if len(rec) != len(FIELDS):
            raise SuiteFileError(
                f"{path}: data row {k + 1} has {len(rec)} cells, expected {len(FIELDS)}; the file "
                "was edited or "
                f"damaged: {_FIX}"
            )
    return [dict(zip(FIELDS, rec)) for rec in records], cut


def _repair(path: Path, rows: list[dict]) -> None:
    """Rewrite ``path`` with the complete ``rows`` only (atomically), or remove a file without
    rows."""
    if not rows:
        path.unlink()
        return
    warnings.warn(
        f"{path}: the last row was cut off (an interrupted run); it is dropped and run again.",
        stacklevel=4,
    )
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


_FIX = (
    "move the file away, pass another output folder, or start a new file (resume=False, "
    "`--no-resume`), "
    "which keeps the old one as suite.csv.bak."
)


def _check_time_limits(path: Path, rows: list[dict], problems, time_limit: float) -> None:
    """Rows of the same problem must have been solved with the same SCIP time limit."""
    for r in rows:
        if r["problem"] not in problems:
            continue
        try:
            same = float(r["time_limit"]) == time_limit
        except ValueError:
            same = False
        if not same:
            raise SuiteFileError(
                f"{path} holds {r['problem']} runs with a SCIP time limit of {r['time_limit']!r} "
                "s, but this run "
                f"uses {time_limit:g} s; rows with other limits are not comparable. Pass that "
                "time limit to "
                f"continue the file, or {_FIX}"
            )


def _check_networks(path: Path, rows: list[dict], problem: str, variant: str, layers: str) -> None:
    """Rows of a problem and variant must come from the same networks (quick and full runs
    differ)."""
    old = sorted(
        {r["layers"] for r in rows if (r["problem"], r["variant"]) == (problem, variant)} - {layers}
    )
    if old:
        raise SuiteFileError(
            f"{path} holds {problem}/{variant} runs on networks {', '.join(old)}, but this run "
            f"trains {layers} "
            "(quick and full runs use different networks); run with the same settings (quick or "
            "not) to "
            f"continue the file, or {_FIX}"
        )


def _open_suite(path: Path, *, resume: bool, problems: set, time_limit: float) -> list[dict]:
    """The rows to keep: those of a resumable ``suite.csv`` (repaired if cut off), or none for a new
    file."""
    if path.exists() and not path.is_file():
        raise SuiteFileError(
            f"{str(path)!r} is not a file; move it away or pass another output folder."
        )
    if not resume:
        backup = _start_new(path)
        if backup:
            warnings.warn(
                f"started a new {path}; the previous one is kept as {backup}.", stacklevel=3
            )
        return []
    rows, repair = _read_suite(path)
    _check_time_limits(path, rows, problems, time_limit)
    if repair:
        _repair(path, rows)
    return rows


def _append(path: Path, row: dict) -> None:
    new = not path.exists()
    with open(path, "a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore")
        if new:
            writer.writeheader()
        writer.writerow(row)


def _train(problem, variant, cache: Path, quick: bool) -> dict:
    try:
        return problem.train_networks(variant, cache_dir=cache, quick=quick)
    except (json.JSONDecodeError, KeyError, UnicodeDecodeError) as exc:
        raise SuiteFileError(
            f"{problem.name}/{variant.name}: a cached network in {cache} is damaged "
            f"({type(exc).__name__}: {exc}); "
            f"delete the files {problem.name}-*{variant.name}-* there and they are trained again."
        ) from None


# -- the suite ---------------------------------------------------------------
def _run_variant(
    problem, variant, todo, *, csv_path, rows, cache, quick, time_limit, bar, executor
) -> None:
    """Train (or load) the networks of one variant; append one row per configuration in ``todo``."""
    bar.set_postfix_str(f"{problem.name}/{variant.name}: training")
    trained = _train(problem, variant, cache, quick)
    nets = {k: t.network for k, t in trained.items()}
    facts = network_facts(problem, trained, quick=quick)
    _check_networks(csv_path, rows, problem.name, variant.name, facts["layers"])
    bar.set_postfix_str(f"{problem.name}/{variant.name}: solving")
    args = (problem.name, nets, time_limit, quick)
    for config, measured in _instance_rows(args, todo, executor):
        row = {
            "problem": problem.name,
            "variant": variant.name,
            "config": config,
            "time_limit": time_limit,
            **facts,
            **measured,
        }
        _append(csv_path, row)  # at once: an interrupted run keeps its finished rows
        bar.update(1)


def instance_row(problem: str, nets: dict, config: str, time_limit: float, quick: bool) -> dict:
    """The measured fields of one configuration (:func:`run_instance`), or the error it ended with.

    A module-level function of plain arguments (the problem by name, the networks as
    data), so that an executor can run it in another process or on a cluster worker.
    """
    try:
        return run_instance(get_problem(problem), nets, config, time_limit=time_limit, quick=quick)
    except Exception as exc:  # recorded, not hidden: the row says what failed
        message = " ".join(f"error: {type(exc).__name__}: {exc}".split())  # one line
        return {"status": message[:300], "solved": False}


def _instance_rows(args: tuple, todo: list, executor):
    """Yield ``(config, measured fields)`` for each configuration of ``todo``.

    Without an executor, one after the other in this process.  With one, all are
    submitted at once and yielded as they finish; when the executor fails (``submit``
    or a future raises), an ``ExecutorWarning`` says so and the configurations it did
    not return are run here.  Ctrl-C cancels the ones not started.
    """
    problem, nets, time_limit, quick = args
    if executor is None:
        for config in todo:
            yield config, instance_row(problem, nets, config, time_limit, quick)
        return
    futures, local = {}, []
    try:
        for config in todo:
            if local:
                local.append(config)
                continue
            try:
                futures[executor.submit(instance_row, problem, nets, config, time_limit, quick)] = (
                    config
                )
            except Exception as exc:  # e.g. a client that was closed
                _executor_failed(exc, warned=False)
                local.append(config)
        warned = bool(local)
        for fut in as_completed(futures):
            config = futures.pop(fut)
            try:
                measured = fut.result()
            except Exception as exc:  # a lost worker: this configuration is run here
                warned = _executor_failed(exc, warned)
                measured = instance_row(problem, nets, config, time_limit, quick)
            yield config, measured
        for config in local:
            yield config, instance_row(problem, nets, config, time_limit, quick)
    finally:
        for fut in futures:  # after Ctrl-C or an error: those not started never start
            fut.cancel()


def _executor_failed(exc: Exception, warned: bool) -> bool:
    if not warned:
        warnings.warn(
            ExecutorWarning(
                f"bench: the executor failed ({type(exc).__name__}: {exc}); the "
                "configurations it did not return are run in this process - check the "
                "executor or its workers."
            ),
            stacklevel=4,
        )
    return True


def run(
    out_dir,
    *,
    quick: bool = False,
    problems=None,
    variants=None,
    configs=None,
    time_limit=None,
    resume: bool = True,
    cache_dir=None,
    progress: bool = True,
    executor=None,
) -> Path:
    """Run the suite and write ``suite.csv``, ``suite.md`` and ``suite.png`` into ``out_dir``.

    Parameters
    ----------
    out_dir : path
    quick : bool
        Small networks, two variants, short limits (finishes in minutes).
    problems, variants, configs : sequence of str, optional
        Subsets (default: all problems and configurations; variants per ``quick``).
        Repeated names run once.
    time_limit : float, optional
        SCIP seconds per solve, > 0 (default 10 quick, 60 full).
    resume : bool
        Keep rows already in ``suite.csv`` and skip them; False starts a new file and keeps
        the old one as ``suite.csv.bak`` (``suite.csv.1.bak``, ... when that exists).
    cache_dir : path, optional
        Where trained networks are cached (default ``~/.cache/pyomo_relu/bench``).
    progress : bool
        Show a tqdm progress bar.
    executor : concurrent.futures.Executor, optional
        Run the configurations of a variant concurrently on it, e.g. a dask cluster's
        ``distributed.Client(...).get_executor(pure=False)`` (docs/distributed.md).  The
        networks are trained (or loaded) here; each configuration is built, tightened and
        solved in a worker, whose CPU seconds are those recorded.  Rows are appended as they
        finish.  Default: one after the other in this process.

    Returns
    -------
    Path
        The CSV file.

    Raises
    ------
    UnknownOptionError
        For an unknown or empty list of problems, variants or configurations, or a time
        limit that is not a positive number (the message lists the valid names).
    SuiteFileError
        When ``out_dir`` or ``cache_dir`` cannot be written, or an existing ``suite.csv``
        cannot be resumed: other columns (another version or program), damaged rows,
        another time limit or other networks for the same problem and variant.
        Nothing is written or moved before these checks pass.
    """
    from tqdm.auto import tqdm

    from .report import write_report

    # every check before the first file is touched: a typo must not cost a finished suite.csv
    time_limit = _check_time_limit(time_limit, quick)
    executor = check_executor(executor, "bench: ")
    probs = [
        get_problem(p)
        for p in _choose("benchmark problem", problems, tuple(PROBLEMS), DEFAULT_PROBLEMS)
    ]
    chosen = select_variants(
        None
        if variants is None
        else _choose("network variant", variants, [v.name for v in VARIANTS], ()),
        quick=quick,
    )
    configs = _choose("configuration", configs, CONFIGS, CONFIGS)
    out = _folder(Path(out_dir), "output folder")
    cache = _folder(Path(cache_dir) if cache_dir else default_cache_dir(), "network cache folder")
    csv_path = out / "suite.csv"
    rows = _open_suite(
        csv_path, resume=resume, problems={p.name for p in probs}, time_limit=time_limit
    )
    done = {(r["problem"], r["variant"], r["config"]) for r in rows}
    bar = tqdm(total=len(probs) * len(chosen) * len(configs), desc="bench", disable=not progress)
    try:  # the bar is closed before an error is printed
        for problem in probs:
            for variant in chosen:
                todo = [c for c in configs if (problem.name, variant.name, c) not in done]
                bar.update(len(configs) - len(todo))
                if todo:
                    _run_variant(
                        problem,
                        variant,
                        todo,
                        csv_path=csv_path,
                        rows=rows,
                        cache=cache,
                        quick=quick,
                        time_limit=time_limit,
                        bar=bar,
                        executor=executor,
                    )
    finally:
        bar.close()
    write_report(csv_path, out)
    return csv_path
