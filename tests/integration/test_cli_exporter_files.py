"""``pyomo-relu`` on files and arguments made the way users make them.

The networks come from ``torch.onnx.export`` (both exporters, custom modules with
normalization, batch norm, dropout, flatten, clamps), skl2onnx and hand-built
ONNX graphs.  Every optimum that ``solve`` reports is checked against
onnxruntime, i.e. against the file itself and not against our reading of it:
the network evaluated at the reported point must give the reported optimum, and
no sampled point of the box may beat it.  Every bad argument must end with exit
code 2 (or an argparse error) and exactly one line on stderr that names it.
"""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyomo_relu.cli import attach_signed_values, main
from pyomo_relu.io import load_onnx, save_onnx
from tests.conftest import random_network, requires_scip

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parents[2]


# -- helpers -----------------------------------------------------------------------------------
def run_cli(capsys, *argv):
    """``main(argv)`` in process: (exit code, stdout, stderr lines)."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def assert_one_line_error(code, out, err, command, *needles):
    assert code == 2, (out, err)
    assert len(err) == 1, err
    assert err[0].startswith(f"pyomo-relu {command}: error:"), err
    assert "Traceback" not in out
    for needle in needles:
        assert needle in err[0], (needle, err[0])


def parser_error(capsys, *argv):
    """The last stderr line of an argparse rejection (exit code 2)."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def strict_json(path):
    """Parse ``path`` as standard JSON: ``NaN``/``Infinity`` are not JSON and fail the test."""

    def refuse(token):
        raise AssertionError(f"{path.name} holds {token}, which is not JSON")

    return json.loads(path.read_text(), parse_constant=refuse)


def ort_forward(path, x):
    """The ONNX file evaluated by onnxruntime at the rows of ``x`` (2-D, one sample per row)."""
    sess = ort.InferenceSession(str(path))
    inp = sess.get_inputs()[0]
    dtype = np.float64 if "double" in inp.type else np.float32
    batch = inp.shape[0] if isinstance(inp.shape[0], int) and len(inp.shape) > 1 else 1
    shape = (
        [batch] + [d if isinstance(d, int) else -1 for d in inp.shape[1:]]
        if len(inp.shape) > 1
        else [-1]
    )
    rows = []
    for row in np.atleast_2d(x):  # one sample at a time, repeated: some files fix the batch size
        feed = np.tile(row.astype(dtype), (batch, 1)).reshape(shape)
        rows.append(sess.run(None, {inp.name: feed})[0].reshape(batch, -1)[0])
    return np.array(rows)


def f32(a, name):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def save_graph(path, nodes, inits, *, n_in=2, n_out=2, batch="N", meta=None, opset=15):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, n_in])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, n_out])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    if meta:
        helper.set_model_props(model, meta)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path


# -- the networks --------------------------------------------------------------------------------
RNG = np.random.default_rng(5)
W1, B1, W2, B2 = (
    RNG.normal(size=(2, 5)),
    RNG.normal(size=5),
    RNG.normal(size=(5, 2)),
    RNG.normal(size=2),
)


def _hand_built(folder):
    gemm = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z"]),
        helper.make_node("Relu", ["z"], ["a"]),
        helper.make_node("Gemm", ["a", "W2", "b2"], ["y"]),
    ]
    weights = [f32(W1, "W1"), f32(B1, "b1"), f32(W2, "W2"), f32(B2, "b2")]
    files = {
        "matmul_add": save_graph(
            folder / "matmul_add.onnx",
            [
                helper.make_node("MatMul", ["x", "W1"], ["h"]),
                helper.make_node("Add", ["h", "b1"], ["z"]),
                helper.make_node("Relu", ["z"], ["a"]),
                helper.make_node("MatMul", ["a", "W2"], ["h2"]),
                helper.make_node("Add", ["b2", "h2"], ["y"]),
            ],
            weights,
        ),  # bias first: Add commutes
        "gemm_transposed": save_graph(
            folder / "gemm_transposed.onnx",
            [
                helper.make_node("Gemm", ["x", "W1t", "b1"], ["z"], transB=1, alpha=2.0, beta=0.5),
                helper.make_node("Relu", ["z"], ["a"]),
                helper.make_node("Gemm", ["a", "W2", "b2"], ["y"]),
            ],
            [f32(W1.T / 2, "W1t"), f32(2 * B1, "b1"), f32(W2, "W2"), f32(B2, "b2")],
        ),
        "constant_nodes": save_graph(
            folder / "constant_nodes.onnx",
            [
                helper.make_node("Constant", [], ["W1"], value=f32(W1, "c1")),
                helper.make_node("Constant", [], ["b1"], value_floats=list(B1)),
                helper.make_node("Gemm", ["x", "W1", "b1"], ["z"]),
                helper.make_node("Relu", ["z"], ["a"]),
                helper.make_node("Constant", [], ["W2"], value=f32(W2, "c2")),
                helper.make_node("Gemm", ["a", "W2"], ["y"]),
            ],
            [],
            opset=13,
        ),
        "batch_of_one": save_graph(folder / "batch_of_one.onnx", gemm, weights, batch=1),
        "metadata": save_graph(
            folder / "metadata.onnx",
            gemm,
            weights,
            opset=18,
            meta={
                "pyomo_relu.input_names": '["temp", "pressure"]',
                "pyomo_relu.output_names": '["cost", "purity"]',
                "author": "someone",
                "training_run": "42",
            },
        ),
    }
    ext = folder / "external" / "ext.onnx"
    ext.parent.mkdir()
    onnx.save_model(
        onnx.load(str(files["metadata"])),
        str(ext),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="ext.weights",
        size_threshold=0,
    )
    files["external_data"] = ext
    return files


def _torch_exports(folder):
    torch = pytest.importorskip("torch")
    nn = torch.nn
    torch.manual_seed(0)

    class Normalized(nn.Module):
        """(x - mean) / std inside forward, batch norm, dropout, identity and a hardtanh cap."""

        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.tensor([0.5, -1.0, 2.0]))
            self.register_buffer("std", torch.tensor([2.0, 0.5, 3.0]))
            self.l1, self.bn, self.drop = nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Dropout(0.3)
            self.l2, self.l3, self.id = nn.Linear(8, 6), nn.Linear(6, 2), nn.Identity()
            self.bn.running_mean.uniform_(-1, 1)
            self.bn.running_var.uniform_(0.5, 2.0)

        def forward(self, x):
            x = (x - self.mean) / self.std
            x = self.drop(torch.relu(self.bn(self.l1(self.id(x)))))
            return self.l3(nn.functional.hardtanh(self.l2(x), 0.0, 1.5))

    class Clamped(nn.Module):
        def __init__(self):
            super().__init__()
            self.flat, self.l1, self.l2 = nn.Flatten(), nn.Linear(4, 5), nn.Linear(5, 3)

        def forward(self, x):  # x: (N, 2, 2)
            return self.l2(torch.clamp(self.l1(self.flat(x)), min=0.0, max=2.0))

    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body, self.a, self.b = nn.Linear(2, 5), nn.Linear(5, 1), nn.Linear(5, 1)

        def forward(self, x):
            h = torch.relu(self.body(x))
            return self.a(h), self.b(h)

    seq = nn.Sequential(
        nn.Linear(2, 6), nn.ReLU(), nn.Dropout(0.2), nn.Linear(6, 6), nn.ReLU6(), nn.Linear(6, 1)
    )
    files = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, model, shape, opset in (
            ("seq_opset13", seq, (1, 2), 13),
            ("seq_opset17", seq, (1, 2), 17),
            ("normalized_opset14", Normalized(), (1, 3), 14),
            ("clamped_flatten_opset16", Clamped(), (1, 2, 2), 16),
            ("two_heads", TwoHeads(), (1, 2), 15),
        ):
            model.eval()
            path = folder / f"{name}.onnx"
            torch.onnx.export(
                model,
                (torch.randn(*shape),),
                str(path),
                dynamo=False,
                opset_version=opset,
                input_names=["x"],
                dynamic_axes={"x": {0: "batch"}},
            )
            files[name] = path
        try:
            import onnxscript  # noqa: F401  (the dynamo exporter needs it)

            path = folder / "normalized_dynamo.onnx"
            torch.onnx.export(
                Normalized().eval(), (torch.randn(2, 3),), str(path), dynamo=True, verbose=False
            )
            files["normalized_dynamo"] = path
        except Exception:  # an exporter that cannot run here is not what this file tests
            pass
    return files


def _sklearn(folder):
    pytest.importorskip("skl2onnx")
    from skl2onnx import to_onnx
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (150, 2))
    y = np.sin(3 * x).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings of a short fit
        mlp = MLPRegressor(hidden_layer_sizes=(8, 6), max_iter=200, random_state=0).fit(x, y)
        pipe = make_pipeline(
            StandardScaler(), MLPRegressor(hidden_layer_sizes=(8,), max_iter=200, random_state=0)
        ).fit(4 * x + 1, y)
    files = {
        "sklearn_mlp": folder / "sklearn_mlp.onnx",
        "sklearn_pipeline": folder / "sklearn_pipeline.onnx",
    }
    files["sklearn_mlp"].write_bytes(to_onnx(mlp, x[:1].astype(np.float32)).SerializeToString())
    files["sklearn_pipeline"].write_bytes(
        to_onnx(pipe, x[:1].astype(np.float32)).SerializeToString()
    )
    return files


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_files")
    out = _hand_built(folder)
    out.update(_sklearn(folder))
    out.update(_torch_exports(folder))
    return out


SOLVABLE = [
    "matmul_add",
    "gemm_transposed",
    "constant_nodes",
    "batch_of_one",
    "metadata",
    "external_data",
    "sklearn_mlp",
    "sklearn_pipeline",
    "seq_opset13",
    "seq_opset17",
    "normalized_opset14",
    "clamped_flatten_opset16",
    "normalized_dynamo",
]


# -- valid files: solve agrees with onnxruntime --------------------------------------------------
@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("name", SOLVABLE)
@pytest.mark.parametrize("sense", ["--minimize", "--maximize"])
def test_solve_optimum_is_the_files_own_value_and_beats_every_sample(
    files, tmp_path, capsys, name, sense
):
    if name not in files:
        pytest.skip(f"{name} could not be exported here")
    path = files[name]
    net = load_onnx(path)
    lb, ub = -np.linspace(1.0, 2.0, net.n_inputs), np.linspace(0.5, 1.5, net.n_inputs)
    out = tmp_path / "r.json"
    code, text, err = run_cli(
        capsys,
        "solve",
        path,
        sense,
        net.n_outputs - 1,
        "--lb=" + ",".join(map(str, lb)),
        "--ub",
        ",".join(map(str, ub)),
        "--quiet",
        "--json",
        out,
    )
    assert code == 0 and err == [], err
    res = strict_json(out)
    assert res["status"] == "optimal" and res["forward_check"] == "passed"
    x = np.array(list(res["inputs"].values()))
    assert np.all(x >= lb - 1e-7) and np.all(x <= ub + 1e-7)
    j = res["output_index"]
    # the file itself (onnxruntime, float32) gives the reported optimum at the reported point
    assert ort_forward(path, x)[0, j] == pytest.approx(res["objective"], rel=1e-4, abs=1e-4)
    assert res["forward_value"] == pytest.approx(res["objective"], abs=1e-6)
    # a global optimum: no point of the box does better (beyond float32 rounding)
    samples = np.vstack([lb, ub, RNG.uniform(lb, ub, size=(300, net.n_inputs))])
    values = ort_forward(path, samples)[:, j]
    if sense == "--minimize":
        assert res["objective"] <= values.min() + 1e-4
    else:
        assert res["objective"] >= values.max() - 1e-4
    assert (
        f"{'argmin' if sense == '--minimize' else 'argmax'}:" in text
        and "result written to" in text
    )


@pytest.mark.solver
@requires_scip
def test_names_stored_in_the_metadata_are_used(files, capsys):
    code, out, err = run_cli(
        capsys,
        "solve",
        files["metadata"],
        "--maximize",
        "purity",
        "--lb=-1",
        "--ub",
        "1",
        "--quiet",
    )
    assert code == 0 and err == []
    assert "maximum of 'purity'" in out and "temp = " in out and "pressure = " in out


def test_unusable_metadata_names_fall_back_to_defaults(tmp_path):
    gemm = [
        helper.make_node("Gemm", ["x", "W1", "b1"], ["z"]),
        helper.make_node("Relu", ["z"], ["a"]),
        helper.make_node("Gemm", ["a", "W2", "b2"], ["y"]),
    ]
    weights = [f32(W1, "W1"), f32(B1, "b1"), f32(W2, "W2"), f32(B2, "b2")]
    for inputs, outputs in (
        ('["a", "a"]', "[1, 2]"),
        ('["p", ""]', '["", "q"]'),
        ('"ab"', '{"y": 1}'),
    ):
        path = save_graph(
            tmp_path / "meta.onnx",
            gemm,
            weights,
            meta={"pyomo_relu.input_names": inputs, "pyomo_relu.output_names": outputs},
        )
        net = load_onnx(path)
        assert net.input_names == ("x0", "x1") and net.output_names == ("y0", "y1")


def test_analyze_reads_every_exporter_and_writes_strict_json(files, tmp_path, capsys):
    for name in SOLVABLE:
        if name not in files:
            continue
        net = load_onnx(files[name])
        out = tmp_path / f"{name}.json"
        code, text, err = run_cli(
            capsys,
            "analyze",
            files[name],
            "--lb=-1",
            "--ub",
            "1",
            "--regions",
            "sample",
            "--samples",
            "500",
            "--json",
            out,
        )
        assert code == 0 and err == [], (name, err)
        report = strict_json(out)
        assert report["layer_sizes"] == list(net.layer_sizes)
        assert text.rstrip().endswith(f"report written to {out}")


# -- graphs the command must refuse in one line ------------------------------------------------
@pytest.mark.parametrize("command", ["solve", "analyze"])
def test_a_module_with_two_outputs_is_one_line(files, capsys, command):
    extra = ["--minimize", "0"] if command == "solve" else []
    code, out, err = run_cli(capsys, command, files["two_heads"], *extra, "--lb", "0", "--ub", "1")
    assert_one_line_error(code, out, err, command, "2 outputs", "expected exactly one")


def test_external_data_left_behind_names_the_missing_file(files, tmp_path, capsys):
    moved = tmp_path / "moved.onnx"
    moved.write_bytes(files["external_data"].read_bytes())
    code, out, err = run_cli(capsys, "solve", moved, "--minimize", "0", "--lb", "0", "--ub", "1")
    assert_one_line_error(
        code, out, err, "solve", "'ext.weights'", str(tmp_path), "copy them next to the model"
    )
    (tmp_path / "ext.weights").write_bytes(b"\0" * 8)  # a truncated copy
    code, out, err = run_cli(capsys, "analyze", moved, "--lb", "0", "--ub", "1")
    assert_one_line_error(
        code, out, err, "analyze", "external data", "ext.weights", "cannot be read"
    )


def test_a_torch_checkpoint_or_a_csv_is_not_onnx(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    ckpt = tmp_path / "model.pt"
    torch.save({"weight": torch.zeros(2, 2)}, ckpt)
    code, out, err = run_cli(capsys, "solve", ckpt, "--minimize", "0", "--lb", "0", "--ub", "1")
    assert_one_line_error(
        code, out, err, "solve", "not a readable ONNX model", "torch.save", "torch.onnx.export"
    )
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n1,2,3\n")
    code, out, err = run_cli(capsys, "analyze", data, "--lb", "0", "--ub", "1")
    assert_one_line_error(
        code,
        out,
        err,
        "analyze",
        "'" + str(data) + "'",
        "not a readable ONNX model",
        "torch.onnx.export",
    )


@pytest.mark.parametrize("command", ["solve", "analyze"])
def test_an_unreadable_network_file(files, monkeypatch, capsys, command):
    target = files["matmul_add"]
    real_open = Path.open

    def deny(self, *args, **kwargs):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", deny)  # chmod 000 does not stop root, so fake it
    extra = ["--minimize", "0"] if command == "solve" else []
    code, out, err = run_cli(capsys, command, target, *extra, "--lb", "0", "--ub", "1")
    assert_one_line_error(code, out, err, command, "cannot be read (permission denied)", "chmod +r")
    assert out == ""


@pytest.mark.solver
@requires_scip
def test_regions_beyond_two_inputs_prints_one_line_and_no_pyomo_log(files, capsys):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger(
        "pyomo.core"
    )  # Pyomo's own handler writes to the real stdout, past capsys
    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    try:
        code, out, err = run_cli(
            capsys,
            "solve",
            files["normalized_opset14"],
            "--minimize",
            "0",
            "--lb=-1",
            "--ub",
            "1",
            "--formulation",
            "regions",
            "--quiet",
        )
    finally:
        logger.removeHandler(handler)
    assert_one_line_error(code, out, err, "solve", "3 free inputs", "big-M")
    assert out == "" and not [r for r in records if "Constructing component" in r], records
    assert logger.filters == []  # the filter is gone again


# -- output paths ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "command, option, example",
    [
        ("solve", "--json", "result.json"),
        ("analyze", "--json", "report.json"),
        ("analyze", "--plot", "bounds.png"),
        ("analyze", "--regions-plot", "regions.png"),
    ],
)
def test_an_output_path_that_is_a_folder_fails_before_any_work(
    files, tmp_path, capsys, command, option, example
):
    extra = ["--minimize", "0"] if command == "solve" else []
    code, out, err = run_cli(
        capsys, command, files["matmul_add"], *extra, "--lb", "0", "--ub", "1", option, tmp_path
    )
    assert_one_line_error(
        code, out, err, command, f"{option} '{tmp_path}' is a folder", str(tmp_path / example)
    )
    assert out == ""  # nothing was computed or printed


@pytest.mark.parametrize(
    "command, option", [("solve", "--json"), ("analyze", "--json"), ("analyze", "--plot")]
)
def test_an_output_path_that_is_the_network_is_refused(files, tmp_path, capsys, command, option):
    net = tmp_path / "net.onnx"
    net.write_bytes(files["matmul_add"].read_bytes())
    before = net.read_bytes()
    extra = ["--minimize", "0"] if command == "solve" else []
    code, out, err = run_cli(capsys, command, net, *extra, "--lb", "0", "--ub", "1", option, net)
    assert_one_line_error(code, out, err, command, "is the input file", "would be overwritten")
    assert net.read_bytes() == before


def test_train_refuses_to_overwrite_its_data_and_names_a_folder(tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("a,b,y\n" + "\n".join(f"{i},{i % 3},{i * 0.5}" for i in range(20)) + "\n")
    before = data.read_text()
    code, out, err = run_cli(capsys, "train", data, "--inputs", "a,b", "--outputs", "y", "-o", data)
    assert_one_line_error(code, out, err, "train", "is the data file", "another -o path")
    assert data.read_text() == before
    code, out, err = run_cli(
        capsys, "train", tmp_path, "--inputs", "a,b", "--outputs", "y", "-o", tmp_path / "net.onnx"
    )
    assert_one_line_error(code, out, err, "train", f"data file '{tmp_path}' is a folder")


@pytest.mark.solver
@requires_scip
def test_an_unwritable_json_path_is_one_line_naming_the_option(
    files, tmp_path, capsys, monkeypatch
):
    out_path = tmp_path / "r.json"
    real = Path.write_text

    def full_disk(self, *args, **kwargs):
        if self == out_path:
            raise OSError(28, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", full_disk)
    code, out, err = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--minimize",
        "0",
        "--lb",
        "0",
        "--ub",
        "1",
        "--quiet",
        "--json",
        out_path,
    )
    assert_one_line_error(
        code,
        out,
        err,
        "solve",
        f"--json '{out_path}' cannot be written",
        "No space left on device",
        "writable path",
    )


# -- JSON and pipes
# ---------------------------------------------------------------------------------
def _fake_outcome(monkeypatch, **fields):
    from pyomo_relu.cli import solve as solve_cmd
    from pyomo_relu.solving import Outcome

    base = {
        "status": "time_limit",
        "has_solution": False,
        "objective": None,
        "bound": float("-inf"),
        "gap": float("inf"),
        "seconds": 0.5,
        "nodes": 0,
    }
    monkeypatch.setattr(solve_cmd, "solve_model", lambda m, **kw: Outcome(**{**base, **fields}))


def test_json_of_a_time_limit_without_solution_is_standard_json(
    files, tmp_path, capsys, monkeypatch
):
    _fake_outcome(monkeypatch)
    out = tmp_path / "r.json"
    code, text, err = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--minimize",
        "0",
        "--lb",
        "0",
        "--ub",
        "1",
        "--quiet",
        "--json",
        out,
    )
    assert code == 0 and err == []
    res = strict_json(out)
    assert res["status"] == "time_limit" and res["bound"] is None and res["gap"] is None
    assert "bound:         -inf" in text and "no feasible solution found" in text


def test_a_closed_pipe_does_not_lose_the_json_file(files, tmp_path, capsys, monkeypatch):
    from pyomo_relu.cli import analyze as analyze_cmd
    from pyomo_relu.cli import solve as solve_cmd

    def closed(*args, **kwargs):
        raise BrokenPipeError(32, "Broken pipe")

    _fake_outcome(monkeypatch)
    monkeypatch.setattr(solve_cmd, "_print", closed)
    monkeypatch.setattr(analyze_cmd, "_print", closed)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # main closes stderr after a broken pipe
    for command, extra in (("solve", ["--minimize", "0"]), ("analyze", [])):
        out = tmp_path / f"{command}.json"
        assert (
            main(
                [
                    command,
                    str(files["matmul_add"]),
                    *extra,
                    "--lb",
                    "0",
                    "--ub",
                    "1",
                    "--json",
                    str(out),
                ]
            )
            == 0
        )
        assert strict_json(out)["network"] == str(files["matmul_add"])


# -- numerics: huge boxes
# ------------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["1e20", "1e30", "-1e300"])
def test_bounds_that_solvers_read_as_infinite_are_parser_errors(files, capsys, value):
    for command, extra in (("solve", ["--minimize", "0"]), ("analyze", [])):
        line = parser_error(
            capsys, command, files["matmul_add"], *extra, "--lb=-1", f"--ub={value}"
        )
        assert line.startswith(f"pyomo-relu {command}: error: argument --ub:")
        assert "infinite" in line and "finite range" in line


def test_a_solver_refusing_the_model_is_one_line_naming_the_box(files, capsys, monkeypatch):
    from pyomo_relu.cli import solve as solve_cmd

    def refuse(m, **kwargs):
        raise Exception("SCIP: error in LP solver!")  # what pyscipopt raises

    monkeypatch.setattr(solve_cmd, "solve_model", refuse)
    code, out, err = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--minimize",
        "0",
        "--lb=-1e15",
        "--ub",
        "1e15",
        "--quiet",
    )
    assert_one_line_error(code, out, err, "solve", "SCIP: error in LP solver!", "--lb/--ub", "e+15")

    def bug(m, **kwargs):
        raise Exception("something else")

    monkeypatch.setattr(solve_cmd, "solve_model", bug)  # other failures are not dressed up
    with pytest.raises(Exception, match="something else"):
        main(
            [
                "solve",
                str(files["matmul_add"]),
                "--minimize",
                "0",
                "--lb",
                "0",
                "--ub",
                "1",
                "--quiet",
            ]
        )


@pytest.mark.solver
@requires_scip
def test_a_wrong_mip_answer_is_flagged_and_exits_1(files, tmp_path, capsys, monkeypatch):
    from pyomo_relu.cli import solve as solve_cmd

    real = solve_cmd.solve_model

    def off_by_one(
        m, **kwargs
    ):  # a solver whose tolerances broke: outputs no longer match the inputs
        outcome = real(m, **kwargs)
        m.nn.outputs[0].value += 1.0
        return outcome

    monkeypatch.setattr(solve_cmd, "solve_model", off_by_one)
    out = tmp_path / "r.json"
    code, text, err = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--minimize",
        "0",
        "--lb",
        "0",
        "--ub",
        "1",
        "--quiet",
        "--json",
        out,
    )
    assert code == 1 and len(err) == 1
    assert (
        err[0].startswith("pyomo-relu solve: warning:")
        and "not trustworthy" in err[0]
        and "--lb/--ub" in err[0]
    )
    assert "FAILED" in text and strict_json(out)["forward_check"] == "failed"


@pytest.mark.solver
@requires_scip
@pytest.mark.parametrize("solver", ["scip_direct", "appsi_highs"])
def test_huge_boxes_never_give_a_traceback_or_an_unchecked_optimum(files, tmp_path, solver):
    """Whatever the solver does with neuron bounds of 1e15, the command says so or is right."""
    out = tmp_path / "r.json"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyomo_relu",
            "solve",
            str(files["matmul_add"]),
            "--minimize",
            "0",
            "--lb=-1e15",
            "--ub=1e15",
            "--quiet",
            "--solver",
            solver,
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert "Traceback" not in proc.stderr + proc.stdout
    if proc.returncode == 0:
        res = strict_json(out)
        assert res["forward_check"] == "passed"
        assert abs(res["forward_value"] - res["objective"]) <= 1e-4 * max(
            1.0, abs(res["forward_value"])
        )
    else:
        ours = [line for line in proc.stderr.splitlines() if line.startswith("pyomo-relu solve:")]
        assert len(ours) == 1 and "--lb/--ub" in ours[0], proc.stderr


# -- argument spelling
# ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--lb", "-3,-2", "--ub", "3"], ["--lb=-3,-2", "--ub", "3"]),
        (["--lb", "-1e-3", "--ub", "-0.5"], ["--lb=-1e-3", "--ub=-0.5"]),
        (["--lb", "--ub", "1"], ["--lb", "--ub", "1"]),  # a missing value stays missing
        (["--lb", "-x"], ["--lb", "-x"]),
        (["--", "--lb", "-3,-2"], ["--", "--lb", "-3,-2"]),
        (["--lb"], ["--lb"]),
    ],
)
def test_attach_signed_values(argv, expected):
    assert attach_signed_values(argv) == expected


@given(
    st.lists(
        st.sampled_from(
            [
                "--lb",
                "--ub",
                "--minimize",
                "-3",
                "-3,-2",
                "-1e-3",
                "1",
                "-x",
                "--",
                "net.onnx",
                "--lb=-1",
                "-",
            ]
        ),
        max_size=8,
    )
)
def test_attach_signed_values_only_joins_an_option_with_its_numbers(argv):
    joined = attach_signed_values(argv)
    assert attach_signed_values(joined) == joined  # idempotent
    i = 0  # walk both: every token is kept, or joined with the next one as --lb=VALUE
    for token in joined:
        if token == argv[i]:
            i += 1
        else:
            assert argv[i] in ("--lb", "--ub") and token == f"{argv[i]}={argv[i + 1]}"
            float(argv[i + 1].split(",")[0])
            i += 2
    assert i == len(argv)


@pytest.mark.solver
@requires_scip
def test_bounds_lists_starting_with_a_minus_sign_need_no_equals_sign(files, tmp_path, capsys):
    out = tmp_path / "r.json"
    code, _, err = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--maximize",
        "1",
        "--lb",
        "-1e-1,-2",
        "--ub",
        "-1e-2,-1",
        "--quiet",
        "--json",
        out,
    )
    assert code == 0 and err == []
    x = np.array(list(strict_json(out)["inputs"].values()))
    assert np.all(x >= [-0.1 - 1e-9, -2 - 1e-9]) and np.all(x <= [-0.01 + 1e-9, -1 + 1e-9])
    line = parser_error(capsys, "analyze", files["matmul_add"], "--lb", "--ub", "1")
    assert "argument --lb: expected one argument" in line


# -- interrupts
# ------------------------------------------------------------------------------------------
def test_ctrl_c_while_tightening_is_one_line_exit_130_and_no_file(
    files, tmp_path, capsys, monkeypatch
):
    from pyomo_relu.cli import solve as solve_cmd

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(solve_cmd, "tighten", interrupted)
    out = tmp_path / "r.json"
    code, _, err = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--minimize",
        "0",
        "--lb",
        "0",
        "--ub",
        "1",
        "--tighten",
        "lp",
        "--quiet",
        "--json",
        out,
    )
    assert code == 130 and err == ["pyomo-relu solve: interrupted"] and not out.exists()


def test_an_interrupted_solve_reports_its_best_point_and_exits_1(
    files, tmp_path, capsys, monkeypatch
):
    from pyomo_relu.cli import solve as solve_cmd

    real = solve_cmd.solve_model

    def interrupted(m, **kwargs):  # SCIP catches Ctrl-C itself and stops with its best solution
        outcome = real(m, **kwargs)
        outcome.status = "interrupted"
        return outcome

    monkeypatch.setattr(solve_cmd, "solve_model", interrupted)
    out = tmp_path / "r.json"
    code, text, _ = run_cli(
        capsys,
        "solve",
        files["matmul_add"],
        "--minimize",
        "0",
        "--lb",
        "0",
        "--ub",
        "1",
        "--quiet",
        "--json",
        out,
    )
    assert code == 1 and "status:        INTERRUPTED" in text
    res = strict_json(out)
    assert res["status"] == "interrupted" and res["forward_check"] == "passed"


# -- demo ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("grid", ["1", "0", "-5", "10002", "1e3"])
def test_demo_grid_outside_its_range_is_a_parser_error(capsys, grid):
    line = parser_error(capsys, "demo", "--grid", grid, "--formulation", "bigm")
    assert (
        line.startswith("pyomo-relu demo: error: argument --grid:") and "from 2 to 10,001" in line
    )


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(2, 60), lo=st.floats(-3, 0), width=st.floats(0.1, 3), seed=st.integers(0, 5))
def test_demo_grid_minimum_in_chunks_equals_the_whole_grid(n, lo, width, seed):
    from pyomo_relu.cli import demo

    net = random_network((2, 6, 6, 1), seed=seed)
    axis = np.linspace(lo, lo + width, n)
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    points = np.column_stack([xs.ravel(), ys.ravel()])
    values = net.forward(points)[:, 0]
    value, point = demo.grid_minimum(net, n, lo, lo + width)
    assert value == values.min() and np.array_equal(point, points[int(np.argmin(values))])


# -- generated networks end to end
# ----------------------------------------------------------------------------
@pytest.mark.solver
@requires_scip
@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    sizes=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    n_in=st.integers(1, 3),
    seed=st.integers(0, 99),
    formulation=st.sampled_from(["bigm", "scaled_bigm", "auto"]),
    tighten=st.sampled_from(["none", "lp"]),
)
def test_generated_networks_solve_to_their_forward_value(
    tmp_path_factory, capsys, sizes, n_in, seed, formulation, tighten
):
    folder = tmp_path_factory.mktemp("gen")
    net = random_network((n_in, *sizes, 2), seed=seed)
    path = folder / "net.onnx"
    save_onnx(net, path, dtype="float32")
    out = folder / "r.json"
    code, _, err = run_cli(
        capsys,
        "solve",
        path,
        "--maximize",
        "1",
        "--lb=-1",
        "--ub",
        "2",
        "--formulation",
        formulation,
        "--tighten",
        tighten,
        "--quiet",
        "--json",
        out,
    )
    assert code == 0 and err == []
    res = strict_json(out)
    x = np.array(list(res["inputs"].values()))
    assert ort_forward(path, x)[0, 1] == pytest.approx(res["objective"], rel=1e-5, abs=1e-5)
    samples = np.random.default_rng(seed).uniform(-1, 2, size=(200, n_in))
    assert res["objective"] >= load_onnx(path).forward(samples)[:, 1].max() - 1e-6


# -- warnings
# ------------------------------------------------------------------------------------------------
@pytest.mark.solver
def test_a_tightening_time_limit_warns_in_one_line(tmp_path):
    path = tmp_path / "wide.onnx"
    save_onnx(random_network((4, 40, 40, 1), seed=2), path)
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pyomo_relu",
            "analyze",
            str(path),
            "--lb=-1",
            "--ub",
            "1",
            "--tighten",
            "lp",
            "--tighten-time-limit",
            "1e-6",
            "--regions",
            "none",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "pyomo-relu analyze: warning: lp bounds: a time limit"
    ), lines
    assert "== lp bounds" in proc.stdout


# -- names and paths that are not what they should be
# -------------------------------------------------------
@pytest.mark.parametrize(
    "argv, option",
    [
        (
            ["solve", "NET", "--minimize", "0", "--lb", "0", "--ub", "1", "--formulation", "big_m"],
            "--formulation",
        ),
        (
            ["solve", "NET", "--minimize", "0", "--lb", "0", "--ub", "1", "--tighten", "obbt"],
            "--tighten",
        ),
        (
            ["solve", "NET", "--minimize", "0", "--lb", "0", "--ub", "1", "--solver", "gurobi"],
            "--solver",
        ),
        (["analyze", "NET", "--lb", "0", "--ub", "1", "--regions", "all"], "--regions"),
        (["demo", "--formulation", "regionz"], "--formulation"),
    ],
)
def test_unknown_names_list_the_valid_ones(files, capsys, argv, option):
    line = parser_error(capsys, *[files["matmul_add"] if a == "NET" else a for a in argv])
    assert line.startswith(f"pyomo-relu {argv[0]}: error: argument {option}: invalid choice:")
    assert "choose from" in line


@pytest.mark.skipif(not Path("/dev/null").exists(), reason="needs /dev/null")
def test_a_device_is_not_a_network_file(capsys):
    code, out, err = run_cli(
        capsys, "solve", "/dev/null", "--minimize", "0", "--lb", "0", "--ub", "1"
    )
    assert_one_line_error(code, out, err, "solve", "'/dev/null' is not a regular file", "ONNX file")


def test_two_outputs_of_analyze_on_one_file_are_refused_before_any_work(files, tmp_path, capsys):
    target = tmp_path / "out.png"
    code, out, err = run_cli(
        capsys,
        "analyze",
        files["matmul_add"],
        "--lb",
        "0",
        "--ub",
        "1",
        "--json",
        target,
        "--plot",
        tmp_path / "." / "out.png",
    )
    assert_one_line_error(code, out, err, "analyze", "--json and --plot both write", "its own file")
    assert out == "" and not target.exists()


def test_a_torch_export_without_its_weights_names_the_fix(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    path = tmp_path / "no_params.onnx"
    model = torch.nn.Sequential(
        torch.nn.Linear(2, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1)
    ).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 2),), str(path), dynamo=False, export_params=False)
    code, out, err = run_cli(capsys, "solve", path, "--minimize", "0", "--lb", "0", "--ub", "1")
    assert_one_line_error(
        code,
        out,
        err,
        "solve",
        "non-constant inputs",
        "are weights that the file does not hold",
        "export_params=True",
    )
