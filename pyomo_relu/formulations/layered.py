"""Layer formulations: reduction steps, then the layer writer with one per-neuron encoding.

``prepare`` applies the steps in order (numeric work, no Pyomo); ``build``
writes the rows with :class:`~pyomo_relu.formulations.writer.LayerWriter`,
which asks the encoding for the rows of every unstable neuron.  The big-M
family and ``sos1`` are all instances of :class:`LayerFormulation`::

    bigm                   = []                      + big-M encoding
    tightened_bigm         = [Tighten(limit)]        + big-M encoding
    scaled_bigm            = [Rescale(rule)]         + big-M encoding
    tightened_scaled_bigm  = [Tighten(limit), Rescale(rule)] + big-M encoding
    sos1                   = []                      + SOS1 encoding
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..bounds import NeuronBounds
from ..network import ReluNetwork
from .base import BuildStats, Formulation, Prepared
from .encodings import get_encoding
from .writer import LayerWriter, linear, neuron_kinds

__all__ = ["LayerFormulation"]


class LayerFormulation(Formulation):
    """Reduction steps, then the layer writer with one encoding.

    Parameters
    ----------
    name, description : str
        Registry name and one-line description.
    steps : sequence
        Reduction steps (:mod:`pyomo_relu.formulations.steps`) applied in order.
    encoding : str or encoding object
        A registered encoding name (:func:`~pyomo_relu.formulations.encodings.encoding_names`).

    Raises
    ------
    UnknownOptionError
        If ``encoding`` names no registered encoding (the message lists them).
    """

    def __init__(self, name: str, description: str, *, steps=(), encoding="bigm"):
        self.name, self.description = name, description
        self.steps = tuple(steps)
        self.encoding = get_encoding(encoding)

    @property
    def cache(self):
        """The preparation cache of the (first) tightening step, or None if there is none."""
        return next((s.cache for s in self.steps if hasattr(s, "cache")), None)

    def prepare(
        self, net: ReluNetwork, bounds: NeuronBounds, *, workers: int = 1, progress: bool = False
    ) -> Prepared:
        prepared = Prepared(net, bounds, bounds)
        for step in self.steps:
            prepared = step.apply(prepared, workers=workers, progress=progress)
        return prepared

    def build(self, block, prepared: Prepared, inputs, outputs) -> BuildStats:
        writer = LayerWriter(block, prepared.network, prepared.bounds, self.encoding)
        stats = writer.write(inputs, outputs)
        if prepared.scaling is None:
            return stats
        return replace(stats, scaling=prepared.scaling.rule)  # which rescaling rule ran

    def preactivation(self, mip, prepared: Prepared, inputs: list, outputs, k: int, j: int):
        """Pre-activation of neuron ``(k, j)`` of the user's network, in the rows on ``mip``.

        The variable ``mip.z[k, j]`` of an unstable neuron, ``mip.y[k, j]`` of a
        stable active one, the output variable of a linear output layer, and
        otherwise (a neuron stable at 0 or at its cap, which has no variable)
        the affine expression of the previous layer's activations.  On a
        rescaled network the value is divided by the neuron's scaling factor,
        so it is always in the user's units.
        """
        net, bounds = prepared.network, prepared.bounds
        kind = neuron_kinds(net, bounds, k)[j]
        if kind == "bin":
            expr = mip.z[k, j]
        elif kind == "out":
            expr = outputs[j]
        elif kind == "lin":
            expr = mip.y[k, j]
        else:
            expr = self._affine(mip, prepared, inputs, k, j)
        factor = 1.0 if prepared.scaling is None else float(prepared.scaling.factors[k][j])
        return expr if factor == 1.0 else (1.0 / factor) * expr

    @staticmethod
    def _affine(mip, prepared: Prepared, inputs: list, k: int, j: int):
        """``b_j + w_j^T a`` over the previous layer's activations (variables or constants)."""
        net, bounds = prepared.network, prepared.bounds
        layer = net.layers[k]
        cols, vals = layer.row(j)  # the neuron's nonzero weights (dense or sparse layer)
        if k == 0:
            const, coefs, variables = float(layer.bias[j]), vals, [inputs[i] for i in cols]
        else:
            kinds = neuron_kinds(net, bounds, k - 1)[cols]
            act = np.where(kinds == "sat", bounds.caps[k - 1][cols], 0.0)
            var = (kinds == "bin") | (kinds == "lin")
            const = float(layer.bias[j] + vals @ act)
            coefs, variables = vals[var], [mip.y[k - 1, int(i)] for i in cols[var]]
        const, expr = linear(const, coefs, variables)
        return const + expr
