"""The model's decision rules meet theory in their limits (the theory checks of sim.validation).

Each check compares a simulation with a closed form within 4 Monte Carlo standard errors
computed from its own number of trials or runs, and, where one exists, with an independent
library (egttools, nashpy, pygambit). The report (`make validate`) shows the same records.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import validation as v

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def coordination() -> v.Check:
    return v.check_fixation_coordination()


@pytest.fixture(scope="module")
def constant() -> v.Check:
    return v.check_fixation_constant()


def _within_tolerance(check: v.Check) -> None:
    sim, exp, err = map(np.asarray, (check.simulated, check.expected, check.error))
    assert (err > 0).all()
    assert (np.abs(sim - exp) <= v.Z_TOL * err).all(), check.detail


def test_tnp_formula_matches_constant_fitness_closed_form() -> None:
    """The product formula reduces to (1 - e^{-beta s}) / (1 - e^{-beta s Z})."""
    A = np.array([[1.0, 1.0], [1.3, 1.3]])
    for beta in (0.5, 2.0):
        closed = (1 - math.exp(-beta * 0.3)) / (1 - math.exp(-beta * 0.3 * 15))
        assert v.tnp_fixation(A, 15, beta, mutant=1) == pytest.approx(closed, rel=1e-12)
    assert v.tnp_fixation(A, 15, 0.0, mutant=1) == pytest.approx(1 / 15)


def test_fermi_fixation_in_coordination_game(coordination: v.Check) -> None:
    _within_tolerance(coordination)
    np.testing.assert_allclose(coordination.oracle, coordination.expected, rtol=1e-6, atol=1e-9)
    assert coordination.passed


def test_fermi_fixation_with_constant_advantage(constant: v.Check) -> None:
    _within_tolerance(constant)
    np.testing.assert_allclose(constant.oracle, constant.expected, rtol=1e-6, atol=1e-9)
    assert constant.passed


def test_hawk_dove_rest_point() -> None:
    check = v.check_hawk_dove()
    _within_tolerance(check)
    np.testing.assert_allclose(check.oracle, check.x, atol=1e-9)  # nashpy: V/C
    assert check.passed


def test_stag_hunt_basin_boundary() -> None:
    check = v.check_stag_hunt()
    _within_tolerance(check)
    boundary = check.extra["boundary"]
    assert boundary == pytest.approx((3.0 - 0.0) / (5.0 - 0.0 - 3.0 + 3.0))
    assert check.passed


def test_logit_rule_reaches_logit_equilibrium() -> None:
    check = v.check_logit_qre()
    _within_tolerance(check)
    np.testing.assert_allclose(check.oracle, check.expected, atol=1e-6)  # pygambit
    assert check.passed


def test_inspection_game_fictitious_play() -> None:
    check = v.check_inspection()
    sim, exp, half_range = map(np.asarray, (check.simulated, check.expected, check.error))
    # the running frequency oscillates around the equilibrium with a shrinking range
    for earlier, late in check.extra["range_widths"]:
        assert late < earlier
    assert (np.abs(sim - exp) <= 2 * half_range).all()
    np.testing.assert_allclose(check.oracle, check.expected, atol=1e-9)  # nashpy
    # a higher penalty lowers enforcement, not violation (Tsebelis 1990)
    violation_p, inspection_p, violation_2p, inspection_2p = exp
    assert violation_2p == pytest.approx(violation_p)
    assert inspection_2p < inspection_p
    assert sim[3] < sim[1]
    assert check.passed


def test_increasing_returns_lock_in() -> None:
    check = v.check_arthur()
    _within_tolerance(check)
    assert v.arthur_lockin_probability(0, 3, -3, 0.5) == pytest.approx(0.5)
    assert check.passed


def test_report_writer_tables_every_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The report lists each check with its tolerance and verdict, escapes table pipes and
    writes one figure per check (records built here, so no simulation is rerun)."""
    record = v.Check(
        key="demo",
        group="theory",
        title="Demo",
        claim="p = 1/2",
        x_label="x",
        y_label="y",
        x=(0.0, 1.0),
        simulated=(0.49, 0.52),
        error=(0.01, 0.01),
        expected=(0.5, 0.5),
        oracle=(0.5, float("nan")),
        oracle_name="oracle",
        tolerance="|sim - p| <= 4 SE",
        passed=False,
        measured="worst 2.00 SE",
        detail="made up",
    )
    path = v.write_report([record], [0.1], tmp_path)
    text = path.read_text()
    assert "\\|sim - p\\| <= 4 SE" in text
    assert "**FAIL**" in text and "0 of 1 checks pass" in text
    assert (tmp_path / "figures" / "validation" / "demo.png").stat().st_size > 0


def test_command_line_refuses_a_file_as_output(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert v.main(["--out", str(target)]) == 2
    assert "--out=" in capsys.readouterr().err
