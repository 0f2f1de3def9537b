"""LP and MILP bound tightening on a dask cluster, and the same bounds as in one process.

Starts a ``distributed.LocalCluster`` (a scheduler and two worker processes) and
runs ``lp_bounds``, ``milp_bounds`` and the ``relu.tighten_bounds``
transformation on it through ``executor=client.get_executor(pure=False)``; each
result is checked bit for bit against the serial one.  To use a cluster that is
already running, pass its scheduler's address::

    python examples/tighten_on_dask.py                      # a LocalCluster of 2 workers
    python examples/tighten_on_dask.py tcp://10.0.0.5:8786   # an existing cluster

The workers need the same pyomo_relu, numpy, highspy and pyscipopt as this
process (``pip install "pyomo_relu[distributed]"`` on every machine).
Install: ``pip install "pyomo_relu[distributed]"``.  See docs/distributed.md.
"""

import sys
import time

import distributed
import numpy as np
import pyomo.environ as pyo

import pyomo_relu as pr


def random_network(sizes, seed):
    """A seeded He-initialised ReLU network with a linear output layer."""
    rng = np.random.default_rng(seed)
    weights = [rng.normal(size=(o, i)) * np.sqrt(2.0 / i) for i, o in zip(sizes, sizes[1:])]
    biases = [rng.normal(size=o) * 0.5 for o in sizes[1:]]
    return pr.ReluNetwork.from_arrays(weights, biases)


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a.lower + a.upper, b.lower + b.upper))


def timed(label, fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    print(f"{label}: {time.perf_counter() - start:.2f} s")
    return out


def main(address=None) -> None:
    if address is None:  # the cluster is started here and closed at the end
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        )
    else:
        cluster = None
    with distributed.Client(cluster if cluster is not None else address) as client:
        # pure=False: one new task per chunk (no hashing of the arguments)
        executor = client.get_executor(pure=False)
        print(f"cluster: {len(client.scheduler_info()['workers'])} workers")

        net = random_network((6, 60, 60, 60, 1), seed=0)
        serial = timed("lp_bounds serial", pr.lp_bounds, net, -1, 1)
        lp = timed("lp_bounds on the cluster", pr.lp_bounds, net, -1, 1, executor=executor)
        print("LP bounds identical to serial:", same(lp, serial))

        small = random_network((3, 12, 12, 1), seed=1)
        milp_serial = pr.milp_bounds(small, -1, 1, time_limit_per_neuron=30)
        milp = timed(
            "milp_bounds on the cluster",
            pr.milp_bounds,
            small,
            -1,
            1,
            time_limit_per_neuron=30,
            executor=executor,
        )
        print("MILP bounds identical to serial:", same(milp, milp_serial))

        # the transformation: every block of the model is tightened on the cluster
        m = pyo.ConcreteModel()
        m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
        m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
        before = m.nn.summary()["mean_M"]
        pyo.TransformationFactory("relu.tighten_bounds").apply_to(m, method="lp", executor=executor)
        print("relu.tighten_bounds on the cluster identical:", same(m.nn.bounds, serial))
        print(f"mean big-M of the block: {before:.2f} (interval) -> {m.nn.summary()['mean_M']:.2f}")
    if cluster is not None:
        cluster.close()


if __name__ == "__main__":  # needed: the cluster's worker processes are spawned
    main(sys.argv[1] if len(sys.argv) > 1 else None)
