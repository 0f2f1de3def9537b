"""Linear regions of a ReLU network on an input box (pure numpy + HiGHS, no Pyomo).

:func:`count_linear_regions` counts the regions (exactly, or a sampled lower
bound) and returns a :class:`RegionCount`; :func:`linear_partition` cuts a box
with at most 2 free inputs into its regions, a :class:`RegionPartition`, for
the "regions" formulation.  :mod:`pyomo_relu.analysis` re-exports the count.

Modules, each importing only those below it:

* :mod:`.count` - :func:`count_linear_regions`, :class:`RegionCount`;
* :mod:`.enumerate` - the exact enumeration and :func:`linear_partition`;
* :mod:`.sampling` - distinct activation patterns at random or grid points;
* :mod:`.polygon`, :mod:`.polytope` - the cells of the exact search: 2-D
  polygons, and d-dimensional polytopes tested by Chebyshev-ball LPs;
* :mod:`.core` - the engines' resolution and the argument checks.
"""

from __future__ import annotations

from .count import RegionCount, count_linear_regions
from .enumerate import RegionPartition, linear_partition

__all__ = ["count_linear_regions", "RegionCount", "linear_partition", "RegionPartition"]
