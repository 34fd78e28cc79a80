"""The dated-episode report (``sim.timeline``): month labels, the facts table, and the shipped
``docs/timeline.md`` in step with the facts the module holds."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.params import load_scenario
from sim.timeline import FACTS, UNDATED, main, month_label, write_report

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_month_labels_follow_the_calendar() -> None:
    params = load_scenario("timeline-2024")
    assert [month_label(params, m) for m in (0, 4, 11, 12, 13, 25)] == [
        "Jan 2024",
        "May 2024",
        "Dec 2024",
        "Jan 2025",
        "Feb 2025",
        "Feb 2026",
    ]
    assert month_label(load_scenario("seed"), 7) == "month 7"


def test_events_of_the_scenario_are_the_dated_ones() -> None:
    params = load_scenario("timeline-2024")
    assert params.start_month == "2024-01"
    months = sorted({e.month for e in params.events})
    assert months == [4, 6, 9, 12, 13]
    # the July 2024 block is the lab's, and the October change excludes developers
    july = next(e for e in params.events if e.month == 6)
    assert july.set["direct-lab.fixed_strategy"] == "restrict"
    october = next(e for e in params.events if e.month == 9)
    assert october.set["partner-cloud.excluded_segments"] == ["developers"]


def test_initial_state_is_the_january_2024_observation() -> None:
    params = load_scenario("timeline-2024")
    best_domestic = max(p.quality for p in params.providers if p.channel == "domestic")
    best_open = max(p.quality for p in params.providers if p.channel == "open")
    assert 1 - best_domestic == pytest.approx(0.0926, abs=1e-12)
    assert 1 - best_open == pytest.approx(0.080, abs=1e-12)


def test_report_has_a_row_per_fact(tmp_path: Path) -> None:
    path = write_report(tmp_path, seeds=2, n_enterprises=200)
    text = path.read_text()
    for fact in FACTS:
        assert fact.fact in text
    for fact, _ in UNDATED:
        assert fact in text
    assert (tmp_path / "figures" / "timeline.png").stat().st_size > 0


def test_shipped_report_lists_every_fact() -> None:
    text = (DOCS / "timeline.md").read_text()
    for fact in FACTS:
        assert fact.fact in text, f"docs/timeline.md is stale: missing {fact.fact!r}"


def test_bad_seed_count_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--out", "unused", "--seeds", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --seeds=0")
