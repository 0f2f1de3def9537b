"""pyomo_relu: optimize over trained ReLU networks inside Pyomo models.

Two layers (see ``docs/architecture.md``):

* the numeric core (``network``, ``io``, ``bounds``, ``reductions``, ``regions``,
  ``analysis``) needs only numpy and the LP/MILP solvers, never Pyomo, so worker
  processes and scripts that only compute bounds start fast;
* the modeling layer (``block``, ``formulations``, ``transformations``,
  ``interop``, ``solving``) writes Pyomo models.  It is imported lazily: on first
  use of one of its names (``pyomo_relu.ReluNetworkBlock``, ...), and at once when
  Pyomo's modeling environment is or gets imported, which registers the
  ``relu.*`` transformations with Pyomo's ``TransformationFactory``.
"""

import importlib as _importlib
import importlib.util  # noqa: F401  (find_spec in _RegisterWithPyomo)
import sys as _sys

from . import analysis
from .bounds import NeuronBounds, TighteningReport, interval_bounds, lp_bounds, milp_bounds
from .errors import (
    BlockArgumentError,
    BoundsTypeError,
    DataError,
    ExecutorWarning,
    InfeasibleBoxError,
    InvalidNetworkError,
    MissingBoundsError,
    NetworkTypeError,
    NotApplicableError,
    NoValueError,
    ReluError,
    ShapeMismatchError,
    SolverError,
    SolverUnavailableError,
    TimeLimitWarning,
    UnknownOptionError,
    UnsupportedOperatorError,
)
from .io import from_omlt, from_torch, load_onnx, save_onnx, to_omlt, to_torch
from .network import Activation, ActivationKind, DenseLayer, ReluNetwork
from .reductions import PrunedNetwork, ScaledNetwork, prune_stable, rescale

__version__ = "0.1.0"

__all__ = [
    "Activation",
    "ActivationKind",
    "DenseLayer",
    "ReluNetwork",
    "NeuronBounds",
    "interval_bounds",
    "lp_bounds",
    "milp_bounds",
    "TighteningReport",
    "ReluError",
    "InvalidNetworkError",
    "ShapeMismatchError",
    "MissingBoundsError",
    "InfeasibleBoxError",
    "UnsupportedOperatorError",
    "UnknownOptionError",
    "NotApplicableError",
    "SolverUnavailableError",
    "SolverError",
    "TimeLimitWarning",
    "ExecutorWarning",
    "BlockArgumentError",
    "NoValueError",
    "DataError",
    "NetworkTypeError",
    "BoundsTypeError",
    "load_onnx",
    "save_onnx",
    "from_torch",
    "to_torch",
    "from_omlt",
    "to_omlt",
    "rescale",
    "prune_stable",
    "ScaledNetwork",
    "PrunedNetwork",
    "analysis",
]

#: names of the modeling layer, loaded on first use: name -> module
_LAZY = {
    "ReluNetworkBlock": "block",
    "formulation_names": "formulations",
    "get_formulation": "formulations",
    "solve_model": "solving",
}
_LAZY_MODULES = ("block", "formulations", "transformations", "interop", "solving", "plots", "cli")

__all__ += list(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        value = getattr(_importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name in _LAZY_MODULES:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_LAZY_MODULES))


#: the ``relu.*`` transformations: Pyomo name -> (module, class)
_TRANSFORMATIONS = {"relu.tighten_bounds": ("transformations", "TightenBounds")}


def _make_loader(module: str, cls: str):
    def create(**kwds):
        return getattr(_importlib.import_module(f".{module}", __name__), cls)(**kwds)

    return create


def _register_transformations() -> None:
    """Register every ``relu.*`` name with Pyomo, loading its module only when first created.

    Importing :mod:`pyomo_relu.transformations` replaces these entries with the
    transformation classes themselves.
    """
    from pyomo.core.base.transformation import TransformationFactory

    for name, (module, cls) in _TRANSFORMATIONS.items():
        if name not in TransformationFactory:
            doc = f"pyomo_relu.{module}.{cls} (see its docstring)"
            TransformationFactory.register(name, doc)(_make_loader(module, cls))


class _RegisterWithPyomo:
    """Registers the ``relu.*`` transformations once Pyomo's ``pyomo.environ`` is imported.

    A meta-path finder that never finds a module itself: when ``pyomo.environ``
    is about to load, it wraps that module's loader so that, right after Pyomo
    has set itself up, :func:`_register_transformations` runs.  It then removes
    itself.
    """

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "pyomo.environ":
            return None
        _sys.meta_path.remove(self)
        spec = _importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            _register_transformations()

        spec.loader.exec_module = exec_then_register
        return spec


if "pyomo.environ" in _sys.modules:
    _register_transformations()
elif not any(type(f).__name__ == "_RegisterWithPyomo" for f in _sys.meta_path):
    _sys.meta_path.insert(0, _RegisterWithPyomo())
