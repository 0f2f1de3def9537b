"""The three benchmark problems of the study (see ``benchmarks.md`` in the documentation).

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

from ...errors import UnknownOptionError
from . import oil, peaks, reformer
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
    "Problem",
    "PROBLEMS",
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
}


def get_problem(name: str) -> Problem:
    """The problem registered as ``name``; UnknownOptionError lists the valid names."""
    try:
        return PROBLEMS[name]
    except KeyError:
        raise UnknownOptionError(
            f"unknown benchmark problem {name!r}; valid: {', '.join(PROBLEMS)}."
        ) from None
