"""Validation of option values shared by several public functions (pure: no Pyomo)."""

from __future__ import annotations

import math
import numbers

from .errors import UnknownOptionError

__all__ = ["seconds_option", "NO_LIMIT"]

#: a limit of this many seconds or more means none: it is SCIP's infinity (SCIP refuses larger
#: limits), and over 3e12 years
NO_LIMIT = 1e20


def seconds_option(
    value, what: str, *, name: str = "time_limit", allow_zero: bool = True
) -> float | None:
    """A validated time limit in seconds: a float, or None for no limit.

    :data:`NO_LIMIT` seconds or more (``inf`` included) also mean no limit.

    Parameters
    ----------
    value : real number or None
        The caller's value.  Booleans, strings and NaN are refused: ``True``
        is not a number of seconds, and a string is most likely a mixed-up
        argument.
    what : str
        The function or class that takes the option (starts the message).
    name : str
        The option's name.
    allow_zero : bool
        Whether 0 (stop at once, keep what is known) is a valid limit.

    Raises
    ------
    UnknownOptionError
        Naming ``what`` and ``name``, the value found and what is expected.
    """
    if value is None:
        return None
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and not math.isnan(value)
        and (value > 0 or (allow_zero and value == 0))
    )
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise UnknownOptionError(
            f"{what}: {name} must be a number of seconds {bound} or None (no limit), found "
            f"{value!r}."
        )
    return None if value >= NO_LIMIT else float(value)
