"""The baseline of the study: OMLT's big-M formulation of the same networks.

:func:`to_network_definition` converts a :class:`~pyomo_relu.ReluNetwork` into
an OMLT ``NetworkDefinition`` and :func:`add_omlt_block` embeds it with
``omlt.neuralnet.ReluBigMFormulation`` (full space, one binary per ReLU, big-M
values from OMLT's own interval bounds), linked to the model's variables by
equality rows.  The benchmark builders call it through
``problems._common.embed(..., formulation="omlt_bigm")``.

OMLT has no clipped ReLU; a clipped layer ``min(max(0, z), c)`` is written
with the identity ``min(max(0, z), c) = relu(z) - relu(z - c)``: the layer is
doubled (biases ``b`` and ``b - c``) and the next layer's weights become
``[W, -W]``.  The converted network computes the same function (checked in
:func:`to_network_definition` on random points) and gets two binaries per
clipped neuron, as in our formulation of an unstable clipped neuron.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from .._logs import dropping_log_records
from ..bounds import check_box
from ..errors import ShapeMismatchError
from ..network import ActivationKind, ReluNetwork

__all__ = ["to_network_definition", "add_omlt_block", "omlt_available"]


def omlt_available() -> bool:
    """True when OMLT (the ``omlt`` extra) can be imported."""
    try:
        import omlt.neuralnet  # noqa: F401
    except ImportError:
        return False
    return True


def _omlt_layers(net: ReluNetwork):
    """(weights (n_out, n_in), bias, activation name) of the OMLT layers equivalent to ``net``."""
    out = []
    mix = np.eye(net.n_inputs)  # logical activations of the previous layer = mix @ OMLT activations
    for layer in net.layers:
        w = layer.weights @ mix
        kind = layer.activation.kind
        if kind is ActivationKind.CLIPPED_RELU:
            caps = layer.activation.caps(layer.n_out)
            out.append((np.vstack([w, w]), np.concatenate([layer.bias, layer.bias - caps]), "relu"))
            mix = np.hstack([np.eye(layer.n_out), -np.eye(layer.n_out)])
        else:
            out.append(
                (w, np.asarray(layer.bias), "relu" if kind is ActivationKind.RELU else "linear")
            )
            mix = np.eye(layer.n_out)
    if mix.shape[0] != mix.shape[1]:  # a clipped output layer: recombine linearly
        out.append((mix, np.zeros(mix.shape[0]), "linear"))
    return out


def _forward(layers, x: np.ndarray) -> np.ndarray:
    a = x
    for w, b, act in layers:
        a = a @ w.T + b
        if act == "relu":
            a = np.maximum(a, 0.0)
    return a


def to_network_definition(net: ReluNetwork, lb, ub):
    """OMLT ``NetworkDefinition`` of ``net`` on the input box ``[lb, ub]``.

    Raises
    ------
    MissingBoundsError, InfeasibleBoxError
        For a missing or empty box.
    ImportError
        When OMLT is not installed.
    """
    from omlt.neuralnet import NetworkDefinition
    from omlt.neuralnet.layer import DenseLayer, InputLayer

    lb, ub = check_box(net, lb, ub, what="OMLT input box")
    layers = _omlt_layers(net)
    # the conversion must not change the function: compare on random points of the box
    x = np.random.default_rng(0).uniform(lb, ub, size=(64, net.n_inputs))
    err = float(np.max(np.abs(_forward(layers, x) - net.forward(x))))
    scale = 1.0 + float(np.max(np.abs(net.forward(x))))
    if err > 1e-9 * scale:
        raise ShapeMismatchError(
            f"OMLT conversion changed the network output by {err:.3g}; this is a bug."
        )
    definition = NetworkDefinition(
        scaled_input_bounds={i: (float(lb[i]), float(ub[i])) for i in range(net.n_inputs)}
    )
    prev = InputLayer([net.n_inputs])
    definition.add_layer(prev)
    for w, b, act in layers:
        dense = DenseLayer(
            [w.shape[1]], [w.shape[0]], np.ascontiguousarray(w.T), np.asarray(b), activation=act
        )
        definition.add_layer(dense)
        definition.add_edge(prev, dense)
        prev = dense
    return definition


def add_omlt_block(m, name: str, net: ReluNetwork, inputs: list, *, input_bounds=None):
    """Embed ``net`` in ``m`` as an ``OmltBlock`` named ``name`` with OMLT's ReLU big-M formulation.

    Parameters
    ----------
    m : pyomo Block
    name : str
    net : ReluNetwork
    inputs : list of VarData
        The model variables feeding the network (linked by equality rows).
    input_bounds : (lb, ub), optional
        Input box; default the bounds of ``inputs``.

    Returns
    -------
    OmltBlockData
        With ``inputs``/``outputs`` (OMLT's variables) and ``source_network`` = ``net``.
    """
    from omlt import OmltBlock
    from omlt.neuralnet import ReluBigMFormulation

    inputs = list(inputs)
    if len(inputs) != net.n_inputs:
        raise ShapeMismatchError(
            f"{name}: {len(inputs)} input variables for a network with {net.n_inputs} inputs."
        )
    if input_bounds is None:
        lb = [v.lb for v in inputs]
        ub = [v.ub for v in inputs]
    else:
        lb, ub = input_bounds
        lb = np.maximum(np.asarray(lb, float), [-np.inf if v.lb is None else v.lb for v in inputs])
        ub = np.minimum(np.asarray(ub, float), [np.inf if v.ub is None else v.ub for v in inputs])
    definition = to_network_definition(net, lb, ub)
    blk = OmltBlock()
    m.add_component(name, blk)
    # OMLT initialises its scaled inputs to 0 even outside their bounds, and Pyomo warns (W1002)
    # once per variable: over a hundred lines per benchmark run about nothing that is solved
    with dropping_log_records(lambda record: getattr(record, "id", None) == "W1002"):
        blk.build_formulation(ReluBigMFormulation(definition))
    blk.link = pyo.Constraint(range(net.n_inputs), rule=lambda b, i: b.inputs[i] == inputs[i])
    blk.source_network = net
    return blk
