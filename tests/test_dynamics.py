"""Enterprise choice, capability, compute and open-model growth (sim/dynamics.py): exact
invariants, closed forms of one step and steady-state limits."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim import dynamics, engine, payoffs
from sim.core import Core, Plan
from sim.params import Params, Provider, load_scenario
from tests.strategies import valid_params

SEEDS = st.integers(0, 2**32 - 1)


@st.composite
def choice_arrays(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    runs = draw(st.integers(1, 4))
    n = draw(st.integers(1, 200))
    n_options = draw(st.integers(2, 8))
    rng = np.random.default_rng(draw(SEEDS))
    return rng.integers(0, n_options, size=(runs, n)).astype(np.int16), n_options


@given(choice_arrays())
def test_option_counts_match_bincount(arrays: tuple[np.ndarray, int]) -> None:
    choice, n_options = arrays
    counts = dynamics.option_counts(choice, n_options)
    assert counts.shape == (choice.shape[0], n_options)
    for r in range(choice.shape[0]):
        np.testing.assert_array_equal(counts[r], np.bincount(choice[r], minlength=n_options))


@given(choice_arrays(), st.integers(1, 4), SEEDS)
def test_segment_totals_match_a_loop(arrays: tuple[np.ndarray, int], n_seg: int, seed: int):
    choice, k = arrays
    runs, n = choice.shape
    rng = np.random.default_rng(seed)
    segment_of = np.sort(rng.integers(0, n_seg, n)).astype(np.int16)
    weight = rng.lognormal(size=(runs, n))
    counts = dynamics.segment_totals(choice, segment_of, n_seg, k)
    spend = dynamics.segment_totals(choice, segment_of, n_seg, k, weight=weight)
    expected_counts = np.zeros((runs, n_seg, k), np.int64)
    expected_spend = np.zeros((runs, n_seg, k))
    for r in range(runs):
        for i in range(n):
            expected_counts[r, segment_of[i], choice[r, i]] += 1
            expected_spend[r, segment_of[i], choice[r, i]] += weight[r, i]
    np.testing.assert_array_equal(counts, expected_counts)
    np.testing.assert_allclose(spend, expected_spend, rtol=1e-13)


def _market_state(params: Params, seed: int, runs: int) -> tuple[Core, engine.State]:
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(seed + r) for r in range(runs)]
    return plan.first, engine.initial_state(plan, rngs, runs)


@given(valid_params(max_enterprises=120, market=True), st.integers(1, 3), SEEDS, st.data())
def test_choose_providers_keeps_counts_and_moves_only_revisers_or_forced(
    params: Params, runs: int, seed: int, data: st.DataObject
) -> None:
    """Counts stay in step with the choices by segment; only enterprises that revise (their
    uniform below their segment's rate) or must leave their option move, and only to an
    option available to their segment; the returned movers are exactly the revisers."""
    core, state = _market_state(params, seed, runs)
    k, n_seg = core.n_options, core.n_segments
    rng = np.random.default_rng(seed + 99)
    weights = rng.random((runs, n_seg, k, k)) * (rng.random((runs, n_seg, k, k)) < 0.7)
    weights[..., -1] += 1e-3  # no provider is always available
    with np.errstate(divide="ignore"):
        utilities = np.log(weights / weights.max(-1, keepdims=True))
    forced = rng.random((runs, n_seg, k)) < data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    forced[..., -1] = False
    draw_rng = [np.random.default_rng(seed + 1 + r) for r in range(runs)]
    new, counts, flat, old, moved_to = dynamics.choose_providers(
        core,
        state.choice,
        state.counts,
        utilities,
        forced,
        draw_rng,
        state.population.personal,
    )
    expected = dynamics.segment_totals(new, core.segment_of, n_seg, k)
    np.testing.assert_array_equal(counts, expected)
    assert (counts.sum(-1) == np.bincount(core.segment_of, minlength=n_seg)).all()
    # replay the draws: revision uniforms first, then option uniforms
    replay = [np.random.default_rng(seed + 1 + r) for r in range(runs)]
    u_revise = np.stack([g.random(params.n_enterprises) for g in replay])
    seg = core.segment_of.astype(np.intp)
    rate = core.revision_rate[seg]
    must = forced[np.arange(runs)[:, None], seg[None, :], state.choice.astype(np.intp)]
    allowed = (u_revise < rate) | must
    assert (np.flatnonzero(allowed) == flat).all(), "movers are not exactly the revisers"
    np.testing.assert_array_equal(old, state.choice.ravel()[flat])
    np.testing.assert_array_equal(moved_to, new.ravel()[flat])
    assert not ((new != state.choice) & ~allowed).any(), "an enterprise moved without revising"
    # a move lands only on an option its segment can take from where it was
    possible = np.isfinite(utilities)[
        np.arange(runs)[:, None], seg[None, :], state.choice.astype(np.intp), new.astype(np.intp)
    ]
    assert possible[allowed].all()


@given(
    valid_params(
        max_enterprises=200, market=True, circumvention=False, revision_rate=st.floats(0.0, 1.0)
    ),
    SEEDS,
)
def test_forced_migration_empties_unreachable_providers(params: Params, seed: int) -> None:
    """After any step with circumvention off, nobody uses a provider its segment cannot reach:
    one that restricts, is blocked by the rival government, is barred by the segment's rules
    or excludes the segment."""
    plan = Plan.from_params(params)
    core = plan.first
    rngs = [np.random.default_rng(seed)]
    state = engine.initial_state(plan, rngs, runs=1)
    for _ in range(3):
        state = engine.advance(plan, state, rngs)
        accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
        reach = payoffs.segment_available(core, accessible)  # (R, S, J)
        assert (state.counts[..., :-1][~reach] == 0).all()


def test_forced_migration_when_a_provider_restricts() -> None:
    """Deterministic case: everyone on provider 0, which becomes unreachable; revision rate 0
    so only the forced enterprises move, and all of them leave."""
    n = 500
    core = Core.from_params(load_scenario("classic").replace(n_enterprises=n, revision_rate=0.0))
    k = core.n_options
    choice = np.zeros((1, n), np.int16)
    counts = dynamics.segment_totals(choice, core.segment_of, 1, k)
    values = payoffs.option_values(
        core,
        np.array([[1.0, 1.0, 0.88, 0.85, 0.82, 0.79]]),
        np.array([[1.0, 1.1, 0.3, 0.25, 0.2, 0.15]]),
    )
    accessible = np.array([[False, True, True, True, True, True]])
    utilities = payoffs.transition_utilities(
        core, values, accessible, np.zeros((1, k - 1), bool), core.switching
    )
    forced = np.zeros((1, 1, k), bool)
    forced[0, 0, 0] = True
    new, new_counts, flat, _, _ = dynamics.choose_providers(
        core, choice, counts, utilities, forced, np.random.default_rng(0), None
    )
    assert new_counts[0, 0, 0] == 0 and (new != 0).all()
    assert new_counts.sum() == n and len(flat) == n


def test_circumvention_lets_users_of_a_blocked_provider_stay() -> None:
    """With circumvention on and no voluntary revision, users of foreign providers that the
    rival has just blocked are not forced to move (ODD 7.1); with it off, all of them move."""
    seed = load_scenario("seed")
    still = {f"{s.name}.revision_rate": 0.0 for s in seed.segments}
    base = seed.replace(n_enterprises=500, revision_rate=0.0, rival_rule="fixed", **still)
    for circumvention in (True, False):
        plan = Plan.from_params(base.replace(circumvention=circumvention))
        core = plan.first
        rngs = [np.random.default_rng(1)]
        state = engine.initial_state(plan, rngs, runs=1)
        assert state.counts[0, :, :-1][:, core.foreign].sum() > 0
        blocked = dataclasses.replace(state, rival_policy=np.ones(1, np.int8))
        new = engine.advance(plan, blocked, rngs)
        assert new.rival_policy[0] == 1
        if circumvention:
            np.testing.assert_array_equal(new.choice, state.choice)
        else:
            assert new.counts[0, :, :-1][:, core.foreign].sum() == 0
            assert new.counts.sum() == 500


def _capability_core(**changes) -> Core:
    lineup = (
        Provider(name="lab", channel="direct", quality=0.95),
        Provider(name="d1", channel="domestic", quality=0.8, compute=0.4),
        Provider(name="d2", channel="domestic", quality=0.6, compute=0.1),
        Provider(name="llama", channel="open", origin="home", quality=0.85, price=0.0),
        Provider(name="qwen", channel="open", origin="rival", quality=0.7, price=0.0),
    )
    return Core.from_params(Params(providers=lineup, **changes))


@given(
    st.integers(1, 3),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 0.5),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    SEEDS,
)
def test_grow_capability_closed_form_and_bounds(
    runs: int,
    eta: float,
    subsidy: float,
    chi: float,
    g: float,
    psi: float,
    omega: float,
    seed: int,
) -> None:
    """One step of the dynamics' docstring, provider kind by kind:
    domestic ``min(q + r (F - q) + psi max(P - q, 0), F)`` with ``r = clip(eta s + b + chi
    s_F + omega c)``, foreign ``r_i F'``, home open ``min(q + (F - q) / L, F)``, rival open
    ``min(q + rho max(P_dom - q, 0), F)`` (neither below ``q``), ``F' = F (1 + g)``. Domestic
    quality never decreases and never passes the frontier."""
    core = _capability_core(
        learning_rate=eta,
        rival_subsidy=subsidy,
        spillover_rate=chi,
        frontier_growth=g,
        diffusion_rate=psi,
        compute_effect=omega,
        open_weight_lag=6.0,
        open_release_rate=0.3,
    )
    rng = np.random.default_rng(seed)
    frontier = 1.0 + rng.random(runs) * 3
    quality = rng.random((runs, 5)) * frontier[:, None]
    compute = rng.random((runs, 5))
    usage = rng.dirichlet(np.ones(6), size=runs)[:, :-1]
    revenue = rng.random((runs, 5))
    new_q, new_f, new_c = dynamics.grow_capability(
        core, quality, frontier, compute, usage, revenue, np.zeros(runs, np.int8), 1
    )
    np.testing.assert_allclose(new_f, frontier * (1 + g), rtol=1e-15)
    top = frontier[:, None]
    pool = quality[:, 1:].max(-1, keepdims=True)
    rate = np.clip(eta * usage + subsidy + chi * usage[:, :1] + omega * compute, 0, 1)
    domestic = np.minimum(
        quality + rate * (top - quality) + psi * np.maximum(pool - quality, 0), top
    )
    np.testing.assert_allclose(new_q[:, 1:3], domestic[:, 1:3], rtol=1e-13)
    assert (new_q[:, 1:3] >= quality[:, 1:3]).all(), "domestic quality decreased"
    assert (new_q[:, 1:3] <= top).all(), "domestic quality passed the frontier"
    np.testing.assert_array_equal(new_q[:, 0], 0.95 * new_f)
    home_open = np.minimum(quality[:, 3] + (frontier - quality[:, 3]) / 6.0, frontier)
    np.testing.assert_allclose(new_q[:, 3], np.maximum(home_open, quality[:, 3]), rtol=1e-14)
    best_domestic = quality[:, 1:3].max(-1)
    rival_open = quality[:, 4] + 0.3 * np.maximum(best_domestic - quality[:, 4], 0)
    np.testing.assert_allclose(
        new_q[:, 4], np.maximum(np.minimum(rival_open, frontier), quality[:, 4]), rtol=1e-14
    )
    # nothing invested: domestic compute decays and falls behind the frontier lab's
    decayed = compute * (1 - 0.02) / (1 + 0.1435)  # the schema's default delta and gamma_F
    np.testing.assert_allclose(new_c[:, 1:3], decayed[:, 1:3], rtol=1e-15)
    np.testing.assert_array_equal(new_c[:, [0, 3, 4]], compute[:, [0, 3, 4]])


@given(
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    SEEDS,
)
def test_compute_step_closed_form_and_export_controls(
    depreciation: float, growth: float, per_revenue: float, subsidy: float, xi: float, seed: int
) -> None:
    """``c <- (c (1 - delta) + (1 - xi [on]) (kappa_c R + b_c)) / (1 + gamma_F)`` for domestic
    providers; everyone else's compute is untouched; controls on never raise compute."""
    core = _capability_core(
        compute_depreciation=depreciation,
        frontier_compute_growth=growth,
        compute_per_revenue=per_revenue,
        compute_subsidy=subsidy,
        export_control_strength=xi,
    )
    rng = np.random.default_rng(seed)
    compute = rng.random((2, 5))
    revenue = rng.random((2, 5)) * 10
    args = (np.ones((2, 5)) * 0.5, np.ones(2), compute, np.full((2, 5), 0.1), revenue)
    controls = np.array([0, 1], np.int8)
    _, _, new = dynamics.grow_capability(core, *args, controls, 1)
    cut = 1 - xi * controls[:, None]
    expected = (compute * (1 - depreciation) + cut * (per_revenue * revenue + subsidy)) / (
        1 + growth
    )
    np.testing.assert_allclose(new[:, 1:3], expected[:, 1:3], rtol=1e-14)
    np.testing.assert_array_equal(new[:, [0, 3, 4]], compute[:, [0, 3, 4]])
    _, _, off = dynamics.grow_capability(core, *args, np.zeros(2, np.int8), 1)
    assert (new[1, 1:3] <= off[1, 1:3]).all()


@given(st.integers(1, 12), st.floats(0.0, 0.2), st.integers(1, 40))
def test_discrete_releases_jump_every_k_months(k: int, g: float, months: int) -> None:
    """With ``frontier_release_interval = k`` the frontier stays flat and jumps by
    ``(1 + g)^k`` in months that are multiples of ``k``: after ``m`` months it is
    ``(1 + g)^(k floor(m / k))``."""
    core = _capability_core(frontier_growth=g, frontier_release_interval=k)
    frontier = np.ones(1)
    quality = np.full((1, 5), 0.5)
    for month in range(1, months + 1):
        before = frontier
        quality, frontier, _ = dynamics.grow_capability(
            core,
            quality,
            frontier,
            np.zeros((1, 5)),
            np.zeros((1, 5)),
            np.zeros((1, 5)),
            np.zeros(1, np.int8),
            month,
        )
        if month % k:
            assert frontier[0] == before[0]
    np.testing.assert_allclose(frontier, (1 + g) ** (k * (months // k)), rtol=1e-12)


def test_constant_shares_converge_to_the_steady_state_gap_and_compute() -> None:
    """Iterating the step at constant shares and revenue reaches the closed forms of the
    dynamics docstring: ``c* = (kappa_c R + b_c) / (gamma_F + delta)``, ``x* = g / (g + r*)``
    with ``r* = eta s + b + chi s_F + omega c*``; home-origin open models settle at relative
    quality ``1 / (1 + g L)``."""
    g, eta, b, chi, omega = 0.01, 0.05, 0.002, 0.03, 0.02
    core = _capability_core(
        frontier_growth=g,
        learning_rate=eta,
        rival_subsidy=b,
        spillover_rate=chi,
        compute_effect=omega,
        compute_per_revenue=0.01,
        compute_subsidy=0.005,
        compute_depreciation=0.03,
        frontier_compute_growth=0.1,
        open_weight_lag=10.0,
    )
    usage = np.array([[0.3, 0.2, 0.1, 0.15, 0.05]])
    revenue = np.array([[12.0, 4.0, 2.0, 0.0, 0.0]])
    quality, frontier, compute = np.full((1, 5), 0.5), np.ones(1), np.full((1, 5), 0.1)
    for month in range(1, 5001):
        quality, frontier, compute = dynamics.grow_capability(
            core, quality, frontier, compute, usage, revenue, np.zeros(1, np.int8), month
        )
        quality = quality / frontier[:, None]  # stay in relative units (the map is homogeneous)
        frontier = np.ones(1)
    c_star = dynamics.steady_state_compute(0.01 * revenue + 0.005, 0.1, 0.03)
    np.testing.assert_allclose(compute[0, 1:3], c_star[0, 1:3], rtol=1e-10)
    rate = eta * usage + b + chi * usage[:, :1] + omega * c_star
    gap = dynamics.steady_state_gap(g, rate)
    np.testing.assert_allclose(1 - quality[0, 1:3], gap[0, 1:3], rtol=1e-9)
    np.testing.assert_allclose(quality[0, 3], 1 / (1 + g * 10.0), rtol=1e-9)


@given(valid_params(max_enterprises=150, market=True), SEEDS)
def test_engine_run_keeps_domestic_quality_monotone_and_below_frontier(
    params: Params, seed: int
) -> None:
    plan = Plan.from_params(params)
    core = plan.first
    rngs = [np.random.default_rng(seed)]
    state = engine.initial_state(plan, rngs, runs=1)
    k = params.frontier_release_interval
    for _ in range(5):
        new = engine.advance(plan, state, rngs)
        assert (new.quality[:, core.domestic] >= state.quality[:, core.domestic]).all()
        assert (new.quality[:, core.domestic] <= new.frontier[:, None]).all()
        assert (new.quality[:, core.open] >= state.quality[:, core.open]).all()
        assert (new.quality[:, core.open] <= new.frontier[:, None]).all()
        jumps = k == 0 or new.t % k == 0
        expected = state.frontier * (1 + params.frontier_growth) ** (max(k, 1) if jumps else 0)
        np.testing.assert_allclose(new.frontier, expected, rtol=1e-14)
        state = new


@given(st.integers(1, 3), st.integers(1, 300), SEEDS)
def test_initial_choices_follow_probabilities_support(runs: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4), size=(runs, n))
    probs[..., 1] = 0.0
    probs /= probs.sum(-1, keepdims=True)
    choice = dynamics.draw_initial(probs, runs, n, [np.random.default_rng(seed)] * runs)
    assert choice.shape == (runs, n) and (choice != 1).all()
    assert ((choice >= 0) & (choice < 4)).all()


def test_full_catch_up_lands_on_the_frontier_not_beyond() -> None:
    """A catch-up rate of one (here the subsidy alone) moves domestic quality to the frontier:
    never past it, not even by rounding (about 1% of random pairs overshoot by one ulp when
    computed as ``q + 1 * (F - q)``)."""
    core = Core.from_params(
        Params(rival_subsidy=1.0, learning_rate=0.0, frontier_growth=0.0)
    )  # providers: a foreign lab, a domestic provider
    rng = np.random.default_rng(0)
    frontier = 1.0 + rng.random(10_000) * 3.0
    quality = np.stack([frontier, rng.random(10_000) * frontier], axis=-1)
    new_quality, _, _ = dynamics.grow_capability(
        core,
        quality,
        frontier,
        np.zeros_like(quality),
        np.zeros_like(quality),
        np.zeros_like(quality),
        np.zeros(10_000, np.int8),
        1,
    )
    assert (new_quality[:, 1] <= frontier).all(), "domestic quality passed the frontier"
    assert (frontier - new_quality[:, 1] <= np.spacing(frontier)).all(), "not at the frontier"


def test_peer_adjustment_is_spend_weighted_neighbour_shares() -> None:
    """``mu_s (e_i,kind(j) + beta x_ij)`` with ``x_ij`` the spend share of ``i``'s neighbours
    on ``j``, from the CSR rows of the network, checked enterprise by enterprise."""
    params = load_scenario("seed").replace(n_enterprises=300, peer_effect=0.7)
    core, state = _market_state(params, 4, 1)
    personal = state.population.personal
    graph = state.population.graph
    assert personal is not None and graph is not None
    flat = np.arange(0, 300, 7)
    seg = core.segment_of[flat].astype(np.intp)
    rows = np.zeros((core.n_options, len(flat)))  # no segment utility: the personal part alone
    got = personal.utilities(core, rows, flat, seg, state.choice).T
    size = state.population.size[0]
    taste = state.population.taste
    assert taste is not None
    for row, i in enumerate(flat):
        neighbours = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
        x = np.zeros(core.n_options)
        for m in neighbours:
            x[state.choice[0, m]] += size[m]
        x = x / x.sum() if len(neighbours) else x
        extra = 0.7 * x
        extra[:-1] += taste[i, core.taste_kind]
        np.testing.assert_allclose(got[row], core.mu[seg[row]] * extra, rtol=1e-13, atol=1e-15)


PRICED = (
    Provider(name="lab", channel="direct"),
    Provider(name="d1", channel="domestic", price=0.8, margin=0.4, marginal_cost=0.1),
    Provider(name="d2", channel="domestic", price=0.6, margin=0.0),
    Provider(name="d3", channel="domestic", price=0.5, margin=0.05, marginal_cost=2.0),
)


@given(st.sampled_from(["best_response", "price_war"]), st.floats(0.0, 1.0), SEEDS)
def test_price_rules_keep_prices_in_range_and_zero_margin_providers_put(
    rule: str, subsidy: float, seed: int
) -> None:
    """Domestic prices stay finite and in the schema's range [0, 10] under either price rule;
    a provider keeping no margin is indifferent to its price and keeps it; foreign prices never
    move. (A zero margin once raised in the best response and sent the price-war floor
    ``(1 - s) c / m`` to infinity.)"""
    params = Params(providers=PRICED, price_rule=rule, price_subsidy=subsidy, price_adjustment=1.0)
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(seed)]
    state = engine.initial_state(plan, rngs, 1)
    for step in range(4):
        new = engine.advance(plan, state, rngs)
        assert np.isfinite(new.price).all() and (new.price >= 0).all()
        assert (new.price <= engine.PRICE_MAX).all()
        assert new.price[0, 2] == 0.6 and new.price[0, 0] == state.price[0, 0]
        if rule == "price_war" and step == 0:
            # target max(floor_j, min(p_j, (1 - cut) min of the other responders' prices)),
            # floor min((1 - s) c / m, 10); d2 (no margin) is not a responder
            floor = [(1 - subsidy) * 0.1 / 0.4, min((1 - subsidy) * 2.0 / 0.05, 10.0)]
            expected = [max(floor[0], min(0.8, 0.8 * 0.5)), max(floor[1], min(0.5, 0.8 * 0.8))]
            np.testing.assert_allclose(new.price[0, [1, 3]], expected, rtol=1e-15)
        state = new


@given(st.sampled_from([5e-324, 1e-310, 1e-200, 0.0]))
def test_best_response_price_with_a_vanishing_price_sensitivity(kappa: float) -> None:
    """Demand that does not react to price: the best response is the top of the price range.
    (A price sensitivity below about 1e-308 once made the candidate prices around the demand
    step inf - inf = NaN, and the price NaN.)"""
    params = Params(
        providers=PRICED[:2],
        price_rule="best_response",
        price_adjustment=1.0,
        price_sensitivity=kappa,
    )
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(0)]
    new = engine.advance(plan, engine.initial_state(plan, rngs, 1), rngs)
    assert new.price[0, 1] == engine.PRICE_MAX
