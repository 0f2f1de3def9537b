"""Registry of bound methods: every way of computing :class:`~.core.NeuronBounds` by name.

A bound method is one module plus one :func:`register_bound_method` call.  The
transformation ``relu.tighten_bounds``, the command line and the benchmarks look
methods up here, so a new method needs no change anywhere else.

A method is a function ``compute(net, lb, ub, *, prior=None, **options) ->
NeuronBounds`` with the options it accepts listed in ``options``.  Layer-wise
optimization-based methods (LP, MILP) also give a ``chunk_solver``: the function
that :func:`~.parallel.tighten` runs, in this process or in a worker, on one
picklable :class:`~.parallel.ChunkTask`.  ``certified`` says whether every bound
is proved (dual bounds, certified LP values, interval arithmetic) rather than
merely observed: only certified methods may feed a MIP formulation.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import UnknownOptionError

__all__ = ["BoundMethod", "register_bound_method", "get_bound_method", "bound_method_names"]


@dataclass(frozen=True)
class BoundMethod:
    """A named way of computing neuron bounds.

    Attributes
    ----------
    name : str
        The name users pass (``method="lp"``); also the provenance label of the
        layers it tightened.
    compute : callable
        ``compute(net, lb, ub, *, prior=None, **options) -> NeuronBounds``.
    description : str
        One line for listings and error messages.
    options : tuple of str, optional
        The keyword options ``compute`` accepts besides ``prior``; by default its
        keyword-only parameters.
    chunk_solver : callable or None
        For layer-wise methods run by :func:`~.parallel.tighten`: solves one chunk.
    certified : bool
        Whether the bounds are proved sound (False for e.g. sampled bounds).
    """

    name: str
    compute: Callable
    description: str
    options: tuple | None = None
    chunk_solver: Callable | None = None
    certified: bool = True

    def __post_init__(self) -> None:
        if self.options is None:
            params = inspect.signature(self.compute).parameters.values()
            names = tuple(p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name != "prior")
            object.__setattr__(self, "options", names)


_METHODS: dict[str, BoundMethod] = {}


def register_bound_method(method: BoundMethod) -> BoundMethod:
    """Add ``method`` to the registry; its name must be new.

    Raises
    ------
    ValueError
        If a method of that name is already registered.
    """
    if not isinstance(method, BoundMethod):
        raise TypeError(f"register_bound_method: expected a BoundMethod, found {method!r}.")
    if method.name in _METHODS:
        raise ValueError(f"bound method {method.name!r} is already registered")
    _METHODS[method.name] = method
    return method


def bound_method_names(*, layerwise: bool = False, certified: bool = False) -> list[str]:
    """Names of the registered methods (only layer-wise / only certified ones if asked)."""
    return [
        name
        for name, m in _METHODS.items()
        if (not layerwise or m.chunk_solver is not None) and (not certified or m.certified)
    ]


def get_bound_method(name, *, layerwise: bool = False, option: str = "method") -> BoundMethod:
    """The method registered under ``name``.

    Raises
    ------
    UnknownOptionError
        Naming the option, the value found and the valid names.
    """
    method = _METHODS.get(name) if isinstance(name, str) else None
    if method is None or (layerwise and method.chunk_solver is None):
        valid = bound_method_names(layerwise=layerwise)
        raise UnknownOptionError(f"{option}={name!r} is not one of {valid}.")
    return method
