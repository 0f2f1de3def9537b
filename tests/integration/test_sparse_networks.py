"""Networks with scipy.sparse layers through bounds, reductions, formulations and the writer.

Every check compares a network of random sparse layers (some rows and columns
empty) with its dense twin: same bounds, sound by sampling, same MIP optima equal
to the forward pass, reductions that keep the function and the CSR storage, and
rows that carry exactly a sparse layer's nonzeros.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyomo.repn import generate_standard_repn

import pyomo_relu as pr
from pyomo_relu.bounds.registry import bound_method_names, get_bound_method
from pyomo_relu.formulations import SOS1
from pyomo_relu.reductions import RESCALE_RULES
from tests.conftest import requires_scip
from tests.sparse_networks import conv_network, dense_twin, sparse_network, sparse_networks

SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _samples(rng, lb, ub, n=2000):
    corners = np.array(list(itertools.product(*zip(lb, ub))))
    return np.vstack([rng.uniform(lb, ub, size=(n, lb.size)), corners])


def _assert_same_bounds(a, b, tol=1e-9):
    for k in range(a.n_layers):
        np.testing.assert_allclose(a.lower[k], b.lower[k], rtol=tol, atol=tol)
        np.testing.assert_allclose(a.upper[k], b.upper[k], rtol=tol, atol=tol)


def _assert_contains(net, bounds, x):
    for k, z in enumerate(net.preactivations(x)):
        assert np.all(z >= bounds.lower[k]), f"layer {k}: a reachable value is below the bound"
        assert np.all(z <= bounds.upper[k]), f"layer {k}: a reachable value is above the bound"


# -- bounds ---------------------------------------------------------------------------
@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("method", bound_method_names())
@SETTINGS
@given(case=sparse_networks())
def test_every_bound_method_gives_the_dense_twins_bounds(method, case):
    net, lb, ub, rng = case
    twin = dense_twin(net)
    compute = get_bound_method(method).compute
    sparse, dense = compute(net, lb, ub), compute(twin, lb, ub)
    _assert_same_bounds(sparse, dense)
    if get_bound_method(method).certified:
        _assert_contains(net, sparse, _samples(rng, lb, ub))


def test_interval_bounds_of_a_conv_network_are_sound_and_match_dense():
    net = conv_network(seed=1)
    lb, ub = np.zeros(64), np.ones(64)
    bounds = pr.interval_bounds(net, lb, ub)
    _assert_same_bounds(bounds, pr.interval_bounds(dense_twin(net), lb, ub))
    _assert_contains(net, bounds, np.random.default_rng(1).uniform(lb, ub, size=(500, 64)))


def test_lp_bounds_of_a_conv_layer_are_sound_and_match_dense():
    net = conv_network(seed=2)
    lb, ub = np.zeros(64), np.ones(64)
    kw = dict(layers=[1], tighten_outputs=False)
    bounds = pr.lp_bounds(net, lb, ub, **kw)
    dense = pr.lp_bounds(dense_twin(net), lb, ub, **kw)
    _assert_same_bounds(bounds, dense)
    _assert_contains(net, bounds, np.random.default_rng(2).uniform(lb, ub, size=(500, 64)))
    # the LP tightened something: it is not just the interval bounds back
    ib = pr.interval_bounds(net, lb, ub)
    assert np.any(bounds.upper[1] < ib.upper[1] - 1e-6)


def test_lp_matrix_holds_only_the_nonzeros():
    from pyomo_relu.bounds.lp import build_layer_lp

    net = sparse_network((6, 9, 4), seed=5, density=0.3)
    lb, ub = -np.ones(6), np.ones(6)
    bounds = pr.interval_bounds(net, lb, ub)
    lp = build_layer_lp(net, bounds, 1)
    twin = build_layer_lp(dense_twin(net), bounds, 1)
    assert np.all(lp.vals != 0.0)
    # one entry per nonzero weight per input column, plus the pre-activation columns' entries
    layer = net.layers[0]
    affine_rows = lp.rows >= lp.n_rows - layer.n_out
    weight_entries = affine_rows & (lp.cols < net.n_inputs)
    assert int(weight_entries.sum()) == layer.nnz
    for name in ("rows", "cols", "vals", "row_lo", "row_hi", "col_lo", "col_hi"):
        np.testing.assert_array_equal(getattr(lp, name), getattr(twin, name))


# -- reductions -----------------------------------------------------------------------
@pytest.mark.parametrize("rule", RESCALE_RULES)
@SETTINGS
@given(case=sparse_networks())
def test_rescale_keeps_the_function_and_csr_storage(rule, case):
    net, lb, ub, rng = case
    bounds = pr.interval_bounds(net, lb, ub)
    scaled = pr.rescale(net, bounds, rule=rule)
    twin = pr.rescale(dense_twin(net), pr.interval_bounds(dense_twin(net), lb, ub), rule=rule)
    assert all(layer.is_sparse for layer in scaled.network.layers)
    assert [L.nnz for L in scaled.network.layers] == [L.nnz for L in net.layers]
    x = _samples(rng, lb, ub)
    np.testing.assert_allclose(scaled.network.forward(x), net.forward(x), rtol=1e-9, atol=1e-9)
    _assert_contains(scaled.network, scaled.bounds, x)
    _assert_same_bounds(scaled.bounds, twin.bounds)


@SETTINGS
@given(case=sparse_networks(max_hidden=3))
def test_prune_stable_keeps_the_function_and_csr_storage(case):
    net, lb, ub, rng = case
    bounds = pr.lp_bounds(net, lb, ub)
    pruned = pr.prune_stable(net, bounds)
    twin = pr.prune_stable(dense_twin(net), pr.lp_bounds(dense_twin(net), lb, ub))
    assert all(layer.is_sparse for layer in pruned.network.layers)
    assert pruned.network.layer_sizes == twin.network.layer_sizes
    x = _samples(rng, lb, ub)
    np.testing.assert_allclose(pruned.network.forward(x), net.forward(x), rtol=1e-9, atol=1e-9)
    _assert_contains(pruned.network, pruned.bounds, x)
    _assert_same_bounds(pruned.bounds, twin.bounds)


# -- formulations ---------------------------------------------------------------------
def _optimum(net, formulation, lb, ub, sense):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (float(lb[i]), float(ub[i])))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
    res = pyo.SolverFactory("scip_direct").solve(m)
    assert res.solver.termination_condition == pyo.TerminationCondition.optimal
    x = np.array([pyo.value(m.x[i]) for i in range(net.n_inputs)])
    return pyo.value(m.obj), net.forward(x)[0], m.nn.bounds


FORMULATIONS = [*pr.formulation_names(), "sos1"]


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", FORMULATIONS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), sense=st.sampled_from(["min", "max"]))
def test_every_formulation_of_a_sparse_network_finds_the_dense_twins_optimum(
    formulation, data, sense
):
    # SOS1 covers plain ReLU only; the others get clipped networks too
    clipped = False if formulation == "sos1" else None
    net, lb, ub, _ = data.draw(sparse_networks(max_in=2, clipped=clipped))
    sense = pyo.minimize if sense == "min" else pyo.maximize
    form = SOS1() if formulation == "sos1" else formulation
    value, forward, bounds = _optimum(net, form, lb, ub, sense)
    twin_value, _, twin_bounds = _optimum(dense_twin(net), form, lb, ub, sense)
    assert value == pytest.approx(forward, abs=1e-6, rel=1e-6)
    assert value == pytest.approx(twin_value, abs=1e-6, rel=1e-6)
    _assert_same_bounds(bounds, twin_bounds)


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("formulation", ["bigm", "tightened_scaled_bigm"])
def test_clipped_sparse_network_optimum_equals_forward(formulation):
    net = sparse_network((2, 6, 5, 1), seed=11, clipped=True, cap=0.7)
    lb, ub = -np.ones(2), np.ones(2)
    for sense in (pyo.minimize, pyo.maximize):
        value, forward, _ = _optimum(net, formulation, lb, ub, sense)
        assert value == pytest.approx(forward, abs=1e-6, rel=1e-6)


# -- the writer -----------------------------------------------------------------------
def _layer_rows(mip, k):
    """``{neuron: (variable names, coefficients)}`` of the affine rows of layer ``k``."""
    out = {}
    for name in ("pre", "linear", "output"):
        con = mip.component(name)
        if con is None:
            continue
        for key in con:
            if key[0] != k:
                continue
            repn = generate_standard_repn(con[key].body)
            out[key[1]] = (repn.linear_vars, np.asarray(repn.linear_coefs, dtype=np.float64))
    return out


def test_writer_writes_one_row_per_neuron_with_exactly_the_nonzeros():
    net = conv_network(seed=3)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(64), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    mip = m.nn.mip
    bounds = m.nn.bounds
    assert all(p.inactive.sum() == 0 for p in (bounds.pieces(0),)), "no constant neuron expected"
    layer = net.layers[0]
    rows = _layer_rows(mip, 0)
    assert len(rows) == layer.n_out
    # each row: the neuron's nonzero weights on the inputs, and -1 on its own variable
    assert sum(len(v) - 1 for v, _ in rows.values()) == layer.nnz
    for j, (variables, coefs) in rows.items():
        cols, vals = layer.row(j)
        on_inputs = {v.index(): c for v, c in zip(variables, coefs) if v.parent_component() is m.x}
        assert sorted(on_inputs) == cols.tolist()
        np.testing.assert_array_equal([on_inputs[i] for i in cols], vals)
    # the second conv layer reads the first layer's variables; its constant neurons fold away
    kinds = pr.formulations.writer.neuron_kinds(net, bounds, 0)
    variable = np.flatnonzero((kinds == "bin") | (kinds == "lin"))
    w1 = net.layers[1].weights[:, variable]
    rows1 = _layer_rows(mip, 1)
    kinds1 = pr.formulations.writer.neuron_kinds(net, bounds, 1)
    written = np.flatnonzero((kinds1 == "bin") | (kinds1 == "lin"))
    assert sorted(rows1) == written.tolist()
    assert sum(len(v) - 1 for v, _ in rows1.values()) == w1[written].nnz


def test_writer_rows_of_sparse_and_dense_twin_agree():
    net = sparse_network((4, 7, 6, 2), seed=8, density=0.35)
    models = []
    for n in (net, dense_twin(net)):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(4), bounds=(-1, 1))
        m.nn = pr.ReluNetworkBlock(network=n, inputs=m.x, formulation="bigm")
        models.append(m)
    for k in range(net.n_layers):
        a, b = (_layer_rows(m.nn.mip, k) for m in models)
        assert sorted(a) == sorted(b)
        for j in a:
            assert [v.name for v in a[j][0]] == [v.name for v in b[j][0]]
            np.testing.assert_array_equal(a[j][1], b[j][1])
    stats = [{k: v for k, v in m.nn.summary().items() if k != "build_seconds"} for m in models]
    assert stats[0] == stats[1]


# -- regions, analysis, the model transformation and the exporters -------------------
@pytest.mark.parametrize("method", ["exact", "sample"])
def test_linear_region_count_of_a_sparse_network_matches_the_dense_twin(method):
    net = sparse_network((2, 6, 5, 1), seed=13, density=0.6)
    lb, ub = -np.ones(2), np.ones(2)
    counts = [
        pr.analysis.count_linear_regions(n, lb, ub, method=method, n_samples=4000).count
        for n in (net, dense_twin(net))
    ]
    assert counts[0] == counts[1] > 1


def test_indicators_of_sparse_and_dense_bounds_agree():
    net = sparse_network((3, 8, 6, 2), seed=14)
    lb, ub = -np.ones(3), np.ones(3)
    a, b = (pr.interval_bounds(n, lb, ub) for n in (net, dense_twin(net)))
    assert pr.analysis.stable_fraction(a).to_dict() == pr.analysis.stable_fraction(b).to_dict()


@pytest.mark.solver
@requires_scip
def test_tighten_bounds_transformation_on_a_sparse_block_keeps_the_optimum():
    net = sparse_network((3, 10, 8, 1), seed=15)
    values = []
    for n in (net, dense_twin(net)):
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(3), bounds=(-1, 1))
        m.nn = pr.ReluNetworkBlock(network=n, inputs=m.x, formulation="bigm")
        m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.maximize)
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")
        pyo.SolverFactory("scip_direct").solve(m)
        values.append((pyo.value(m.obj), m.nn.bounds))
        assert m.nn.prediction_error() < 1e-6
    assert values[0][0] == pytest.approx(values[1][0], abs=1e-6)
    _assert_same_bounds(values[0][1], values[1][1])
    x = _samples(np.random.default_rng(15), -np.ones(3), np.ones(3))
    _assert_contains(net, values[0][1], x)


def test_torch_export_of_a_sparse_network_computes_the_same_function():
    torch = pytest.importorskip("torch")
    net = sparse_network((3, 7, 2), seed=16)
    model = pr.io.to_torch(net)
    x = np.random.default_rng(16).uniform(-1, 1, size=(50, 3))
    with torch.no_grad():
        y = model(torch.as_tensor(x)).numpy()
    np.testing.assert_allclose(y, net.forward(x), rtol=1e-12, atol=1e-12)
    assert pr.io.from_torch(model) == net


def test_omlt_export_of_a_sparse_network_round_trips():
    pytest.importorskip("omlt")
    net = sparse_network((3, 7, 2), seed=17, clipped=True)
    nd = pr.io.to_omlt(net, -np.ones(3), np.ones(3))
    back = pr.io.from_omlt(nd)
    x = np.random.default_rng(17).uniform(-1, 1, size=(50, 3))
    np.testing.assert_allclose(back.forward(x), net.forward(x), rtol=1e-12, atol=1e-12)


def test_lp_bounds_of_a_sparse_network_on_worker_processes_match_serial():
    net = sparse_network((4, 12, 10, 2), seed=18)
    lb, ub = -np.ones(4), np.ones(4)
    serial = pr.lp_bounds(net, lb, ub)
    parallel = pr.lp_bounds(net, lb, ub, workers=2)
    for k in range(net.n_layers):  # same chunks, same LPs: bit-identical bounds
        np.testing.assert_array_equal(serial.lower[k], parallel.lower[k])
        np.testing.assert_array_equal(serial.upper[k], parallel.upper[k])
