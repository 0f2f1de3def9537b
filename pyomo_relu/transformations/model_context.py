"""Bounds over the LP relaxation of the whole model (``context="model"``), certified.

After the network context, :class:`_ModelContext` bounds each unstable neuron
of each block, layer by layer, over the LP relaxation of a clone of the whole
model: every active linear constraint over all the model's variables,
integrality relaxed, nonlinear constraints and rows with changeable values
dropped (so the relaxation stays valid), which lets constraints on the
network's outputs cut the hidden bounds.  In the clone every network block is
written with the plain big-M formulation, which has a variable ``z[k, j]`` for
each unstable neuron in the original network's units.

The relaxation is read into arrays (one row per constraint, through Pyomo's
standard representation) and solved by one HiGHS instance per run
(:class:`~.model_lp.CertifiedLP`); between two bounds only the objective
changes, and after each layer the block's new rows are passed again.  Each
bound is certified by the LP dual, so it holds for every point of the model.
The ``solver`` option is checked (a Pyomo solver name that is available) but
the LPs are solved by HiGHS directly.

With an objective cut-off (:mod:`.cutoff`) the relaxation also has the row
``objective <= cutoff`` (``>=`` to maximize); the bounds then hold only at the
points at least as good as the cut-off, and their provenance says so
(``Scope.CUTOFF``).  Each block's ``tightening_report`` is the report of this
pass (per layer: LP solves, stable neurons and big-M before and after).
"""

from __future__ import annotations

import logging
import math
import time
import warnings

import numpy as np
import pyomo.environ as pyo
from pyomo.common.log import LoggingIntercept
from pyomo.core.base.componentuid import ComponentUID
from pyomo.opt.base.solvers import UnknownSolver
from pyomo.repn import generate_standard_repn

from ..bounds import NeuronBounds, Provenance, Scope
from ..bounds.report import LayerReport, TighteningReport
from ..errors import InfeasibleBoxError, SolverUnavailableError, TimeLimitWarning
from .cutoff import Cutoff, add_cutoff_row, carry_cutoff
from .model_lp import CertifiedLP
from .model_rows import _changeable, _has_mutable

_WHERE = "relu.tighten_bounds(context='model')"

#: a further model-context pass runs only if the last one narrowed the total width by this share
MIN_GAIN = 1e-3


def _width(bounds: NeuronBounds) -> float:
    """Total width of the finite neuron bounds (a measure of how tight they are)."""
    widths = np.concatenate([u - lo for lo, u in zip(bounds.lower, bounds.upper)])
    return float(np.sum(widths[np.isfinite(widths)]))


def _check_solver(name: str) -> None:
    """Raise SolverUnavailableError unless Pyomo knows an available solver ``name``."""
    # Pyomo logs a warning with a traceback for a name it does not know; the error below says it
    with LoggingIntercept(module="pyomo.opt", level=logging.WARNING):
        solver = pyo.SolverFactory(name)
    if solver is None or isinstance(solver, UnknownSolver):
        raise SolverUnavailableError(
            f"{_WHERE}: LP solver {name!r} is not available: Pyomo knows no solver of that name; "
            "expected an LP solver such as 'appsi_highs' (the default), 'highs' or 'scip_direct'."
        )
    if not solver.available(exception_flag=False):
        hint = "install highspy (pip install highspy)" if "highs" in name else "install it"
        raise SolverUnavailableError(
            f"{_WHERE}: LP solver {name!r} is not available; "
            f"{hint} or pass solver='appsi_highs' / 'scip_direct'."
        )


class _Rows:
    """The active constraints of a model as arrays over a registry of its variables.

    Each constraint is read once (its standard representation is kept with a
    reference to it, so its id cannot be reused by a later component), and
    each variable gets a fixed column number in the registry.
    """

    def __init__(self):
        self.variables, self._col = [], {}
        self._read = {}  # id(constraint) -> (constraint, cols, coefs, lo, hi)

    def column(self, var) -> int:
        col = self._col.get(id(var))
        if col is None:
            col = self._col[id(var)] = len(self.variables)
            self.variables.append(var)
        return col

    def _row(self, con):
        repn = generate_standard_repn(con.body, quadratic=False, compute_values=True)
        if not repn.is_linear():  # the clone has no such rows left: dropping one is sound anyway
            return None
        const = float(repn.constant)
        lo, hi = pyo.value(con.lower), pyo.value(con.upper)
        lo = -math.inf if lo is None else float(lo) - const
        hi = math.inf if hi is None else float(hi) - const
        if const != 0.0:  # the subtraction rounds: widen by one unit in the last place
            lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
        cols = np.array([self.column(v) for v in repn.linear_vars], dtype=np.int64)
        coefs = np.array([float(c) for c in repn.linear_coefs], dtype=np.float64)
        return con, cols, coefs, lo, hi

    def arrays(self, model, targets):
        """``(col_lo, col_hi, row_lo, row_hi, rows, cols, vals, target_cols)``: the LP of ``model``.

        The LP has the model's active constraints (as a solver reads them:
        descending into blocks, not into disjuncts), the variables they use and
        ``targets``, numbered by this LP's own columns.
        """
        read, self._read = self._read, {}
        for con in model.component_data_objects(pyo.Constraint, active=True, descend_into=True):
            row = read.get(id(con))
            row = row if row is not None and row[0] is con else self._row(con)
            if row is not None:
                self._read[id(con)] = row
        rows = list(self._read.values())
        target_cols = np.array([self.column(v) for v in targets], dtype=np.int64)
        cols = np.concatenate([r[1] for r in rows] + [target_cols])
        used, local = np.unique(cols, return_inverse=True)
        n_entries = sum(len(r[1]) for r in rows)
        variables = [self.variables[c] for c in used]
        col_lo = np.array([-math.inf if v.lb is None else float(v.lb) for v in variables])
        col_hi = np.array([math.inf if v.ub is None else float(v.ub) for v in variables])
        return (
            col_lo,
            col_hi,
            np.array([r[3] for r in rows], dtype=np.float64),
            np.array([r[4] for r in rows], dtype=np.float64),
            np.repeat(np.arange(len(rows)), [len(r[1]) for r in rows]),
            local[:n_entries],
            np.concatenate([r[2] for r in rows] + [np.zeros(0)]),
            local[n_entries:],
        )


class _ModelContext:
    """Layer-by-layer bounds over the LP relaxation of a clone of the whole model."""

    def __init__(self, model, blocks, cfg, cutoff: Cutoff | None = None):
        self.model, self.blocks, self.cfg, self.cutoff = model, blocks, cfg, cutoff
        _check_solver(cfg.solver)
        try:
            self.lp = CertifiedLP()  # one HiGHS instance for the whole run
        except ImportError as exc:  # pragma: no cover - highspy is a dependency
            raise SolverUnavailableError(f"{_WHERE} needs highspy: pip install highspy.") from exc

    def run(self):
        clone, twins = _relaxation(self.model, self.blocks)
        if self.cutoff is not None:
            add_cutoff_row(clone, self.model.model(), self.cutoff)
        rows = _Rows()
        for blk, twin in zip(self.blocks, twins):
            new, report = self._passes(clone, twin, rows)
            blk.rebuild(bounds=carry_cutoff(blk.bounds, new, self.cutoff))
            blk.tightening_report = report

    def _passes(self, clone, twin, rows) -> tuple[NeuronBounds, TighteningReport]:
        """Up to ``cfg.passes`` passes over ``twin``, each from the bounds of the one before.

        A pass tightens each neuron over an LP whose big-M rows use the bounds of
        the pass before, so a second pass can gain again.  The passes stop when
        one narrows the total width of the bounds by less than :data:`MIN_GAIN`.
        The report lists the layers of every pass, one after the other.
        """
        new, report = self._tighten_block(clone, twin, rows)
        for _ in range(self.cfg.passes - 1):
            before = _width(new)
            new, more = self._tighten_block(clone, twin, rows)
            report.layers += more.layers
            report.total_time += more.total_time
            if not before - _width(new) > MIN_GAIN * before:
                break
        return new, report

    def _load(self, clone, twin, rows) -> dict:
        """Pass the LP of ``clone`` to HiGHS; returns the column of each target of ``twin``."""
        targets = list(twin.outputs.values()) + list(twin.mip.z.values())
        *lp, target_cols = rows.arrays(clone, targets)
        self.lp.load(*lp)
        return {id(v): int(c) for v, c in zip(targets, target_cols)}

    def _provenance(self) -> Provenance:
        if self.cutoff is None:
            return Provenance("lp", Scope.MODEL)
        return self.cutoff.provenance("lp")

    def _tighten_block(self, clone, twin, rows) -> tuple[NeuronBounds, TighteningReport]:
        """Bounds of ``twin``'s network over the relaxed ``clone``, layer by layer, and a report.

        ``time_limit`` (per block) stops the pass: the neurons not reached keep
        their current bounds, which are sound, and a TimeLimitWarning says how many.
        """
        from tqdm.auto import tqdm

        bounds = twin.bounds.copy()
        limit = self.cfg.time_limit
        start = time.perf_counter()
        deadline = None if limit is None else start + limit
        skipped = 0
        report = TighteningReport(method=self._provenance().label)

        def candidates(k):
            # the outputs are the pre-activations of a linear last layer, not of a piecewise one
            if k == bounds.n_layers - 1 and not bounds.is_piecewise(k):
                return range(len(bounds.lower[k])), True
            return np.flatnonzero(bounds.unstable(k)), False

        # this pass solves two LPs of the whole model per neuron: the longest part of the
        # transformation
        estimate = [len(candidates(k)[0]) for k in range(bounds.n_layers)]
        column = self._load(clone, twin, rows)
        with tqdm(
            total=sum(estimate),
            disable=not self.cfg.progress,
            unit="neuron",
            desc=f"model LP bounds {twin.name}",
        ) as bar:
            for k in range(bounds.n_layers):
                todo, linear_out = candidates(k)
                bar.total -= estimate[k] - len(todo)  # earlier layers made more neurons stable
                layer = LayerReport(k, len(bounds.lower[k]), bounds.is_piecewise(k))
                layer.n_candidates = len(todo)
                layer.record_before(bounds)
                report.layers.append(layer)
                began, done = time.perf_counter(), 0
                lower, upper = bounds.lower[k].copy(), bounds.upper[k].copy()
                for j in todo:
                    if deadline is not None and time.perf_counter() > deadline:
                        break
                    col = column[id(twin.outputs[j] if linear_out else twin.mip.z[k, j])]
                    lo, up = self._bound(col, "min", deadline), self._bound(col, "max", deadline)
                    lower[j], upper[j] = max(lower[j], lo), min(upper[j], up)
                    if lower[j] > upper[j]:
                        self._empty(twin, k, j, lower[j], upper[j])
                    done += 1
                    bar.update(1)
                skipped += len(todo) - done
                layer.n_solves, layer.n_time_limited = 2 * done, len(todo) - done
                layer.time = time.perf_counter() - began
                if done == 0:
                    layer.record_after(bounds)
                    continue  # nothing of this layer was computed: its bounds and their label stay
                bounds = bounds.with_layer(k, lower, upper, self._provenance())
                layer.record_after(bounds)
                twin.rebuild(bounds=bounds)
                if k + 1 < bounds.n_layers:
                    column = self._load(clone, twin, rows)
        if skipped:
            warnings.warn(
                TimeLimitWarning(
                    f"{_WHERE}: the time limit of {limit} s stopped the pass over "
                    f"{twin.name!r} with {skipped} neuron(s) left; their bounds are sound but may "
                    "be looser - raise time_limit for tighter bounds."
                ),
                stacklevel=2,
            )
        report.total_time = time.perf_counter() - start
        return twin.bounds, report

    def _no_point(self) -> str:
        if self.cutoff is None:
            return "the model's constraints admit no point."
        return (
            f"no point of the model has {self.cutoff.text} (the cut-off is better than every "
            "feasible objective value); pass a cut-off at least as weak as a known feasible "
            "value, e.g. objective_cutoff='incumbent' with a solution loaded."
        )

    def _empty(self, twin, k: int, j: int, lower: float, upper: float):
        raise InfeasibleBoxError(
            f"{_WHERE}: neuron ({k}, {j}) of {twin.name!r} has certified bounds {lower} > "
            f"{upper}, so the LP relaxation is infeasible: {self._no_point()}"
        )

    def _bound(self, col: int, sense: str, deadline) -> float:
        """Certified bound of column ``col`` (``-inf`` / ``inf`` when there is none)."""
        value, infeasible = self.lp.bound(col, sense, deadline)
        if infeasible:
            raise InfeasibleBoxError(
                f"{_WHERE}: the LP relaxation of the model is infeasible; {self._no_point()}"
            )
        if value is None:
            return -math.inf if sense == "min" else math.inf  # keep the current bound
        return value


def _relaxation(model, blocks):
    """A clone of ``model``'s whole model reduced to its LP relaxation, and the twins of ``blocks``.

    The clone keeps the active linear constraints of ``model`` (integrality is
    relaxed when the rows are read), without objectives, with changeable values
    freed, and with every twin block written with the plain big-M formulation.
    """
    # the whole model is cloned even when the transformation is applied to one of its blocks:
    # a block's clone would share the variables outside it (e.g. the network's inputs) with
    # the user's model, and those could not be relaxed
    top = model.model()
    clone = top.clone()
    root = _twin(clone, model, top)
    own = {
        id(c) for c in root.component_data_objects(pyo.Constraint, active=True, descend_into=True)
    }
    for obj in clone.component_data_objects(pyo.Objective, active=True):
        obj.deactivate()
    for con in clone.component_data_objects(pyo.Constraint, active=True):
        if id(con) not in own or con.body.polynomial_degree() not in (0, 1) or _changeable(con):
            con.deactivate()  # dropping a constraint relaxes the model: still sound
    _free_changeable_values(clone)
    twins = [_twin(clone, blk, top) for blk in blocks]
    for twin in twins:
        # the plain big-M formulation has a variable z[k, j] for each unstable neuron in the
        # original network's units (scaled or region-based formulations do not)
        twin.rebuild(formulation="bigm")
    return clone, twins


def _twin(clone, component, top):
    """The component of ``clone`` (a clone of the model ``top``) corresponding to ``component``."""
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
