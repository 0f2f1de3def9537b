"""Bad input to training, ``pyomo-relu train``/``bench`` and the benchmark runner and report.

Every mistake must end in a :class:`~pyomo_relu.errors.ReluError` that says what was found
and how to fix it (on the command line: one line on stderr, exit code 2), and the runner
must never lose or silently corrupt the rows of ``suite.csv``.  Networks are tiny and
seeded; every file goes to ``tmp_path`` (trained benchmark networks too).
"""

from __future__ import annotations

import csv
import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("pyscipopt")

from pyomo_relu.benchmarks import runner  # noqa: E402
from pyomo_relu.benchmarks.problems import PROBLEMS, TrainedNet  # noqa: E402
from pyomo_relu.benchmarks.report import SuiteFileError, write_report  # noqa: E402
from pyomo_relu.cli import main  # noqa: E402
from pyomo_relu.errors import (
    InfeasibleBoxError,
    MissingBoundsError,
    ReluError,
    ShapeMismatchError,  # noqa: E402
    UnknownOptionError,
)
from pyomo_relu.io.onnx import load_onnx, save_onnx  # noqa: E402
from pyomo_relu.training import TrainingDataError, train_mlp  # noqa: E402
from tests.conftest import random_network, requires_scip  # noqa: E402

pytestmark = [pytest.mark.solver, requires_scip]

TINY = dict(hidden=(4,), epochs=2, batch_size=16, lr=1e-2)


def _data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.uniform(0, 4, n), rng.uniform(-1, 1, n)])
    return X, np.sin(X[:, 0]) + X[:, 1] ** 2 + 5.0


def _cli(capsys, *argv):
    """Run ``pyomo-relu`` in-process; (exit code, stdout, stderr lines without progress bars)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    lines = [
        ln
        for ln in err.replace("\r", "\n").splitlines()
        if ln.strip() and not ln.startswith("bench:")
    ]
    return code, out, lines


def _assert_one_line_error(code, lines, *needles):
    assert code == 2
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in lines[0], lines
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


# -- train_mlp ------------------------------------------------------------------
def _nan_x():
    X, y = _data()
    X[7, 1] = np.nan
    return X, y


BAD_DATA = {
    "nan_x": (_nan_x, TrainingDataError, "X contains NaN.*row 7, column 1"),
    "inf_y": (
        lambda: (_data()[0], np.where(np.arange(40) == 3, np.inf, _data()[1])),
        TrainingDataError,
        "y contains NaN or Inf.*row 3",
    ),
    "text": (lambda: (np.array([["a", "1"]] * 5), np.ones(5)), TrainingDataError, "real numbers"),
    "complex": (lambda: (_data()[0] * 1j, _data()[1]), TrainingDataError, "complex"),
    "ragged": (lambda: ([[1.0, 2.0], [3.0]], [1.0, 2.0]), TrainingDataError, "real numbers"),
    "3d_x": (
        lambda: (_data()[0][:, :, None], _data()[1]),
        ShapeMismatchError,
        r"found X \(40, 2, 1\)",
    ),
    "no_y_column": (
        lambda: (_data()[0], np.zeros((40, 0))),
        ShapeMismatchError,
        "at least one column",
    ),
    "lengths": (
        lambda: (_data()[0], _data()[1][:30]),
        ShapeMismatchError,
        "40 samples but y has 30",
    ),
    "one_sample": (
        lambda: (_data()[0][:1], _data()[1][:1]),
        ShapeMismatchError,
        "at least 2 samples",
    ),
    "huge_x": (
        lambda: (_data()[0] * 1e300, _data()[1]),
        TrainingDataError,
        "too large to standardize",
    ),
}


@pytest.mark.parametrize("case", list(BAD_DATA))
def test_bad_training_data_raises_a_clear_error(case):
    make, error, match = BAD_DATA[case]
    X, y = make()
    with pytest.raises(error, match=match) as info:
        train_mlp(X, y, **TINY)
    assert isinstance(info.value, ReluError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(l1=-1.0), "l1 must be a finite number >= 0"),
        (dict(stability=float("nan")), "stability"),
        (dict(epochs=0), "epochs must be an integer >= 1"),
        (dict(epochs=2.5), "epochs"),
        (dict(batch_size=True), "batch_size"),
        (dict(activation="tanh"), "activation='tanh'.*relu, clipped_relu"),
        (dict(activation="clipped_relu", cap=0.0), "cap must be a finite number > 0"),
        (dict(activation="clipped_relu", cap=-1.0), "cap"),
        (dict(hidden=()), "hidden must be a non-empty sequence"),
        (dict(hidden=(4, 0)), "hidden"),
        (dict(hidden=None), "hidden"),
        (dict(hidden=(True,)), "hidden"),
        (dict(lr="fast"), "lr must be a finite number > 0, found 'fast'"),
        (dict(dropout=1.0), r"dropout must be in \[0, 1\)"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(seed=1.5), "seed"),
        (dict(seed=2**70), "seed"),
    ],
)
def test_bad_hyperparameters_raise_unknown_option_error(kwargs, match):
    with pytest.raises(UnknownOptionError, match=match):
        train_mlp(*_data(), **{**TINY, **kwargs})


def test_validation_leaving_no_training_sample():
    X, y = _data(3)
    with pytest.raises(UnknownOptionError, match="no training samples out of 3"):
        train_mlp(X, y, **{**TINY, "validation": 0.9})


@pytest.mark.parametrize(
    "bounds, error, match",
    [
        (([0.0, -0.5], [2.0, 0.5]), TrainingDataError, "do not cover the data.*Widen input_bounds"),
        (([0.0, -1.0, 0.0], [4.0, 1.0, 1.0]), ShapeMismatchError, "one entry per input"),
        (([4.0, 1.0], [0.0, -1.0]), InfeasibleBoxError, "lb <= ub"),
        (([np.nan, -1.0], [4.0, 1.0]), MissingBoundsError, "finite"),
        (5.0, ShapeMismatchError, "pair"),
    ],
)
def test_bad_input_bounds(bounds, error, match):
    with pytest.raises(error, match=match):
        train_mlp(*_data(), input_bounds=bounds, stability=0.1, **TINY)


def test_input_bounds_equal_to_rounded_data_range_are_accepted():
    X, y = _data()
    lo, hi = X.min(axis=0), X.max(axis=0)
    res = train_mlp(
        X,
        y,
        input_bounds=(np.nextafter(lo, np.inf), np.nextafter(hi, -np.inf)),
        stability=0.1,
        **TINY,
    )
    np.testing.assert_array_less(lo - 1e-12, res.input_bounds[0])


def test_one_d_x_several_outputs_and_small_data():
    X, y = _data()
    one = train_mlp(X[:, 0], y, **TINY)
    assert one.network.layer_sizes == (1, 4, 1)
    Y = np.column_stack([y, -2.0 * y, X[:, 1]])
    multi = train_mlp(X, Y, **{**TINY, "batch_size": 1000})  # fewer samples than one batch
    assert multi.network.layer_sizes == (2, 4, 3)
    assert np.all(np.isfinite(multi.network.forward(X)))
    two = train_mlp(X[:2], y[:2], **TINY)  # no validation sample: NaN, not an error
    assert np.isnan(two.val_mse) and np.isfinite(two.train_mse)


def test_constant_columns_are_not_divided_by_rounding_noise():
    X, y = _data()
    X[:, 1] = 0.1  # np.std of this column is ~3e-17, not 0
    res = train_mlp(X, y, **TINY)
    assert res.scaling["x_std"][1] == 1.0
    assert np.abs(res.network.layers[0].weights).max() < 1e3
    # off the constant value the network stays of the order of the data, not 1e16
    assert np.all(np.abs(res.network.forward(np.array([[2.0, 0.2], [2.0, -1.0]]))) < 1e3)
    flat = train_mlp(X, np.full(40, 0.3), **TINY)
    assert flat.scaling["y_std"][0] == 1.0
    np.testing.assert_allclose(flat.network.forward(X), 0.3, atol=0.5)


def test_same_seed_gives_identical_onnx_that_matches_torch(tmp_path):
    X, y = _data()
    files = []
    for k in range(2):
        res = train_mlp(X, y, seed=11, l1=1e-3, **TINY)
        files.append(tmp_path / f"net{k}.onnx")
        save_onnx(res.network, files[-1])
    loaded = [load_onnx(f) for f in files]
    for a, b in zip(loaded[0].layers, loaded[1].layers):
        np.testing.assert_array_equal(a.weights, b.weights)
        np.testing.assert_array_equal(a.bias, b.bias)
    s = res.scaling
    with torch.no_grad():
        pred = (
            res.model(torch.as_tensor((X - s["x_mean"]) / s["x_std"])).numpy() * s["y_std"]
            + s["y_mean"]
        )
    np.testing.assert_allclose(loaded[0].forward(X), pred, rtol=1e-10, atol=1e-10)
    other = train_mlp(X, y, seed=12, l1=1e-3, **TINY).network
    assert not np.array_equal(other.layers[0].weights, loaded[0].layers[0].weights)


# -- pyomo-relu train -------------------------------------------------------------
def _write(path, header, rows, *, encoding="utf-8"):
    with open(path, "w", newline="", encoding=encoding) as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture
def data_csv(tmp_path):
    X, y = _data()
    return _write(tmp_path / "data.csv", ["a", "b", "t"], np.column_stack([X, y]).tolist())


def _train_args(data, out, *extra, inputs="a,b", outputs="t"):
    return [
        "train",
        data,
        "--inputs",
        inputs,
        "--outputs",
        outputs,
        "--hidden",
        "3",
        "--epochs",
        "1",
        "-o",
        out,
        *extra,
    ]


def test_cli_train_bad_files_and_paths(tmp_path, data_csv, capsys):
    out = tmp_path / "net.onnx"
    rows = np.column_stack(_data()).tolist()
    cases = [
        (_train_args(tmp_path / "missing.csv", out), ["missing.csv", "not found"]),
        (
            _train_args(data_csv, out, inputs="a,zz"),
            ["'zz' not found", "available columns: a, b, t"],
        ),
        (_train_args(data_csv, out, outputs="a"), ["'a' are both an input and an output"]),
        (_train_args(data_csv, out, inputs="a,a"), ["'a' twice"]),
        (
            _train_args(data_csv, tmp_path / "no" / "such" / "net.onnx"),
            ["output folder", "does not exist"],
        ),
        (_train_args(data_csv, tmp_path), ["is a folder"]),
        (_train_args(data_csv, out, "--l1", "-1"), ["l1 must be a finite number >= 0"]),
        (_train_args(data_csv, out, "--activation", "clipped_relu", "--cap", "0"), ["cap"]),
        (_train_args(data_csv, out, "--seed", "-3"), ["seed"]),
    ]
    bad = [list(r) for r in rows]
    bad[4][1] = "n/a"
    cases.append(
        (
            _train_args(_write(tmp_path / "text.csv", ["a", "b", "t"], bad), out),
            ["text.csv line 6, column 'b'", "'n/a'"],
        )
    )
    bad[4][1] = "nan"
    cases.append(
        (_train_args(_write(tmp_path / "nan.csv", ["a", "b", "t"], bad), out), ["line 6", "'nan'"])
    )
    bad[4] = bad[4][:1]
    cases.append(
        (
            _train_args(_write(tmp_path / "short.csv", ["a", "b", "t"], bad), out),
            ["line 6", "missing"],
        )
    )
    cases.append(
        (_train_args(_write(tmp_path / "head.csv", ["a", "b", "t"], []), out), ["no data rows"])
    )
    cases.append(
        (
            _train_args(_write(tmp_path / "dup.csv", ["a", "b", "b", "t"], []), out),
            ["more than once"],
        )
    )
    (tmp_path / "latin.csv").write_bytes(b"a,b,t\xe9\n1,2,3\n")
    cases.append((_train_args(tmp_path / "latin.csv", out), ["not UTF-8"]))
    (tmp_path / "semi.csv").write_text("a;b;t\n1;2;3\n")
    cases.append((_train_args(tmp_path / "semi.csv", out), ["comma-separated"]))
    for argv, needles in cases:
        code, _, lines = _cli(capsys, *argv)
        _assert_one_line_error(code, lines, *needles)
    assert not out.exists()


def test_cli_train_reads_a_utf8_bom_header(tmp_path, capsys):
    X, y = _data()
    path = _write(tmp_path / "bom.csv", ["\ufeffa", "b", "t"], np.column_stack([X, y]).tolist())
    code, out, lines = _cli(capsys, *_train_args(path, tmp_path / "net.onnx"))
    assert code == 0, lines
    assert "validation MSE" in out
    net = load_onnx(tmp_path / "net.onnx")
    assert net.layer_sizes == (2, 3, 1) and net.input_names == ("a", "b")


# -- pyomo-relu bench and the runner -------------------------------------------------
def _fake_peaks(monkeypatch, calls, sizes=(2, 6, 6, 1)):
    """Replace the peaks networks by a seeded random one (no training)."""

    def train(variant, *, cache_dir, quick=False):
        calls.append(variant.name)
        return {"f": TrainedNet(random_network(sizes, seed=4), 0.1, 0.2)}

    monkeypatch.setitem(
        PROBLEMS, "peaks", dataclasses.replace(PROBLEMS["peaks"], train_networks=train)
    )


def _run(tmp_path, configs, **kwargs):
    opts = dict(
        problems=["peaks"],
        variants=["plain"],
        time_limit=10,
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    return runner.run(tmp_path / "out", configs=configs, **{**opts, **kwargs})


def _text(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return fh.read()


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    "args, needles",
    [
        (["--problems", "peaks,nope"], ["'nope'", "valid: peaks, reformer, oil"]),
        (["--variants", "plain,huge"], ["'huge'", "valid: plain, l1_weak"]),
        (["--configs", "bigm,fast"], ["'fast'", "valid: omlt_bigm, bigm"]),
        (["--configs", ","], ["list of configurations is empty", "bigm"]),
        (["--time-limit", "-1"], ["time_limit", "> 0", "-1"]),
        (["--time-limit", "nan"], ["time_limit"]),
    ],
)
def test_cli_bench_rejects_bad_options_before_touching_files(tmp_path, capsys, args, needles):
    out = tmp_path / "out"
    code, _, lines = _cli(
        capsys,
        "bench",
        "--quick",
        "--problems",
        "peaks",
        "--out",
        out,
        "--cache",
        tmp_path / "cache",
        *args,
    )
    _assert_one_line_error(code, lines, *needles)
    assert not out.exists() and not (tmp_path / "cache").exists()


def test_no_resume_with_a_typo_keeps_the_old_file_and_backs_it_up(tmp_path, monkeypatch, capsys):
    calls = []
    _fake_peaks(monkeypatch, calls)
    path = _run(tmp_path, ["bigm"])
    before = _text(path)
    code, _, lines = _cli(
        capsys,
        "bench",
        "--problems",
        "peaks",
        "--variants",
        "plain",
        "--configs",
        "bigm,typo",
        "--no-resume",
        "--out",
        path.parent,
        "--cache",
        tmp_path / "cache",
    )
    _assert_one_line_error(code, lines, "'typo'")
    assert _text(path) == before
    with pytest.warns(UserWarning, match="kept as suite.csv.bak"):
        _run(tmp_path, ["scaled_bigm"], resume=False)
    assert _text(path.with_name("suite.csv.bak")) == before
    assert [r["config"] for r in _rows(path)] == ["scaled_bigm"]


def test_resume_keeps_finished_rows_and_reruns_a_row_cut_off_by_a_crash(tmp_path, monkeypatch):
    calls = []
    _fake_peaks(monkeypatch, calls)
    path = _run(tmp_path, ["bigm", "scaled_bigm"])
    full = _text(path)
    first_row = full.split("\r\n")[1]
    with open(
        path, "w", newline="", encoding="utf-8"
    ) as fh:  # a crash while writing the second row
        fh.write(full[:-40])
    with pytest.warns(UserWarning, match="last row was cut off"):
        _run(tmp_path, ["bigm", "scaled_bigm", "regions"])
    rows = _rows(path)
    assert [r["config"] for r in rows] == ["bigm", "scaled_bigm", "regions"]
    assert _text(path).split("\r\n")[1] == first_row  # the finished row is kept byte for byte
    assert all(r["time_limit"] == "10.0" and r["status"] == "optimal" for r in rows)
    # an empty suite.csv (e.g. created by hand) gets a header
    path.write_text("")
    _run(tmp_path, ["bigm"])
    assert [r["config"] for r in _rows(path)] == ["bigm"]


def test_interrupted_run_keeps_finished_rows(tmp_path, monkeypatch):
    calls = []
    _fake_peaks(monkeypatch, calls)
    real = runner.run_instance

    def interrupted(problem, nets, config, **kwargs):
        if config == "scaled_bigm":
            raise KeyboardInterrupt
        return real(problem, nets, config, **kwargs)

    monkeypatch.setattr(runner, "run_instance", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, ["bigm", "scaled_bigm"])
    path = tmp_path / "out" / "suite.csv"
    assert [r["config"] for r in _rows(path)] == ["bigm"]
    monkeypatch.setattr(runner, "run_instance", real)
    _run(tmp_path, ["bigm", "scaled_bigm"])
    assert [r["config"] for r in _rows(path)] == ["bigm", "scaled_bigm"]


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda full: "x,y\n1,2\n", "none of the columns of a suite.csv"),
        (
            lambda full: (
                ",".join(runner.FIELDS[:10]) + "\r\npeaks,plain,bigm,a,1,1,1,True,1,optimal\r\n"
            ),
            "missing: solved",
        ),
        (lambda full: full.replace("problem,variant", "variant,problem", 1), "order differs"),
        (
            lambda full: full.replace(full.split("\r\n")[1], full.split("\r\n")[1][:40], 1),
            "data row 1 has",
        ),
    ],
)
def test_foreign_old_or_damaged_suite_csv_is_refused_and_left_alone(
    tmp_path, monkeypatch, make, match
):
    calls = []
    _fake_peaks(monkeypatch, calls)
    path = _run(tmp_path, ["bigm", "scaled_bigm"])
    content = make(_text(path))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        fh.write(content)
    with pytest.raises(SuiteFileError, match=match) as info:
        _run(tmp_path, ["bigm", "regions"])
    assert "--no-resume" in str(info.value)
    assert _text(path) == content and calls == ["plain"]


def test_resume_refuses_another_time_limit_or_other_networks(tmp_path, monkeypatch):
    calls = []
    _fake_peaks(monkeypatch, calls)
    path = _run(tmp_path, ["bigm"])
    before = _text(path)
    with pytest.raises(SuiteFileError, match="time limit of '10.0' s, but this run uses 5 s"):
        _run(tmp_path, ["bigm", "scaled_bigm"], time_limit=5)
    _fake_peaks(monkeypatch, calls, sizes=(2, 9, 1))  # e.g. a full run resuming a quick one
    with pytest.raises(SuiteFileError, match="networks 2-6-6-1, but this run trains 2-9-1"):
        _run(tmp_path, ["bigm", "scaled_bigm"])
    assert _text(path) == before


def test_unusable_output_or_cache_folder(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    base = ["bench", "--quick", "--problems", "peaks", "--variants", "plain", "--configs", "bigm"]
    for extra, needle in (
        (["--out", a_file, "--cache", tmp_path / "c"], "is a file, not a folder"),
        (["--out", a_file / "sub", "--cache", tmp_path / "c"], "cannot create the output folder"),
        (["--out", tmp_path / "o", "--cache", a_file], "network cache folder"),
    ):
        code, _, lines = _cli(capsys, *base, *extra)
        _assert_one_line_error(code, lines, needle)
    (tmp_path / "o2" / "suite.csv").mkdir(parents=True)
    code, _, lines = _cli(capsys, *base, "--out", tmp_path / "o2", "--cache", tmp_path / "c")
    _assert_one_line_error(code, lines, "is not a file")


def test_failed_rows_are_recorded_on_one_line_and_left_out_of_speedups(tmp_path, monkeypatch):
    calls = []
    _fake_peaks(monkeypatch, calls)
    real = runner.run_instance

    def failing(problem, nets, config, **kwargs):
        if config == "omlt_bigm":
            raise RuntimeError("solver crashed\nwith a second line")
        return real(problem, nets, config, **kwargs)

    monkeypatch.setattr(runner, "run_instance", failing)
    path = _run(tmp_path, ["omlt_bigm", "bigm", "bigm"])  # a repeated name runs once
    rows = _rows(path)
    assert [r["config"] for r in rows] == ["omlt_bigm", "bigm"]
    assert rows[0]["status"] == "error: RuntimeError: solver crashed with a second line"
    md = (path.parent / "suite.md").read_text()
    assert "| plain | error |" in md
    assert "No instance has both `omlt_bigm`" in md  # not a speed-up against a failure
    assert "1 rows ended with an error" in md and "solver crashed with a second line" in md


# -- the report ---------------------------------------------------------------------
def _row(**kw):
    base = dict(
        problem="peaks",
        variant="plain",
        config="bigm",
        layers="2-8-1",
        train_mse=0.1,
        val_mse=0.1,
        regions=5,
        regions_exact="True",
        stable_interval=0.5,
        status="optimal",
        solved=True,
        objective=-1.0,
        bound=-1.0,
        gap=0.0,
        nodes=3,
        build_s=0.1,
        tighten_s=0.0,
        solve_s=0.5,
        total_s=0.5,
        fwd_err=0.0,
        check_ok=True,
        check="{}",
        binaries=3,
        stable=0.5,
        max_M=2.0,
        mean_M=1.0,
        time_limit=10.0,
    )
    return {**base, **kw}


def test_report_on_empty_foreign_and_mixed_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    md = write_report(empty, tmp_path).read_text()
    assert "No runs in empty.csv yet." in md and not (tmp_path / "suite.png").exists()
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("a,b\n1,2\n")
    with pytest.raises(SuiteFileError, match="not a benchmark suite file.*problem"):
        write_report(foreign, tmp_path)
    mixed = tmp_path / "mixed.csv"
    rows = [
        _row(config="omlt_bigm", status="timelimit", solved=False, gap="inf", total_s=10.0),
        _row(config="bigm", total_s=0.5),
        _row(
            variant="l1",
            config="omlt_bigm",
            status="error: ValueError: x",
            solved=False,
            objective="",
            fwd_err="",
        ),
        _row(variant="l1", config="bigm"),
        _row(variant="l1", config="custom"),
    ]
    with open(mixed, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=runner.FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    md = write_report(mixed, tmp_path).read_text()
    # only 'plain' is compared (l1's baseline failed): 10 s / 0.5 s
    assert "| peaks | **bigm** | 1 | 0 | 1 | yes | 20.00x | met |" in md
    assert "| plain | TL gap inf / 3 | 0.5s / 3 |  |" in md
    assert (
        "| l1 | error | 0.5s / 3 | 0.5s / 3 |" in md
    )  # an unknown configuration gets its own column
    assert (tmp_path / "suite.png").stat().st_size > 0


def test_cli_bench_quick_end_to_end_and_damaged_cache(tmp_path, capsys):
    out, cache = tmp_path / "out", tmp_path / "cache"
    argv = [
        "bench",
        "--quick",
        "--problems",
        "peaks",
        "--variants",
        "plain",
        "--configs",
        "bigm,regions",
        "--out",
        out,
        "--cache",
        cache,
    ]
    code, stdout, lines = _cli(capsys, *argv)
    assert code == 0, lines
    assert "suite.md" in stdout
    rows = _rows(out / "suite.csv")
    assert [(r["config"], r["status"], r["check_ok"]) for r in rows] == [
        ("bigm", "optimal", "True"),
        ("regions", "optimal", "True"),
    ]
    assert abs(float(rows[0]["objective"]) - float(rows[1]["objective"])) < 1e-5
    md = (out / "suite.md").read_text()
    assert "| variant | bigm | regions |" in md and "2 rows have a solution" in md
    assert (out / "suite.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    before = _text(out / "suite.csv")
    code, _, lines = _cli(capsys, *argv)  # everything done: nothing rerun
    assert code == 0 and _text(out / "suite.csv") == before
    meta = next(cache.glob("peaks-plain-*.json"))
    meta.write_text("{not json")
    code, _, lines = _cli(
        capsys, *argv[:-4], "--configs", "scaled_bigm", "--out", out, "--cache", cache
    )
    _assert_one_line_error(
        code, lines, "cached network", "is damaged", "delete the files peaks-*plain-*"
    )
    assert _text(out / "suite.csv") == before
