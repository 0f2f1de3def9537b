"""Fuzzing ``load_onnx`` with mutated ONNX files, and the defects the fuzzer found.

Every mutated file must load into the network onnxruntime computes, or fail with a package
error that names what is wrong: never a crash, a hang, a bare Python exception or a
different network.  The budget here is small; ``python -m tests.fuzz.harness --boundary onnx
--cases 2000`` runs a larger one.
"""

from __future__ import annotations

import copy
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

pytest.importorskip("onnxruntime")

import pyomo_relu as pr
from pyomo_relu.errors import InvalidNetworkError, ReluError, UnsupportedOperatorError
from tests.fuzz import harness
from tests.fuzz.onnx_cases import HUGE, PEAKS, onnx_cases


def test_mutated_files_load_correctly_or_fail_with_a_clear_error():
    cases = [("onnx", name, data) for name, data in onnx_cases(150, seed=11)]
    report = harness.run_cases(cases, timeout=30)
    counts = report.counts()
    assert not report.bad(), report.format()
    assert sum(counts.values()) == 150
    # the cases reach both ends: files that load (and match onnxruntime) and files refused
    assert counts[harness.OK] > 0 and counts[harness.CLEAR] > 100


def _peaks():
    return onnx.load(PEAKS)


def test_two_initializers_with_one_name_are_refused():
    """The second one won, onnxruntime uses the first: a different network, silently."""
    model = _peaks()
    dup = copy.deepcopy(model.graph.initializer[2])
    dup.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(dup) * 2, dup.name))
    model.graph.initializer.append(dup)
    with pytest.raises(InvalidNetworkError, match="tensor 'layer1.weight' is defined twice"):
        pr.load_onnx(model)


def test_a_node_writing_a_taken_name_is_refused():
    model = _peaks()
    model.graph.node[3].output[0] = "layer0.a"
    with pytest.raises(InvalidNetworkError, match="'layer0.a' is defined twice, by node"):
        pr.load_onnx(model)


def test_complex_weights_are_refused_instead_of_losing_their_imaginary_part():
    model = _peaks()
    w = numpy_helper.to_array(model.graph.initializer[0]).astype(np.complex64)
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w, "layer0.weight"))
    with pytest.raises(UnsupportedOperatorError, match="dtype complex64, expected real numbers"):
        pr.load_onnx(model)


@pytest.mark.parametrize("op", ["ConstantOfShape", "Expand", "Tile", "Range"])
def test_constant_nodes_declaring_huge_tensors_are_refused_before_allocating(op):
    model = _peaks()
    g = model.graph
    shape = numpy_helper.from_array(np.array([HUGE, 1], dtype=np.int64), "shape")
    one = numpy_helper.from_array(np.ones((1, 1), dtype=np.float64), "one")
    scalars = [
        numpy_helper.from_array(np.array(v, dtype=np.int64), n)
        for n, v in (("start", 0), ("stop", HUGE), ("step", 1))
    ]
    g.initializer.extend([shape, one, *scalars])
    inputs = {"ConstantOfShape": ["shape"], "Range": ["start", "stop", "step"]}
    g.node.insert(0, helper.make_node(op, inputs.get(op, ["one", "shape"]), ["big"]))
    g.node.insert(1, helper.make_node("Identity", ["big"], ["big2"]))
    start = time.perf_counter()
    with pytest.raises(UnsupportedOperatorError, match="more than 100,000,000"):
        pr.load_onnx(model)
    assert time.perf_counter() - start < 10  # refused, not computed


def test_a_huge_declared_input_axis_is_refused_before_allocating():
    """[N, 10**12, 2] @ W made an identity of 10**12 rows for the block-diagonal layer."""
    model = _peaks()
    dims = model.graph.input[0].type.tensor_type.shape.dim
    dims[1].dim_value = HUGE
    dims.add().dim_value = 2
    model.graph.node[0].op_type = "MatMul"
    del model.graph.node[0].attribute[:]
    del model.graph.node[0].input[2:]
    w = numpy_helper.to_array(model.graph.initializer[0])
    model.graph.initializer[0].CopyFrom(numpy_helper.from_array(w.T.copy(), "layer0.weight"))
    with pytest.raises(UnsupportedOperatorError, match="more than 100,000,000 weights"):
        pr.load_onnx(model)
    model = _peaks()
    model.graph.input[0].type.tensor_type.shape.dim[1].dim_value = HUGE
    model.graph.node.insert(0, helper.make_node("Relu", ["input"], ["r"]))
    model.graph.node[1].input[0] = "r"
    with pytest.raises(UnsupportedOperatorError, match="identity layer of"):
        pr.load_onnx(model)


def test_a_shape_lie_says_that_the_data_do_not_match_the_dims():
    """The message used to suggest external data files, which the model does not have."""
    model = _peaks()
    t = model.graph.initializer[1]
    t.dims[0] = 26
    with pytest.raises(InvalidNetworkError) as info:
        pr.load_onnx(model)
    message = str(info.value)
    assert "'layer0.bias'" in message and "declared dims [26] do not match" in message
    assert "external data" not in message


@pytest.mark.parametrize(
    "change, expected",
    [
        (lambda g: g.node[2].input.__setitem__(0, "output"), "which no earlier node"),
        (lambda g: g.node[2].input.__setitem__(0, "nowhere"), "'nowhere'"),
        (lambda g: g.node[2].input.__setitem__(0, "layer0.z"), "'layer0.a' of node"),
    ],
    ids=["cycle", "missing", "branch"],
)
def test_a_broken_chain_names_the_node_and_the_tensor_it_reads(change, expected):
    """The message said ``tensor 'layer1.a' feeds None`` for a tensor that no node computes;
    a bypassed node (its output read by nothing) is a dead branch, refused."""
    model = _peaks()
    change(model.graph)
    with pytest.raises(UnsupportedOperatorError, match="topological order|dead branch") as info:
        pr.load_onnx(model)
    assert expected in str(info.value) and "(op_type" in str(info.value)
    assert "None" not in str(info.value)


def test_a_node_that_lost_its_data_input_says_so():
    model = _peaks()
    del model.graph.node[1].input[0]  # a Relu without input
    with pytest.raises(UnsupportedOperatorError, match="reads only constants") as info:
        pr.load_onnx(model)
    assert "not the data tensor 'layer0.z'" in str(info.value)


def test_every_error_of_the_fuzzer_is_a_package_error():
    """The classification itself: a bare exception is unclear, a named package error clear."""
    from tests.fuzz.checks import classify_error

    assert classify_error(KeyError("x"), "load_onnx")[0] == harness.UNCLEAR
    assert classify_error(ReluError("load_onnx: list index out of range"), "load_onnx")[0] == (
        harness.UNCLEAR
    )
    clear = InvalidNetworkError("load_onnx: tensor 'w' has NaN; fix the model file.")
    assert classify_error(clear, "load_onnx")[0] == harness.CLEAR


def test_the_harness_records_crashes_and_hangs_and_goes_on():
    """A worker killed by a segfault is a crash, one over its time limit a hang; the worker is
    restarted for the next case."""
    cases = [("selftest", k, k) for k in ("ok", "segfault", "ok", "hang", "ok")]
    report = harness.run_cases(cases, timeout=5)
    outcomes = [r.outcome for r in report.results]
    assert outcomes == [harness.OK, harness.CRASH, harness.OK, harness.HANG, harness.OK]
    assert "while running the segfault self-test" in report.results[1].detail


def test_load_onnx_of_a_float64_model_with_an_int_input_type_keeps_the_weights():
    """A lenient reading listed by the fuzzer: the declared input type does not change the
    network, which is the weights' function (onnxruntime refuses the mixed types)."""
    model = _peaks()
    model.graph.input[0].type.tensor_type.elem_type = TensorProto.INT64
    net = pr.load_onnx(model)
    ref = pr.load_onnx(PEAKS)
    x = np.random.default_rng(0).uniform(-3, 3, (20, 2))
    np.testing.assert_array_equal(net.forward(x), ref.forward(x))
