"""The seed story (issue 2, part 8) as statistical tests over seeds.

With the seed scenario as shipped, after 200 steps (months) the direct-channel lab restricts
and the partner-channel cloud allows (stylized fact SF1 of the model brief); a home mandate
makes both foreign providers restrict and raises the domestic share (SF2).

Runs use :func:`sim.batch.run_batch`, which is the model value for value (tests/test_batch.py).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim.batch import run_batch
from sim.params import load_scenario

SEEDS = list(range(50))
STEPS = 200


def _final(scenario: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    model, providers = run_batch(
        load_scenario(scenario), SEEDS, STEPS, final_only=True, providers=True
    )
    return model, providers


@pytest.fixture(scope="module")
def seed_runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _final("seed")


@pytest.fixture(scope="module")
def mandate_runs() -> tuple[pd.DataFrame, pd.DataFrame]:
    return _final("mandate")


def _strategy(providers: pd.DataFrame, name: str) -> np.ndarray:
    rows = providers[providers["name"] == name].sort_values("run")
    assert list(rows["run"]) == list(range(len(SEEDS)))
    return rows["strategy"].to_numpy()


@pytest.mark.slow
def test_divergence_direct_restricts_partner_allows(seed_runs) -> None:
    """SF1: in at least 90% of 50 seeds, at step 200 the direct lab restricts while the
    partner cloud allows (both in the same run)."""
    model, providers = seed_runs
    assert load_scenario("seed").n_enterprises == 5000
    assert set(model["step"]) == {STEPS}
    divergent = (_strategy(providers, "direct-lab") == "restrict") & (
        _strategy(providers, "partner-cloud") == "allow"
    )
    assert divergent.mean() >= 0.9, f"divergence in {divergent.mean():.0%} of seeds"


@pytest.mark.slow
def test_mandate_both_foreign_restrict_and_domestic_share_rises(seed_runs, mandate_runs) -> None:
    """SF2: under the mandate both foreign providers restrict in at least 90% of seeds, and
    the mean domestic share at step 200 exceeds the seed scenario's by at least 0.05
    (observed about 0.10); the difference is also at least 5 standard errors of the
    difference of the two means over 50 seeds each (Welch)."""
    mandate_model, mandate_providers = mandate_runs
    both = (_strategy(mandate_providers, "direct-lab") == "restrict") & (
        _strategy(mandate_providers, "partner-cloud") == "restrict"
    )
    assert both.mean() >= 0.9, f"both restrict in {both.mean():.0%} of seeds"
    seed_share = seed_runs[0]["domestic_share"].to_numpy()
    mandate_share = mandate_model["domestic_share"].to_numpy()
    difference = mandate_share.mean() - seed_share.mean()
    standard_error = math.sqrt(
        seed_share.var(ddof=1) / len(seed_share) + mandate_share.var(ddof=1) / len(mandate_share)
    )
    assert difference >= 0.05, f"domestic share rises by only {difference:.3f}"
    assert difference >= 5 * standard_error, (difference, standard_error)


@pytest.mark.slow
def test_mandate_closes_capability_gap_faster(seed_runs, mandate_runs) -> None:
    """SF2 (second half): the capability gap at step 200 is smaller under the mandate, by more
    than 5 standard errors of the difference of means."""
    seed_gap = seed_runs[0]["capability_gap"].to_numpy()
    mandate_gap = mandate_runs[0]["capability_gap"].to_numpy()
    difference = seed_gap.mean() - mandate_gap.mean()
    standard_error = math.sqrt(
        seed_gap.var(ddof=1) / len(seed_gap) + mandate_gap.var(ddof=1) / len(mandate_gap)
    )
    assert difference > 5 * standard_error, (difference, standard_error)
