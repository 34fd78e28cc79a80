"""The validation report's robustness section: which parameters are perturbed, the flip and
weakening rules, the Markdown it writes, and a small end-to-end run whose shares are checked
against the model run directly with the stored seeds."""

from __future__ import annotations

import numpy as np
import pytest

from sim.batch import run_batch
from sim.experiments import load
from sim.experiments.threshold import Probe, ThresholdResult
from sim.params import load_scenario
from sim.validation import robustness
from sim.validation.robustness import OatRow, Robustness, Share


def test_perturbed_parameters_skip_inert_globals_and_zeros():
    seed = load_scenario("seed")
    names = robustness.oat_parameters(seed)
    # every segment of seed sets its own price sensitivity: the global one is inert there
    assert "price_sensitivity" not in names
    assert {f"{s.name}.price_sensitivity" for s in seed.segments} <= set(names)
    # three segments take the global rationality, two set their own
    assert "enterprise_rationality" in names
    assert "state-regulated.enterprise_rationality" in names
    assert "smes-startups.enterprise_rationality" not in names
    assert {"direct-lab.home_exposure", "partner-cloud.rival_dependence"} <= set(names)
    assert "export_control_cost" not in names  # 0 in seed
    classic = robustness.oat_parameters(load_scenario("classic"))
    assert "price_sensitivity" in classic  # no segments: the global value is the one in use
    assert robustness.sf1_outcome(seed) == [
        {"column": "direct-lab/strategy", "equals": "restrict"},
        {"column": "partner-cloud/strategy", "equals": "allow"},
    ]


def row(parameter, direction, hits, runs=100, horizon=120):
    return OatRow(parameter, direction, 1.0, 1.0, {horizon: Share(hits, runs)})


def test_flip_and_weakening_rules(monkeypatch):
    monkeypatch.setattr(robustness, "HORIZONS", (120,))
    rows = (
        row(None, 0, 95),
        row("a", -1, 40),  # below one half: flips
        row("a", 1, 84),  # 11 points lower, beyond 1.96 SE of the difference
        row("b", -1, 90),  # 5 points lower: within sampling error
        row("b", 1, 50),  # exactly one half keeps the majority: weakened, not flipped
    )
    result = Robustness("seed", rows, (), False, 0.0, 100)
    assert [result.status(r, 120) for r in rows[1:]] == ["flips", "weakened", "holds", "weakened"]
    assert result.flips() == [(rows[1], 120)]
    low = Robustness("seed", (row(None, 0, 30), row("a", 1, 60)), (), False, 0.0, 100)
    assert low.status(low.rows[1], 120) == "restores"
    # crossing one half within sampling error (6 and 7 points, SE of the difference ~7): none
    near = Robustness(
        "seed", (row(None, 0, 52), row("a", -1, 46), row("a", 1, 59)), (), False, 0.0, 100
    )
    assert [near.status(r, 120) for r in near.rows[1:]] == ["holds", "holds"]
    below = Robustness("seed", (row(None, 0, 45), row("a", 1, 52)), (), False, 0.0, 100)
    assert below.status(below.rows[1], 120) == "holds"


def test_markdown_states_flips_thresholds_and_missing_scenarios(monkeypatch):
    monkeypatch.setattr(robustness, "HORIZONS", (24, 120))
    shares = {24: Share(50, 50), 120: Share(50, 50)}
    rows = (
        OatRow(None, 0, None, None, shares),
        OatRow("market_value", -1, 80.0, 100.0, shares),
        OatRow("market_value", 1, 120.0, 100.0, {24: Share(50, 50), 120: Share(10, 50)}),
    )
    search = ThresholdResult(
        name="s",
        parameter="market_value",
        level=0.5,
        outcome="x",
        low=100.0,
        high=120.0,
        probes=(Probe(0, 100.0, 50, 50), Probe(0, 120.0, 50, 10), Probe(1, 110.0, 50, 30)),
        crossing=True,
        increasing=False,
        bracket=(110.0, 120.0),
        confident_bracket=(110.0, 120.0),
        estimate=112.5,
        estimate_interval=(111.0, 114.0),
    )
    note = "At 120 the rival government blocks."
    result = Robustness("seed", rows, (("market_value", 1, 120, search, note),), False, 3.0, 50)
    text = "\n".join(robustness.markdown([result], missing=["calibrated"]))
    assert "Scenario `calibrated` is not in this package yet" in text
    assert "**Flips SF1:** `market_value +20%` at 120 months. The headline is fragile" in text
    assert "| `market_value` | 100 | 80 | 1.00 | 1.00 | 120 | 1.00 | **0.20 flips** |" in text
    assert (
        "| `market_value` | 120 | [100, 120] | 1.00 / 0.20 | [110, 120] | [110, 120] | "
        "112.5 [111, 114] |" in text
    )
    assert "Threshold searches for the flips and restorations:" in text
    assert (
        "At 120 months SF1 is lost in most seeds once `market_value` is above a threshold "
        "between 110 and 120 (95 % bracket; bisection bracket [110, 120]), 10-20 % above its "
        "base value 100. At 120 the rival government blocks." in text
    )


def test_markdown_says_plainly_when_the_base_lacks_sf1(monkeypatch):
    monkeypatch.setattr(robustness, "HORIZONS", (24, 120))
    base = {24: Share(20, 50), 120: Share(40, 50)}
    rows = (
        OatRow(None, 0, None, None, base),
        OatRow("market_value", -1, 80.0, 100.0, {24: Share(30, 50), 120: Share(40, 50)}),
        OatRow("market_value", 1, 120.0, 100.0, {24: Share(20, 50), 120: Share(41, 50)}),
    )
    outcome = {24: "the rival government blocks foreign services in 90%"}
    result = Robustness("calibrated", rows, (), False, 1.0, 50, outcome)
    text = "\n".join(robustness.markdown([result], missing=[]))
    assert (
        "**SF1 does not hold at the base** at 24 months; at 24 months the rival government "
        "blocks foreign services in 90%." in text
    )
    assert "Restored to a majority of seeds by: `market_value` -20% at 24 months (0.60)." in text
    assert "At 24 months the base's 95 % interval includes one half" in text
    assert "| `market_value` | 100 | 80 | **0.60 restores** | 0.80 |" in text
    assert "**Nothing flips SF1** at -/+20% of any listed parameter at 120 months." in text
    search = ThresholdResult(
        name="s",
        parameter="market_value",
        level=0.5,
        outcome="x",
        low=80.0,
        high=100.0,
        probes=(Probe(0, 100.0, 50, 20), Probe(0, 80.0, 50, 30), Probe(1, 90.0, 50, 26)),
        crossing=True,
        increasing=False,
        bracket=(80.0, 90.0),
        confident_bracket=(80.0, 90.0),
        estimate=None,
        estimate_interval=None,
    )
    found = Robustness(
        "calibrated", rows, (("market_value", -1, 24, search, ""),), False, 1.0, 50, outcome
    )
    text = "\n".join(robustness.markdown([found], missing=[]))
    assert (
        "At 24 months SF1 holds in most seeds once `market_value` is below a threshold between "
        "80 and 90" in text
    )
    none = Robustness("calibrated", rows[:1], (), False, 1.0, 50, outcome)
    text = "\n".join(robustness.markdown([none], missing=[]))
    assert "No -/+20% change of a listed parameter restores it to a majority of seeds." in text


def test_report_appends_the_section(tmp_path):
    from sim.validation.report import write_report

    path = write_report([], [], tmp_path, ["", "## Robustness of the headline (SF1)", "rows"])
    assert path.read_text().endswith("## Robustness of the headline (SF1)\nrows\n")


def test_small_end_to_end_run_counts_what_the_model_does(monkeypatch, tmp_path):
    monkeypatch.setattr(robustness, "HORIZONS", (12, 24))
    monkeypatch.setattr(robustness, "N_ENTERPRISES", 200)
    monkeypatch.setattr(robustness, "SEARCH_REPLICATES", 6)
    monkeypatch.setattr(robustness, "SEARCH_ROUNDS", 1)
    result = robustness.run_robustness(
        "seed", tmp_path, replicates=6, workers=1, parameters=["frontier_growth"]
    )
    assert [(r.parameter, r.direction) for r in result.rows] == [
        (None, 0),
        ("frontier_growth", -1),
        ("frontier_growth", 1),
    ]
    assert result.rows[1].value == pytest.approx(0.004) and result.rows[2].value == pytest.approx(
        0.006
    )
    frame = load(tmp_path / "sf1-oat-seed")
    params = load_scenario("seed").replace(n_enterprises=200)
    for point, oat_row in enumerate(result.rows):
        value = oat_row.value if oat_row.parameter else 0.005
        seeds = frame[(frame["point_id"] == point) & (frame["step"] == 0)]["seed"].tolist()
        batch = run_batch(params.replace(frontier_growth=value), seeds, 24, record_every=12)
        strategy = batch.providers.pivot_table(
            index=["run", "step"], columns="name", values="strategy", aggfunc="first"
        )
        both = (strategy["direct-lab"] == "restrict") & (strategy["partner-cloud"] == "allow")
        for horizon in (12, 24):
            hits = int(both.xs(horizon, level="step").sum())
            assert oat_row.shares[horizon] == Share(hits, 6)
    # every search (a flip, or the most weakened when nothing flips) has its two ends
    for _, _, _, search, note in result.searches:
        assert len(search.probes) >= 2
        assert note.startswith("At ") and "rival government blocks" in note
    assert np.isfinite(result.seconds)
