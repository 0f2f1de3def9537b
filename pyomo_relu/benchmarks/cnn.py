"""Robustness verification of the shipped digits CNN over L-infinity balls, against OMLT.

Run with ``python -m pyomo_relu.benchmarks.cnn [--out DIR] [--quick]``.  For a
test image ``x0`` of class ``t`` and a radius ``eps``, the input set is the
ball ``{x : |x - x0|_inf <= eps}`` clipped to the pixel range [0, 1]; for
every other class ``j`` the margin ``logit_j - logit_t`` is maximized over it
(:meth:`~pyomo_relu.block.ReluNetworkBlockData.margin`).  A pair is
``certified`` when SCIP's proven upper bound of the margin is below 0 (or the
output bounds prove it without a solve: ``bounds``), a ``counterexample`` when
the maximizer has a positive margin under the network's forward pass (and its
image is checked again with onnxruntime on the ONNX file), ``unknown``
otherwise (time limit).  The image is certified when every pair is.

The same queries run with OMLT's ``ReluBigMFormulation`` on the same ONNX file
(its own reader, convolution and max-pool formulations), one fresh process per
solve, with the same SCIP settings and time limit.  :func:`pool_bounds` compares
the bounds of the layer after the max-pool (ours lowered to ReLU layers, OMLT's
native max-pool rows); docs/cnn.md discusses the results.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ..bounds import interval_bounds
from ..errors import InfeasibleBoxError, ShapeMismatchError
from ..io import load_onnx
from ._tables import write_csv

#: variant -> ONNX file in pyomo_relu/data (see train_digits_cnn)
NETWORKS = {"pool": "digits_cnn.onnx", "stride": "digits_cnn_stride.onnx"}
#: radii of the benchmark (pixels in [0, 1])
EPSILONS = (0.02, 0.05, 0.1)
#: SCIP on its CPU clock: on a shared machine wall-clock limits would measure other processes
SCIP_OPTIONS = {"timing/clocktype": 1}
#: the decision version of a margin query: SCIP stops as soon as its dual bound is below 0
#: (certified) or it has a solution above 0 (a candidate counterexample); both queries of a
#: comparison get the same options
DECIDE_OPTIONS = {"limits/dual": -1e-6, "limits/primal": 1e-6}


def data_path(name: str) -> Path:
    """Path of a file shipped in ``pyomo_relu/data``."""
    return Path(str(importlib.resources.files("pyomo_relu") / "data" / name))


def load_network(variant: str = "pool"):
    """The shipped digits CNN ``variant`` (a key of :data:`NETWORKS`) as a ReluNetwork."""
    if variant not in NETWORKS:
        raise ValueError(f"unknown digits CNN {variant!r}; valid: {', '.join(NETWORKS)}.")
    return load_onnx(data_path(NETWORKS[variant]))


def load_samples() -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)``: 20 held-out test images (rows of 64 pixels in [0, 1]) and their labels."""
    with np.load(data_path("digits_samples.npz")) as data:
        return np.array(data["X"], dtype=np.float64), np.array(data["y"], dtype=np.int64)


def linf_ball(x0, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """``(lb, ub)`` of the L-infinity ball of radius ``eps`` around ``x0``, clipped to [0, 1]."""
    x0 = np.asarray(x0, dtype=np.float64)
    if not (math.isfinite(eps) and eps >= 0):
        raise InfeasibleBoxError(f"linf_ball: eps must be a finite number >= 0, found {eps!r}.")
    if x0.ndim != 1 or np.any(x0 < 0) or np.any(x0 > 1):
        raise ShapeMismatchError(
            f"linf_ball: x0 must be a flat image with pixels in [0, 1], found shape {x0.shape} "
            f"and range [{x0.min():.3g}, {x0.max():.3g}]; scale the image to [0, 1] first."
        )
    return np.clip(x0 - eps, 0.0, 1.0), np.clip(x0 + eps, 0.0, 1.0)


def onnx_logits(path, x: np.ndarray) -> np.ndarray:
    """Logits of the ONNX file at the images ``x`` (rows of 64 pixels), with onnxruntime."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    images = np.asarray(x, dtype=np.float32).reshape(-1, 1, 8, 8)
    return np.asarray(session.run(None, {name: images})[0], dtype=np.float64)


def model_size(m) -> dict:
    """Rows, columns, binaries and nonzeros of the active constraints of ``m``."""
    import pyomo.environ as pyo
    from pyomo.repn import generate_standard_repn

    rows = list(m.component_data_objects(pyo.Constraint, active=True, descend_into=True))
    columns = set()
    nonzeros = 0
    for c in rows:
        repn = generate_standard_repn(c.body, compute_values=True, quadratic=False)
        nonzeros += len(repn.linear_vars)
        columns.update(id(v) for v in repn.linear_vars)
    variables = list(m.component_data_objects(pyo.Var, descend_into=True))
    binaries = sum(1 for v in variables if v.is_binary() and id(v) in columns)
    return {"rows": len(rows), "cols": len(columns), "binaries": binaries, "nonzeros": nonzeros}


# -- our side ------------------------------------------------------------------
def margin_model(net, lb, ub, *, formulation: str = "tightened_bigm"):
    """A model of the inputs ``x`` in ``[lb, ub]`` and the network block ``nn``, no objective."""
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (float(lb[i]), float(ub[i])))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    return m


def check_counterexample(net, x, x0, eps: float, label: int, other: int, onnx_path=None):
    """``(forward margin, onnxruntime margin or None, inside the ball)`` of the image ``x``."""
    y = net.forward(x)
    inside = bool(np.all(np.abs(x - x0) <= eps + 1e-9) and np.all((x >= -1e-9) & (x <= 1 + 1e-9)))
    ort_margin = None
    if onnx_path is not None:
        z = onnx_logits(onnx_path, x)[0]
        ort_margin = float(z[other] - z[label])
    return float(y[other] - y[label]), ort_margin, inside


def _verdict(out, margin, inside) -> str:
    if out.bound is not None and out.bound < 0:
        return "certified"
    if out.has_solution and margin is not None and margin > 0 and inside:
        return "counterexample"
    return "unknown"


def verify_image(
    net,
    x0,
    label: int,
    eps: float,
    *,
    formulation: str = "tightened_bigm",
    time_limit: float = 60.0,
    targets=None,
    onnx_path=None,
    decide: bool = True,
) -> dict:
    """Maximize ``logit_j - logit_label`` over the clipped L-inf ball, one solve per class ``j``.

    The block is built once (with ``formulation``'s bound tightening); each
    class gets its own objective.  A class whose margin bound from the output
    bounds is negative needs no solve.  With ``decide`` (default) each solve
    stops as soon as its sign is known (:data:`DECIDE_OPTIONS`): the objective
    and bound are then not the maximum margin, only on the right side of 0;
    ``decide=False`` solves every margin to optimality.

    Returns
    -------
    dict
        ``result`` (``"certified"``, ``"counterexample"`` or ``"unknown"``),
        ``build_s``, the model ``size`` (:func:`model_size`) and ``pairs``:
        one dict per class with ``target``, ``result``, ``objective``,
        ``bound``, ``status``, ``seconds``, ``nodes`` and, for a solution, the
        forward-pass margin ``fwd_margin`` and onnxruntime's ``ort_margin``.
    """
    import pyomo.environ as pyo

    from ..solving import solve_model

    x0 = np.asarray(x0, dtype=np.float64)
    lb, ub = linf_ball(x0, eps)
    start = time.perf_counter()
    m = margin_model(net, lb, ub, formulation=formulation)
    build_s = time.perf_counter() - start
    size = model_size(m)
    targets = [j for j in range(net.n_outputs) if j != label] if targets is None else targets
    pairs = []
    for j in targets:
        bound = m.nn.margin_bound(label, j)
        if bound < 0:
            pairs.append({"target": j, "result": "bounds", "bound": bound, "seconds": 0.0})
            continue
        m.obj = pyo.Objective(expr=m.nn.margin(label, j), sense=pyo.maximize)
        options = {**SCIP_OPTIONS, **(DECIDE_OPTIONS if decide else {})}
        out = solve_model(m, time_limit=time_limit, options=options)
        pair = {"target": j, "status": out.status, "objective": out.objective}
        pair.update(bound=out.bound, seconds=out.seconds, nodes=out.nodes)
        margin = inside = None
        if out.has_solution:
            x = m.nn.input_values()
            margin, ort_margin, inside = check_counterexample(net, x, x0, eps, label, j, onnx_path)
            pair.update(fwd_margin=margin, ort_margin=ort_margin, x=x)
        pair["result"] = _verdict(out, margin, inside)
        pairs.append(pair)
        m.del_component(m.obj)
    results = {p["result"] for p in pairs}
    result = (
        "counterexample"
        if "counterexample" in results
        else "unknown"
        if "unknown" in results
        else "certified"
    )
    return {"result": result, "build_s": build_s, "size": size, "pairs": pairs}


def add_max_margin(m, block, label: int, targets) -> None:
    """Add ``m.s = max_{j in targets} margin(label, j)`` as a disjunctive maximum, objective on s.

    One binary ``d_j`` per class selects the maximizing class:
    ``s <= margin_j + (U - L_j) (1 - d_j)`` and ``sum_j d_j = 1``, where ``U``
    bounds every margin from above and ``L_j`` bounds margin ``j`` from below
    (both from the output bounds), so the rows of the unselected classes are
    slack and ``s`` equals the largest margin at the optimum.
    """
    import pyomo.environ as pyo

    lo, up = block.bounds.post_bounds(block.bounds.n_layers - 1)
    targets = list(targets)
    upper = {j: float(up[j] - lo[label]) for j in targets}
    lower = {j: float(lo[j] - up[label]) for j in targets}
    top = max(upper.values())
    m.s = pyo.Var(bounds=(min(lower.values()), top))
    m.d = pyo.Var(targets, domain=pyo.Binary)
    m.pick = pyo.Constraint(expr=sum(m.d[j] for j in targets) == 1)
    m.below = pyo.Constraint(
        targets,
        rule=lambda _m, j: m.s <= block.margin(label, j) + (top - lower[j]) * (1 - m.d[j]),
    )
    m.obj = pyo.Objective(expr=m.s, sense=pyo.maximize)


# -- OMLT ----------------------------------------------------------------------
def omlt_readable(path):
    """The ONNX model at ``path`` with MaxPool's ``kernel_shape`` in OMLT's (depth, h, w) form.

    OMLT's reader takes the first entry of a MaxPool ``kernel_shape`` as a
    channel depth and the rest as the window; the ONNX standard (and torch's
    export) writes the window only.  Prepending a depth of 1 makes OMLT read
    the same 2x2 pool; nothing else changes.
    """
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        if node.op_type == "MaxPool":
            for attr in node.attribute:
                if attr.name == "kernel_shape" and len(attr.ints) == 2:
                    attr.ints.insert(0, 1)
    return model


def omlt_model(path, lb, ub):
    """A model with OMLT's block ``nn`` (ReluBigMFormulation) of the ONNX file on ``[lb, ub]``."""
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.io import load_onnx_neural_network
    from omlt.neuralnet import ReluBigMFormulation

    from .._logs import dropping_log_records

    bounds = {
        (0, r, c): (float(lb[8 * r + c]), float(ub[8 * r + c])) for r in range(8) for c in range(8)
    }
    definition = load_onnx_neural_network(omlt_readable(path), input_bounds=bounds)
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    # OMLT sets its inputs to 0 outside their bounds, and Pyomo warns once per variable
    with dropping_log_records(lambda record: getattr(record, "id", None) == "W1002"):
        m.nn.build_formulation(ReluBigMFormulation(definition))
    m.omlt_definition = definition  # a plain attribute: the layers, to find their blocks
    return m


def omlt_solve(
    path, x0, label: int, eps: float, target: int, time_limit: float, decide: bool = True
) -> dict:
    """One OMLT margin query (same objective, SCIP settings and limit as ours), in this process."""
    import pyomo.environ as pyo

    from ..solving import solve_model

    lb, ub = linf_ball(np.asarray(x0, dtype=np.float64), eps)
    start = time.perf_counter()
    m = omlt_model(path, lb, ub)
    outputs = list(m.nn.outputs.keys())
    m.obj = pyo.Objective(
        expr=m.nn.outputs[outputs[target]] - m.nn.outputs[outputs[label]], sense=pyo.maximize
    )
    build_s = time.perf_counter() - start
    options = {**SCIP_OPTIONS, **(DECIDE_OPTIONS if decide else {})}
    out = solve_model(m, time_limit=time_limit, options=options)
    row = {"status": out.status, "objective": out.objective, "bound": out.bound}
    row.update(seconds=out.seconds, nodes=out.nodes, build_s=build_s, **model_size(m))
    if out.has_solution:
        x = np.array([pyo.value(m.nn.inputs[(0, r, c)]) for r in range(8) for c in range(8)])
        z = onnx_logits(path, x)[0]
        row["ort_margin"] = float(z[target] - z[label])
    row["result"] = (
        "certified"
        if out.bound is not None and out.bound < 0
        else "counterexample"
        if row.get("ort_margin", -1.0) > 0
        else "unknown"
    )
    return row


def omlt_forward_error(path, x0) -> float:
    """Largest difference between OMLT's outputs and onnxruntime's logits at the image ``x0``.

    The OMLT model is solved over the box ``x0 +- 1e-5`` (a point box makes
    its max-pool rows infeasible); a large value means OMLT reads the file as
    another network.
    """
    import pyomo.environ as pyo

    from ..solving import solve_model

    x0 = np.asarray(x0, dtype=np.float64)
    m = omlt_model(path, *linf_ball(x0, 1e-5))
    m.obj = pyo.Objective(expr=0.0)
    out = solve_model(m, time_limit=30)
    if not out.has_solution:
        return math.inf
    got = np.array([pyo.value(v) for v in m.nn.outputs.values()])
    return float(np.max(np.abs(got - onnx_logits(path, x0)[0])))


def omlt_solve_in_process(path, x0, label, eps, target, time_limit, decide=True) -> dict:
    """:func:`omlt_solve` in a fresh Python process (a wall-clock guard of 3x the limit + 60 s)."""
    args = [str(path), list(map(float, x0)), int(label), eps, int(target), time_limit, decide]
    job = json.dumps(args)
    code = (
        "import json, sys; from pyomo_relu.benchmarks.cnn import omlt_solve; "
        "print(json.dumps(omlt_solve(*json.loads(sys.argv[1]))))"
    )
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code, job],
            capture_output=True,
            text=True,
            timeout=3 * time_limit + 60,
        )
    except subprocess.TimeoutExpired:
        return {"status": "error: killed by the wall-clock guard"}
    if proc.returncode != 0:
        return {"status": "error: " + " ".join(proc.stderr.strip().splitlines()[-1:])[:200]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the layer after the max-pool: bounds of both formulations -------------------
def _layer_after_pool(net) -> int:
    """Index of the first Conv/Gemm layer after the last MaxPool layer of a loaded network."""
    names = [record.name for record in net.lowering]
    pools = [k for k, name in enumerate(names) if "MaxPool" in name]
    after = [k for k, name in enumerate(names) if k > max(pools, default=-1)]
    return next(k for k in after if "Conv" in names[k] or "Gemm" in names[k])


def _lp_range(m, expressions) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each expression over the LP relaxation of ``m`` (HiGHS)."""
    import pyomo.environ as pyo

    from ..solving import solve_model

    relaxed = m.clone()
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(relaxed)
    lo, up = [], []
    for expr in expressions:
        for sense, store in ((pyo.minimize, lo), (pyo.maximize, up)):
            relaxed.lp_obj = pyo.Objective(expr=expr(relaxed), sense=sense)
            store.append(solve_model(relaxed, solver="appsi_highs").objective)
            relaxed.del_component(relaxed.lp_obj)
    return np.array(lo), np.array(up)


def pool_bounds(x0, eps: float) -> dict:
    """Widths of the bounds of the layer after the max-pool: ours (max-pool lowered to ReLU
    layers) and OMLT's (its max-pool rows), with interval arithmetic and over the LP relaxation
    of each formulation built on those interval bounds; ours also with LP (OBBT) bounds.

    Returns mean and max widths per method and the seconds each took.
    """
    from ..bounds import lp_bounds

    net = load_network("pool")
    k = _layer_after_pool(net)
    lb, ub = linf_ball(x0, eps)
    out = {"eps": eps, "layer": net.lowering[k].name, "neurons": net.layers[k].n_out}

    def record(name, lo, up, seconds):
        width = np.asarray(up) - np.asarray(lo)
        out.update({f"{name}_mean": float(width.mean()), f"{name}_max": float(width.max())})
        out[f"{name}_s"] = seconds

    start = time.perf_counter()
    ib = interval_bounds(net, lb, ub)
    record("ours_interval", ib.lower[k], ib.upper[k], time.perf_counter() - start)
    start = time.perf_counter()
    m = margin_model(net, lb, ub, formulation="bigm")
    pre = [lambda r, j=j: r.nn.preactivation(k, j) for j in range(out["neurons"])]
    record("ours_lp_relax", *_lp_range(m, pre), time.perf_counter() - start)
    start = time.perf_counter()
    lp = lp_bounds(net, lb, ub)
    record("ours_obbt", lp.lower[k], lp.upper[k], time.perf_counter() - start)
    start = time.perf_counter()
    om = omlt_model(data_path(NETWORKS["pool"]), lb, ub)
    layer = _omlt_layer_after_pool(om.omlt_definition)
    keys = list(layer.output_indexes)
    zhat = om.nn.layer[id(layer)].zhat
    record(
        "omlt_interval",
        [zhat[i].lb for i in keys],
        [zhat[i].ub for i in keys],
        time.perf_counter() - start,
    )
    start = time.perf_counter()
    lid = id(layer)
    exprs = [lambda r, i=i: r.nn.layer[lid].zhat[i] for i in keys]
    record("omlt_lp_relax", *_lp_range(om, exprs), time.perf_counter() - start)
    return out


def _omlt_layer_after_pool(definition):
    """The first layer of an OMLT network definition after its (last) pooling layer."""
    from omlt.neuralnet.layer import PoolingLayer2D

    layers = list(definition.layers)
    last = max(i for i, layer in enumerate(layers) if isinstance(layer, PoolingLayer2D))
    return layers[last + 1]


# -- the benchmark ---------------------------------------------------------------
PAIR_FIELDS = (
    "variant", "image", "label", "eps", "target", "result", "ours_s", "ours_nodes", "ours_rows",
    "ours_cols", "ours_binaries", "omlt_result", "omlt_s", "omlt_nodes", "omlt_rows", "omlt_cols",
    "omlt_binaries", "ratio",
)  # fmt: skip


def _max_margin_row(net, x0, label, eps, time_limit) -> dict:
    """One disjunctive-maximum solve of all the classes the output bounds leave open."""
    from ..solving import solve_model

    lb, ub = linf_ball(x0, eps)
    start = time.perf_counter()
    m = margin_model(net, lb, ub)
    build_s = time.perf_counter() - start
    open_ = [j for j in range(net.n_outputs) if j != label and m.nn.margin_bound(label, j) >= 0]
    if not open_:
        return {"max_result": "bounds", "max_s": 0.0, "max_build_s": build_s}
    add_max_margin(m, m.nn, label, open_)
    out = solve_model(m, time_limit=time_limit, options={**SCIP_OPTIONS, **DECIDE_OPTIONS})
    result = "certified" if out.bound is not None and out.bound < 0 else "unknown"
    if out.has_solution:
        y = net.forward(m.nn.input_values())
        if max(y[j] - y[label] for j in open_) > 0:
            result = "counterexample"
    return {"max_result": result, "max_s": out.seconds, "max_build_s": build_s}


def run(out_dir, *, images=(0,), epsilons=EPSILONS, variants=("pool", "stride"), time_limit=30.0):
    """Every query with ours (tightened_bigm) and OMLT; CSV and markdown tables in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    X, y = load_samples()
    pairs, images_rows = [], []
    for variant in variants:
        net, path = load_network(variant), data_path(NETWORKS[variant])
        # OMLT's model of the file must compute the network, or its answers mean nothing
        omlt_error = omlt_forward_error(path, X[images[0]])
        print(f"{variant}: OMLT forward error {omlt_error:.3g}", flush=True)
        for i in images:
            for eps in epsilons:
                label = int(y[i])
                ours = verify_image(net, X[i], label, eps, time_limit=time_limit, onnx_path=path)
                summary = {"variant": variant, "image": i, "eps": eps, "result": ours["result"]}
                summary["ours_s"] = ours["build_s"] + sum(p["seconds"] for p in ours["pairs"])
                omlt_total = 0.0
                for p in ours["pairs"]:
                    o = (
                        omlt_solve_in_process(path, X[i], label, eps, p["target"], time_limit)
                        if omlt_error < 1e-3
                        else {"status": f"not run: OMLT model off by {omlt_error:.3g}"}
                    )
                    omlt_total += o.get("seconds", math.nan) + o.get("build_s", math.nan)
                    row = {"variant": variant, "image": i, "label": label, "eps": eps}
                    row.update(target=p["target"], result=p["result"], ours_s=p["seconds"])
                    row["ours_nodes"] = p.get("nodes", 0)
                    row.update({f"ours_{k}": ours["size"][k] for k in ("rows", "cols", "binaries")})
                    row["omlt_result"] = o.get("result", o["status"])
                    row.update({f"omlt_{k}": o.get(k) for k in ("nodes", "rows", "cols")})
                    row.update(omlt_s=o.get("seconds"), omlt_binaries=o.get("binaries"))
                    row["ratio"] = (
                        o["seconds"] / p["seconds"] if p["seconds"] and o.get("seconds") else None
                    )
                    pairs.append(row)
                    print(row, flush=True)
                summary["omlt_s"] = omlt_total
                if variant == "pool":
                    summary.update(_max_margin_row(net, X[i], label, eps, time_limit))
                images_rows.append(summary)
                print(summary, flush=True)
    bounds_rows = [pool_bounds(X[images[0]], eps) for eps in epsilons] if "pool" in variants else []
    write_csv(out_dir / "cnn.csv", pairs, PAIR_FIELDS)
    (out_dir / "cnn.md").write_text(markdown(pairs, images_rows, bounds_rows, time_limit))
    return out_dir / "cnn.md"


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _table(rows, fields) -> list[str]:
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(_fmt(r.get(f)) for f in fields) + " |" for r in rows]
    return lines + [""]


def markdown(pairs, images_rows, bounds_rows, time_limit) -> str:
    """The results page: per-query table, per-image totals, bounds after the pool."""
    lines = [
        "# Digits CNN: L-inf robustness queries, ours against OMLT",
        "",
        "Generated by `python -m pyomo_relu.benchmarks.cnn`; discussion in docs/cnn.md. "
        f"SCIP (CPU clock), {time_limit:g} s per solve, each query stopped once the sign of the "
        "margin is known (`limits/dual`, `limits/primal`); OMLT in a fresh process per solve. "
        "Ours: `tightened_bigm` built once per image and radius (its time is in the totals); "
        "`bounds`: certified by the output bounds, no solve. Times in seconds.",
        "",
        "## Per query (maximize logit_target - logit_label)",
        "",
        *_table(pairs, PAIR_FIELDS),
        "## Per image and radius (ours: tightening + build + solves; OMLT: builds + solves)",
        "",
        *_table(
            images_rows,
            (
                "variant",
                "image",
                "eps",
                "result",
                "ours_s",
                "omlt_s",
                "max_result",
                "max_s",
                "max_build_s",
            ),
        ),  # fmt: skip
        "`max_*`: one solve of the disjunctive maximum over the classes left open by the bounds.",
        "",
        "## Layer after the max-pool: bound widths (mean / max over its neurons)",
        "",
    ]
    fields = ["eps", "neurons"]
    for name in ("ours_interval", "omlt_interval", "ours_lp_relax", "omlt_lp_relax", "ours_obbt"):
        fields += [f"{name}_mean", f"{name}_max", f"{name}_s"]
    lines += _table(bounds_rows, fields)
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--images", type=int, nargs="+", default=[0])
    parser.add_argument("--time-limit", type=float, default=30.0)
    parser.add_argument("--quick", action="store_true", help="eps 0.02 only, pool network only")
    args = parser.parse_args(argv)
    kwargs = {"epsilons": (0.02,), "variants": ("pool",)} if args.quick else {}
    print(run(args.out, images=tuple(args.images), time_limit=args.time_limit, **kwargs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
