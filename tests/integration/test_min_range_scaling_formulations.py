"""The ``rule=`` option of the scaled big-M formulations, and ``min_range`` in solved models.

The rows the formulation writes have exactly the coefficient spread the rule
minimized; MIP optima with ``rule="min_range"`` equal the unscaled optima and the
forward pass at the solution (SCIP).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
import pytest

import pyomo_relu as pr
from pyomo_relu.benchmarks.scaling import coefficient_ranges
from pyomo_relu.errors import UnknownOptionError
from pyomo_relu.formulations import ScaledBigM, TightenedScaledBigM
from pyomo_relu.reductions import RESCALE_RULES, coefficient_spread
from tests.conftest import block_model, random_network, requires_scip


def trained_network() -> pr.ReluNetwork:
    """A small MLP trained by scikit-learn (unequal neuron scales, as trained networks have)."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPRegressor

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(3 * x[:, 0]) * np.cos(2 * x[:, 1])
    mlp = MLPRegressor(hidden_layer_sizes=(10, 10), max_iter=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(x, y)
    return pr.ReluNetwork.from_arrays([w.T for w in mlp.coefs_], list(mlp.intercepts_))


NETWORKS = {
    "trained": trained_network,
    "relu": lambda: random_network((2, 10, 10, 1), seed=3),
    "clipped": lambda: random_network((3, 8, 8, 2), seed=4, clipped=True, cap=0.8),
    "relu output": lambda: random_network((2, 7, 6, 1), seed=5, relu_output=True),
}


# -- options ------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [ScaledBigM, TightenedScaledBigM])
def test_unknown_rule_names_the_formulation_and_lists_the_rules(make):
    with pytest.raises(UnknownOptionError) as err:
        make(rule="log")
    message = str(err.value)
    assert message.startswith(make.__name__) and "'log'" in message
    assert all(repr(rule) in message for rule in RESCALE_RULES)


def test_default_rule_is_unchanged():
    for make in (ScaledBigM, TightenedScaledBigM):
        assert [s.rule for s in make().steps if s.name == "rescale"] == ["max_abs"]
    assert pr.get_formulation("scaled_bigm").steps[0].rule == "max_abs"


@pytest.mark.parametrize("rule", RESCALE_RULES)
def test_summary_and_build_stats_name_the_rule(rule):
    net = NETWORKS["relu"]()
    m = block_model(net, ScaledBigM(rule=rule))
    assert m.nn.build_stats.scaling == rule
    assert m.nn.summary()["scaling"] == rule
    assert m.nn.prepared.scaling.rule == rule
    assert "scaling" not in block_model(net, "bigm").nn.summary()


# -- the rows written ---------------------------------------------------------------------
@pytest.mark.parametrize("case", list(NETWORKS))
@pytest.mark.parametrize("rule", [None, *RESCALE_RULES])
def test_rows_written_have_the_spread_the_rule_sees(case, rule):
    """``coefficient_spread`` counts exactly the coefficients and right-hand sides of the rows."""
    net = NETWORKS[case]()
    m = block_model(net, "bigm" if rule is None else ScaledBigM(rule=rule))
    _, with_rhs = coefficient_ranges(m.nn.mip)
    bounds = pr.interval_bounds(net, -1.0, 1.0)
    factors = None if rule is None else m.nn.prepared.scaling.factors
    assert np.log2(with_rhs) == pytest.approx(coefficient_spread(net, bounds, factors), abs=1e-6)


def test_min_range_rows_have_the_smallest_range():
    net = NETWORKS["clipped"]()
    ranges = {
        rule: coefficient_ranges(block_model(net, ScaledBigM(rule=rule)).nn.mip)[1]
        for rule in RESCALE_RULES
    }
    ranges["none"] = coefficient_ranges(block_model(net, "bigm").nn.mip)[1]
    assert all(ranges["min_range"] <= r * (1 + 1e-5) for r in ranges.values()), ranges


# -- solved models ------------------------------------------------------------------------
def _optimum(net, formulation, sense):
    m = block_model(net, formulation, sense=sense)
    out = pr.solve_model(m)
    assert out.status == "optimal", out
    return out.objective, m.nn.prediction_error()


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("case", list(NETWORKS))
@pytest.mark.parametrize("sense", [pyo.minimize, pyo.maximize])
def test_min_range_optimum_equals_unscaled_optimum_and_forward_pass(case, sense):
    net = NETWORKS[case]()
    reference, _ = _optimum(net, "bigm", sense)
    for formulation in (ScaledBigM(rule="min_range"), TightenedScaledBigM(rule="min_range")):
        objective, error = _optimum(net, formulation, sense)
        assert objective == pytest.approx(reference, rel=1e-6, abs=1e-6)
        assert error < 1e-6  # the MIP's outputs are the network at the MIP's inputs


@pytest.mark.solver
@requires_scip
def test_scaling_benchmark_rows_and_tables(tmp_path):
    """One network through every benchmark formulation; the tables read back from the CSV."""
    from pyomo_relu.benchmarks import scaling
    from pyomo_relu.benchmarks._tables import write_csv

    net = NETWORKS["relu"]()
    rows = [
        {"network": "relu", **scaling.run_one(net, -1.0, 1.0, name, time_limit=30.0)}
        for name in scaling.FORMULATIONS
    ]
    by_name = {r["formulation"]: r for r in rows}
    assert all(r["status"] == "optimal" and r["fwd_err"] < 1e-6 for r in rows)
    assert by_name["scaled_bigm[max_abs]"]["max_M"] <= 1.0 + 1e-9
    assert by_name["scaled_bigm[min_range]"]["coef_rhs_range"] <= (
        by_name["scaled_bigm[max_abs]"]["coef_rhs_range"] * (1 + 1e-5)
    )
    write_csv(tmp_path / "scaling.csv", rows, scaling.FIELDS)
    assert scaling.main(["--out", str(tmp_path), "--tables-only"]) == 0
    text = (tmp_path / "scaling.md").read_text()
    assert text.count("| yes |") == len(rows) and "| NO |" not in text
    for name in scaling.FORMULATIONS:
        assert f"| {name} | " in text.split("Per formulation")[1]
