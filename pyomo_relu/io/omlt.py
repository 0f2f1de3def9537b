"""Convert between :class:`~pyomo_relu.network.ReluNetwork` and OMLT's ``NetworkDefinition``.

OMLT (``pip install pyomo_relu[omlt]``) imports Pyomo, so it is imported only
inside the functions of this module.  OMLT stores dense weights as
(n_in, n_out); ReluNetwork as (n_out, n_in).
"""

from __future__ import annotations

import numpy as np

from ..errors import MissingBoundsError, ShapeMismatchError, UnsupportedOperatorError
from ..network import Activation, ActivationKind, DenseLayer, ReluNetwork

__all__ = ["from_omlt", "to_omlt"]

_ACTIVATIONS = {"relu": Activation.RELU, "linear": Activation.LINEAR, None: Activation.LINEAR}


def _import_omlt():
    try:
        from omlt.neuralnet import NetworkDefinition
        from omlt.neuralnet.layer import DenseLayer as OmltDense
        from omlt.neuralnet.layer import InputLayer
    except ImportError as exc:
        raise ImportError(
            "pyomo_relu.io.omlt needs OMLT; install it with `pip install pyomo_relu[omlt]`."
        ) from exc
    return NetworkDefinition, InputLayer, OmltDense


def _affine_of(fn, n, what):
    """Coefficients (scale, shift) of an elementwise affine map given as OMLT's dict -> dict
    function.

    The map is evaluated at 0, 1 and a third point; a map that is not affine
    (or not elementwise) there is rejected rather than folded wrongly.
    """
    points = (0.0, 1.0, -2.5)
    try:
        values = [fn(dict.fromkeys(range(n), t)) for t in points]
        at = np.array([[float(v[i]) for i in range(n)] for v in values])
    except (KeyError, ValueError, TypeError) as exc:
        raise ShapeMismatchError(
            f"from_omlt: the scaling object's {what} cannot be evaluated on {n} values indexed "
            f"0..{n - 1} "
            f"({type(exc).__name__}: {exc}); give it one offset and one factor for each of the "
            f"{n} values."
        ) from exc
    shift, scale = at[0], at[1] - at[0]
    if not np.allclose(at[2], shift + points[2] * scale, rtol=1e-12, atol=1e-12) or not np.all(
        np.isfinite(at)
    ):
        raise UnsupportedOperatorError(
            f"from_omlt: the scaling object's {what} is not an affine map with finite coefficients "
            "(x -> scale * x + shift per entry), so it cannot be folded into the weights; use "
            "omlt.scaling.OffsetScaling."
        )
    return scale, shift


def from_omlt(network_definition, *, input_names=None, output_names=None) -> ReluNetwork:
    """Read a sequential OMLT network of one ``InputLayer`` and ``DenseLayer`` s.

    Activations ``"relu"`` and ``"linear"`` are supported.  An OMLT scaling
    object (e.g. ``OffsetScaling``) is folded into the first and last layers,
    so the returned network maps unscaled inputs to unscaled outputs.

    Parameters
    ----------
    network_definition : omlt.neuralnet.NetworkDefinition
    input_names, output_names : sequence of str, optional

    Returns
    -------
    ReluNetwork
    """
    nd = network_definition
    layers = _dense_chain(nd)
    if nd.scaling_object is not None:
        layers = _fold_scaling(layers, nd.scaling_object)
    return ReluNetwork(layers, input_names=input_names, output_names=output_names)


def _dense_chain(nd) -> list:
    """The dense layers of ``nd`` as DenseLayer objects, in OMLT's (scaled) units; no scaling
    folded."""
    _, InputLayer, OmltDense = _import_omlt()
    omlt_layers = list(nd.layers)
    if (
        not omlt_layers
        or not isinstance(omlt_layers[0], InputLayer)
        or len(list(nd.input_layers)) != 1
    ):
        raise UnsupportedOperatorError(
            "from_omlt: expected exactly one InputLayer, first in the network."
        )
    layers = []
    for k, layer in enumerate(omlt_layers[1:], start=1):
        preds = list(nd.predecessors(layer))
        if type(layer) is not OmltDense or preds != [omlt_layers[k - 1]]:
            raise UnsupportedOperatorError(
                f"from_omlt: layer {k} is {type(layer).__name__} fed by {len(preds)} layer(s); "
                "only a chain of "
                "DenseLayer objects (each fed by the previous layer) is supported."
            )
        if layer.activation not in _ACTIVATIONS:
            raise UnsupportedOperatorError(
                f"from_omlt: layer {k} has activation {layer.activation!r}; supported: 'relu', "
                "'linear' "
                "(smooth activations such as tanh or sigmoid have no ReLU network equivalent)."
            )
        w = np.asarray(layer.weights, dtype=np.float64)
        if w.ndim != 2:
            raise ShapeMismatchError(
                f"from_omlt: layer {k} weights have shape {w.shape}, expected (n_in, n_out)."
            )
        _check_flat(layer, w, omlt_layers[k - 1], k)
        b = np.broadcast_to(np.asarray(layer.biases, dtype=np.float64), (w.shape[1],))
        layers.append(
            DenseLayer(
                w.T, b, _ACTIVATIONS[layer.activation], name=f"layer {k - 1} (OMLT layer {k})"
            )
        )
    if not layers:
        raise UnsupportedOperatorError("from_omlt: the network has no DenseLayer.")
    return layers


def _check_flat(layer, w, previous, k):
    """Reject dense layers that act on rows of a multi-axis tensor (not one flat feature vector)."""
    n_in, n_out = (
        int(np.prod(size, dtype=np.int64)) for size in (layer.input_size, layer.output_size)
    )
    n_prev = int(np.prod(previous.output_size, dtype=np.int64))
    if (n_in, n_out) != w.shape or n_prev != n_in:
        raise ShapeMismatchError(
            f"from_omlt: layer {k} has weights {w.shape} for input size {list(layer.input_size)} "
            "and output "
            f"size {list(layer.output_size)} after a layer of output size "
            f"{list(previous.output_size)}; "
            "expected flat sizes [n_in] -> [n_out] that chain. Flatten the input to [N, n_inputs] "
            "before exporting."
        )


def _fold_scaling(layers, scaling):
    """Compose ``x_scaled = s x + t`` into the first layer and ``y = s' y_scaled + t'`` after the
    last."""
    first, last = layers[0], layers[-1]
    s, t = _affine_of(scaling.get_scaled_input_expressions, first.n_in, "scaled input expressions")
    layers[0] = DenseLayer(
        first.weights * s, first.weights @ t + first.bias, first.activation, name=first._name
    )
    s, t = _affine_of(
        scaling.get_unscaled_output_expressions, last.n_out, "unscaled output expressions"
    )
    last = layers[-1]
    if last.activation.kind is ActivationKind.LINEAR:
        layers[-1] = DenseLayer(
            s[:, None] * last.weights, s * last.bias + t, last.activation, name=last._name
        )
    else:
        layers.append(DenseLayer(np.diag(s), t, Activation.LINEAR, name="output scaling"))
    return layers


def _relu_only(net):
    """(W, b, activation) triples using only ReLU and linear activations.

    A clipped ReLU is rewritten exactly as ``min(max(0, z), c) = relu(z) - relu(z - c)``:
    the layer is duplicated with biases ``b`` and ``b - c`` and the next layer reads the difference.
    """
    out, carry = (
        [],
        None,
    )  # carry: matrix mapping the emitted layer's outputs to the true activations
    for layer in net.layers:
        w = layer.dense_weights()  # OMLT's dense layers take full matrices
        w = w if carry is None else w @ carry
        act = layer.activation
        if act.kind is ActivationKind.CLIPPED_RELU:
            caps = act.caps(layer.n_out)
            out.append((np.vstack([w, w]), np.concatenate([layer.bias, layer.bias - caps]), "relu"))
            carry = np.hstack([np.eye(layer.n_out), -np.eye(layer.n_out)])
        else:
            out.append((w, np.array(layer.bias), act.kind.value))
            carry = None
    if carry is not None:
        out.append((carry, np.zeros(carry.shape[0]), "linear"))
    return out


def to_omlt(net: ReluNetwork, lb, ub):
    """Build an OMLT ``NetworkDefinition`` of ``net`` with the input box as ``scaled_input_bounds``.

    Clipped ReLUs are written with two ReLU neurons each (exact), since OMLT
    has no clipped ReLU.  OMLT's dense layers hold full weight matrices, so a
    layer with sparse weights is densified here (``DenseLayer.dense_weights``):
    fine for small layers, costly for large convolutions.

    Parameters
    ----------
    net : ReluNetwork
    lb, ub : array_like, shape (n_inputs,)
        Finite input bounds (OMLT's big-M formulation needs them).

    Returns
    -------
    omlt.neuralnet.NetworkDefinition
    """
    NetworkDefinition, InputLayer, OmltDense = _import_omlt()
    lb, ub = (np.asarray(v, dtype=np.float64).reshape(-1) for v in (lb, ub))
    if lb.shape != (net.n_inputs,) or ub.shape != (net.n_inputs,):
        raise ShapeMismatchError(
            f"to_omlt: lb and ub need {net.n_inputs} entries each, found {lb.size} and {ub.size}."
        )
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub))) or np.any(lb > ub):
        raise MissingBoundsError(
            "to_omlt: input bounds must be finite with lb <= ub; pass the input box."
        )
    nd = NetworkDefinition(
        scaled_input_bounds={i: (float(lb[i]), float(ub[i])) for i in range(net.n_inputs)}
    )
    prev = InputLayer([net.n_inputs])
    nd.add_layer(prev)
    for w, b, act in _relu_only(net):
        dense = OmltDense([w.shape[1]], [w.shape[0]], np.array(w.T), np.array(b), activation=act)
        nd.add_layer(dense)
        nd.add_edge(prev, dense)
        prev = dense
    return nd
