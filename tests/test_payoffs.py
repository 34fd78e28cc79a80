"""Payoff core invariants (sim/payoffs.py) under hypothesis-generated inputs, and closed forms.

Ranges: valid parameters over every field's whole range (tests/strategies.py); option values
in the range the model can produce (``q - kappa_p p`` with q in [0, 1], kappa_p p in [0, 100],
outside value in [-10, 10]) and rationality ``mu`` in [0, 1000]: the field's range
[0.01, 1000] plus the uniform limit 0.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from sim import engine, payoffs
from sim.params import Params
from tests.strategies import valid_params, value_arrays

MU = st.floats(0.0, 1000.0, allow_nan=False)


def _initial(params: Params) -> tuple[engine.Core, engine.State, np.ndarray]:
    core = engine.Core.from_params(params)
    state = engine.initial_state(core, [np.random.default_rng(0)], runs=1)
    return core, state, engine.values_of(core, engine.relative_quality(state))


@given(valid_params(max_enterprises=50), st.integers(0, 1))
def test_all_payoffs_finite(params: Params, home_policy: int) -> None:
    core, state, values = _initial(params)
    firm = engine.firm_payoffs(core, state, values, np.array([home_policy], np.int8))
    assert np.isfinite(firm).all(), firm
    assert np.isfinite(engine.home_payoffs(core, state, values)).all()
    assert np.isfinite(engine.rival_payoffs(core, state, values)).all()
    obs = engine.observe(core, state)
    for column, value in obs.model.items():
        assert np.isfinite(value).all(), column


@given(valid_params(max_enterprises=50), st.floats(0.0, 1.0), st.floats(0.0, 1e6))
def test_more_expected_penalty_never_raises_allow_payoff(
    params: Params, enforcement: float, fine: float
) -> None:
    """Raising e or f (so e*f) under a mandate lowers or keeps every ALLOW payoff."""
    low = params.replace(home_enforcement=enforcement * 0.5, home_fine=fine * 0.5)
    high = params.replace(home_enforcement=enforcement, home_fine=fine)
    restrict = np.array([payoffs.RESTRICT], np.int8)
    pay = []
    for p in (low, high):
        core, state, values = _initial(p)
        pay.append(engine.firm_payoffs(core, state, values, restrict)[..., payoffs.ALLOW])
    assert (pay[1] <= pay[0]).all(), (pay[0], pay[1])
    # without a mandate the penalty does not enter at all
    allow = np.array([payoffs.ALLOW], np.int8)
    free = [engine.firm_payoffs(*_initial(p), allow)[..., payoffs.ALLOW] for p in (low, high)]
    np.testing.assert_array_equal(free[0], free[1])


@given(valid_params(max_enterprises=50), st.floats(0.0, 1e6), st.floats(0.0, 1e6))
def test_more_market_value_never_lowers_allow_payoff(params: Params, v1: float, v2: float) -> None:
    small, large = sorted((v1, v2))
    pay = []
    for value in (small, large):
        core, state, values = _initial(params.replace(market_value=value))
        pay.append(engine.firm_payoffs(core, state, values, state.home_policy)[..., 0])
    assert (pay[1] >= pay[0]).all()


def test_provider_payoff_closed_form() -> None:
    share = np.array([[0.2, 0.5]])
    quality = np.array([[1.0, 0.8]])
    penalty = payoffs.expected_penalty(np.array([1]), 0.5, 10.0, np.array([1.0, 0.5]))
    np.testing.assert_allclose(penalty, [[5.0, 2.5]])
    got = payoffs.provider_payoffs(
        share,
        quality,
        penalty,
        price=np.array([1.0, 1.1]),
        margin=np.array([0.6, 0.3]),
        dependence=np.array([0.0, 3.0]),
        exposure=np.array([1.0, 1.2]),
        pressure=np.array([25.0, 2.0]),
        market_value=100.0,
        security_weight=20.0,
    )
    allow_0 = 0.6 * 1.0 * 100 * 0.2 - 20 * 1.0 * 1.0 * 0.2 - 5.0 - 25.0
    allow_1 = 4 * 0.3 * 1.1 * 100 * 0.5 - 20 * 1.2 * 0.8 * 0.5 - 2.5 - 2.0
    np.testing.assert_allclose(got, [[[allow_0, 0.0], [allow_1, 0.0]]], rtol=1e-14)
    assert (payoffs.expected_penalty(np.array([0]), 0.5, 10.0, np.array([1.0, 0.5])) == 0).all()


@given(value_arrays(), MU)
def test_logit_shares_are_a_distribution(arrays: tuple[np.ndarray, np.ndarray], mu: float) -> None:
    values, accessible = arrays
    shares = payoffs.logit_shares(values, accessible, mu)
    assert np.isfinite(shares).all(), (values, accessible, mu, shares)
    assert ((shares >= 0) & (shares <= 1)).all()
    np.testing.assert_allclose(shares.sum(-1), 1.0, atol=1e-12)
    assert (shares[..., :-1][~accessible] == 0).all()


@given(value_arrays(), MU)
def test_attainable_share_of_accessible_provider_is_its_logit_share(
    arrays: tuple[np.ndarray, np.ndarray], mu: float
) -> None:
    values, accessible = arrays
    attainable = payoffs.attainable_shares(values, accessible, mu)
    assert np.isfinite(attainable).all(), (values, accessible, mu, attainable)
    assert ((attainable >= 0) & (attainable <= 1)).all()
    shares = payoffs.logit_shares(values, accessible, mu)[..., :-1]
    np.testing.assert_allclose(attainable[accessible], shares[accessible], rtol=1e-12, atol=1e-15)
    # an inaccessible provider's attainable share is its share once opened alone
    for r, j in zip(*np.nonzero(~accessible), strict=True):
        opened = accessible.copy()
        opened[r, j] = True
        expected = payoffs.logit_shares(values, opened, mu)[r, j]
        np.testing.assert_allclose(attainable[r, j], expected, rtol=1e-12, atol=1e-15)


def test_logit_shares_closed_form() -> None:
    values = np.array([[1.0, 0.5, 0.0, 0.2]])
    accessible = np.array([[True, False, True]])
    mu = 3.0
    w = np.exp(mu * np.array([1.0, 0.0, 0.2]))
    expected = np.array([[w[0], 0.0, w[1], w[2]]]) / w.sum()
    np.testing.assert_allclose(payoffs.logit_shares(values, accessible, mu), expected, rtol=1e-14)
    uniform = payoffs.logit_shares(values, np.ones((1, 3), bool), 0.0)
    np.testing.assert_allclose(uniform, 0.25)


@given(value_arrays(), MU, st.floats(0.0, 10.0), st.floats(0.0, 1.0), st.floats(0.0, 10.0))
def test_transition_rows_sum_to_one(
    arrays: tuple[np.ndarray, np.ndarray], mu: float, tau: float, delta: float, c_circ: float
) -> None:
    values, accessible = arrays
    runs, n_prov = accessible.shape
    domestic = np.arange(n_prov) % 2 == 1
    blocked = ~accessible & (np.arange(n_prov) % 3 == 0)
    switching = payoffs.switching_costs(n_prov, domestic, tau, delta)
    matrix = payoffs.transition_probabilities(
        values, accessible, blocked, switching, rationality=mu, circumvention_cost=c_circ
    )
    assert matrix.shape == (runs, n_prov + 1, n_prov + 1)
    assert np.isfinite(matrix).all()
    assert ((matrix >= 0) & (matrix <= 1)).all()
    np.testing.assert_allclose(matrix.sum(-1), 1.0, atol=1e-12)
    unreachable = ~(accessible | blocked)
    assert (matrix[..., :-1].transpose(0, 2, 1)[unreachable] == 0).all()


def test_transition_closed_form() -> None:
    """``P[c, j] = exp(mu (v_j - tau_cj - c_circ [blocked])) / sum``: a foreign provider 0
    reachable only by circumvention, a domestic provider 1, no provider 2."""
    values = np.array([[1.0, 0.8, 0.5]])
    accessible = np.array([[False, True]])
    blocked = np.array([[True, False]])
    tau, delta, c_circ, mu = 0.1, 0.5, 0.15, 4.0
    switching = payoffs.switching_costs(2, np.array([False, True]), tau, delta)
    np.testing.assert_allclose(switching, [[0, tau * (1 - delta), 0], [tau, 0, 0], [0, 0, 0]])
    got = payoffs.transition_probabilities(
        values, accessible, blocked, switching, rationality=mu, circumvention_cost=c_circ
    )[0]
    option = np.array([1.0 - c_circ, 0.8, 0.5])
    for c in range(3):
        w = np.exp(mu * (option - switching[c]))
        np.testing.assert_allclose(got[c], w / w.sum(), rtol=1e-14)


@given(value_arrays(), st.floats(0.01, 1000.0))
def test_logsum_welfare_between_best_value_and_its_bound(
    arrays: tuple[np.ndarray, np.ndarray], mu: float
) -> None:
    """``max v <= W <= max v + log(K)/mu`` over the K available options (closed-form bound),
    so W tends to the best accessible value as rationality grows."""
    values, accessible = arrays
    available = np.concatenate([accessible, np.ones((len(values), 1), bool)], -1)
    best = np.where(available, values, -np.inf).max(-1)
    welfare = payoffs.logsum_welfare(values, accessible, mu)
    slack = 1e-12 * np.maximum(1.0, np.abs(best))
    assert (welfare >= best - slack).all()
    assert (welfare <= best + np.log(available.sum(-1)) / mu + slack).all()


@given(value_arrays())
def test_logsum_welfare_limit(arrays: tuple[np.ndarray, np.ndarray]) -> None:
    values, accessible = arrays
    available = np.concatenate([accessible, np.ones((len(values), 1), bool)], -1)
    best = np.where(available, values, -np.inf).max(-1)
    errors = [
        np.abs(payoffs.logsum_welfare(values, accessible, mu) - best).max()
        for mu in (1.0, 10.0, 1e3, 1e6)
    ]
    assert errors[-1] <= math.log(available.shape[-1]) / 1e6 + 1e-12
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(errors))


@given(st.integers(1, 50), st.floats(1e-6, 1e6))
def test_herfindahl_equal_shares_and_monopoly(n: int, total: float) -> None:
    equal = np.full((1, n), total / n)
    np.testing.assert_allclose(payoffs.herfindahl(equal), 1.0 / n, rtol=1e-12)
    mono = np.zeros((1, n))
    mono[0, n // 2] = total
    np.testing.assert_allclose(payoffs.herfindahl(mono), 1.0, rtol=1e-12)
    assert payoffs.herfindahl(np.zeros((1, n)))[0] == 0.0


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=8))
def test_herfindahl_range_and_closed_form(shares: list[float]) -> None:
    usage = np.array([shares])
    assume(usage.sum() > 1e-9)
    hhi = payoffs.herfindahl(usage)[0]
    s = usage[0] / usage.sum()
    np.testing.assert_allclose(hhi, (s**2).sum(), rtol=1e-12)
    assert 1.0 / len(shares) - 1e-12 <= hhi <= 1.0 + 1e-12


def test_predicted_strategies_ties_allow_and_fixed_override() -> None:
    pay = np.array([[[1.0, 0.0], [0.0, 0.0], [-1.0, 0.0], [-1.0, 0.0]]])
    fixed = np.array([-1, -1, -1, 0], np.int8)
    np.testing.assert_array_equal(payoffs.predicted_strategies(pay, fixed), [[0, 0, 1, 0]])


@given(value_arrays(), st.floats(0.01, 100.0), st.floats(0.0, 10.0))
def test_rival_objective_control_value_enters_additively(
    arrays: tuple[np.ndarray, np.ndarray], mu: float, control: float
) -> None:
    values, accessible = arrays
    foreign = np.arange(accessible.shape[-1]) % 2 == 0
    kw = dict(foreign=foreign, rationality=mu, domestic_weight=0.3, dependence_weight=0.2)
    base = payoffs.rival_objective(values, accessible, control_value=control, restricts=0, **kw)
    blocking = payoffs.rival_objective(values, accessible, control_value=control, restricts=1, **kw)
    np.testing.assert_allclose(blocking - base, control, atol=1e-12)


@given(valid_params(max_enterprises=50), st.integers(0, 1))
def test_rival_block_leaves_allowing_only_its_costs(params: Params, home_policy: int) -> None:
    """While the rival blocks foreign services a foreign provider's attainable share is zero,
    so ALLOW pays ``-[home restricts] e f c - phi`` (ODD 7.3)."""
    core, state, values = _initial(params)
    blocked = dataclasses.replace(state, rival_policy=np.ones(1, np.int8))
    policy = np.array([home_policy], np.int8)
    allow = engine.firm_payoffs(core, blocked, values, policy)[0, :, payoffs.ALLOW]
    for j, provider in enumerate(params.providers):
        if provider.foreign:
            cost = (
                home_policy * params.home_enforcement * params.home_fine * provider.mandate_coverage
            )
            np.testing.assert_allclose(allow[j], -cost - provider.home_exposure, rtol=1e-12)
