"""The objective cut-off of ``relu.tighten_bounds(objective_cutoff=...)``.

With a cut-off :math:`c`, the model-context pass bounds the neurons over the LP
relaxation of the whole model *plus* the row :math:`f(x) \\le c` (minimize) or
:math:`f(x) \\ge c` (maximize), where :math:`f` is the model's active, linear
objective.  Those bounds hold only at the points whose objective is at least as
good as :math:`c` (provenance ``Scope.CUTOFF``, label
``"lp-cutoff(objective<=c)"``), so the transformation also adds that row to the
model (:data:`CUTOFF_ROW`): the model keeps every point the bounds are valid for
and no other, its optimum is unchanged when it is at least as good as :math:`c`,
and it is infeasible otherwise.

``objective_cutoff="incumbent"`` takes :math:`c` from the model's current
variable values (a solution loaded in the model) after checking that they are a
feasible point (:func:`incumbent_cutoff`).

This module also keeps the provenance honest for later runs
(:func:`carry_cutoff`): bounds computed from bounds that hold only under a
cut-off hold only under it too.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pyomo.environ as pyo
from pyomo.common.modeling import unique_component_name
from pyomo.core.base.componentuid import ComponentUID
from pyomo.repn import generate_standard_repn

from ..bounds import NeuronBounds, Provenance, Scope
from ..errors import InfeasibleBoxError, NotApplicableError, NoValueError, UnknownOptionError

__all__ = ["CUTOFF_ROW", "Cutoff", "carry_cutoff", "cutoff_option", "resolve_cutoff"]

#: name of the row ``objective <= cutoff`` (``>=`` for maximize) the transformation adds to
#: the model: the bounds hold on its points
CUTOFF_ROW = "relu_objective_cutoff"

#: absolute and relative tolerance of the incumbent check (rows, bounds, integrality, network)
FEASIBILITY_TOL = 1e-6

_WHERE = "relu.tighten_bounds(objective_cutoff=...)"


class Cutoff(NamedTuple):
    """A cut-off ``value`` on the model's objective ``objective`` of sense ``sense``."""

    value: float
    sense: str  # "min" or "max"
    objective: object  # the active Pyomo ObjectiveData

    def provenance(self, method: str) -> Provenance:
        return Provenance(method, Scope.CUTOFF, self.value, self.sense)

    def tighter(self, other: float) -> float:
        """The stronger of this cut-off and ``other`` (same sense)."""
        return min(self.value, other) if self.sense == "min" else max(self.value, other)

    @property
    def text(self) -> str:
        return f"objective {'<=' if self.sense == 'min' else '>='} {self.value!r}"


def cutoff_option(value):
    """Config domain of ``objective_cutoff``: None, a finite number or ``"incumbent"``."""
    if value is None or value == "incumbent":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise UnknownOptionError(
            f"relu.tighten_bounds: objective_cutoff={value!r} is not a number; expected a "
            "finite objective value, 'incumbent' (the value of the solution loaded in the "
            "model) or None."
        )
    if not math.isfinite(float(value)):
        raise UnknownOptionError(
            f"relu.tighten_bounds: objective_cutoff={value!r} is not finite; expected a finite "
            "objective value, 'incumbent' or None."
        )
    return float(value)


cutoff_option.domain_name = lambda: "a finite number, 'incumbent' or None"


def _objective(model):
    """The one active objective of ``model``'s whole model; it must be linear."""
    top = model.model()
    found = list(top.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(found) != 1:
        raise NotApplicableError(
            f"{_WHERE}: the model {top.name!r} has {len(found)} active objectives; a cut-off "
            "needs exactly one (deactivate the others, or drop objective_cutoff)."
        )
    obj = found[0]
    repn = generate_standard_repn(obj.expr, quadratic=False, compute_values=True)
    if not repn.is_linear():
        raise NotApplicableError(
            f"{_WHERE}: the objective {obj.name!r} is nonlinear; a cut-off row must be linear "
            "to enter the LP relaxation. Move the nonlinear part into a constraint on an "
            "auxiliary variable and minimize that variable, or drop objective_cutoff."
        )
    return obj


def resolve_cutoff(model, blocks, value) -> Cutoff | None:
    """The :class:`Cutoff` of option value ``value`` (None, a number or ``"incumbent"``)."""
    if value is None:
        return None
    obj = _objective(model)
    sense = "min" if obj.sense == pyo.minimize else "max"
    if value == "incumbent":
        value = incumbent_cutoff(model, blocks, obj)
    return Cutoff(float(value), sense, obj)


# -- the incumbent --------------------------------------------------------------------
def _value(var):
    if var.value is None:
        raise NoValueError(
            f"{_WHERE[:-4]}'incumbent'): variable {var.name!r} has no value; load a solution "
            "(e.g. solve the model, or set every variable) before taking its objective as "
            "the cut-off."
        )
    return float(var.value)


def _near(found: float, want: float) -> bool:
    return abs(found - want) <= FEASIBILITY_TOL * max(1.0, abs(want))


def _not_incumbent(what: str) -> InfeasibleBoxError:
    return InfeasibleBoxError(
        f"{_WHERE[:-4]}'incumbent'): the model's current values are not a feasible point: "
        f"{what} (tolerance {FEASIBILITY_TOL}). Load a feasible solution, or pass the cut-off "
        "value itself."
    )


def _check_var(var) -> None:
    x = _value(var)
    if var.lb is not None and x < var.lb - FEASIBILITY_TOL * max(1.0, abs(var.lb)):
        raise _not_incumbent(f"{var.name} = {x} is below its lower bound {var.lb}")
    if var.ub is not None and x > var.ub + FEASIBILITY_TOL * max(1.0, abs(var.ub)):
        raise _not_incumbent(f"{var.name} = {x} is above its upper bound {var.ub}")
    if var.is_integer() or var.is_binary():
        if abs(x - round(x)) > FEASIBILITY_TOL:
            raise _not_incumbent(f"{var.name} = {x} is not integral")


def _check_block(blk) -> None:
    """The block's inputs in its box and its outputs equal to the forward pass."""
    x = np.array([_value(v) for v in blk.inputs.values()])
    box = blk.bounds
    tol = FEASIBILITY_TOL * np.maximum(1.0, np.abs(x))
    out = np.flatnonzero((x < box.input_lb - tol) | (x > box.input_ub + tol))
    if out.size:
        i = int(out[0])
        raise _not_incumbent(
            f"input {i} of {blk.name} is {x[i]}, outside the box "
            f"[{box.input_lb[i]}, {box.input_ub[i]}]"
        )
    want = blk.network.forward(x)
    got = np.array([_value(v) for v in blk.outputs.values()])
    for j, (g, w) in enumerate(zip(got, want)):
        if not _near(g, float(w)):
            raise _not_incumbent(f"output {j} of {blk.name} is {g}, the network gives {w}")


def incumbent_cutoff(model, blocks, obj) -> float:
    """The objective value at the model's current variable values, once they are checked feasible.

    Checked: every active constraint of the whole model outside the network
    blocks, the bounds and integrality of every variable they (and the
    objective) use, and for every network block its inputs (inside its box) and
    outputs (equal to the forward pass).  A block's internal variables are not
    checked: a point given by inputs and outputs alone (e.g. a forward pass) is
    completed by the formulation.

    Raises
    ------
    NoValueError
        If a checked variable has no value.
    InfeasibleBoxError
        If the values violate a row, bound, integrality or a network (the message names it).
    """
    top = model.model()
    inside = {id(c) for blk in blocks for c in blk.component_data_objects(pyo.Constraint)}
    seen = {}
    for con in top.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        if id(con) in inside:
            continue
        for var in _variables(con.body):
            seen.setdefault(id(var), var)
        body = pyo.value(con.body, exception=False)
        if body is None:
            raise _not_incumbent(f"the row {con.name} cannot be evaluated")
        lo, hi = pyo.value(con.lower), pyo.value(con.upper)
        if lo is not None and body < lo - FEASIBILITY_TOL * max(1.0, abs(lo)):
            raise _not_incumbent(f"the row {con.name} is {body}, below its lower side {lo}")
        if hi is not None and body > hi + FEASIBILITY_TOL * max(1.0, abs(hi)):
            raise _not_incumbent(f"the row {con.name} is {body}, above its upper side {hi}")
    for var in _variables(obj.expr):
        seen.setdefault(id(var), var)
    for blk in blocks:
        for var in list(blk.inputs.values()) + list(blk.outputs.values()):
            seen.setdefault(id(var), var)
    for var in seen.values():
        _check_var(var)
    for blk in blocks:
        _check_block(blk)
    return float(pyo.value(obj.expr))


def _variables(expr):
    from pyomo.core.expr.visitor import identify_variables

    return list(identify_variables(expr, include_fixed=False))


# -- the row and the provenance --------------------------------------------------------
def add_cutoff_row(clone, top, cutoff: Cutoff) -> None:
    """Add the row ``objective <= value`` (``>=`` to maximize) to ``clone``, a clone of ``top``."""
    obj = ComponentUID(cutoff.objective, context=top).find_component_on(clone)
    expr = obj.expr <= cutoff.value if cutoff.sense == "min" else obj.expr >= cutoff.value
    # the model may hold the row of an earlier cut-off already: it stays, this one is added
    clone.add_component(unique_component_name(clone, CUTOFF_ROW), pyo.Constraint(expr=expr))


def keep_cutoff_row(cutoff: Cutoff) -> None:
    """Add (or strengthen) the cut-off row of the model that holds the objective.

    The row is a constraint :data:`CUTOFF_ROW` on the objective's model; a row
    already there keeps the stronger of its value and the new one, since bounds
    computed under it hold only with it.
    """
    top = cutoff.objective.model()
    row = top.component(CUTOFF_ROW)
    value = cutoff.value
    if row is not None:
        old = pyo.value(row.upper if cutoff.sense == "min" else row.lower)
        value = cutoff.tighter(float(old))
        top.del_component(row)
    expr = cutoff.objective.expr
    top.add_component(
        CUTOFF_ROW, pyo.Constraint(expr=expr <= value if cutoff.sense == "min" else expr >= value)
    )


def _cutoffs(bounds: NeuronBounds) -> list[Provenance]:
    return [p for p in bounds.provenance if p.scope is Scope.CUTOFF]


def check_same_sense(bounds: NeuronBounds, cutoff: Cutoff | None, name: str) -> None:
    """Refuse a cut-off of the other sense than the one ``bounds`` were computed under."""
    if cutoff is None:
        return
    other = [p for p in _cutoffs(bounds) if p.sense != cutoff.sense]
    if other:
        raise NotApplicableError(
            f"{_WHERE}: the bounds of {name!r} hold only where {other[0].label} says, a cut-off "
            f"of the other sense than this model's {cutoff.text}; recompute the block's bounds "
            "without a cut-off first (blk.rebuild(bounds=pyomo_relu.interval_bounds(...)))."
        )


def carry_cutoff(cur: NeuronBounds, new: NeuronBounds, cutoff: Cutoff | None) -> NeuronBounds:
    """``new`` with every layer that may rest on a cut-off labelled with the strongest one.

    A tightening run reads the current bounds ``cur``; if some of them hold only
    under a cut-off, so does every layer it changed (it may have used them).
    Layers it left unchanged keep their provenance.  The label names the
    strongest cut-off involved (the points where all of them hold).
    """
    before = _cutoffs(cur)
    if not before:
        return new
    sense = before[0].sense
    values = [p.cutoff for p in before] + ([cutoff.value] if cutoff is not None else [])
    strongest = min(values) if sense == "min" else max(values)
    label = Provenance(before[0].method, Scope.CUTOFF, strongest, sense)
    out = new
    for k in range(new.n_layers):
        same = np.array_equal(new.lower[k], cur.lower[k]) and np.array_equal(
            new.upper[k], cur.upper[k]
        )
        if same:
            prov = cur.provenance[k]
        else:
            method = new.provenance[k].method
            prov = Provenance(method, Scope.CUTOFF, label.cutoff, sense)
        if prov != new.provenance[k]:
            out = out.with_layer(k, new.lower[k], new.upper[k], prov)
    if out is not new:
        out = out.replace(report=getattr(new, "report", None))
    return out
