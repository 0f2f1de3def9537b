"""Pyomo transformations registered under ``relu.*``.

``relu.tighten_bounds`` recomputes the neuron bounds of every
:class:`~pyomo_relu.block.ReluNetworkBlock` in a model (or of ``targets``)
and rebuilds each block's formulation with them.  Bounds are intersected
with the block's current ones, so they never get looser; the blocks'
``inputs`` and ``outputs`` keep their identity.

OMLT models are accepted too: every ``OmltBlock`` built from a chain of dense
ReLU/linear layers in a full-space formulation (``FullSpaceNNFormulation``,
``ReluBigMFormulation``, ``ReluPartitionFormulation``,
``ReluComplementarityFormulation``) gets the tightened bounds written back into
its ``zhat``/``z`` bounds and big-M parameters, so OMLT's own formulation
becomes tighter in place.  OMLT blocks are bounded over their scaled input box
(both contexts); other OMLT blocks raise an error naming the block.

``context="network"`` uses the input box and the model's linear constraints
that involve only the block's inputs.  ``context="model"`` goes further: after
that, it bounds each unstable neuron (layer by layer) over the LP relaxation
of the *whole* model - every active linear constraint, integrality relaxed,
nonlinear constraints dropped, so the relaxation stays valid - which lets
constraints on the network's outputs (``N2 <= 0.34``) cut the hidden bounds.
That pass solves one Pyomo LP per bound and costs more.
"""

from __future__ import annotations

import logging
import math
import time
import warnings

import numpy as np
import pyomo.environ as pyo
from pyomo.common.config import Bool, ConfigDict, ConfigValue, PositiveInt
from pyomo.common.log import LoggingIntercept
from pyomo.core.base.componentuid import ComponentUID
from pyomo.core.base.transformation import Transformation, TransformationFactory
from pyomo.core.expr.numvalue import native_numeric_types
from pyomo.core.expr.visitor import identify_mutable_parameters, identify_variables
from pyomo.gdp import Disjunct
from pyomo.opt.base.solvers import UnknownSolver
from pyomo.repn import generate_standard_repn

from ._options import seconds_option
from .block import ReluNetworkBlockData
from .bounds import NeuronBounds, interval_bounds
from .errors import (
    InfeasibleBoxError,
    MissingBoundsError,
    NotApplicableError,
    ReluError,
    SolverUnavailableError,
    TimeLimitWarning,
    UnknownOptionError,
)
from .network import ReluNetwork

__all__ = ["TightenBounds", "find_network_blocks", "input_constraints", "linear_user_rows"]

#: relative padding of bounds read from a (non-certified) Pyomo LP solve.  It must
#: stay well above the MIP solver's feasibility tolerance (SCIP: 1e-6): with 1e-6,
#: SCIP's presolve removed the optimum of the reformer benchmark's clipped-ReLU
#: surrogate (its N2 limit is active there), with 1e-5 it does not.
_MODEL_LP_PAD = 1e-5


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


def _solver_name(value):
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"expected the name of a Pyomo solver (e.g. 'appsi_highs'), found {value!r}"
        )
    return value


class _OneOf:
    """Config domain of option ``option``: one of the given names (unlike ``In``, None is rejected too)."""

    def __init__(self, option: str, *names):
        self.option, self.names = option, names

    def __call__(self, value):
        if value not in self.names:
            raise UnknownOptionError(
                f"relu.tighten_bounds: {self.option}={value!r} is not one of {list(self.names)}."
            )
        return value

    def domain_name(self):
        return f"one of {list(self.names)}"


def _target_roots(model, targets) -> list:
    """The components to search for network blocks: ``model``, or each of ``targets``."""
    if targets is None:
        return [model]
    if hasattr(targets, "is_indexed"):  # one component (or component data) rather than a list
        return [targets]
    if isinstance(targets, (str, bytes)) or not hasattr(targets, "__iter__"):
        raise UnknownOptionError(
            f"relu.tighten_bounds: targets={targets!r} is not a block; pass a ReluNetworkBlock, a "
            "block containing them, or a list of those (the components themselves, not their "
            "names)."
        )
    roots = list(targets)
    for root in roots:
        if not hasattr(root, "is_indexed"):
            raise UnknownOptionError(
                f"relu.tighten_bounds: target {root!r} is a {type(root).__name__}, not a block; "
                "pass "
                "ReluNetworkBlocks or blocks containing them (the components themselves, not "
                "their names)."
            )
    return roots


def find_network_blocks(model, targets=None) -> list:
    """The active ReluNetworkBlock data objects in ``model`` (or in / equal to ``targets``)."""
    found = []
    for root in _target_roots(model, targets):
        datas = root.values() if root.is_indexed() else [root]
        for data in datas:
            if isinstance(data, ReluNetworkBlockData):
                found.append(data)
                continue
            if _is_omlt_block(data):
                continue
            if not hasattr(data, "component_data_objects"):
                raise UnknownOptionError(
                    f"relu.tighten_bounds: target {data.name!r} is a {type(data).__name__}, not a "
                    "block; "
                    "pass ReluNetworkBlocks or blocks containing them."
                )
            # active Disjuncts too: the bounds of a network hold whichever disjunct is chosen, and
            # rows rebuilt there are relaxed by the later GDP transformation (a transformed
            # Disjunct is inactive, so its blocks are left alone)
            for blk in data.component_data_objects(
                pyo.Block, active=True, descend_into=(pyo.Block, Disjunct)
            ):
                if isinstance(blk, ReluNetworkBlockData):
                    found.append(blk)
    unique = {id(b): b for b in found}
    return list(unique.values())


class _UserRows(list):
    """The list of :func:`linear_user_rows`, with the rows of each variable found by lookup.

    ``rows_of(variables)`` gives the positions of the rows that use one of
    ``variables``, so finding the rows of each of ``B`` blocks costs the rows
    that touch its inputs, not ``B`` passes over every row of the model.
    """

    _by_var = None

    def rows_of(self, variables) -> list:
        if self._by_var is None:
            self._by_var = {}
            for r, (row_vars, _, _, _) in enumerate(self):
                for v in row_vars:
                    self._by_var.setdefault(id(v), []).append(r)
        found = {r for v in variables for r in self._by_var.get(id(v), ())}
        return sorted(found)  # model order, as a pass over every row would give


def _has_mutable(expr) -> bool:
    """Whether the expression ``expr`` (or None, or a number) contains a mutable parameter."""
    return (
        expr is not None
        and type(expr) not in native_numeric_types
        and next(identify_mutable_parameters(expr), None) is not None
    )


def _changeable(con) -> bool:
    """Whether the row ``con`` uses a fixed variable or a mutable parameter (in its body or bounds).

    Users unfix variables and change mutable parameters between solves (a
    parameter study); bounds derived from the row's values at transformation
    time would then cut off points of the model that is solved next.
    """
    for expr in (con.body, con.lower, con.upper):
        if expr is None or type(expr) in native_numeric_types:
            continue
        if _has_mutable(expr) or any(v.fixed for v in identify_variables(expr, include_fixed=True)):
            return True
    return False


def linear_user_rows(model) -> list:
    """The model's active linear constraints outside network blocks, as ``(vars, coefs, lo, hi)``.

    Rows with a fixed variable or a mutable parameter are left out (see
    :func:`_changeable`): the bounds derived from the rows must stay valid when
    those values change.  Computed once per transformation and shared by all blocks.
    """
    own = {
        id(c)
        for nb in find_network_blocks(model)
        for c in nb.component_data_objects(pyo.Constraint)
    }
    out = _UserRows()
    for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if id(con) in own or _changeable(con):
            continue
        repn = generate_standard_repn(con.body, quadratic=False, compute_values=True)
        if not repn.is_linear() or not repn.linear_vars:
            continue
        const = float(repn.constant)
        lo, hi = pyo.value(con.lower), pyo.value(con.upper)
        out.append(
            (
                repn.linear_vars,
                repn.linear_coefs,
                -math.inf if lo is None else lo - const,
                math.inf if hi is None else hi - const,
            )
        )
    return out


def input_constraints(model, block: ReluNetworkBlockData, *, rows=None):
    """Linear constraints of ``model`` that involve only ``block``'s inputs, as ``(A, lo, hi)``.

    Constraints inside network blocks are skipped; fixed variables count as
    constants.  ``rows`` may pass :func:`linear_user_rows` of the model when it
    is already computed.  Returns None when there are none.
    """
    position = {id(v): i for i, v in enumerate(block.inputs.values())}
    rows = linear_user_rows(model) if rows is None else rows
    if isinstance(
        rows, _UserRows
    ):  # only rows that use an input can qualify (every row has a variable)
        rows = [rows[r] for r in rows.rows_of(block.inputs.values())]
    matrix, lows, highs = [], [], []
    for variables, coefs, lo, hi in rows:
        if not all(id(v) in position for v in variables):
            continue
        row = np.zeros(len(position))
        for v, c in zip(variables, coefs):
            row[position[id(v)]] += c
        matrix.append(row)
        lows.append(lo)
        highs.append(hi)
    if not matrix:
        return None
    return np.array(matrix), np.array(lows), np.array(highs)


_NOT_NONE = {
    "method": "one of 'interval', 'lp', 'milp'",
    "context": "'network' or 'model'",
    "solver": "a Pyomo solver name",
    "workers": "an integer >= 1",
    "progress": "True or False",
}


@TransformationFactory.register(
    "relu.tighten_bounds", doc="Tighten the neuron bounds of ReluNetworkBlocks (OBBT)"
)
class TightenBounds(Transformation):
    """Recompute neuron bounds (interval, LP or MILP OBBT) and rebuild the blocks.

    Options (see ``TightenBounds.CONFIG``): ``method`` (interval | lp | milp),
    ``targets``, ``workers``, ``time_limit`` (per block, LP / MILP), ``time_limit_per_neuron``
    (MILP), ``context`` (network | model), ``solver`` (LP solver for the model
    context), ``progress``.  After the call, each block's ``tightening_report``
    holds the report of the last method run on it.
    """

    CONFIG = ConfigDict("relu.tighten_bounds")
    CONFIG.declare(
        "method",
        ConfigValue(
            default="lp",
            domain=_OneOf("method", "interval", "lp", "milp"),
            description="how to bound each neuron",
        ),
    )
    CONFIG.declare(
        "targets", ConfigValue(default=None, description="blocks to tighten (default: all)")
    )
    CONFIG.declare(
        "workers", ConfigValue(default=1, domain=PositiveInt, description="worker processes")
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

    def _apply_to(self, model, **kwds):
        try:
            cfg = self.CONFIG(kwds)
        except ValueError as exc:
            if isinstance(
                exc.__context__, UnknownOptionError
            ):  # our own domain's message says it all
                raise exc.__context__ from None
            raise UnknownOptionError(
                f"relu.tighten_bounds: {exc}".strip()
                + f" Valid options: {', '.join(self.CONFIG.keys())}."
            ) from None
        for name, expected in _NOT_NONE.items():
            if cfg[name] is None:  # Pyomo's config skips the domain check for None
                raise UnknownOptionError(
                    f"relu.tighten_bounds: option {name}=None is not allowed; expected {expected} "
                    "(or leave the option out for its default)."
                )
        blocks = find_network_blocks(model, cfg.targets)
        omlt_blocks = find_omlt_blocks(model, cfg.targets)
        if cfg.targets is not None and not blocks and not omlt_blocks:
            raise UnknownOptionError(
                "relu.tighten_bounds: targets contain no ReluNetworkBlock or OmltBlock."
            )
        # check the model context's solver before changing anything
        whole_model = (
            _ModelContext(model, blocks, cfg) if cfg.context == "model" and blocks else None
        )
        plans = [
            _omlt_plan(blk) for blk in omlt_blocks
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
            new = done[key]
            blk.rebuild(bounds=new)
            blk.tightening_report = getattr(new, "report", None)
        if whole_model is not None:
            whole_model.run()


def _compute_bounds(net, cur: NeuronBounds, cfg, extra) -> NeuronBounds:
    """Bounds of ``net`` by ``cfg.method``, starting from the sound bounds ``cur``."""
    lb, ub = cur.input_lb, cur.input_ub
    if cfg.method == "interval":
        return interval_bounds(net, lb, ub)
    if cfg.method == "lp":
        from .bounds.lp import lp_bounds

        return lp_bounds(
            net,
            lb,
            ub,
            prior=cur,
            workers=cfg.workers,
            time_limit=cfg.time_limit,
            progress=cfg.progress,
            extra_constraints=extra,
        )
    from .bounds.milp import milp_bounds

    return milp_bounds(
        net,
        lb,
        ub,
        prior=cur,
        workers=cfg.workers,
        progress=cfg.progress,
        time_limit=cfg.time_limit,
        time_limit_per_neuron=cfg.time_limit_per_neuron,
        extra_constraints=extra,
    )


#: the parts of an APPSI solver's per-solve model scan that find structural changes
_STRUCTURE_CHECKS = (
    "check_for_new_or_removed_constraints",
    "check_for_new_or_removed_vars",
    "check_for_new_or_removed_params",
    "check_for_new_objective",
    "update_constraints",
    "update_vars",
    "update_params",
    "update_named_expressions",
)


def _persistent_appsi(name: str):
    """The APPSI persistent solver behind the Pyomo name ``appsi_<solver>``, or None.

    Pyomo's ``SolverFactory("appsi_highs")`` wraps it in a legacy interface
    that, after every solve, labels every variable of the model for a results
    object: on the model context's many small LPs that per-solve pass over the
    whole model cost far more than the LP itself.
    """
    if not name.startswith("appsi_"):
        return None
    from pyomo.contrib.appsi.base import SolverFactory as AppsiFactory

    opt = AppsiFactory(name[len("appsi_") :])
    if opt is None or not opt.available():
        return None
    opt.config.load_solution = False
    return opt


class _ModelContext:
    """Layer-by-layer bounds over the LP relaxation of a clone of the whole model.

    The model changes between two bounds only in its objective, and between two
    layers in one block's rows: with an APPSI solver, the scan of the model for
    changed rows and variables runs once after each such change instead of
    before every solve, so a bound costs the LP solve, not a pass over the model.
    """

    def __init__(self, model, blocks, cfg):
        self.model, self.blocks, self.cfg = model, blocks, cfg
        # Pyomo logs a warning with a traceback for a name it does not know; the error below says it
        with LoggingIntercept(module="pyomo.opt", level=logging.WARNING):
            solver = pyo.SolverFactory(cfg.solver)
        if solver is None or isinstance(solver, UnknownSolver):
            raise SolverUnavailableError(
                f"relu.tighten_bounds(context='model'): LP solver {cfg.solver!r} is not "
                "available: Pyomo "
                "knows no solver of that name; expected an LP solver such as 'appsi_highs' (the "
                "default), "
                "'highs' or 'scip_direct'."
            )
        if not solver.available(exception_flag=False):
            hint = (
                "install highspy (pip install highspy)" if "highs" in cfg.solver else "install it"
            )
            raise SolverUnavailableError(
                f"relu.tighten_bounds(context='model'): LP solver {cfg.solver!r} is not available; "
                f"{hint} or pass solver='appsi_highs' / 'scip_direct'."
            )
        self.solver = solver
        self.persistent = _persistent_appsi(cfg.solver)
        self.changed = True  # the model changed since the last solve (beyond the objective)

    def run(self):
        # the whole model is cloned even when the transformation is applied to one of its blocks:
        # a block's clone would share the variables outside it (e.g. the network's inputs) with
        # the user's model, and those could not be relaxed
        top = self.model.model()
        clone = top.clone()
        root = _twin(clone, self.model, top)
        own = {
            id(c)
            for c in root.component_data_objects(pyo.Constraint, active=True, descend_into=True)
        }
        for obj in clone.component_data_objects(pyo.Objective, active=True):
            obj.deactivate()
        for con in clone.component_data_objects(pyo.Constraint, active=True):
            if id(con) not in own or con.body.polynomial_degree() not in (0, 1) or _changeable(con):
                con.deactivate()  # dropping a constraint relaxes the model: still sound
        _free_changeable_values(clone)
        clone.relu_tighten_obj = pyo.Objective(expr=0.0)
        twins = [_twin(clone, blk, top) for blk in self.blocks]
        for twin in twins:
            # the plain big-M formulation has a variable z[k, j] for each unstable neuron in the
            # original network's units (scaled or region-based formulations do not)
            twin.rebuild(formulation="bigm")
        _relax(clone)
        for blk, twin in zip(self.blocks, twins):
            new = self._tighten_block(clone, twin)
            blk.rebuild(bounds=new)

    def _tighten_block(self, clone, twin) -> NeuronBounds:
        """Bounds of ``twin``'s network over the relaxed ``clone``, layer by layer.

        ``time_limit`` (per block) stops the pass: the neurons not reached keep
        their current bounds, which are sound, and a TimeLimitWarning says how many.
        """
        from tqdm.auto import tqdm

        bounds = twin.bounds.copy()
        limit = self.cfg.time_limit
        deadline = None if limit is None else time.perf_counter() + limit
        skipped = 0

        def candidates(k):
            # the outputs are the pre-activations of a linear last layer, not of a piecewise one
            if k == bounds.n_layers - 1 and not bounds.is_piecewise(k):
                return range(len(bounds.lower[k])), True
            return np.flatnonzero(bounds.unstable(k)), False

        # this pass solves two LPs of the whole model per neuron: the longest part of the transformation
        estimate = [len(candidates(k)[0]) for k in range(bounds.n_layers)]
        with tqdm(
            total=sum(estimate),
            disable=not self.cfg.progress,
            unit="neuron",
            desc=f"model LP bounds {twin.name}",
        ) as bar:
            for k in range(bounds.n_layers):
                todo, linear_out = candidates(k)
                bar.total -= estimate[k] - len(todo)  # earlier layers made more neurons stable
                done = 0
                lower, upper = bounds.lower[k].copy(), bounds.upper[k].copy()
                for j in todo:
                    if deadline is not None and time.perf_counter() > deadline:
                        break
                    target = twin.outputs[j] if linear_out else twin.mip.z[k, j]
                    lower[j] = max(lower[j], self._bound(clone, target, pyo.minimize))
                    upper[j] = min(upper[j], self._bound(clone, target, pyo.maximize))
                    done += 1
                    bar.update(1)
                skipped += len(todo) - done
                if done == 0:
                    continue  # nothing of this layer was computed: its bounds and their label stay
                bounds = bounds.with_layer(k, lower, upper, "lp-model")
                twin.rebuild(bounds=bounds)
                _relax(twin.mip)  # the rest of the clone is relaxed already
                self.changed = True
        if skipped:
            warnings.warn(
                TimeLimitWarning(
                    f"relu.tighten_bounds(context='model'): the time limit of {limit} s stopped "
                    "the pass over "
                    f"{twin.name!r} with {skipped} neuron(s) left; their bounds are sound but may "
                    "be looser - "
                    "raise time_limit for tighter bounds."
                ),
                stacklevel=2,
            )
        return twin.bounds

    def _solve(self, clone, sense):
        """``(termination name, objective bound or None)`` of the LP with the current objective."""
        opt = self.persistent
        if opt is None:
            res = self.solver.solve(clone, load_solutions=False)
            value = res.problem.lower_bound if sense == pyo.minimize else res.problem.upper_bound
            return str(res.solver.termination_condition), value
        for name in _STRUCTURE_CHECKS:
            setattr(opt.update_config, name, self.changed)
        res = opt.solve(clone)
        self.changed = False
        return res.termination_condition.name, res.best_objective_bound

    def _bound(self, clone, var, sense) -> float:
        clone.relu_tighten_obj.set_value(var)
        clone.relu_tighten_obj.sense = sense
        term, value = self._solve(clone, sense)
        if "infeasible" in term.lower() and "unbounded" not in term.lower():
            raise InfeasibleBoxError(
                "relu.tighten_bounds(context='model'): the LP relaxation of the model is "
                "infeasible; "
                "the model's constraints admit no point."
            )
        if term.lower() != "optimal":
            return -math.inf if sense == pyo.minimize else math.inf  # keep the current bound
        if value is None or not math.isfinite(value):
            return -math.inf if sense == pyo.minimize else math.inf
        pad = _MODEL_LP_PAD * max(1.0, abs(value))
        return value - pad if sense == pyo.minimize else value + pad


def _twin(clone, component, top):
    """The component of ``clone`` (a clone of the model ``top``) that corresponds to ``component``."""
    if component is top:
        return clone
    return ComponentUID(component, context=top).find_component_on(clone)


def _free_changeable_values(model) -> None:
    """Unfix the variables of ``model`` and drop variable bounds given by mutable parameters.

    The user may change those values before the next solve; the LP relaxation
    then has to hold for every value, not just the current one (see :func:`_changeable`).
    """
    for v in model.component_data_objects(pyo.Var, descend_into=True):
        if v.fixed:
            v.unfix()
        if _has_mutable(v.lower):
            v.setlb(None)
        if _has_mutable(v.upper):
            v.setub(None)


def _relax(model) -> None:
    """Relax integrality of every variable of ``model`` (a model or a block; binaries included)."""
    for v in model.component_data_objects(pyo.Var, descend_into=True):
        if v.is_integer() or v.is_binary():
            lb, ub = v.bounds
            v.domain = pyo.Reals
            v.setlb(lb)
            v.setub(ub)


# -- OMLT blocks ---------------------------------------------------------------
def _is_omlt_block(data) -> bool:
    try:
        from omlt.block import OmltBlockData
    except ImportError:  # omlt is optional
        return False
    return isinstance(data, OmltBlockData)


def _omlt_network(blk):
    """The NetworkDefinition behind an OMLT block's formulation, or None.

    OMLT keeps both in name-mangled private attributes (``__formulation``,
    ``__network_definition`` of the formulation class), read here by suffix.
    """
    form = getattr(blk, "_OmltBlockData__formulation", None)
    for name, value in vars(form).items() if form is not None else ():
        if name.endswith("__network_definition"):
            return value
    return None


def find_omlt_blocks(model, targets=None) -> list:
    """Active OMLT blocks of ``model`` (or in / equal to ``targets``) with a neural-network formulation."""
    found = {}
    for root in _target_roots(model, targets):
        for data in root.values() if root.is_indexed() else [root]:
            cands = [data] if _is_omlt_block(data) else []
            if hasattr(data, "component_data_objects"):
                cands += [
                    b
                    for b in data.component_data_objects(pyo.Block, active=True, descend_into=True)
                    if _is_omlt_block(b)
                ]
            for b in cands:
                if _omlt_network(b) is not None:
                    found[id(b)] = b
    return list(found.values())


def _omlt_key(idx):
    """OMLT indexes one-axis layers by 1-tuples in its layer objects and by plain ints in Pyomo."""
    return idx[0] if isinstance(idx, tuple) and len(idx) == 1 else idx


def _omlt_plan(blk):
    """Check an OMLT block before anything is changed: (network in OMLT's scaled units, input box, layers).

    The network is read without folding the scaling object, so its layer ``k``
    is OMLT's dense layer ``k`` and its pre-activations are OMLT's ``zhat``.
    """
    from .io.omlt import _dense_chain

    nd = _omlt_network(blk)
    where = f"relu.tighten_bounds: OMLT block {blk.name!r}"
    skip = "; or pass `targets` without this block to leave it as it is."
    try:
        net = ReluNetwork(_dense_chain(nd))
    except ReluError as exc:
        raise type(exc)(
            f"{where}: {exc} Build the block from dense ReLU/linear layers{skip}"
        ) from exc
    dense = list(nd.layers)[1:]
    for layer in dense:
        sub = blk.layer[id(layer)]
        if not isinstance(getattr(sub, "zhat", None), pyo.Var):
            raise NotApplicableError(
                f"{where} uses "
                f"{type(getattr(blk, '_OmltBlockData__formulation', None)).__name__}, whose "
                "layers "
                "have no `zhat` variables to bound (a reduced-space formulation); expected a "
                "full-space "
                "formulation. Build it with FullSpaceNNFormulation, ReluBigMFormulation or "
                f"ReluPartitionFormulation{skip}"
            )
    keys = [_omlt_key(i) for i in next(iter(nd.layers)).output_indexes]
    lo, hi = np.full(len(keys), -math.inf), np.full(len(keys), math.inf)
    inputs = [blk.scaled_inputs] + (
        [blk.inputs] if nd.scaling_object is None else []
    )  # equal without scaling
    for var in inputs:
        lo = np.maximum(lo, [-math.inf if var[k].lb is None else float(var[k].lb) for k in keys])
        hi = np.minimum(hi, [math.inf if var[k].ub is None else float(var[k].ub) for k in keys])
    if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
        missing = [keys[j] for j in np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi)))]
        raise MissingBoundsError(
            f"{where}: scaled inputs {missing} have no finite bounds; expected a finite input "
            "box. Give the "
            f"NetworkDefinition `scaled_input_bounds` (or bound the block's scaled_inputs){skip}"
        )
    if np.any(lo > hi):
        bad = [keys[j] for j in np.flatnonzero(lo > hi)]
        raise InfeasibleBoxError(
            f"{where}: scaled inputs {bad} have lower bound > upper bound; expected lb <= ub. Fix "
            "the bounds of "
            f"the block's inputs / scaled_inputs{skip}"
        )
    return net, lo, hi, dense


def _tighten_omlt(blk, plan, cfg) -> None:
    """Tighten an OMLT network block and write the bounds into its variables and big-M parameters.

    Bounds only ever get tighter: each is intersected with the variable's current bound.
    """
    net, lo_in, hi_in, dense = plan
    new = _compute_bounds(net, interval_bounds(net, lo_in, hi_in), cfg, None)
    blk.tightening_report = getattr(new, "report", None)
    for k, layer in enumerate(dense):
        sub = blk.layer[id(layer)]
        for j, idx in enumerate(layer.output_indexes):
            key = _omlt_key(idx)
            zhat = sub.zhat[key]
            lo = max(float(new.lower[k][j]), -math.inf if zhat.lb is None else float(zhat.lb))
            up = min(float(new.upper[k][j]), math.inf if zhat.ub is None else float(zhat.ub))
            zhat.setlb(lo)
            zhat.setub(up)
            # z = max(0, zhat) for ReLU, z = zhat for a linear layer
            z_lo, z_up = (max(0.0, lo), max(0.0, up)) if layer.activation == "relu" else (lo, up)
            z = sub.z[key]
            z.setlb(max(z_lo, -math.inf if z.lb is None else float(z.lb)))
            z.setub(min(z_up, math.inf if z.ub is None else float(z.ub)))
            if layer.activation == "relu" and hasattr(
                sub, "_big_m_lb_relu"
            ):  # OMLT's big-M rows read these
                sub._big_m_lb_relu[key] = lo
                sub._big_m_ub_relu[key] = up
