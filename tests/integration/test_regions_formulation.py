"""The "regions" formulation: the partition covers the box, the MIP is exact, errors are clear."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.formulations import Auto, Regions
from pyomo_relu.regions import count_linear_regions, linear_partition
from tests.conftest import block_model, random_network, requires_scip


def _area(v: np.ndarray) -> float:
    x, y = v[:, 0], v[:, 1]
    return 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))


def _affine_fit(vertices, values):
    """Least-squares affine map through a region's corners, and its largest residual."""
    a = np.hstack([vertices, np.ones((len(vertices), 1))])
    coef, *_ = np.linalg.lstsq(a, values, rcond=None)
    return coef, float(np.abs(a @ coef - values).max())


@st.composite
def low_dim_networks(draw):
    n_in = draw(st.integers(1, 2))
    hidden = [draw(st.integers(1, 10)) for _ in range(draw(st.integers(1, 3)))]
    n_out = draw(st.integers(1, 3))
    return random_network(
        (n_in, *hidden, n_out),
        seed=draw(st.integers(0, 10_000)),
        clipped=draw(st.booleans()),
        cap=draw(st.floats(0.2, 2.0)),
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=low_dim_networks(), seed=st.integers(0, 2**31))
def test_partition_covers_box_and_network_is_affine_on_each_region(net, seed):
    lb, ub = -np.ones(net.n_inputs), np.ones(net.n_inputs)
    part = linear_partition(net, lb, ub)
    assert part.complete
    assert part.n_regions == count_linear_regions(net, lb, ub, method="exact").count
    if net.n_inputs == 2:
        assert sum(_area(v) for v in part.vertices) == pytest.approx(4.0, rel=1e-9)
    else:
        assert sum(float(v[1, 0] - v[0, 0]) for v in part.vertices) == pytest.approx(2.0, rel=1e-12)
    rng = np.random.default_rng(seed)
    for v, f in zip(part.vertices, part.values):
        np.testing.assert_allclose(f, net.forward(v), atol=1e-12)
        coef, resid = _affine_fit(v, f)
        assert resid < 1e-7  # the network is affine on the region
        # points inside the region (random convex combinations of its corners)
        w = rng.dirichlet(np.ones(len(v)), size=20)
        x = w @ v
        np.testing.assert_allclose(
            np.hstack([x, np.ones((20, 1))]) @ coef, net.forward(x), atol=1e-6
        )


def test_partition_with_fixed_inputs_and_errors():
    net = random_network((3, 8, 8, 2), seed=3)
    part = linear_partition(net, [-1, 0.5, -1], [1, 0.5, 1])
    assert part.complete and all(np.all(v[:, 1] == 0.5) for v in part.vertices)
    point = linear_partition(net, [0.1, 0.2, 0.3], [0.1, 0.2, 0.3])
    assert point.n_regions == 1 and np.allclose(point.values[0], net.forward([0.1, 0.2, 0.3]))
    with pytest.raises(pr.NotApplicableError, match="3 free inputs.*tightened_bigm"):
        linear_partition(net, -np.ones(3), np.ones(3))
    capped = linear_partition(
        random_network((2, 20, 20, 1), seed=1), [-1, -1], [1, 1], max_regions=5
    )
    assert not capped.complete and capped.n_regions == 5


def _model(net, lb, ub, formulation, sense=None):
    return block_model(net, formulation, lb, ub, sense=sense)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("encoding", ["log", "unary"])
@pytest.mark.parametrize(
    "sizes, seed, clipped",
    [
        ((2, 12, 12, 1), 5, False),
        ((2, 10, 10, 10, 2), 6, True),
        ((1, 16, 16, 1), 7, False),
        ((1, 8, 8, 3), 8, True),
    ],
)
@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_regions_optimum_equals_bigm_and_forward(encoding, sizes, seed, clipped, sense):
    net = random_network(sizes, seed=seed, clipped=clipped, cap=0.7)
    lb, ub = -np.ones(net.n_inputs), np.ones(net.n_inputs)
    m = _model(net, lb, ub, Regions(encoding=encoding), sense=sense)
    pyo.SolverFactory("scip_direct").solve(m)
    reference = _model(net, lb, ub, "bigm", sense=sense)
    pyo.SolverFactory("scip_direct").solve(reference)
    assert pyo.value(m.obj) == pytest.approx(pyo.value(reference.obj), abs=1e-6)
    assert m.nn.prediction_error() < 1e-6
    n_reg = m.nn.prepared.info["partition"].n_regions
    expected = int(np.ceil(np.log2(n_reg))) if encoding == "log" else n_reg
    assert m.nn.summary()["binaries"] == (expected if n_reg > 1 else 0)


@pytest.mark.solver
@requires_scip
def test_regions_lp_relaxation_is_the_convex_hull():
    """Sharp formulation: the LP relaxation already gives the optimum of a linear objective."""
    net = random_network((2, 10, 10, 1), seed=12)
    m = _model(net, [-1, -1], [1, 1], "regions", sense=pyo.minimize)
    pyo.TransformationFactory("core.relax_integer_vars").apply_to(m)
    pyo.SolverFactory("appsi_highs").solve(m)
    g = np.linspace(-1, 1, 801)
    grid_min = net.forward(np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2))[:, 0].min()
    assert pyo.value(m.obj) <= grid_min + 1e-7
    assert grid_min - pyo.value(m.obj) < 0.05


@pytest.mark.solver
@requires_scip
def test_auto_uses_regions_when_it_applies_and_bigm_otherwise():
    small = random_network((2, 6, 6, 1), seed=1)
    wide = random_network((3, 6, 6, 1), seed=2)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(2), bounds=(-1, 1))
    m.y = pyo.Var(range(3), bounds=(-1, 1))
    m.a = pr.ReluNetworkBlock(network=small, inputs=m.x, formulation="auto")
    m.b = pr.ReluNetworkBlock(network=wide, inputs=m.y, formulation="auto")
    m.c = pr.ReluNetworkBlock(
        network=random_network((2, 20, 20, 1), seed=3), inputs=m.x, formulation=Auto(max_regions=3)
    )
    assert m.a.mip.component("lam") is not None and m.a.mip.component("z") is None
    assert m.b.mip.component("lam") is None and m.b.mip.component("z") is not None
    assert m.c.mip.component("lam") is None  # too many regions: big-M
    assert m.a.summary()["used"] == "regions" and m.a.summary()["regions"] >= 1
    assert m.b.summary()["used"] == "tightened_bigm" and "regions" not in m.b.summary()
    assert m.b.prepared.report is not None  # LP tightening ran (tightened_bigm)
    m.obj = pyo.Objective(expr=m.a.outputs[0] + m.b.outputs[0] + m.c.outputs[0], sense=pyo.maximize)
    pyo.SolverFactory("scip_direct").solve(m)
    for blk in (m.a, m.b, m.c):
        assert blk.prediction_error() < 1e-6


def test_regions_errors_name_the_problem():
    net = random_network((3, 6, 1), seed=4)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(3), bounds=(-1, 1))
    with pytest.raises(pr.NotApplicableError, match="3 free inputs"):
        m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="regions")
    m2 = pyo.ConcreteModel()
    m2.x = pyo.Var(range(2), bounds=(-1, 1))
    with pytest.raises(pr.NotApplicableError, match="more than 4 linear regions"):
        m2.nn = pr.ReluNetworkBlock(
            network=random_network((2, 20, 20, 1), seed=1),
            inputs=m2.x,
            formulation=Regions(max_regions=4),
        )
    with pytest.raises(pr.UnknownOptionError, match="encoding"):
        Regions(encoding="binary")
    with pytest.raises(pr.UnknownOptionError, match="max_regions"):
        Regions(max_regions=0)


@pytest.mark.solver
@requires_scip
def test_indexed_blocks_enumerate_the_regions_once(monkeypatch):
    from pyomo_relu.formulations import regions as module

    calls = []
    original = module.linear_partition

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "linear_partition", counting)
    monkeypatch.setattr(pr.get_formulation("regions"), "cache", module.PreparationCache(8))
    net = random_network((2, 8, 8, 1), seed=21)
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(0, 3)
    m.x = pyo.Var(m.T, range(2), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(m.T, network=net, inputs=m.x, formulation="regions")
    assert len(calls) == 1
    m.obj = pyo.Objective(expr=sum(m.nn[t].outputs[0] for t in m.T))
    for t in m.T:
        m.x[t, 0].fix(-1 + 0.5 * t)
    pyo.SolverFactory("scip_direct").solve(m)
    for t in m.T:
        assert m.nn[t].prediction_error() < 1e-6
    # another network, or the same one on another box, is enumerated anew
    m.other = pr.ReluNetworkBlock(network=net, input_bounds=([0, 0], [1, 1]), formulation="regions")
    assert len(calls) == 2
