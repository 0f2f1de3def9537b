"""The writer's rows of a convolution carry only the kernel's taps (shipped digits CNN)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from pyomo.repn import generate_standard_repn

from pyomo_relu.benchmarks.cnn import NETWORKS, data_path, load_network, margin_model
from pyomo_relu.formulations.writer import neuron_kinds


def _kernels(variant):
    """The Conv weight tensors of the ONNX file, in graph order (read without pyomo_relu)."""
    model = onnx.load(str(data_path(NETWORKS[variant])))
    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return [init[n.input[1]] for n in model.graph.node if n.op_type == "Conv"]


def _rows_of_layer(block, k):
    """``{neuron: row}`` of the equality rows the writer emits for layer ``k``'s pre-activations."""
    rows = {}
    for name in ("pre", "linear", "output"):
        con = block.mip.component(name)
        if con is not None:
            rows.update({j: con[kk, j] for kk, j in con.keys() if kk == k})
    return rows


@pytest.mark.parametrize("variant", ["stride", "pool"])
def test_conv_rows_one_per_neuron_with_the_kernel_taps(variant):
    net = load_network(variant)
    conv_layers = [k for k, r in enumerate(net.lowering) if "Conv" in r.name]
    assert conv_layers, "the shipped CNN has a convolution layer of its own"
    x0 = np.full(64, 0.5)
    m = margin_model(net, x0 - 0.5, x0 + 0.5, formulation="bigm")
    bounds = m.nn.bounds
    kernels = _kernels(variant)
    for k in conv_layers:
        kernel = kernels[-1] if k > 0 else kernels[0]
        taps = int(np.count_nonzero(kernel[0]))  # in-channels x kh x kw of one output channel
        kinds = neuron_kinds(net, bounds, k)
        rows = _rows_of_layer(m.nn, k)
        dropped = int(np.sum((kinds == "off") | (kinds == "sat")))
        assert len(rows) + dropped == net.layers[k].n_out
        assert len(rows) == net.layers[k].n_out - dropped
        # inputs of the layer that are variables (the previous layer's stable-at-0 neurons are
        # constants, so their taps carry no coefficient)
        if k == 0:
            live = np.ones(net.n_inputs, dtype=bool)
        else:
            prev = neuron_kinds(net, bounds, k - 1)
            live = (prev != "off") & (prev != "sat")
        assert taps < net.layers[k].n_in  # a row of the dense map would be much longer
        for j, row in rows.items():
            columns, values = net.layers[k].row(j)
            # the layer stores exactly the kernel's taps for each output neuron
            assert len(columns) == taps and np.all(values != 0)
            repn = generate_standard_repn(row.body, compute_values=True)
            # one coefficient per tap on a variable input, plus the neuron's own variable
            assert len(repn.linear_vars) == int(live[columns].sum()) + 1
