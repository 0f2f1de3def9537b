r"""The layer formulations (big-M family, ``partition``, ``sos1``): steps plus an encoding.

For a neuron with pre-activation :math:`z = w^\top a + b` and sound bounds
:math:`l \le z \le u`:

* ReLU, :math:`l \ge 0`: :math:`y = z`; :math:`u \le 0`: :math:`y = 0` (the
  neuron is dropped and contributes nothing downstream).  Stable neurons get no
  binary (:mod:`pyomo_relu.formulations.writer`).
* Unstable neurons get a pre-activation variable :math:`z` (one equality row
  carries the dense weights once) and the rows of the encoding: big-M
  (:mod:`pyomo_relu.formulations.encodings.bigm`, 2-3 terms per row) or SOS1
  (:mod:`pyomo_relu.formulations.encodings.sos1`) or the P-split
  (:mod:`pyomo_relu.formulations.encodings.partition`).

``tightened_*`` tighten the bounds by LP (OBBT) when the block is built,
``scaled_*`` rescale hidden neurons so every big-M is at most 1.
Reference: Fischetti & Jo, "Deep neural networks and mixed integer linear
optimization", Constraints 23 (2018); Plate et al., arXiv 2502.03016 (2025).
"""

from __future__ import annotations

from ..errors import NotApplicableError
from ..network import ActivationKind
from .base import Prepared
from .encodings import PartitionEncoding
from .layered import LayerFormulation
from .steps import Rescale, Tighten
from .writer import LayerWriter

__all__ = [
    "BigM",
    "TightenedBigM",
    "ScaledBigM",
    "TightenedScaledBigM",
    "SOS1",
    "Partition",
    "TightenedPartition",
    "ReluOnly",
]

#: what each rescaling rule achieves, for the formulations' descriptions
_RULE_TEXT = {
    "max_abs": "|l|, |u| <= 1",
    "upper": "upper bounds 1",
    "row_norm": "unit rows",
    "min_range": "least coefficient range",
}

#: the layer writer (its ``_row`` stores every row the formulations write)
_Writer = LayerWriter


def BigM() -> LayerFormulation:  # noqa: N802 - a formulation constructor, named like one
    """Big-M with the bounds given to the block (interval bounds by default)."""
    return LayerFormulation(
        "bigm",
        "big-M rows from the block's bounds (interval arithmetic unless tightened)",
        steps=[],
        encoding="bigm",
    )


def TightenedBigM(time_limit: float | None = None) -> LayerFormulation:  # noqa: N802
    """Big-M after LP-based bound tightening (OBBT) of every unstable neuron.

    ``time_limit``: seconds for the LP tightening of one block (None: no
    limit).  Neurons left when it runs out keep their interval bounds (sound,
    less tight), and a ``TimeLimitWarning`` says how many.  The formulation's
    ``cache`` remembers recent tightenings, so an indexed block embedding one
    network many times solves its LPs once.
    """
    return LayerFormulation(
        "tightened_bigm",
        "LP bound tightening (OBBT) when built, then big-M",
        steps=[Tighten(time_limit, owner="TightenedBigM")],
        encoding="bigm",
    )


def ScaledBigM(*, rule: str = "max_abs") -> LayerFormulation:  # noqa: N802
    """Big-M on the rescaled network; the outputs stay in original units.

    ``rule`` picks the factors (:func:`pyomo_relu.reductions.rescale`):
    ``"max_abs"`` (default, every hidden big-M at most 1), ``"upper"``,
    ``"row_norm"`` or ``"min_range"`` (smallest coefficient range of the rows,
    by a log-domain LP).  The block's ``build_stats.scaling`` and
    ``summary()["scaling"]`` name the rule that ran.

    Raises
    ------
    UnknownOptionError
        If ``rule`` is not one of :data:`~pyomo_relu.reductions.RESCALE_RULES`.
    """
    rescaling = Rescale(rule, owner="ScaledBigM")
    return LayerFormulation(
        "scaled_bigm",
        f"rescale hidden neurons ({_RULE_TEXT[rule]}, function preserving), then big-M",
        steps=[rescaling],
        encoding="bigm",
    )


def TightenedScaledBigM(  # noqa: N802
    time_limit: float | None = None, *, rule: str = "max_abs"
) -> LayerFormulation:
    """LP tightening (``time_limit`` seconds, None: no limit), rescaling by ``rule``, big-M.

    ``rule`` as for :func:`ScaledBigM` (same error for an unknown one).
    """
    tighten = Tighten(time_limit, owner="TightenedScaledBigM")
    rescaling = Rescale(rule, owner="TightenedScaledBigM")
    return LayerFormulation(
        "tightened_scaled_bigm",
        f"LP bound tightening (OBBT), then rescaling ({_RULE_TEXT[rule]}), then big-M",
        steps=[tighten, rescaling],
        encoding="bigm",
    )


class ReluOnly:
    """A preparation step that refuses networks with a clipped-ReLU layer, naming the fix.

    The SOS1 encoding covers the one kink of a ReLU; refusing in ``prepare``
    (before any row exists) gives the block's error with the formulation's
    name, instead of an error from inside the writer.
    """

    name = "relu_only"

    def __init__(self, owner: str, alternative: str):
        self.owner, self.alternative = owner, alternative

    def apply(self, prepared: Prepared, *, workers=1, progress=False) -> Prepared:
        net = prepared.network
        for k, layer in enumerate(net.layers):
            if layer.activation.kind is ActivationKind.CLIPPED_RELU:
                cap = layer.activation.cap
                cap = f"cap {cap}" if not isinstance(cap, tuple) else "per-neuron caps"
                raise NotApplicableError(
                    f"formulation {self.owner!r}: layer {k} of the network is a clipped ReLU "
                    f"({cap}), which the {self.owner!r} formulation does "
                    f"not cover (ReLU networks only); use formulation {self.alternative}."
                )
        return prepared

    def __repr__(self) -> str:
        return f"ReluOnly(owner={self.owner!r})"


def SOS1() -> LayerFormulation:  # noqa: N802
    """ReLU as complementarity ``y - z = s``, ``SOS1{y, s}``: no binaries (ReLU networks only).

    Solvers that take SOS constraints: SCIP (``scip_direct``,
    ``scip_persistent``), Gurobi, CPLEX; not HiGHS:
    :func:`pyomo_relu.solving.solve_model` with ``solver="appsi_highs"`` raises
    ``NotApplicableError`` naming the block and the fix.  A network with a
    clipped-ReLU layer is refused when the block is built (``NotApplicableError``).
    """
    return LayerFormulation(
        "sos1",
        "complementarity y*s = 0 as SOS1 sets, no binaries (ReLU only; SCIP, not HiGHS)",
        steps=[ReluOnly("sos1", "'bigm' or 'tightened_bigm' (or 'partition')")],
        encoding="sos1",
    )


def Partition(*, n_parts: int = 2, strategy: str = "equal_size") -> LayerFormulation:  # noqa: N802
    """P-split (partition) formulation with the block's bounds; see
    :mod:`~pyomo_relu.formulations.encodings.partition`.

    ``n_parts`` groups of weighted inputs per unstable neuron (default 2),
    grouped by ``strategy`` (``"equal_size"`` or ``"by_weight"``).  Clipped
    neurons whose cap is reachable get the big-M rows.

    Raises
    ------
    UnknownOptionError
        If ``n_parts`` is not a positive integer or ``strategy`` is unknown.
    """
    return LayerFormulation(
        "partition",
        f"P-split of each unstable neuron's weighted inputs into {n_parts} groups "
        f"({strategy}), from the block's bounds",
        steps=[],
        encoding=_partition(n_parts, strategy, "Partition"),
    )


def TightenedPartition(  # noqa: N802
    time_limit: float | None = None, *, n_parts: int = 2, strategy: str = "equal_size"
) -> LayerFormulation:
    """LP bound tightening (OBBT, ``time_limit`` seconds, None: no limit), then the P-split.

    The tightened bounds give the neuron's big-M rows and, through the bounds
    of the previous layer, the group bounds.  Options as for :func:`Partition`.
    """
    return LayerFormulation(
        "tightened_partition",
        f"LP bound tightening (OBBT) when built, then the P-split into {n_parts} groups "
        f"({strategy})",
        steps=[Tighten(time_limit, owner="TightenedPartition")],
        encoding=_partition(n_parts, strategy, "TightenedPartition"),
    )


def _partition(n_parts, strategy, owner):
    """The registered ``partition`` encoding for the defaults, else a new one."""
    if (n_parts, strategy) == (2, "equal_size"):
        return "partition"
    return PartitionEncoding(n_parts, strategy, owner=owner)
