"""``ReluNetworkBlock``: a trained ReLU network embedded in a Pyomo model.

The block owns the network, its bounds and stable ``inputs``/``outputs``; the
formulation's variables and rows live on the child block ``mip``, which is
rebuilt (with new bounds or another formulation) without touching ``inputs``
and ``outputs``.  Example::

    m.x = pyo.Var(range(2), bounds=(-3, 3))
    m.nn = ReluNetworkBlock(network=net, inputs=m.x, formulation="bigm")
    m.obj = pyo.Objective(expr=m.nn.outputs[0])

The block keeps the ctype ``Block`` (solver interfaces such as ``scip_direct``
only write rows of blocks they recognize).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
import pyomo.environ as pyo
from pyomo.common.config import ConfigDict, ConfigValue, In
from pyomo.core.base.block import BlockData, declare_custom_block
from pyomo.core.base.indexed_component import IndexedComponent
from pyomo.core.base.var import IndexedVar, VarData

from .bounds import NeuronBounds, check_box, interval_bounds
from .errors import MissingBoundsError, ShapeMismatchError
from .formulations import formulation_names, get_formulation
from .network import ReluNetwork

__all__ = ["ReluNetworkBlock", "ReluNetworkBlockData", "BLOCK_CONFIG"]


BLOCK_CONFIG = ConfigDict(description="Options of ReluNetworkBlock")
BLOCK_CONFIG.declare("network", ConfigValue(description="the ReluNetwork to embed"))
BLOCK_CONFIG.declare("inputs", ConfigValue(
    default=None,
    description="the user's input variables (an indexed Var with n_inputs entries, a list of "
    "VarData, or a callable taking the block index); None creates the block's own",
))
BLOCK_CONFIG.declare("input_bounds", ConfigValue(
    default=None,
    description="(lb, ub) of the input box; default: the bounds of the input variables",
))
BLOCK_CONFIG.declare("bounds", ConfigValue(
    default=None, description="precomputed NeuronBounds (e.g. from lp_bounds); default interval bounds",
))
BLOCK_CONFIG.declare("formulation", ConfigValue(
    default="bigm",
    description="name of a registered formulation: " + ", ".join(formulation_names()),
))
BLOCK_CONFIG.declare("workers", ConfigValue(
    default=1, domain=int, description="worker processes for formulations that tighten bounds",
))
BLOCK_CONFIG.declare("progress", ConfigValue(
    default=False, domain=bool, description="show progress bars while tightening",
))


def _resolve_inputs(spec, index, n: int, name: str):
    """The block's input VarData list from the user's ``inputs`` argument, or None."""
    if spec is None:
        return None
    if isinstance(spec, Callable) and not isinstance(spec, (IndexedVar, VarData)):
        spec = spec(index) if index is not None else spec()
    if isinstance(spec, Mapping) and not isinstance(spec, IndexedVar):
        spec = spec[index]
    if isinstance(spec, IndexedVar):
        if index is not None and len(spec) != n:
            prefix = index if isinstance(index, tuple) else (index,)
            spec = [v for key, v in spec.items() if isinstance(key, tuple) and key[: len(prefix)] == prefix]
        else:
            spec = list(spec.values())
    elif isinstance(spec, VarData):
        spec = [spec]
    spec = list(spec)
    if len(spec) != n or not all(isinstance(v, VarData) for v in spec):
        raise ShapeMismatchError(
            f"{name}: inputs must be {n} Pyomo variables (one per network input), found "
            f"{len(spec)} items; pass an indexed Var with {n} entries or a list of variables."
        )
    return spec


@declare_custom_block(name="ReluNetworkBlock", rule="_build")
class ReluNetworkBlockData(BlockData):
    """Data class of :class:`ReluNetworkBlock` (see the module docstring).

    Keyword arguments: see ``BLOCK_CONFIG`` (``network`` is required).
    """

    def _build(self, index=None, **kwargs):
        cfg = BLOCK_CONFIG(kwargs)
        net = cfg.network
        if not isinstance(net, ReluNetwork):
            raise TypeError(f"{self.name}: network must be a pyomo_relu.ReluNetwork, found {type(net).__name__}; "
                            "load one with pyomo_relu.load_onnx(path).")
        self._network = net
        n = net.n_inputs
        user = _resolve_inputs(cfg.inputs, index, n, self.name)
        if user is None:
            self.inputs = pyo.Var(range(n), domain=pyo.Reals)
        else:
            # a generic (non-Var) reference: the user's variables stay theirs, and
            # writers that list Var components (Pyomo's MPS writer) do not meet them twice
            self.inputs = pyo.Reference(user, ctype=IndexedComponent)
        self.outputs = pyo.Var(range(net.n_outputs), domain=pyo.Reals)
        lb, ub = self._input_box(cfg.input_bounds, own=user is None)
        bounds = cfg.bounds
        if bounds is None:
            bounds = interval_bounds(net, lb, ub)
        else:
            bounds.check_network(net)
        self._workers, self._progress = cfg.workers, cfg.progress
        self.rebuild(bounds=bounds, formulation=cfg.formulation)

    # -- input box -----------------------------------------------------------
    def _input_box(self, input_bounds, *, own: bool):
        net = self._network
        var_lb = np.array([np.nan if v.lb is None else v.lb for v in self.inputs.values()], dtype=float)
        var_ub = np.array([np.nan if v.ub is None else v.ub for v in self.inputs.values()], dtype=float)
        if input_bounds is None:
            missing = [i for i in range(net.n_inputs) if not (np.isfinite(var_lb[i]) and np.isfinite(var_ub[i]))]
            if missing:
                var = list(self.inputs.values())[missing[0]]
                raise MissingBoundsError(
                    f"{self.name}: input {missing[0]} ({net.input_names[missing[0]]!r}, variable "
                    f"{var.name}) has bounds {var.bounds}; every "
                    "network input needs finite bounds - set them on the variable or pass input_bounds=(lb, ub)."
                )
            return check_box(net, var_lb, var_ub, what=f"{self.name} input box")
        try:
            lb, ub = input_bounds
        except (TypeError, ValueError):
            raise MissingBoundsError(f"{self.name}: input_bounds must be a pair (lb, ub), found {input_bounds!r}.") from None
        lb, ub = check_box(net, lb, ub, what=f"{self.name} input_bounds")
        # the variables' own bounds may cut the box further
        lb = np.where(np.isfinite(var_lb), np.maximum(lb, var_lb), lb)
        ub = np.where(np.isfinite(var_ub), np.minimum(ub, var_ub), ub)
        lb, ub = check_box(net, lb, ub, what=f"{self.name} input box (input_bounds and variable bounds)")
        if own:
            for i, v in self.inputs.items():
                v.setlb(float(lb[i]))
                v.setub(float(ub[i]))
        return lb, ub

    # -- (re)building the formulation ----------------------------------------
    def rebuild(self, *, bounds: NeuronBounds | None = None, formulation=None) -> None:
        """Rewrite the child block ``mip`` with new bounds and/or another formulation.

        Bounds are only ever tightened: new bounds are intersected with the
        current ones.  ``inputs`` and ``outputs`` keep their identity.
        """
        if bounds is not None:
            bounds.check_network(self._network)
            old = getattr(self, "_bounds", None)
            self._bounds = bounds if old is None else old.intersect(bounds)
        if formulation is not None:
            self._formulation = get_formulation(formulation)
        start = time.perf_counter()
        prepared = self._formulation.prepare(
            self._network, self._bounds, workers=self._workers, progress=self._progress
        )
        self._prepared = prepared
        if prepared.original_bounds is not self._bounds:  # the formulation tightened them
            self._bounds = self._bounds.intersect(prepared.original_bounds)
        if self.component("mip") is not None:
            self.del_component("mip")
        self.mip = pyo.Block()
        self._box_rows()
        self._set_output_bounds()
        self._counts = self._formulation.build(self.mip, prepared, list(self.inputs.values()), self.outputs)
        self._build_time = time.perf_counter() - start

    def _box_rows(self):
        """Keep the inputs inside the box the bounds were computed for."""
        lb, ub = self._bounds.input_lb, self._bounds.input_ub
        rows = {}
        for i, v in self.inputs.items():
            lo = None if v.lb is not None and v.lb >= lb[i] else float(lb[i])
            hi = None if v.ub is not None and v.ub <= ub[i] else float(ub[i])
            if lo is not None or hi is not None:
                rows[i] = (lo, v, hi)
        if rows:
            self.mip.input_box = pyo.Constraint(list(rows), rule=lambda _b, i: rows[i])

    def _set_output_bounds(self):
        k = self._bounds.n_layers - 1
        lo, up = self._bounds.post_bounds(k)
        for j, v in self.outputs.items():
            v.setlb(float(lo[j]))
            v.setub(float(up[j]))

    # -- read-only facts -----------------------------------------------------
    @property
    def network(self) -> ReluNetwork:
        return self._network

    @property
    def bounds(self) -> NeuronBounds:
        """Sound bounds of the (original) network's pre-activations."""
        return self._bounds

    @property
    def formulation(self) -> str:
        return self._formulation.name

    @property
    def prepared(self):
        return self._prepared

    def input_values(self) -> np.ndarray:
        return np.array([pyo.value(v) for v in self.inputs.values()], dtype=float)

    def output_values(self) -> np.ndarray:
        return np.array([pyo.value(v) for v in self.outputs.values()], dtype=float)

    def prediction_error(self) -> float:
        """max |forward(inputs) - outputs| at the current variable values (after a solve)."""
        return float(np.max(np.abs(self._network.forward(self.input_values()) - self.output_values())))

    def summary(self) -> dict:
        """Sizes, formulation, bounds provenance, binaries and big-M statistics."""
        b = self._prepared.bounds
        piece = [k for k in range(b.n_layers) if b.is_piecewise(k)]
        big_m = np.concatenate([b.big_m(k)[b.unstable(k)] for k in piece]) if piece else np.zeros(0)
        n_piece = sum(len(b.lower[k]) for k in piece)
        n_stable = sum(int(b.stable(k).sum()) for k in piece)
        return {
            "layers": list(self._network.layer_sizes),
            "formulation": self.formulation,
            "bounds": sorted(set(self._bounds.methods)),
            "neurons": n_piece,
            "stable": n_stable,
            "stable_fraction": n_stable / n_piece if n_piece else 1.0,
            "binaries": self._counts["binaries"],
            "max_M": float(big_m.max()) if big_m.size else 0.0,
            "mean_M": float(big_m.mean()) if big_m.size else 0.0,
            "variables": sum(1 for _ in self.mip.component_data_objects(pyo.Var)),
            "constraints": sum(1 for _ in self.mip.component_data_objects(pyo.Constraint)),
            "build_seconds": round(self._build_time, 4),
            # formulation-specific facts, e.g. the number of linear regions ("regions"/"auto")
            **{k: v for k, v in self._counts.items() if k in ("regions", "corners", "used")},
        }
