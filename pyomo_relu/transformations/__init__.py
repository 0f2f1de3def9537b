"""Pyomo transformations registered under ``relu.*``.

Importing this package registers them with Pyomo's ``TransformationFactory``:

* ``relu.tighten_bounds`` (:class:`TightenBounds`, in :mod:`.tighten`)
  recomputes the neuron bounds of the network blocks of a model and rebuilds
  their formulations with them.

Its parts: :mod:`.model_rows` finds the network blocks and the model's linear
rows outside them; :mod:`.model_context` bounds neurons over the LP relaxation
of the whole model (``context="model"``), which :mod:`.model_lp` solves with
HiGHS and certifies by the LP dual, with the objective cut-off row of
:mod:`.cutoff` when ``objective_cutoff`` is given; OMLT blocks are read and updated by
:mod:`pyomo_relu.interop.omlt`.
"""

from .model_rows import find_network_blocks, input_constraints, linear_user_rows
from .tighten import TightenBounds

__all__ = ["TightenBounds", "find_network_blocks", "input_constraints", "linear_user_rows"]
