"""The partition (P-split) encoding: its groups, their bounds, its rows and its options (no solver).

The rows are checked without a solver: at the network's own values (forward pass,
``d`` the neuron's activity, ``zeta_p = d v_p``) every row must hold, so the
encoding never cuts off a point of the network's graph.  That the rows also
force ``y = max(0, z)`` is checked with SCIP in
``tests/integration/test_partition_formulation.py``.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.errors import UnknownOptionError
from pyomo_relu.formulations import Partition, TightenedPartition, encoding_names
from pyomo_relu.formulations.encodings import PartitionEncoding
from pyomo_relu.formulations.encodings.partition import _group_bounds, partition_groups
from tests.conftest import random_network


def test_registered_as_encoding_and_formulations():
    assert "partition" in encoding_names()
    names = pr.formulation_names()
    assert {"partition", "tightened_partition", "sos1"} <= set(names)
    assert pr.get_formulation("tightened_partition").steps[0].name == "tighten"
    assert pr.get_formulation("partition").encoding.n_parts == 2


def test_equal_size_groups_keep_the_input_order_and_skip_zero_weights():
    coefs = np.array([1.0, 0.0, -2.0, 3.0, 0.5, -1.0, 0.0])
    lo, hi = -np.ones(7), np.ones(7)
    groups = partition_groups(coefs, lo, hi, 2, "equal_size")
    assert [g.tolist() for g in groups] == [[0, 2, 3], [4, 5]]
    groups = partition_groups(coefs, lo, hi, 8, "equal_size")  # more groups than inputs
    assert len(groups) == 8 and sorted(np.concatenate(groups).tolist()) == [0, 2, 3, 4, 5]
    assert sum(g.size == 0 for g in groups) == 3


def test_by_weight_groups_sort_by_signed_weighted_range():
    coefs = np.array([1.0, -2.0, 3.0, -0.5])
    lo = np.array([0.0, 0.0, 0.0, 0.0])
    hi = np.array([1.0, 1.0, 0.1, 4.0])  # weighted ranges 1, -2, 0.3, -2
    groups = partition_groups(coefs, lo, hi, 2, "by_weight")
    assert [g.tolist() for g in groups] == [[1, 3], [2, 0]]


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(1, 12),
    parts=st.integers(1, 6),
    strategy=st.sampled_from(["equal_size", "by_weight"]),
    seed=st.integers(0, 2**31),
)
def test_group_bounds_contain_every_partial_sum(n, parts, strategy, seed):
    rng = np.random.default_rng(seed)
    coefs = rng.normal(size=n) * (rng.random(n) > 0.2)
    lo = rng.uniform(-2, 1, n)
    hi = lo + rng.uniform(0, 3, n)
    groups = partition_groups(coefs, lo, hi, parts, strategy)
    assert sorted(np.concatenate(groups).tolist()) == np.flatnonzero(coefs).tolist()
    low, up = _group_bounds(coefs, lo, hi, groups)
    pts = rng.uniform(lo, hi, size=(2000, n))
    pts[:2] = lo, hi  # corners too
    for p, idx in enumerate(groups):
        sums = pts[:, idx] @ coefs[idx]
        assert np.all(low[p] <= sums) and np.all(sums <= up[p])
        # tight up to rounding: the interval image of the group
        exact_hi = np.maximum(coefs[idx] * lo[idx], coefs[idx] * hi[idx]).sum()
        assert up[p] == pytest.approx(exact_hi, abs=1e-12)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_parts": 0}, "n_parts must be an integer >= 1"),
        ({"n_parts": 1.5}, "n_parts must be an integer >= 1"),
        ({"n_parts": True}, "n_parts must be an integer >= 1"),
        ({"strategy": "random"}, r"strategy='random' is not one of \['equal_size', 'by_weight'\]"),
    ],
)
def test_bad_options_name_the_option_and_the_fix(kwargs, match):
    for make, owner in ((Partition, "Partition"), (TightenedPartition, "TightenedPartition")):
        with pytest.raises(UnknownOptionError, match=f"{owner}: {match}"):
            make(**kwargs)
    with pytest.raises(UnknownOptionError, match=match):
        PartitionEncoding(**kwargs)


def _set_to_forward(m, net, x):
    """Give every variable of the block the network's value at ``x`` (zeta_p = d v_p)."""
    for i, xi in enumerate(x):
        m.x[i].fix(float(xi))
    zs, a = net.preactivations(x[None])[:], x
    mip = m.nn.mip
    for k, (layer, z) in enumerate(zip(net.layers, zs)):
        z = z[0]
        act = layer.activation.apply(z)
        for (kk, j), var in mip.z.items():
            if kk == k:
                var.set_value(float(z[j]))
        for (kk, j), var in mip.y.items():
            if kk == k:
                var.set_value(float(act[j]))
        for (kk, j), var in mip.d.items():
            if kk == k:
                var.set_value(float(z[j] >= 0.0))
        for (kk, j), var in mip.d2.items():
            if kk == k:
                var.set_value(float(z[j] >= layer.activation.caps(layer.n_out)[j]))
        yield k, a, z
        a = act
    for j, v in m.nn.outputs.items():
        v.set_value(float(net.forward(x)[j]))


def _zeta_values(m, net, k, a_prev, z, encoding):
    """Set zeta_p = d * v_p of every partitioned neuron of layer ``k`` (inputs: the box)."""
    mip = m.nn.mip
    lo, hi = m.nn.bounds.input_lb, m.nn.bounds.input_ub
    for kk, j in list(mip.part0.keys()):
        if kk != k:
            continue
        coefs = net.layers[k].weights[j]
        groups = partition_groups(coefs, lo, hi, encoding.n_parts, encoding.strategy)
        for g, idx in enumerate(groups):
            v = float(coefs[idx] @ a_prev[idx])
            getattr(mip, f"part{g}")[k, j].set_value(float(z[j] >= 0.0) * v)


@pytest.mark.parametrize(
    "parts, strategy", [(1, "equal_size"), (2, "equal_size"), (3, "by_weight")]
)
@pytest.mark.parametrize("seed", range(3))
def test_rows_hold_at_the_forward_pass(parts, strategy, seed):
    net = random_network((4, 10, 1), seed=seed)  # one hidden layer: its inputs are the box
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(4), bounds=(-1, 1))
    form = Partition(n_parts=parts, strategy=strategy)
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=form)
    stats = m.nn.build_stats
    assert stats.unstable > 0 and stats.binaries == stats.unstable
    # rows per unstable neuron: 4 shared, 2 per group, 2 more per non-empty group (all of them)
    p_rows = [
        c
        for c in m.nn.mip.component_data_objects(pyo.Constraint)
        if c.parent_component().local_name.startswith("p_")
    ]
    assert len(p_rows) == stats.unstable * (4 + 4 * parts)
    rng = np.random.default_rng(seed)
    for x in rng.uniform(-1, 1, size=(25, 4)):
        for k, a_prev, z in _set_to_forward(m, net, x):
            if k == 0:
                _zeta_values(m, net, k, a_prev, z, form.encoding)
        for row in m.nn.mip.component_data_objects(pyo.Constraint, active=True):
            body = pyo.value(row.body)
            assert row.lower is None or body >= pyo.value(row.lower) - 1e-9, row.name
            assert row.upper is None or body <= pyo.value(row.upper) + 1e-9, row.name
