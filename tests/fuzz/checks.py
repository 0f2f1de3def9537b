"""What the fuzz worker does with one case, and how its outcome is classified.

Each runner is a generator of ``(outcome, detail, phase)`` messages; the last one decides
the outcome, the earlier ones say what the worker is doing (so a crash or a hang can be
attributed, e.g. to onnxruntime rather than to ``load_onnx``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tempfile
import traceback

import numpy as np

from tests.fuzz.harness import CLEAR, LOADED, OK, ORT_REJECTS, UNCLEAR, WRONG

#: message fragments of Python internals: a package error that only repeats them is unclear
_INTERNALS = re.compile(
    r"(list index out of range|object has no attribute|'NoneType'|KeyError|IndexError|"
    r"AttributeError|ZeroDivisionError|unhashable type|not subscriptable|Traceback)"
)


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    f = frames[-1]
    return f" (at {os.path.basename(f.filename)}:{f.lineno} in {f.name})"


def classify_error(exc: BaseException, prefix: str) -> tuple[str, str]:
    """``(CLEAR, message)`` for a package error whose message starts with ``prefix`` and names
    no Python internals, ``(UNCLEAR, type: message and where)`` otherwise."""
    from pyomo_relu.errors import ReluError

    text = f"{type(exc).__name__}: {exc}"
    if not isinstance(exc, ReluError):
        return UNCLEAR, text + _where(exc)
    message = str(exc)
    if not re.match(prefix, message) or _INTERNALS.search(message) or len(message) < 30:
        return UNCLEAR, text + _where(exc)
    return CLEAR, text


# ------------------------------------------------------------------------------------- ONNX
def run_onnx(data: bytes):
    """``load_onnx`` on the bytes; a network it returns is compared with onnxruntime's."""
    from pyomo_relu import load_onnx

    yield (UNCLEAR, "no result", "loading")
    try:
        net = load_onnx(data)
    except Exception as exc:  # every exception is classified, none stops the run
        yield (*classify_error(exc, "load_onnx"), "loading")
        return
    yield (LOADED, "", "checking the network with onnxruntime")
    yield (*compare_with_onnxruntime(data, net), "compared")


_ORT_TYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}


def _ort_input(inp, net, rng):
    """``(x for onnxruntime, the same points as float64 rows)``, or None when the declared
    shape cannot carry ``net.n_inputs`` features."""
    dtype = _ORT_TYPES.get(inp.type)
    if dtype is None:
        return None
    shape, n = list(inp.shape or []), net.n_inputs
    if not shape:  # no declared shape: a batch of rows, as load_onnx reads it
        shape = ["N", n]
    if len(shape) == 1:
        if shape[0] not in (n, None) and not isinstance(shape[0], str):
            return None
        x = rng.uniform(-2, 2, size=n).astype(dtype)
        return x, x.astype(np.float64)[None, :]
    if len(shape) < 2:
        return None
    batch = shape[0] if isinstance(shape[0], int) else 3
    feats = [d if isinstance(d, int) else None for d in shape[1:]]
    if None in feats:
        if len(feats) != 1:
            return None
        feats = [n]
    if int(np.prod(feats)) != n or batch <= 0:
        return None
    x = rng.uniform(-2, 2, size=(batch, *feats)).astype(dtype)
    return x, x.reshape(batch, n).astype(np.float64)


def compare_with_onnxruntime(data: bytes, net) -> tuple[str, str]:
    """``OK`` when onnxruntime computes the same outputs as ``net`` at random points,
    ``WRONG`` when it computes others, ``ORT_REJECTS`` when it refuses the model."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4
    options.intra_op_num_threads = 1
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        inp = session.get_inputs()[0]
    except Exception as exc:  # onnxruntime's own checks
        return ORT_REJECTS, f"session: {str(exc)[:300]}"
    feed = _ort_input(inp, net, np.random.default_rng(0))
    if feed is None:
        return ORT_REJECTS, f"no input of type {inp.type} and shape {inp.shape} for {net}"
    x, rows = feed
    try:
        y = np.asarray(session.run(None, {inp.name: x})[0], dtype=np.float64)
    except Exception as exc:
        return ORT_REJECTS, f"run: {str(exc)[:300]}"
    ours = net.forward(rows)
    if y.size != ours.size:
        return WRONG, f"onnxruntime gives {y.shape}, load_onnx {ours.shape}"
    y = y.reshape(ours.shape)
    scale = 1.0 + float(np.max(np.abs(ours[np.isfinite(ours)]), initial=0.0))
    tol = 1e-2 if x.dtype == np.float16 else 1e-4 if x.dtype == np.float32 else 1e-9
    if not np.allclose(y, ours, rtol=tol, atol=tol * scale, equal_nan=True):
        worst = float(np.nanmax(np.abs(y - ours)))
        return WRONG, f"outputs differ from onnxruntime's by {worst:.3g} (scale {scale:.3g})"
    return OK, f"{net}"


# -------------------------------------------------------------------------------------- CLI
def _make_files(folder: str, files: dict) -> None:
    for name, content in files.items():
        path = os.path.join(folder, name)
        if content == "DIR":
            os.makedirs(path, exist_ok=True)
        else:
            with open(path, "wb") as fh:
                fh.write(content)


def run_cli(payload):
    """``pyomo_relu.cli.main(argv)`` in a fresh folder holding the case's files."""
    from pyomo_relu.cli import main

    argv_template, files = payload
    yield (UNCLEAR, "no result", "running the command")
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as folder:
        _make_files(folder, files)
        argv = [token.replace("{tmp}", folder) for token in argv_template]
        out, err = io.StringIO(), io.StringIO()
        os.chdir(folder)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        except SystemExit as exc:
            code = exc.code
        except BaseException as exc:  # an exception escaping main is a bare traceback
            yield (UNCLEAR, f"{type(exc).__name__}: {exc}{_where(exc)}", "done")
            return
        finally:
            os.chdir(old)
    yield (*classify_exit(code, err.getvalue()), "done")


def classify_exit(code, stderr: str) -> tuple[str, str]:
    """Exit 0/1 (ran; 1: no solution) is ``OK``; 2 with one ``error:`` line is ``CLEAR``."""
    text = stderr.strip()
    if code in (0, 1, None):
        return OK, f"exit {code}"
    lines = [line for line in text.splitlines() if "error:" in line]
    if (
        code == 2
        and len(lines) == 1
        and "Traceback" not in text
        and not _INTERNALS.search(text)
        and len(lines[0].split("error:", 1)[1].strip()) >= 15
    ):
        return CLEAR, lines[0][:400]
    return UNCLEAR, f"exit {code}: {text[-600:]}"


# ------------------------------------------------------------------------------------ block
def run_block(spec: dict):
    """Build a ``ReluNetworkBlock`` from the case's spec (see :mod:`tests.fuzz.block_cases`)."""
    from tests.fuzz.block_cases import build_case, check_block

    yield (UNCLEAR, "no result", "setting up the model")
    import pyomo_relu as pr

    m, net, kwargs, expected_box = build_case(spec)
    index = kwargs.pop("_index", None)
    yield (UNCLEAR, "no result", "building the block")
    try:
        m.nn = pr.ReluNetworkBlock(*([] if index is None else [index]), **kwargs)
    except Exception as exc:
        # the block's name, or the option the message is about
        yield (*classify_error(exc, r"(nn\b|nn\[|unknown formulation|NeuronBounds)"), "built")
        return
    for block in m.nn.values():
        outcome = check_block(block, net, expected_box)
        if outcome[0] != OK:
            break
    yield (*outcome, "checked")


def run_selftest(kind: str):
    """Cases that check the harness itself: ``"segfault"``, ``"hang"`` or ``"ok"``."""
    yield (UNCLEAR, "no result", f"running the {kind} self-test")
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)  # reads address 0: SIGSEGV
    if kind == "hang":
        import time

        time.sleep(3600)
    yield (OK, "self-test", "done")


RUNNERS = {"onnx": run_onnx, "cli": run_cli, "block": run_block, "selftest": run_selftest}
