"""The seed story (issue 2, part 8) on the version-2 seed, as statistical tests over seeds.

With the seed scenario as shipped (five enterprise segments on a network, licensing, compute
and diffusion), after 200 steps (months) the direct-channel lab restricts and the
partner-channel cloud allows (stylized fact SF1 of the model brief); a home mandate makes both
foreign providers restrict, raises the domestic share and narrows the capability gap (SF2).

Runs use :func:`sim.batch.run_batch`, which is the model value for value (tests/test_batch.py).
Measured with 50 seeds of 5000 enterprises (version 2): divergence in 50/50 seeds; under the
mandate both restrict in 50/50; domestic share +0.055 (Welch SE 0.0012; the first version's
seed gave about +0.10); gap -0.0066 (SE 0.0010).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.batch import BatchResult, run_batch
from sim.params import load_scenario

SEEDS = list(range(50))
STEPS = 200


def _final(scenario: str) -> BatchResult:
    return run_batch(load_scenario(scenario), SEEDS, STEPS, final_only=True)


@pytest.fixture(scope="module")
def seed_runs() -> BatchResult:
    return _final("seed")


@pytest.fixture(scope="module")
def mandate_runs() -> BatchResult:
    return _final("mandate")


def _strategy(result: BatchResult, name: str) -> np.ndarray:
    rows = result.providers[result.providers["name"] == name].sort_values("run")
    assert list(rows["run"]) == list(range(len(SEEDS)))
    return rows["strategy"].to_numpy()


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Difference of means ``b - a`` and its Welch standard error."""
    return b.mean() - a.mean(), math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))


@pytest.mark.slow
def test_divergence_direct_restricts_partner_allows(seed_runs: BatchResult) -> None:
    """SF1: in at least 90% of 50 seeds, at step 200 the direct lab restricts while the
    partner cloud allows (both in the same run)."""
    assert load_scenario("seed").n_enterprises == 5000
    assert set(seed_runs.model["step"]) == {STEPS}
    divergent = (_strategy(seed_runs, "direct-lab") == "restrict") & (
        _strategy(seed_runs, "partner-cloud") == "allow"
    )
    assert divergent.mean() >= 0.9, f"divergence in {divergent.mean():.0%} of seeds"


@pytest.mark.slow
def test_mandate_both_foreign_restrict_and_domestic_share_rises(
    seed_runs: BatchResult, mandate_runs: BatchResult
) -> None:
    """SF2: under the mandate both foreign providers restrict in at least 90% of seeds, and
    the mean domestic share at step 200 exceeds the seed scenario's by more than 5 standard
    errors of the difference of the two means over 50 seeds each (Welch) and by at least
    0.03 (observed about 0.055)."""
    both = (_strategy(mandate_runs, "direct-lab") == "restrict") & (
        _strategy(mandate_runs, "partner-cloud") == "restrict"
    )
    assert both.mean() >= 0.9, f"both restrict in {both.mean():.0%} of seeds"
    difference, standard_error = _welch(
        seed_runs.model["domestic_share"].to_numpy(),
        mandate_runs.model["domestic_share"].to_numpy(),
    )
    assert difference >= 0.03, f"domestic share rises by only {difference:.3f}"
    assert difference >= 5 * standard_error, (difference, standard_error)


@pytest.mark.slow
def test_mandate_closes_capability_gap_faster(
    seed_runs: BatchResult, mandate_runs: BatchResult
) -> None:
    """SF2 (second half): the capability gap at step 200 is smaller under the mandate, by more
    than 5 standard errors of the difference of means (observed 0.0066, about 7 SE)."""
    difference, standard_error = _welch(
        mandate_runs.model["capability_gap"].to_numpy(),
        seed_runs.model["capability_gap"].to_numpy(),
    )
    assert difference > 5 * standard_error, (difference, standard_error)
