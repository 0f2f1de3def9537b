"""Work that must grow with the model built, not faster: counted, never timed.

Each test pins a count that used to grow with the number of copies, neurons or
model rows (a Var read once per block copy, an LP tightening per copy, a pass
over every model row per block, a whole-model scan per LP solve), and checks
that the result is the same as the straightforward computation.
"""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import numpy as np
import pyomo.environ as pyo
import pytest
from pyomo.core.base.indexed_component import IndexedComponent

import pyomo_relu as pr
from pyomo_relu import block as block_module
from pyomo_relu.bounds import NeuronBounds, interval_bounds, lp_bounds
from pyomo_relu.bounds import lp as lp_module
from pyomo_relu.formulations import PreparationCache
from pyomo_relu.formulations import regions as regions_module
from pyomo_relu.transformations import model_context as model_context_module
from pyomo_relu.transformations import tighten as tr_module
from pyomo_relu.transformations.model_lp import CertifiedLP
from tests.conftest import random_network


def _indexed_model(net, copies, *, formulation="bigm", inputs=None):
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(copies)
    m.x = pyo.Var(m.T, range(net.n_inputs), bounds=(-1, 1))
    inputs = m.x if inputs is None else inputs(m)
    m.nn = pr.ReluNetworkBlock(m.T, network=net, inputs=inputs, formulation=formulation)
    return m


def _count(m, ctype) -> int:
    return sum(1 for _ in m.component_data_objects(ctype))


# -- building indexed blocks ---------------------------------------------------
@pytest.mark.parametrize("reference", [False, True])
def test_indexed_block_reads_the_input_var_once(monkeypatch, reference):
    """T copies used to scan all T * n entries of the input Var each: quadratic in T."""
    net = random_network((4, 6, 1), seed=1)
    spec = {}
    reads = []
    original = IndexedComponent.items

    def counting(self, *args, **kwargs):
        reads.append(self is spec.get("inputs"))
        return original(self, *args, **kwargs)

    def inputs(m):
        spec["inputs"] = pyo.Reference(m.x[:, :]) if reference else m.x
        return spec["inputs"]

    monkeypatch.setattr(IndexedComponent, "items", counting)
    m = _indexed_model(net, 40, inputs=inputs)
    monkeypatch.undo()
    assert sum(reads) == 1
    for t in m.T:
        assert [v for v in m.nn[t].inputs.values()] == [m.x[t, i] for i in range(4)]
    assert not block_module._GROUPED  # nothing of the model is kept once the last copy is built


def test_indexed_block_has_one_copy_of_the_rows_per_index():
    net = random_network((3, 10, 10, 2), seed=2)
    one = _indexed_model(net, 1)
    many = _indexed_model(net, 25)
    for ctype in (pyo.Constraint, pyo.Var):
        assert _count(many, ctype) == 25 * _count(one, ctype)


def test_bigm_reads_each_layers_activation_bounds_once(monkeypatch):
    """``post_bounds`` builds arrays of a layer's width; it used to be called once per neuron."""
    calls = []
    original = NeuronBounds.post_bounds

    def counting(self, k):
        calls.append(k)
        return original(self, k)

    counts = {}
    for width in (5, 60):
        net = random_network((3, width, width, 1), seed=3)
        bounds = interval_bounds(net, -1, 1)
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(3), bounds=(-1, 1))
        monkeypatch.setattr(NeuronBounds, "post_bounds", counting)
        calls.clear()
        m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, bounds=bounds)
        monkeypatch.setattr(NeuronBounds, "post_bounds", original)
        counts[width] = len(calls)
        assert m.nn.summary()["neurons"] == 2 * width
    assert counts[5] == counts[60] <= 2 * net.n_layers


# -- LP tightening shared by copies ----------------------------------------------
@pytest.mark.parametrize("formulation", ["tightened_bigm", "tightened_scaled_bigm"])
def test_indexed_tightened_block_solves_the_lps_once(monkeypatch, formulation):
    calls = []

    def counting(*args, **kwargs):
        calls.append(1)
        return lp_bounds(*args, **kwargs)

    monkeypatch.setattr(lp_module, "lp_bounds", counting)
    monkeypatch.setattr(pr.get_formulation(formulation).steps[0], "cache", PreparationCache(8))
    net = random_network((3, 12, 12, 1), seed=4)
    m = _indexed_model(net, 6, formulation=formulation)
    assert len(calls) == 1
    expected = lp_bounds(net, -1, 1)
    for t in m.T:
        for k in range(net.n_layers):
            np.testing.assert_array_equal(m.nn[t].bounds.lower[k], expected.lower[k])
            np.testing.assert_array_equal(m.nn[t].bounds.upper[k], expected.upper[k])
        assert m.nn[t].bounds is not m.nn[1].bounds or t == 1
    # another box is tightened anew
    m.other = pr.ReluNetworkBlock(
        network=net, input_bounds=([0, 0, 0], [1, 1, 1]), formulation=formulation
    )
    assert len(calls) == 2


def test_tightening_cache_is_bounded_and_keeps_no_network(monkeypatch):
    cache = PreparationCache(8)
    monkeypatch.setattr(pr.get_formulation("tightened_bigm").steps[0], "cache", cache)
    nets = [random_network((2, 4, 1), seed=100 + i) for i in range(cache.size + 3)]
    for net in nets:
        pr.ReluNetworkBlock(
            network=net, input_bounds=([-1, -1], [1, 1]), formulation="tightened_bigm"
        )
        assert len(cache) <= cache.size
    gone = weakref.ref(nets[-1])
    del nets, net
    gc.collect()
    assert gone() is None


def test_regions_cache_is_bounded_by_regions_and_keeps_no_network(monkeypatch):
    cache = PreparationCache(regions_module._CACHE_SIZE, too_big=regions_module._TooManyRegions(12))
    monkeypatch.setattr(pr.get_formulation("regions"), "cache", cache)
    nets = [random_network((1, 6, 1), seed=200 + i) for i in range(6)]
    for net in nets:
        pr.ReluNetworkBlock(network=net, input_bounds=([-1], [1]), formulation="regions")
        kept = cache.values()
        assert len(kept) == 1 or sum(part.n_regions for part in kept) <= 12
    gone = weakref.ref(nets[0])
    del nets, net
    gc.collect()
    assert gone() is None


# -- relu.tighten_bounds ---------------------------------------------------------
def _copies_with_rows(net, copies, n_user):
    m = pyo.ConcreteModel()
    m.T = pyo.RangeSet(copies)
    m.x = pyo.Var(m.T, range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(m.T, network=net, inputs=m.x)
    m.u = pyo.Var(range(n_user), bounds=(0, 1))
    m.chain = pyo.Constraint(range(n_user), rule=lambda m, i: m.u[i] + m.u[(i + 1) % n_user] <= 1.5)
    m.budget = pyo.Constraint(
        m.T, rule=lambda m, t: sum(m.x[t, i] for i in range(net.n_inputs)) <= 0.5
    )
    return m


def test_input_rows_are_found_by_lookup_and_match_a_full_pass():
    net = random_network((3, 5, 1), seed=5)
    m = _copies_with_rows(net, 20, 300)
    rows = tr_module.linear_user_rows(m)
    assert len(rows) == 320
    for t in m.T:
        # only the block's own budget row touches its inputs
        assert len(rows.rows_of(m.nn[t].inputs.values())) == 1
        fast = tr_module.input_constraints(m, m.nn[t], rows=rows)
        full = tr_module.input_constraints(m, m.nn[t], rows=list(rows))
        for a, b in zip(fast, full):
            np.testing.assert_array_equal(a, b)


def test_tighten_bounds_computes_once_per_distinct_block(monkeypatch):
    net = random_network((3, 8, 8, 1), seed=6)
    m = _copies_with_rows(net, 8, 10)
    m.x[8, 0].setub(0.5)  # one copy has another box: computed apart
    m.nn[8].rebuild(bounds=interval_bounds(net, [-1, -1, -1], [0.5, 1, 1]))
    calls = []
    original = tr_module._compute_bounds

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(tr_module, "_compute_bounds", counting)
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")
    assert len(calls) == 2
    extra = tr_module.input_constraints(m, m.nn[1])
    expected = lp_bounds(net, -1, 1, extra_constraints=extra)
    for t in range(1, 8):
        for k in range(net.n_layers):
            np.testing.assert_array_equal(m.nn[t].bounds.upper[k], expected.upper[k])
    assert not np.array_equal(m.nn[8].bounds.upper[1], expected.upper[1])


def test_model_context_reads_the_model_once_per_change_not_per_solve(monkeypatch):
    net = random_network((2, 6, 6, 1), seed=7)
    m = _copies_with_rows(net, 2, 50)
    m.cap = pyo.Constraint(expr=m.nn[1].outputs[0] <= 0.0)
    loads, solves, reads = [], [], []
    load, bound, read = CertifiedLP.load, CertifiedLP.bound, model_context_module._Rows._row
    monkeypatch.setattr(CertifiedLP, "load", lambda self, *a: (loads.append(1), load(self, *a))[1])
    monkeypatch.setattr(
        CertifiedLP, "bound", lambda self, *a: (solves.append(1), bound(self, *a))[1]
    )
    monkeypatch.setattr(
        model_context_module._Rows,
        "_row",
        lambda self, con: (reads.append(con), read(self, con))[1],
    )
    pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="interval", context="model")
    assert len(loads) <= 2 * net.n_layers  # per block: one load, then one per changed layer
    assert len(solves) >= 4 * len(loads)  # every other solve only swaps the objective
    assert len({id(c) for c in reads}) == len(reads)  # each constraint is read once


def test_lp_bounds_after_an_appsi_highs_solve_in_the_same_process():
    """Pyomo's appsi_highs starts HiGHS' global thread scheduler; LP tightening and the
    input-feasibility check must still run afterwards (not fall back to the prior)."""
    import subprocess
    import sys
    import textwrap

    code = textwrap.dedent("""
        import numpy as np, pyomo.environ as pyo, pyomo_relu as pr
        from pyomo_relu.bounds.lp import check_inputs_feasible
        from tests.conftest import random_network
        net = random_network((2, 10, 10, 1), seed=0)
        lb, ub = -np.ones(2), np.ones(2)
        m = pyo.ConcreteModel(); m.x = pyo.Var(range(2), bounds=(-1, 1))
        m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
        m.o = pyo.Objective(expr=m.nn.outputs[0])
        pyo.SolverFactory("appsi_highs").solve(m)
        b = pr.lp_bounds(net, lb, ub)
        assert b.methods[1:] == ["lp", "lp"], b.methods
        try:
            extra = (np.array([[1.0, 1.0]]), np.array([5.0]), np.array([6.0]))
            check_inputs_feasible(lb, ub, extra)
        except pr.InfeasibleBoxError:
            pass
        else:
            raise AssertionError("an empty input set was not reported")
        res = pyo.SolverFactory("appsi_highs").solve(m)
        assert str(res.solver.termination_condition) == "optimal"
        print("ok")
    """)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
