"""Neuron bounds: the data every formulation and tightening step shares.

``NeuronBounds`` holds, for every layer ``k`` of a network, sound lower and
upper bounds ``l_k <= z_k <= u_k`` of the pre-activations over an input box,
together with the provenance of each layer's bounds.  It is immutable: its
arrays are converted once, on construction, to read-only float64 arrays and
checked there, so consumers never re-validate them.  Bounds only ever get
tighter: :meth:`NeuronBounds.intersect` and :meth:`NeuronBounds.with_layer`
return new objects.  :meth:`NeuronBounds.pieces` is the one place where
neurons are classified (inactive, linear, saturated, unstable).
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import (
    BoundsTypeError,
    InfeasibleBoxError,
    MissingBoundsError,
    NetworkTypeError,
    ShapeMismatchError,
)
from ..network import ActivationKind, ReluNetwork
from .registry import bound_method_names

__all__ = [
    "NeuronBounds",
    "Provenance",
    "Scope",
    "LayerPieces",
    "check_box",
    "pad_outward",
    "require_network",
    "require_bounds",
]


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


class Scope(enum.Enum):
    """Where a layer's bounds hold."""

    #: on the whole input box
    BOX = "box"
    #: only where the caller's ``extra_constraints`` hold
    CONSTRAINED = "constrained"
    #: only on the feasible set of the model around the block (``context="model"``)
    MODEL = "model"
    #: only on the points of the model whose objective is at least as good as a cut-off
    #: (``relu.tighten_bounds(objective_cutoff=...)``); the value is in the provenance
    CUTOFF = "cutoff"


#: labels of the built-in methods, understood even before their modules register them
_LEGACY_METHODS = ("interval", "lp", "milp")


_CUTOFF_LABEL = re.compile(r"^(?P<method>.+)-cutoff\(objective(?P<sense><=|>=)(?P<value>[^()]+)\)$")


@dataclass(frozen=True)
class Provenance:
    """How a layer's bounds were obtained: a bound method's name and where they hold.

    Its ``label`` is the method name, with ``-constrained`` or ``-model`` appended
    for the narrower scopes (``"lp"``, ``"lp-constrained"``, ``"lp-model"``).  Bounds
    that hold only where the objective is at least as good as a cut-off (``Scope.CUTOFF``)
    carry the cut-off and the objective's sense: ``cutoff=-6.5, sense="min"`` is the
    label ``"lp-cutoff(objective<=-6.5)"`` (``">="`` for ``sense="max"``).
    """

    method: str
    scope: Scope = Scope.BOX
    cutoff: float | None = None
    sense: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.scope, Scope):
            raise BoundsTypeError(
                f"Provenance: scope must be a Scope (BOX, CONSTRAINED, MODEL or CUTOFF), found "
                f"{self.scope!r}."
            )
        self._check_cutoff()
        known = bound_method_names()
        if self.method not in _LEGACY_METHODS and self.method not in known:
            raise BoundsTypeError(
                f"NeuronBounds: {self.method!r} is not a bound method; a layer's provenance "
                f"names one of {sorted(set(known) | set(_LEGACY_METHODS))} (optionally with "
                "'-constrained', '-model' or '-cutoff(objective<=value)'), or register the "
                "method with register_bound_method(BoundMethod(...)) first."
            )

    def _check_cutoff(self) -> None:
        if self.scope is not Scope.CUTOFF:
            if self.cutoff is not None or self.sense is not None:
                raise BoundsTypeError(
                    f"Provenance: cutoff={self.cutoff!r}, sense={self.sense!r} given with scope "
                    f"{self.scope.name}; a cut-off belongs to Scope.CUTOFF only."
                )
            return
        value = self.cutoff
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise BoundsTypeError(
                f"Provenance: Scope.CUTOFF needs a finite cutoff value, found {value!r}."
            )
        if self.sense not in ("min", "max"):
            raise BoundsTypeError(
                f"Provenance: Scope.CUTOFF needs sense='min' or 'max' (the objective's sense), "
                f"found {self.sense!r}."
            )
        object.__setattr__(self, "cutoff", float(value))

    @property
    def label(self) -> str:
        if self.scope is Scope.CUTOFF:
            op = "<=" if self.sense == "min" else ">="
            return f"{self.method}-cutoff(objective{op}{self.cutoff!r})"
        return self.method if self.scope is Scope.BOX else f"{self.method}-{self.scope.value}"

    @classmethod
    def of(cls, value) -> Provenance:
        """A Provenance from a Provenance or a label such as ``"milp-constrained"``.

        Raises
        ------
        BoundsTypeError
            If ``value`` is neither a Provenance nor a non-empty string.
        """
        if isinstance(value, Provenance):
            return value
        if not isinstance(value, str) or not value:
            raise BoundsTypeError(
                f"NeuronBounds: a layer's provenance must be a method label such as 'lp' or "
                f"'lp-constrained' (or a Provenance), found {value!r}."
            )
        found = _CUTOFF_LABEL.match(value)
        if found is not None:
            try:
                cutoff = float(found["value"])
            except ValueError:
                raise BoundsTypeError(
                    f"NeuronBounds: the cut-off in the provenance label {value!r} is not a "
                    "number; expected e.g. 'lp-cutoff(objective<=-6.5)'."
                ) from None
            sense = "min" if found["sense"] == "<=" else "max"
            return cls(found["method"], Scope.CUTOFF, cutoff, sense)
        for scope in (Scope.CONSTRAINED, Scope.MODEL):
            suffix = f"-{scope.value}"
            if value.endswith(suffix) and len(value) > len(suffix):
                return cls(value[: -len(suffix)], scope)
        return cls(value)

    def __str__(self) -> str:
        return self.label


@dataclass(frozen=True)
class LayerPieces:
    """Which piece of its activation each neuron of one layer is on over the whole bounds.

    Attributes
    ----------
    piecewise : bool
        False for a linear layer (no neuron needs a binary).
    inactive : ndarray of bool
        ``u <= 0``: the output is 0 everywhere.
    saturated : ndarray of bool
        ``l >= cap`` (clipped ReLU) and not inactive: the output is the cap everywhere.
    linear : ndarray of bool
        ``0 <= l`` and ``u <= cap``, neither inactive nor saturated: the identity piece.
        (The four masks are disjoint; ``l = u = 0`` counts as inactive.)
    unstable : ndarray of bool
        Every other neuron of a piecewise layer: it needs binaries.
    n_binaries : ndarray of int
        Binaries a big-M formulation needs per neuron (0, 1 or 2).
    big_m : ndarray
        ``max(|l|, |u|)`` per neuron.
    post_lower, post_upper : ndarray
        Bounds of the activation's output.
    """

    piecewise: bool
    inactive: np.ndarray
    saturated: np.ndarray
    linear: np.ndarray
    unstable: np.ndarray
    n_binaries: np.ndarray
    big_m: np.ndarray
    post_lower: np.ndarray
    post_upper: np.ndarray

    @property
    def stable(self) -> np.ndarray:
        return ~self.unstable

    @staticmethod
    def of(lo: np.ndarray, up: np.ndarray, cap: np.ndarray, piecewise: bool) -> LayerPieces:
        big_m = _frozen(np.maximum(np.abs(lo), np.abs(up)))
        if not piecewise:
            none = _frozen(np.zeros(lo.shape, dtype=bool))
            return LayerPieces(
                False, none, none, _frozen(np.ones(lo.shape, dtype=bool)), none,
                _frozen(np.zeros(lo.shape, dtype=int)), big_m, lo, up,
            )  # fmt: skip
        inactive = up <= 0.0
        saturated = (lo >= cap) & ~inactive
        linear = (lo >= 0.0) & (up <= cap) & ~inactive & ~saturated
        unstable = ~(inactive | saturated | linear)
        kinks = ((lo < 0.0) & (up > 0.0)).astype(int) + ((lo < cap) & (up > cap)).astype(int)
        post_lo = np.minimum(np.maximum(lo, 0.0), cap)
        post_up = np.minimum(np.maximum(up, 0.0), cap)
        arrays = (inactive, saturated, linear, unstable, kinks, big_m, post_lo, post_up)
        return LayerPieces(True, *(_frozen(a) for a in arrays))


def _frozen(arr: np.ndarray) -> np.ndarray:
    arr.setflags(write=False)
    return arr


def _vector(value, what: str, name: str) -> np.ndarray:
    """``value`` as a read-only 1-D float64 array (a copy, so the caller's data stays theirs)."""
    try:
        arr = np.array(value, dtype=np.float64) if np.ndim(value) <= 1 else None
    except (TypeError, ValueError):
        arr = None
    if arr is None:
        raise ShapeMismatchError(
            f"{what}: NeuronBounds {name} is {value!r:.80}; expected a 1-D array of numbers."
        )
    return _frozen(arr.reshape(-1))


@dataclass(frozen=True, eq=False)
class NeuronBounds:
    """Pre-activation bounds of every layer of a network over an input box (immutable).

    Parameters
    ----------
    input_lb, input_ub : array_like (n_inputs,)
    lower, upper : sequence of array_like
        ``lower[k][j] <= z_k[j] <= upper[k][j]`` for every input in the box.
    provenance : sequence of Provenance or str
        How each layer's bounds were obtained: Provenance objects or labels
        (``"interval"``, ``"lp"``, ``"milp"``, ``"lp-constrained"``, ``"lp-model"``, ...).
    caps : sequence of array_like, optional
        Per-neuron caps of each layer (``inf`` for ReLU, ``nan`` for linear
        layers), so stability can be judged without the network.  Left out,
        every layer reads as a plain ReLU layer.
    report : TighteningReport, optional
        What the tightening run that produced these bounds did.

    Every array is stored once as a read-only float64 array, in tuples.  The
    constructor checks the structure (one entry per layer, one bound per
    neuron), NaN and crossed bounds, and raises ``ShapeMismatchError``,
    ``MissingBoundsError`` or ``InfeasibleBoxError`` naming the entry.
    """

    input_lb: Any
    input_ub: Any
    lower: Any
    upper: Any
    provenance: Any
    caps: Any = ()
    report: Any = field(default=None, compare=False, repr=False)
    _pieces: dict = field(default_factory=dict, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        what = "NeuronBounds"
        for name in ("lower", "upper", "provenance", "caps"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise ShapeMismatchError(
                    f"{what}: {name} must be a list with one entry per layer, found "
                    f"{type(value).__name__}."
                )
        n = len(self.lower)
        counts = {"upper": len(self.upper), "methods": len(self.provenance)}
        if len(self.caps):
            counts["caps"] = len(self.caps)
        bad = {name: c for name, c in counts.items() if c != n}
        if bad:
            raise ShapeMismatchError(
                f"{what} has {n} layers of lower bounds but {bad}; expected one entry per layer in "
                "lower, upper, methods (and caps) - recompute the bounds."
            )
        lower = tuple(_vector(v, what, f"lower[{k}]") for k, v in enumerate(self.lower))
        upper = tuple(_vector(v, what, f"upper[{k}]") for k, v in enumerate(self.upper))
        if len(self.caps):
            caps = tuple(_vector(v, what, f"caps[{k}]") for k, v in enumerate(self.caps))
        else:
            caps = tuple(_frozen(np.full(lo.size, np.inf)) for lo in lower)
        for k, (lo, up, cap) in enumerate(zip(lower, upper, caps)):
            if not lo.size == up.size == cap.size:
                raise ShapeMismatchError(
                    f"{what}: layer {k} has {lo.size} lower, {up.size} upper bounds and "
                    f"{cap.size} caps; expected one of each per neuron - recompute the bounds."
                )
        set_ = object.__setattr__
        set_(self, "input_lb", _vector(self.input_lb, what, "input_lb"))
        set_(self, "input_ub", _vector(self.input_ub, what, "input_ub"))
        if self.input_lb.size != self.input_ub.size:
            raise ShapeMismatchError(
                f"{what}: input_lb has {self.input_lb.size} entries but input_ub "
                f"{self.input_ub.size}; expected one of each per network input."
            )
        set_(self, "lower", lower)
        set_(self, "upper", upper)
        set_(self, "caps", caps)
        set_(self, "provenance", tuple(Provenance.of(p) for p in self.provenance))
        self._check_numbers(what)

    def _check_numbers(self, what: str) -> None:
        pairs = [("input", self.input_lb, self.input_ub)]
        pairs += [(f"layer {k}", lo, up) for k, (lo, up) in enumerate(zip(self.lower, self.upper))]
        for name, lo, up in pairs:
            bad = np.isnan(lo) | np.isnan(up)
            if name == "input":
                bad |= ~np.isfinite(lo) | ~np.isfinite(up)
            bad = np.flatnonzero(bad)
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

    def replace(self, **changes) -> NeuronBounds:
        """A new NeuronBounds with some fields changed (``report=...``, ``caps=...``, ...)."""
        return replace(self, **changes)

    def with_layer(self, k: int, lower, upper, provenance=None) -> NeuronBounds:
        """New bounds with layer ``k``'s bounds (and optionally its provenance) replaced."""
        lo, up = list(self.lower), list(self.upper)
        lo[k], up[k] = lower, upper
        prov = list(self.provenance)
        if provenance is not None:
            prov[k] = provenance
        return replace(self, lower=lo, upper=up, provenance=prov, report=None)

    def check_network(self, net: ReluNetwork) -> None:
        """Raise ShapeMismatchError unless these bounds belong to a network of ``net``'s shape."""
        sizes = [lo.size for lo in self.lower]
        expected = [layer.n_out for layer in net.layers]
        if self.input_lb.size != net.n_inputs or sizes != expected:
            raise ShapeMismatchError(
                f"NeuronBounds for layer sizes {[self.input_lb.size] + sizes} do not match the "
                f"network {list(net.layer_sizes)}; compute the bounds for this network."
            )

    def copy(self) -> NeuronBounds:
        """These bounds (they are immutable, so no copy is needed); the report is not carried."""
        return replace(self, report=None)

    def intersect(self, other: NeuronBounds, *, method: str | None = None) -> NeuronBounds:
        """Tightest combination of two sound bound sets of the same network.

        Each set holds on its own input box, so their intersection holds on the
        common box, which becomes the result's input box.  Layers where
        ``other`` improved a bound, or is at least as tight everywhere, take
        ``other``'s provenance (or ``method``).

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
                f"{type(other).__name__}; pass bounds of the same network (e.g. from "
                "interval_bounds or lp_bounds)."
            )
        sizes = lambda b: [b.input_lb.size] + [lo.size for lo in b.lower]  # noqa: E731
        if sizes(self) != sizes(other):
            raise ShapeMismatchError(
                f"NeuronBounds.intersect: these bounds have layer sizes {sizes(self)} but other "
                f"has {sizes(other)}; both must belong to the same network."
            )
        in_lo = np.maximum(self.input_lb, other.input_lb)
        in_up = np.minimum(self.input_ub, other.input_ub)
        crossed = np.flatnonzero(in_lo > in_up)
        if crossed.size:
            i = int(crossed[0])
            raise InfeasibleBoxError(
                f"NeuronBounds.intersect: the input boxes do not overlap at input {i} "
                f"([{self.input_lb[i]}, {self.input_ub[i]}] and "
                f"[{other.input_lb[i]}, {other.input_ub[i]}]); "
                "intersect bounds computed for overlapping boxes."
            )
        lower, upper, prov = [], [], list(self.provenance)
        for k, (lo, up) in enumerate(zip(other.lower, other.upper)):
            new_lo = np.maximum(self.lower[k], lo)
            new_up = np.minimum(self.upper[k], up)
            _check_crossing(k, new_lo, new_up)
            improved = np.any(new_lo > self.lower[k]) or np.any(new_up < self.upper[k])
            contained = np.all(lo >= self.lower[k]) and np.all(up <= self.upper[k])
            if improved or contained:  # the other method proved these bounds (or better)
                prov[k] = method or other.provenance[k]
            lower.append(new_lo)
            upper.append(new_up)
        return replace(
            self, input_lb=in_lo, input_ub=in_up, lower=lower, upper=upper, provenance=prov,
            report=None,
        )  # fmt: skip

    # -- queries ---------------------------------------------------------
    @property
    def methods(self) -> list[str]:
        """The provenance labels of the layers (``"interval"``, ``"lp"``, ``"lp-model"``, ...)."""
        return [p.label for p in self.provenance]

    def constrained_layers(self) -> list[int]:
        """Layers whose bounds hold only where some constraints hold, not on the whole input box.

        Their provenance scope is ``CONSTRAINED`` (tightened with
        ``extra_constraints``), ``MODEL`` (the model context) or ``CUTOFF`` (the model
        context with an objective cut-off).
        """
        return [k for k, p in enumerate(self.provenance) if p.scope is not Scope.BOX]

    def layers_by(self, method: str) -> list[int]:
        """Layers whose bounds come from the bound method named ``method`` (any scope)."""
        return [k for k, p in enumerate(self.provenance) if p.method == method]

    def content_key(self) -> tuple:
        """A hashable snapshot of every bound, provenance and cap: equal keys mean equal bounds.

        Lets callers reuse a tightening computed for the same network and
        bounds (e.g. for every copy of an indexed block) instead of repeating it.
        """
        arrays = [self.input_lb, self.input_ub, *self.lower, *self.upper, *self.caps]
        shapes = tuple(a.shape for a in arrays)
        return shapes, tuple(self.methods), b"".join(a.tobytes() for a in arrays)

    def __eq__(self, other) -> bool:
        return isinstance(other, NeuronBounds) and self.content_key() == other.content_key()

    __hash__ = None

    @property
    def n_layers(self) -> int:
        return len(self.lower)

    def is_piecewise(self, k: int) -> bool:
        return not np.all(np.isnan(self.caps[k]))

    def pieces(self, k: int) -> LayerPieces:
        """The classification of layer ``k``'s neurons (computed once, then kept)."""
        hit = self._pieces.get(k)
        if hit is None:
            hit = LayerPieces.of(self.lower[k], self.upper[k], self.caps[k], self.is_piecewise(k))
            self._pieces[k] = hit
        return hit

    def unstable_big_m(self, layers=None) -> np.ndarray:
        """``max(|l|, |u|)`` of every unstable neuron of the piecewise layers (or of ``layers``).

        The magnitudes a big-M formulation's rows carry: the statistic every
        report (block summary, benchmarks, tightening tables) is made of.
        """
        layers = range(self.n_layers) if layers is None else layers
        ms = [self.big_m(k)[self.unstable(k)] for k in layers if self.is_piecewise(k)]
        return np.concatenate(ms) if ms else np.zeros(0)

    def stable_inactive(self, k: int) -> np.ndarray:
        """Neurons of layer ``k`` whose output is 0 on the whole box (``u <= 0``)."""
        return self.pieces(k).inactive

    def stable_saturated(self, k: int) -> np.ndarray:
        """Clipped neurons of layer ``k`` always at their cap (``l >= cap``)."""
        return self.pieces(k).saturated

    def stable_linear(self, k: int) -> np.ndarray:
        """Neurons of layer ``k`` always on the identity piece (``0 <= l``, ``u <= cap``, not 0)."""
        return self.pieces(k).linear

    def stable(self, k: int) -> np.ndarray:
        """Neurons of layer ``k`` that need no binary (one piece on the whole box)."""
        return self.pieces(k).stable

    def unstable(self, k: int) -> np.ndarray:
        return self.pieces(k).unstable

    def n_binaries(self, k: int) -> np.ndarray:
        """Binaries a big-M formulation needs per neuron of layer ``k`` (0, 1 or 2)."""
        return self.pieces(k).n_binaries

    def post_bounds(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Bounds of layer ``k``'s activation output ``a_k``."""
        p = self.pieces(k)
        return p.post_lower, p.post_upper

    def big_m(self, k: int) -> np.ndarray:
        """Big-M values of layer ``k``: ``max(|l|, |u|)`` per neuron."""
        return self.pieces(k).big_m

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_pieces"] = {}  # derived data: not pickled, recomputed on use
        return state

    def __setstate__(self, state: dict) -> None:
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                value = _frozen(value)
            elif isinstance(value, tuple) and value and isinstance(value[0], np.ndarray):
                value = tuple(_frozen(v) for v in value)
            object.__setattr__(self, key, value)

    def __repr__(self) -> str:
        piece = [k for k in range(self.n_layers) if self.is_piecewise(k)]
        n = sum(self.lower[k].size for k in piece)
        s = sum(int(self.stable(k).sum()) for k in piece)
        return f"NeuronBounds({self.n_layers} layers, {s}/{n} stable, methods={self.methods})"


def _check_crossing(k: int, lo: np.ndarray, up: np.ndarray) -> None:
    crossed = np.flatnonzero(lo > up)
    if crossed.size:
        j = int(crossed[0])
        raise InfeasibleBoxError(
            f"NeuronBounds: layer {k} neuron {j} has lower bound {lo[j]} > upper "
            f"bound {up[j]}; the input box or the model constraints admit no point."
        )
