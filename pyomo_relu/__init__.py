"""pyomo_relu: optimize over trained ReLU networks inside Pyomo models.

Importing the package registers the ``relu.*`` Pyomo transformations.
"""

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

from . import transformations  # noqa: F401  (registers relu.* transformations)
from .block import ReluNetworkBlock
from .formulations import formulation_names, get_formulation

__all__ += ["ReluNetworkBlock", "formulation_names", "get_formulation"]
