"""The generic layer writer: the rows every layer formulation shares.

It plans the variables of the whole network first (no Pyomo), declares them in
bulk, then writes, layer by layer,

* one equality row per neuron carrying its nonzero weights once (a sparse
  layer's row has exactly that neuron's nonzeros)
  (``z = w^T a + b`` for an unstable neuron, ``y = w^T a + b`` for a stable
  active one, ``out = w^T a + b`` for a linear output layer),
* nothing for a neuron that is stable at 0 or at its cap (it becomes a constant),
* a box row for every input that no row uses,

and asks an *encoding* (:mod:`pyomo_relu.formulations.encodings`) for the rows
of each unstable neuron.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pyomo.core.expr.numeric_expr import LinearExpression
from pyomo.core.expr.numeric_expr import MonomialTermExpression as _Monomial
from pyomo.environ import Binary, Constraint, Reals, Set, SOSConstraint, Var

from ..bounds import NeuronBounds
from ..network import ReluNetwork
from .base import BuildStats

__all__ = ["LayerWriter", "linear", "neuron_kinds"]


def linear(const: float, coefs, variables: list) -> tuple[float, LinearExpression]:
    """``(const, sum coefs * variables)`` of one Pyomo row, skipping zero coefficients.

    The constant is kept apart and moved into the row's bounds by
    :meth:`LayerWriter.row`, so every row reaches the solver as
    ``lo <= a^T v <= hi``.  Monomials are created directly (the keyword form of
    LinearExpression is ~1.5x slower).
    """
    coefs = np.asarray(coefs, dtype=np.float64)
    nz = np.flatnonzero(coefs)
    if nz.size != coefs.size:
        coefs, variables = coefs[nz], [variables[i] for i in nz]
    return float(const), LinearExpression(
        [_Monomial((c, v)) for c, v in zip(coefs.tolist(), variables)]
    )


class _Sets:
    """Rule of an indexed ``SOSConstraint``: the stored variables of each key (picklable)."""

    def __init__(self, sets: dict):
        self.sets = sets

    def __call__(self, block, *key):
        return self.sets[key]


def _pairs(keys: list) -> Set:
    """An ordered index set of ``(layer, neuron)`` pairs (dimension 2 even when empty)."""
    return Set(initialize=keys, dimen=2)


def neuron_kinds(net: ReluNetwork, bounds: NeuronBounds, k: int) -> np.ndarray:
    """How the writer treats each neuron of layer ``k``.

    ``"bin"`` unstable (pre-activation variable ``z`` and the encoding's rows),
    ``"lin"`` linear (variable ``y`` equal to the pre-activation), ``"off"``
    stable at 0 and ``"sat"`` stable at the cap (constants, no variable),
    ``"out"`` a linear output layer (the block's output variables).
    """
    layer = net.layers[k]
    lo, up = bounds.lower[k], bounds.upper[k]
    if not layer.activation.is_piecewise:
        last = k == len(net.layers) - 1
        return np.full(layer.n_out, "lin" if not last else "out", dtype=object)
    cap = bounds.caps[k]
    kinds = np.empty(layer.n_out, dtype=object)
    kinds[:] = "bin"
    kinds[up <= 0.0] = "off"
    kinds[lo >= cap] = "sat"
    kinds[(lo >= 0.0) & (up <= cap)] = "lin"
    return kinds


class _LayerInput:
    """Previous layer's activations: Pyomo variables for some neurons, constants for the rest."""

    def __init__(self, variables: list, var_idx: np.ndarray, const: np.ndarray):
        self.variables = variables  # VarData for neurons var_idx
        self.var_idx = var_idx
        self.const = const  # value of every neuron that is not a variable (0 elsewhere)

    def rows(self, weights, bias: np.ndarray):
        """Yield ``(constant, positions, coefs)`` of ``weights @ a + bias`` per neuron.

        ``positions`` index ``self.variables`` and ``coefs`` are the matching
        nonzero weights, so a row carries exactly the nonzeros of its neuron
        among the variables.  ``weights`` is dense or a ``scipy.sparse`` CSR
        array; a sparse one is never densified (a convolution's row has its
        kernel's taps only).
        """
        const = bias + weights @ self.const
        sub = sp.csr_array(weights[:, self.var_idx])  # the columns that are variables
        sub.sum_duplicates()
        sub.eliminate_zeros()
        sub.sort_indices()
        for j in range(sub.shape[0]):
            lo, hi = sub.indptr[j], sub.indptr[j + 1]
            yield const[j], sub.indices[lo:hi], sub.data[lo:hi]


class LayerWriter:
    """Writes the rows of a (prepared) network onto a Pyomo block, one encoding per unstable neuron.

    Parameters
    ----------
    block : pyomo Block
        Where the variables and rows go.
    net, bounds : ReluNetwork, NeuronBounds
        The network to write and sound bounds of its pre-activations.
    encoding : Encoding
        Writes the rows of one unstable neuron (see
        :class:`~pyomo_relu.formulations.encodings.Encoding`).
    """

    def __init__(self, block, net: ReluNetwork, bounds: NeuronBounds, encoding):
        self.block, self.net, self.bounds, self.encoding = block, net, bounds, encoding
        self.keys = {"z": [], "y": [], **{name: [] for name in encoding.variables}}
        self.bnds = {name: {} for name in self.keys}
        self.rows = {}  # constraint name -> {key: (lo, body, hi)}
        self.sos = {}  # SOS constraint name -> {key: [variables]}
        self.counts = {"stable": 0, "unstable": 0, "dropped": 0}
        self.input_used = np.zeros(net.n_inputs, dtype=bool)  # inputs that some row of layer 0 uses

    # -- what encodings call -------------------------------------------------
    def row(self, name, key, lo, body, hi):
        """Store ``lo <= const + expr <= hi`` as ``lo - const <= expr <= hi - const``."""
        return self._row(name, key, lo, body, hi)

    def _row(self, name, key, lo, body, hi):
        const, expr = body
        lo = None if lo is None else lo - const
        hi = None if hi is None else hi - const
        self.rows.setdefault(name, {})[key] = (
            (expr == lo) if lo is not None and lo == hi else (lo, expr, hi)
        )

    def sos1(self, name, key, variables: list) -> None:
        """Store an SOS1 set (at most one of ``variables`` nonzero) under ``name[key]``."""
        self.sos.setdefault(name, {})[key] = list(variables)

    def var(self, name, key):
        """The encoding's variable ``name`` of neuron ``key``, or None if it was not planned."""
        return self.block.component(name)[key] if key in self.bnds[name] else None

    # -- planning and declaring ----------------------------------------------
    def _declare_vars(self):
        b = self.block
        # dicts (not lambdas) as initializers keep the model picklable.  The index sets are
        # declared 2-dimensional: an empty list gives a set of unknown dimension, which
        # Pyomo's slicing (and so gdp.bigm / gdp.hull on a block inside a Disjunct) rejects
        b.z = Var(_pairs(self.keys["z"]), domain=Reals, bounds=self.bnds["z"], dense=False)
        b.y = Var(_pairs(self.keys["y"]), domain=Reals, bounds=self.bnds["y"], dense=False)
        for name, domain in self.encoding.variables.items():
            bnds = {k: v for k, v in self.bnds[name].items() if v is not None}
            var = Var(_pairs(self.keys[name]), domain=domain, dense=False, bounds=bnds or None)
            b.add_component(name, var)

    def plan(self):
        """First pass: decide variables (needs no Pyomo), so Vars are created in bulk."""
        self.plans = []
        for k in range(len(self.net.layers)):
            lo, up = self.bounds.lower[k], self.bounds.upper[k]
            post_lo, post_up = self.bounds.post_bounds(k)  # once per layer: arrays of its width
            kinds = neuron_kinds(self.net, self.bounds, k)
            for j, kind in enumerate(kinds):
                if kind == "bin":
                    l, u = float(lo[j]), float(up[j])
                    self.keys["z"].append((k, j))
                    self.bnds["z"][k, j] = (l, u)
                    needs = self.encoding.plan((k, j), l, u, float(self.bounds.caps[k][j]))
                    for name, bnds in needs.items():
                        self.keys[name].append((k, j))
                        self.bnds[name][k, j] = bnds
                if kind in ("bin", "lin"):
                    self.keys["y"].append((k, j))
                    self.bnds["y"][k, j] = (float(post_lo[j]), float(post_up[j]))
            self.plans.append(kinds)

    # -- writing -------------------------------------------------------------
    def write(self, inputs: list, outputs) -> BuildStats:
        self.plan()
        self._declare_vars()
        b = self.block
        a = _LayerInput(list(inputs), np.arange(len(inputs)), np.zeros(len(inputs)))
        for k, layer in enumerate(self.net.layers):
            a = self._layer(k, layer, a, outputs)
        self._unused_inputs(list(inputs))
        for name, rows in self.rows.items():
            setattr(b, name, Constraint(list(rows), rule=rows))
        for name, sets in self.sos.items():
            b.add_component(name, SOSConstraint(list(sets), rule=_Sets(sets), sos=1))
        binary = [n for n, dom in self.encoding.variables.items() if dom is Binary]
        return BuildStats(
            binaries=sum(len(self.keys[n]) for n in binary),
            **self.counts,
            rows=sum(len(rows) for rows in self.rows.values()),
            variables=sum(len(keys) for keys in self.keys.values()),
            encoding=self.encoding.name,
        )

    def _unused_inputs(self, inputs: list) -> None:
        """A box row for every input that no row uses (zero weights, or only stable neurons).

        Solvers assign values only to the variables of the rows they are
        given; the row ``lb <= x_i <= ub`` (the box the block enforces anyway)
        keeps every input in the model, so its value is part of the solution.
        """
        for i in np.flatnonzero(~self.input_used):
            lo, up = float(self.bounds.input_lb[i]), float(self.bounds.input_ub[i])
            self._row("free_input", (0, int(i)), lo, linear(0.0, [1.0], [inputs[i]]), up)

    def _equal(self, name, key, const, coefs, variables, target) -> None:
        """The row ``target = const + coefs^T variables``."""
        self._row(name, key, 0.0, linear(const, np.append(coefs, -1.0), variables + [target]), 0.0)

    def _layer(self, k, layer, a: _LayerInput, outputs) -> _LayerInput:
        b, kinds, caps = self.block, self.plans[k], self.bounds.caps[k]
        lo, up = self.bounds.lower[k], self.bounds.upper[k]
        nxt_vars, nxt_idx, nxt_const = [], [], np.zeros(layer.n_out)
        for j, (const, pos, coefs) in enumerate(a.rows(layer.weights, layer.bias)):
            kind = kinds[j]
            if kind in ("off", "sat"):
                nxt_const[j] = 0.0 if kind == "off" else caps[j]
                self.counts["dropped" if kind == "off" else "stable"] += 1
                continue
            if k == 0:  # this row uses the inputs it weighs
                self.input_used[a.var_idx[pos]] = True
            variables = [a.variables[i] for i in pos]
            if kind == "out":
                self._equal("output", (k, j), const, coefs, variables, outputs[j])
                continue
            y = b.y[k, j]
            nxt_vars.append(y)
            nxt_idx.append(j)
            if kind == "lin":
                self.counts["stable"] += layer.activation.is_piecewise
                self._equal("linear", (k, j), const, coefs, variables, y)
                continue
            self.counts["unstable"] += 1
            z = b.z[k, j]
            self._equal("pre", (k, j), const, coefs, variables, z)
            self.encoding.write(self, (k, j), z, y, float(lo[j]), float(up[j]), float(caps[j]))
        if k == len(self.net.layers) - 1 and kinds[0] != "out":
            self._piecewise_outputs(k, layer, kinds, nxt_const, outputs)
        return _LayerInput(nxt_vars, np.asarray(nxt_idx, dtype=int), nxt_const)

    def _piecewise_outputs(self, k, layer, kinds, consts, outputs) -> None:
        """A piecewise output layer: the outputs equal the activations."""
        for j in range(layer.n_out):
            if kinds[j] in ("off", "sat"):
                body = linear(0.0, [1.0], [outputs[j]])
                self._row("output", (k, j), consts[j], body, consts[j])
            else:
                body = linear(0.0, [1.0, -1.0], [outputs[j], self.block.y[k, j]])
                self._row("output", (k, j), 0.0, body, 0.0)
