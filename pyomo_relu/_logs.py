"""Leaving out Pyomo log records that say nothing to the user, or repeat what the package
reports."""

from __future__ import annotations

import logging
from contextlib import contextmanager

__all__ = ["dropping_log_records"]


@contextmanager
def dropping_log_records(drop, logger: str = "pyomo.core"):
    """Within the block, records of ``logger`` for which ``drop(record)`` is true are not emitted.

    The filter sits on the logger the records are made on (a filter on a parent
    logger does not see them), and is removed on exit, so other records and
    later ones are untouched.
    """
    target = logging.getLogger(logger)

    def keep(record: logging.LogRecord) -> bool:
        return not drop(record)

    target.addFilter(keep)
    try:
        yield
    finally:
        target.removeFilter(keep)
