r"""The big-M family of layer formulations (and ``sos1``), each a list of steps plus an encoding.

For a neuron with pre-activation :math:`z = w^\top a + b` and sound bounds
:math:`l \le z \le u`:

* ReLU, :math:`l \ge 0`: :math:`y = z`; :math:`u \le 0`: :math:`y = 0` (the
  neuron is dropped and contributes nothing downstream).  Stable neurons get no
  binary (:mod:`pyomo_relu.formulations.writer`).
* Unstable neurons get a pre-activation variable :math:`z` (one equality row
  carries the dense weights once) and the rows of the encoding: big-M
  (:mod:`pyomo_relu.formulations.encodings.bigm`, 2-3 terms per row) or SOS1
  (:mod:`pyomo_relu.formulations.encodings.sos1`).

``tightened_*`` tighten the bounds by LP (OBBT) when the block is built,
``scaled_*`` rescale hidden neurons so every big-M is at most 1.
Reference: Fischetti & Jo, "Deep neural networks and mixed integer linear
optimization", Constraints 23 (2018); Plate et al., arXiv 2502.03016 (2025).
"""

from __future__ import annotations

from .layered import LayerFormulation
from .steps import Rescale, Tighten
from .writer import LayerWriter

__all__ = ["BigM", "TightenedBigM", "ScaledBigM", "TightenedScaledBigM", "SOS1"]

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


def SOS1() -> LayerFormulation:  # noqa: N802
    """ReLU as complementarity ``y - z = s``, ``SOS1{y, s}``: no binaries (ReLU networks only).

    Solvers that take SOS constraints: SCIP (``scip_direct``,
    ``scip_persistent``), Gurobi, CPLEX; not HiGHS.
    """
    return LayerFormulation(
        "sos1",
        "complementarity y*s = 0 as SOS1 sets, no binaries (ReLU only; SCIP, not HiGHS)",
        steps=[],
        encoding="sos1",
    )
