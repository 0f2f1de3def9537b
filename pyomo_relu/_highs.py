"""A quiet HiGHS instance (pure: no Pyomo).

HiGHS prints a copyright banner on standard output the first time a solver
object is created in a process, before any option can switch output off.
Library code must not write to the user's stdout, so the first creation
runs with file descriptor 1 pointed at /dev/null.
"""

from __future__ import annotations

import os
import sys

_BANNER_SHOWN = False


def new_highs():
    """``highspy.Highs()`` with output off and without the start-up banner."""
    global _BANNER_SHOWN
    import highspy

    if _BANNER_SHOWN:
        h = highspy.Highs()
    else:
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            h = highspy.Highs()
        finally:
            os.dup2(saved, 1)
            os.close(saved)
            os.close(devnull)
        _BANNER_SHOWN = True
    h.setOptionValue("output_flag", False)
    return h


def certifying_highs():
    """A quiet single-thread HiGHS instance for LPs whose bounds are certified by their duals.

    Presolve is off (the duals must belong to the LP as given).  HiGHS refuses
    coefficients above 1e15 (met with boxes wider than about 1e14) and takes
    bounds from 1e20 on as infinite; the dual certificate is rigorous for any
    solution, so the LP is accepted as it is.
    """
    import highspy

    h = new_highs()
    for name, value in (
        ("threads", 1),
        ("presolve", "off"),
        ("large_matrix_value", highspy.kHighsInf),
        ("infinite_bound", highspy.kHighsInf),
    ):
        h.setOptionValue(name, value)
    return h


def run_highs(h):
    """``h.run()``, also after another HiGHS user in this process changed the thread scheduler.

    HiGHS keeps one global thread scheduler per process.  When another
    solver object (e.g. Pyomo's ``appsi_highs``) started it with another
    thread count, HiGHS refuses to run an instance with ``threads=1`` and
    returns an error before doing any work; the scheduler is then reset
    and the run repeated.  Returns the run's ``HighsStatus``.
    """
    import highspy

    status = h.run()
    if (
        status == highspy.HighsStatus.kError
        and h.getModelStatus() == highspy.HighsModelStatus.kNotset
    ):
        highspy.Highs.resetGlobalScheduler(True)
        status = h.run()
    return status
