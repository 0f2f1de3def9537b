"""The test-function problems (peaks2, himmelblau, ackley2, ackley5): functions, sampling,
training, building, solving with SCIP, the grid/sample check, the study's solve and `--problems`."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pyomo.environ as pyo
import pytest

pytest.importorskip("pyscipopt")

from pyomo_relu.benchmarks import paper, runner  # noqa: E402
from pyomo_relu.benchmarks.problems import (  # noqa: E402
    BOX_FUNCTIONS,
    PROBLEMS,
    _box,
    expand_problem_names,
)
from pyomo_relu.cli import main  # noqa: E402
from pyomo_relu.network import ReluNetwork  # noqa: E402

pytestmark = pytest.mark.solver

NEW = ("peaks2", "himmelblau", "ackley2", "ackley5")


def _random_net(dim: int, seed: int) -> ReluNetwork:
    rng = np.random.default_rng(seed)
    sizes = (dim, 6, 6, 1)
    ws = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(scale=0.3, size=o) for o in sizes[1:]]
    return ReluNetwork.from_arrays(ws, bs)


@pytest.mark.parametrize("name", NEW)
def test_true_minimizers_give_the_stated_minimum_and_other_points_do_not(name):
    spec = BOX_FUNCTIONS[name]
    mins = np.asarray(spec.minimizers, dtype=float)
    assert np.allclose(spec.function(mins), spec.minimum, atol=1e-5)
    X = _box.latin_hypercube(2000, spec.dim, spec.lower, spec.upper, seed=3)
    assert spec.function(X).min() > spec.minimum - 1e-9  # no sample beats the global minimum
    assert _box.distance_to_minimizers(spec, mins[-1]) == 0.0
    assert np.all((mins >= spec.lower) & (mins <= spec.upper))


def test_latin_hypercube_puts_one_point_in_every_stratum_of_every_axis():
    X = _box.latin_hypercube(50, 3, -2.0, 4.0, seed=1)
    assert X.shape == (50, 3)
    strata = np.floor((X + 2.0) / 6.0 * 50).astype(int)
    for axis in range(3):
        assert sorted(strata[:, axis]) == list(range(50))
    assert np.array_equal(X, _box.latin_hypercube(50, 3, -2.0, 4.0, seed=1))


@pytest.mark.parametrize("name", NEW)
def test_each_problem_builds_solves_and_its_optimum_passes_the_checks(name):
    net = _random_net(BOX_FUNCTIONS[name].dim, seed=len(name))
    problem = PROBLEMS[name]
    m, blocks = problem.build({"f": net}, formulation="bigm")
    sol = runner.solve_scip(m, time_limit=30)
    assert sol["solved"], sol
    x = np.array([pyo.value(m.x[i]) for i in range(net.n_inputs)])
    assert pyo.value(m.obj) == pytest.approx(net.forward(x)[0], abs=1e-5)
    assert runner.forward_error(blocks) <= runner.FWD_TOL
    info = problem.check(m, blocks, {"f": net}, solved=True)
    assert info["grid_ok"] is True
    # the grid/sample minimum is attained by the network, so it can't beat the MIP optimum
    assert pyo.value(m.obj) <= info["grid_best"] + 1e-6
    assert info["distance_to_minimizer"] == pytest.approx(
        _box.distance_to_minimizers(BOX_FUNCTIONS[name], x), abs=1e-3
    )


def test_check_flags_a_point_that_is_not_the_minimum():
    net = _random_net(2, seed=4)
    problem = PROBLEMS["himmelblau"]
    m, blocks = problem.build({"f": net}, formulation="bigm")
    assert runner.solve_scip(m, time_limit=30)["solved"]
    best = pyo.value(m.obj)
    worst = np.array(np.meshgrid([-5.0, 5.0], [-5.0, 5.0])).reshape(2, -1).T
    corner = worst[int(np.argmax(net.forward(worst)[:, 0]))]
    if net.forward(corner)[0] <= best + 1e-3:
        pytest.fail("the seeded network is flat on the box; pick another seed")
    for i in range(2):  # a feasible but worse point: the objective follows the block's rows
        m.x[i].fix(corner[i])
    assert runner.solve_scip(m, time_limit=30)["solved"]
    assert problem.check(m, blocks, {"f": net}, solved=True)["grid_ok"] is False


@pytest.mark.parametrize("name", ["peaks2", "ackley5"])
def test_trained_surrogate_is_cached_and_solves(tmp_path, name):
    pytest.importorskip("torch")
    spec = dataclasses.replace(
        BOX_FUNCTIONS[name], samples={"full": 100, "quick": 100}, epochs={"full": 3, "quick": 3}
    )
    first = _box.train(spec, (5, 5), {"l1": 1e-3}, cache_dir=tmp_path, quick=True, tag="t")
    again = _box.train(spec, (5, 5), {"l1": 1e-3}, cache_dir=tmp_path, quick=True, tag="t")
    assert first.network.layer_sizes == (spec.dim, 5, 5, 1)
    assert np.array_equal(first.network.layers[0].weights, again.network.layers[0].weights)
    assert len(list(tmp_path.glob(f"{name}-t-*.onnx"))) == 1
    m, blocks = _box.build(spec, {"f": first.network})
    assert runner.solve_scip(m, time_limit=30)["solved"]
    assert runner.forward_error(blocks) <= runner.FWD_TOL


def test_study_solve_reports_lp_relaxation_below_the_mip_optimum():
    net = _random_net(2, seed=7)
    row = paper.solve_network("peaks2", net, "bigm", 30.0)
    assert row["solved"] and row["grid_ok"]
    assert row["lp_relaxation"] <= row["objective"] + 1e-6
    assert row["lp_gap_abs"] == pytest.approx(row["objective"] - row["lp_relaxation"])
    tight = paper.solve_network("peaks2", net, "tightened_bigm", 30.0)
    assert tight["objective"] == pytest.approx(row["objective"], abs=1e-5)
    assert tight["lp_relaxation"] >= row["lp_relaxation"] - 1e-6  # tighter bounds, tighter LP


def test_study_solve_in_its_own_process_matches_the_direct_solve():
    net = _random_net(5, seed=2)
    direct = paper.solve_network("ackley5", net, "bigm", 30.0)
    child = paper.solve_in_process("ackley5", net, "bigm", 30.0)
    assert child["solved"], child
    assert child["objective"] == pytest.approx(direct["objective"], abs=1e-6)


def test_study_plan_and_unknown_names():
    jobs = paper.plan(problems=["ackley5"], regularizers=["none", "l1"])
    archs = {paper.arch_name(5, j["hidden"]) for j in jobs}
    assert archs == {"5-25x3-1", "5-25x5-1", "5-50x3-1", "5-50x5-1"}
    assert sum(j["config"] == "tightened_bigm" for j in jobs) == 4
    assert len(jobs) == 4 * (1 + 2) + 4
    with pytest.raises(ValueError, match="'nope'.*valid: peaks2"):
        paper.plan(problems=["nope"])


def test_problem_groups_expand():
    assert expand_problem_names(["himmelblau", "peaks2", "ackley"]) == [
        "himmelblau",
        "peaks2",
        "ackley2",
        "ackley5",
    ]
    assert expand_problem_names(["ackley2", "ackley"]) == ["ackley2", "ackley5"]


def test_cli_problems_option_rejects_unknown_names_before_touching_files(tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = ["bench", "--quick", "--problems", "himmelblau,ackley,rosenbrock"]
    code = main([*argv, "--out", str(out), "--cache", str(cache)])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert code == 2
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    for needle in ("'rosenbrock'", "himmelblau", "ackley2", "ackley5", "peaks2"):
        assert needle in lines[0], (needle, lines[0])
    assert not out.exists() and not cache.exists()


def _row(reg, strength, *, solved, time_s, unstable, val_mse, arch="2-25x5-1"):
    return {
        "problem": "peaks2",
        "arch": arch,
        "regularizer": reg,
        "strength": strength,
        "config": "bigm",
        "solved": solved,
        "status": "optimal" if solved else "time_limit",
        "time_s": time_s,
        "solve_s": time_s,
        "time_limit": 120.0,
        "unstable_interval": unstable,
        "val_mse": val_mse,
    }


def test_deep_network_verdict_needs_100x_half_the_unstable_neurons_and_2x_mse():
    from pyomo_relu.benchmarks.paper_report import deep_network_verdicts

    base = _row("none", 0.0, solved=False, time_s=120.0, unstable=120, val_mse=0.01)
    accurate_slow = _row("bound_width", 1e-4, solved=True, time_s=5.0, unstable=50, val_mse=0.015)
    inaccurate = _row("lp_gap", 1e-3, solved=True, time_s=0.1, unstable=10, val_mse=0.03)
    shallow = _row("none", 0.0, solved=True, time_s=3.0, unstable=60, val_mse=0.01, arch="2-25x3-1")
    (v,) = deep_network_verdicts([base, accurate_slow, inaccurate, shallow])
    assert v["best"] is accurate_slow  # the 3x-MSE network does not count
    assert v["ratio"] == pytest.approx(24.0) and not v["fast"] and v["halved"]
    quick = _row("bound_width+lp_gap", 1e-4, solved=True, time_s=1.0, unstable=60, val_mse=0.02)
    (v,) = deep_network_verdicts([base, accurate_slow, quick])
    assert v["best"] is quick and v["fast"] and v["halved"]
    faster = _row("lp_gap", 1e-4, solved=True, time_s=0.5, unstable=100, val_mse=0.01)
    (v,) = deep_network_verdicts([base, faster, quick])
    assert v["best"] is quick  # one that meets both beats a faster one that does not halve
    (v,) = deep_network_verdicts([base, accurate_slow, quick], regularizers=("l1",))
    assert v["best"] is None and v["tried"] == 0


def test_deep_plan_covers_the_five_layer_networks_with_the_long_baselines_first():
    base, first, optional = paper.deep_plan()
    regularized = first + optional
    nets = {
        (j["problem"], paper.arch_name(BOX_FUNCTIONS[j["problem"]].dim, j["hidden"])) for j in base
    }
    assert nets == {
        ("peaks2", "2-25x5-1"),
        ("himmelblau", "2-25x5-1"),
        ("ackley2", "2-25x5-1"),
        ("ackley5", "5-25x5-1"),
        ("ackley5", "5-50x5-1"),
    }
    assert [(j["problem"], j["hidden"][0]) for j in base[:2]] == [("peaks2", 25), ("ackley5", 50)]
    assert all(j["regularizer"] == "none" and j["strength"] == 0.0 for j in base)
    assert len(regularized) == len(paper.DEEP_SETTINGS) * len(base)
    strengths = {j["strength"] for j in regularized}
    assert strengths == {2e-4, 3e-4, 5e-4}  # strictly between the main run's 1e-4 and 1e-3
    assert {j["regularizer"] for j in optional} == {"lp_gap"}  # the slowest, after the baselines
    assert "lp_gap" not in {j["regularizer"] for j in first}
    assert all(len(j["hidden"]) == 5 and j["config"] == "bigm" for j in regularized)


def test_deep_section_reports_speedups_against_the_baseline_at_the_same_limit():
    from pyomo_relu.benchmarks.paper_report import deep_section

    def row(reg, strength, **kw):
        r = _row(reg, strength, **kw)
        r.update(time_limit=600.0, hidden=125, unstable_lp=kw["unstable"], nodes=1.0)
        r.update(fwd_err=0.0 if kw["solved"] else math.nan, grid_ok=True if kw["solved"] else None)
        return r

    base = row("none", 0.0, solved=False, time_s=600.0, unstable=120, val_mse=0.01)
    good = row("bound_width", 3e-4, solved=True, time_s=2.0, unstable=60, val_mse=0.019)
    slow = row("lp_gap", 3e-4, solved=False, time_s=600.0, unstable=100, val_mse=0.01)
    text = "\n".join(deep_section([good, base, slow], 600.0))
    assert "## Five-layer networks at a 600 s limit" in text
    assert "| bound_width | 0.0003 | 0.019 (1.9x) | 60 / 60 (125) |" in text
    assert ">= 300x | fwd 0, grid ok | yes / yes / yes |" in text
    assert "- (both unsolved) | - | yes / no / no |" in text
    assert "best within 2x MSE: bound_width 0.0003" in text and "both hold" in text
    pending = "\n".join(deep_section([good], 600.0))
    assert "Baseline: not finished" in pending and "no baseline" in pending
    assert "peaks2 2-25x5-1: baseline not finished, no verdict." in pending
