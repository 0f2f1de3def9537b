r"""The big-M encoding of one unstable ReLU or clipped-ReLU neuron.

For a neuron with pre-activation :math:`z` and sound bounds :math:`l \le z \le u`:

* ReLU, :math:`l < 0 < u`: binary :math:`d`,

  .. math:: y \ge z,\quad y \ge 0,\quad y \le z - l(1-d),\quad y \le u\,d.

* Clipped ReLU :math:`\min(\max(0, z), c)`: binaries :math:`d_1` (":math:`z \ge 0`")
  and :math:`d_2` (":math:`z \ge c`") with :math:`d_2 \le d_1`,

  .. math:: y \ge z - (u - c) d_2,\quad y \le z - l(1 - d_1),\quad
            y \le c\,d_1,\quad y \ge c\,d_2,\quad 0 \le y \le c.

  A kink that is not reachable fixes its binary (:math:`l \ge 0 \Rightarrow d_1 = 1`,
  :math:`u \le c \Rightarrow d_2 = 0`), so a neuron needs two, one or no binaries.

The bounds :math:`0 \le y` (and :math:`y \le c`) are the bounds of the
variable ``y``, which the layer writer sets.  Rows: ``ge_pre``, ``ge_cap``,
``le_pre``, ``le_on``, ``order``; binaries ``d`` (:math:`d_1`) and ``d2``.
Reference: Fischetti & Jo, "Deep neural networks and mixed integer linear
optimization", Constraints 23 (2018).
"""

from __future__ import annotations

from pyomo.environ import Binary

from ..writer import linear


class BigMEncoding:
    """Big-M rows of one unstable (clipped) ReLU; see the module docstring."""

    name = "bigm"
    description = "big-M rows with one binary per reachable kink"
    variables = {"d": Binary, "d2": Binary}

    def plan(self, key, l: float, u: float, cap: float) -> dict:
        needs = {}
        if l < 0.0:
            needs["d"] = None
        if u > cap:
            needs["d2"] = None
        return needs

    def write(self, w, key, z, y, l: float, u: float, c: float) -> None:
        d1 = w.var("d", key)  # None: d1 fixed to 1
        d2 = w.var("d2", key)  # None: d2 fixed to 0
        # y >= z - (u - c) d2
        if d2 is None:
            w.row("ge_pre", key, 0.0, linear(0.0, [1.0, -1.0], [y, z]), None)
        else:
            w.row("ge_pre", key, 0.0, linear(0.0, [1.0, -1.0, u - c], [y, z, d2]), None)
            # y >= c d2
            w.row("ge_cap", key, 0.0, linear(0.0, [1.0, -c], [y, d2]), None)
        if d1 is not None:
            # y <= z - l (1 - d1)  <=>  z - y - l + l d1 >= 0
            w.row("le_pre", key, 0.0, linear(-l, [1.0, -1.0, l], [z, y, d1]), None)
            # y <= min(u, c) d1
            w.row("le_on", key, None, linear(0.0, [1.0, -min(u, c)], [y, d1]), 0.0)
        else:
            w.row("le_pre", key, 0.0, linear(0.0, [1.0, -1.0], [z, y]), None)
        if d1 is not None and d2 is not None:
            w.row("order", key, None, linear(0.0, [1.0, -1.0], [d2, d1]), 0.0)

    def __repr__(self) -> str:
        return f"<encoding {self.name!r}: {self.description}>"
