"""The z-score helper every statistical validation check builds its record with
(sim.validation.checks.z_check): its two pass rules, its edge cases and the record it fills."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from sim import validation as v

FIELDS = {
    "key": "demo",
    "group": "theory",
    "title": "Demo",
    "claim": "p = 1/2",
    "tolerance": "|sim - p| <= 4 SE",
    "detail": "made up",
    "x_label": "x",
    "y_label": "y",
}


def _check(z: object, **kw: object) -> v.Check:
    n = len(np.atleast_1d(np.asarray(z)))
    data = {"x": range(n), "simulated": [0.5] * n, "error": [0.01] * n}
    return v.z_check(z, **{**FIELDS, **data, **kw})  # type: ignore[arg-type]


def test_z_scores_are_signed_deviations_in_standard_errors() -> None:
    np.testing.assert_allclose(v.z_scores([0.6, 0.4], [0.5, 0.5], [0.05, 0.1]), [2.0, -1.0])
    with np.errstate(all="raise"):  # no warning escapes for a zero standard error
        z = v.z_scores([0.5, 0.6], [0.5, 0.5], [0.0, 0.0])
    assert math.isnan(z[0]) and math.isinf(z[1])


@pytest.mark.parametrize(
    ("z", "passed"),
    [
        ([0.0, 1.0, -3.9], True),
        ([v.Z_TOL, -v.Z_TOL], True),  # the bound itself is inside
        ([0.0, np.nextafter(v.Z_TOL, 5.0)], False),
        ([-4.5, 0.0], False),  # the sign does not matter
        ([0.0, float("nan")], False),  # no standard error, no pass
        ([float("inf")], False),
    ],
)
def test_agreement_rule(z: list[float], passed: bool) -> None:
    assert _check(z).passed is passed


@pytest.mark.parametrize(
    ("z", "passed"),
    [
        ([2.0, 5.0], True),
        ([v.Z95], False),  # strictly above the quantile
        ([3.0, -3.0], False),  # an effect of the wrong sign fails
        ([float("nan")], False),
    ],
)
def test_effect_rule(z: list[float], passed: bool) -> None:
    assert _check(z, above=v.Z95).passed is passed


def test_other_requirements_must_hold_too() -> None:
    assert _check([0.1], also=True).passed
    assert not _check([0.1], also=False).passed
    assert not _check([9.0], also=True).passed


def test_record_fields() -> None:
    check = _check(np.array([1.0, -2.5]), oracle=[0.5, 0.4], labels=("a", "b"))
    assert check.measured == "worst 2.50 SE"
    assert check.x == (0.0, 1.0) and check.simulated == (0.5, 0.5) and check.error == (0.01, 0.01)
    assert all(math.isnan(e) for e in check.expected)  # no closed form given
    assert check.oracle == (0.5, 0.4) and check.labels == ("a", "b")
    assert check.error_kind == "se" and check.extra == {}
    assert _check([1.0], measured="slope -0.5").measured == "slope -0.5"
    assert _check(3.0).passed  # a single z-score is accepted as a scalar
    with pytest.raises(ValueError, match="demo: expected at least one z-score"):
        _check([])


def test_effect_rule_false_alarm_rate_is_its_level() -> None:
    """Under no effect, paired normal differences over 400 seeds pass the one-sided 95 % effect
    rule with probability P(t_399 > 1.645) = 0.0504: over 20,000 seeded experiments the rate is
    within 4 of its binomial standard errors of that."""
    rng = np.random.default_rng(20260301)
    experiments, seeds = 20_000, 400
    diffs = rng.normal(0.0, 1.0, size=(experiments, seeds))
    z = v.z_scores(diffs.mean(axis=1), 0.0, diffs.std(axis=1, ddof=1) / math.sqrt(seeds))
    rate = np.mean([_check([zi], above=v.Z95_ONE_SIDED).passed for zi in z])
    level = float(stats.t.sf(v.Z95_ONE_SIDED, seeds - 1))
    assert level == pytest.approx(0.0504, abs=1e-4)
    assert abs(rate - level) <= 4 * math.sqrt(level * (1 - level) / experiments)
