"""Stylized facts of the model brief as statistical tests over seeds, on the exact model
(sim.batch.run_batch) and the version-2 seed. Effect sizes and confidence levels are stated
per test; the same check functions, at the report's larger sizes, fill docs/validation.md.
The tests call them at smaller sizes to stay fast."""

from __future__ import annotations

import numpy as np
import pytest

from sim import validation as v
from sim.params import load_scenario
from sim.phases import PHASES
from sim.validation.checks import SF4_GAPS, rival_block_threshold, rival_block_value

pytestmark = pytest.mark.slow


def test_sf1_divergence() -> None:
    """Effect: share of seeds where the direct lab restricts and the partner cloud allows, at
    months 24, 120 and 240; claim: its one-sided 95 % Wilson lower bound exceeds 0.8 at each
    (100 seeds of 500 enterprises; the report uses 200 of 1000)."""
    check = v.check_sf1_divergence(n_seeds=100, n_enterprises=500)
    assert check.x == (24.0, 120.0, 240.0)
    assert min(check.extra["lower"]) > 0.8, check.detail
    assert check.passed


def test_sf2_substitution_backfire() -> None:
    """Effects at months 24 and 60, mandate minus no mandate over 60 paired seeds: domestic
    share difference > 0 and capability-gap reduction > 0, each with a 95 % CI excluding 0."""
    check = v.check_sf2_backfire(n_seeds=60, n_enterprises=500, steps=60, at=(24, 60))
    assert len(check.simulated) == 4
    for mean, half in zip(check.simulated, check.error, strict=True):
        assert mean - half > 0, check.detail
    assert check.passed


def test_sf3_phase_structure() -> None:
    """Each phase (all-allow, divergence, all-restrict; seeds classified by sim.phases) holds
    in some (e f, V) cell for a share of seeds whose one-sided 95 % Wilson lower bound exceeds
    1/2 (12 seeds of 400 enterprises per cell)."""
    check = v.check_sf3_phases(n_seeds=12, n_enterprises=400)
    assert check.labels == ("all-allow", "divergence", "all-restrict")
    shares = np.asarray(check.extra["phase_share"])  # (V, e f, phase), phases of sim.phases
    assert shares.shape[-1] == len(PHASES)
    np.testing.assert_allclose(shares.sum(axis=-1), 1.0)
    for phase, low in zip(check.labels, check.extra["lower_bounds"], strict=True):
        assert low > 0.5, f"{phase}: {check.detail}"
    assert check.passed


def test_rival_blocking_threshold_is_where_its_objective_changes_sign() -> None:
    """The reported threshold is the gap at which the rival's value of blocking changes sign
    (positive just below it, negative just above), and it lies inside the SF4 levels."""
    seed = load_scenario("seed")
    strategies = {"direct-lab": "restrict", "partner-cloud": "allow"}
    threshold = rival_block_threshold(seed, strategies)
    assert rival_block_value(seed, threshold - 1e-3, strategies) > 0
    assert rival_block_value(seed, threshold + 1e-3, strategies) < 0
    assert min(SF4_GAPS) < threshold < max(SF4_GAPS)


def test_sf4_protection() -> None:
    """Effect: mean share of months the rival government blocks, at initial best-domestic gaps
    from the seed's 0.12 to the frontier (60 seeds of 500 enterprises per level); it falls
    with the gap (OLS slope < 0, one-sided 95 %, HC1) and levels below the rival's threshold
    block more than levels above it (Welch); no blocking at the seed's own gap."""
    check = v.check_sf4_protection(n_seeds=60)
    assert check.x[0] == pytest.approx(0.12) and check.x[-1] == 0.0
    assert check.simulated[0] == 0.0, check.detail
    assert check.extra["slope"] < 0 and check.extra["contrast"] > 0, check.detail
    assert check.passed
