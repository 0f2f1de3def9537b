"""Models built by other Pyomo packages that hold neural networks.

:mod:`pyomo_relu.interop.omlt` finds OMLT blocks in a model, reads the network
behind each one and writes tightened neuron bounds back into it; the
``relu.tighten_bounds`` transformation uses it.  (Converting networks between
:class:`~pyomo_relu.network.ReluNetwork` and OMLT's ``NetworkDefinition``,
without a model, is :mod:`pyomo_relu.io.omlt`.)
"""

from .omlt import OmltPlan, find_omlt_blocks, is_omlt_block, omlt_plan, write_omlt_bounds

__all__ = ["OmltPlan", "find_omlt_blocks", "is_omlt_block", "omlt_plan", "write_omlt_bounds"]
