"""The ``relu.tighten_bounds`` transformation and its options.

``relu.tighten_bounds`` recomputes the neuron bounds of every
:class:`~pyomo_relu.block.ReluNetworkBlock` in a model (or of ``targets``)
and rebuilds each block's formulation with them.  Bounds are intersected
with the block's current ones, so they never get looser; the blocks'
``inputs`` and ``outputs`` keep their identity.

OMLT models are accepted too: every ``OmltBlock`` built from a chain of dense
ReLU/linear layers in a full-space formulation gets the tightened bounds
written back into it (:mod:`pyomo_relu.interop.omlt`).  OMLT blocks are
bounded over their scaled input box (both contexts); other OMLT blocks raise
an error naming the block.

``context="network"`` uses the input box and the model's linear constraints
that involve only the block's inputs (:mod:`.model_rows`).  ``context="model"``
goes further: after that, it bounds each unstable neuron (layer by layer) over
the LP relaxation of the *whole* model (:mod:`.model_context`) - every active
linear constraint, integrality relaxed, nonlinear constraints dropped, so the
relaxation stays valid - which lets constraints on the network's outputs
(``N2 <= 0.34``) cut the hidden bounds.  That pass solves two HiGHS LPs of the
whole model per neuron, each bound certified by the LP dual, and costs more.

``objective_cutoff=c`` runs the model-context pass with the extra row
``objective <= c`` (``>= c`` for a maximized objective; the objective must be
linear), or ``objective_cutoff="incumbent"`` with ``c`` the objective at the
model's current values once they are checked feasible (:mod:`.cutoff`).  Those
bounds hold only at the points at least as good as ``c`` (provenance
``lp-cutoff(objective<=c)``), so the same row is added to the model as
``relu_objective_cutoff``: the optimum is unchanged when it is at least as good
as ``c``, and the model is infeasible otherwise.  See ``docs/tightening.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pyomo.common.config import Bool, ConfigDict, ConfigValue, PositiveInt
from pyomo.core.base.transformation import Transformation, TransformationFactory

from .._options import seconds_option
from ..bounds import NeuronBounds, bound_method_names, get_bound_method, interval_bounds
from ..bounds.parallel import check_executor
from ..errors import UnknownOptionError
from ..interop.omlt import find_omlt_blocks, omlt_plan, write_omlt_bounds
from .cutoff import carry_cutoff, check_same_sense, cutoff_option, keep_cutoff_row, resolve_cutoff
from .model_context import _ModelContext
from .model_rows import (
    find_network_blocks,
    input_constraints,
    linear_user_rows,
    refuse_transformed_disjuncts,
    target_roots,
)

__all__ = ["TightenBounds"]


class _Seconds:
    """Config domain of a time limit: :func:`seconds_option` under the option's name."""

    def __init__(self, name: str, allow_zero: bool):
        self.name, self.allow_zero = name, allow_zero

    def __call__(self, value):
        return seconds_option(
            value, "relu.tighten_bounds", name=self.name, allow_zero=self.allow_zero
        )

    def domain_name(self):
        return "seconds >= 0 or None" if self.allow_zero else "seconds > 0 or None"


class _Executor:
    """Config domain of ``executor``: None or a ``concurrent.futures``-style executor (the same
    object, never a copy: it may hold a connection to a cluster)."""

    def __call__(self, value):
        return check_executor(value, "relu.tighten_bounds: ")

    def domain_name(self):
        return "a concurrent.futures.Executor or None"


def _solver_name(value):
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"expected the name of a Pyomo solver (e.g. 'appsi_highs'), found {value!r}"
        )
    return value


class _OneOf:
    """Config domain of option ``option``: one of the given names (unlike ``In``, not None).

    ``names`` may be a callable returning them, read when a value is checked (the
    bound methods registered by then).
    """

    def __init__(self, option: str, *names):
        self.option, self._names = option, names

    @property
    def names(self) -> list:
        if len(self._names) == 1 and callable(self._names[0]):
            return list(self._names[0]())
        return list(self._names)

    def __call__(self, value):
        if value not in self.names:
            raise UnknownOptionError(
                f"relu.tighten_bounds: {self.option}={value!r} is not one of {self.names}."
            )
        return value

    def domain_name(self):
        return f"one of {self.names}"


def _certified_methods() -> list:
    return bound_method_names(certified=True)


#: what each option that may not be None expects (the method names come from the registry)
_NOT_NONE = {
    "method": None,
    "context": "'network' or 'model'",
    "solver": "a Pyomo solver name",
    "workers": "an integer >= 1",
    "progress": "True or False",
    "passes": "an integer >= 1",
}


@TransformationFactory.register(
    "relu.tighten_bounds", doc="Tighten the neuron bounds of ReluNetworkBlocks (OBBT)"
)
class TightenBounds(Transformation):
    """Recompute neuron bounds (interval, LP or MILP OBBT) and rebuild the blocks.

    Options (see ``TightenBounds.CONFIG``): ``method`` (interval | lp | milp),
    ``targets``, ``workers``, ``executor`` (a ``concurrent.futures.Executor`` such as
    ``distributed.Client(...).get_executor()``: it solves the LP / MILP chunks, see
    ``docs/distributed.md``), ``time_limit`` (per block, LP / MILP), ``time_limit_per_neuron``
    (MILP), ``context`` (network | model), ``solver`` (LP solver for the model
    context), ``progress``, ``objective_cutoff`` (None, a value or ``"incumbent"``;
    implies the model-context pass), ``passes`` (of the model context).  They are
    given as keywords, as Pyomo's ``options``
    dict (``apply_to(m, options={"method": "lp"})``) or both; a keyword wins over
    the same name in ``options``.  After the call, each block's
    ``tightening_report`` holds the report of the last method run on it.
    """

    CONFIG = ConfigDict("relu.tighten_bounds")
    CONFIG.declare(
        "method",
        ConfigValue(
            default="lp",
            domain=_OneOf("method", _certified_methods),
            description="how to bound each neuron: a certified registered bound method "
            "(pyomo_relu.bounds.bound_method_names(certified=True))",
        ),
    )
    CONFIG.declare(
        "targets", ConfigValue(default=None, description="blocks to tighten (default: all)")
    )
    CONFIG.declare(
        "workers", ConfigValue(default=1, domain=PositiveInt, description="worker processes")
    )
    CONFIG.declare(
        "executor",
        ConfigValue(
            default=None,
            domain=_Executor(),
            description="concurrent.futures.Executor that solves the LP / MILP chunks instead "
            "of workers (e.g. distributed.Client(...).get_executor()); None: workers",
        ),
    )
    CONFIG.declare(
        "time_limit",
        ConfigValue(
            default=None,
            domain=_Seconds("time_limit", True),
            description="seconds per block for LP / MILP tightening, and again for "
            "each block's pass of the model context",
        ),
    )
    CONFIG.declare(
        "time_limit_per_neuron",
        ConfigValue(
            default=10.0,
            domain=_Seconds("time_limit_per_neuron", False),
            description="seconds per MILP bound",
        ),
    )
    CONFIG.declare(
        "context",
        ConfigValue(
            default="network",
            domain=_OneOf("context", "network", "model"),
            description="network: box + constraints on inputs; model: whole-model LP",
        ),
    )
    CONFIG.declare(
        "solver",
        ConfigValue(
            default="appsi_highs",
            domain=_solver_name,
            description="Pyomo LP solver for context='model'",
        ),
    )
    CONFIG.declare(
        "progress", ConfigValue(default=False, domain=Bool, description="show progress bars")
    )
    CONFIG.declare(
        "passes",
        ConfigValue(
            default=1,
            domain=PositiveInt,
            description="passes of the model context over each block, each from the bounds of "
            "the one before (stops early when a pass narrows them by less than 0.1%)",
        ),
    )
    CONFIG.declare(
        "objective_cutoff",
        ConfigValue(
            default=None,
            domain=cutoff_option,
            description="None, a value c or 'incumbent' (c from the loaded solution): run the "
            "model-context pass with the row objective <= c (>= c to maximize) and add that "
            "row to the model; the bounds hold only where it holds",
        ),
    )

    def _apply_to(self, model, **kwds):
        cfg = _read_config(self.CONFIG, kwds)
        refuse_transformed_disjuncts(model, cfg.targets)
        blocks = find_network_blocks(model, cfg.targets)
        omlt_blocks = find_omlt_blocks(target_roots(model, cfg.targets))
        if cfg.targets is not None and not blocks and not omlt_blocks:
            raise UnknownOptionError(
                "relu.tighten_bounds: targets contain no ReluNetworkBlock or OmltBlock."
            )
        if cfg.objective_cutoff is not None and not blocks:
            raise UnknownOptionError(
                "relu.tighten_bounds: objective_cutoff tightens ReluNetworkBlocks (over the "
                "whole model), and the model has none to tighten; drop objective_cutoff."
            )
        # the cut-off (an incumbent is checked at the values it has now) and the model
        # context's solver are checked before anything changes
        cutoff = resolve_cutoff(model, blocks, cfg.objective_cutoff)
        for blk in blocks:
            check_same_sense(blk.bounds, cutoff, blk.name)
        model_pass = (cfg.context == "model" or cutoff is not None) and blocks
        whole_model = _ModelContext(model, blocks, cfg, cutoff) if model_pass else None
        plans = [
            omlt_plan(blk) for blk in omlt_blocks
        ]  # every OMLT block is checked before any changes
        for blk, plan in zip(omlt_blocks, plans):
            _tighten_omlt(blk, plan, cfg)
        user_rows = linear_user_rows(model) if blocks else []
        done = {}  # copies of one network with equal bounds and input rows get the same bounds
        for blk in blocks:
            extra = input_constraints(model, blk, rows=user_rows)
            key = (
                id(blk.network),
                blk.bounds.content_key(),
                None
                if extra is None
                else tuple(np.asarray(a).tobytes() for a in extra) + (extra[0].shape,),
            )
            if key not in done:
                done[key] = _compute_bounds(blk.network, blk.bounds, cfg, extra)
            new = carry_cutoff(blk.bounds, done[key], None)
            blk.rebuild(bounds=new)
            blk.tightening_report = getattr(new, "report", None)
        if whole_model is not None:
            whole_model.run()
        if cutoff is not None:
            keep_cutoff_row(cutoff)


def _read_config(config: ConfigDict, kwds: dict):
    """The options of one call: Pyomo's ``options`` dict merged with the keywords (which win).

    Raises UnknownOptionError for an unknown option, a value outside its
    domain, an option set to None that does not allow it, or an ``options``
    that is not a dict.
    """
    keywords = {k: v for k, v in kwds.items() if k != "options"}
    options = kwds.get("options")
    if options is None:
        options = {}
    if not isinstance(options, Mapping):
        raise UnknownOptionError(
            f"relu.tighten_bounds: options={options!r} is a {type(options).__name__}, not a dict; "
            "expected a dict of option names to values, e.g. options={'method': 'lp'} (or pass "
            "the options as keywords)."
        )
    try:
        cfg = config({**options, **keywords})
    except ValueError as exc:
        if isinstance(exc.__context__, UnknownOptionError):  # our own domain's message says it all
            raise exc.__context__ from None
        raise UnknownOptionError(
            f"relu.tighten_bounds: {exc}".strip() + f" Valid options: {', '.join(config.keys())}."
        ) from None
    for name, expected in _NOT_NONE.items():
        if cfg[name] is None:  # Pyomo's config skips the domain check for None
            if name == "method":
                expected = config.get("method").domain_name()
            raise UnknownOptionError(
                f"relu.tighten_bounds: option {name}=None is not allowed; expected {expected} "
                "(or leave the option out for its default)."
            )
    return cfg


def _compute_bounds(net, cur: NeuronBounds, cfg, extra) -> NeuronBounds:
    """Bounds of ``net`` by the registered bound method ``cfg.method``, from the sound ``cur``.

    The method gets the options it declares (``BoundMethod.options``) from ``cfg``,
    and the model's input constraints as ``extra_constraints``.
    """
    method = get_bound_method(cfg.method)
    given = {
        "workers": cfg.workers,
        "executor": cfg.executor,
        "time_limit": cfg.time_limit,
        "time_limit_per_neuron": cfg.time_limit_per_neuron,
        "progress": cfg.progress,
        "extra_constraints": extra,
    }
    options = {name: given[name] for name in method.options if name in given}
    return method.compute(net, cur.input_lb, cur.input_ub, prior=cur, **options)


def _tighten_omlt(blk, plan, cfg) -> None:
    """Tighten an OMLT network block (checked by :func:`omlt_plan`) and write the bounds into it."""
    start = interval_bounds(plan.network, plan.lower, plan.upper)
    new = _compute_bounds(plan.network, start, cfg, None)
    blk.tightening_report = getattr(new, "report", None)
    write_omlt_bounds(blk, plan, new)
