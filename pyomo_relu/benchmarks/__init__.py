"""The benchmark suite: three problems from the literature, run under every configuration.

* :mod:`.problems` - model builders ``build_peaks``, ``build_reformer``, ``build_oil``
  and the cached training of the network variants;
* :mod:`.omlt_baseline` - the same networks in OMLT's big-M formulation;
* :mod:`.runner` - ``run(out_dir, quick=..., problems=..., time_limit=...)``, which
  writes ``suite.csv``, ``suite.md`` and a plot (``pyomo-relu bench``).

Importing this package needs neither torch nor OMLT; training and the baseline
import them when used.
"""

from .problems import PROBLEMS, build_oil, build_peaks, build_reformer, get_problem
from .runner import run

__all__ = ["PROBLEMS", "get_problem", "build_peaks", "build_reformer", "build_oil", "run"]
