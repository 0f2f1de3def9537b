"""Odd Pyomo inputs for fuzzing :class:`pyomo_relu.ReluNetworkBlock`.

A case is a spec (a plain dict, so that it crosses to the worker process): which network,
which ``inputs`` (indexed or scalar variables, too many or too few, fixed, unbounded,
infinite or crossed bounds, Params and expressions instead of variables, slices, dicts,
callables, strings, other models' variables), which ``input_bounds`` (wrong length,
non-numeric, NaN, crossed), which formulation (unknown names, wrong types) and which other
options (``workers``, ``progress``, ``bounds`` of another network or box, unknown keywords).
:func:`build_case` turns a spec into a model and the block's keyword arguments;
:func:`check_block` checks a block that was built: its inputs are the given variables and its
box and neuron bounds hold for every point the variables can take.
"""

from __future__ import annotations

import math

import numpy as np

from tests.fuzz.harness import OK, WRONG

INPUTS = (
    "indexed",
    "indexed_short",
    "indexed_long",
    "scalar",
    "list",
    "list_with_param",
    "list_with_expression",
    "list_with_number",
    "list_with_none",
    "tuple",
    "set",
    "generator",
    "dict_positions",
    "dict_names",
    "dict_bad_keys",
    "callable",
    "callable_none",
    "slice",
    "slice_wrong",
    "string",
    "model",
    "param",
    "expression_component",
    "constraint",
    "other_model",
    "none",
    "number",
    "binary",
    "integer",
    "numpy_array",
)
VAR_BOUNDS = (
    "finite",
    "none",
    "half",
    "infinite",
    "crossed",
    "point",
    "huge",
    "fixed",
    "fixed_unbounded",
    "params",
    "mixed",
)
INPUT_BOUNDS = (
    "absent",
    "pair",
    "scalars",
    "wrong_length",
    "strings",
    "nan",
    "inf",
    "crossed",
    "none_pair",
    "not_a_pair",
    "triple",
    "disjoint",
    "nested",
    "numpy",
)
FORMULATIONS = (
    "bigm",
    "sos1",
    "tightened_bigm",
    "scaled_bigm",
    "BigM",
    "unknown",
    "",
    "none",
    "int",
    "class",
    "object",
    "list",
)
OPTIONS = (
    "none",
    "workers0",
    "workers-1",
    "workers1.5",
    "workers_str",
    "workers_bool",
    "workers_nan",
    "progress_str",
    "progress_none",
    "bounds_object",
    "bounds_other_network",
    "bounds_other_box",
    "bounds_disjoint_box",
    "unknown_keyword",
    "indexed_block",
)
NETWORKS = ("net", "net", "net", "none", "string", "array", "layers", "dict", "bounds", "onnx")


def block_cases(n: int, seed: int = 0) -> list[tuple[str, dict]]:
    """``n`` specs: mostly one or two odd choices on top of a valid block."""
    rng = np.random.default_rng(seed)
    valid = {
        "network": "net",
        "n_inputs": 2,
        "inputs": "indexed",
        "var_bounds": "finite",
        "input_bounds": "absent",
        "formulation": "bigm",
        "option": "none",
    }
    choices = {
        "network": NETWORKS,
        "n_inputs": (1, 2, 3),
        "inputs": INPUTS,
        "var_bounds": VAR_BOUNDS,
        "input_bounds": INPUT_BOUNDS,
        "formulation": FORMULATIONS,
        "option": OPTIONS,
    }
    cases = []
    for _ in range(n):
        spec = dict(valid)
        for key in rng.choice(list(choices), size=int(rng.integers(1, 4)), replace=False):
            values = choices[str(key)]
            spec[str(key)] = values[int(rng.integers(len(values)))]
        spec["n_inputs"] = int(spec["n_inputs"])
        spec["seed"] = int(rng.integers(1000))
        name = ",".join(f"{k}={v}" for k, v in spec.items() if valid.get(k) != v and k != "seed")
        cases.append((name or "valid", spec))
    return cases


# ------------------------------------------------------------------------------- building
def _network(kind, n_inputs, seed):
    from pyomo_relu.network import Activation, DenseLayer, ReluNetwork

    rng = np.random.default_rng(seed)
    w0, w1 = rng.normal(size=(4, n_inputs)), rng.normal(size=(1, 4))
    net = ReluNetwork(
        [
            DenseLayer(w0, rng.normal(size=4), Activation.RELU),
            DenseLayer(w1, rng.normal(size=1), Activation.LINEAR),
        ]
    )
    if kind == "net":
        return net, net
    if kind == "none":
        return net, None
    if kind == "string":
        return net, "peaks.onnx"
    if kind == "array":
        return net, w0
    if kind == "layers":
        return net, list(net.layers)
    if kind == "dict":
        return net, {"weights": w0}
    if kind == "bounds":
        import pyomo_relu as pr

        return net, pr.interval_bounds(net, -1, 1)
    import pyomo_relu as pr

    return net, pr.save_onnx(net)


def _var_bounds(kind, i, m):
    """Bounds of input variable ``i`` as a Pyomo ``bounds=`` value (None: unbounded)."""
    import pyomo.environ as pyo

    table = {
        "finite": (-1.0, 1.0),
        "none": None,
        "half": (None, 1.0) if i % 2 else (-1.0, None),
        "infinite": (-math.inf, math.inf),
        "crossed": (1.0, -1.0),
        "point": (0.5, 0.5),
        "huge": (-1e30, 1e30),
        "fixed": (-1.0, 1.0),
        "fixed_unbounded": None,
        "mixed": (-1.0, 1.0) if i % 2 else None,
    }
    if kind == "params":
        name = f"p_bounds{i}"
        m.add_component(name, pyo.Param(initialize=1.0, mutable=True))
        p = m.component(name)
        return (-p, p)
    return table[kind]


def _make_vars(m, n, kind, var_kind, domain):
    """``n`` variables on ``m`` with the bounds ``kind``: returns the indexed Var."""
    import pyomo.environ as pyo

    bounds = [_var_bounds(kind, i, m) for i in range(n)]
    m.x = pyo.Var(range(n), domain=domain, bounds=lambda _m, i: bounds[i])
    if kind in ("fixed", "fixed_unbounded"):
        for v in m.x.values():
            v.fix(0.25)
    return m.x


def _inputs(spec, m, net):
    import pyomo.environ as pyo

    n, kind, vb = net.n_inputs, spec["inputs"], spec["var_bounds"]
    domain = {"binary": pyo.Binary, "integer": pyo.Integers}.get(kind, pyo.Reals)
    size = {"indexed_short": max(n - 1, 0), "indexed_long": n + 1}.get(kind, n)
    x = _make_vars(m, size, vb, kind, domain)
    items = list(x.values())
    if kind in ("indexed", "indexed_short", "indexed_long", "binary", "integer"):
        return x
    if kind == "scalar":
        m.s = pyo.Var(bounds=(-1, 1))
        return m.s
    if kind == "list":
        return items
    if kind == "tuple":
        return tuple(items)
    if kind == "set":  # Pyomo's VarData is unhashable: a ComponentSet is the set users build
        from pyomo.common.collections import ComponentSet

        return ComponentSet(items)
    if kind == "generator":
        return (v for v in items)
    if kind == "numpy_array":
        return np.array(items, dtype=object)
    m.p = pyo.Param(initialize=0.5, mutable=True)
    if kind == "list_with_param":
        return [m.p, *items[1:]]
    if kind == "list_with_expression":
        return [items[0] + 1, *items[1:]]
    if kind == "list_with_number":
        return [1.0, *items[1:]]
    if kind == "list_with_none":
        return [None, *items[1:]]
    if kind == "dict_positions":
        return dict(enumerate(items))
    if kind == "dict_names":
        return dict(zip(net.input_names, items))
    if kind == "dict_bad_keys":
        return {f"k{i}": v for i, v in enumerate(items)}
    if kind == "callable":
        return lambda: items
    if kind == "callable_none":
        return lambda: None
    if kind in ("slice", "slice_wrong"):
        m.y = pyo.Var(range(2), range(n), bounds=(-1, 1))
        return m.y[0, :] if kind == "slice" else m.y[:, 0]
    if kind == "string":
        return "x"
    if kind == "model":
        return m
    if kind == "param":
        m.q = pyo.Param(range(n), initialize=0.0, mutable=True)
        return m.q
    if kind == "expression_component":
        m.e = pyo.Expression(range(n), rule=lambda _m, i: 2 * items[i] if i < len(items) else 0)
        return m.e
    if kind == "constraint":
        m.c = pyo.Constraint(expr=items[0] <= 0.5) if items else pyo.Constraint(expr=m.p <= 1)
        return m.c
    if kind == "other_model":
        other = pyo.ConcreteModel()
        other.z = pyo.Var(range(n), bounds=(-1, 1))
        m._other = other  # kept alive with the model
        return other.z
    if kind == "none":
        return None
    return 3.0  # "number"


def _input_bounds(kind, n):
    return {
        "absent": None,
        "pair": ([-0.5] * n, [0.5] * n),
        "scalars": (-0.5, 0.5),
        "wrong_length": ([-0.5] * (n + 1), [0.5] * (n + 1)),
        "strings": ("a", "b"),
        "nan": (math.nan, 0.5),
        "inf": (-math.inf, math.inf),
        "crossed": (0.5, -0.5),
        "none_pair": (None, None),
        "not_a_pair": 0.5,
        "triple": (-0.5, 0.0, 0.5),
        "disjoint": (5.0, 6.0),
        "nested": ([[-0.5] * n], [[0.5] * n]),
        "numpy": (np.full(n, -0.5), np.full(n, 0.5)),
    }[kind]


def _formulation(kind):
    from pyomo_relu.formulations import BigM

    return {
        "unknown": "no_such_formulation",
        "none": None,
        "int": 3,
        "class": BigM,
        "object": object(),
        "list": ["bigm"],
    }.get(kind, kind)


def _options(kind, net):
    import pyomo_relu as pr
    from pyomo_relu.network import Activation, DenseLayer, ReluNetwork

    if kind.startswith("workers"):
        value = {"0": 0, "-1": -1, "1.5": 1.5, "_str": "2", "_bool": True, "_nan": math.nan}
        return {"workers": value[kind[len("workers") :]]}
    if kind == "progress_str":
        return {"progress": "yes"}
    if kind == "progress_none":
        return {"progress": None}
    if kind == "bounds_object":
        return {"bounds": object()}
    if kind == "bounds_other_network":
        other = ReluNetwork(
            [DenseLayer(np.ones((3, net.n_inputs)), np.zeros(3), Activation.LINEAR)]
        )
        return {"bounds": pr.interval_bounds(other, -1, 1)}
    if kind == "bounds_other_box":
        return {"bounds": pr.interval_bounds(net, -0.25, 0.25)}
    if kind == "bounds_disjoint_box":
        return {"bounds": pr.interval_bounds(net, 3.0, 4.0)}
    if kind == "unknown_keyword":
        return {"formulaton": "bigm"}
    return {}


def build_case(spec):
    """``(model, network, block keyword arguments, (lb, ub) the inputs may take or None)``."""
    import pyomo.environ as pyo

    net, network_arg = _network(spec["network"], spec["n_inputs"], spec["seed"])
    m = pyo.ConcreteModel()
    inputs = _inputs(spec, m, net)
    kwargs = {
        "network": network_arg,
        "inputs": inputs,
        "formulation": _formulation(spec["formulation"]),
    }
    box = _input_bounds(spec["input_bounds"], net.n_inputs)
    if box is not None:
        kwargs["input_bounds"] = box
    kwargs.update(_options(spec["option"], net))
    if spec["option"] == "indexed_block":  # one copy per index, each on the same inputs
        kwargs["_index"], kwargs["inputs"] = [0, 1], lambda i: inputs
    return m, net, kwargs, box


def check_block(block, net, input_bounds) -> tuple[str, str]:
    """``OK`` when a built block's inputs are variables and its box and neuron bounds hold for
    every point its input variables (and ``input_bounds``) allow; ``WRONG`` otherwise."""
    from pyomo.core.base.var import VarData

    variables = list(block.inputs.values())
    if len(variables) != net.n_inputs or not all(isinstance(v, VarData) for v in variables):
        return WRONG, f"inputs {variables} are not {net.n_inputs} variables"
    b = block.bounds
    lb, ub = np.asarray(b.input_lb, dtype=float), np.asarray(b.input_ub, dtype=float)
    if not (np.all(np.isfinite(lb)) and np.all(np.isfinite(ub)) and np.all(lb <= ub)):
        return WRONG, f"box [{lb}, {ub}] is not a finite box"
    for i, v in enumerate(variables):
        if v.fixed and not lb[i] <= v.value <= ub[i]:
            return WRONG, f"input {i} is fixed to {v.value} outside the box [{lb[i]}, {ub[i]}]"
        if v.lb is not None and lb[i] < pyo_value(v.lb) - 1e-12:
            return WRONG, f"input {i}: box starts at {lb[i]} below the variable's bound {v.lb}"
        if v.ub is not None and ub[i] > pyo_value(v.ub) + 1e-12:
            return WRONG, f"input {i}: box ends at {ub[i]} above the variable's bound {v.ub}"
    # the box the block enforces must hold the neuron bounds: forward passes stay inside
    rng = np.random.default_rng(0)
    x = lb + (ub - lb) * rng.random((500, net.n_inputs))
    corners = lb + (ub - lb) * rng.integers(0, 2, (64, net.n_inputs))
    for k, z in enumerate(net.preactivations(np.vstack([x, corners]))):
        if np.any(z < b.lower[k] - 1e-9) or np.any(z > b.upper[k] + 1e-9):
            return WRONG, f"layer {k}: a forward pass leaves the neuron bounds"
    return OK, f"box [{lb}, {ub}]"


def pyo_value(x) -> float:
    import pyomo.environ as pyo

    return float(pyo.value(x))
