"""Converters between :class:`~pyomo_relu.network.ReluNetwork` and other formats.

ONNX (:func:`load_onnx`, :func:`save_onnx`), PyTorch (:func:`from_torch`,
:func:`to_torch`) and OMLT (:func:`from_omlt`, :func:`to_omlt`).  torch and
omlt are optional: they are imported only when their converters are called.
"""

from .omlt import from_omlt, to_omlt
from .onnx import SUPPORTED_OPS, load_onnx, save_onnx
from .torch import from_torch, to_torch

__all__ = ["load_onnx", "save_onnx", "SUPPORTED_OPS", "from_torch", "to_torch", "from_omlt", "to_omlt"]
