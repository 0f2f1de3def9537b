"""Primal heuristics for optimization over ReLU networks (numeric core: numpy and HiGHS, no Pyomo).

:func:`search` samples the input box by batched forward passes and improves the best points
by a local search over activation patterns (one LP per pattern); see
:mod:`pyomo_relu.heuristics.primal`.  The modeling layer hands its points to SCIP
(:mod:`pyomo_relu.scip_plugins`).
"""

from .pattern_lp import OFF, ON, SATURATED, affine_maps, solve_pattern_lp
from .primal import (
    Candidate,
    LinearObjective,
    SearchResult,
    evaluate,
    polish,
    preactivation,
    search,
)

__all__ = [
    "OFF",
    "ON",
    "SATURATED",
    "Candidate",
    "LinearObjective",
    "SearchResult",
    "affine_maps",
    "evaluate",
    "polish",
    "preactivation",
    "search",
    "solve_pattern_lp",
]
