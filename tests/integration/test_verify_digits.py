"""Verification of the shipped digits CNN over L-inf balls (example, margins, formulations)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.benchmarks.cnn import (
    NETWORKS,
    add_max_margin,
    data_path,
    linf_ball,
    load_network,
    load_samples,
    margin_model,
    onnx_logits,
    verify_image,
)
from pyomo_relu.errors import InfeasibleBoxError, NotApplicableError, ShapeMismatchError
from pyomo_relu.solving import solve_model
from tests.conftest import requires_scip

pytestmark = [pytest.mark.solver, requires_scip]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "verify_digits_cnn.py"


def test_shipped_network_matches_onnxruntime_and_classifies_the_samples():
    X, y = load_samples()
    for variant, name in NETWORKS.items():
        net = load_network(variant)
        ref = onnx_logits(data_path(name), X)
        assert np.max(np.abs(net.forward(X) - ref)) < 1e-4
        assert np.mean(np.argmax(ref, axis=1) == y) >= 0.9


def test_example_runs_end_to_end_on_one_image():
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--image", "1", "--eps", "0.02", "--time-limit", "20"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    result = [line for line in lines if line.startswith("result: ")]
    assert result and result[0] in ("result: certified", "result: counterexample")
    assert sum(line.startswith("  class ") for line in lines) == 9


def test_small_radius_is_decided_and_every_solution_matches_the_forward_pass():
    X, y = load_samples()
    net = load_network("pool")
    res = verify_image(net, X[0], int(y[0]), 0.02, time_limit=20, decide=False)
    assert res["result"] in ("certified", "counterexample")
    assert len(res["pairs"]) == 9
    for p in res["pairs"]:
        if "fwd_margin" in p:
            assert p["objective"] == pytest.approx(p["fwd_margin"], abs=1e-5)
            if p["status"] == "optimal":
                assert p["bound"] == pytest.approx(p["objective"], abs=1e-5)


def test_large_radius_gives_a_counterexample_checked_by_both_forward_passes():
    X, y = load_samples()
    net, eps, label = load_network("stride"), 0.3, int(y[0])
    res = verify_image(
        net, X[0], label, eps, time_limit=20, onnx_path=data_path(NETWORKS["stride"])
    )
    assert res["result"] == "counterexample"
    found = [p for p in res["pairs"] if p["result"] == "counterexample"]
    for p in found:
        x = p["x"]
        assert np.all(np.abs(x - X[0]) <= eps + 1e-9) and np.all((x >= 0) & (x <= 1))
        logits = net.forward(x)
        assert logits[p["target"]] > logits[label]
        assert p["ort_margin"] == pytest.approx(p["fwd_margin"], abs=1e-3)


def test_disjunctive_maximum_equals_the_largest_single_margin():
    X, y = load_samples()
    net, label = load_network("stride"), int(y[0])
    lb, ub = linf_ball(X[0], 0.05)
    m = margin_model(net, lb, ub)
    targets = [j for j in range(10) if j != label]
    singles = []
    for j in targets:
        m.obj = pyo.Objective(expr=m.nn.margin(label, j), sense=pyo.maximize)
        singles.append(solve_model(m, time_limit=20).objective)
        m.del_component(m.obj)
    add_max_margin(m, m.nn, label, targets)
    out = solve_model(m, time_limit=20)
    assert out.status == "optimal"
    assert out.objective == pytest.approx(max(singles), abs=1e-5)


@pytest.mark.parametrize("formulation", pr.formulation_names())
def test_every_formulation_reproduces_the_forward_pass_on_the_cnn(formulation):
    X, y = load_samples()
    net, label = load_network("stride"), int(y[2])
    lb, ub = linf_ball(X[2], 0.03)
    try:
        m = margin_model(net, lb, ub, formulation=formulation)
    except NotApplicableError as exc:  # region enumeration is for networks of few inputs
        assert formulation in ("regions",) and "inputs" in str(exc)
        return
    m.obj = pyo.Objective(expr=m.nn.margin(label, (label + 1) % 10), sense=pyo.maximize)
    out = solve_model(m, time_limit=20)
    assert out.has_solution
    assert m.nn.prediction_error() < 1e-5
    x = m.nn.input_values()
    assert np.all(x >= lb - 1e-9) and np.all(x <= ub + 1e-9)
    y_x = net.forward(x)
    assert out.objective == pytest.approx(y_x[(label + 1) % 10] - y_x[label], abs=1e-5)


def test_ball_refuses_bad_radius_and_images():
    with pytest.raises(InfeasibleBoxError, match="eps must be"):
        linf_ball(np.zeros(64), -0.1)
    with pytest.raises(ShapeMismatchError, match="scale the image to"):
        linf_ball(np.full(64, 16.0), 0.1)
