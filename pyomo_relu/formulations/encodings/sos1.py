r"""The SOS1 (complementarity) encoding of one unstable ReLU neuron.

For a ReLU neuron with pre-activation :math:`z` and sound bounds
:math:`l < 0 < u`, a slack :math:`s` takes the negative part of :math:`z`:

.. math:: y - z = s,\quad 0 \le y \le u,\quad 0 \le s \le -l,\quad
          \mathrm{SOS1}\{y, s\}\ \ (y\,s = 0).

It needs no binary and no big-M coefficient: the solver branches on the SOS1
set.  The bounds of ``y`` are set by the layer writer, those of ``s`` here.
Rows: ``slack`` (the equality), SOS constraints ``sos``, variables ``s``.

Solvers: SCIP takes the SOS constraints both through
:func:`pyomo_relu.solving.solve_model` (``scip_direct``, ``scip_persistent``:
Pyomo's ``pyomo.contrib.solver`` interface) and through
``pyo.SolverFactory("scip_direct")``.  HiGHS has no SOS constraints:
``solve_model(m, solver="appsi_highs")`` raises ``NotImplementedError`` instead
of solving the model without them.

Clipped ReLU has two kinks and needs two complementarity pairs plus a
saturation slack; this encoding does not cover it and says so at build time.
Reference: Fischetti & Jo (2018), Section 3 (the complementarity view of ReLU).
"""

from __future__ import annotations

import math

from pyomo.environ import NonNegativeReals

from ...errors import NotApplicableError
from ..writer import linear


class SOS1Encoding:
    """ReLU as ``y - z = s``, ``SOS1{y, s}``; see the module docstring."""

    name = "sos1"
    description = "complementarity y*s = 0 as an SOS1 set (no binaries, ReLU only)"
    variables = {"s": NonNegativeReals}

    def plan(self, key, l: float, u: float, cap: float) -> dict:
        if math.isfinite(cap):
            raise NotApplicableError(
                f"encoding 'sos1': neuron {key} (layer, neuron) is a clipped ReLU with cap {cap}, "
                "which the SOS1 encoding does not cover; use the 'bigm' encoding (formulation "
                "'bigm' or 'tightened_bigm') for networks with clipped ReLU."
            )
        return {"s": (0.0, -l)}

    def write(self, w, key, z, y, l: float, u: float, c: float) -> None:
        s = w.var("s", key)
        # y - z - s = 0
        w.row("slack", key, 0.0, linear(0.0, [1.0, -1.0, -1.0], [y, z, s]), 0.0)
        w.sos1("sos", key, [y, s])

    def __repr__(self) -> str:
        return f"<encoding {self.name!r}: {self.description}>"
