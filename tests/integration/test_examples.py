"""The shipped examples run as written and report a forward-pass check."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from tests.conftest import requires_scip

ROOT = pathlib.Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.solver, requires_scip]


def test_peaks_example_runs():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "peaks.py")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "minimum of the surrogate: -6.5" in out.stdout
    error = float(out.stdout.strip().splitlines()[-1].split(":")[-1])
    assert error < 1e-6
