"""``paper.md`` from ``paper.csv`` (the study of :mod:`.paper`)."""

from __future__ import annotations

import csv
from pathlib import Path

__all__ = ["read_rows", "write_report"]


def read_rows(csv_path) -> list[dict]:
    """The rows of ``paper.csv`` as dicts of strings."""
    path = Path(csv_path)
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def write_report(csv_path, out_dir, *, quick: bool = False) -> Path:
    """Write ``paper.md`` for the rows of ``csv_path``; returns its path."""
    rows = read_rows(csv_path)
    md = Path(out_dir) / "paper.md"
    lines = ["# Test-function study", "", f"{len(rows)} solves.", ""]
    md.write_text("\n".join(lines))
    return md
