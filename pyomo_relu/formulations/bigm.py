r"""Big-M formulations of ReLU and clipped-ReLU networks.

For a neuron with pre-activation :math:`z = w^\top a + b` and sound bounds
:math:`l \le z \le u`:

* ReLU, :math:`l < 0 < u` (unstable): binary :math:`d`,

  .. math:: y \ge z,\quad y \ge 0,\quad y \le z - l(1-d),\quad y \le u\,d.

* ReLU, :math:`l \ge 0`: :math:`y = z`; :math:`u \le 0`: :math:`y = 0` (the
  neuron is dropped and contributes nothing downstream).  Stable neurons get no
  binary.
* Clipped ReLU :math:`\min(\max(0, z), c)`: binaries :math:`d_1` (":math:`z \ge 0`")
  and :math:`d_2` (":math:`z \ge c`") with :math:`d_2 \le d_1`,

  .. math:: y \ge z - (u - c) d_2,\quad y \le z - l(1 - d_1),\quad
            y \le c\,d_1,\quad y \ge c\,d_2,\quad 0 \le y \le c.

  A kink that is not reachable fixes its binary (:math:`l \ge 0 \Rightarrow d_1 = 1`,
  :math:`u \le c \Rightarrow d_2 = 0`), so a neuron needs two, one or no binaries.

Unstable neurons get a pre-activation variable :math:`z` (one equality row
carries the dense weights once; the big-M rows then have 2-3 terms).
Reference: Fischetti & Jo, "Deep neural networks and mixed integer linear
optimization", Constraints 23 (2018); Plate et al., arXiv 2502.03016 (2025).
"""

from __future__ import annotations

import numpy as np
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.core.expr.numeric_expr import MonomialTermExpression as _Monomial
from pyomo.environ import Binary, Constraint, Reals, Set, Var

from .._options import seconds_option
from ..bounds import NeuronBounds
from ..network import ReluNetwork
from .base import Formulation, Prepared, recall, remember


def _linear(const: float, coefs: np.ndarray, variables: list) -> tuple[float, LinearExpression]:
    """``(const, sum coefs * variables)`` of one Pyomo row, skipping zero coefficients.

    The constant is kept apart and moved into the row's bounds by the caller,
    so every row reaches the solver as ``lo <= a^T v <= hi``.  Monomials are
    created directly (the keyword form of LinearExpression is ~1.5x slower).
    """
    nz = np.flatnonzero(coefs)
    if nz.size != coefs.size:
        coefs, variables = coefs[nz], [variables[i] for i in nz]
    return float(const), LinearExpression(
        [_Monomial((c, v)) for c, v in zip(coefs.tolist(), variables)]
    )


def _pairs(keys: list) -> Set:
    """An ordered index set of ``(layer, neuron)`` pairs (dimension 2 even when empty)."""
    return Set(initialize=keys, dimen=2)


class _LayerInput:
    """Previous layer's activations: Pyomo variables for some neurons, constants for the rest."""

    def __init__(self, variables: list, var_idx: np.ndarray, const: np.ndarray):
        self.variables = variables  # VarData for neurons var_idx
        self.var_idx = var_idx
        self.const = const  # value of every neuron that is not a variable (0 elsewhere)

    def rows(self, weights: np.ndarray, bias: np.ndarray):
        """Yield (constant, coefs) of ``weights @ a + bias`` over ``self.variables``."""
        const = bias + weights @ self.const
        sub = weights[:, self.var_idx]
        for j in range(weights.shape[0]):
            yield const[j], sub[j]


class _Writer:
    """Writes the big-M rows of a (prepared) network onto a Pyomo block."""

    def __init__(self, block, net: ReluNetwork, bounds: NeuronBounds):
        self.block, self.net, self.bounds = block, net, bounds
        self.keys = {"z": [], "y": [], "d": [], "d2": []}
        self.bnds = {"z": {}, "y": {}}
        self.rows = {}  # constraint name -> {key: (lo, body, hi)}
        self.counts = {"binaries": 0, "stable": 0, "unstable": 0, "dropped": 0}
        self.input_used = np.zeros(net.n_inputs, dtype=bool)  # inputs that some row of layer 0 uses

    def _row(self, name, key, lo, body, hi):
        """Store ``lo <= const + expr <= hi`` as ``lo - const <= expr <= hi - const``."""
        const, expr = body
        lo = None if lo is None else lo - const
        hi = None if hi is None else hi - const
        self.rows.setdefault(name, {})[key] = (
            (expr == lo) if lo is not None and lo == hi else (lo, expr, hi)
        )

    def _declare_vars(self):
        b = self.block
        # dicts (not lambdas) as initializers keep the model picklable.  The index sets are
        # declared 2-dimensional: an empty list gives a set of unknown dimension, which
        # Pyomo's slicing (and so gdp.bigm / gdp.hull on a block inside a Disjunct) rejects
        b.z = Var(_pairs(self.keys["z"]), domain=Reals, bounds=self.bnds["z"], dense=False)
        b.y = Var(_pairs(self.keys["y"]), domain=Reals, bounds=self.bnds["y"], dense=False)
        b.d = Var(_pairs(self.keys["d"]), domain=Binary, dense=False)
        b.d2 = Var(_pairs(self.keys["d2"]), domain=Binary, dense=False)

    def plan(self):
        """First pass: decide variables (needs no Pyomo), so Vars are created in bulk."""
        self.plans = []
        for k, layer in enumerate(self.net.layers):
            lo, up = self.bounds.lower[k], self.bounds.upper[k]
            post_lo, post_up = self.bounds.post_bounds(
                k
            )  # once per layer: it builds arrays of the layer's width
            last = k == len(self.net.layers) - 1
            if not layer.activation.is_piecewise:
                kinds = np.full(layer.n_out, "lin" if not last else "out", dtype=object)
            else:
                cap = self.bounds.caps[k]
                kinds = np.empty(layer.n_out, dtype=object)
                kinds[:] = "bin"
                kinds[up <= 0.0] = "off"
                kinds[lo >= cap] = "sat"
                kinds[(lo >= 0.0) & (up <= cap)] = "lin"
            for j, kind in enumerate(kinds):
                if kind == "bin":
                    self.keys["z"].append((k, j))
                    self.bnds["z"][k, j] = (float(lo[j]), float(up[j]))
                    if lo[j] < 0.0:
                        self.keys["d"].append((k, j))
                    if up[j] > self.bounds.caps[k][j]:
                        self.keys["d2"].append((k, j))
                if kind in ("bin", "lin"):
                    self.keys["y"].append((k, j))
                    self.bnds["y"][k, j] = (float(post_lo[j]), float(post_up[j]))
            self.plans.append(kinds)

    def write(self, inputs: list, outputs) -> dict:
        self.plan()
        self._declare_vars()
        b = self.block
        a = _LayerInput(list(inputs), np.arange(len(inputs)), np.zeros(len(inputs)))
        for k, layer in enumerate(self.net.layers):
            a = self._layer(k, layer, a, outputs)
        self._unused_inputs(list(inputs))
        for name, rows in self.rows.items():
            setattr(b, name, Constraint(list(rows), rule=rows))
        self.counts["binaries"] = len(self.keys["d"]) + len(self.keys["d2"])
        return dict(self.counts)

    def _unused_inputs(self, inputs: list) -> None:
        """A box row for every input that no row uses (zero weights, or only stable neurons).

        Solvers assign values only to the variables of the rows they are
        given; the row ``lb <= x_i <= ub`` (the box the block enforces anyway)
        keeps every input in the model, so its value is part of the solution.
        """
        for i in np.flatnonzero(~self.input_used):
            lo, up = float(self.bounds.input_lb[i]), float(self.bounds.input_ub[i])
            self._row("free_input", (0, int(i)), lo, _linear(0.0, np.array([1.0]), [inputs[i]]), up)

    def _layer(self, k, layer, a: _LayerInput, outputs) -> _LayerInput:
        b, kinds = self.block, self.plans[k]
        caps = self.bounds.caps[k]
        lo, up = self.bounds.lower[k], self.bounds.upper[k]
        nxt_vars, nxt_idx, nxt_const = [], [], np.zeros(layer.n_out)
        for j, (const, coefs) in enumerate(a.rows(layer.weights, layer.bias)):
            kind = kinds[j]
            if k == 0 and kind not in (
                "off",
                "sat",
            ):  # this row uses the inputs with nonzero weight
                self.input_used |= coefs != 0.0
            if kind == "out":
                self._row(
                    "output",
                    (k, j),
                    0.0,
                    _linear(const, np.append(coefs, -1.0), a.variables + [outputs[j]]),
                    0.0,
                )
                continue
            if kind in ("off", "sat"):
                nxt_const[j] = 0.0 if kind == "off" else caps[j]
                self.counts["dropped" if kind == "off" else "stable"] += 1
                continue
            y = b.y[k, j]
            nxt_vars.append(y)
            nxt_idx.append(j)
            if kind == "lin":
                self.counts["stable"] += layer.activation.is_piecewise
                self._row(
                    "linear",
                    (k, j),
                    0.0,
                    _linear(const, np.append(coefs, -1.0), a.variables + [y]),
                    0.0,
                )
                continue
            self.counts["unstable"] += 1
            z = b.z[k, j]
            self._row(
                "pre", (k, j), 0.0, _linear(const, np.append(coefs, -1.0), a.variables + [z]), 0.0
            )
            self._bigm_rows(k, j, z, y, float(lo[j]), float(up[j]), float(caps[j]))
        if k == len(self.net.layers) - 1 and kinds[0] != "out":
            # piecewise output layer: outputs equal the activations
            for j in range(layer.n_out):
                if kinds[j] in ("off", "sat"):
                    self._row(
                        "output",
                        (k, j),
                        nxt_const[j],
                        _linear(0.0, np.array([1.0]), [outputs[j]]),
                        nxt_const[j],
                    )
                else:
                    self._row(
                        "output",
                        (k, j),
                        0.0,
                        _linear(0.0, np.array([1.0, -1.0]), [outputs[j], b.y[k, j]]),
                        0.0,
                    )
        return _LayerInput(nxt_vars, np.asarray(nxt_idx, dtype=int), nxt_const)

    def _bigm_rows(self, k, j, z, y, l, u, c):
        """Rows of one unstable (clipped) ReLU; see the module docstring."""
        b, key = self.block, (k, j)
        d1 = b.d[key] if l < 0.0 else None  # None: d1 fixed to 1
        d2 = b.d2[key] if u > c else None  # None: d2 fixed to 0
        # y >= z - (u - c) d2
        if d2 is None:
            self._row("ge_pre", key, 0.0, _linear(0.0, np.array([1.0, -1.0]), [y, z]), None)
        else:
            self._row(
                "ge_pre", key, 0.0, _linear(0.0, np.array([1.0, -1.0, u - c]), [y, z, d2]), None
            )
            # y >= c d2
            self._row("ge_cap", key, 0.0, _linear(0.0, np.array([1.0, -c]), [y, d2]), None)
        if d1 is not None:
            # y <= z - l (1 - d1)  <=>  z - y - l + l d1 >= 0
            self._row("le_pre", key, 0.0, _linear(-l, np.array([1.0, -1.0, l]), [z, y, d1]), None)
            # y <= min(u, c) d1
            self._row("le_on", key, None, _linear(0.0, np.array([1.0, -min(u, c)]), [y, d1]), 0.0)
        else:
            self._row("le_pre", key, 0.0, _linear(0.0, np.array([1.0, -1.0]), [z, y]), None)
        if d1 is not None and d2 is not None:
            self._row("order", key, None, _linear(0.0, np.array([1.0, -1.0]), [d2, d1]), 0.0)


class BigM(Formulation):
    """Big-M with the bounds given to the block (interval bounds by default)."""

    name = "bigm"
    description = "big-M rows from the block's bounds (interval arithmetic unless tightened)"

    def build(self, block, prepared: Prepared, inputs, outputs) -> dict:
        return _Writer(block, prepared.network, prepared.bounds).write(inputs, outputs)


#: recent LP tightenings: (id(network), bounds.content_key()) -> (weakref to network, (bounds, report))
_TIGHTENED: dict = {}
_TIGHTENED_SIZE = 8


class TightenedBigM(BigM):
    """Big-M after LP-based bound tightening (OBBT) of every unstable neuron.

    The tightened bounds of the last :data:`_TIGHTENED_SIZE` (network, bounds)
    pairs are remembered, so an indexed block that embeds one network many
    times over the same box (e.g. once per time period) solves its LPs once
    instead of once per copy; ``lp_bounds`` is deterministic, so the bounds are
    the same either way (the report is that of the first computation).
    """

    name = "tightened_bigm"
    description = "LP bound tightening (OBBT) when built, then big-M"

    def __init__(self, time_limit: float | None = None):
        """``time_limit``: seconds for the LP tightening of one block (None: no limit).

        Neurons left when it runs out keep their interval bounds (sound, less
        tight), and a ``TimeLimitWarning`` says how many.
        """
        self.time_limit = seconds_option(time_limit, "TightenedBigM")

    def prepare(self, net, bounds, *, workers=1, progress=False) -> Prepared:
        from ..bounds.lp import lp_bounds

        # interval bounds of the first layer are exact, so LP tightening starts at layer 1
        if bounds.layers_by("interval") in ([], [0]):
            return Prepared(net, bounds, bounds)  # already tightened (e.g. by relu.tighten_bounds)
        key = (id(net), bounds.content_key())
        hit = recall(_TIGHTENED, key, net)
        if hit is not None:
            tight, report = hit[0].replace(report=hit[1]), hit[1]
        else:
            tight = lp_bounds(
                net,
                bounds.input_lb,
                bounds.input_ub,
                prior=bounds,
                workers=workers,
                progress=progress,
                time_limit=self.time_limit,
            )
            report = getattr(tight, "report", None)
            if report is None or not report.n_time_limited:  # bounds cut short are not reused
                remember(_TIGHTENED, key, net, (tight.copy(), report), size=_TIGHTENED_SIZE)
        return Prepared(net, tight, tight, report=report)


class ScaledBigM(BigM):
    """Big-M on the rescaled network (every hidden big-M at most 1); outputs stay in original units."""

    name = "scaled_bigm"
    description = "rescale hidden neurons so |l|, |u| <= 1 (function preserving), then big-M"

    def prepare(self, net, bounds, *, workers=1, progress=False) -> Prepared:
        from ..reductions import rescale

        scaled = rescale(net, bounds)
        return Prepared(scaled.network, scaled.bounds, bounds, scaling=scaled)


class TightenedScaledBigM(BigM):
    """LP tightening, then rescaling with the tightened bounds, then big-M."""

    name = "tightened_scaled_bigm"
    description = "LP bound tightening (OBBT), then rescaling to |l|, |u| <= 1, then big-M"

    def prepare(self, net, bounds, *, workers=1, progress=False) -> Prepared:
        tight = TightenedBigM().prepare(net, bounds, workers=workers, progress=progress)
        scaled = ScaledBigM().prepare(net, tight.bounds)
        return Prepared(
            scaled.network, scaled.bounds, tight.bounds, scaling=scaled.scaling, report=tight.report
        )
