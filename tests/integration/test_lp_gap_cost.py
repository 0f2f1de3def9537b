"""The LP-gap cost benchmark: one short run writes consistent tables."""

from __future__ import annotations

import csv

import pytest

pytest.importorskip("torch")

from pyomo_relu.benchmarks import lp_gap_cost  # noqa: E402


def test_short_run_writes_rows_whose_ratios_and_counts_fit(tmp_path):
    rows = lp_gap_cost.run(tmp_path, epochs=1, samples=((1, 1), (2, 3)), repeats=1)
    plain, gap, sparse = rows
    assert (sparse["lp_gap_samples"], sparse["lp_gap_every"]) == (2, 3)
    assert sparse["lps_per_epoch"] == 2 * 2 * 42  # 125 steps, the gap term in 42 of them
    assert plain["variant"] == "plain" and plain["wall_ratio"] == 1.0
    assert gap["lp_gap_samples"] == 1 and gap["lps_per_epoch"] == 2 * 125
    assert gap["wall_ratio"] == pytest.approx(gap["wall_s"] / plain["wall_s"])
    assert gap["cpu_ratio"] == pytest.approx(gap["cpu_s"] / plain["cpu_s"])
    assert gap["wall_ratio"] > 1.0  # solving LPs is never free
    assert 0.0 < gap["mean_lp_gap"] and 0.0 < plain["mean_lp_gap"]
    with open(tmp_path / "lp_gap_cost.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [r["variant"] for r in table] == ["plain", "lp_gap=0.01", "lp_gap=0.01"]
    text = (tmp_path / "lp_gap_cost.md").read_text()
    assert "| plain |" in text and "1 point every step (250 LPs per epoch)" in text


@pytest.mark.parametrize("text", ["0,2", "2:0", "two", ""])
def test_samples_option_rejects_bad_schedules(text):
    with pytest.raises(SystemExit):
        lp_gap_cost.main(["--samples", text])
