"""The benchmark problems build and solve on tiny networks; runner checks and resume work."""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

pytest.importorskip("pyscipopt")

from pyomo_relu.benchmarks import runner  # noqa: E402
from pyomo_relu.benchmarks.problems import PROBLEMS, TrainedNet, oil  # noqa: E402
from pyomo_relu.network import ReluNetwork  # noqa: E402

pytestmark = pytest.mark.solver


def _random_net(sizes, seed, *, activation="relu", cap=None):
    rng = np.random.default_rng(seed)
    ws = [rng.normal(size=(o, i)) / np.sqrt(i) for i, o in zip(sizes[:-1], sizes[1:])]
    bs = [rng.normal(scale=0.3, size=o) for o in sizes[1:]]
    return ReluNetwork.from_arrays(ws, bs, activation=activation, cap=cap)


def _well_net(i: int) -> ReluNetwork:
    """q(PWH) = sum_j c_j relu(PWH_ub - PWH - t_j): zero at PWH_ub, decreasing, about QOIL_UB at
    0.3."""
    ub = oil.PWH_UB[i]
    t = np.array([0.0, 0.3, 0.6])
    span = ub - oil.PWH_LB
    c = oil.QOIL_UB[i] / (span + np.maximum(span - t[1:], 0).sum()) * np.ones(3)
    return ReluNetwork.from_arrays([-np.ones((3, 1)), c[None, :]], [ub - t, np.zeros(1)])


def _riser_net() -> ReluNetwork:
    """PDS = relu(PUS - 0.2 QOIL - 0.1 QGAS - 0.05 QWAT) + 0.5 relu(PUS - 1) (increasing in PUS)."""
    w1 = np.array([[-0.2, -0.1, -0.05, 1.0], [0.0, 0.0, 0.0, 1.0]])
    return ReluNetwork.from_arrays(
        [w1, np.array([[1.0, 0.5]])], [np.array([0.0, -1.0]), np.zeros(1)]
    )


def _nets(problem: str) -> dict:
    if problem == "peaks":
        return {"f": _random_net((2, 8, 8, 1), 1)}
    if problem == "reformer":
        return {"reformer": _random_net((2, 6, 6, 12), 2)}
    nets = {name: _well_net(i) for i, name in enumerate(oil.WELLS)}
    nets["riser"] = _riser_net()
    return nets


@pytest.mark.parametrize("problem", ["peaks", "reformer"])
@pytest.mark.parametrize("config", ["bigm", "tightened_bigm", "regions"])
def test_builder_solves_and_forward_check_holds(problem, config):
    row = runner.run_instance(PROBLEMS[problem], _nets(problem), config, time_limit=20)
    assert row["solved"], row
    assert row["fwd_err"] <= runner.FWD_TOL
    assert row["check_ok"] is True, row["check"]


@pytest.mark.parametrize("formulation", ["tightened_bigm", "auto"])
def test_oil_builds_solves_and_routes(formulation):
    nets = _nets("oil")
    m, blocks = oil.build_oil(nets, formulation=formulation)
    if formulation == "auto":  # 1-input wells get the region formulation, the 4-input risers big-M
        assert all(blocks[w].summary()["used"] == "regions" for w in oil.WELLS)
        assert all(blocks[r].summary()["used"] == "tightened_bigm" for r in oil.RISERS)
    assert len(blocks) == 10 and sum(1 for _ in m.y.values()) == 16
    sol = runner.solve_scip(m, time_limit=30)
    assert sol["solved"]
    assert runner.forward_error(blocks) <= runner.FWD_TOL
    assert oil.check(m, blocks, nets, solved=True)["grid_ok"]
    y = np.array([[m.y[i, r].value for r in m.R] for i in m.W])
    assert np.all(y.sum(axis=1) <= 1 + 1e-6)
    gas = sum(m.rqg[r].value for r in m.R)
    assert gas <= oil.GAS_CAPACITY + 1e-6
    # separator pressures are met by the riser networks at the solution
    for r, name in enumerate(oil.RISERS):
        x = np.array([v.value for v in blocks[name].inputs.values()])
        assert abs(blocks[name].network.forward(x)[0] - oil.P_SEP[r]) < 1e-5


@pytest.mark.parametrize("activation", ["relu", "clipped_relu"])
def test_omlt_and_ours_agree_on_peaks(activation):
    pytest.importorskip("omlt")
    nets = {
        "f": _random_net(
            (2, 8, 8, 1), 3, activation=activation, cap=0.8 if activation != "relu" else None
        )
    }
    objs = {}
    for config in ("omlt_bigm", "bigm", "scaled_bigm"):
        row = runner.run_instance(PROBLEMS["peaks"], nets, config, time_limit=20)
        assert row["solved"] and row["check_ok"] is True, (config, row)
        objs[config] = row["objective"]
    grid = np.linspace(-3, 3, 401)
    best = nets["f"].forward(np.array(np.meshgrid(grid, grid)).reshape(2, -1).T).min()
    assert objs["bigm"] <= best + 1e-6
    assert objs["omlt_bigm"] == pytest.approx(objs["bigm"], abs=1e-6)
    assert objs["scaled_bigm"] == pytest.approx(objs["bigm"], abs=1e-6)


def test_runner_resume_skips_rows(tmp_path, monkeypatch):
    calls = []

    def fake_train(variant, *, cache_dir, quick=False):
        calls.append(variant.name)
        return {"f": TrainedNet(_random_net((2, 6, 6, 1), 4), 0.1, 0.2)}

    monkeypatch.setitem(
        PROBLEMS, "peaks", dataclasses.replace(PROBLEMS["peaks"], train_networks=fake_train)
    )
    opts = dict(
        problems=["peaks"],
        variants=["plain"],
        time_limit=10,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    path = runner.run(tmp_path, configs=["bigm", "omlt_bigm"], **opts)
    with open(path) as fh:
        first = list(csv.DictReader(fh))
    assert [r["config"] for r in first] == ["bigm", "omlt_bigm"] and calls == ["plain"]
    runner.run(tmp_path, configs=["bigm", "omlt_bigm"], **opts)
    assert calls == ["plain"]  # nothing to do: no training, no new rows
    runner.run(tmp_path, configs=["bigm", "omlt_bigm", "scaled_bigm"], **opts)
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["config"] for r in rows] == ["bigm", "omlt_bigm", "scaled_bigm"]
    assert rows[0] == first[0]
    assert (tmp_path / "suite.md").exists() and (tmp_path / "suite.png").exists()
