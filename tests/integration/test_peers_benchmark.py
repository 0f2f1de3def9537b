"""The peers benchmark: a tiny network through OMLT and ours (and PySCIPOpt-ML when installed),
one subprocess per solve; its CSV rows, the forward-pass check, resuming and the report."""

from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest

pytest.importorskip("pyscipopt")
pytest.importorskip("omlt")

from pyomo_relu.benchmarks import peers, peers_report  # noqa: E402
from pyomo_relu.errors import UnknownOptionError  # noqa: E402

pytestmark = pytest.mark.solver

CONFIGS = ["omlt_bigm", "ours_quickstart", "ours_auto"]
if importlib.util.find_spec("pyscipopt_ml") is not None:
    CONFIGS.insert(1, "pyscipopt_ml")


def test_tiny_network_through_omlt_and_ours(tmp_path):
    csv_path = tmp_path / "peers.csv"
    peers.run(networks=["tiny"], configs=CONFIGS, limit=30.0, csv_path=csv_path, data_dir=tmp_path)
    rows = peers.read_rows(csv_path)
    assert [r["config"] for r in rows] == CONFIGS
    assert (tmp_path / "tiny.onnx").exists()  # the network was cached where asked

    net = peers.load_network("tiny", data_dir=tmp_path)
    problem = peers.get_network("tiny")
    lb, ub = problem.box()
    # the true minimum of this 3-8-8-1 network lies below every sampled value
    grid = np.stack(np.meshgrid(*[np.linspace(-1, 1, 41)] * 3), axis=-1).reshape(-1, 3)
    grid_min = float(net.forward(grid)[:, 0].min())
    for r in rows:
        assert r["status"] == "optimal", r
        assert r["forward_ok"] == "True" and r["sample_ok"] == "True", r
        x = np.array(json.loads(r["x"]))
        assert np.all(x >= lb - 1e-6) and np.all(x <= ub + 1e-6)
        # the row's forward-pass value is the network at the row's inputs, and the optimum
        assert float(r["objective_forward"]) == pytest.approx(net.forward(x[None])[0, 0], abs=1e-6)
        assert float(r["objective"]) == pytest.approx(float(r["objective_forward"]), abs=1e-4)
        assert float(r["objective"]) <= grid_min + 1e-4
        assert float(r["total_s"]) >= float(r["solve_s"]) > 0
        assert int(r["n_vars"]) > 0 and int(r["nodes"]) >= 0
    objectives = [float(r["objective"]) for r in rows]
    assert max(objectives) - min(objectives) <= 1e-4

    # a rerun skips the done rows; the report is generated from the CSV alone
    peers.run(networks=["tiny"], configs=CONFIGS, limit=30.0, csv_path=csv_path, data_dir=tmp_path)
    assert len(peers.read_rows(csv_path)) == len(CONFIGS)
    md = peers_report.write_report(csv_path).read_text()
    assert "| tiny |" in md and f"{len(CONFIGS)}" in md
    assert "| OMLT big-M + SCIP | 1/1 | 0 | 0 |" in md
    assert "check FAILED" not in md


def test_forward_check_catches_a_wrong_objective(tmp_path):
    problem = peers.get_network("tiny")
    net = peers.load_network("tiny", data_dir=tmp_path)
    x = [0.1, -0.2, 0.3]
    value = float(net.forward(np.array([x]))[0, 0])
    good = peers.check_box_solution(problem, net, peers.Solved("optimal", value, value, x))
    assert good["forward_ok"] is True and good["forward_err"] == pytest.approx(0.0)
    # a claimed optimum that is not the network's output at its inputs
    bad = peers.check_box_solution(problem, net, peers.Solved("optimal", value - 0.5, None, x))
    assert bad["forward_ok"] is False and bad["forward_err"] == pytest.approx(0.5)
    # x is no minimizer, so an optimum claimed there is worse than a sampled input: caught
    assert good["sample_best"] < value - 1e-3
    assert good["sample_ok"] is False
    # without a proof of optimality there is nothing to compare
    limited = peers.check_box_solution(problem, net, peers.Solved("time_limit", value, None, x))
    assert limited["sample_ok"] is None and limited["forward_ok"] is True


def test_a_missing_peer_gives_a_not_installed_row(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gurobipy", None)  # import gurobipy raises ImportError
    row = peers.solve_one("tiny", "gurobi_ml", 5.0, data_dir=tmp_path)
    assert row["status"] == "not_installed"
    assert "pip install gurobipy gurobi-machinelearning" in row["note"]
    assert peers_report._cell(row) == "not installed"


def test_unknown_names_are_refused_with_the_valid_ones(tmp_path):
    with pytest.raises(UnknownOptionError, match="unknown peers network 'nope'.*sines5_64x3"):
        peers.run(networks=["nope"], csv_path=tmp_path / "p.csv")
    with pytest.raises(UnknownOptionError, match="configuration.*omlt_bigm"):
        peers.run(networks=["tiny"], configs=["cplex"], csv_path=tmp_path / "p.csv")
    with pytest.raises(UnknownOptionError, match="--limit must be a positive"):
        peers.main(["--limit", "-1", "--report-only", "--out", str(tmp_path / "p.csv")])


def _report_row(network, config, status, total="", objective="", bound="", gap=""):
    row = dict.fromkeys(peers.FIELDS, "")
    row.update(network=network, config=config, limit="60.0", status=status, total_s=total)
    row.update(objective=objective, bound=bound, gap=gap, forward_ok="True")
    return row


def test_report_means_ratios_and_cells_from_rows():
    rows = [
        _report_row("a", "omlt_bigm", "optimal", "8.0", "1.0", "1.0", "0.0"),
        _report_row("a", "gurobi_ml", "too_large"),
        _report_row("a", "ours_auto", "optimal", "2.0", "1.0", "1.0", "0.0"),
        _report_row("b", "omlt_bigm", "time_limit", "60.0", "-3.0", "-4.5", "0.5"),
        _report_row("b", "gurobi_ml", "optimal", "3.0", "-3.5", "-3.5", "0.0"),
        _report_row("b", "ours_auto", "optimal", "15.0", "-3.5", "-3.5", "0.0"),
    ]
    md = peers_report.render(rows)
    # OMLT: 8 s and unsolved (the limit, 60 s): geo. mean sqrt(8 * 60); ours sqrt(2 * 15)
    omlt, ours = (8 * 60) ** 0.5, (2 * 15) ** 0.5
    assert f"| OMLT big-M + SCIP | 1/2 | 1 | 0 | {omlt:.2f} |" in md
    assert f"| OMLT big-M + SCIP | 2 | {omlt:.2f} | {ours:.2f} | {omlt / ours:.2f}x |" in md
    # Gurobi only where it fits: network b alone
    assert "| gurobi-ml + Gurobi (1 thread) | 1 | 3.00 | 15.00 | 0.20x |" in md
    assert "too large for the pip licence" in md
    assert "time_limit: gap 50.00%, best -3, bound -4.5" in md
    assert "| b | 2 | -3.5 | 0 | yes |" in md  # the two proven optima of b agree


def test_a_model_over_gurobis_pip_licence_is_recorded_as_too_large():
    gp = pytest.importorskip("gurobipy")
    pytest.importorskip("gurobi_ml")
    from pyomo_relu.benchmarks.peers_configs import GUROBI_PIP_LIMIT, RUNNERS
    from pyomo_relu.benchmarks.peers_networks import PeerNetwork, _random_network

    problem = PeerNetwork("wide", "random 3-700x2-1", (-1.0,) * 3, (1.0,) * 3, "min", None)
    net = _random_network((3, 700, 700, 1), seed=0)
    try:
        solved = RUNNERS["gurobi_ml"](problem, net, 5.0)
    except gp.GurobiError as exc:  # pragma: no cover - a licence that cannot start at all
        pytest.skip(f"Gurobi cannot start here: {exc}")
    if solved.status != "too_large":
        pytest.skip("this Gurobi licence is not size-limited")
    assert solved.n_vars > GUROBI_PIP_LIMIT
    assert "too large for the pip licence (2804 variables" in solved.note
    assert solved.objective is None and solved.x is None
