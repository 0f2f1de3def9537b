"""Registry of MIP formulations of a ReLU network.

A formulation is a small object with a ``name``, a one-line ``description``,
``prepare(net, bounds, options) -> Prepared`` (numeric work: tightening,
rescaling; no Pyomo) and ``build(block, prepared, inputs, outputs)`` which
writes the Pyomo rows on ``block``.  Formulations are composed, not
subclassed: ``tightened_bigm`` is "LP tightening, then big-M".
"""

from __future__ import annotations

from ..errors import UnknownOptionError
from .base import Formulation, Prepared
from .bigm import BigM, ScaledBigM, TightenedBigM, TightenedScaledBigM
from .regions import Auto, Regions

_REGISTRY: dict[str, Formulation] = {}


def register(formulation: Formulation) -> Formulation:
    """Add a formulation to the registry (its ``name`` must be new)."""
    if formulation.name in _REGISTRY:
        raise ValueError(f"formulation {formulation.name!r} is already registered")
    _REGISTRY[formulation.name] = formulation
    return formulation


def get_formulation(name) -> Formulation:
    """Formulation registered under ``name``; UnknownOptionError lists valid names otherwise."""
    if isinstance(name, Formulation):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise UnknownOptionError(
            f"unknown formulation {name!r}; valid names: {', '.join(sorted(_REGISTRY))}."
        ) from None


def formulation_names() -> list[str]:
    return sorted(_REGISTRY)


for _f in (BigM(), TightenedBigM(), ScaledBigM(), TightenedScaledBigM(), Regions(), Auto()):
    register(_f)

__all__ = [
    "Formulation",
    "Prepared",
    "register",
    "get_formulation",
    "formulation_names",
    "Regions",
    "Auto",
]
