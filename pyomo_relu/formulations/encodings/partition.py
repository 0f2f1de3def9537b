r"""The partition (P-split) encoding of one unstable ReLU neuron.

A neuron :math:`y = \max(0, z)` with :math:`z = \sum_i w_i a_i + b` and sound
bounds :math:`l < 0 < u` is the disjunction of an active branch
(:math:`y = z \ge 0`) and an inactive one (:math:`y = 0 \ge z`).  The big-M
encoding writes its convex hull only for the aggregated pre-activation; the
convex hull over the inputs themselves (the "extended" formulation) needs a copy
of every input per branch.  The partition encoding lies between the two: the
weighted inputs are split into :math:`P` groups :math:`S_1, \dots, S_P`, group
:math:`p` has the partial sum :math:`v_p = \sum_{i \in S_p} w_i a_i` with
bounds :math:`L_p \le v_p \le U_p` (interval arithmetic over the bounds of the
inputs), and the hull is taken over the :math:`v_p`.  With the active part
:math:`\zeta_p` of :math:`v_p` and the binary :math:`d` ("the neuron is active"):

.. math::

    y = \sum_p \zeta_p + b\,d,\qquad y \ge z,\qquad
    d\,L_p \le \zeta_p \le d\,U_p,\qquad
    (1 - d) L_p \le v_p - \zeta_p \le (1 - d) U_p \quad (p = 1, \dots, P),

together with the big-M rows of the neuron's own bounds, :math:`y \le u\,d` and
:math:`y \le z - l(1 - d)`, which keep the relaxation at least as tight as
big-M when the neuron's bounds (e.g. after LP tightening) are tighter than the
sum of the group bounds.  :math:`P = 1` is big-M; :math:`P = n` (one input per
group) is the convex hull of the neuron over its input box.  ``d = 1`` forces
:math:`\zeta_p = v_p`, so :math:`y = z \ge 0`; ``d = 0`` forces
:math:`\zeta_p = 0`, so :math:`y = 0 \ge z`: the encoding is exact.

Groups (``strategy``):

* ``"equal_size"``: the inputs in their order, cut into :math:`P` groups of
  (nearly) equal size;
* ``"by_weight"``: the inputs sorted by their signed weighted range
  :math:`w_i (\bar a_i - \underline a_i)`, then cut into :math:`P` equal
  groups, so that each group gathers terms of one sign and similar size
  (the weight-based partitions of Tsay et al.).

A neuron with fewer weighted inputs than :math:`P` leaves some groups empty
(their :math:`\zeta_p` is 0).  A clipped-ReLU neuron whose cap is reachable
(:math:`u > c`) has a second kink that the P-split does not cover; it is
written with the big-M rows of :mod:`.bigm` (one or two binaries), so the
encoding applies to every network.  Rows: ``p_sum``, ``p_ge_pre``, ``p_le_on``,
``p_le_pre``, and per group ``g`` ``p_act_lo{g}``/``p_act_hi{g}`` and
``p_off_lo{g}``/``p_off_hi{g}`` (each indexed by ``(layer, neuron)``); binaries
``d`` (and ``d2`` of the big-M rows); continuous variables ``part{g}``.

References: Tsay, Kronqvist, Thebelt & Misener, "Partition-based formulations
for mixed-integer optimization of trained ReLU neural networks", NeurIPS 2021;
Kronqvist, Misener & Tsay, "Between steps: intermediate relaxations between
big-M and convex hull formulations", CPAIOR 2021.
"""

from __future__ import annotations

import numbers

import numpy as np
from pyomo.environ import Binary, Reals

from ...bounds.interval import affine_interval
from ...errors import UnknownOptionError
from ..writer import linear
from .bigm import BigMEncoding

__all__ = ["PartitionEncoding", "PARTITION_STRATEGIES", "partition_groups"]

#: how the weighted inputs of a neuron are cut into groups
PARTITION_STRATEGIES = ("equal_size", "by_weight")


def partition_groups(coefs, lo, hi, n_parts: int, strategy: str) -> list[np.ndarray]:
    """The ``n_parts`` groups (index arrays into ``coefs``) of a neuron's nonzero weighted inputs.

    Parameters
    ----------
    coefs : array (n,)
        The neuron's weights on its input variables.
    lo, hi : array (n,)
        Bounds of those inputs.
    n_parts : int
        Number of groups; groups beyond the number of nonzero weights are empty.
    strategy : {"equal_size", "by_weight"}
        See the module docstring.
    """
    coefs = np.asarray(coefs, dtype=np.float64)
    used = np.flatnonzero(coefs)
    if strategy == "by_weight":
        spread = coefs[used] * (np.asarray(hi)[used] - np.asarray(lo)[used])
        used = used[np.argsort(spread, kind="stable")]
    return np.array_split(used, n_parts)


def _group_bounds(coefs, lo, hi, groups) -> tuple[np.ndarray, np.ndarray]:
    """Sound bounds ``[L_p, U_p]`` of every group's partial sum (outward-rounded intervals)."""
    weights = np.zeros((len(groups), len(coefs)))
    for p, idx in enumerate(groups):
        weights[p, idx] = np.asarray(coefs, dtype=np.float64)[idx]
    return affine_interval(weights, np.zeros(len(groups)), np.asarray(lo), np.asarray(hi))


def _check_parts(n_parts, owner: str) -> int:
    ok = isinstance(n_parts, numbers.Integral) and not isinstance(n_parts, bool)
    if not ok or n_parts < 1:
        raise UnknownOptionError(
            f"{owner}: n_parts must be an integer >= 1 (the number of groups the weighted inputs "
            f"of a neuron are split into), found {n_parts!r}; use e.g. n_parts=2."
        )
    return int(n_parts)


def _check_strategy(strategy, owner: str) -> str:
    if strategy not in PARTITION_STRATEGIES:
        raise UnknownOptionError(
            f"{owner}: strategy={strategy!r} is not one of {list(PARTITION_STRATEGIES)}; "
            "use 'equal_size' (inputs in order) or 'by_weight' (sorted by weighted range)."
        )
    return strategy


class PartitionEncoding:
    """P-split rows of one unstable ReLU neuron; see the module docstring.

    Parameters
    ----------
    n_parts : int
        Number of groups ``P`` (>= 1; default 2).
    strategy : {"equal_size", "by_weight"}
        How the weighted inputs are grouped.
    owner : str
        Named in the error for an invalid option.

    Raises
    ------
    UnknownOptionError
        If ``n_parts`` is not a positive integer or ``strategy`` is unknown.
    """

    def __init__(self, n_parts: int = 2, strategy: str = "equal_size", *, owner="partition"):
        self.n_parts = _check_parts(n_parts, owner)
        self.strategy = _check_strategy(strategy, owner)
        suffix = (
            ""
            if (self.n_parts, self.strategy) == (2, "equal_size")
            else (f"-{self.n_parts}-{self.strategy}")
        )
        self.name = "partition" + suffix
        self.description = (
            f"P-split of the weighted inputs into {self.n_parts} groups ({self.strategy}); "
            "big-M rows for a reachable cap"
        )
        self.variables = {
            "d": Binary,
            "d2": Binary,
            **{f"part{g}": Reals for g in range(self.n_parts)},
        }
        self._bigm = BigMEncoding()

    def plan(self, key, l: float, u: float, cap: float) -> dict:
        if u > cap or l >= 0.0:  # a reachable cap (or only the cap kink): the big-M rows
            return self._bigm.plan(key, l, u, cap)
        return {"d": None, **{f"part{g}": None for g in range(self.n_parts)}}

    def write(self, w, key, z, y, l: float, u: float, c: float) -> None:
        if w.var("part0", key) is None:
            self._bigm.write(w, key, z, y, l, u, c)
            return
        const, coefs, variables, lo, hi = w.neuron_inputs(key)
        groups = partition_groups(coefs, lo, hi, self.n_parts, self.strategy)
        low, up = _group_bounds(coefs, lo, hi, groups)
        d = w.var("d", key)
        parts = [w.var(f"part{g}", key) for g in range(self.n_parts)]
        # y = sum_p zeta_p + b d  (b: the bias and the constant inputs of the neuron)
        ones = [-1.0] * len(parts)
        w.row("p_sum", key, 0.0, linear(0.0, [1.0, *ones, -const], [y, *parts, d]), 0.0)
        # y >= z; y <= u d; y <= z - l (1 - d)
        w.row("p_ge_pre", key, 0.0, linear(0.0, [1.0, -1.0], [y, z]), None)
        w.row("p_le_on", key, None, linear(0.0, [1.0, -u], [y, d]), 0.0)
        w.row("p_le_pre", key, 0.0, linear(-l, [1.0, -1.0, l], [z, y, d]), None)
        for g, (idx, zeta) in enumerate(zip(groups, parts)):
            lg, ug = float(low[g]), float(up[g])
            # d L_p <= zeta_p <= d U_p
            w.row(f"p_act_lo{g}", key, 0.0, linear(0.0, [1.0, -lg], [zeta, d]), None)
            w.row(f"p_act_hi{g}", key, None, linear(0.0, [1.0, -ug], [zeta, d]), 0.0)
            if idx.size == 0:
                continue  # v_p = 0: the rows above already force zeta_p = 0
            # (1 - d) L_p <= v_p - zeta_p <= (1 - d) U_p
            v = [variables[i] for i in idx]
            gc = np.asarray(coefs, dtype=np.float64)[idx]
            w.row(f"p_off_lo{g}", key, 0.0, linear(-lg, [*gc, -1.0, lg], [*v, zeta, d]), None)
            w.row(f"p_off_hi{g}", key, None, linear(-ug, [*gc, -1.0, ug], [*v, zeta, d]), 0.0)

    def __repr__(self) -> str:
        return f"<encoding {self.name!r}: {self.description}>"
