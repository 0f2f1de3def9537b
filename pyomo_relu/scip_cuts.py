r"""Ideal single-neuron cuts for the big-M formulation, separated during a SCIP solve.

For an unstable neuron :math:`y = \max(0, w^T x + b)` with binary :math:`d`
and input bounds :math:`L \le x \le U`, let :math:`\breve L_i = L_i` and
:math:`\breve U_i = U_i` where :math:`w_i \ge 0` (:math:`\breve L_i = U_i`,
:math:`\breve U_i = L_i` where :math:`w_i < 0`).  For every subset :math:`I` of
the inputs

.. math::

    y \le \sum_{i \in I} w_i \bigl(x_i - \breve L_i (1 - d)\bigr)
          + \Bigl(b + \sum_{i \notin I} w_i \breve U_i\Bigr) d

is valid (:math:`d = 0`: the right side is :math:`\ge 0 = y`; :math:`d = 1`: it is
:math:`\ge w^T x + b = y`), and with the big-M rows these inequalities describe
the convex hull of the neuron on the box (Anderson, Huchette, Ma, Tjandraatmadja
and Vielma, "Strong mixed-integer programming formulations for trained neural
networks", Math. Programming 183, 2020, Theorem 1).  :math:`I = \emptyset` is the
big-M row :math:`y \le u d` with the box's :math:`u`, and :math:`I` = all inputs is
:math:`y \le z - l (1 - d)`.

Separation is linear in the number of weights: at an LP point
:math:`(x^*, y^*, d^*)` the right side is smallest with :math:`i \in I` exactly when
:math:`w_i (x^*_i - \breve L_i (1 - d^*)) < w_i \breve U_i d^*`, and the neuron's most
violated inequality is that one (if :math:`y^*` exceeds it).  All neurons are
separated at once with numpy.

The neurons are read from the rows the big-M formulations write on a block's
``mip`` (:mod:`pyomo_relu.formulations.writer`, :mod:`~pyomo_relu.formulations.encodings.bigm`):
``pre[k, j]`` is :math:`z = w^T x + b` over the previous layer's ``y`` (or the
block's inputs), ``y[k, j]`` the activation, ``d[k, j]`` the binary.  The input
bounds are the variables' bounds (the block's input box for its inputs), so
every cut holds for every point of the model: it is added as a global cut.

Use: ``include = ideal_cuts(m)`` (a model, a block or a list of blocks) gives
a callable ``include(scip_model, var_map)`` that includes the separator in a
``pyscipopt.Model`` built from the Pyomo model, where ``var_map`` maps each
Pyomo variable to its pyscipopt variable.  :func:`to_scip` builds such a
model from a linear Pyomo model.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pyomo.environ as pyo
from pyomo.common.collections import ComponentMap
from pyomo.common.config import ConfigDict, ConfigValue, NonNegativeFloat
from pyomo.repn import generate_standard_repn

from .block import ReluNetworkBlockData
from .errors import NotApplicableError, UnknownOptionError

__all__ = ["IDEAL_CUT_OPTIONS", "ideal_cuts", "to_scip"]

_EPS = np.finfo(np.float64).eps

_WHERE = "ideal_cuts"


def _frequency(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnknownOptionError(
            f"{_WHERE}: frequency={value!r} is not an integer >= 0; expected the node depth "
            "interval of separation (0: at the root only, 1: at every node, k: every k-th "
            "depth)."
        )
    return value


def _positive_int(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UnknownOptionError(
            f"{_WHERE}: max_cuts={value!r} is not an integer >= 1; expected the number of cuts "
            "per separation round."
        )
    return value


def _integer(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnknownOptionError(f"{_WHERE}: priority={value!r} is not an integer.")
    return value


#: the options of :func:`ideal_cuts`
IDEAL_CUT_OPTIONS = ConfigDict("ideal_cuts")
IDEAL_CUT_OPTIONS.declare(
    "frequency",
    ConfigValue(
        default=0,
        domain=_frequency,
        description="separate at every k-th node depth (0: at the root only)",
    ),
)
IDEAL_CUT_OPTIONS.declare(
    "max_cuts",
    ConfigValue(default=100, domain=_positive_int, description="most violated cuts per round"),
)
IDEAL_CUT_OPTIONS.declare(
    "min_efficacy",
    ConfigValue(
        default=1e-4,
        domain=NonNegativeFloat,
        description="smallest violation / Euclidean norm of a cut that is added",
    ),
)
IDEAL_CUT_OPTIONS.declare(
    "priority",
    ConfigValue(
        default=1000, domain=_integer, description="SCIP separator priority (>= 0: before cons)"
    ),
)


@dataclass
class _Neurons:
    r"""The unstable ReLU neurons of some blocks, as flat arrays over a list of variables.

    Entry ``e`` is the weight ``w[e]`` of variable ``var[e]`` in neuron
    ``neuron[e]``, with the bounds ``lo_w[e]`` (:math:`\breve L`) and ``hi_w[e]``
    (:math:`\breve U`) of that variable on the weight's side.
    """

    variables: list  # Pyomo VarData, each once
    neuron: np.ndarray
    var: np.ndarray
    w: np.ndarray
    lo_w: np.ndarray
    hi_w: np.ndarray
    bias: np.ndarray  # per neuron
    y: np.ndarray  # per neuron: index of y in variables
    d: np.ndarray  # per neuron: index of d in variables
    names: list  # per neuron: "block[k, j]"

    @property
    def n(self) -> int:
        return len(self.bias)


def _blocks(model_or_blocks) -> list:
    """The network blocks of a model or block, or the given list of blocks."""
    if isinstance(model_or_blocks, ReluNetworkBlockData):
        return [model_or_blocks]
    if isinstance(model_or_blocks, (list, tuple)):
        for blk in model_or_blocks:
            if not isinstance(blk, ReluNetworkBlockData):
                raise NotApplicableError(
                    f"{_WHERE}: {blk!r} is a {type(blk).__name__}, not a ReluNetworkBlock; pass a "
                    "model, a ReluNetworkBlock or a list of ReluNetworkBlocks."
                )
        return list(model_or_blocks)
    if hasattr(model_or_blocks, "component_data_objects"):
        if getattr(model_or_blocks, "is_indexed", lambda: False)():
            return [b for data in model_or_blocks.values() for b in _blocks(data)]
        return [
            b
            for b in model_or_blocks.component_data_objects(pyo.Block, active=True)
            if isinstance(b, ReluNetworkBlockData)
        ]
    raise NotApplicableError(
        f"{_WHERE}: {model_or_blocks!r} is a {type(model_or_blocks).__name__}; pass a Pyomo "
        "model, a ReluNetworkBlock or a list of ReluNetworkBlocks."
    )


def _check_layout(blk) -> None:
    """Refuse a block whose formulation is not written by the big-M encoding."""
    mip = blk.mip
    missing = [n for n in ("pre", "z", "y", "d") if mip.component(n) is None]
    if missing and blk.summary()["binaries"] > 0:
        raise NotApplicableError(
            f"{_WHERE}: the block {blk.name!r} has formulation {blk.formulation!r}, whose rows "
            f"have no {', '.join(missing)}; ideal cuts need a big-M formulation ('bigm', "
            "'tightened_bigm', 'scaled_bigm', 'tightened_scaled_bigm'). Rebuild it with "
            "blk.rebuild(formulation='tightened_bigm')."
        )


def _input_bounds(blk, var, box: dict) -> tuple[float, float]:
    lo = -math.inf if var.lb is None else float(var.lb)
    hi = math.inf if var.ub is None else float(var.ub)
    if id(var) in box:  # the block enforces its input box on its inputs
        b_lo, b_hi = box[id(var)]
        lo, hi = max(lo, b_lo), min(hi, b_hi)
    return lo, hi


def _neuron(blk, key, box):
    """``(y, d, [(var, w, lo, hi)], b)`` of unstable ReLU neuron ``key``, or None to skip it.

    Read from the row ``pre[key]``: ``sum c_i v_i + c_z z = r`` gives
    ``z = r / c_z - sum (c_i / c_z) v_i``.
    """
    mip = blk.mip
    d2 = mip.component("d2")
    if d2 is not None and key in d2:  # a clipped ReLU whose cap is reachable: another family
        return None
    con, z = mip.pre[key], mip.z[key]
    repn = generate_standard_repn(con.body, quadratic=False, compute_values=True)
    coef = dict(zip((id(v) for v in repn.linear_vars), repn.linear_coefs))
    c_z = coef.get(id(z), 0.0)
    if not repn.is_linear() or c_z == 0.0 or pyo.value(con.upper) != pyo.value(con.lower):
        return None
    rhs = float(pyo.value(con.upper)) - float(repn.constant)
    terms = []
    for v, c in zip(repn.linear_vars, repn.linear_coefs):
        if v is z or c == 0.0:
            continue
        lo, hi = _input_bounds(blk, v, box)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None  # no finite box: no cut of this family
        terms.append((v, -float(c) / c_z, lo, hi))
    return mip.y[key], mip.d[key], terms, rhs / c_z


def _collect(blocks) -> _Neurons:
    """The unstable ReLU neurons of ``blocks`` (their current formulations) as flat arrays."""
    index, variables = {}, []

    def col(v) -> int:
        if id(v) not in index:
            index[id(v)] = len(variables)
            variables.append(v)
        return index[id(v)]

    neuron, var, w, lo_w, hi_w, bias, ys, ds, names = ([] for _ in range(9))
    for blk in blocks:
        _check_layout(blk)
        mip = blk.mip
        if mip.component("d") is None:
            continue
        inputs = list(blk.inputs.values())
        box = {
            id(v): (float(lo), float(hi))
            for v, lo, hi in zip(inputs, blk.bounds.input_lb, blk.bounds.input_ub)
        }
        for key in mip.d:
            found = _neuron(blk, key, box)
            if found is None:
                continue
            y, d, terms, b = found
            n = len(bias)
            for v, wi, lo, hi in terms:
                neuron.append(n)
                var.append(col(v))
                w.append(wi)
                lo_w.append(lo if wi >= 0 else hi)
                hi_w.append(hi if wi >= 0 else lo)
            bias.append(b)
            ys.append(col(y))
            ds.append(col(d))
            names.append(f"{blk.name}[{key[0]},{key[1]}]")
    ints = {"dtype": np.int64}
    return _Neurons(
        variables,
        np.array(neuron, **ints),
        np.array(var, **ints),
        np.array(w, dtype=np.float64),
        np.array(lo_w, dtype=np.float64),
        np.array(hi_w, dtype=np.float64),
        np.array(bias, dtype=np.float64),
        np.array(ys, **ints),
        np.array(ds, **ints),
        names,
    )


def most_violated(data: _Neurons, values: np.ndarray):
    r"""The most violated inequality of each neuron at the point ``values`` (one per variable).

    Returns ``(violation, in_set, d_coef, rhs)``: per entry whether the input is
    in :math:`I`, and per neuron the cut
    :math:`y - \sum_{i \in I} w_i x_i - d_{coef}\, d \le rhs` and its violation at
    ``values`` (positive: the point is cut off).  The right-hand side is relaxed by
    a bound on the rounding error of its sums, so the cut is valid.
    """
    x, d = values[data.var], values[data.d][data.neuron]
    left = data.w * (x - data.lo_w * (1.0 - d))  # the entry's term when i is in I
    right = data.w * data.hi_w * d  # ... and when it is not
    in_set = left < right
    n = data.n
    w_lo, w_hi = data.w * data.lo_w, data.w * data.hi_w
    # y <= sum_I w x - sum_I w lo (1 - d) + (b + sum_notI w hi) d
    d_coef = data.bias + np.bincount(data.neuron, weights=np.where(in_set, w_lo, w_hi), minlength=n)
    rhs = -np.bincount(data.neuron, weights=np.where(in_set, w_lo, 0.0), minlength=n)
    size = np.bincount(data.neuron, minlength=n) + 2
    scale = np.bincount(data.neuron, weights=np.abs(w_lo) + np.abs(w_hi), minlength=n)
    rhs = rhs + 4 * size * _EPS * (scale + np.abs(data.bias) + 1.0)
    lhs = (
        values[data.y]
        - np.bincount(data.neuron, weights=np.where(in_set, data.w * x, 0.0), minlength=n)
        - d_coef * values[data.d]
    )
    return lhs - rhs, in_set, d_coef, rhs


def _separator_class():
    from pyscipopt import SCIP_RESULT, Sepa

    class IdealCutSeparator(Sepa):
        """SCIP separator of the ideal single-neuron cuts (module docstring)."""

        def __init__(self, data: _Neurons, scip_vars: list, options):
            self.data, self.scip_vars, self.options = data, scip_vars, options
            self.n_cuts = 0
            self.n_rounds = 0

        def sepainitsol(self):
            self.tvars = [self.model.getTransformedVar(v) for v in self.scip_vars]
            if self.model.getParam("separating/maxroundsroot") == 0 and (
                self.options.frequency == 0 or self.model.getParam("separating/maxrounds") == 0
            ):
                warnings.warn(
                    f"{_WHERE}: SCIP runs no separation rounds (separating/maxroundsroot = 0, "
                    "as in solve_model's settings='relu'), so no ideal cut is added; allow "
                    "rounds (e.g. separating/maxroundsroot = -1) and switch SCIP's own "
                    "separators off instead (scip_model.setSeparating(SCIP_PARAMSETTING.OFF) "
                    "before including the cuts).",
                    stacklevel=2,
                )
            return {}

        def sepaexeclp(self):
            data, opts = self.data, self.options
            self.n_rounds += 1
            values = np.array([v.getLPSol() for v in self.tvars], dtype=np.float64)
            violation, in_set, d_coef, rhs = most_violated(data, values)
            # Euclidean norm of each cut: y, the inputs in I, d
            sq = np.bincount(
                data.neuron, weights=np.where(in_set, data.w**2, 0.0), minlength=data.n
            )
            efficacy = violation / np.sqrt(1.0 + sq + d_coef**2)
            order = np.argsort(-efficacy)
            chosen = [n for n in order[: opts.max_cuts] if efficacy[n] > opts.min_efficacy]
            if not chosen:
                return {"result": SCIP_RESULT.DIDNOTFIND}
            starts = np.searchsorted(data.neuron, np.arange(data.n + 1))
            for n in chosen:
                self._add(n, starts, in_set, d_coef[n], rhs[n])
            return {"result": SCIP_RESULT.SEPARATED}

        def _add(self, n, starts, in_set, d_coef, rhs) -> None:
            m, data, tv = self.model, self.data, self.tvars
            row = m.createEmptyRowSepa(
                self, f"ideal_{data.names[n]}", lhs=None, rhs=float(rhs), local=False
            )
            m.cacheRowExtensions(row)
            m.addVarToRow(row, tv[data.y[n]], 1.0)
            m.addVarToRow(row, tv[data.d[n]], -float(d_coef))
            for e in range(starts[n], starts[n + 1]):
                if in_set[e]:
                    m.addVarToRow(row, tv[data.var[e]], -float(data.w[e]))
            m.flushRowExtensions(row)
            m.addCut(row, forcecut=False)
            m.releaseRow(row)
            self.n_cuts += 1

    return IdealCutSeparator


def ideal_cuts(model_or_blocks, **options):
    """A callable ``include(scip_model, var_map)`` that adds the ideal-cut separator to SCIP.

    Parameters
    ----------
    model_or_blocks : Pyomo model or block, ReluNetworkBlock, or list of them
        Where the network blocks are; their formulations must be big-M ones.
    **options
        :data:`IDEAL_CUT_OPTIONS`: ``frequency`` (0: root only), ``max_cuts`` per
        round, ``min_efficacy``, ``priority``.

    Returns
    -------
    callable
        ``include(scip_model, var_map)``: ``scip_model`` a ``pyscipopt.Model`` of the
        Pyomo model, not yet solved; ``var_map`` maps Pyomo variables to its
        variables.  The neurons are read when it is called (the blocks' current
        formulations).  It returns the separator, whose ``n_cuts`` counts the cuts
        added.

    Raises
    ------
    UnknownOptionError
        For an unknown option or a value outside its domain.
    NotApplicableError
        If a block's formulation is not a big-M one, or a variable of a neuron is
        not in ``var_map``.
    """
    try:
        cfg = IDEAL_CUT_OPTIONS(options)
    except ValueError as exc:
        if isinstance(exc.__context__, UnknownOptionError):
            raise exc.__context__ from None
        raise UnknownOptionError(
            f"{_WHERE}: {exc}".strip() + f" Valid options: {', '.join(IDEAL_CUT_OPTIONS)}."
        ) from None
    blocks = _blocks(model_or_blocks)
    for blk in blocks:
        _check_layout(blk)

    def include(scip_model, var_map):
        data = _collect(blocks)
        missing = [v for v in data.variables if v not in var_map]
        if missing:
            raise NotApplicableError(
                f"{_WHERE}: variable {missing[0].name!r} of a network block is not in var_map; "
                "pass the map of every Pyomo variable of the model to its SCIP variable."
            )
        sepa = _separator_class()(data, [var_map[v] for v in data.variables], cfg)
        scip_model.includeSepa(
            sepa,
            "relu_ideal",
            "ideal single-neuron cuts of ReLU big-M formulations",
            priority=cfg.priority,
            freq=cfg.frequency,
        )
        return sepa

    return include


def to_scip(m):
    """A ``pyscipopt.Model`` of the linear Pyomo model ``m`` and the map of its variables.

    Every active constraint and the active objective must be linear (a
    ReLU network's formulation is); fixed variables are constants.

    Returns
    -------
    (pyscipopt.Model, ComponentMap)
        The model and ``var_map`` (Pyomo variable -> pyscipopt variable).

    Raises
    ------
    NotApplicableError
        For a nonlinear row or objective, or a model without exactly one active objective.
    """
    from pyscipopt import Model, quicksum

    scip, var_map = Model(), ComponentMap()

    def column(v):
        if v not in var_map:
            vtype = "B" if v.is_binary() else "I" if v.is_integer() else "C"
            var_map[v] = scip.addVar(name=v.name, vtype=vtype, lb=v.lb, ub=v.ub)
        return var_map[v]

    def linear(expr, what):
        repn = generate_standard_repn(expr, quadratic=False, compute_values=True)
        if not repn.is_linear():
            raise NotApplicableError(f"to_scip: {what} is nonlinear; only linear models.")
        body = quicksum(float(c) * column(v) for v, c in zip(repn.linear_vars, repn.linear_coefs))
        return float(repn.constant), body

    for con in m.component_data_objects(pyo.Constraint, active=True, descend_into=True):
        const, body = linear(con.body, f"the row {con.name}")
        lo, hi = pyo.value(con.lower), pyo.value(con.upper)
        lhs = None if lo is None else float(lo) - const
        rhs = None if hi is None else float(hi) - const
        scip.addCons(body == lhs if lhs == rhs else _ranged(body, lhs, rhs), name=con.name)
    objs = list(m.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objs) != 1:
        raise NotApplicableError(f"to_scip: the model has {len(objs)} active objectives, not 1.")
    const, body = linear(objs[0].expr, f"the objective {objs[0].name}")
    scip.setObjective(body + const, "minimize" if objs[0].sense == pyo.minimize else "maximize")
    return scip, var_map


def _ranged(body, lhs, rhs):
    if lhs is None:
        return body <= rhs
    if rhs is None:
        return body >= lhs
    return (body <= rhs) >= lhs
