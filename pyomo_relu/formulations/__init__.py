"""Registry of MIP formulations of a ReLU network.

A formulation is a small object with a ``name``, a one-line ``description``,
``prepare(net, bounds, options) -> Prepared`` (numeric work: tightening,
rescaling; no Pyomo) and ``build(block, prepared, inputs, outputs)`` which
writes the Pyomo rows on ``block`` and returns :class:`BuildStats`.
Formulations are composed, not subclassed: a
:class:`~pyomo_relu.formulations.layered.LayerFormulation` is a list of
reduction steps (:mod:`~pyomo_relu.formulations.steps`) plus the layer writer
with one per-neuron encoding (:mod:`~pyomo_relu.formulations.encodings`);
``tightened_bigm`` is ``[Tighten(time_limit)]`` + the big-M encoding.

:func:`~pyomo_relu.formulations.bigm.Partition` (``partition``, and
``tightened_partition`` after LP tightening) splits each unstable neuron's
weighted inputs into groups (the P-split of Tsay et al. 2021).
``sos1`` (the layer writer with the SOS1 encoding) has a narrower scope than
the others: ReLU networks only (a clipped-ReLU layer is refused when the block
is built) and solvers that take SOS constraints (SCIP; ``solve_model`` refuses
HiGHS with an error naming the block and the fix).
"""

from __future__ import annotations

from ..errors import UnknownOptionError
from .auto import Auto
from .base import BuildStats, Formulation, PreparationCache, Prepared
from .bigm import (
    SOS1,
    BigM,
    Partition,
    ScaledBigM,
    TightenedBigM,
    TightenedPartition,
    TightenedScaledBigM,
)
from .encodings import encoding_names, get_encoding, register_encoding
from .layered import LayerFormulation
from .regions import Regions

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
    """Names of the registered formulations, sorted."""
    return sorted(_REGISTRY)


for _f in (
    BigM(),
    TightenedBigM(),
    ScaledBigM(),
    TightenedScaledBigM(),
    Partition(),
    TightenedPartition(),
    SOS1(),
    Regions(),
    Auto(),
):
    register(_f)

__all__ = [
    "Formulation",
    "Prepared",
    "BuildStats",
    "PreparationCache",
    "LayerFormulation",
    "BigM",
    "TightenedBigM",
    "ScaledBigM",
    "TightenedScaledBigM",
    "SOS1",
    "Partition",
    "TightenedPartition",
    "register_encoding",
    "get_encoding",
    "encoding_names",
    "register",
    "get_formulation",
    "formulation_names",
    "Regions",
    "Auto",
]
