"""``acas``: a randomly initialised network in ACAS Xu's shape, 5-50x6-5.

The ACAS Xu collision-avoidance networks (Julian et al., 2016; Katz et al.,
"Reluplex", CAV 2017) have five inputs, six hidden ReLU layers of 50 neurons and
five outputs (advisory scores).  This network has that shape with He-uniform
weights (uniform in ``+-sqrt(6 / fan_in)``, which keeps the activations' scale
through the ReLU layers; PyTorch's default ``+-1/sqrt(fan_in)`` shrinks the output
range of six layers to about 1e-2) and biases uniform in ``+-1/sqrt(fan_in)``,
drawn from a seeded numpy generator, so it needs no training data.  The
problem is to maximize output 0 over the box ``[-1, 1]^5`` (the inputs of the
published networks are normalized to about that range).
"""

from __future__ import annotations

import numpy as np

from ...network import Activation, DenseLayer, ReluNetwork

__all__ = ["acas_network", "HIDDEN", "LOWER", "UPPER"]

HIDDEN = (50,) * 6
N_INPUTS, N_OUTPUTS = 5, 5
LOWER, UPPER = -1.0, 1.0


def acas_network(*, seed: int = 0, hidden=HIDDEN) -> ReluNetwork:
    """The seeded random network ``5 - hidden - 5`` (ReLU hidden layers, linear output)."""
    rng = np.random.default_rng(seed)
    sizes = (N_INPUTS, *hidden, N_OUTPUTS)
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.uniform(-1.0, 1.0, size=(n_out, n_in)) * np.sqrt(6.0 / n_in)
        b = rng.uniform(-1.0, 1.0, size=n_out) / np.sqrt(n_in)
        act = Activation.LINEAR if k == len(sizes) - 2 else Activation.RELU
        layers.append(DenseLayer(w, b, act))
    return ReluNetwork(layers)
