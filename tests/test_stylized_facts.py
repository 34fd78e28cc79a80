"""Stylized facts of the model brief as statistical tests over seeds, on the exact model
(sim.batch.run_batch). Effect sizes and confidence levels are stated per test; the same
records fill docs/validation.md."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sim import validation as v
from sim.phases import PHASES

pytestmark = pytest.mark.slow


def test_sf1_divergence() -> None:
    """Effect: share of seeds where the direct lab restricts and the partner cloud allows;
    claim: its one-sided 95 % Wilson lower bound exceeds 0.8."""
    check = v.check_sf1_divergence()
    assert check.extra["lower"] > 0.8, check.detail
    assert check.passed


def test_sf2_substitution_backfire() -> None:
    """Effects at step 60, mandate minus no mandate over paired seeds: domestic share
    difference > 0 and capability-gap reduction > 0, each with a 95 % CI excluding 0."""
    check = v.check_sf2_backfire()
    for mean, half in zip(check.simulated, check.error, strict=True):
        assert mean - half > 0, check.detail
    assert check.passed


def test_sf3_phase_structure() -> None:
    """Each phase (all-allow, divergence, all-restrict; seeds classified by sim.phases) holds
    in some (e f, V) cell for a share of seeds whose one-sided 95 % Wilson lower bound exceeds
    1/2."""
    check = v.check_sf3_phases()
    assert check.labels == ("all-allow", "divergence", "all-restrict")
    shares = np.asarray(check.extra["phase_share"])  # (V, e f, phase), phases of sim.phases
    assert shares.shape[-1] == len(PHASES)
    np.testing.assert_allclose(shares.sum(axis=-1), 1.0)
    for phase, low in zip(check.labels, check.extra["lower_bounds"], strict=True):
        assert low > 0.5, f"{phase}: {check.detail}"
    assert check.passed


def test_sf4_protection() -> None:
    """Effect: mean share of steps in which the rival government blocks, at three initial
    domestic qualities; each step up in quality raises it (one-sided 95 %, Welch)."""
    check = v.check_sf4_protection()
    shares = check.simulated
    assert all(b > a for a, b in itertools.pairwise(shares)), check.detail
    assert check.passed
