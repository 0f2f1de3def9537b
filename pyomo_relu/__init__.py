"""pyomo_relu: optimize over trained ReLU networks inside Pyomo models.

Importing the package registers the ``relu.*`` Pyomo transformations.
"""

from .errors import (
    InfeasibleBoxError,
    InvalidNetworkError,
    MissingBoundsError,
    ReluError,
    ShapeMismatchError,
    SolverUnavailableError,
    TimeLimitWarning,
    UnknownOptionError,
    UnsupportedOperatorError,
)
from .network import Activation, ActivationKind, DenseLayer, ReluNetwork
from .bounds import NeuronBounds, interval_bounds

__version__ = "0.1.0"

__all__ = [
    "Activation", "ActivationKind", "DenseLayer", "ReluNetwork", "NeuronBounds", "interval_bounds",
    "ReluError", "InvalidNetworkError", "ShapeMismatchError", "MissingBoundsError",
    "InfeasibleBoxError", "UnsupportedOperatorError", "UnknownOptionError",
    "SolverUnavailableError", "TimeLimitWarning",
]

from .formulations import formulation_names, get_formulation
from .block import ReluNetworkBlock
from . import transformations  # noqa: F401  (registers relu.* transformations)

__all__ += ["ReluNetworkBlock", "formulation_names", "get_formulation"]
