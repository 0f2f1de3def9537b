"""``pyomo-relu analyze``: in process through its own parser, and end to end in a subprocess."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyomo_relu import analysis
from pyomo_relu.bounds import interval_bounds
from pyomo_relu.cli import analyze
from pyomo_relu.errors import InfeasibleBoxError, ShapeMismatchError
from pyomo_relu.io import load_onnx, save_onnx
from tests.conftest import random_network

ROOT = Path(__file__).resolve().parents[2]
PEAKS = ROOT / "pyomo_relu" / "data" / "peaks.onnx"
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def net_file(tmp_path_factory):
    """The shipped peaks surrogate if present, else a small saved 2-D network."""
    if PEAKS.is_file():
        return PEAKS
    path = tmp_path_factory.mktemp("nets") / "net2d.onnx"
    save_onnx(random_network((2, 12, 12, 1), seed=3), path)
    return path


def run_analyze(*argv):
    parser = argparse.ArgumentParser(prog="pyomo-relu analyze")
    analyze.add_arguments(parser)
    return analyze.run(parser.parse_args([str(a) for a in argv]))


def cli(*argv, timeout=180):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "pyomo_relu", "analyze", *map(str, argv)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def test_report_json_and_plots(net_file, tmp_path, capsys):
    out, plot, rplot = tmp_path / "r.json", tmp_path / "b.png", tmp_path / "regions.png"
    assert (
        run_analyze(
            net_file,
            "--lb",
            "-3",
            "--ub",
            "3,3",
            "--json",
            out,
            "--plot",
            plot,
            "--regions-plot",
            rplot,
        )
        == 0
    )
    text = capsys.readouterr().out
    net = load_onnx(net_file)
    bounds = interval_bounds(net, -3.0, 3.0)
    stable, big_m = analysis.stable_fraction(bounds), analysis.big_m_report(bounds)
    regions = analysis.count_linear_regions(net, -3.0, 3.0)
    assert "== interval bounds" in text and str(stable) in text and str(big_m) in text
    assert f"{regions.count} linear regions (exact" in text
    data = json.loads(out.read_text())
    assert data["layer_sizes"] == list(net.layer_sizes) and list(data["bounds"]) == ["interval"]
    assert data["bounds"]["interval"]["stable"] == stable.to_dict()
    assert data["bounds"]["interval"]["big_m"] == big_m.to_dict()
    assert data["regions"]["count"] == regions.count and data["regions"]["exact"] is True
    assert [i["lb"] for i in data["inputs"]] == [-3.0] * net.n_inputs
    for png in (plot, rplot):
        assert png.read_bytes()[:8] == PNG


def test_sampled_regions_and_no_regions(net_file, capsys):
    assert (
        run_analyze(net_file, "--lb=-1,-1", "--ub", "1", "--regions", "sample", "--samples", "2000")
        == 0
    )
    assert "lower bound, sample" in capsys.readouterr().out
    assert run_analyze(net_file, "--lb", "-1", "--ub", "1", "--regions", "none") == 0
    assert "linear regions" not in capsys.readouterr().out


@pytest.mark.solver
def test_lp_tightening_is_reported_and_never_looser(net_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run_analyze(net_file, "--lb", "-3", "--ub", "3", "--tighten", "lp", "--json", out) == 0
    assert "== lp bounds" in capsys.readouterr().out
    data = json.loads(out.read_text())["bounds"]
    loose, tight = data["interval"], data["lp"]
    assert tight["stable"]["stable"] >= loose["stable"]["stable"]
    assert tight["big_m"]["total"]["m_max"] <= loose["big_m"]["total"]["m_max"]
    assert (
        "lp" in tight["stable"]["methods"]
    )  # layer 0 stays exact interval bounds, layer 1 is tightened


def test_bad_inputs_raise_package_errors(net_file, tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        run_analyze(tmp_path / "missing.onnx", "--lb", "0", "--ub", "1")
    with pytest.raises(InfeasibleBoxError, match="lb"):
        run_analyze(net_file, "--lb", "2", "--ub", "1")
    with pytest.raises(ShapeMismatchError, match="3 entries"):
        run_analyze(net_file, "--lb", "0,0,0", "--ub", "1")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_analyze(net_file, "--lb", "0", "--ub", "1", "--json", tmp_path / "no" / "r.json")
    with pytest.raises(SystemExit):
        run_analyze(net_file, "--lb", "zero", "--ub", "1")


def test_regions_plot_needs_one_or_two_free_inputs(tmp_path):
    path = tmp_path / "net3d.onnx"
    save_onnx(random_network((3, 4, 1), seed=0), path)
    with pytest.raises(ShapeMismatchError, match="1 or 2 free inputs"):
        run_analyze(path, "--lb", "0", "--ub", "1", "--regions-plot", tmp_path / "r.png")
    # fixing one input makes the picture possible
    assert run_analyze(path, "--lb", "0", "--ub=1,1,0", "--regions-plot", tmp_path / "r.png") == 0
    assert (tmp_path / "r.png").read_bytes()[:8] == PNG


# -- end to end -----------------------------------------------------------------------
def test_cli_end_to_end(net_file, tmp_path):
    out = tmp_path / "r.json"
    proc = cli(net_file, "--lb", "-3", "--ub", "3", "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "Stable neurons" in proc.stdout and "linear regions" in proc.stdout
    assert json.loads(out.read_text())["regions"]["exact"] is True


@pytest.mark.parametrize(
    "argv,needle",
    [
        (("missing.onnx", "--lb", "0", "--ub", "1"), "not found"),
        ((None, "--lb", "1", "--ub", "0"), "lb[0] = 1.0 > ub[0] = 0.0"),
        ((None, "--lb", "0,0,0", "--ub", "1"), "3 entries"),
    ],
)
def test_cli_errors_are_one_line(net_file, tmp_path, argv, needle):
    argv = [net_file if a is None else tmp_path / a if a == "missing.onnx" else a for a in argv]
    proc = cli(*argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert (
        len(lines) == 1 and lines[0].startswith("pyomo-relu analyze: error:") and needle in lines[0]
    )


def test_cli_rejects_non_numbers():
    proc = cli("x.onnx", "--lb", "abc", "--ub", "1")
    assert proc.returncode == 2 and "expected a number" in proc.stderr


def test_samples_must_be_positive():
    with pytest.raises(SystemExit):
        run_analyze("x.onnx", "--lb", "0", "--ub", "1", "--samples", "0")
