"""``pyomo-relu solve``: minimize or maximize one output of an ONNX ReLU network.

Builds ``min/max y_j`` over the input box ``lb <= x <= ub`` with a
:class:`~pyomo_relu.ReluNetworkBlock`, optionally tightens the neuron bounds
(``relu.tighten_bounds``), solves with SCIP (or HiGHS) and reports the
optimum, the optimal inputs, the solver status, gap and time, the forward-pass
check (the network evaluated at the optimal inputs) and the block summary::

    pyomo-relu solve peaks.onnx --minimize 0 --lb -3 --ub 3 --tighten lp

A time limit that is reached is not an error: the best solution found and the
proven bound are printed, the status says the limit was hit, exit code 0.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .._logs import dropping_log_records
from ..errors import SolverError, UnknownOptionError
from ..solving import SCIP_SETTINGS, SOLVERS, Outcome, get_solver, solve_model

HELP = "minimize or maximize one output of an ONNX ReLU network over an input box (SCIP)"

TIGHTEN = ("none", "lp", "milp")

#: SCIP and HiGHS read a bound of this size or more as infinite: users often write 1e20 or
#: 1e30 for "no bound", which the box cannot hold
SOLVER_INFINITY = 1e20

#: a MIP output may differ from the forward pass by at most this much (relative to the
#: output scale) before the reported optimum is called untrustworthy: SCIP meets its rows
#: to 1e-6, which after a few layers of weights stays far below it
FORWARD_RTOL = 1e-4


def _numbers(text: str) -> list[float]:
    """Argparse type of ``--lb``/``--ub``: one number or a comma-separated list."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            "expected a number or a comma-separated list of numbers (e.g. -3 or -3,0.5), found "
            f"{text!r}"
        ) from None
    if not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"bounds must be finite numbers, found {text!r}")
    huge = [v for v in values if abs(v) >= SOLVER_INFINITY]
    if huge:
        raise argparse.ArgumentTypeError(
            f"found {huge[0]:g} in {text!r}, which solvers read as infinite (|bound| >= "
            f"{SOLVER_INFINITY:g}); "
            "every input needs a finite range: give the range the network was trained on"
        )
    return values


def _positive(kind):
    def convert(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected a positive {kind.__name__}, found {text!r}"
            ) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, found {text!r}")
        return value

    convert.__name__ = f"positive {kind.__name__}"
    return convert


def seconds(text: str) -> float:
    """Argparse type of the time-limit options: a number of seconds > 0 (``inf``: no limit).

    The wording follows the package's time-limit options; 0 (stop at once) is
    refused here, where it could only be a mistake.
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, found {text!r}")
    return value


def add_solver_arguments(parser: argparse.ArgumentParser) -> None:
    """Solver options of ``solve``: time limit, workers, solver interface, quiet."""
    parser.add_argument(
        "--time-limit",
        type=seconds,
        default=None,
        metavar="S",
        help="SCIP time limit in seconds (default: none)",
    )
    parser.add_argument(
        "--workers",
        type=_positive(int),
        default=1,
        metavar="N",
        help="worker processes for bound tightening (default: 1)",
    )
    parser.add_argument(
        "--solver",
        choices=sorted(SOLVERS),
        default="scip_direct",
        help="MIP solver interface (default: scip_direct)",
    )
    parser.add_argument(
        "--scip-settings",
        choices=sorted(SCIP_SETTINGS),
        default="relu",
        help="SCIP parameter set: 'relu' turns cutting planes off, which is much faster on "
        "big-M models of ReLU networks; 'default' is SCIP's own (default: relu)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not show the solver log")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..formulations import formulation_names

    parser.add_argument("network", type=Path, metavar="NET.onnx", help="the trained network (ONNX)")
    sense = parser.add_mutually_exclusive_group(required=True)
    sense.add_argument("--minimize", metavar="OUTPUT", help="output to minimize (index or name)")
    sense.add_argument("--maximize", metavar="OUTPUT", help="output to maximize (index or name)")
    parser.add_argument(
        "--lb",
        type=_numbers,
        required=True,
        metavar="LB",
        help="input lower bounds: one number for all inputs or a comma-separated list "
        "(write --lb=-3,-2 when the list starts with a minus sign)",
    )
    parser.add_argument(
        "--ub", type=_numbers, required=True, metavar="UB", help="input upper bounds, like --lb"
    )
    parser.add_argument(
        "--formulation",
        choices=formulation_names(),
        default="bigm",
        help="MIP formulation of the ReLUs (default: bigm)",
    )
    parser.add_argument(
        "--tighten",
        choices=TIGHTEN,
        default="none",
        help="tighten the neuron bounds before solving (default: none)",
    )
    add_solver_arguments(parser)
    parser.add_argument(
        "--json",
        type=Path,
        default=None,
        metavar="OUT.json",
        help="also write the result as JSON (an infinite bound or gap is written as null)",
    )


# -- model -----------------------------------------------------------------------
def output_index(net, spec: str) -> int:
    """Index of the network output named or numbered ``spec``.

    A name wins over an index (an output may be called ``"1"``).

    Raises
    ------
    UnknownOptionError
        If ``spec`` is neither an output name nor an index ``0 .. n_outputs - 1``.
    """
    if spec in net.output_names:
        return net.output_names.index(spec)
    try:
        j = int(spec)
    except ValueError:
        j = None
    if j is not None and 0 <= j < net.n_outputs:
        return j
    raise UnknownOptionError(
        f"output {spec!r} is not an output of the network; it has {net.n_outputs} output(s): "
        f"give an index 0..{net.n_outputs - 1} or a name ({', '.join(net.output_names)})."
    )


def build_model(
    net, j: int, *, sense: str, lb, ub, formulation: str, workers: int = 1, progress: bool = False
):
    """The model ``min/max y_j`` subject to ``y = net(x)``, ``lb <= x <= ub``.

    Parameters
    ----------
    net : ReluNetwork
    j : int
        Index of the output to optimize.
    sense : {"min", "max"}
    lb, ub : float or array_like (n_inputs,)
        The input box (a scalar applies to every input).
    formulation : str
        A registered formulation name (``bigm``, ``tightened_bigm``, ``scaled_bigm``).
    workers, progress
        Passed to :class:`~pyomo_relu.ReluNetworkBlock` (used by formulations that tighten).

    Returns
    -------
    pyomo.environ.ConcreteModel
        With inputs ``m.x``, the network block ``m.nn`` and the objective ``m.obj``.

    Notes
    -----
    The box is validated first (``check_box``), so a bad box is reported as one
    package error before any Pyomo component is constructed.
    """
    import pyomo.environ as pyo

    from ..block import ReluNetworkBlock
    from ..bounds import check_box

    lb, ub = check_box(net, lb, ub, what="input box (--lb/--ub)")
    m = pyo.ConcreteModel(name="pyomo_relu_solve")
    m.x = pyo.Var(range(net.n_inputs), bounds=lambda _m, i: (float(lb[i]), float(ub[i])))
    # Pyomo logs "Constructing component ... failed" over several lines on stdout and then
    # re-raises the error, which the command prints as its one-line message
    with dropping_log_records(lambda record: str(record.msg).startswith("Constructing component")):
        m.nn = ReluNetworkBlock(
            network=net, inputs=m.x, formulation=formulation, workers=workers, progress=progress
        )
    m.obj = pyo.Objective(
        expr=m.nn.outputs[j], sense=pyo.minimize if sense == "min" else pyo.maximize
    )
    return m


def tighten(m, method: str, *, workers: int = 1, progress: bool = False) -> float:
    """Apply ``relu.tighten_bounds`` with ``method``; return its wall time in seconds."""
    if method == "none":
        return 0.0
    import pyomo.environ as pyo

    xf = pyo.TransformationFactory("relu.tighten_bounds")  # registered by importing pyomo_relu
    start = time.perf_counter()
    xf.apply_to(m, method=method, workers=workers, progress=progress)
    return time.perf_counter() - start


# -- the command -----------------------------------------------------------------
def check_network_file(path: Path) -> None:
    """FileNotFoundError with the fix, before any work, if ``path`` is not a file.

    What the file holds (empty, not ONNX, unsupported ops) is checked by ``load_onnx``.
    """
    if not path.is_file():
        what = (
            "is a directory"
            if path.is_dir()
            else "is not a regular file"
            if path.exists()
            else "not found"
        )
        raise FileNotFoundError(
            f"network file {str(path)!r} {what}; pass the path of an ONNX file."
        )
    try:
        with path.open("rb"):
            pass
    except PermissionError:
        raise PermissionError(
            f"network file {str(path)!r} cannot be read (permission denied); "
            "make it readable (chmod +r) or pass a copy you can read."
        ) from None


def check_output_path(
    path: Path | None, what: str, example: str = "result.json", *, source: Path | None = None
) -> None:
    """Fail before any work if an output file cannot be written at ``path``.

    Parameters
    ----------
    path : Path or None
        The output file (None: nothing to check).
    what : str
        The option, for the message.
    example : str
        A file name to suggest when ``path`` is a folder.
    source : Path, optional
        An input file of the command, which the output must not overwrite.

    Raises
    ------
    FileExistsError
        If ``path`` is the input file ``source``.
    IsADirectoryError
        If ``path`` is an existing folder.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    """
    if path is None:
        return
    if source is not None and path.is_file() and source.is_file() and path.samefile(source):
        raise FileExistsError(
            f"{what} {str(path)!r} is the input file {str(source)!r}, which would be overwritten; "
            "pass another output path."
        )
    if path.is_dir():
        raise IsADirectoryError(
            f"{what} {str(path)!r} is a folder; pass a file name such as {str(path / example)!r}."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"{what} {str(path)!r}: the folder {str(path.parent)!r} does not exist; create it "
            "or choose another path."
        )


def _json_safe(value):
    """``value`` with every NaN or infinite float replaced by None.

    ``json.dumps`` writes them as ``NaN``/``Infinity``, which is not JSON: strict
    readers (``JSON.parse``, ``jq``, most other languages) reject the whole file.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: Path, report: dict, what: str = "--json") -> None:
    """Write ``report`` as standard JSON (non-finite numbers as null).

    Raises
    ------
    OSError
        With the option and the fix named, if the file cannot be written.
    """
    text = json.dumps(_json_safe(report), indent=2, allow_nan=False) + "\n"
    try:
        path.write_text(text)
    except OSError as exc:
        raise type(exc)(
            f"{what} {str(path)!r} cannot be written ({exc.strerror or exc}); pass a writable path."
        ) from None


def run(args: argparse.Namespace) -> int:
    from ..io import load_onnx

    check_network_file(args.network)
    check_output_path(args.json, "--json", source=args.network)
    net = load_onnx(args.network)
    sense, spec = ("min", args.minimize) if args.minimize is not None else ("max", args.maximize)
    j = output_index(net, spec)
    lb, ub = _box(args.lb), _box(args.ub)
    get_solver(args.solver)  # fail before any work if the solver is missing
    progress = not args.quiet
    m = build_model(
        net,
        j,
        sense=sense,
        lb=lb,
        ub=ub,
        formulation=args.formulation,
        workers=args.workers,
        progress=progress,
    )
    t_tight = tighten(m, args.tighten, workers=args.workers, progress=progress)
    out = _solve(m, args, progress)
    report = _report(net, m, j, sense, out, args, t_tight)
    if args.json is not None:  # before printing: a closed pipe (``| head``) must not lose the file
        write_json(args.json, report)
    _print(report)
    if args.json is not None:
        print(f"result written to {args.json}")
    if report.get("forward_check") == "failed":
        print(
            "pyomo-relu solve: warning: the MIP outputs differ from the network's forward pass "
            "at the "
            f"reported point by {report['prediction_error']:.3g}, so the reported {sense}imum is "
            "not "
            f"trustworthy: the solver's tolerances do not hold on this model (neuron bounds up to "
            f"{_bound_scale(m):.3g}); shrink the box --lb/--ub to the range the network was "
            "trained on.",
            file=sys.stderr,
        )
        return 1
    return 0 if out.status in ("optimal", "time_limit") else 1


def _bound_scale(m) -> float:
    """The largest magnitude of an input or neuron bound of the block ``m.nn``."""
    b = m.nn.bounds
    return float(max(np.max(np.abs(a)) for a in [b.input_lb, b.input_ub, *b.lower, *b.upper]))


def _solve(m, args, progress: bool) -> Outcome:
    """:func:`solve_model`, with SCIP's refusal of a numerically hopeless model as one error line.

    pyscipopt raises a bare ``Exception("SCIP: error in ...")`` when SCIP cannot
    take the model, e.g. big-M coefficients of 1e15 and more from a huge input box.
    """
    try:
        return solve_model(
            m,
            solver=args.solver,
            time_limit=args.time_limit,
            tee=progress,
            settings=args.scip_settings,
        )
    except Exception as exc:
        if type(exc) is not Exception or not str(exc).startswith("SCIP"):
            raise
        raise SolverError(
            f"{args.solver} failed on the model ({exc}); the input box --lb/--ub gives neuron "
            "bounds up to "
            f"{_bound_scale(m):.3g}, too large for the solver's numerics: shrink the box to the "
            "range "
            "the network was trained on."
        ) from None


def _box(values: list[float]):
    return values[0] if len(values) == 1 else np.asarray(values, dtype=float)


def _report(net, m, j, sense, out: Outcome, args, t_tight: float) -> dict:
    report = {
        "network": str(args.network),
        "output": net.output_names[j],
        "output_index": j,
        "sense": sense,
        "formulation": args.formulation,
        "tighten": args.tighten,
        "solver": args.solver,
        "time_limit": args.time_limit,
        **asdict(out),
        "tighten_seconds": round(t_tight, 4),
    }
    if out.has_solution:
        x = m.nn.input_values()
        report["inputs"] = dict(zip(net.input_names, x.tolist()))
        report["outputs"] = dict(zip(net.output_names, m.nn.output_values().tolist()))
        forward = net.forward(x)
        report["forward_value"] = float(forward[j])
        report["prediction_error"] = m.nn.prediction_error()
        scale = max(1.0, float(np.max(np.abs(forward))))
        report["forward_check"] = (
            "passed" if report["prediction_error"] <= FORWARD_RTOL * scale else "failed"
        )
    report["summary"] = m.nn.summary()
    return report


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)


def _print(r: dict) -> None:
    word = "minimum" if r["sense"] == "min" else "maximum"
    status = {
        "optimal": "optimal",
        "time_limit": "TIME LIMIT REACHED (best solution found, not proven optimal)"
        if r["has_solution"]
        else "TIME LIMIT REACHED (no feasible solution found yet)",
    }
    print(f"\nstatus:        {status.get(r['status'], r['status'].upper())}")
    if r["has_solution"]:
        print(f"{word} of {r['output']!r}: {r['objective']:.10g}")
    else:
        print(f"{word} of {r['output']!r}: no feasible solution found")
    gap = "-" if r["gap"] is None else "inf" if math.isinf(r["gap"]) else f"{100 * r['gap']:.4g} %"
    bound = "-" if r["bound"] is None else f"{r['bound']:.10g}"
    print(f"bound:         {bound}    gap: {gap}")
    print(
        f"solver time:   {r['seconds']:.3f} s ({r['solver']}, nodes {_fmt(r['nodes'])}); "
        f"tightening {r['tighten_seconds']:.3f} s"
    )
    if r["has_solution"]:
        arg = "argmin" if r["sense"] == "min" else "argmax"
        print(f"{arg}:        " + ", ".join(f"{k} = {v:.6g}" for k, v in r["inputs"].items()))
        failed = "  FAILED (see the warning below)" if r["forward_check"] == "failed" else ""
        print(
            f"forward check: network({arg}) = {r['forward_value']:.10g}, "
            f"max |forward - MIP outputs| = {r['prediction_error']:.3g}{failed}"
        )
    print("block summary:")
    for key, value in r["summary"].items():
        print(f"  {key:<16} {_fmt(value)}")
