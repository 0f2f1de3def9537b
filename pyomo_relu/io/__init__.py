"""Converters between :class:`~pyomo_relu.network.ReluNetwork` and other formats.

ONNX (:func:`load_onnx`, :func:`save_onnx`), PyTorch (:func:`from_torch`,
:func:`to_torch`) and OMLT (:func:`from_omlt`, :func:`to_omlt`).  torch and
omlt are optional: they are imported only when their converters are called.
"""

from . import omlt as _omlt_converters  # the package omlt itself is imported only when called
from .onnx import SUPPORTED_OPS, DroppedHeadWarning, OnnxNetwork, load_onnx, save_onnx
from .torch import from_torch, to_torch

from_omlt, to_omlt = _omlt_converters.from_omlt, _omlt_converters.to_omlt

__all__ = [
    "load_onnx",
    "save_onnx",
    "SUPPORTED_OPS",
    "OnnxNetwork",
    "DroppedHeadWarning",
    "from_torch",
    "to_torch",
    "from_omlt",
    "to_omlt",
]
