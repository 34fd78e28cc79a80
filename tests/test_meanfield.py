"""The mean-field map against the agent-based model and its own invariants."""

from __future__ import annotations

import numpy as np
import pytest

from sim import engine, meanfield
from sim import validation as v
from sim.params import load_scenario


def test_distance_to_abm_shrinks_as_one_over_sqrt_n() -> None:
    """Strategies fixed so only enterprise noise remains; slope of log RMS distance on log N
    within 4 SE of -1/2 and decreasing at every size step."""
    check = v.check_meanfield_scaling()
    assert abs(check.extra["slope"] + 0.5) <= v.Z_TOL * check.extra["slope_se"], check.detail
    assert all(b < a for a, b in zip(check.simulated, check.simulated[1:], strict=False))
    assert check.passed


@pytest.mark.parametrize("scenario", ["seed", "mandate", "open", "protectionist"])
def test_mean_state_stays_a_distribution(scenario: str) -> None:
    params = load_scenario(scenario)
    core = engine.Core.from_params(params)
    ms = meanfield.initial_mean_state(params)
    for _ in range(40):
        ms = meanfield.step(core, ms)
        assert ms.shares.sum() == pytest.approx(1.0, abs=1e-12)
        assert (ms.shares >= -1e-15).all()
        assert ((ms.allow >= 0) & (ms.allow <= 1)).all()
        assert 0 <= ms.home_restricts <= 1 and 0 <= ms.rival_restricts <= 1
        rel = ms.quality / ms.frontier
        assert (rel <= 1 + 1e-12).all()


def test_no_revision_keeps_shares() -> None:
    params = v.fixed_strategy_params(1000).replace(revision_rate=0.0)
    frame = meanfield.trajectory(params, 10)
    assert np.ptp(frame.domestic_share) < 1e-12


def test_initial_row_matches_engine_adoption_probabilities() -> None:
    """Row 0 is the expectation of the engine's initial draw: the ABM's step-0 domestic share
    over many enterprises is within 4 binomial SE of it."""
    from sim.batch import run_batch

    params = load_scenario("seed").replace(n_enterprises=20_000)
    mf = meanfield.trajectory(params, 0).domestic_share.iloc[0]
    abm = run_batch(params, [0], 0)
    share = float(abm.domestic_share.iloc[0])  # type: ignore[union-attr]
    se = np.sqrt(mf * (1 - mf) / params.n_enterprises)
    assert abs(share - mf) <= v.Z_TOL * se


@pytest.mark.parametrize("rule", ["fermi", "fictitious_play", "roth_erev"])
def test_rules_without_expected_update_are_refused(rule: str) -> None:
    with pytest.raises(ValueError, match=f"firm_rule='{rule}'"):
        meanfield.trajectory(load_scenario("seed").replace(firm_rule=rule), 1)


def test_bad_steps() -> None:
    with pytest.raises(ValueError, match="steps=-1"):
        meanfield.trajectory(load_scenario("seed"), -1)
