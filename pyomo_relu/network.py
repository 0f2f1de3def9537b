"""Plain, validated description of a feed-forward ReLU network (no Pyomo).

A :class:`ReluNetwork` is a chain of :class:`DenseLayer` objects.  Layer ``k``
computes the pre-activation ``z_k = W_k a_{k-1} + b_k`` and the activation
``a_k = sigma_k(z_k)``, where ``a_0 = x`` is the input and ``sigma_k`` is a
ReLU ``max(0, z)``, a clipped ReLU ``min(max(0, z), c)`` or the identity.
All arrays are float64 and read-only: the network is parsed and checked once,
then shared freely (including with worker processes).

A layer's weights are either a dense ``numpy.ndarray`` or, for layers with
structure such as convolutions lowered to affine maps, a canonical
``scipy.sparse.csr_array`` (see :class:`DenseLayer`).  Every consumer in the
numeric core works on the nonzeros only; :meth:`DenseLayer.dense_weights` is the
one explicit way to densify.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
import scipy.sparse as sp

from .errors import InvalidNetworkError, NotApplicableError, ShapeMismatchError

__all__ = ["ActivationKind", "Activation", "DenseLayer", "ReluNetwork"]


class ActivationKind(str, Enum):
    """Kinds of activation a layer may have."""

    RELU = "relu"
    CLIPPED_RELU = "clipped_relu"
    LINEAR = "linear"


@dataclass(frozen=True)
class Activation:
    """An activation function.

    Use the constants ``Activation.RELU`` and ``Activation.LINEAR`` or
    ``Activation.CLIPPED_RELU(cap)`` for ``min(max(0, z), cap)``.  ``cap`` is a
    positive scalar or one value per neuron (per-neuron caps arise when a
    clipped network is rescaled).
    """

    kind: ActivationKind
    cap: float | tuple[float, ...] | None = None

    def __post_init__(self):
        try:
            kind = ActivationKind(self.kind)
        except (TypeError, ValueError):
            raise InvalidNetworkError(
                f"Activation: unknown kind {self.kind!r}; expected one of "
                f"{[k.value for k in ActivationKind]} (e.g. Activation.RELU or "
                "Activation.CLIPPED_RELU(6.0))."
            ) from None
        object.__setattr__(self, "kind", kind)
        if kind is ActivationKind.CLIPPED_RELU:
            if self.cap is None:
                raise InvalidNetworkError(
                    "Activation.CLIPPED_RELU needs a cap: found cap=None; "
                    "pass a positive number, e.g. Activation.CLIPPED_RELU(6.0)."
                )
            try:
                caps = np.atleast_1d(np.asarray(self.cap, dtype=np.float64))
            except (TypeError, ValueError):
                raise InvalidNetworkError(
                    "Activation.CLIPPED_RELU: cap must be a positive number or one per neuron, "
                    "found "
                    f"{self.cap!r}; pass e.g. Activation.CLIPPED_RELU(6.0)."
                ) from None
            if (
                caps.ndim != 1
                or caps.size == 0
                or not np.all(np.isfinite(caps))
                or np.any(caps <= 0)
            ):
                raise InvalidNetworkError(
                    f"Activation.CLIPPED_RELU: cap must be finite and > 0, found {self.cap!r}."
                )
            cap = (
                float(caps[0])
                if caps.size == 1 and np.ndim(self.cap) == 0
                else tuple(float(c) for c in caps)
            )
            object.__setattr__(self, "cap", cap)
        elif self.cap is not None:
            raise InvalidNetworkError(
                f"Activation {kind.value!r} takes no cap, found cap={self.cap!r}."
            )

    @staticmethod
    def CLIPPED_RELU(cap) -> Activation:  # noqa: N802 (reads like the constants)
        """Clipped ReLU ``min(max(0, z), cap)``."""
        return Activation(ActivationKind.CLIPPED_RELU, cap)

    @property
    def is_piecewise(self) -> bool:
        """True for ReLU and clipped ReLU (the activations that need binaries)."""
        return self.kind is not ActivationKind.LINEAR

    def caps(self, n: int) -> np.ndarray:
        """Per-neuron caps as an array of length ``n`` (``inf`` for plain ReLU)."""
        if self.kind is not ActivationKind.CLIPPED_RELU:
            return np.full(n, np.inf)
        if isinstance(self.cap, tuple) and len(self.cap) != n:
            raise ShapeMismatchError(
                f"Activation {self!r}: {len(self.cap)} caps for a layer of {n} neurons."
            )
        return np.broadcast_to(np.asarray(self.cap, dtype=np.float64), (n,)).copy()

    def apply(self, z: np.ndarray) -> np.ndarray:
        """Apply the activation to pre-activations ``z`` (last axis = neurons)."""
        if self.kind is ActivationKind.LINEAR:
            return z
        out = np.maximum(z, 0.0)
        if self.kind is ActivationKind.CLIPPED_RELU:
            out = np.minimum(out, self.caps(z.shape[-1]))
        return out

    def __repr__(self) -> str:
        if self.kind is ActivationKind.CLIPPED_RELU:
            return f"Activation.CLIPPED_RELU({self.cap!r})"
        return f"Activation.{self.kind.name}"


Activation.RELU = Activation(ActivationKind.RELU)
Activation.LINEAR = Activation(ActivationKind.LINEAR)


def _as_readonly(array, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(array, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidNetworkError(f"{name}: cannot convert to a float64 array ({exc}).") from exc
    if arr.ndim != ndim:
        raise ShapeMismatchError(f"{name}: expected a {ndim}-D array, found shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0].tolist()
        raise InvalidNetworkError(
            f"{name}: contains NaN or Inf (first at index {bad}); "
            "a trained network must have finite weights - check the training run or the file."
        )
    arr.setflags(write=False)
    return arr


def _as_readonly_csr(matrix, name: str) -> sp.csr_array:
    """Canonical read-only float64 CSR copy of a scipy.sparse matrix or array."""
    if matrix.ndim != 2:
        raise ShapeMismatchError(
            f"{name}: expected a 2-D sparse matrix (n_out, n_in), found shape {matrix.shape}."
        )
    try:
        csr = sp.csr_array(matrix, dtype=np.float64, copy=True)
    except (TypeError, ValueError) as exc:
        raise InvalidNetworkError(
            f"{name}: cannot convert the sparse matrix to float64 CSR ({exc})."
        ) from exc
    csr.sum_duplicates()  # also sorts the indices
    if not np.all(np.isfinite(csr.data)):
        k = int(np.flatnonzero(~np.isfinite(csr.data))[0])
        row = int(np.searchsorted(csr.indptr, k, side="right") - 1)
        raise InvalidNetworkError(
            f"{name}: contains NaN or Inf (first at index {[row, int(csr.indices[k])]}); "
            "a trained network must have finite weights - check the training run or the file."
        )
    csr.eliminate_zeros()
    csr.sort_indices()
    for arr in (csr.data, csr.indices, csr.indptr):
        arr.setflags(write=False)
    return csr


def _as_weights(weights, name: str):
    """Read-only float64 weights: a dense ndarray, or a canonical CSR array if sparse."""
    if sp.issparse(weights):
        return _as_readonly_csr(weights, name)
    return _as_readonly(weights, name, 2)


def _readonly(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _csr_from_data(data: np.ndarray, like: sp.csr_array) -> sp.csr_array:
    """Canonical read-only CSR with the pattern of ``like`` and other values (zeros dropped)."""
    out = sp.csr_array((data, like.indices.copy(), like.indptr.copy()), shape=like.shape)
    out.eliminate_zeros()
    out.has_sorted_indices = True
    for arr in (out.data, out.indices, out.indptr):
        arr.setflags(write=False)
    return out


class DenseLayer:
    """One affine map followed by an activation.

    Parameters
    ----------
    weights : array_like or scipy.sparse matrix/array, shape (n_out, n_in)
        Dense input is stored as a read-only float64 ``numpy.ndarray``.  Any
        ``scipy.sparse`` matrix or array is stored as a read-only float64
        ``scipy.sparse.csr_array`` in canonical form (sorted indices, no
        duplicates, no explicit zeros), so that a convolution lowered to an
        affine map never becomes a dense Toeplitz matrix.  Use
        :attr:`is_sparse`, :meth:`row`, :meth:`weight_parts` and
        :meth:`dense_weights` rather than assuming either kind.
    bias : array_like, shape (n_out,)
    activation : Activation
    """

    __slots__ = ("weights", "bias", "activation", "_name", "_parts")

    def __init__(
        self, weights, bias, activation: Activation = Activation.RELU, *, name: str = "layer"
    ):
        self._name = name
        self._parts = None
        self.weights = _as_weights(weights, f"{name} weights")
        n_out = self.weights.shape[0]
        if bias is None:
            bias = np.zeros(n_out)
        self.bias = _as_readonly(bias, f"{name} bias", 1)
        if self.bias.shape[0] != n_out:
            raise ShapeMismatchError(
                f"{name}: bias has {self.bias.shape[0]} entries but weights have {n_out} rows "
                "(weights are (n_out, n_in)); transpose the weights or fix the bias."
            )
        if n_out == 0 or self.weights.shape[1] == 0:
            raise InvalidNetworkError(
                f"{name}: a layer needs at least one input and one output, found "
                f"{self.weights.shape}."
            )
        if not isinstance(activation, Activation):
            raise InvalidNetworkError(
                f"{name}: activation must be an Activation, found {activation!r}."
            )
        if (
            activation.kind is ActivationKind.CLIPPED_RELU
            and isinstance(activation.cap, tuple)
            and len(activation.cap) != n_out
        ):
            raise ShapeMismatchError(
                f"{name}: {len(activation.cap)} caps given for {n_out} neurons; pass one cap per "
                "neuron "
                "or a single number for all of them."
            )
        self.activation = activation

    def __getstate__(self):
        return {k: getattr(self, k) for k in ("weights", "bias", "activation", "_name")}

    def __setstate__(self, state):
        # unpickled arrays come back writable: validate and freeze them again
        self.__init__(state["weights"], state["bias"], state["activation"], name=state["_name"])

    @property
    def n_in(self) -> int:
        return self.weights.shape[1]

    @property
    def n_out(self) -> int:
        return self.weights.shape[0]

    @property
    def is_sparse(self) -> bool:
        """True when the weights are a ``scipy.sparse.csr_array``."""
        return sp.issparse(self.weights)

    @property
    def nnz(self) -> int:
        """Number of nonzero weights (stored entries of a sparse layer)."""
        if self.is_sparse:
            return int(self.weights.nnz)
        return int(np.count_nonzero(self.weights))

    def weight_parts(self):
        """``(W+, W-)`` with ``W+ = max(W, 0)``, ``W- = min(W, 0)`` and ``W = W+ + W-``.

        Both parts are of the same kind as :attr:`weights` (read-only ndarrays,
        or canonical read-only CSR arrays keeping only their own nonzeros), and
        computed once per layer.
        """
        if self._parts is None:
            w = self.weights
            if self.is_sparse:
                pos = _csr_from_data(np.maximum(w.data, 0.0), w)
                neg = _csr_from_data(np.minimum(w.data, 0.0), w)
            else:
                pos, neg = _readonly(np.maximum(w, 0.0)), _readonly(np.minimum(w, 0.0))
            self._parts = (pos, neg)
        return self._parts

    def dense_weights(self) -> np.ndarray:
        """A writable dense ``(n_out, n_in)`` copy of the weights.

        Meant for small uses (2-input region enumeration) and exporters; the
        numeric core never calls it on a sparse layer otherwise.
        """
        if self.is_sparse:
            return self.weights.toarray()
        return np.array(self.weights)

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """``(columns, values)`` of the nonzero weights of neuron ``i`` (columns ascending).

        Both arrays are read-only; for a sparse layer they are views of the CSR data.
        """
        try:
            i = int(i)
        except (TypeError, ValueError):
            raise ShapeMismatchError(
                f"{self._name}: row index must be an integer, found {i!r}."
            ) from None
        if not 0 <= i < self.n_out:
            raise ShapeMismatchError(
                f"{self._name}: row {i} does not exist; expected 0 <= i < {self.n_out} "
                "(one row per output neuron)."
            )
        w = self.weights
        if self.is_sparse:
            lo, hi = w.indptr[i], w.indptr[i + 1]
            return w.indices[lo:hi], w.data[lo:hi]
        cols = np.flatnonzero(w[i])
        return _readonly(cols), _readonly(w[i, cols])

    def preactivation(self, a: np.ndarray) -> np.ndarray:
        """``a @ W.T + b`` for a batch ``a`` of shape (N, n_in)."""
        if self.is_sparse:
            a = np.asarray(a, dtype=np.float64)
            return (self.weights @ a.T).T + self.bias
        return a @ self.weights.T + self.bias

    def __call__(self, a: np.ndarray) -> np.ndarray:
        return self.activation.apply(self.preactivation(a))

    def __repr__(self) -> str:
        kind = f", sparse nnz={self.nnz}" if self.is_sparse else ""
        return f"DenseLayer({self.n_in} -> {self.n_out}, {self.activation!r}{kind})"


def _weights_equal(a: DenseLayer, b: DenseLayer) -> bool:
    """Equal weight values, whatever the storage (dense, sparse or one of each)."""
    if a.weights.shape != b.weights.shape:
        return False
    if not a.is_sparse and not b.is_sparse:
        return np.array_equal(a.weights, b.weights)
    if a.is_sparse and b.is_sparse:  # both canonical: equal values <=> equal arrays
        wa, wb = a.weights, b.weights
        return (
            np.array_equal(wa.indptr, wb.indptr)
            and np.array_equal(wa.indices, wb.indices)
            and np.array_equal(wa.data, wb.data)
        )
    s, d = (a.weights, b.weights) if a.is_sparse else (b.weights, a.weights)
    if np.count_nonzero(d) != s.nnz:
        return False
    rows = np.repeat(np.arange(s.shape[0]), np.diff(s.indptr))
    return np.array_equal(d[rows, s.indices], s.data)


class ReluNetwork:
    """A validated feed-forward network of dense layers.

    Parameters
    ----------
    layers : sequence of DenseLayer
        At least one layer; consecutive layers must chain (``n_out`` of one
        equals ``n_in`` of the next).
    input_names, output_names : sequence of str, optional
        Names used in reports and the CLI; default ``x0, x1, ...`` / ``y0, ...``.
    """

    def __init__(self, layers: Sequence[DenseLayer], *, input_names=None, output_names=None):
        if (
            isinstance(layers, DenseLayer)
            or not isinstance(layers, Iterable)
            or isinstance(layers, (str, bytes))
        ):
            raise InvalidNetworkError(
                "ReluNetwork: layers must be a sequence of DenseLayer, found "
                f"{type(layers).__name__}; "
                "wrap a single layer in a list: ReluNetwork([layer])."
            )
        layers = tuple(layers)
        if not layers:
            raise InvalidNetworkError(
                "ReluNetwork: the network has no layers; expected at least one DenseLayer "
                "(an ONNX graph with no Gemm/MatMul yields this)."
            )
        for k, layer in enumerate(layers):
            if not isinstance(layer, DenseLayer):
                raise InvalidNetworkError(
                    f"ReluNetwork: layer {k} is {type(layer).__name__}, expected DenseLayer."
                )
            if k and layer.n_in != layers[k - 1].n_out:
                raise ShapeMismatchError(
                    f"ReluNetwork: layer {k} expects {layer.n_in} inputs but layer {k - 1} "
                    f"produces {layers[k - 1].n_out}; weights must be (n_out, n_in)."
                )
        self.layers = layers
        self.input_names = self._names(input_names, "x", layers[0].n_in, "input_names")
        self.output_names = self._names(output_names, "y", layers[-1].n_out, "output_names")

    @staticmethod
    def _names(names, prefix, n, what):
        if names is None:
            return tuple(f"{prefix}{i}" for i in range(n))
        if isinstance(names, str):  # one name, not its characters
            names = (names,)
        try:
            names = tuple(str(s) for s in names)
        except TypeError:
            raise ShapeMismatchError(
                f"ReluNetwork: {what} must be a sequence of {n} names, found {names!r}."
            ) from None
        if len(names) != n:
            raise ShapeMismatchError(
                f"ReluNetwork: {what} has {len(names)} names for {n} values; pass one name per "
                "value."
            )
        if len(set(names)) != n:
            dup = next(s for s in names if names.count(s) > 1)
            raise InvalidNetworkError(
                f"ReluNetwork: {what} contains {dup!r} more than once; names must be unique "
                "(they key the inputs and outputs)."
            )
        return names

    # -- sizes -----------------------------------------------------------
    @property
    def n_inputs(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """``(n_inputs, n_1, ..., n_outputs)``."""
        return (self.n_inputs,) + tuple(layer.n_out for layer in self.layers)

    @property
    def n_piecewise_neurons(self) -> int:
        """Number of neurons with a ReLU or clipped-ReLU activation."""
        return sum(layer.n_out for layer in self.layers if layer.activation.is_piecewise)

    # -- evaluation ------------------------------------------------------
    def _batch(self, x) -> tuple[np.ndarray, bool]:
        expected = f"expected finite numbers of shape (N, {self.n_inputs}) or ({self.n_inputs},)"
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise ShapeMismatchError(
                f"ReluNetwork.forward: cannot read the inputs {x!r:.80} as numbers; {expected}."
            ) from None
        if x is None or (arr.ndim == 0 and self.n_inputs != 1):
            raise ShapeMismatchError(f"ReluNetwork.forward: found inputs {x!r:.80}; {expected}.")
        single = arr.ndim <= 1
        arr = arr.reshape(1, -1) if arr.ndim == 0 else np.atleast_2d(arr)
        if arr.ndim != 2 or arr.shape[1] != self.n_inputs:
            raise ShapeMismatchError(f"ReluNetwork.forward: {expected}, found {np.shape(x)}.")
        if not np.all(np.isfinite(arr)):
            i = np.argwhere(~np.isfinite(arr))[0].tolist()
            raise ShapeMismatchError(
                f"ReluNetwork.forward: input {arr[i[0], i[1]]} at index {i} (input "
                f"{self.input_names[i[1]]!r}); {expected} - drop or impute missing values first."
            )
        return arr, single

    def _check_finite(self, k: int, z: np.ndarray) -> np.ndarray:
        if not np.all(np.isfinite(z)):
            raise NotApplicableError(
                f"ReluNetwork.forward: the pre-activations of layer {k} overflow float64 (found "
                f"{z[~np.isfinite(z)][0]}) for finite inputs; expected finite values - scale the "
                "inputs or "
                "the weights down (pyomo_relu.rescale keeps the function)."
            )
        return z

    def forward(self, x) -> np.ndarray:
        """Network output for one input ``(n_inputs,)`` or a batch ``(N, n_inputs)``.

        Raises
        ------
        ShapeMismatchError
            If ``x`` is not a finite numeric array of one of those shapes.
        NotApplicableError
            If a pre-activation overflows float64.
        """
        a, single = self._batch(x)
        for z in self._preactivations(a):
            a = z[1]
        return a[0] if single else a

    def _preactivations(self, a: np.ndarray):
        """Yield ``(z_k, a_k)`` layer by layer for a validated batch ``a``."""
        for k, layer in enumerate(self.layers):
            with np.errstate(over="ignore", invalid="ignore"):
                z = layer.preactivation(a)
            a = layer.activation.apply(self._check_finite(k, z))
            yield z, a

    __call__ = forward

    def preactivations(self, x) -> list[np.ndarray]:
        """Pre-activations ``z_k`` of every layer for a batch, each (N, n_k)."""
        a, _ = self._batch(x)
        return [z for z, _ in self._preactivations(a)]

    def activation_patterns(self, x) -> np.ndarray:
        """Activation pattern of every piecewise neuron for a batch, as int8 (N, n_piecewise).

        Per neuron: 0 inactive (z < 0), 1 linear piece (0 <= z < cap), 2 saturated
        (z >= cap, clipped ReLU only).
        """
        cols = []
        for layer, z in zip(self.layers, self.preactivations(x)):
            if not layer.activation.is_piecewise:
                continue
            pat = (z >= 0).astype(np.int8)
            pat += (z >= layer.activation.caps(layer.n_out)).astype(np.int8)
            cols.append(pat)
        n = self._batch(x)[0].shape[0]
        return np.concatenate(cols, axis=1) if cols else np.zeros((n, 0), dtype=np.int8)

    # -- misc ------------------------------------------------------------
    def with_layers(self, layers: Sequence[DenseLayer]) -> ReluNetwork:
        """A new network with other layers but the same input/output names."""
        return ReluNetwork(layers, input_names=self.input_names, output_names=self.output_names)

    @classmethod
    def from_arrays(
        cls,
        weights,
        biases,
        *,
        activation="relu",
        cap=None,
        output_activation="linear",
        input_names=None,
        output_names=None,
    ):
        """Build a network from lists of weight matrices (n_out, n_in) and bias vectors.

        A weight matrix may be a ``scipy.sparse`` matrix or array; that layer then
        keeps CSR weights (see :class:`DenseLayer`).

        All layers but the last get ``activation``; the last gets ``output_activation``
        (``"relu"``, ``"clipped_relu"`` with ``cap``, or ``"linear"``).
        """
        try:
            n_w, n_b = len(weights), len(biases)
        except TypeError:
            raise ShapeMismatchError(
                f"from_arrays: weights and biases must be lists of arrays (one per layer), found "
                f"{type(weights).__name__} and {type(biases).__name__}."
            ) from None
        if n_w != n_b:
            raise ShapeMismatchError(
                f"from_arrays: {n_w} weight matrices but {n_b} bias vectors; "
                "pass one bias vector per layer."
            )

        def act(kind):
            return Activation.CLIPPED_RELU(cap) if kind == "clipped_relu" else Activation(kind)

        hidden, out_act = act(activation), act(output_activation)
        layers = [
            DenseLayer(w, b, hidden if k < len(weights) - 1 else out_act, name=f"layer {k}")
            for k, (w, b) in enumerate(zip(weights, biases))
        ]
        return cls(layers, input_names=input_names, output_names=output_names)

    def __repr__(self) -> str:
        sizes = "-".join(str(s) for s in self.layer_sizes)
        return f"ReluNetwork({sizes}, {self.n_piecewise_neurons} piecewise neurons)"

    def __eq__(self, other) -> bool:
        if not isinstance(other, ReluNetwork) or len(self.layers) != len(other.layers):
            return NotImplemented if not isinstance(other, ReluNetwork) else False
        return all(
            a.activation == b.activation and _weights_equal(a, b) and np.array_equal(a.bias, b.bias)
            for a, b in zip(self.layers, other.layers)
        )

    __hash__ = None
