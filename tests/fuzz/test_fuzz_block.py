"""Fuzzing ``ReluNetworkBlock`` with odd Pyomo inputs and options.

Every case builds a block whose box and neuron bounds hold for all values its input
variables can take, or fails with a package error that names the block or the option:
never a bare Python exception, and never a block over a box the variables do not allow
(crossed, infinite or missing bounds).  ``python -m tests.fuzz.harness --boundary block
--cases 2000`` runs a larger budget.
"""

from __future__ import annotations

from tests.fuzz import harness
from tests.fuzz.block_cases import block_cases


def test_odd_block_arguments_build_a_sound_block_or_fail_clearly():
    cases = [("block", name, spec) for name, spec in block_cases(200, seed=2)]
    report = harness.run_cases(cases, timeout=30)
    counts = report.counts()
    assert not report.bad(), report.format()
    assert counts[harness.OK] > 20 and counts[harness.CLEAR] > 100


def test_a_block_over_crossed_or_unbounded_variables_is_refused():
    specs = [
        {"var_bounds": kind, "inputs": "indexed", "input_bounds": "absent"}
        for kind in ("crossed", "none", "half", "infinite", "fixed_unbounded")
    ]
    base = {"network": "net", "n_inputs": 2, "formulation": "bigm", "option": "none", "seed": 0}
    cases = [("block", s["var_bounds"], {**base, **s}) for s in specs]
    report = harness.run_cases(cases, timeout=30)
    assert [r.outcome for r in report.results] == [harness.CLEAR] * len(specs), report.format()
    assert "lb[0] = 1.0 > ub[0] = -1.0" in report.results[0].detail
