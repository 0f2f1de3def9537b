"""OMLT blocks in a Pyomo model: find them, read their network, write bounds back.

Every ``OmltBlock`` built from a chain of dense ReLU/linear layers in a
full-space formulation (``FullSpaceNNFormulation``, ``ReluBigMFormulation``,
``ReluPartitionFormulation``, ``ReluComplementarityFormulation``) can take
tightened neuron bounds: :func:`omlt_plan` checks the block and reads its
network (in OMLT's scaled units) and scaled input box, and
:func:`write_omlt_bounds` writes bounds into the layers' ``zhat``/``z`` bounds
and big-M parameters, so OMLT's own formulation becomes tighter in place.

OMLT (``pip install pyomo_relu[omlt]``) is optional: it is imported only when a
block is examined.  The few OMLT internals this needs are read and written by
:class:`_OmltInternals` alone.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import pyomo.environ as pyo

from ..errors import InfeasibleBoxError, MissingBoundsError, NotApplicableError, ReluError
from ..io.omlt import _dense_chain
from ..network import ReluNetwork

__all__ = ["OmltPlan", "find_omlt_blocks", "is_omlt_block", "omlt_plan", "write_omlt_bounds"]


class _OmltInternals:
    """The only access to OMLT's private attributes.

    OMLT has no public API for what tightening needs: an ``OmltBlock`` keeps its
    formulation in the name-mangled ``__formulation`` and the formulation keeps
    its ``NetworkDefinition`` in ``__network_definition`` (mangled with the name
    of whichever formulation class set it, hence the lookup by suffix); the
    big-M rows of a ReLU layer read the mutable parameters ``_big_m_lb_relu`` /
    ``_big_m_ub_relu`` of the layer block.  Keeping these names here confines a
    change of OMLT's internals to this class.
    """

    @staticmethod
    def formulation(blk):
        """The formulation object an OMLT block was built with, or None."""
        return getattr(blk, "_OmltBlockData__formulation", None)

    @staticmethod
    def network_definition(blk):
        """The NetworkDefinition behind an OMLT block's formulation, or None."""
        form = _OmltInternals.formulation(blk)
        for name, value in vars(form).items() if form is not None else ():
            if name.endswith("__network_definition"):
                return value
        return None

    @staticmethod
    def set_big_m(layer_block, key, lo: float, up: float) -> None:
        """Set the big-M parameters of the ReLU neuron ``key`` of a layer block, if it has them."""
        if hasattr(layer_block, "_big_m_lb_relu"):
            layer_block._big_m_lb_relu[key] = lo
            layer_block._big_m_ub_relu[key] = up


class OmltPlan(NamedTuple):
    """What :func:`omlt_plan` read from an OMLT block: the network and box in scaled units."""

    network: ReluNetwork
    lower: np.ndarray
    upper: np.ndarray
    dense: list


def is_omlt_block(data) -> bool:
    """Whether ``data`` is an OMLT block (False when OMLT is not installed)."""
    try:  # OMLT is optional: imported on first use only
        from omlt.block import OmltBlockData
    except ImportError:
        return False
    return isinstance(data, OmltBlockData)


def find_omlt_blocks(roots) -> list:
    """Active OMLT blocks with a neural-network formulation in (or equal to) ``roots``."""
    found = {}
    for root in roots:
        for data in root.values() if root.is_indexed() else [root]:
            cands = [data] if is_omlt_block(data) else []
            if hasattr(data, "component_data_objects"):
                cands += [
                    b
                    for b in data.component_data_objects(pyo.Block, active=True, descend_into=True)
                    if is_omlt_block(b)
                ]
            for b in cands:
                if _OmltInternals.network_definition(b) is not None:
                    found[id(b)] = b
    return list(found.values())


def _omlt_key(idx):
    """OMLT indexes one-axis layers by 1-tuples in its layer objects and by plain ints in Pyomo."""
    return idx[0] if isinstance(idx, tuple) and len(idx) == 1 else idx


def _check_full_space(blk, dense, where: str, skip: str) -> None:
    """Raise NotApplicableError unless every dense layer of ``blk`` has ``zhat`` variables."""
    for layer in dense:
        sub = blk.layer[id(layer)]
        if not isinstance(getattr(sub, "zhat", None), pyo.Var):
            raise NotApplicableError(
                f"{where} uses "
                f"{type(_OmltInternals.formulation(blk)).__name__}, whose "
                "layers "
                "have no `zhat` variables to bound (a reduced-space formulation); expected a "
                "full-space "
                "formulation. Build it with FullSpaceNNFormulation, ReluBigMFormulation or "
                f"ReluPartitionFormulation{skip}"
            )


def omlt_plan(blk) -> OmltPlan:
    """Check an OMLT block before anything is changed and read its network and input box.

    The network is read without folding the scaling object, so its layer ``k``
    is OMLT's dense layer ``k`` and its pre-activations are OMLT's ``zhat``.
    """
    nd = _OmltInternals.network_definition(blk)
    where = f"relu.tighten_bounds: OMLT block {blk.name!r}"
    skip = "; or pass `targets` without this block to leave it as it is."
    try:
        net = ReluNetwork(_dense_chain(nd))
    except ReluError as exc:
        raise type(exc)(
            f"{where}: {exc} Build the block from dense ReLU/linear layers{skip}"
        ) from exc
    dense = list(nd.layers)[1:]
    _check_full_space(blk, dense, where, skip)
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
    return OmltPlan(net, lo, hi, dense)


def write_omlt_bounds(blk, plan: OmltPlan, new) -> None:
    """Write the neuron bounds ``new`` of ``plan.network`` into the OMLT block ``blk``.

    Each layer's ``zhat`` and ``z`` bounds and, for a ReLU layer with big-M
    rows, its big-M parameters are set.  Bounds only ever get tighter: each is
    intersected with the variable's current bound.
    """
    for k, layer in enumerate(plan.dense):
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
            if layer.activation == "relu":  # OMLT's big-M rows read these
                _OmltInternals.set_big_m(sub, key, lo, up)
