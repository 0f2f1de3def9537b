"""End to end: ``python -m pyomo_relu solve`` and ``demo`` in a subprocess.

The optimum of ``solve`` is checked against a dense grid of the network on a
small 2-D input box: a global minimum can never be above the grid minimum, and
it can be below it by at most ``L * h / 2``, where ``h`` is the grid spacing and
``L = prod_k ||W_k||_inf`` is a Lipschitz constant of the network in the
max-norm (ReLU is 1-Lipschitz in every coordinate).  Most bad-input cases call
the dispatcher ``pyomo_relu.cli.main`` in-process (same code path, no
interpreter start-up); one runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from pyomo_relu.io import save_onnx
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]

ROOT = Path(__file__).resolve().parents[2]
LB, UB = np.array([-1.0, -0.5]), np.array([1.0, 1.5])


def _cli(*args, timeout=120):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "pyomo_relu", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def net2d():
    return random_network((2, 10, 10, 2), seed=7)


@pytest.fixture(scope="module")
def onnx_file(tmp_path_factory, net2d):
    from pyomo_relu import ReluNetwork

    named = ReluNetwork(net2d.layers, input_names=("u", "v"), output_names=("cost", "yield"))
    path = tmp_path_factory.mktemp("nets") / "net2d.onnx"
    save_onnx(named, path)
    return path


def _grid(net, j, n=1001):
    axes = [np.linspace(LB[i], UB[i], n) for i in range(2)]
    xs, ys = np.meshgrid(*axes, indexing="ij")
    values = net.forward(np.column_stack([xs.ravel(), ys.ravel()]))[:, j]
    spacing = max((UB - LB) / (n - 1))
    lipschitz = np.prod([np.abs(layer.weights).sum(axis=1).max() for layer in net.layers])
    return values, lipschitz * spacing / 2


def _solve_json(onnx_file, tmp_path, *args):
    out = tmp_path / "result.json"
    proc = _cli(
        "solve", onnx_file, *args, "--lb=-1,-0.5", "--ub", "1,1.5", "--quiet", "--json", out
    )
    assert proc.returncode == 0, proc.stderr
    return proc, json.loads(out.read_text())


@pytest.mark.parametrize(
    "formulation, solver",
    [("bigm", "scip_direct"), ("scaled_bigm", "scip_persistent"), ("bigm", "appsi_highs")],
)
def test_minimum_matches_dense_grid(net2d, onnx_file, tmp_path, formulation, solver):
    proc, res = _solve_json(
        onnx_file, tmp_path, "--minimize", "yield", "--formulation", formulation, "--solver", solver
    )
    values, slack = _grid(net2d, 1)
    assert res["status"] == "optimal" and res["output"] == "yield" and res["output_index"] == 1
    assert res["objective"] <= values.min() + 1e-6
    assert res["objective"] >= values.min() - slack - 1e-6
    x = np.array([res["inputs"]["u"], res["inputs"]["v"]])
    assert np.all(x >= LB - 1e-7) and np.all(x <= UB + 1e-7)
    assert res["forward_value"] == pytest.approx(net2d.forward(x)[1], abs=1e-9)
    assert abs(res["forward_value"] - res["objective"]) < 1e-5
    assert res["summary"]["formulation"] == formulation and res["solver"] == solver
    assert "status:        optimal" in proc.stdout and "argmin:" in proc.stdout


def test_maximum_by_index_with_lp_tightening(net2d, onnx_file, tmp_path):
    proc, res = _solve_json(onnx_file, tmp_path, "--maximize", "0", "--tighten", "lp")
    values, slack = _grid(net2d, 0)
    assert res["status"] == "optimal" and res["sense"] == "max"
    assert values.max() - 1e-6 <= res["objective"] <= values.max() + slack + 1e-6
    assert "lp" in res["summary"]["bounds"]
    assert "argmax:" in proc.stdout


def test_time_limit_reports_best_solution_and_bound(tmp_path):
    big = random_network((6, 60, 60, 60, 1), seed=3)
    path = tmp_path / "big.onnx"
    save_onnx(big, path)
    out = tmp_path / "big.json"
    proc = _cli(
        "solve",
        path,
        "--minimize",
        "0",
        "--lb",
        "-1",
        "--ub",
        "1",
        "--time-limit",
        "0.5",
        "--quiet",
        "--json",
        out,
    )
    assert proc.returncode == 0, proc.stderr
    res = json.loads(out.read_text())
    assert res["status"] == "time_limit"
    assert "TIME LIMIT REACHED" in proc.stdout and "bound:" in proc.stdout
    if res["has_solution"]:
        x = np.array(list(res["inputs"].values()))
        assert res["forward_value"] == pytest.approx(big.forward(x)[0], abs=1e-9)
        assert res["bound"] <= res["objective"] + 1e-6


def test_missing_file_in_a_subprocess():
    proc = _cli("solve", "missing.onnx", "--minimize", "0", "--lb", "0", "--ub", "1")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "pyomo-relu solve: error: network file 'missing.onnx' not found; pass the path of an ONNX "
        "file."
    ]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["NET", "--minimize", "0", "--lb", "2", "--ub", "1"], "lb[0] = 2.0 > ub[0] = 1.0"),
        (
            ["NET", "--minimize", "0", "--lb", "0,0,0", "--ub", "1"],
            "lb has 3 entries but the network has 2",
        ),
        (
            ["NET", "--minimize", "profit", "--lb", "0", "--ub", "1"],
            "output 'profit' is not an output",
        ),
        (["NET", "--maximize", "2", "--lb", "0", "--ub", "1"], "output '2' is not an output"),
        (["NET.missing", "--maximize", "0", "--lb", "0", "--ub", "1"], "not found"),
    ],
)
def test_bad_input_gives_one_line_error(onnx_file, capsys, args, needle):
    from pyomo_relu.cli import main

    argv = [str(onnx_file) + a[3:] if a.startswith("NET") else a for a in args]
    assert main(["solve", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("pyomo-relu solve: error:") and needle in lines[0]
    assert captured.out == ""


@pytest.mark.parametrize(
    "bad", [["--lb", "zero", "--ub", "1"], ["--lb", "0", "--ub", "inf"], ["--lb", "0"]]
)
def test_unparsable_options_are_parser_errors(onnx_file, capsys, bad):
    from pyomo_relu.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["solve", str(onnx_file), "--minimize", "0", *bad])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("pyomo-relu solve: error:")
    assert ("--lb" in err) or ("--ub" in err)


def test_demo_on_the_shipped_network():
    proc = _cli(
        "demo", "--formulation", "tightened_bigm", "--formulation", "regions", "--grid", "201"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "all checks passed" in proc.stdout
    rows = {
        name: next(line for line in proc.stdout.splitlines() if line.startswith(name + " "))
        for name in ("tightened_bigm", "regions")
    }
    for row in rows.values():
        assert row.split()[1] == "optimal"
        # the surrogate's minimum lies near the true peaks minimum (-6.551)
        assert -7.5 < float(row.split()[2]) < -5.5
    assert abs(float(rows["regions"].split()[2]) - float(rows["tightened_bigm"].split()[2])) < 1e-5


def test_missing_solver_names_the_fix(monkeypatch):
    from pyomo.contrib.solver.solvers.scip.scip_direct import ScipDirect

    from pyomo_relu.errors import SolverUnavailableError
    from pyomo_relu.solving import get_solver

    monkeypatch.setattr(ScipDirect, "available", lambda self: False)
    with pytest.raises(SolverUnavailableError, match="pip install pyscipopt"):
        get_solver("scip_direct")
