r"""Validation: the model's rules meet theory in their limits, the mean field meets the model,
and the model reproduces the stylized facts of the model brief.

Every check is a function returning a :class:`Check` record (points simulated, their Monte
Carlo standard error, the closed form, an independent library's value where one exists, the
tolerance and the verdict). The tests (``tests/test_theory.py``, ``tests/test_meanfield.py``,
``tests/test_meanfield_segments.py``, ``tests/test_stylized_facts.py``) assert on these records
(some at smaller sizes) and the report is written from them, so the two cannot disagree.
``python -m sim.validation --out docs`` (``make validate``) writes ``docs/validation.md`` and
its figures under ``docs/figures/validation/``.

Modules
    :mod:`~sim.validation.closed_forms` the textbook results (pure NumPy/SciPy);
    :mod:`~sim.validation.oracles` the same questions put to egttools, nashpy, pygambit and
    quantecon; :mod:`~sim.validation.checks` the checks, the :class:`Check` record and
    :func:`z_check`, the one place the z-score pass rule is written;
    :mod:`~sim.validation.figures` one figure per check; :mod:`~sim.validation.report` the
    Markdown report and the command line; :mod:`~sim.validation.robustness` the
    headline's (SF1) robustness: one-at-a-time perturbations and threshold searches.

Tolerances
    A simulated proportion ``p_hat`` from ``n`` independent trials is compared with its closed
    form ``p`` within ``Z_TOL = 4`` standard errors ``sqrt(p (1 - p) / n)`` (the error under the
    hypothesis being tested); a time-averaged quantity within 4 standard errors of the mean over
    independent runs. Each such comparison raises a false alarm with probability about 6.3e-5
    (two-sided, normal), so the twenty-odd of them together do so well under 1 % of the time.
    Stylized facts use 95 % confidence (Wilson interval for proportions, normal interval
    for mean differences), one-sided where the claim has a direction. Fictitious play is
    deterministic (up to ties), so its tolerance is its own oscillation: the equilibrium must lie
    within the range of the empirical frequency over the second half of the run, and that range
    must narrow as the run doubles.
"""

from sim.validation.checks import (
    ALL_CHECKS,
    MEANFIELD_CHECKS,
    STYLIZED_CHECKS,
    THEORY_CHECKS,
    Z95,
    Z95_ONE_SIDED,
    Z_TOL,
    Check,
    check_arthur,
    check_fixation_constant,
    check_fixation_coordination,
    check_hawk_dove,
    check_inspection,
    check_logit_qre,
    check_meanfield_scaling,
    check_meanfield_segments,
    check_peer_departure,
    check_sf1_divergence,
    check_sf2_backfire,
    check_sf3_phases,
    check_sf4_protection,
    check_stag_hunt,
    fixed_strategy_params,
    meanfield_path,
    wilson_interval,
    z_check,
    z_scores,
)
from sim.validation.closed_forms import (
    arthur_lockin_probability,
    constant_advantage_fixation,
    hawk_dove,
    inspection_game,
    logit_equilibrium,
    tnp_fixation,
    tnp_payoffs,
)
from sim.validation.report import main, write_report

__all__ = [
    "ALL_CHECKS",
    "MEANFIELD_CHECKS",
    "STYLIZED_CHECKS",
    "THEORY_CHECKS",
    "Z95",
    "Z95_ONE_SIDED",
    "Z_TOL",
    "Check",
    "arthur_lockin_probability",
    "check_arthur",
    "check_fixation_constant",
    "check_fixation_coordination",
    "check_hawk_dove",
    "check_inspection",
    "check_logit_qre",
    "check_meanfield_scaling",
    "check_meanfield_segments",
    "check_peer_departure",
    "check_sf1_divergence",
    "check_sf2_backfire",
    "check_sf3_phases",
    "check_sf4_protection",
    "check_stag_hunt",
    "constant_advantage_fixation",
    "fixed_strategy_params",
    "hawk_dove",
    "inspection_game",
    "logit_equilibrium",
    "main",
    "meanfield_path",
    "tnp_fixation",
    "tnp_payoffs",
    "wilson_interval",
    "write_report",
    "z_check",
    "z_scores",
]
