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
