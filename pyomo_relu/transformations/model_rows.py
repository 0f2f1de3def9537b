"""The network blocks of a model and the model's linear rows outside them.

:func:`find_network_blocks` finds the active
:class:`~pyomo_relu.block.ReluNetworkBlock` data objects of a model (or of the
transformation's ``targets``).  :func:`linear_user_rows` reads the model's
active linear constraints outside those blocks once, and
:func:`input_constraints` picks the rows that involve only one block's inputs,
as the ``(A, lo, hi)`` extra constraints of LP / MILP tightening.  Rows that
use a fixed variable or a mutable parameter are left out (:func:`_changeable`):
bounds derived from them would not survive a change of those values.
"""

from __future__ import annotations

import math

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numvalue import native_numeric_types
from pyomo.core.expr.visitor import identify_mutable_parameters, identify_variables
from pyomo.gdp import Disjunct
from pyomo.gdp.disjunct import DisjunctData
from pyomo.repn import generate_standard_repn

from ..block import ReluNetworkBlockData
from ..errors import NotApplicableError, UnknownOptionError
from ..interop.omlt import is_omlt_block

__all__ = [
    "find_network_blocks",
    "input_constraints",
    "linear_user_rows",
    "refuse_transformed_disjuncts",
    "target_roots",
]


def target_roots(model, targets) -> list:
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


def _transformed_disjunct(component):
    """The Disjunct that a GDP transformation already relaxed and that holds ``component``."""
    node = component
    while node is not None:
        if isinstance(node, DisjunctData) and node.transformation_block is not None:
            return node
        node = node.parent_block()
    return None


def refuse_transformed_disjuncts(model, targets=None) -> None:
    """Raise NotApplicableError if a network block to tighten is in a GDP-transformed Disjunct.

    ``gdp.bigm`` and ``gdp.hull`` copy the rows of a Disjunct, relaxed, into their
    reformulation block and deactivate the Disjunct.  Rebuilding a network block in
    there would write its new rows into the inactive Disjunct and leave the relaxed
    copies on the deleted variables of the old formulation, so such a block is
    refused, whether it is a target itself or found inside one (or inside ``model``).
    """
    for root in target_roots(model, targets):
        for data in root.values() if root.is_indexed() else [root]:
            if isinstance(data, ReluNetworkBlockData):
                inside = [data]
            elif hasattr(data, "component_data_objects"):
                inside = [
                    blk
                    for blk in data.component_data_objects(
                        pyo.Block, active=None, descend_into=(pyo.Block, Disjunct)
                    )
                    if isinstance(blk, ReluNetworkBlockData)
                ]
            else:
                continue  # find_network_blocks names what is wrong with it
            for blk in inside:
                disjunct = _transformed_disjunct(blk)
                if disjunct is not None:
                    raise NotApplicableError(
                        f"relu.tighten_bounds: the network block {blk.name!r} is in the "
                        f"disjunct {disjunct.name!r}, which a GDP transformation has already "
                        f"relaxed into {disjunct.transformation_block.name!r}; rebuilding the "
                        "block there would leave those relaxed rows on deleted variables. "
                        "Apply relu.tighten_bounds before gdp.bigm / gdp.hull (tighten the "
                        "GDP model, then transform it)."
                    )


def find_network_blocks(model, targets=None) -> list:
    """The active ReluNetworkBlock data objects in ``model`` (or in / equal to ``targets``)."""
    found = []
    for root in target_roots(model, targets):
        datas = root.values() if root.is_indexed() else [root]
        for data in datas:
            if isinstance(data, ReluNetworkBlockData):
                found.append(data)
                continue
            if is_omlt_block(data):
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
