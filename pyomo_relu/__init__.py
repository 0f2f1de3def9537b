"""pyomo_relu: optimize over trained ReLU networks inside Pyomo models.

Importing the package registers the ``relu.*`` Pyomo transformations.
"""

from .errors import (
    BlockArgumentError,
    BoundsTypeError,
    DataError,
    ExecutorWarning,
    InfeasibleBoxError,
    InvalidNetworkError,
    MissingBoundsError,
    NetworkTypeError,
    NoValueError,
    NotApplicableError,
    ReluError,
    ShapeMismatchError,
    SolverError,
    SolverUnavailableError,
    TimeLimitWarning,
    UnknownOptionError,
    UnsupportedOperatorError,
)
from .network import Activation, ActivationKind, DenseLayer, ReluNetwork
from .bounds import NeuronBounds, TighteningReport, interval_bounds, lp_bounds, milp_bounds
from .io import from_omlt, from_torch, load_onnx, save_onnx, to_omlt, to_torch
from .reductions import PrunedNetwork, ScaledNetwork, prune_stable, rescale
from . import analysis

__version__ = "0.1.0"

__all__ = [
    "Activation", "ActivationKind", "DenseLayer", "ReluNetwork", "NeuronBounds", "interval_bounds",
    "lp_bounds", "milp_bounds", "TighteningReport",
    "ReluError", "InvalidNetworkError", "ShapeMismatchError", "MissingBoundsError",
    "InfeasibleBoxError", "UnsupportedOperatorError", "UnknownOptionError", "NotApplicableError",
    "SolverUnavailableError", "SolverError", "TimeLimitWarning", "ExecutorWarning", "BlockArgumentError", "NoValueError", "DataError", "NetworkTypeError", "BoundsTypeError",
    "load_onnx", "save_onnx", "from_torch", "to_torch", "from_omlt", "to_omlt",
    "rescale", "prune_stable", "ScaledNetwork", "PrunedNetwork", "analysis",
]

from .formulations import formulation_names, get_formulation
from .block import ReluNetworkBlock
from . import transformations  # noqa: F401  (registers relu.* transformations)

__all__ += ["ReluNetworkBlock", "formulation_names", "get_formulation"]
