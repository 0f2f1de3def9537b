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
) -> dict:
    """Maximize ``logit_j - logit_label`` over the clipped L-inf ball, one solve per class ``j``.

    The block is built once (with ``formulation``'s bound tightening); each
    class gets its own objective.  A class whose margin bound from the output
    bounds is negative needs no solve.

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
        out = solve_model(m, time_limit=time_limit, options=SCIP_OPTIONS)
        pair = {"target": j, "status": out.status, "objective": out.objective}
        pair.update(bound=out.bound, seconds=out.seconds, nodes=out.nodes)
        margin = inside = None
        if out.has_solution:
            x = m.nn.input_values()
            margin, ort_margin, inside = check_counterexample(
                net, x, x0, eps, label, j, onnx_path
            )
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

    bounds = {(0, r, c): (float(lb[8 * r + c]), float(ub[8 * r + c])) for r in range(8) for c in range(8)}
    definition = load_onnx_neural_network(omlt_readable(path), input_bounds=bounds)
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    # OMLT sets its inputs to 0 outside their bounds, and Pyomo warns once per variable
    with dropping_log_records(lambda record: getattr(record, "id", None) == "W1002"):
        m.nn.build_formulation(ReluBigMFormulation(definition))
    return m


def omlt_solve(path, x0, label: int, eps: float, target: int, time_limit: float) -> dict:
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
    out = solve_model(m, time_limit=time_limit, options=SCIP_OPTIONS)
    row = {"status": out.status, "objective": out.objective, "bound": out.bound}
    row.update(seconds=out.seconds, nodes=out.nodes, build_s=build_s, **model_size(m))
    if out.has_solution:
        x = np.array([pyo.value(m.nn.inputs[(0, r, c)]) for r in range(8) for c in range(8)])
        z = onnx_logits(path, x)[0]
        row["ort_margin"] = float(z[target] - z[label])
    return row


def omlt_solve_in_process(path, x0, label, eps, target, time_limit) -> dict:
    """:func:`omlt_solve` in a fresh Python process (a wall-clock guard of 3x the limit + 60 s)."""
    job = json.dumps([str(path), list(map(float, x0)), int(label), eps, int(target), time_limit])
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
