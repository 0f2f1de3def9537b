"""DenseLayer with scipy.sparse weights: storage, accessors, forward pass, equality (no solver)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.errors import InvalidNetworkError, ShapeMismatchError
from tests.sparse_networks import dense_twin, sparse_network


def _messy_coo():
    """3x4 COO with a duplicate entry, an explicit zero and unsorted entries."""
    rows = np.array([2, 0, 0, 1, 2, 0])
    cols = np.array([3, 2, 0, 1, 0, 2])
    vals = np.array([1.5, 1.0, -2.0, 0.0, 4.0, 0.5])  # (0, 2) twice: 1.5 in all
    return sp.coo_matrix((vals, (rows, cols)), shape=(3, 4))


EXPECTED = np.array([[-2.0, 0.0, 1.5, 0.0], [0.0, 0.0, 0.0, 0.0], [4.0, 0.0, 0.0, 1.5]])


@pytest.mark.parametrize(
    "kind", [sp.coo_matrix, sp.csr_matrix, sp.csc_matrix, sp.coo_array, sp.lil_array, sp.dok_array]
)
def test_any_sparse_input_is_stored_as_canonical_csr_array(kind):
    layer = DenseLayer(kind(_messy_coo()), np.zeros(3))
    w = layer.weights
    assert isinstance(w, sp.csr_array) and w.dtype == np.float64
    assert w.has_canonical_format and w.has_sorted_indices
    assert np.all(w.data != 0)  # explicit zero dropped, duplicates summed
    assert layer.is_sparse and layer.nnz == 4 == w.nnz
    np.testing.assert_array_equal(w.toarray(), EXPECTED)


@pytest.mark.filterwarnings("ignore::scipy.sparse.SparseEfficiencyWarning")
def test_sparse_weights_are_a_read_only_copy():
    src = sp.csr_array(EXPECTED)
    layer = DenseLayer(src, np.zeros(3))
    src.data[0] = 99.0  # the caller's matrix stays theirs
    assert layer.weights[0, 0] == -2.0
    for arr in (layer.weights.data, layer.weights.indices, layer.weights.indptr):
        assert not arr.flags.writeable
    with pytest.raises(ValueError):
        layer.weights[0, 0] = 1.0
    with pytest.raises(ValueError):
        layer.weights[1, 1] = 1.0  # a new entry would change the structure


def test_dense_input_stays_a_read_only_ndarray():
    layer = DenseLayer(EXPECTED, np.zeros(3))
    assert isinstance(layer.weights, np.ndarray) and not layer.weights.flags.writeable
    assert not layer.is_sparse and layer.nnz == 4


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_sparse_data_is_named(bad):
    m = sp.csr_array(EXPECTED)
    m.data[2] = bad  # the entry at (2, 0)
    with pytest.raises(InvalidNetworkError, match=r"conv weights: contains NaN or Inf.*\[2, 0\]"):
        DenseLayer(m, np.zeros(3), name="conv")


def test_sparse_shape_errors_match_the_dense_ones():
    with pytest.raises(ShapeMismatchError, match="bias has 2 entries but weights have 3 rows"):
        DenseLayer(sp.csr_array(EXPECTED), np.zeros(2))
    with pytest.raises(InvalidNetworkError, match="at least one input and one output"):
        DenseLayer(sp.csr_array((0, 3)), np.zeros(0))
    with pytest.raises(ShapeMismatchError, match="expected a 2-D sparse matrix"):
        DenseLayer(sp.coo_array(np.array([1.0, 2.0])), np.zeros(1))


def test_row_gives_the_nonzeros_of_one_neuron_for_both_kinds():
    for w in (EXPECTED, sp.csr_array(EXPECTED)):
        layer = DenseLayer(w, np.zeros(3))
        cols, vals = layer.row(2)
        np.testing.assert_array_equal(cols, [0, 3])
        np.testing.assert_array_equal(vals, [4.0, 1.5])
        cols, vals = layer.row(1)
        assert cols.size == 0 and vals.size == 0  # an empty row
        assert not vals.flags.writeable
        with pytest.raises(ShapeMismatchError, match="row 3 does not exist"):
            layer.row(3)


def test_weight_parts_split_signs_and_keep_the_kind():
    dense, sparse = DenseLayer(EXPECTED, np.zeros(3)), DenseLayer(sp.csr_array(EXPECTED), None)
    pos, neg = sparse.weight_parts()
    assert isinstance(pos, sp.csr_array) and isinstance(neg, sp.csr_array)
    assert pos.nnz == 3 and neg.nnz == 1  # only each part's own nonzeros are stored
    assert not pos.data.flags.writeable
    dpos, dneg = dense.weight_parts()
    assert isinstance(dpos, np.ndarray)
    np.testing.assert_array_equal(pos.toarray(), dpos)
    np.testing.assert_array_equal(neg.toarray(), dneg)
    np.testing.assert_array_equal(dpos + dneg, EXPECTED)
    assert np.all(dpos >= 0) and np.all(dneg <= 0)


def test_dense_weights_is_a_writable_copy():
    layer = DenseLayer(sp.csr_array(EXPECTED), np.zeros(3))
    d = layer.dense_weights()
    assert isinstance(d, np.ndarray)
    np.testing.assert_array_equal(d, EXPECTED)
    d[0, 0] = 7.0
    assert layer.weights[0, 0] == -2.0


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_forward_and_preactivations_match_the_dense_twin(seed, clipped):
    net = sparse_network((4, 7, 5, 2), seed=seed, clipped=clipped)
    twin = dense_twin(net)
    assert all(L.is_sparse for L in net.layers) and not any(L.is_sparse for L in twin.layers)
    x = np.random.default_rng(seed).uniform(-2, 2, size=(20, 4))
    np.testing.assert_allclose(net.forward(x), twin.forward(x), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(net.forward(x[3]), twin.forward(x[3]), rtol=1e-12, atol=1e-12)
    for z, zt in zip(net.preactivations(x), twin.preactivations(x)):
        np.testing.assert_allclose(z, zt, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(net.activation_patterns(x), twin.activation_patterns(x))


def test_equality_compares_values_not_storage():
    net = sparse_network((3, 5, 1), seed=4)
    twin = dense_twin(net)
    assert net == twin and twin == net
    assert net == sparse_network((3, 5, 1), seed=4)
    other = net.layers[0].dense_weights()
    r, c = np.argwhere(other != 0)[0]
    other[r, c] += 1.0
    changed = net.with_layers([DenseLayer(sp.csr_array(other), net.layers[0].bias), net.layers[1]])
    assert changed != net and changed != twin
    # a dense matrix with an extra nonzero is not equal to the sparse one
    extra = net.layers[0].dense_weights()
    extra[np.argwhere(extra == 0)[0][0], np.argwhere(extra == 0)[0][1]] = 1.0
    assert net.with_layers([DenseLayer(extra, net.layers[0].bias), net.layers[1]]) != net


def test_from_arrays_and_with_layers_keep_sparse_layers():
    w0 = sp.random_array((6, 3), density=0.5, rng=1, format="coo")
    net = ReluNetwork.from_arrays([w0, np.ones((1, 6))], [np.zeros(6), np.zeros(1)])
    assert net.layers[0].is_sparse and not net.layers[1].is_sparse
    assert net.layer_sizes == (3, 6, 1)
    again = net.with_layers(net.layers)
    assert again.layers[0].is_sparse and again == net
    clipped = DenseLayer(w0, np.zeros(6), Activation.CLIPPED_RELU(1.0))
    x = np.array([[1.0, -1.0, 2.0]])
    np.testing.assert_allclose(clipped(x), np.clip(x @ w0.toarray().T, 0, 1))


def test_pickled_sparse_layer_stays_canonical_and_read_only():
    net = sparse_network((3, 4, 1), seed=2)
    back = pickle.loads(pickle.dumps(net))
    assert back == net and back.layers[0].is_sparse
    assert not back.layers[0].weights.data.flags.writeable
    assert not back.layers[0].bias.flags.writeable
