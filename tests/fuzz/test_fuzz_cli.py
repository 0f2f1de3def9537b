"""Fuzzing the ``pyomo-relu`` command with odd arguments, in-process and as ``python -m``.

Every command line ends in a result (exit 0, or 1 when there is no solution) or in exit
code 2 with one ``error:`` line on stderr that names the argument or file: never a
traceback, a hang or another exit code.  ``python -m tests.fuzz.harness --boundary cli
--cases 2000`` runs a larger budget.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.fuzz import harness
from tests.fuzz.cli_cases import cli_cases
from tests.fuzz.onnx_cases import PEAKS


def test_odd_command_lines_run_or_fail_with_one_clear_line():
    cases = [("cli", name, payload) for name, payload in cli_cases(40, seed=5)]
    report = harness.run_cases(cases, timeout=60)
    assert not report.bad(), report.format()
    assert report.counts()[harness.CLEAR] > 20


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["solve", PEAKS, "--minimize", "0", "--lb", "3", "--ub", "-3"], "lb[0] = 3.0 > ub[0]"),
        (["solve", PEAKS, "--minimize", "0", "--lb=-3,-3,-3", "--ub", "3"], "3 entries"),
        (
            ["analyze", os.path.dirname(PEAKS), "--lb", "-3", "--ub", "3"],
            "is a directory; pass the path of an ONNX file",
        ),
        (["bench", "--time-limit", "nan"], "time_limit must be a finite number"),
        (
            ["solve", PEAKS, "--minimize", "0", "--lb", "-3", "--ub", "3", "--bogus"],
            "unrecognized arguments: --bogus",
        ),
    ],
    ids=["crossed", "length", "directory", "bench-nan", "flag"],
)
def test_python_dash_m_pyomo_relu_reports_odd_arguments_in_one_line(argv, expected, tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root)
    proc = subprocess.run(
        [sys.executable, "-m", "pyomo_relu", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in proc.stderr
    assert expected in lines[0], lines[0]
