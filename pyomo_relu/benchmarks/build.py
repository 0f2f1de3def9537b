"""Model build time: pyomo_relu's big-M block versus OMLT's big-M formulation.

Both build the big-M MIP of the same network with interval bounds, from the
same float64 weights, into a fresh Pyomo model; each timing covers everything
from the arrays to a finished block (for OMLT: its ``NetworkDefinition``,
``OmltBlock`` and ``ReluBigMFormulation``; for us: ``ReluNetworkBlock``,
which computes the interval bounds itself).  Builds alternate between the two
libraries in each repetition and the median is reported, so both see the same
machine load.  Optionally (``--to-scip``) the time Pyomo's ``scip_direct``
takes to translate each model into SCIP is measured too (a solve with a zero
time limit; SCIP's own time is subtracted).

Run::

    python -m pyomo_relu.benchmarks.build              # writes results/build.md
    python -m pyomo_relu.benchmarks.build --repeats 5 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from ..network import ReluNetwork

DEFAULT_SIZES = (784, 256, 256, 256, 10)
RESULTS = Path(__file__).resolve().parent / "results"


def random_network(sizes=DEFAULT_SIZES, *, seed: int = 0) -> ReluNetwork:
    """A ReLU network with He-initialized (seeded) weights and small random biases."""
    rng = np.random.default_rng(seed)
    weights = [
        rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_out, n_in))
        for n_in, n_out in zip(sizes[:-1], sizes[1:])
    ]
    biases = [rng.normal(0.0, 0.05, size=n_out) for n_out in sizes[1:]]
    return ReluNetwork.from_arrays(weights, biases)


def _count(model) -> dict:
    import pyomo.environ as pyo

    variables = list(model.component_data_objects(pyo.Var, descend_into=True))
    return {
        "variables": len(variables),
        "binaries": sum(1 for v in variables if v.is_binary()),
        "constraints": sum(
            1 for _ in model.component_data_objects(pyo.Constraint, descend_into=True, active=True)
        ),
    }


def build_ours(net: ReluNetwork, lb: float, ub: float):
    """A model with a ReluNetworkBlock (bigm, interval bounds) over ``[lb, ub]^n``."""
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock

    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(lb, ub))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    return m


def omlt_definition(net: ReluNetwork, lb: float, ub: float):
    """OMLT ``NetworkDefinition`` of ``net`` (OMLT stores weights as (n_in, n_out))."""
    from omlt.neuralnet import NetworkDefinition
    from omlt.neuralnet.layer import DenseLayer, InputLayer

    definition = NetworkDefinition(scaled_input_bounds={i: (lb, ub) for i in range(net.n_inputs)})
    prev = InputLayer([net.n_inputs])
    definition.add_layer(prev)
    for layer in net.layers:
        act = "relu" if layer.activation.is_piecewise else "linear"
        dense = DenseLayer(
            [layer.n_in],
            [layer.n_out],
            np.array(layer.weights.T),
            np.array(layer.bias),
            activation=act,
        )
        definition.add_layer(dense)
        definition.add_edge(prev, dense)
        prev = dense
    return definition


def build_omlt(net: ReluNetwork, lb: float, ub: float):
    """A model with OMLT's OmltBlock and ReluBigMFormulation over ``[lb, ub]^n``."""
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.neuralnet import ReluBigMFormulation

    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(ReluBigMFormulation(omlt_definition(net, lb, ub)))
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    return m


def timed(builder, net: ReluNetwork, lb: float, ub: float):
    """``(wall seconds, CPU seconds, model)`` of one build (after a garbage collection)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    model = builder(net, lb, ub)
    return time.perf_counter() - wall, time.process_time() - cpu, model


def to_scip_seconds(model) -> float:
    """Seconds Pyomo's scip_direct spends translating ``model`` (SCIP's own time excluded)."""
    from pyomo.contrib.solver.common.factory import SolverFactory

    start = time.perf_counter()
    res = SolverFactory("scip_direct").solve(
        model, time_limit=0.0, load_solutions=False, raise_exception_on_nonoptimal_result=False
    )
    return time.perf_counter() - start - float(res.timing_info.scip_time)


def measure(
    net: ReluNetwork, *, lb: float = 0.0, ub: float = 1.0, repeats: int = 3, to_scip: bool = False
) -> dict:
    """Median build (and optionally translation) times and model sizes of both libraries."""
    builders = {"pyomo_relu bigm": build_ours, "OMLT ReluBigMFormulation": build_omlt}
    times = {name: [] for name in builders}
    cpu = {name: [] for name in builders}
    scip = {name: [] for name in builders}
    sizes = {}
    for rep in range(repeats):
        order = list(builders) if rep % 2 == 0 else list(reversed(builders))
        for name in order:
            wall, used, model = timed(builders[name], net, lb, ub)
            times[name].append(wall)
            cpu[name].append(used)
            sizes[name] = _count(model)
            if to_scip:
                scip[name].append(to_scip_seconds(model))
            del model
    rows = {}
    for name in builders:
        rows[name] = {
            "median_s": statistics.median(times[name]),
            "all_s": times[name],
            "cpu_s": statistics.median(cpu[name]),
            **sizes[name],
        }
        if to_scip:
            rows[name]["to_scip_s"] = statistics.median(scip[name])
    return rows


def markdown(
    net: ReluNetwork, rows: dict, *, lb: float, ub: float, repeats: int, load: float | None = None
) -> str:
    """The results as a markdown report."""
    import omlt
    import pyomo

    ours, theirs = rows["pyomo_relu bigm"], rows["OMLT ReluBigMFormulation"]
    ratio = theirs["median_s"] / ours["median_s"]
    cpu_ratio = theirs["cpu_s"] / ours["cpu_s"]
    scip = "to_scip_s" in ours
    lines = [
        "# Model build time: pyomo_relu vs OMLT (big-M, interval bounds)",
        "",
        f"Network {'-'.join(map(str, net.layer_sizes))} (random He-initialized weights, seed 0), "
        f"inputs in [{lb:g}, {ub:g}]; median of {repeats} builds per library, alternating order.",
        f"Python {platform.python_version()}, Pyomo {pyomo.version.version}, OMLT "
        f"{omlt.__version__}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs.  Command: `python -m "
        "pyomo_relu.benchmarks.build "
        f"--repeats {repeats}{' --to-scip' if scip else ''}`."
        + (
            ""
            if load is None
            else f"  Load average when the run started: {load:.1f} (other processes "
            "slow both libraries alike; the CPU-time column is less affected)."
        ),
        "",
        "| library | build s (median wall) | all builds s (wall) | build CPU s (median) | "
        "variables | binaries "
        "| constraints |" + (" to SCIP s |" if scip else ""),
        "|---|---:|---|---:|---:|---:|---:|" + ("---:|" if scip else ""),
    ]
    for name, r in rows.items():
        runs = ", ".join(f"{t:.2f}" for t in r["all_s"])
        lines.append(
            f"| {name} | {r['median_s']:.3f} | {runs} | {r['cpu_s']:.3f} | {r['variables']} | "
            f"{r['binaries']} | "
            f"{r['constraints']} |" + (f" {r['to_scip_s']:.2f} |" if scip else "")
        )
    lines += [
        "",
        f"**Speed-up of the build: {ratio:.1f}x wall clock, {cpu_ratio:.1f}x CPU time** "
        "(OMLT median / pyomo_relu median).",
        "",
    ]
    n_relu = net.n_piecewise_neurons
    lines += [
        f"Binaries: OMLT {theirs['binaries']} (one per ReLU neuron, {n_relu} in all), pyomo_relu "
        f"{ours['binaries']} (one per neuron that interval bounds leave unstable; stable neurons "
        "get none).  "
        "OMLT keeps a variable for every pre-activation and every activation plus its own input "
        "and output "
        "variables, and writes its big-M values as mutable parameters; pyomo_relu uses the user's "
        "input "
        "variables directly, keeps a pre-activation variable only for unstable neurons and writes "
        "each row "
        "once as a linear expression built from arrays.",
        "",
    ]
    if scip:
        lines += [
            '"to SCIP" is the time Pyomo\'s `scip_direct` interface needs to translate the '
            "finished model "
            "into SCIP (a solve with a zero time limit, SCIP's own time subtracted).  It walks "
            "every "
            "expression term by term and is not part of the build time above.",
            "",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pyomo_relu.benchmarks.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="directory for build.md (default: %(default)s)"
    )
    parser.add_argument("--repeats", type=int, default=3, help="builds per library (default: 3)")
    parser.add_argument(
        "--sizes",
        default=",".join(map(str, DEFAULT_SIZES)),
        help="layer sizes, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--to-scip", action="store_true", help="also time the translation into SCIP"
    )
    args = parser.parse_args(argv)
    sizes = tuple(int(s) for s in args.sizes.split(","))
    net = random_network(sizes, seed=0)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    rows = measure(net, repeats=args.repeats, to_scip=args.to_scip)
    text = markdown(net, rows, lb=0.0, ub=1.0, repeats=args.repeats, load=load)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "build.md").write_text(text)
    print(text)
    print(f"written to {args.out / 'build.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
