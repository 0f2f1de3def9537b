"""OMLT NetworkDefinition <-> ReluNetwork converters."""

from __future__ import annotations

import numpy as np
import pytest

from pyomo_relu import Activation, DenseLayer, ReluNetwork
from pyomo_relu.errors import MissingBoundsError, UnsupportedOperatorError
from pyomo_relu.io import from_omlt, to_omlt
from tests.conftest import random_network

pytest.importorskip("omlt")
from omlt.neuralnet import NetworkDefinition  # noqa: E402
from omlt.neuralnet.layer import DenseLayer as OmltDense  # noqa: E402
from omlt.neuralnet.layer import InputLayer  # noqa: E402
from omlt.scaling import OffsetScaling  # noqa: E402


def omlt_eval(nd, x):
    """Evaluate an OMLT network with OMLT's own per-layer evaluation."""
    layers = list(nd.layers)
    out = []
    for row in np.atleast_2d(x):
        a = row
        for layer in layers[1:]:
            a = layer.eval_single_layer(a)
        out.append(np.asarray(a, dtype=float))
    return np.array(out)


def test_to_omlt_and_back_is_exact():
    net = random_network((3, 5, 4, 2), seed=7)
    nd = to_omlt(net, [-1, -2, -3], [1, 2, 3])
    assert nd.scaled_input_bounds == {0: (-1.0, 1.0), 1: (-2.0, 2.0), 2: (-3.0, 3.0)}
    dense = list(nd.layers)[1]
    assert dense.weights.shape == (3, 5) and dense.activation == "relu"
    assert from_omlt(nd) == net
    x = np.random.default_rng(0).uniform(-1, 1, size=(10, 3))
    np.testing.assert_allclose(omlt_eval(nd, x), net.forward(x), atol=1e-12)


def test_clipped_relu_becomes_two_relus():
    rng = np.random.default_rng(1)
    net = ReluNetwork(
        [
            DenseLayer(
                rng.normal(size=(4, 2)),
                rng.normal(size=4),
                Activation.CLIPPED_RELU((0.5, 1, 2, 0.2)),
            ),
            DenseLayer(rng.normal(size=(3, 4)), rng.normal(size=3), Activation.CLIPPED_RELU(0.7)),
        ]
    )
    nd = to_omlt(net, [-2, -2], [2, 2])
    assert {layer.activation for layer in list(nd.layers)[1:]} <= {"relu", "linear"}
    back = from_omlt(nd)
    assert back.layer_sizes == (2, 8, 6, 3)
    x = np.random.default_rng(2).uniform(-2, 2, size=(200, 2))
    np.testing.assert_allclose(back.forward(x), net.forward(x), atol=1e-12)
    np.testing.assert_allclose(omlt_eval(nd, x), net.forward(x), atol=1e-12)


def test_offset_scaling_is_folded():
    rng = np.random.default_rng(3)
    w1, b1, w2, b2 = (
        rng.normal(size=(2, 4)),
        rng.normal(size=4),
        rng.normal(size=(4, 1)),
        rng.normal(size=1),
    )
    scaling = OffsetScaling(
        offset_inputs=[1.0, -2.0],
        factor_inputs=[2.0, 0.5],
        offset_outputs=[10.0],
        factor_outputs=[3.0],
    )
    nd = NetworkDefinition(scaling_object=scaling, scaled_input_bounds={0: (-1, 1), 1: (-1, 1)})
    inp = InputLayer([2])
    h = OmltDense([2], [4], w1, b1, activation="relu")
    out = OmltDense([4], [1], w2, b2, activation="relu")
    for layer in (inp, h, out):
        nd.add_layer(layer)
    nd.add_edge(inp, h)
    nd.add_edge(h, out)
    net = from_omlt(nd)
    x = rng.normal(size=(20, 2))
    xs = (x - [1.0, -2.0]) / [2.0, 0.5]
    expected = np.maximum(np.maximum(xs @ w1 + b1, 0) @ w2 + b2, 0) * 3.0 + 10.0
    np.testing.assert_allclose(net.forward(x), expected, atol=1e-12)


def test_unsupported_omlt_networks():
    nd = NetworkDefinition(scaled_input_bounds={0: (0, 1)})
    inp, dense = (
        InputLayer([1]),
        OmltDense([1], [2], np.ones((1, 2)), np.zeros(2), activation="tanh"),
    )
    nd.add_layer(inp)
    nd.add_layer(dense)
    nd.add_edge(inp, dense)
    with pytest.raises(UnsupportedOperatorError, match="activation 'tanh'"):
        from_omlt(nd)
    with pytest.raises(MissingBoundsError, match="finite"):
        to_omlt(random_network((2, 2, 1)), [0, -np.inf], [1, 1])
