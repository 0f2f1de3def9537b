"""Find the global minimum of a trained ReLU surrogate of MATLAB's peaks function.

The network in ``examples/data/peaks.onnx`` (2 -> 25 -> 25 -> 1) was trained on
samples of peaks over [-3, 3]^2; the true function's minimum is about -6.551
near (0.228, -1.626).  Run from anywhere: ``python examples/peaks.py``.
"""

from pathlib import Path

import pyomo.environ as pyo

import pyomo_relu as pr  # importing registers the 'relu.*' transformations

net = pr.load_onnx(Path(__file__).parent / "data" / "peaks.onnx")

m = pyo.ConcreteModel()
m.x = pyo.Var(range(net.n_inputs), bounds=(-3, 3))  # the input box; bounds are required
m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)

# LP-based bound tightening shrinks the big-M values before the solve
pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp")
pyo.SolverFactory("scip_direct").solve(m)

print(f"minimum of the surrogate: {pyo.value(m.obj):.4f} at x = {m.nn.input_values().round(4)}")
print("block summary:", m.nn.summary())
# the network evaluated at the optimal inputs must match the MIP's output variables
print(f"max |forward pass - MIP outputs|: {m.nn.prediction_error():.2e}")
