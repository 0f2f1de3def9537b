"""The benchmark problems of the study (see ``benchmarks.md`` in the documentation).

``peaks``, ``reformer`` and ``oil`` are the suite's application problems;
``peaks2``, ``himmelblau``, ``ackley2`` and ``ackley5`` are the test functions
of Plate et al. (Optimization and Engineering, 2026) whose surrogate is
minimized directly over a box (:mod:`._box`).

Each problem module offers ``train_networks(variant, cache_dir=..., quick=...)``
(the networks of one training variant, cached as ONNX), a model builder
``build_<problem>(networks, *, formulation="bigm", bounds=None) -> (model, blocks)``
(formulation ``"omlt_bigm"`` builds the OMLT baseline on the same model),
``input_boxes(networks)`` and ``check(model, blocks, networks, solved=...)``.
:data:`PROBLEMS` collects them behind one interface for the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from ...errors import UnknownOptionError
from . import _box, ackley, himmelblau, oil, peaks, reformer
from ._box import BoxFunction
from ._common import (
    OMLT_FORMULATION,
    VARIANTS,
    TrainedNet,
    Variant,
    block_network,
    default_cache_dir,
    select_variants,
)
from .oil import build_oil
from .peaks import build_peaks, peaks_function
from .reformer import build_reformer

__all__ = [
    "DEFAULT_PROBLEMS",
    "Problem",
    "PROBLEMS",
    "BOX_FUNCTIONS",
    "BoxFunction",
    "box_problem",
    "PROBLEM_GROUPS",
    "expand_problem_names",
    "get_problem",
    "build_peaks",
    "build_reformer",
    "build_oil",
    "peaks_function",
    "Variant",
    "VARIANTS",
    "select_variants",
    "TrainedNet",
    "block_network",
    "default_cache_dir",
    "OMLT_FORMULATION",
]


@dataclass(frozen=True)
class Problem:
    """One benchmark problem behind a uniform interface.

    Attributes
    ----------
    name : str
    sense : str
        ``"min"`` or ``"max"``.
    train_networks : callable
        ``(variant, *, cache_dir, quick) -> {network name: TrainedNet}``.
    build : callable
        ``(networks, *, formulation, bounds) -> (model, blocks)``.
    block_networks : callable
        ``networks -> {block name: ReluNetwork}`` (a network may be embedded twice).
    input_boxes : callable
        ``networks -> {block name: (lb, ub)}``.
    check : callable
        Problem-specific check of a solution (grid or data comparison).
    """

    name: str
    sense: str
    train_networks: Callable
    build: Callable
    block_networks: Callable
    input_boxes: Callable
    check: Callable


def box_problem(spec: BoxFunction) -> Problem:
    """The suite problem ``min f_NN(x)`` over the box of a :class:`BoxFunction`."""
    return Problem(
        spec.name,
        "min",
        partial(_box.train_networks, spec),
        partial(_box.build, spec),
        lambda nets: {"f": nets["f"]},
        partial(_box.input_boxes, spec),
        partial(_box.check, spec),
    )


#: the test functions minimized over a box, by problem name
BOX_FUNCTIONS = {
    spec.name: spec for spec in (peaks.PEAKS2, himmelblau.SPEC, ackley.SPECS[2], ackley.SPECS[5])
}

PROBLEMS = {
    "peaks": Problem(
        "peaks",
        "min",
        peaks.train_networks,
        build_peaks,
        lambda nets: {"f": nets["f"]},
        peaks.input_boxes,
        peaks.check,
    ),
    "reformer": Problem(
        "reformer",
        "max",
        reformer.train_networks,
        build_reformer,
        lambda nets: {"reformer": nets["reformer"]},
        reformer.input_boxes,
        reformer.check,
    ),
    "oil": Problem(
        "oil", "max", oil.train_networks, build_oil, oil.block_networks, oil.input_boxes, oil.check
    ),
    **{name: box_problem(spec) for name, spec in BOX_FUNCTIONS.items()},
}


#: names that stand for several problems (``pyomo-relu bench --problems ackley``)
PROBLEM_GROUPS = {
    "ackley": ("ackley2", "ackley5"),
    # the test functions of Plate et al. (2026)
    "paper": ("peaks2", "himmelblau", "ackley2", "ackley5"),
}
#: what ``pyomo-relu bench`` runs without ``--problems``: the process problems (the test
#: functions have their own study, ``python -m pyomo_relu.benchmarks.paper``)
DEFAULT_PROBLEMS = ("peaks", "reformer", "oil")


def expand_problem_names(names) -> list[str]:
    """``names`` with every group name (:data:`PROBLEM_GROUPS`) replaced by its problems.

    Unknown names are kept, so the caller's check reports them with the valid names.
    """
    out = []
    for name in names:
        out.extend(PROBLEM_GROUPS.get(name, (name,)))
    return list(dict.fromkeys(out))


def get_problem(name: str) -> Problem:
    """The problem registered as ``name``; UnknownOptionError lists the valid names."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise UnknownOptionError(
            f"unknown benchmark problem {name!r}; valid: {', '.join(PROBLEMS)} (or a group: "
            + ", ".join(f"{g} = {'+'.join(ps)}" for g, ps in PROBLEM_GROUPS.items())
            + ")."
        ) from None
