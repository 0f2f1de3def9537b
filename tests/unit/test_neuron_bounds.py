"""NeuronBounds as typed, immutable data: read-only arrays, provenance, one stability query."""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pyomo_relu as pr
from pyomo_relu.bounds import (
    BoundMethod,
    LayerPieces,
    NeuronBounds,
    Provenance,
    Scope,
    bound_method_names,
    get_bound_method,
    interval_bounds,
    lp_bounds,
    register_bound_method,
    sampled_bounds,
)
from pyomo_relu.bounds.registry import _METHODS
from tests.conftest import random_network


def test_arrays_are_read_only_float64_copies_in_tuples():
    lo = [np.array([-1, 0], dtype=np.int64)]
    b = NeuronBounds([0, 0], [1, 1], lo, [[1, 2]], ["interval"])
    assert isinstance(b.lower, tuple) and b.lower[0].dtype == np.float64
    for arr in (b.input_lb, b.input_ub, b.lower[0], b.upper[0], b.caps[0]):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 5.0
    lo[0][0] = -7  # the caller's data stays theirs
    assert b.lower[0][0] == -1.0
    with pytest.raises(AttributeError):
        b.lower = (np.zeros(2),)
    with pytest.raises(AttributeError):
        b.report = "x"


def test_report_is_a_declared_field_and_survives_pickling():
    net = random_network((2, 6, 1), seed=1)
    b = lp_bounds(net, -1, 1)
    assert b.report is not None and b.report.n_solves > 0
    clone = pickle.loads(pickle.dumps(b))
    assert clone == b and clone.report.n_solves == b.report.n_solves
    assert not clone.lower[0].flags.writeable
    assert b.replace(report=None) == b  # the report is not part of the bounds' content


def test_provenance_labels_and_scopes():
    assert Provenance.of("lp") == Provenance("lp", Scope.BOX)
    assert Provenance.of("milp-constrained") == Provenance("milp", Scope.CONSTRAINED)
    assert Provenance.of("lp-model").label == "lp-model"
    with pytest.raises(pr.BoundsTypeError, match="'-model' is not a bound method"):
        Provenance.of("-model")  # a suffix alone names no method
    with pytest.raises(pr.BoundsTypeError, match="provenance"):
        Provenance.of("")
    with pytest.raises(pr.BoundsTypeError, match="provenance"):
        Provenance.of(3)
    b = NeuronBounds([0], [1], [[0.0]] * 3, [[1.0]] * 3, ["interval", "lp-constrained", "lp-model"])
    assert b.constrained_layers() == [1, 2]
    assert b.layers_by("lp") == [1, 2] and b.layers_by("interval") == [0]
    assert b.methods == ["interval", "lp-constrained", "lp-model"]
    # a method name that merely contains "model" or "constrained" is still a box bound
    register_bound_method(BoundMethod("modelled", interval_bounds, "test method"))
    try:
        c = NeuronBounds([0], [1], [[0.0]], [[1.0]], [Provenance("modelled")])
        assert c.constrained_layers() == [] and c.methods == ["modelled"]
        d = NeuronBounds([0], [1], [[0.0]], [[1.0]], ["modelled-constrained"])
        assert d.constrained_layers() == [0] and d.layers_by("modelled") == [0]
    finally:
        del _METHODS["modelled"]


def test_an_unknown_method_label_is_refused_with_a_clear_error():
    for label in ("crown", "lp-tight", "constrained-lp", "x-model"):
        with pytest.raises(pr.BoundsTypeError, match=f"{label.split('-model')[0]!r} is not a"):
            NeuronBounds([0], [1], [[0.0]], [[1.0]], [label])
    with pytest.raises(pr.BoundsTypeError, match="register_bound_method"):
        Provenance("crown", Scope.CONSTRAINED)
    with pytest.raises(pr.BoundsTypeError, match="scope must be a Scope"):
        Provenance("lp", "constrained")


def test_bounds_with_extra_constraints_are_scoped():
    net = random_network((2, 5, 5, 1), seed=2)
    extra = (np.array([[1.0, 1.0]]), np.array([-0.5]), np.array([0.5]))
    b = lp_bounds(net, -1, 1, extra_constraints=extra)
    assert all(p.scope is Scope.CONSTRAINED for p in b.provenance)
    assert b.constrained_layers() == list(range(b.n_layers))


def _brute_force(lo, up, cap, piecewise):
    kinds = []
    for l, u, c in zip(lo, up, cap):
        if not piecewise:
            kinds.append("linear")
        elif u <= 0:
            kinds.append("inactive")
        elif l >= c:
            kinds.append("saturated")
        elif l >= 0 and u <= c:
            kinds.append("linear")
        else:
            kinds.append("unstable")
    return kinds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.floats(-5, 5), st.floats(0, 5), st.sampled_from([np.inf, 0.5, 2.0, np.nan])),
        min_size=1,
        max_size=8,
    ),
    st.booleans(),
)
def test_pieces_agree_with_a_brute_force_classification(rows, piecewise):
    lo = np.array([r[0] for r in rows])
    up = lo + np.array([r[1] for r in rows])
    cap = np.array(
        [np.nan if not piecewise else (r[2] if not np.isnan(r[2]) else np.inf) for r in rows]
    )
    b = NeuronBounds([0], [1], [lo], [up], ["interval"], [cap])
    p = b.pieces(0)
    assert isinstance(p, LayerPieces) and p is b.pieces(0)  # computed once
    kinds = _brute_force(lo, up, cap, piecewise)
    for name in ("inactive", "saturated", "linear", "unstable"):
        assert getattr(p, name).tolist() == [k == name for k in kinds]
    assert (p.unstable | p.inactive | p.saturated | p.linear).all()
    assert b.stable(0).tolist() == [k != "unstable" for k in kinds]
    expected_bin = [
        int(piecewise and l < 0 < u) + int(piecewise and l < c < u) for l, u, c in zip(lo, up, cap)
    ]
    assert b.n_binaries(0).tolist() == expected_bin
    np.testing.assert_array_equal(b.big_m(0), np.maximum(np.abs(lo), np.abs(up)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**31 - 1), st.floats(0.05, 2.0))
def test_intersect_never_loosens_and_keeps_the_tighter_provenance(seed, half):
    net = random_network((2, 6, 6, 1), seed=seed % 1000)
    wide = interval_bounds(net, -2, 2)
    narrow = interval_bounds(net, -half, half)
    both = wide.intersect(narrow, method="lp")
    for k in range(both.n_layers):
        assert np.all(both.lower[k] >= np.maximum(wide.lower[k], narrow.lower[k]))
        assert np.all(both.upper[k] <= np.minimum(wide.upper[k], narrow.upper[k]))
        assert both.provenance[k] == Provenance("lp")
    np.testing.assert_array_equal(both.input_lb, np.maximum(wide.input_lb, narrow.input_lb))
    assert wide.lower[0][0] == interval_bounds(net, -2, 2).lower[0][0]  # inputs untouched


def test_with_layer_returns_new_bounds_and_checks_them():
    net = random_network((2, 4, 1), seed=3)
    b = interval_bounds(net, -1, 1)
    c = b.with_layer(0, b.lower[0] / 2, b.upper[0] / 2, "lp")
    assert c.methods == ["lp", "interval"] and b.methods == ["interval", "interval"]
    assert c.lower[0][0] == b.lower[0][0] / 2
    with pytest.raises(pr.InfeasibleBoxError, match="layer 0 entry 0"):
        b.with_layer(0, b.upper[0] + 1.0, b.upper[0])


def test_registry_lists_every_method_and_refuses_unknown_names():
    assert {"interval", "lp", "milp", "sampled"} <= set(bound_method_names())
    assert "sampled" not in bound_method_names(certified=True)
    assert bound_method_names(layerwise=True) == ["lp", "milp"]
    with pytest.raises(pr.UnknownOptionError, match="'interval', 'lp', 'milp'"):
        get_bound_method("crown")
    with pytest.raises(ValueError, match="already registered"):
        register_bound_method(get_bound_method("lp"))


def test_a_new_method_is_one_registration_and_its_label_is_understood():
    def halved(net, lb, ub, *, prior=None):
        b = interval_bounds(net, lb, ub)
        return NeuronBounds(
            b.input_lb, b.input_ub, b.lower, b.upper, ["halved"] * b.n_layers, b.caps
        )

    register_bound_method(BoundMethod("halved", halved, "test method"))
    try:
        net = random_network((2, 3, 1), seed=4)
        b = get_bound_method("halved").compute(net, -1, 1)
        assert b.layers_by("halved") == [0, 1] and b.constrained_layers() == []
        assert b.layers_by("interval") == []  # not mistaken for interval bounds
    finally:
        del _METHODS["halved"]


def test_sampled_bounds_lie_inside_the_sound_bounds():
    for seed in range(5):
        net = random_network((3, 8, 8, 2), seed=seed, clipped=seed % 2 == 1)
        inner = sampled_bounds(net, -1, 1, n_samples=2000, seed=seed)
        for sound in (interval_bounds(net, -1, 1), lp_bounds(net, -1, 1)):
            for k in range(net.n_layers):
                assert np.all(sound.lower[k] <= inner.lower[k])
                assert np.all(inner.upper[k] <= sound.upper[k])
        assert inner.methods == ["sampled"] * net.n_layers
        assert get_bound_method("sampled").compute(net, -1, 1, n_samples=10) is not None
