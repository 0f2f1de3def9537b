"""Neuron bounds: the data every formulation and tightening step shares.

``NeuronBounds`` holds, for every layer ``k`` of a network, sound lower and
upper bounds ``l_k <= z_k <= u_k`` of the pre-activations over an input box,
together with the provenance of each layer's bounds.  Bounds only ever get
tighter: :meth:`NeuronBounds.intersect` keeps the larger lower and the
smaller upper bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import (
    BoundsTypeError,
    InfeasibleBoxError,
    MissingBoundsError,
    NetworkTypeError,
    ShapeMismatchError,
)
from ..network import ActivationKind, ReluNetwork

__all__ = ["NeuronBounds", "check_box", "pad_outward", "require_network", "require_bounds"]


def require_network(net, what: str) -> None:
    """Raise NetworkTypeError unless ``net`` is a ReluNetwork (``what`` names the caller)."""
    if not isinstance(net, ReluNetwork):
        raise NetworkTypeError(
            f"{what}: net must be a ReluNetwork, found {type(net).__name__}; load one with "
            "pyomo_relu.load_onnx(path) or build one with ReluNetwork.from_arrays(...)."
        )


def require_bounds(bounds, what: str) -> None:
    """Raise BoundsTypeError unless ``bounds`` is a NeuronBounds (``what`` names the caller)."""
    if not isinstance(bounds, NeuronBounds):
        raise BoundsTypeError(
            f"{what}: bounds must be NeuronBounds, found {type(bounds).__name__}; compute them "
            "with "
            "pyomo_relu.interval_bounds(net, lb, ub) (or a tightening method)."
        )


def pad_outward(lower: np.ndarray, upper: np.ndarray, slack: np.ndarray | float = 0.0):
    """Widen ``[lower, upper]`` by ``slack`` and then one ulp outward (sound rounding)."""
    lower = np.nextafter(np.asarray(lower, dtype=np.float64) - slack, -np.inf)
    upper = np.nextafter(np.asarray(upper, dtype=np.float64) + slack, np.inf)
    return lower, upper


def check_box(
    net: ReluNetwork, lb, ub, *, what: str = "input box"
) -> tuple[np.ndarray, np.ndarray]:
    """Validate an input box for ``net``; return float64 copies of ``lb`` and ``ub``.

    Raises
    ------
    MissingBoundsError
        If a bound is missing (None/NaN) or infinite.
    ShapeMismatchError
        If the box does not have one entry per network input.
    InfeasibleBoxError
        If some ``lb[i] > ub[i]``.
    """
    require_network(net, what)
    if lb is None or ub is None:
        raise MissingBoundsError(
            f"{what}: {'lb' if lb is None else 'ub'} is missing; every network input needs finite "
            "lower and upper bounds (pass lb=..., ub=... or give the input variables bounds)."
        )
    arrays = []
    for name, val in (("lb", lb), ("ub", ub)):
        try:
            arr = np.array(
                [np.nan if v is None else v for v in np.ravel(np.asarray(val, dtype=object))]
                if np.ndim(val)
                else [val] * net.n_inputs,
                dtype=np.float64,
            )
        except (TypeError, ValueError) as exc:
            raise MissingBoundsError(
                f"{what}: {name} = {val!r} cannot be read as numbers ({exc}); pass one finite "
                "float per "
                f"network input (an array of length {net.n_inputs}) or a scalar for all of them."
            ) from None
        if arr.shape != (net.n_inputs,):
            raise ShapeMismatchError(
                f"{what}: {name} has {arr.size} entries but the network has {net.n_inputs} inputs; "
                f"pass one bound per input (length {net.n_inputs}) or a scalar for all of them."
            )
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            i = int(bad[0])
            raise MissingBoundsError(
                f"{what}: {name}[{i}] (input {net.input_names[i]!r}) is {arr[i]}; every network "
                "input needs a finite bound - set it on the input variable or pass input_bounds."
            )
        arrays.append(arr)
    lb, ub = arrays
    bad = np.flatnonzero(lb > ub)
    if bad.size:
        i = int(bad[0])
        raise InfeasibleBoxError(
            f"{what}: lb[{i}] = {lb[i]} > ub[{i}] = {ub[i]} (input {net.input_names[i]!r}); "
            "the box is empty - swap or fix the bounds."
        )
    return lb, ub


@dataclass
class NeuronBounds:
    """Pre-activation bounds of every layer of a network over an input box.

    Attributes
    ----------
    input_lb, input_ub : ndarray (n_inputs,)
    lower, upper : list of ndarray
        ``lower[k][j] <= z_k[j] <= upper[k][j]`` for every input in the box.
    methods : list of str
        How each layer's bounds were obtained (``"interval"``, ``"lp"``, ``"milp"``, ...).
    caps : list of ndarray
        Per-neuron caps of each layer (``inf`` for ReLU, ``nan`` for linear layers),
        so stability can be judged without the network.
    """

    input_lb: np.ndarray
    input_ub: np.ndarray
    lower: list
    upper: list
    methods: list
    caps: list = field(default_factory=list)

    # -- construction ----------------------------------------------------
    @staticmethod
    def caps_of(net: ReluNetwork) -> list:
        out = []
        for layer in net.layers:
            if layer.activation.kind is ActivationKind.LINEAR:
                out.append(np.full(layer.n_out, np.nan))
            else:
                out.append(layer.activation.caps(layer.n_out))
        return out

    def check_network(self, net: ReluNetwork) -> None:
        """Raise ShapeMismatchError unless these bounds belong to a network of ``net``'s shape."""
        shape = lambda a: np.shape(a)[0] if np.ndim(a) == 1 else np.shape(a)  # noqa: E731
        sizes = [shape(l) for l in self.lower]
        up_sizes = [shape(u) for u in self.upper]
        expected = [layer.n_out for layer in net.layers]
        if (
            shape(self.input_lb) != net.n_inputs
            or shape(self.input_ub) != net.n_inputs
            or sizes != expected
            or up_sizes != expected
        ):
            found = sizes if sizes != expected else up_sizes
            raise ShapeMismatchError(
                f"NeuronBounds for layer sizes {[shape(self.input_lb)] + found} do not match the "
                f"network {list(net.layer_sizes)}; compute the bounds for this network."
            )

    def check_consistent(self, what: str = "NeuronBounds") -> None:
        """Raise unless every bound is a number and ``lower <= upper`` everywhere.

        Raises
        ------
        MissingBoundsError
            If a bound is NaN (or an input bound is infinite).
        InfeasibleBoxError
            If some lower bound exceeds its upper bound.
        """
        pairs = [("input", self.input_lb, self.input_ub)]
        pairs += [(f"layer {k}", lo, up) for k, (lo, up) in enumerate(zip(self.lower, self.upper))]
        for name, lo, up in pairs:
            lo, up = np.asarray(lo, dtype=np.float64), np.asarray(up, dtype=np.float64)
            bad = np.flatnonzero(
                np.isnan(lo)
                | np.isnan(up)
                | ((~np.isfinite(lo) | ~np.isfinite(up)) & (name == "input"))
            )
            if bad.size:
                j = int(bad[0])
                raise MissingBoundsError(
                    f"{what}: {name} entry {j} has bounds [{lo[j]}, {up[j]}]; expected finite "
                    "numbers (no NaN) - recompute the bounds, e.g. with interval_bounds(net, lb, "
                    "ub)."
                )
            bad = np.flatnonzero(lo > up)
            if bad.size:
                j = int(bad[0])
                raise InfeasibleBoxError(
                    f"{what}: {name} entry {j} has lower bound {lo[j]} > upper bound {up[j]}; "
                    "sound bounds of a non-empty box never cross - recompute them for this "
                    "network and box."
                )

    def copy(self) -> NeuronBounds:
        return NeuronBounds(
            self.input_lb.copy(),
            self.input_ub.copy(),
            [l.copy() for l in self.lower],
            [u.copy() for u in self.upper],
            list(self.methods),
            [c.copy() for c in self.caps],
        )

    def intersect(self, other: NeuronBounds, *, method: str | None = None) -> NeuronBounds:
        """Tightest combination of two sound bound sets of the same network.

        Each set holds on its own input box, so their intersection holds on the
        common box, which becomes the result's input box.  Layers where
        ``other`` improved a bound, or is at least as tight everywhere, take
        ``other``'s method name (or ``method``).

        Raises
        ------
        BoundsTypeError
            If ``other`` is not a NeuronBounds.
        ShapeMismatchError
            If ``other`` belongs to a network of another shape.
        InfeasibleBoxError
            Where the boxes or the bounds cross, which can only happen when the
            box (or the model around it) admits no point.
        """
        if not isinstance(other, NeuronBounds):
            raise BoundsTypeError(
                "NeuronBounds.intersect: other must be NeuronBounds, found "
                f"{type(other).__name__}; "
                "pass bounds of the same network (e.g. from interval_bounds or lp_bounds)."
            )
        sizes = lambda b: [np.size(b.input_lb)] + [np.size(lo) for lo in b.lower]  # noqa: E731
        if sizes(self) != sizes(other) or [np.size(u) for u in self.upper] != [
            np.size(u) for u in other.upper
        ]:
            raise ShapeMismatchError(
                f"NeuronBounds.intersect: these bounds have layer sizes {sizes(self)} but other "
                "has "
                f"{sizes(other)}; both must belong to the same network."
            )
        out = self.copy()
        out.input_lb = np.maximum(self.input_lb, other.input_lb)
        out.input_ub = np.minimum(self.input_ub, other.input_ub)
        crossed = np.flatnonzero(out.input_lb > out.input_ub)
        if crossed.size:
            i = int(crossed[0])
            raise InfeasibleBoxError(
                f"NeuronBounds.intersect: the input boxes do not overlap at input {i} "
                f"([{self.input_lb[i]}, {self.input_ub[i]}] and [{other.input_lb[i]}, "
                f"{other.input_ub[i]}]); "
                "intersect bounds computed for overlapping boxes."
            )
        for k, (lo, up) in enumerate(zip(other.lower, other.upper)):
            new_lo = np.maximum(out.lower[k], lo)
            new_up = np.minimum(out.upper[k], up)
            crossed = np.flatnonzero(new_lo > new_up)
            if crossed.size:
                j = int(crossed[0])
                raise InfeasibleBoxError(
                    f"NeuronBounds: layer {k} neuron {j} has lower bound {new_lo[j]} > upper "
                    f"bound {new_up[j]}; the input box or the model constraints admit no point."
                )
            improved = np.any(new_lo > out.lower[k]) or np.any(new_up < out.upper[k])
            contained = np.all(lo >= out.lower[k]) and np.all(up <= out.upper[k])
            if improved or contained:  # the other method proved these bounds (or better)
                out.methods[k] = method or other.methods[k]
            out.lower[k], out.upper[k] = new_lo, new_up
        return out

    # -- queries ---------------------------------------------------------
    def constrained_layers(self) -> list[int]:
        """Layers whose bounds hold only where some constraints hold, not on the whole input box.

        Their labels say so: ``lp-constrained`` / ``milp-constrained`` (tightened
        with ``extra_constraints``) and ``lp-model`` (the model context).
        """
        return [k for k, m in enumerate(self.methods) if "constrained" in m or "model" in m]

    def content_key(self) -> tuple:
        """A hashable snapshot of every bound, method and cap: equal keys mean equal bounds.

        Lets callers reuse a tightening computed for the same network and
        bounds (e.g. for every copy of an indexed block) instead of repeating it.
        """
        arrays = [self.input_lb, self.input_ub, *self.lower, *self.upper, *self.caps]
        shapes = tuple(np.shape(a) for a in arrays)
        return (
            shapes,
            tuple(self.methods),
            b"".join(np.asarray(a, dtype=np.float64).tobytes() for a in arrays),
        )

    @property
    def n_layers(self) -> int:
        return len(self.lower)

    def is_piecewise(self, k: int) -> bool:
        return not np.all(np.isnan(self.caps[k])) if self.caps else True

    def _layer(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(lower, upper, caps)`` of layer ``k`` as float64 arrays.

        Bounds made by hand may hold lists and leave ``caps`` empty, which
        (as in :meth:`is_piecewise`) means plain ReLU layers: caps of ``inf``.
        """
        lo = np.asarray(self.lower[k], dtype=np.float64)
        cap = np.asarray(self.caps[k], dtype=np.float64) if self.caps else np.full(lo.shape, np.inf)
        return lo, np.asarray(self.upper[k], dtype=np.float64), cap

    def stable_inactive(self, k: int) -> np.ndarray:
        """Neurons of layer ``k`` whose output is 0 on the whole box (``u <= 0``)."""
        return self._layer(k)[1] <= 0.0

    def stable_saturated(self, k: int) -> np.ndarray:
        """Clipped neurons of layer ``k`` always at their cap (``l >= cap``)."""
        lo, _, cap = self._layer(k)
        return lo >= cap

    def stable_linear(self, k: int) -> np.ndarray:
        """Neurons of layer ``k`` always on the identity piece (``0 <= l`` and ``u <= cap``)."""
        lo, up, cap = self._layer(k)
        return (lo >= 0.0) & (up <= cap)

    def stable(self, k: int) -> np.ndarray:
        """Neurons of layer ``k`` that need no binary (one piece on the whole box)."""
        if not self.is_piecewise(k):
            return np.ones(len(self.lower[k]), dtype=bool)
        return self.stable_inactive(k) | self.stable_saturated(k) | self.stable_linear(k)

    def unstable(self, k: int) -> np.ndarray:
        return ~self.stable(k)

    def n_binaries(self, k: int) -> np.ndarray:
        """Binaries a big-M formulation needs per neuron of layer ``k`` (0, 1 or 2)."""
        if not self.is_piecewise(k):
            return np.zeros(len(self.lower[k]), dtype=int)
        lo, up, cap = self._layer(k)
        kink0 = (lo < 0.0) & (up > 0.0)
        kink_cap = (lo < cap) & (up > cap)
        return kink0.astype(int) + kink_cap.astype(int)

    def post_bounds(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of layer ``k``'s activation output ``a_k``."""
        lo, up, cap = self._layer(k)
        if not self.is_piecewise(k):
            return lo.copy(), up.copy()
        return np.minimum(np.maximum(lo, 0.0), cap), np.minimum(np.maximum(up, 0.0), cap)

    def big_m(self, k: int) -> np.ndarray:
        """Big-M values of layer ``k``: ``max(|l|, |u|)`` per neuron (the magnitudes a big-M row uses)."""
        lo, up, _ = self._layer(k)
        return np.maximum(np.abs(lo), np.abs(up))

    def __repr__(self) -> str:
        piece = [k for k in range(self.n_layers) if self.is_piecewise(k)]
        n = sum(len(self.lower[k]) for k in piece)
        s = sum(int(self.stable(k).sum()) for k in piece)
        return f"NeuronBounds({self.n_layers} layers, {s}/{n} stable, methods={self.methods})"
