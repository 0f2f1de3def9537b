"""What the region engines share: their resolution and the argument checks.

The resolution constants say when a cell of the exact engines
(:mod:`.polygon`, :mod:`.polytope`) counts as full-dimensional; the checks
validate the box, the bounds and the integer options of
:func:`~pyomo_relu.regions.count_linear_regions` and
:func:`~pyomo_relu.regions.linear_partition`.
"""

from __future__ import annotations

import numpy as np

from ..bounds.checks import check_sound_at_samples, validated_bounds
from ..bounds.core import check_box, require_network
from ..bounds.interval import interval_bounds
from ..errors import MissingBoundsError, NotApplicableError, UnknownOptionError

#: a region counts when it contains a ball of radius > _THICK (2-D engine: when
#: 2 area / perimeter > _THICK, which lies between the inradius and twice it),
#: measured in coordinates where the input box is the unit cube
_THICK = 1e-7
#: signed distances below this put a vertex on the hyperplane
_SNAP = 1e-12
#: a piece thinner than _THICK that reaches further than this from the kink is a real
#: region below the resolution, not rounding noise (on boxes of ordinary width no piece
#: between the two was seen; on a 1e6 box of a small network, 65 of them)
_UNRESOLVED = 100 * _SNAP


def _check_args(net, lb, ub, what: str):
    """Validated float64 box of ``net`` whose widths ``ub - lb`` are finite."""
    require_network(net, what)
    lb, ub = check_box(net, lb, ub)
    with np.errstate(over="ignore"):
        width = ub - lb
    if not np.all(np.isfinite(width)):
        i = int(np.flatnonzero(~np.isfinite(width))[0])
        raise NotApplicableError(
            f"{what}: input {i} ({net.input_names[i]!r}) spans [{lb[i]}, {ub[i]}], whose width "
            "overflows "
            "float64; expected a box of finite width - shrink the box or rescale the inputs."
        )
    return lb, ub


def _check_bounds(net, lb, ub, bounds, what: str):
    if bounds is None:
        return interval_bounds(net, lb, ub)
    bounds = validated_bounds(bounds, what, net)
    if np.any(bounds.input_lb > lb) or np.any(bounds.input_ub < ub):
        raise MissingBoundsError(
            f"{what}: the bounds were computed for the box [{bounds.input_lb}, {bounds.input_ub}] "
            f"which does not contain [{lb}, {ub}]; compute bounds for this box or pass bounds=None."
        )
    check_sound_at_samples(net, bounds, lb, ub, what)
    partial = bounds.constrained_layers()
    if partial:
        k = partial[0]
        raise MissingBoundsError(
            f"{what}: the bounds of layer {k} are labelled {bounds.methods[k]!r}: they hold only "
            "where the "
            "constraints they were tightened with hold, but regions are sought over the whole "
            "box, and a kink "
            "outside those constraints would be missed; pass bounds computed over the box "
            "(interval_bounds, "
            "or lp_bounds without extra_constraints) or bounds=None."
        )
    return bounds


def _count_option(value, name: str, what: str, *, allow_none: bool = False, minimum: int = 1):
    """An integer option ``>= minimum`` (integral floats such as ``1e5`` accepted).

    None passes when ``allow_none``.
    """
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        ok, value = True, int(value)
    if not ok or value < minimum:
        none = " or None" if allow_none else ""
        raise UnknownOptionError(
            f"{what}: {name} must be an integer >= {minimum}{none}, found {value!r}."
        )
    return int(value)
