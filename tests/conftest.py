"""Shared fixtures: seeded generated networks and solver availability."""

from __future__ import annotations

import numpy as np
import pytest

from pyomo_relu import Activation, ActivationKind, DenseLayer, ReluNetwork


def random_network(sizes, *, seed=0, clipped=False, cap=1.0, bias_scale=0.5, relu_output=False):
    """A He-initialised network with layer sizes ``sizes`` (inputs first)."""
    rng = np.random.default_rng(seed)
    layers = []
    for k in range(len(sizes) - 1):
        w = rng.normal(size=(sizes[k + 1], sizes[k])) * np.sqrt(2.0 / sizes[k])
        b = rng.normal(size=sizes[k + 1]) * bias_scale
        last = k == len(sizes) - 2
        if last and not relu_output:
            act = Activation.LINEAR
        elif clipped:
            act = Activation.CLIPPED_RELU(cap)
        else:
            act = Activation.RELU
        layers.append(DenseLayer(w, b, act, name=f"layer {k}"))
    return ReluNetwork(layers)


def outside_scope(formulation, net) -> str | None:
    """Pattern of the error a formulation's documented scope gives ``net``, or None if it applies.

    ``sos1`` covers ReLU networks only and refuses a network with a clipped-ReLU
    layer when the block is built.  (``regions`` and its input count are handled
    where the tests build it.)
    """
    name = getattr(formulation, "name", formulation)
    clipped = any(layer.activation.kind is ActivationKind.CLIPPED_RELU for layer in net.layers)
    if name == "sos1" and clipped:
        return r"formulation 'sos1'\): layer \d+ of the network is a clipped ReLU"
    return None


def scip_available() -> bool:
    try:
        import pyomo.environ as pyo

        return bool(pyo.SolverFactory("scip_direct").available())
    except Exception:  # pragma: no cover - import problems mean "absent"
        return False


requires_scip = pytest.mark.skipif(not scip_available(), reason="SCIP (pyscipopt) is not installed")


@pytest.fixture
def small_net():
    return random_network((2, 8, 8, 1), seed=1)


def block_model(net, formulation, lb=-1.0, ub=1.0, sense=None):
    """A model of the inputs ``x`` in ``[lb, ub]`` and a ReluNetworkBlock on them.

    With ``sense``, its objective is the first output in that sense.
    """
    import pyomo.environ as pyo

    import pyomo_relu as pr

    lb, ub = np.broadcast_to(lb, net.n_inputs), np.broadcast_to(ub, net.n_inputs)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (float(lb[i]), float(ub[i])))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation=formulation)
    if sense is not None:
        m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=sense)
    return m


class SlowUnderLoad(AssertionError):
    """A timed check took longer than its allowance.

    Timed tests compare a limited call with baselines measured in the same test, so a busy machine
    slows both; a burst of load from other processes during the limited call alone can still push
    it over.  Tests marked ``retry_timing`` are run again (up to twice) only for this failure: a
    limit that is ignored fails every run.
    """


#: the marker of tests whose timing checks raise SlowUnderLoad
retry_timing = pytest.mark.flaky(reruns=2, only_rerun=["SlowUnderLoad"])
