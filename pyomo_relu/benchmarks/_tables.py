"""Small output helpers shared by the benchmark scripts."""

from __future__ import annotations

import csv
from pathlib import Path


def write_csv(path: Path, rows, fields) -> None:
    """Write ``rows`` (dicts) to ``path`` with the columns ``fields``, header first."""
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
