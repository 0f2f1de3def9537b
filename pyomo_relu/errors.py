"""Exception hierarchy of pyomo_relu.

Every exception derives from :class:`ReluError` and from the builtin that
matches the kind of mistake, so callers can catch either.  Messages name the
component, what was found, what was expected, and how to fix it.
"""

from __future__ import annotations


class ReluError(Exception):
    """Base class of all errors raised by pyomo_relu."""


class InvalidNetworkError(ReluError, ValueError):
    """A network's weights, biases or activations are not usable (NaN, Inf, empty)."""


class ShapeMismatchError(ReluError, ValueError):
    """Arrays or layers do not have the shapes that chain together."""


class MissingBoundsError(ReluError, ValueError):
    """Input bounds are missing or infinite where finite bounds are required."""


class InfeasibleBoxError(ReluError, ValueError):
    """An input box (or a model's constraints on it) admits no point."""


class UnsupportedOperatorError(ReluError, ValueError):
    """An ONNX graph contains an operator or attribute that cannot be translated."""


class UnknownOptionError(ReluError, ValueError):
    """An option is unknown, or its value is not valid.

    For example a formulation or method name that is not registered, a
    solver parameter the solver does not know, ``workers=0`` or a negative
    time limit.  The message lists the valid names or says which values are
    accepted.
    """


class NotApplicableError(ReluError, ValueError):
    """A method or formulation does not apply to this network or box (e.g. too many inputs)."""


class BlockArgumentError(InvalidNetworkError, TypeError):
    """An argument of ``ReluNetworkBlock`` has the wrong type (e.g. ``network`` is not a
    ReluNetwork)."""


class NoValueError(ReluError, ValueError):
    """A block's input or output variable has no value yet (read the solution after a solve)."""


class NetworkTypeError(InvalidNetworkError, TypeError):
    """A function expected a ``ReluNetwork`` and got something else (also a TypeError)."""


class BoundsTypeError(MissingBoundsError, TypeError):
    """``bounds`` is not a ``NeuronBounds`` (also a TypeError)."""


class DataError(ReluError, ValueError):
    """Data handed to the package are not usable: training arrays, CSV files, benchmark result
    files."""


class SolverUnavailableError(ReluError, RuntimeError):
    """A required solver (SCIP, HiGHS) is not installed or not usable."""


class SolverError(ReluError, RuntimeError):
    """The solver is installed but failed on the model (e.g. SCIP refused its numbers)."""


class ExecutorWarning(RuntimeWarning):
    """An executor failed; the remaining work ran in this process, with the same results."""


class TimeLimitWarning(UserWarning):
    """A time limit was reached; the partial result is sound but may be loose."""
