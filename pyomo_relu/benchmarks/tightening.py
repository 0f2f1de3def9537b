"""Cost and effect of LP/MILP bound tightening, side by side.

Run with ``python -m pyomo_relu.benchmarks.tightening [--out DIR] [--quick]``.
On seeded random networks (2-10 inputs, 3-5 hidden layers of 50-100 ReLU
neurons, He-initialised with a positive bias so that many neurons are
unstable over the box ``[-1, 1]^n``) it measures in one run:

(a) ``lp_bounds`` serial; (b) ``lp_bounds(workers=2)`` (pool start-up
included); (c) the naive approach: a Pyomo ``ConcreteModel`` of the *same*
relaxation per layer (built from the bounds (a) used), re-solved per neuron
through ``appsi_highs`` with the objective rebuilt each time.  The naive
approach is timed on at most ``naive_per_layer`` candidate neurons per layer
and extrapolated per layer: the Pyomo model's build once, plus the mean time
per solve x the solves (a) made in that layer; the table says how many solves
were timed.  Its optimal values are checked
against our certified bounds (column ``max|diff|``).

Then (d) the effect: min output 0 over the box with
``ReluNetworkBlock(formulation="bigm")`` and interval, LP and MILP bounds,
solved by SCIP (``scip_direct``) with a time limit.

Results go to ``tightening.md`` and ``tightening.csv`` / ``tightening_solve.csv``.

``--tiers`` instead compares the bound tiers side by side (:func:`run_tiers`): interval,
symbolic (DeepPoly back-substitution), symbolic with optimized slopes (alpha-CROWN), LP and
symbolic then LP, on trained and random networks of 2-10 inputs and 3-6 hidden layers (peaks2
2-50x3-1, ackley5 5-50x5-1, a random 5-50x6-5, the oil problem's nine networks).  Each
configuration runs in its own process: the tightening time, the unstable neurons, the mean
width, the big-M sum, and the SCIP solve of the big-M model with those bounds (the model that
``tightened_bigm`` builds).  Results go to ``symbolic.md`` / ``symbolic.csv``.
The host's load average is written beside the timings: on a busy machine the
wall-clock speed-up of (b) says little, so the CPU seconds of this process
and of the pool's worker are recorded too; ``speedup_idle_estimate`` =
serial CPU / max(parent CPU, worker CPU incl. its start-up) is the speed-up
an otherwise idle 2-core machine would show (an estimate, labelled as such).
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import numpy as np

from ..bounds.interval import interval_bounds
from ..bounds.lp import lp_bounds
from ..bounds.milp import milp_bounds
from ..bounds.symbolic import symbolic_bounds
from ..network import ReluNetwork
from ._tables import write_csv

__all__ = [
    "random_network",
    "networks",
    "naive_pyomo_lp",
    "extrapolate",
    "run",
    "TIERS",
    "tier_bounds",
    "tier_row",
    "run_tiers",
]

TIME_FIELDS = (
    "network",
    "neurons",
    "lp_solves",
    "lp_serial_s",
    "lp_workers2_s",
    "speedup_workers2",
    "cpu_serial_s",
    "cpu_parent_s",
    "cpu_worker_s",
    "speedup_idle_estimate",
    "naive_timed_solves",
    "naive_s",
    "naive_extrapolated",
    "naive_over_serial",
    "naive_scip_timed_solves",
    "naive_scip_s",
    "naive_scip_over_serial",
    "max_abs_diff",
    "stable_interval",
    "stable_symbolic",
    "stable_lp",
    "mean_M_interval",
    "mean_M_symbolic",
    "mean_M_lp",
    "symbolic_s",
    "load_avg",
)
SOLVE_FIELDS = (
    "network",
    "bounds",
    "tighten_s",
    "binaries",
    "mean_M",
    "solve_s",
    "status",
    "objective",
    "bound",
    "nodes",
)


def random_network(sizes, *, seed: int, bias: float = 0.5) -> ReluNetwork:
    """He-initialised ReLU network with a linear output layer."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(size=(sizes[k + 1], sizes[k])) * np.sqrt(2.0 / sizes[k])
        for k in range(len(sizes) - 1)
    ]
    biases = [rng.normal(size=sizes[k + 1]) * bias for k in range(len(sizes) - 1)]
    return ReluNetwork.from_arrays(weights, biases)


def networks(quick: bool) -> dict:
    """name -> network (all on the box [-1, 1]^n_inputs)."""
    sizes = (
        [(2, 50, 50, 50, 1)]
        if quick
        else [
            (2, 50, 50, 50, 1),
            (4, 60, 60, 60, 60, 1),
            (6, 80, 80, 80, 1),
            (10, 100, 100, 100, 100, 100, 1),
        ]
    )
    return {"-".join(map(str, s)): random_network(s, seed=10 + i) for i, s in enumerate(sizes)}


def solve_networks(quick: bool) -> dict:
    """Smaller networks for the SCIP part, sized so that SCIP can prove optimality within the
    limit."""
    sizes = (
        [(2, 20, 20, 20, 1)]
        if quick
        else [
            (2, 20, 20, 20, 1),
            (3, 25, 25, 25, 1),
            (2, 15, 15, 15, 15, 1),
            (4, 30, 30, 1),
            (2, 30, 30, 30, 1),
        ]
    )
    return {"-".join(map(str, s)): random_network(s, seed=40 + i) for i, s in enumerate(sizes)}


def _relaxation_model(net: ReluNetwork, bounds, k: int):
    """Pyomo model of the LP relaxation of layers < k (the same rows as ``build_layer_lp``)."""
    import pyomo.environ as pyo

    m = pyo.ConcreteModel()
    n0 = net.n_inputs
    m.x = pyo.Var(range(n0), bounds=lambda _, i: (bounds.input_lb[i], bounds.input_ub[i]))
    m.c = pyo.ConstraintList()
    prev = [m.x[i] for i in range(n0)]
    for i in range(k):
        layer, lo, up = net.layers[i], bounds.lower[i], bounds.upper[i]
        p_lo, p_up = bounds.post_bounds(i)
        z = pyo.Var(range(layer.n_out), bounds=dict(enumerate(zip(lo, up))))
        a = pyo.Var(range(layer.n_out), bounds=dict(enumerate(zip(p_lo, p_up))))
        m.add_component(f"z{i}", z)
        m.add_component(f"a{i}", a)
        for j in range(layer.n_out):
            m.c.add(
                z[j]
                == sum(float(w) * v for w, v in zip(layer.weights[j], prev)) + float(layer.bias[j])
            )
            if up[j] <= 0:
                continue
            if lo[j] >= 0:
                m.c.add(a[j] == z[j])
            else:  # triangle
                m.c.add(a[j] >= z[j])
                m.c.add(a[j] <= up[j] * (z[j] - lo[j]) / (up[j] - lo[j]))
        prev = [a[j] for j in range(layer.n_out)]
    return m, prev


def naive_pyomo_lp(net: ReluNetwork, bounds, *, per_layer: int, solver: str = "appsi_highs"):
    """Time the per-neuron Pyomo approach on up to ``per_layer`` candidates per layer.

    ``solver="scip_direct"``: Pyomo's interface to the package's reference
    solver, which translates the model into SCIP on every solve (the naive
    route).  ``solver="appsi_highs"``: APPSI's persistent HiGHS interface,
    which only updates the objective and keeps HiGHS' basis (a strong
    baseline, reported beside it).

    Returns ``(per_layer_times, max |value - our bound|)`` where
    ``per_layer_times[k] = (build seconds, solve seconds, solves)``: building
    the layer's Pyomo model is timed apart from the solves, so that
    :func:`extrapolate` charges it once per layer, not once per timed solve.
    ``bounds`` are our LP bounds, whose earlier layers define each layer's relaxation.
    """
    import pyomo.environ as pyo

    ref = interval_bounds(net, bounds.input_lb, bounds.input_ub)
    times, diff = {}, 0.0
    for k in range(1, net.n_layers):
        cand = (
            np.flatnonzero(ref.unstable(k))
            if k < net.n_layers - 1
            else np.arange(net.layers[k].n_out)
        )
        start = time.perf_counter()
        m, prev = _relaxation_model(net, bounds, k)
        opt = _naive_solver(solver)
        built = time.perf_counter()
        solves = 0
        for j in cand[:per_layer]:
            expr = sum(float(w) * v for w, v in zip(net.layers[k].weights[j], prev)) + float(
                net.layers[k].bias[j]
            )
            for sense, ours in (
                (pyo.maximize, bounds.upper[k][j]),
                (pyo.minimize, bounds.lower[k][j]),
            ):
                if m.component("obj") is not None:
                    m.del_component("obj")
                m.obj = pyo.Objective(expr=expr, sense=sense)
                opt.solve(m)
                solves += 1
                if sense == pyo.maximize or bounds.upper[k][j] > 0 or k == net.n_layers - 1:
                    diff = max(diff, abs(pyo.value(m.obj) - ours))
        times[k] = (built - start, time.perf_counter() - built, solves)
    return times, diff


def extrapolate(times: dict, report) -> tuple[float, int]:
    """Naive seconds for all the solves our run made: per layer, model build + mean solve time x our
    solves.

    Returns ``(seconds, timed solves)``.
    """
    total, timed = 0.0, 0
    ours = {lr.layer: lr.n_solves for lr in report.layers}
    for k, (build, solve, n) in times.items():
        timed += n
        if n and ours.get(k, 0):
            total += build + solve / n * ours[k]
    return total, timed


def _naive_solver(name: str):
    import pyomo.environ as pyo

    if name == "scip_direct":
        from pyomo.contrib.solver.common.factory import SolverFactory

        return SolverFactory("scip_direct")
    return pyo.SolverFactory(name)


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its finished children (pool workers)."""
    own, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _timing_row(name, net, per_layer) -> tuple[dict, object]:
    lb, ub = -np.ones(net.n_inputs), np.ones(net.n_inputs)
    ib = interval_bounds(net, lb, ub)
    t0 = time.perf_counter()
    sb = symbolic_bounds(net, lb, ub)
    t_symbolic = time.perf_counter() - t0
    c0, t0 = _cpu(), time.perf_counter()
    serial = lp_bounds(net, lb, ub)
    t_serial, cpu_serial = time.perf_counter() - t0, _cpu()[0] - c0[0]
    c0, t0 = _cpu(), time.perf_counter()
    lp_bounds(net, lb, ub, workers=2)
    t_par = time.perf_counter() - t0
    cpu_parent, cpu_worker = _cpu()[0] - c0[0], _cpu()[1] - c0[1]
    naive_times, diff = naive_pyomo_lp(net, serial, per_layer=per_layer)
    scip_times, scip_diff = naive_pyomo_lp(
        net, serial, per_layer=max(1, per_layer // 3), solver="scip_direct"
    )
    n_solves = serial.report.n_solves
    naive_full, naive_n = extrapolate(naive_times, serial.report)
    scip_full, scip_n = extrapolate(scip_times, serial.report)
    hidden = range(net.n_layers - 1)
    stable = lambda b: int(sum(b.stable(k).sum() for k in hidden))  # noqa: E731
    mean_m = lambda b: float(np.mean(b.unstable_big_m(hidden)))  # noqa: E731
    row = dict(
        network=name,
        neurons=sum(net.layer_sizes[1:-1]),
        lp_solves=n_solves,
        lp_serial_s=t_serial,
        lp_workers2_s=t_par,
        speedup_workers2=t_serial / t_par,
        cpu_serial_s=cpu_serial,
        cpu_parent_s=cpu_parent,
        cpu_worker_s=cpu_worker,
        speedup_idle_estimate=cpu_serial / max(cpu_parent, cpu_worker),
        naive_timed_solves=naive_n,
        naive_s=naive_full,
        naive_extrapolated=naive_n < n_solves,
        naive_over_serial=naive_full / t_serial,
        naive_scip_timed_solves=scip_n,
        naive_scip_s=scip_full,
        naive_scip_over_serial=scip_full / t_serial,
        max_abs_diff=max(diff, scip_diff),
        stable_interval=stable(ib),
        stable_symbolic=stable(sb),
        stable_lp=stable(serial),
        mean_M_interval=mean_m(ib),
        mean_M_symbolic=mean_m(sb),
        mean_M_lp=mean_m(serial),
        symbolic_s=t_symbolic,
        load_avg=os.getloadavg()[0],
    )
    return row, serial


def _solve_rows(name, net, lp, time_limit, milp_limit) -> list:
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock
    from ..solving import solve_model

    lb, ub = -np.ones(net.n_inputs), np.ones(net.n_inputs)
    t0 = time.perf_counter()
    ml = milp_bounds(net, lb, ub, prior=lp, time_limit_per_neuron=1.0, time_limit=milp_limit)
    t_milp = time.perf_counter() - t0
    t0 = time.perf_counter()
    sb = symbolic_bounds(net, lb, ub)
    choices = [
        ("interval", interval_bounds(net, lb, ub), 0.0),
        ("symbolic", sb, time.perf_counter() - t0),
        ("lp", lp, lp.report.total_time),
        ("milp", ml, lp.report.total_time + t_milp),
    ]
    rows = []
    for label, bounds, t_tight in choices:
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(net.n_inputs), bounds=(-1.0, 1.0))
        m.nn = ReluNetworkBlock(network=net, inputs=m.x, bounds=bounds, formulation="bigm")
        m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
        out = solve_model(
            m, time_limit=time_limit, settings="default"
        )  # SCIP defaults, as in the committed tables
        hidden = range(net.n_layers - 1)
        rows.append(
            dict(
                network=name,
                bounds=label,
                tighten_s=t_tight,
                binaries=int(sum(bounds.n_binaries(k).sum() for k in hidden)),
                mean_M=float(np.mean(bounds.unstable_big_m(hidden))),
                solve_s=out.seconds,
                status=out.status,
                objective=out.objective,
                bound=out.bound,
                nodes=out.nodes,
            )
        )
    return rows


def _fmt(v) -> str:
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}"
    return "" if v is None else str(v)


def _table(rows, fields) -> list:
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    return lines + ["| " + " | ".join(_fmt(r[f]) for f in fields) + " |" for r in rows]


def run(
    out_dir, quick: bool = False, *, time_limit: float = 120.0, naive_per_layer: int | None = None
) -> Path:
    """Run the benchmark and write ``tightening.md`` plus CSV files into ``out_dir``; return the md
    path.

    The files are rewritten after every network, so a long run leaves its
    finished part behind.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    per_layer = naive_per_layer if naive_per_layer is not None else (5 if quick else 15)
    timing, solving = [], []
    for name, net in networks(quick).items():
        row, _ = _timing_row(name, net, per_layer)
        timing.append(row)
        path = _write(out, timing, solving, per_layer)
    for name, net in solve_networks(quick).items():
        lp = lp_bounds(net, -np.ones(net.n_inputs), np.ones(net.n_inputs))
        solving += _solve_rows(
            name, net, lp, 20.0 if quick else time_limit, 30.0 if quick else 120.0
        )
        path = _write(out, timing, solving, per_layer)
    return path


def _write(out: Path, timing, solving, per_layer) -> Path:
    write_csv(out / "tightening.csv", timing, TIME_FIELDS)
    write_csv(out / "tightening_solve.csv", solving, SOLVE_FIELDS)
    text = [
        "# Bound tightening: cost and effect",
        "",
        f"Host: {os.cpu_count()} cores; seeded random networks on [-1, 1]^n; times in seconds.",
        "",
        "## Cost of LP tightening (ours serial, ours with 2 workers, per-neuron Pyomo models)",
        "",
        *_table(timing, TIME_FIELDS),
        "",
        "`speedup_idle_estimate` is serial CPU time over the larger of the two processes' CPU "
        "times in the "
        "2-worker run (an estimate for an idle machine; the wall-clock ratio is "
        "`speedup_workers2`).",
        "",
        f"The naive time is measured on `naive_timed_solves` solves (at most {per_layer} neurons "
        "per layer) "
        "and extrapolated per layer where `naive_extrapolated` says so: the layer's Pyomo model "
        "is built once, "
        "then each of our solves in that layer costs the mean time of a timed solve. "
        "`max_abs_diff` compares "
        "its optimal values with our certified bounds on the timed neurons. `naive_scip_*`: the "
        "same per-neuron "
        "Pyomo model solved through `scip_direct` (the model is translated into SCIP for every "
        "solve: the naive "
        "route); `naive_*`: through APPSI's persistent HiGHS interface (only the objective is "
        "updated, HiGHS "
        "keeps its basis), a strong baseline.",
        "",
        "## Effect on SCIP: min output 0, `bigm` formulation, interval vs symbolic vs LP vs MILP "
        "bounds",
        "",
        "Smaller seeded networks than above, so that SCIP can prove optimality; `solve_s` is "
        "SCIP's time, "
        "`tighten_s` the bound computation before it.",
        "",
        *_table(solving, SOLVE_FIELDS),
        "",
    ]
    return _write_text(out / "tightening.md", text)


def _write_text(path: Path, lines: list) -> Path:
    path.write_text("\n".join(lines))
    return path


# -- the bound tiers side by side ----------------------------------------------------------------
TIERS = ("interval", "symbolic", "symbolic_alpha", "lp", "symbolic+lp")
"""The configurations of :func:`run_tiers`: each tier alone, and LP from the symbolic bounds."""
TIER_FIELDS = (
    "network",
    "sizes",
    "tier",
    "tighten_s",
    "tighten_cpu_s",
    "lp_solves",
    "unstable",
    "hidden",
    "mean_width",
    "big_m_sum",
    "methods",
    "solve_s",
    "status",
    "objective",
    "bound",
    "gap",
    "nodes",
    "load_avg",
)
TIER_NETWORKS = ("peaks2 2-50x3-1", "ackley5 5-50x5-1", "random 5-50x6-5", "oil")


def tier_bounds(tier: str, net: ReluNetwork, lb, ub):
    """Bounds of ``net`` over ``[lb, ub]`` by one configuration of :data:`TIERS`."""
    if tier == "interval":
        return interval_bounds(net, lb, ub)
    if tier in ("symbolic", "symbolic_alpha"):
        return symbolic_bounds(net, lb, ub, optimize=tier == "symbolic_alpha")
    prior = symbolic_bounds(net, lb, ub) if tier == "symbolic+lp" else None
    return lp_bounds(net, lb, ub, prior=prior)


def _tier_problem(name: str):
    """``(networks by block, boxes by block, build(bounds) -> model)`` of one tier network."""
    from .problems import BOX_FUNCTIONS, VARIANTS, default_cache_dir, oil

    if name == "oil":
        nets = oil.train_networks(VARIANTS[0], cache_dir=default_cache_dir())
        nets = {k: v.network for k, v in nets.items()}
        blocks = oil.block_networks(nets)
        return blocks, oil.input_boxes(nets), lambda b: oil.build_oil(nets, bounds=b)[0]
    if name.startswith("random"):
        net = random_network((5,) + (50,) * 6 + (5,), seed=7)
        box = (-np.ones(5), np.ones(5))
        return {"f": net}, {"f": box}, lambda b: _box_model(net, box, b["f"], "max")
    from . import paper

    problem, arch = name.split()
    dim, width, depth = int(arch.split("-")[0]), *map(int, arch.split("-")[1].split("x"))
    job = {"problem": problem, "hidden": (width,) * depth, "regularizer": "none", "strength": 0}
    net = paper._train(job, cache_dir=default_cache_dir() / "paper", quick=False).network
    assert net.n_inputs == dim
    box = BOX_FUNCTIONS[problem].box()
    return {"f": net}, {"f": box}, lambda b: _box_model(net, box, b["f"], "min")


def _box_model(net, box, bounds, sense: str):
    """``min`` / ``max`` output 0 of ``net`` over ``box``, big-M with ``bounds``."""
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (box[0][i], box[1][i]))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, bounds=bounds, formulation="bigm")
    m.obj = pyo.Objective(
        expr=m.nn.outputs[0], sense=pyo.minimize if sense == "min" else pyo.maximize
    )
    return m


def tier_row(name: str, tier: str, time_limit: float) -> dict:
    """Tighten every network of ``name`` by ``tier`` and solve the big-M model with SCIP.

    A network embedded twice (the oil riser) is tightened once.  ``unstable``, ``mean_width``
    (pre-activations of the hidden layers) and ``big_m_sum`` (``max(|l|, |u|)`` over the
    unstable neurons) are summed over the blocks.
    """
    from .runner import solve_scip

    blocks, boxes, build = _tier_problem(name)
    done, bounds, seconds, cpu, solves = {}, {}, 0.0, 0.0, 0
    for blk, net in blocks.items():
        if id(net) not in done:
            t0, c0 = time.perf_counter(), time.process_time()
            done[id(net)] = tier_bounds(tier, net, *boxes[blk])
            seconds += time.perf_counter() - t0
            cpu += time.process_time() - c0
            report = getattr(done[id(net)], "report", None)
            solves += 0 if report is None else report.n_solves
        bounds[blk] = done[id(net)]
    hidden = [(b, range(b.n_layers - 1)) for b in bounds.values()]
    widths = np.concatenate([b.upper[k] - b.lower[k] for b, h in hidden for k in h])
    sol = solve_scip(build(bounds), time_limit=time_limit)
    first = next(iter(blocks.values()))
    return dict(
        network=name,
        sizes="-".join(map(str, first.layer_sizes)) if len(blocks) == 1 else f"{len(blocks)} nets",
        tier=tier,
        tighten_s=seconds,
        tighten_cpu_s=cpu,
        lp_solves=solves,
        unstable=int(sum(int(b.unstable(k).sum()) for b, h in hidden for k in h)),
        hidden=int(widths.size),
        mean_width=float(widths.mean()),
        big_m_sum=float(sum(b.unstable_big_m(h).sum() for b, h in hidden)),
        methods="/".join(sorted({m for b in bounds.values() for m in b.methods})),
        load_avg=os.getloadavg()[0],
        **{k: sol[k] for k in ("solve_s", "status", "objective", "bound", "gap", "nodes")},
    )


def run_tiers(out_dir, *, time_limit: float = 60.0, names=TIER_NETWORKS, tiers=TIERS) -> Path:
    """Every (network, tier) of :func:`tier_row`, each in a fresh process; ``symbolic.md``.

    The files are rewritten after every row, so a long run leaves its finished part behind.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in names:
        for tier in tiers:
            ctx = multiprocessing.get_context("spawn")  # one clean process per configuration
            with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
                rows.append(pool.submit(tier_row, name, tier, time_limit).result())
            path = _write_tiers(out, rows, time_limit)
    return path


def tier_repeats(names=TIER_NETWORKS, tiers=("lp", "symbolic+lp"), reps: int = 3) -> list:
    """CPU seconds of the tightening alone, ``reps`` times per tier, the tiers interleaved.

    On a shared machine one measurement per configuration mixes the tiers' difference with the
    other processes' load; interleaved repeats in one process show how large that noise is.
    """
    rows = []
    for name in names:
        blocks, boxes, _ = _tier_problem(name)
        nets = {id(net): (net, boxes[blk]) for blk, net in blocks.items()}
        times = {tier: [] for tier in tiers}
        for _ in range(reps):
            for tier in tiers:
                c0 = time.process_time()
                for net, box in nets.values():
                    tier_bounds(tier, net, *box)
                times[tier].append(time.process_time() - c0)
        for tier in tiers:
            t = np.array(times[tier])
            rows.append(
                dict(
                    network=name,
                    tier=tier,
                    reps=reps,
                    cpu_min_s=t.min(),
                    cpu_median_s=float(np.median(t)),
                    cpu_max_s=t.max(),
                )
            )
    return rows


def _write_tiers(out: Path, rows, time_limit: float) -> Path:
    write_csv(out / "symbolic.csv", rows, TIER_FIELDS)
    text = [
        "# Bound tiers: interval, symbolic, LP",
        "",
        f"Host: {os.cpu_count()} cores (shared); one process per row; times in seconds "
        "(`tighten_s` wall clock, `tighten_cpu_s` CPU of the tightening). "
        f"`solve_s`: SCIP's CPU time on the big-M model with those bounds ({time_limit:g} s "
        "limit; peaks2/ackley5: min output, random: max output 0, oil: the production problem).",
        "",
        *_table(rows, TIER_FIELDS),
        "",
    ]
    return _write_text(out / "symbolic.md", text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="pyomo_relu/benchmarks/results", help="output folder")
    parser.add_argument("--quick", action="store_true", help="one small network, short time limits")
    parser.add_argument(
        "--time-limit", type=float, default=120.0, help="SCIP time limit per solve (s)"
    )
    parser.add_argument(
        "--tiers", action="store_true", help="compare interval/symbolic/LP tiers (symbolic.md)"
    )
    parser.add_argument(
        "--tier-repeats", type=int, default=0, help="also time LP vs symbolic+LP N times"
    )
    args = parser.parse_args(argv)
    if args.tier_repeats:
        fields = ("network", "tier", "reps", "cpu_min_s", "cpu_median_s", "cpu_max_s")
        rows = tier_repeats(reps=args.tier_repeats)
        write_csv(Path(args.out) / "symbolic_repeats.csv", rows, fields)
        print("\n".join(_table(rows, fields)))
    if args.tiers:
        print(run_tiers(args.out, time_limit=args.time_limit).read_text())
        return 0
    print(run(args.out, quick=args.quick, time_limit=args.time_limit).read_text())
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
