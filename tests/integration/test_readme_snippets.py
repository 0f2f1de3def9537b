"""The README's code blocks and checkable statements hold for the current code.

The Python blocks are read from README.md itself and run as written, so an edit
of the README or of the API that breaks one of them fails here.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.errors import NotApplicableError, TimeLimitWarning, UnknownOptionError
from pyomo_relu.formulations import Regions
from pyomo_relu.solving import Outcome, solve_model
from tests.conftest import requires_scip

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
PEAKS = ROOT / "examples" / "data" / "peaks.onnx"
TIGHTEN = pyo.TransformationFactory("relu.tighten_bounds")


def python_block(after: str) -> str:
    """The first ```python block of the README after the text ``after``."""
    start = README.index(after)
    match = re.search(r"```python\n(.*?)```", README[start:], re.S)
    assert match, f"no python block after {after!r}"
    return match.group(1)


def peaks_model():
    net = pr.load_onnx(PEAKS)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-3, 3))
    return net, m


@pytest.mark.solver
@requires_scip
def test_quick_start_runs_as_written(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the block loads "examples/data/peaks.onnx"
    scope = {}
    exec(python_block("## Quick start"), scope)
    m, out = scope["m"], scope["out"]
    assert isinstance(out, Outcome) and out.status == "optimal"
    assert pyo.value(m.obj) == pytest.approx(-6.56, abs=1e-3) == out.objective
    assert m.nn.prediction_error() < 1e-6
    summary = m.nn.summary()
    assert summary["formulation"] == "auto" and summary["decision"]
    # auto's choice depends on timings; both choices give the same optimum
    assert summary["used"] in ("regions", "tightened_bigm")
    if summary["used"] == "tightened_bigm":
        assert m.nn.bounds.methods[1:] == ["lp", "lp"]
    printed = capsys.readouterr().out.split()
    assert printed[0] == "optimal" and printed[2] == summary["used"]


def test_regions_block_builds_both_blocks():
    net, m = peaks_model()
    scope = {"pr": pr, "net": net, "m": m}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the block assigns m.nn twice on purpose
        exec(python_block("**When to use `regions`.**"), scope)
    summary = m.nn.summary()
    assert summary["formulation"] == "regions"
    assert summary["regions"] == 921  # the count the README quotes for the shipped network
    assert summary["binaries"] == int(np.ceil(np.log2(921)))


def test_formulation_table_lists_the_registry():
    table = re.findall(r"^\| `(\w+)` \|", README, re.M)
    assert sorted(table) == sorted(pr.formulation_names())


def test_shipped_network_has_921_exact_regions():
    net = pr.load_onnx(PEAKS)
    count = pr.analysis.count_linear_regions(net, -3, 3)
    assert (count.count, count.exact) == (921, True)


def test_time_limit_rules():
    net = pr.load_onnx(PEAKS)
    with pytest.warns(TimeLimitWarning, match="cut"):
        bounds = pr.lp_bounds(net, -3, 3, time_limit=0)
    assert bounds.methods == ["interval"] * net.n_layers
    for bad in (
        lambda: Regions(time_limit=0),
        lambda: pr.milp_bounds(net, -3, 3, time_limit_per_neuron=0),
        lambda: pr.lp_bounds(net, -3, 3, time_limit=-1),
    ):
        with pytest.raises(UnknownOptionError, match="number of seconds"):
            bad()
    assert Regions(time_limit=None).time_limit is None


def test_regions_refuses_a_box_below_its_resolution_and_auto_falls_back():
    net = pr.load_onnx(PEAKS)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1e6, 1e6))
    with pytest.raises(NotApplicableError, match="thinner than 1e-7"):
        m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="regions")
    m.auto = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="auto")
    assert m.auto.summary()["used"] == "tightened_bigm"
    assert pr.analysis.count_linear_regions(net, -1e6, 1e6).exact is False


def test_apply_to_a_unit_reads_only_the_rows_under_it():
    net = pr.load_onnx(PEAKS)
    mean_m = {}
    for where in ("unit", "outside"):
        m = pyo.ConcreteModel()
        m.unit = pyo.Block()
        m.unit.x = pyo.Var(range(2), bounds=(-3, 3))
        m.unit.nn = pr.ReluNetworkBlock(network=net, inputs=m.unit.x)
        owner = m.unit if where == "unit" else m
        owner.cut = pyo.Constraint(expr=m.unit.x[0] - m.unit.x[1] <= -1)
        TIGHTEN.apply_to(m.unit, method="lp")
        mean_m[where] = m.unit.nn.summary()["mean_M"]
        assert m.unit.nn.bounds.methods[0] == ("lp-constrained" if where == "unit" else "interval")
    # a row outside the unit changes nothing: the bounds are those of the box alone
    assert mean_m["outside"] == pytest.approx(
        pr.analysis.big_m_report(pr.lp_bounds(net, -3, 3)).total.m_mean
    )
    assert mean_m["unit"] < mean_m["outside"]


@pytest.mark.solver
@requires_scip
def test_solve_model_returns_the_fields_the_readme_names():
    net, m = peaks_model()
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    out = solve_model(m, time_limit=30)
    assert isinstance(out, Outcome)
    for field in ("status", "has_solution", "objective", "bound", "gap", "seconds", "nodes"):
        assert f"`{field}`" in README
        assert hasattr(out, field)
    assert out.status == "optimal" and out.objective == pytest.approx(-6.56, abs=1e-3)
