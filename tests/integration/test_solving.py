"""pyomo_relu.solving: named SCIP settings keep the optimum; bad names are clear errors."""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.solving import SCIP_SETTINGS, solve_model
from tests.conftest import random_network, requires_scip

pytestmark = [pytest.mark.solver, requires_scip]


def _model(net):
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(net.n_inputs), bounds=(-1, 1))
    m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
    m.obj = pyo.Objective(expr=m.nn.outputs[0])
    return m


@pytest.mark.parametrize("seed", [3, 4])
def test_settings_give_the_same_optimum(seed):
    net = random_network((2, 12, 12, 1), seed=seed)
    values = {}
    for name in SCIP_SETTINGS:
        m = _model(net)
        out = solve_model(m, settings=name)
        assert out.status == "optimal" and m.nn.prediction_error() < 1e-6
        values[name] = out.objective
    assert np.ptp(list(values.values())) < 1e-6


def test_relu_settings_turn_cuts_off_and_options_override():
    assert SCIP_SETTINGS["relu"]["separating/maxroundsroot"] == 0
    m = _model(random_network((2, 6, 1), seed=1))
    out = solve_model(m, settings="relu", options={"limits/nodes": 1})
    assert out.nodes is not None and out.nodes <= 1


def test_unknown_settings_name():
    m = _model(random_network((2, 4, 1), seed=1))
    with pytest.raises(
        pr.UnknownOptionError, match="unknown SCIP settings 'fast'; valid: default, relu"
    ):
        solve_model(m, settings="fast")


_LONG_LOG = """
import sys
import pyomo.environ as pyo
import pyomo_relu as pr
from pyomo_relu.solving import solve_model
from tests.conftest import random_network
net = random_network((2, 30, 30, 30, 1), seed=5)
m = pyo.ConcreteModel()
m.x = pyo.Var(range(2), bounds=(-1, 1))
m.nn = pr.ReluNetworkBlock(network=net, inputs=m.x)
m.obj = pyo.Objective(expr=m.nn.outputs[0])
tee = sys.argv[2] == "tee"
# a node limit, not a time limit: the log is as long on a busy machine as on an idle one
out = solve_model(m, solver=sys.argv[1], time_limit=120, tee=tee, settings="relu",
                  options={"display/freq": 1, "display/verblevel": 4, "limits/nodes": 1000})
print("nodes", out.nodes, out.status)
"""


@pytest.mark.parametrize("solver", ["scip_direct", "scip_persistent"])
@pytest.mark.parametrize("tee", ["tee", "quiet"])
def test_long_scip_log_does_not_hang(solver, tee, tmp_path):
    """A log far larger than a pipe buffer (one line per node) must not block the solve."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-c", _LONG_LOG, solver, tee],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "nodes" in proc.stdout
    if tee == "tee":
        assert len(proc.stdout) > 100_000  # the log really was long, and it reached stdout
