"""``pyomo-relu analyze``: indicators of how hard a network is to optimize over.

Loads an ONNX ReLU network, computes interval bounds over the input box (and
LP- or MILP-tightened bounds with ``--tighten``), and reports per layer the
share of stable neurons, the big-M statistics and the number of binaries, plus
the number of linear regions on the box::

    pyomo-relu analyze peaks.onnx --lb -3 --ub 3 --tighten lp --json out.json --plot bounds.png

No solver for MIPs is needed: LP tightening and exact region counting in more
than two dimensions use HiGHS (``highspy``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from .solve import _numbers, _positive, check_network_file, check_output_path, seconds, write_json

HELP = "report stable neurons, big-M values and linear regions of an ONNX ReLU network"
TIGHTEN = ("none", "lp", "milp")
REGIONS = ("auto", "exact", "sample", "grid", "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("network", type=Path, metavar="NET.onnx", help="the trained network (ONNX)")
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
        "--tighten",
        choices=TIGHTEN,
        default="none",
        help="also report LP- or MILP-tightened bounds (default: none, interval bounds only)",
    )
    parser.add_argument(
        "--workers",
        type=_positive(int),
        default=1,
        metavar="N",
        help="worker processes for bound tightening (default: 1)",
    )
    parser.add_argument(
        "--tighten-time-limit",
        type=seconds,
        default=None,
        metavar="S",
        help="time limit of the tightening in seconds (default: none)",
    )
    parser.add_argument(
        "--regions",
        choices=REGIONS,
        default="auto",
        help="how to count linear regions (default: auto = exact for <= 2 inputs or small "
        "networks, sampled otherwise; none: skip)",
    )
    parser.add_argument(
        "--samples",
        type=_positive(int),
        default=100_000,
        metavar="N",
        help="points for sampled region counts (default: 100000)",
    )
    parser.add_argument(
        "--regions-time-limit",
        type=seconds,
        default=60.0,
        metavar="S",
        help="time limit of the exact region count in seconds (default: 60)",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the sampled region count (default: 0)"
    )
    parser.add_argument(
        "--json", type=Path, default=None, metavar="OUT.json", help="write the report as JSON"
    )
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="OUT.png",
        help="plot bound widths and stable shares per layer (tightest bounds)",
    )
    parser.add_argument(
        "--regions-plot",
        type=Path,
        default=None,
        metavar="OUT.png",
        help="draw the linear regions (networks with one or two free inputs)",
    )


def _tightened(method: str, net, lb, ub, prior, args):
    """LP or MILP bounds, starting from ``prior`` (never looser)."""
    if method == "lp":
        from ..bounds.lp import lp_bounds as tighten
    else:
        from ..bounds.milp import milp_bounds as tighten
    return tighten(
        net, lb, ub, prior=prior, workers=args.workers, time_limit=args.tighten_time_limit
    )


def _bounds_section(bounds, seconds: float) -> dict:
    from ..analysis import big_m_report, stable_fraction

    return {
        "seconds": round(seconds, 4),
        "stable": stable_fraction(bounds),
        "big_m": big_m_report(bounds),
    }


def run(args: argparse.Namespace) -> int:
    from ..analysis import count_linear_regions
    from ..bounds import check_box, interval_bounds
    from ..io import load_onnx

    check_network_file(args.network)
    _check_outputs(args)
    net = load_onnx(args.network)
    lb, ub = check_box(net, _box(args.lb), _box(args.ub), what="input box (--lb/--ub)")
    if args.regions_plot is not None and int(np.sum(ub > lb)) not in (1, 2):
        from ..errors import ShapeMismatchError

        raise ShapeMismatchError(
            f"--regions-plot draws networks with 1 or 2 free inputs; the box has "
            f"{int(np.sum(ub > lb))} (fix inputs with equal --lb and --ub, or drop the option)."
        )
    start = time.perf_counter()
    bounds = interval_bounds(net, lb, ub)
    sections = {"interval": _bounds_section(bounds, time.perf_counter() - start)}
    if args.tighten != "none":
        start = time.perf_counter()
        bounds = _tightened(args.tighten, net, lb, ub, bounds, args)
        sections[args.tighten] = _bounds_section(bounds, time.perf_counter() - start)
    regions = None
    if args.regions != "none":
        regions = count_linear_regions(
            net,
            lb,
            ub,
            method=args.regions,
            n_samples=args.samples,
            time_limit=args.regions_time_limit,
            seed=args.seed,
            bounds=bounds,
        )
    report = _report(net, args, lb, ub, sections, regions)
    # files first: a closed pipe (``| head``) while printing must not lose them
    written = _write_outputs(args, report, net, lb, ub, bounds)
    _print(report, sections, regions)
    if written:
        print("\n" + "\n".join(written))
    return 0


def _check_outputs(args) -> None:
    """Fail before any work if an output file cannot be written, or two options name the same
    file."""
    from ..errors import UnknownOptionError

    seen = {}
    for path, what, example in (
        (args.json, "--json", "report.json"),
        (args.plot, "--plot", "bounds.png"),
        (args.regions_plot, "--regions-plot", "regions.png"),
    ):
        check_output_path(path, what, example, source=args.network)
        if path is None:
            continue
        if path.resolve() in seen:
            raise UnknownOptionError(
                f"{seen[path.resolve()]} and {what} both write {str(path)!r}, so one would "
                "overwrite the other; give each its own file."
            )
        seen[path.resolve()] = what


def _box(values: list[float]):
    return values[0] if len(values) == 1 else np.asarray(values, dtype=float)


def _report(net, args, lb, ub, sections: dict, regions) -> dict:
    layers = [
        {
            "layer": k,
            "n_in": layer.n_in,
            "n_out": layer.n_out,
            "activation": layer.activation.kind.value,
            "cap": layer.activation.cap,
        }
        for k, layer in enumerate(net.layers)
    ]
    return {
        "network": str(args.network),
        "layer_sizes": list(net.layer_sizes),
        "layers": layers,
        "piecewise_neurons": net.n_piecewise_neurons,
        "inputs": [
            {"name": n, "lb": float(lo), "ub": float(up)}
            for n, lo, up in zip(net.input_names, lb, ub)
        ],
        "bounds": {
            name: {
                "seconds": s["seconds"],
                "stable": s["stable"].to_dict(),
                "big_m": s["big_m"].to_dict(),
            }
            for name, s in sections.items()
        },
        "regions": None if regions is None else regions.to_dict(),
    }


def _print(report: dict, sections: dict, regions) -> None:
    acts = ", ".join(layer["activation"] for layer in report["layers"])
    print(
        f"network: {report['network']}  {'-'.join(map(str, report['layer_sizes']))} ({acts}), "
        f"{report['piecewise_neurons']} piecewise neurons"
    )
    print(
        "box:     "
        + ", ".join(f"{i['name']} in [{i['lb']:g}, {i['ub']:g}]" for i in report["inputs"])
    )
    for name, s in sections.items():
        st = s["stable"]
        print(
            f"\n== {name} bounds ({s['seconds']:.3f} s): {st.n_stable}/{st.n} stable "
            f"({100 * st.fraction:.1f} %), {s['big_m'].n_binaries} binaries"
        )
        print(st)
        print(s["big_m"])
    if regions is not None:
        print(f"\n== linear regions\n{regions}")


def _write_outputs(args, report: dict, net, lb, ub, bounds) -> list[str]:
    """Write the JSON report and the plots that were asked for; return one message per file."""
    written = []
    if args.json is not None:
        write_json(args.json, report)
        written.append(f"report written to {args.json}")
    if args.plot is not None or args.regions_plot is not None:
        from .. import plots

        if args.plot is not None:
            written.append(f"bounds plot written to {plots.plot_bounds(bounds, args.plot)}")
        if args.regions_plot is not None:
            path = plots.plot_regions_2d(net, lb, ub, args.regions_plot, seed=args.seed)
            written.append(f"regions plot written to {path}")
    return written
