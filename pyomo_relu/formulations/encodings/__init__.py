"""Registry of per-neuron encodings: the rows of one unstable (clipped) ReLU neuron.

An encoding is a small object with

* ``name`` and a one-line ``description``;
* ``variables``: ``{component name: Pyomo domain}`` of the per-neuron variables
  it may use (the layer writer declares each as one indexed ``Var`` over the
  ``(layer, neuron)`` pairs that need it; a domain of ``Binary`` counts as binaries);
* ``plan(key, l, u, cap) -> {name: (lb, ub) or None}``: which of those variables
  neuron ``key`` needs, with their bounds (called before any Pyomo component
  exists, so it may raise ``NotApplicableError`` without leaving half a model);
* ``write(writer, key, z, y, l, u, cap)``: the rows of the neuron, through
  ``writer.row(name, key, lo, linear(const, coefs, variables), hi)``,
  ``writer.sos1(name, key, variables)`` and ``writer.var(name, key)``; an
  encoding that needs the neuron's weighted inputs (``partition``) reads them
  with ``writer.neuron_inputs(key)``.

Add one with :func:`register_encoding`; formulations name it, e.g.
``layer_formulation("my_f", "...", encoding="my_encoding")``.
"""

from __future__ import annotations

from ...errors import UnknownOptionError
from .bigm import BigMEncoding
from .partition import PARTITION_STRATEGIES, PartitionEncoding
from .sos1 import SOS1Encoding

__all__ = [
    "register_encoding",
    "get_encoding",
    "encoding_names",
    "BigMEncoding",
    "SOS1Encoding",
    "PartitionEncoding",
    "PARTITION_STRATEGIES",
]

_ENCODINGS: dict = {}


def register_encoding(encoding):
    """Add ``encoding`` to the registry (its ``name`` must be new) and return it."""
    if encoding.name in _ENCODINGS:
        raise ValueError(f"encoding {encoding.name!r} is already registered")
    _ENCODINGS[encoding.name] = encoding
    return encoding


def get_encoding(name):
    """Encoding registered under ``name`` (or ``name`` itself if it is an encoding object).

    Raises
    ------
    UnknownOptionError
        If no encoding has that name; the message lists the valid names.
    """
    if not isinstance(name, str) and hasattr(name, "plan") and hasattr(name, "write"):
        return name
    try:
        return _ENCODINGS[name]
    except (KeyError, TypeError):
        raise UnknownOptionError(
            f"unknown encoding {name!r}; valid names: {', '.join(sorted(_ENCODINGS))}."
        ) from None


def encoding_names() -> list[str]:
    """Names of the registered encodings, sorted."""
    return sorted(_ENCODINGS)


register_encoding(BigMEncoding())
register_encoding(SOS1Encoding())
register_encoding(PartitionEncoding())
