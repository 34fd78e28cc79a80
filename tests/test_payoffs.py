"""Payoff core invariants (sim/payoffs.py) under hypothesis-generated inputs, and closed forms.

Ranges: valid parameters over every field's whole range (tests/strategies.py), with and
without the second version's market (segments, network, open models, licensing, exclusions);
option values per segment in the range the model can produce (``q - kappa_p p`` with q in
[0, 1], kappa_p p in [0, 100], outside value in [-10, 10]) and rationality ``mu_s`` in
[0, 1000]: the field's range [0.01, 1000] plus the uniform limit 0.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from sim import engine, payoffs
from sim.core import Core, Plan
from sim.params import Params, Provider, Segment
from tests.strategies import segment_value_arrays, valid_params

MU = st.floats(0.0, 1000.0, allow_nan=False)
ANY_PARAMS = st.one_of(
    valid_params(max_enterprises=50), valid_params(max_enterprises=50, market=True)
)


def _initial(params: Params) -> tuple[Core, engine.State, np.ndarray]:
    plan = Plan.from_params(params)
    state = engine.initial_state(plan, [np.random.default_rng(0)], runs=1)
    return plan.first, state, engine.values_of(plan.first, state)


def _core(**changes) -> Core:
    return Core.from_params(Params(**changes))


@given(ANY_PARAMS, st.integers(0, 1))
def test_all_payoffs_finite(params: Params, home_policy: int) -> None:
    core, state, values = _initial(params)
    firm = engine.firm_payoffs(core, state, values, np.array([home_policy], np.int8))
    assert np.isfinite(firm).all(), firm
    assert np.isfinite(engine.home_payoffs(core, state, values)).all()
    assert np.isfinite(engine.rival_payoffs(core, state, values)).all()
    assert np.isfinite(engine.controls_payoffs(core, state)).all()
    obs = engine.observe(core, state)
    for column, value in obs.model.items():
        if column in ("local_agreement", "open_capability_gap"):
            continue  # NaN by definition without a network / open models (checked below)
        assert np.isfinite(value).all(), column
    graph = state.population.graph
    linked = graph is not None and graph.n_edges > 0  # type: ignore[attr-defined]
    assert np.isnan(obs.model["local_agreement"]).all() == (not linked)
    assert np.isnan(obs.model["open_capability_gap"]).all() == (not core.open.any())


@given(ANY_PARAMS, st.floats(0.0, 1.0), st.floats(0.0, 1e6))
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


def _covering_costs(params: Params) -> Params:
    """Every provider's marginal cost lowered to at most ``margin x price``."""
    return params.replace(
        providers=tuple(
            p.replace(marginal_cost=min(p.marginal_cost, p.margin * p.price))
            for p in params.providers
        )
    )


@given(ANY_PARAMS, st.floats(0.0, 1e6), st.floats(0.0, 1e6))
def test_more_market_value_never_lowers_allow_payoff_when_prices_cover_costs(
    params: Params, v1: float, v2: float
) -> None:
    """Revenue ``(m p - c) V s`` and licence income ``r p V s`` grow with V where every price
    covers its marginal cost (``m p >= c``); the first version had no marginal cost, so this
    held for every parameter set (see the next test for what changed)."""
    params = _covering_costs(params)
    small, large = sorted((v1, v2))
    pay = []
    for value in (small, large):
        core, state, values = _initial(params.replace(market_value=value))
        pay.append(engine.firm_payoffs(core, state, values, state.home_policy)[..., 0])
    assert (pay[1] >= pay[0]).all()


def test_more_market_value_lowers_allow_payoff_of_a_provider_selling_below_cost() -> None:
    """A domestic provider whose margin does not cover its marginal cost loses ``(c - m p) V
    s`` a month: its ALLOW payoff falls linearly in V (slope ``(m p - c) s``)."""
    lineup = (
        Provider(name="lab", channel="direct"),
        Provider(name="cheap", channel="domestic", price=0.2, margin=0.5, marginal_cost=0.3),
    )
    pays, shares = [], []
    for value in (10.0, 20.0):
        core, state, values = _initial(Params(providers=lineup, market_value=value))
        pays.append(engine.firm_payoffs(core, state, values, state.home_policy)[0, 1, 0])
        available = payoffs.segment_available(core, np.ones((1, 2), bool))
        shares.append(payoffs.attainable_shares(values, available, core.mu, core.serves)[0, 0, 1])
    assert pays[1] < pays[0] < 0
    np.testing.assert_allclose(pays, [(0.5 * 0.2 - 0.3) * v * shares[0] for v in (10, 20)])


TWO_FOREIGN = (
    Provider(
        name="lab",
        channel="direct",
        price=1.0,
        margin=0.6,
        security_exposure=1.0,
        home_exposure=25.0,
        mandate_coverage=1.0,
    ),
    Provider(
        name="cloud",
        channel="partner",
        price=1.1,
        margin=0.3,
        rival_dependence=3.0,
        security_exposure=1.2,
        home_exposure=2.0,
        mandate_coverage=0.5,
        licensor="lab",
        revenue_share=0.2,
    ),
    Provider(name="dom", channel="domestic", price=0.3, margin=0.4, marginal_cost=0.1),
)


def test_provider_payoff_closed_form() -> None:
    core = _core(
        providers=TWO_FOREIGN,
        market_value=100.0,
        security_weight=20.0,
        home_enforcement=0.5,
        home_fine=10.0,
    )
    share = np.array([[0.2, 0.5, 0.25]])
    quality = np.array([[1.0, 0.8, 0.9]])
    price = np.array([[1.0, 1.1, 0.3]])
    penalty = payoffs.expected_penalty(core, np.array([1]))
    np.testing.assert_allclose(penalty, [[5.0, 2.5, 0.0]])
    assert (payoffs.expected_penalty(core, np.array([0])) == 0).all()
    got = payoffs.provider_payoffs(core, share, quality, penalty, price)
    allow_0 = 0.6 * 1.0 * 100 * 0.2 - 20 * 1.0 * 1.0 * 0.2 - 5.0 - 25.0
    allow_1 = 4 * 0.3 * 1.1 * 100 * 0.5 - 20 * 1.2 * 0.8 * 0.5 - 2.5 - 2.0
    allow_2 = (0.4 * 0.3 - 0.1) * 100 * 0.25  # domestic: margin net of marginal cost only
    np.testing.assert_allclose(got, [[[allow_0, 0.0], [allow_1, 0.0], [allow_2, 0.0]]], rtol=1e-14)
    # licence income: the lab receives 20% of the cloud's gross AI revenue, p V s
    options = np.concatenate([share, [[0.05]]], axis=-1)
    income = payoffs.licence_income(core, options, price)
    np.testing.assert_allclose(income, [[0.2 * 1.1 * 100 * 0.5, 0.0, 0.0]], rtol=1e-14)
    with_licence = payoffs.provider_payoffs(
        core, share, quality, penalty, price, (income, 0.5 * income)
    )
    np.testing.assert_allclose(with_licence[..., 0], got[..., 0] + income, rtol=1e-14)
    np.testing.assert_allclose(with_licence[..., 1], 0.5 * income, rtol=1e-14)


def test_licensor_payoffs_count_its_licensees_shares_with_it_open_and_closed() -> None:
    """``licence_i(a) = r_l p_l V s_l(a)``: the lab's ALLOW payoff adds the cloud's licence
    flow at the long-run shares with the lab reachable, RESTRICT at those without it."""
    params = Params(providers=TWO_FOREIGN, enterprise_rationality=5.0)
    core, state, values = _initial(params)
    firm = engine.firm_payoffs(core, state, values, state.home_policy)[0]
    available = payoffs.segment_available(core, np.ones((1, 3), bool))
    mu = core.mu
    with_lab = payoffs.logit_shares(values, available, mu)[0, 0]
    without = payoffs.logit_shares(values, available & [False, True, True], mu)[0, 0]
    flow = 0.2 * 1.1 * params.market_value
    np.testing.assert_allclose(firm[0, 1], flow * without[1], rtol=1e-13)
    rest = firm[0, 0] - flow * with_lab[1]
    expected = (
        0.6 * 1.0 * params.market_value * with_lab[0]
        - params.security_weight * 1.0 * 1.0 * with_lab[0]
        - 25.0
    )
    np.testing.assert_allclose(rest, expected, rtol=1e-12)


@given(segment_value_arrays())
def test_logit_shares_are_a_distribution(arrays) -> None:
    values, available, mu, _ = arrays
    shares = payoffs.logit_shares(values, available, mu)
    assert np.isfinite(shares).all(), (values, available, mu, shares)
    assert ((shares >= 0) & (shares <= 1)).all()
    np.testing.assert_allclose(shares.sum(-1), 1.0, atol=1e-12)
    assert (shares[..., :-1][~available] == 0).all()


@given(segment_value_arrays())
def test_attainable_share_of_available_provider_is_its_logit_share(arrays) -> None:
    values, available, mu, serves = arrays
    attainable = payoffs.attainable_shares(values, available, mu, serves)
    assert np.isfinite(attainable).all(), (values, available, mu, attainable)
    assert ((attainable >= 0) & (attainable <= 1)).all()
    shares = payoffs.logit_shares(values, available, mu)[..., :-1]
    np.testing.assert_allclose(attainable[available], shares[available], rtol=1e-12, atol=1e-15)
    # a provider a segment does not serve attains nothing there
    assert (attainable[:, ~serves] == 0).all()
    # an unavailable provider serving the segment attains its share once opened alone
    for r, s, j in zip(*np.nonzero(~available & serves), strict=True):
        opened = available.copy()
        opened[r, s, j] = True
        expected = payoffs.logit_shares(values, opened, mu)[r, s, j]
        np.testing.assert_allclose(attainable[r, s, j], expected, rtol=1e-12, atol=1e-15)


@given(segment_value_arrays(), st.booleans())
def test_shares_if_open_or_closed_change_only_the_row_provider(arrays, opened: bool) -> None:
    values, available, mu, serves = arrays
    rows = payoffs.shares_if(values, available, mu, serves, opened)
    for j in range(available.shape[-1]):
        changed = available.copy()
        changed[..., j] = (available[..., j] | serves[:, j]) if opened else False
        np.testing.assert_allclose(
            rows[:, :, j], payoffs.logit_shares(values, changed, mu), rtol=1e-12, atol=1e-15
        )


def test_logit_shares_closed_form() -> None:
    values = np.array([[[1.0, 0.5, 0.0, 0.2], [0.3, 0.9, 0.1, 0.2]]])  # two segments
    available = np.array([[[True, False, True], [True, True, False]]])
    mu = np.array([3.0, 0.5])
    w0 = np.exp(3.0 * np.array([1.0, 0.0, 0.2]))
    w1 = np.exp(0.5 * np.array([0.3, 0.9, 0.2]))
    expected = np.array(
        [[[w0[0], 0.0, w0[1], w0[2]] / w0.sum(), [w1[0], w1[1], 0.0, w1[2]] / w1.sum()]]
    )
    np.testing.assert_allclose(payoffs.logit_shares(values, available, mu), expected, rtol=1e-14)
    uniform = payoffs.logit_shares(values, np.ones((1, 2, 3), bool), np.zeros(2))
    np.testing.assert_allclose(uniform, 0.25)
    weight = np.array([0.3, 0.7])
    np.testing.assert_allclose(
        payoffs.aggregate(expected, weight), 0.3 * expected[:, 0] + 0.7 * expected[:, 1]
    )


@given(
    valid_params(max_enterprises=5, market=True),
    st.data(),
)
def test_transition_rows_sum_to_one(params: Params, data: st.DataObject) -> None:
    core = Core.from_params(params)
    runs = data.draw(st.integers(1, 3))
    n_prov, n_seg = len(core.foreign), core.n_segments
    value = st.floats(-100.0, 1.0, allow_nan=False)
    values = np.array(
        [
            [[data.draw(value) for _ in range(n_prov)] + [params.outside_utility]] * n_seg
            for _ in range(runs)
        ]
    )
    accessible = np.array([[data.draw(st.booleans()) for _ in range(n_prov)] for _ in range(runs)])
    blocked = ~accessible & core.foreign & params.circumvention
    switching = core.switching_offer if core.switching_offer is not None else core.switching
    utilities = payoffs.transition_utilities(core, values, accessible, blocked, switching)
    matrix = payoffs.transition_probabilities(utilities)
    assert matrix.shape == (runs, n_seg, n_prov + 1, n_prov + 1)
    assert np.isfinite(matrix).all()
    assert ((matrix >= 0) & (matrix <= 1)).all()
    np.testing.assert_allclose(matrix.sum(-1), 1.0, atol=1e-12)
    reachable = (accessible | blocked)[:, None, :] & core.serves  # (R, S, J)
    assert (matrix[..., :-1].transpose(0, 1, 3, 2)[~reachable] == 0).all()


def test_transition_closed_form() -> None:
    """``P_s[c, j] = exp(mu_s (v_j - tau_scj - c_s [blocked])) / sum``: a foreign provider 0
    reachable only by circumvention, a domestic provider 1, no provider 2; segment ``b``
    has its own rationality, switching and circumvention costs."""
    lineup = (Provider(name="lab", channel="direct"), Provider(name="dom", channel="domestic"))
    segments = (
        Segment(name="a", share=0.5),
        Segment(
            name="b",
            share=0.5,
            enterprise_rationality=9.0,
            switching_cost=0.3,
            circumvention_cost=0.02,
        ),
    )
    tau, delta, c_circ, mu = 0.1, 0.5, 0.15, 4.0
    core = _core(
        providers=lineup,
        segments=segments,
        switching_cost=tau,
        domestic_migration_discount=delta,
        circumvention_cost=c_circ,
        enterprise_rationality=mu,
    )
    for s, t in enumerate((tau, 0.3)):
        np.testing.assert_allclose(
            core.switching[s], [[0, t * (1 - delta), 0], [t, 0, 0], [0, 0, 0]]
        )
    values = np.array([[[1.0, 0.8, 0.5], [0.9, 0.85, 0.5]]])
    accessible = np.array([[False, True]])
    blocked = np.array([[True, False]])
    got = payoffs.transition_probabilities(
        payoffs.transition_utilities(core, values, accessible, blocked, core.switching)
    )[0]
    for s, (m, c) in enumerate(((mu, c_circ), (9.0, 0.02))):
        option = values[0, s] - np.array([c, 0.0, 0.0])
        for row in range(3):
            w = np.exp(m * (option - core.switching[s, row]))
            np.testing.assert_allclose(got[s, row], w / w.sum(), rtol=1e-14)


def test_migration_offer_closed_form() -> None:
    """A domestic provider offering a share ``o`` of the switching cost cuts the cost of a
    move from a foreign provider to it by ``o tau``: ``max(tau (1 - delta) - o tau, 0)``; moves
    from another domestic provider or into a foreign one are unchanged."""
    lineup = (
        Provider(name="lab", channel="direct"),
        Provider(name="d1", channel="domestic", migration_offer=0.3),
        Provider(name="d2", channel="domestic", migration_offer=1.0),
    )
    tau, delta = 0.2, 0.5
    core = _core(providers=lineup, switching_cost=tau, domestic_migration_discount=delta)
    assert core.switching_offer is not None
    expected = core.switching[0].copy()
    expected[0, 1] = tau * (1 - delta) - 0.3 * tau
    expected[0, 2] = 0.0
    np.testing.assert_allclose(core.switching_offer[0], expected, rtol=1e-14, atol=1e-17)
    np.testing.assert_array_equal(core.switching_offer[0, 1:], core.switching[0, 1:])


@given(segment_value_arrays())
def test_logsum_welfare_between_best_value_and_its_bound(arrays) -> None:
    """``max v <= W <= max v + log(K)/mu`` over the K available options (closed-form bound),
    so W tends to the best available value as rationality grows."""
    values, available, mu, _ = arrays
    mu = np.maximum(mu, 0.01)  # the field's range starts at 0.01
    options = np.concatenate([available, np.ones((*available.shape[:2], 1), bool)], -1)
    best = np.where(options, values, -np.inf).max(-1)
    welfare = payoffs.logsum_welfare(values, available, mu)
    slack = 1e-12 * np.maximum(1.0, np.abs(best))
    assert (welfare >= best - slack).all()
    assert (welfare <= best + np.log(options.sum(-1)) / mu + slack).all()


@given(segment_value_arrays())
def test_logsum_welfare_limit(arrays) -> None:
    values, available, _, _ = arrays
    options = np.concatenate([available, np.ones((*available.shape[:2], 1), bool)], -1)
    best = np.where(options, values, -np.inf).max(-1)
    n_seg = values.shape[1]
    errors = [
        np.abs(payoffs.logsum_welfare(values, available, np.full(n_seg, mu)) - best).max()
        for mu in (1.0, 10.0, 1e3, 1e6)
    ]
    assert errors[-1] <= math.log(options.shape[-1]) / 1e6 + 1e-12
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


@given(ANY_PARAMS, st.floats(0.0, 10.0))
def test_rival_objective_control_value_enters_additively(params: Params, control: float) -> None:
    core, state, values = _initial(params.replace(rival_control_value=control))
    accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
    available = payoffs.segment_available(core, accessible)
    base = payoffs.rival_objective(core, values, available, restricts=0)
    blocking = payoffs.rival_objective(core, values, available, restricts=1)
    np.testing.assert_allclose(blocking - base, control, atol=1e-12 * max(1.0, abs(base[0])))


@given(ANY_PARAMS, st.integers(0, 1))
def test_rival_block_leaves_allowing_only_its_costs(params: Params, home_policy: int) -> None:
    """While the rival blocks foreign services a foreign provider's attainable share is zero
    and its own strategy cannot change who reaches it, so ALLOW pays its RESTRICT payoff (its
    licence income, the same either way) less ``[home restricts] e f c + phi`` (ODD 7.3)."""
    core, state, values = _initial(params)
    blocked = dataclasses.replace(state, rival_policy=np.ones(1, np.int8))
    policy = np.array([home_policy], np.int8)
    firm = engine.firm_payoffs(core, blocked, values, policy)[0]
    for j, provider in enumerate(params.providers):
        if provider.foreign:
            cost = (
                home_policy * params.home_enforcement * params.home_fine * provider.mandate_coverage
            )
            scale = max(1.0, abs(firm[j, payoffs.RESTRICT]), cost + provider.home_exposure)
            np.testing.assert_allclose(
                firm[j, payoffs.ALLOW] - firm[j, payoffs.RESTRICT],
                -cost - provider.home_exposure,
                rtol=1e-12,
                atol=1e-12 * scale,
            )


def test_option_values_closed_form() -> None:
    """``v_sj = q_j - kappa_s p_j - n_s (1 - q_j) - sigma_s [foreign] - h_j [open]``."""
    lineup = (
        Provider(name="lab", channel="direct", quality=1.0, price=1.0),
        Provider(name="dom", channel="domestic", quality=0.8, price=0.3),
        Provider(
            name="llama",
            channel="open",
            origin="home",
            quality=0.9,
            price=0.0,
            margin=0.0,
            hosting_cost=0.05,
        ),
    )
    segments = (
        Segment(name="a", share=0.4, price_sensitivity=0.2, frontier_need=0.5),
        Segment(name="b", share=0.6, security_sensitivity=0.1),
    )
    core = _core(providers=lineup, segments=segments, price_sensitivity=0.15, outside_utility=0.6)
    q = np.array([[1.0, 0.8, 0.9]])
    p = np.array([[1.0, 0.3, 0.0]])
    got = payoffs.option_values(core, q, p)
    a = q[0] - 0.2 * p[0] - 0.5 * (1 - q[0]) - np.array([0, 0, 0.05])
    b = q[0] - 0.15 * p[0] - np.array([0.1, 0, 0]) - np.array([0, 0, 0.05])
    np.testing.assert_allclose(got[0], [[*a, 0.6], [*b, 0.6]], rtol=1e-14, atol=1e-16)
    # a segment may bar a channel, a provider exclude a segment: both leave it unserved
    barred = _core(
        providers=(lineup[0], lineup[1].replace(excluded_segments=("a",)), lineup[2]),
        segments=(segments[0], segments[1].replace(barred_channels=("direct",))),
    )
    np.testing.assert_array_equal(barred.serves, [[True, False, True], [False, True, True]])


def _controls_params(**changes) -> Params:
    lineup = (
        Provider(name="lab", channel="direct", price=1.0, margin=0.6),
        Provider(name="dom", channel="domestic", quality=0.8, price=0.5, margin=0.4, compute=0.3),
    )
    base = dict(
        providers=lineup,
        home_controls_rule="best_response",
        frontier_growth=0.01,
        learning_rate=0.1,
        rival_subsidy=0.002,
        spillover_rate=0.02,
        compute_effect=0.05,
        compute_per_revenue=0.004,
        compute_subsidy=0.01,
        compute_depreciation=0.02,
        frontier_compute_growth=0.1,
        export_control_strength=0.6,
        export_control_cost=1.5,
        home_gap_weight=40.0,
    )
    return Params(**{**base, **changes})


def test_controls_payoffs_closed_form() -> None:
    """``W(z) = w_gap g / (g + r*(z)) - z cost``, ``r*(z) = eta s + b + chi s_F + omega c*(z)``,
    ``c*(z) = (1 - xi z) (kappa_c R + b_c) / (gamma_F + delta)`` at the current spend shares."""
    params = _controls_params()
    core, state, _ = _initial(params)
    usage = engine.spend_usage(core, state)[0]
    revenue = 0.4 * 0.5 * params.market_value * usage[1]
    got = engine.controls_payoffs(core, state)[0, 0]
    for on in (0, 1):
        compute = (1 - 0.6 * on) * (0.004 * revenue + 0.01) / (0.1 + 0.02)
        rate = 0.1 * usage[1] + 0.002 + 0.02 * usage[0] + 0.05 * compute
        np.testing.assert_allclose(got[on], 40.0 * 0.01 / (0.01 + rate) - 1.5 * on, rtol=1e-13)


def test_controls_payoffs_finite_without_depreciation_or_frontier_compute_growth() -> None:
    """With ``gamma_F = delta = 0`` compute never decays: it grows without bound while
    anything is invested (full catch-up rate) and stays put otherwise; with no frontier growth
    and no catch-up the gap stays where it is. Each is a finite value of the objective, and
    with nothing invested controls change nothing but their cost."""
    for changes in (
        {"frontier_compute_growth": 0.0, "compute_depreciation": 0.0},
        {
            "frontier_compute_growth": 0.0,
            "compute_depreciation": 0.0,
            "compute_per_revenue": 0.0,
            "compute_subsidy": 0.0,
            "frontier_growth": 0.0,
            "learning_rate": 0.0,
            "rival_subsidy": 0.0,
            "spillover_rate": 0.0,
        },
        {
            "frontier_growth": 0.0,
            "learning_rate": 0.0,
            "rival_subsidy": 0.0,
            "spillover_rate": 0.0,
            "compute_effect": 0.0,
        },
    ):
        core, state, _ = _initial(_controls_params(**changes))
        got = engine.controls_payoffs(core, state)[0, 0]
        assert np.isfinite(got).all(), (changes, got)
    # no decay, nothing invested, nothing learned: the gap stays at its current value
    gap = 1.0 - 0.8
    np.testing.assert_allclose(got, [40.0 * gap, 40.0 * gap - 1.5], rtol=1e-14)
