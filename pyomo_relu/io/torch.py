"""Convert between :class:`~pyomo_relu.network.ReluNetwork` and ``torch.nn.Sequential``.

torch is optional (``pip install pyomo_relu[train]``) and imported only
inside the functions of this module.
"""

from __future__ import annotations

import functools

import numpy as np

from ..errors import InvalidNetworkError, ShapeMismatchError, UnsupportedOperatorError
from ..network import Activation, ActivationKind, DenseLayer, ReluNetwork

__all__ = ["from_torch", "to_torch"]

_SUPPORTED = (
    "Linear, BatchNorm1d, ReLU, ReLU6, Hardtanh(0, c), PerNeuronClippedReLU, Identity, Dropout, "
    "Flatten"
)


def _import_torch():
    try:
        import torch
    except ImportError as exc:
        raise ImportError(
            "pyomo_relu.io.torch needs PyTorch, which is not installed; "
            "install it with `pip install pyomo_relu[train]`."
        ) from exc
    return torch


@functools.cache
def _clipped_relu_class():
    """Build the module class ``min(max(0, z), caps)`` once torch is imported."""
    torch = _import_torch()

    class PerNeuronClippedReLU(torch.nn.Module):
        """Clipped ReLU ``min(max(0, z), caps)`` with one cap per neuron."""

        def __init__(self, caps, dtype=None):
            super().__init__()
            dtype = torch.get_default_dtype() if dtype is None else dtype
            self.register_buffer(
                "caps", torch.as_tensor(np.asarray(caps, dtype=np.float64), dtype=dtype)
            )

        def forward(self, z):
            return torch.minimum(torch.relu(z), self.caps)

        def extra_repr(self):
            return f"n={self.caps.numel()}"

    # Found by pickle through this module's __getattr__.
    PerNeuronClippedReLU.__module__ = __name__
    PerNeuronClippedReLU.__qualname__ = "PerNeuronClippedReLU"
    return PerNeuronClippedReLU


def __getattr__(name):
    if name == "PerNeuronClippedReLU":
        return _clipped_relu_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _flat_modules(module, torch):
    if isinstance(module, torch.nn.Sequential):
        for child in module:
            yield from _flat_modules(child, torch)
    else:
        yield module


def _activation_of(mod, torch, where):
    """The activation a module stands for, None for no-ops; raise for anything else."""
    nn = torch.nn
    if isinstance(mod, (nn.Identity, nn.Dropout)):
        return None
    if isinstance(mod, nn.Flatten):
        if mod.start_dim != 1 or mod.end_dim != -1:
            raise UnsupportedOperatorError(
                f"from_torch: {where} is Flatten(start_dim={mod.start_dim}, "
                f"end_dim={mod.end_dim}); "
                "only Flatten(1, -1) keeps the [N, features] layout."
            )
        return None
    if isinstance(mod, nn.ReLU):
        return Activation.RELU
    if isinstance(mod, nn.Hardtanh):  # includes ReLU6 = Hardtanh(0, 6)
        if mod.min_val != 0 or mod.max_val <= 0:
            raise UnsupportedOperatorError(
                f"from_torch: {where} is Hardtanh(min_val={mod.min_val}, max_val={mod.max_val}); "
                "only Hardtanh(0, c) with c > 0 is a clipped ReLU."
            )
        if not np.isfinite(mod.max_val):
            return Activation.RELU
        return Activation.CLIPPED_RELU(float(mod.max_val))
    if isinstance(mod, _clipped_relu_class()):
        return Activation.CLIPPED_RELU(tuple(float(c) for c in mod.caps.detach().cpu().reshape(-1)))
    raise UnsupportedOperatorError(
        f"from_torch: {where} is {type(mod).__name__}, which is not supported. Supported modules: "
        f"{_SUPPORTED}."
    )


def from_torch(module, *, input_names=None, output_names=None) -> ReluNetwork:
    """Convert an ``nn.Sequential`` of dense layers and ReLU-type activations.

    Parameters
    ----------
    module : torch.nn.Sequential
        Built of ``Linear``, ``BatchNorm1d`` (read in eval mode from its
        running statistics), ``ReLU``, ``ReLU6``, ``Hardtanh(0, c)``,
        ``PerNeuronClippedReLU`` (from :func:`to_torch`), ``Identity``,
        ``Dropout`` (read in eval mode: a no-op) and ``Flatten(1, -1)``;
        nested ``Sequential`` containers are flattened.
    input_names, output_names : sequence of str, optional

    Returns
    -------
    ReluNetwork
        float64 weights.  Consecutive ``Linear`` modules without an
        activation between them become separate layers with a linear
        activation; a ``BatchNorm1d`` is folded into the adjacent ``Linear``.
        An activation applied to the output of another activation becomes a
        layer with identity weights, as in :func:`~pyomo_relu.io.load_onnx`.
    """
    torch = _import_torch()
    if not isinstance(module, torch.nn.Sequential):
        raise UnsupportedOperatorError(
            f"from_torch: expected a torch.nn.Sequential, found {type(module).__name__}; "
            "wrap the layers in nn.Sequential (only sequential networks are supported)."
        )
    state = _Chain()
    for i, mod in enumerate(_flat_modules(module, torch)):
        where = f"module {i} ({type(mod).__name__})"
        if isinstance(mod, torch.nn.Linear):
            w = mod.weight.detach().cpu().double().numpy()
            b = (
                np.zeros(w.shape[0])
                if mod.bias is None
                else mod.bias.detach().cpu().double().numpy()
            )
            state.linear(w, b, i, where)
        elif isinstance(mod, torch.nn.BatchNorm1d):
            state.affine(*_batchnorm_map(mod, where), i, where)
        else:
            act = _activation_of(mod, torch, where)
            if act is not None:
                state.activation(act, i, where)
    layers = state.finish()
    if not state.linear_seen:
        raise InvalidNetworkError("from_torch: the module contains no Linear layer.")
    return ReluNetwork(layers, input_names=input_names, output_names=output_names)


class _Chain:
    """Layers read so far, plus the pending affine map ``W a + b`` awaiting its activation."""

    def __init__(self):
        self.layers, self.pending, self.linear_seen = [], None, False

    def width(self):
        if self.pending is not None:
            return self.pending[0].shape[0]
        return self.layers[-1].n_out if self.layers else None

    def linear(self, w, b, i, where):
        self.linear_seen = True
        if self.pending is not None and self.pending[3]:  # Linear after Linear: a linear layer
            self._close(Activation.LINEAR)
        self._check_width(w.shape[1], where)
        if self.pending is not None:  # fold a preceding elementwise map (BatchNorm1d)
            pw, pb = self.pending[:2]
            w, b = w @ pw, w @ pb + b
        self.pending = (w, b, i, True)

    def affine(self, scale, shift, i, where):
        n = scale.shape[0]
        if self.pending is None:
            self._check_width(n, where)
            self.pending = (np.eye(n), np.zeros(n), i, False)
        w, b, j, dense = self.pending
        if w.shape[0] != n:
            raise ShapeMismatchError(
                f"from_torch: {where} normalises {n} features but its input has {w.shape[0]}; "
                "set num_features to the width of the preceding layer."
            )
        self.pending = (scale[:, None] * w, scale * b + shift, j, dense)

    def activation(self, act, i, where):
        if self.pending is None:
            n = self.width()
            if n is None:
                raise UnsupportedOperatorError(
                    f"from_torch: {where} is an activation without a preceding Linear module; "
                    "each activation must follow a Linear layer."
                )
            self.pending = (np.eye(n), np.zeros(n), i, False)
        self._close(act)

    def _check_width(self, n_in, where):
        n = self.width()
        if n is not None and n != n_in:
            raise ShapeMismatchError(
                f"from_torch: {where} expects {n_in} inputs but the preceding layer produces {n}; "
                "fix in_features / num_features so the layers chain."
            )

    def _close(self, activation):
        w, b, i, _ = self.pending
        k = len(self.layers)
        self.layers.append(DenseLayer(w, b, activation, name=f"layer {k} (torch module {i})"))
        self.pending = None

    def finish(self):
        if self.pending is not None:
            self._close(Activation.LINEAR)
        return self.layers


def _batchnorm_map(mod, where):
    """(scale, shift) of an eval-mode ``BatchNorm1d``: ``y = scale * x + shift`` per feature."""
    if mod.training or mod.running_mean is None or mod.running_var is None:
        raise UnsupportedOperatorError(
            f"from_torch: {where} normalises with batch statistics (training mode or "
            "track_running_stats=False), which is not a fixed map; call module.eval() on a model "
            "trained with running statistics."
        )
    mean = mod.running_mean.detach().cpu().double().numpy()
    var = mod.running_var.detach().cpu().double().numpy()
    gamma = np.ones_like(mean) if mod.weight is None else mod.weight.detach().cpu().double().numpy()
    beta = np.zeros_like(mean) if mod.bias is None else mod.bias.detach().cpu().double().numpy()
    if np.any(var + mod.eps <= 0):
        raise InvalidNetworkError(
            f"from_torch: {where} has running_var + eps <= 0; the model is broken."
        )
    scale = gamma / np.sqrt(var + mod.eps)
    return scale, beta - mean * scale


def to_torch(net: ReluNetwork, *, dtype=None):
    """Build an ``nn.Sequential`` computing the same function as ``net``.

    Each layer becomes ``Linear`` followed by ``ReLU``, ``Hardtanh(0, c)``
    (scalar cap) or ``PerNeuronClippedReLU`` (per-neuron caps).  ``Linear``
    holds a full weight matrix, so a layer with sparse weights is densified
    here (``DenseLayer.dense_weights``).

    Parameters
    ----------
    net : ReluNetwork
    dtype : torch.dtype, optional
        Parameter type; default ``torch.float64`` (keeps the weights exact).

    Returns
    -------
    torch.nn.Sequential
        In eval mode.
    """
    torch = _import_torch()
    dtype = torch.float64 if dtype is None else dtype
    modules = []
    for layer in net.layers:
        linear = torch.nn.Linear(layer.n_in, layer.n_out, dtype=dtype)
        with torch.no_grad():
            # nn.Linear holds a full matrix: a sparse layer is densified here
            linear.weight.copy_(torch.as_tensor(layer.dense_weights(), dtype=dtype))
            linear.bias.copy_(torch.as_tensor(np.array(layer.bias), dtype=dtype))
        modules.append(linear)
        act = layer.activation
        if act.kind is ActivationKind.RELU:
            modules.append(torch.nn.ReLU())
        elif act.kind is ActivationKind.CLIPPED_RELU and np.ndim(act.cap) == 0:
            modules.append(torch.nn.Hardtanh(0.0, float(act.cap)))
        elif act.kind is ActivationKind.CLIPPED_RELU:
            modules.append(_clipped_relu_class()(act.caps(layer.n_out), dtype=dtype))
    return torch.nn.Sequential(*modules).eval()
