"""The mechanisms of version 2 against closed forms and limits (issue 13).

Capability (compute, diffusion, open weights, discrete releases), open weights under blocks,
licensing, export controls and segments. Every expected value is computed here from the
formulas of the module docstrings (sim/dynamics.py, sim/payoffs.py, sim/engine.py), not by
calling the function under test a second time. Events are in tests/test_events.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import dynamics, engine
from sim.batch import run_batch
from sim.core import ALLOW, RESTRICT, Core, Plan
from sim.params import Params, Provider, load_scenario

CLASSIC = load_scenario("classic")
HOME_OPEN = Provider(
    name="home-open", channel="open", origin="home", quality=0.5, price=0.0, margin=0.0
)
RIVAL_OPEN = Provider(
    name="rival-open", channel="open", origin="rival", quality=0.5, price=0.0, margin=0.0
)


def core_of(params: Params) -> Core:
    return Plan.from_params(params).first


# ---------------------------------------------------------------------------------------------
# Capability: compute, learning, spillover, subsidy and the frontier


CATCH_UP = {
    "learning_rate": 0.1,
    "rival_subsidy": 0.01,
    "spillover_rate": 0.02,
    "compute_effect": 0.1,
    "compute_per_revenue": 0.003,
    "compute_subsidy": 0.03,
    "frontier_growth": 0.005,
    "diffusion_rate": 0.0,
}
USAGE = np.array([0.05, 0.15, 0.3, 0.25, 0.15, 0.1])  # classic order: direct, partner, a-d
REVENUE = np.array([0.0, 0.0, 12.0, 8.0, 5.0, 2.0])  # $M/step, domestic providers


def iterate(
    params: Params, months: int, controls: int = 0, quality: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Relative quality and compute after ``months`` of :func:`sim.dynamics.grow_capability`
    at the constant usage and revenue above (one run)."""
    core = core_of(params)
    j = len(core.foreign)
    q = np.where(core.domestic | core.open, quality, core.relative_foreign)[None].astype(float)
    f = np.ones(1)
    c = np.zeros((1, j))
    usage = np.zeros((1, j))
    usage[0, : len(USAGE)] = USAGE
    revenue = np.zeros((1, j))
    revenue[0, : len(REVENUE)] = REVENUE
    flag = np.array([controls], np.int8)
    for month in range(1, months + 1):
        q, f, c = dynamics.grow_capability(core, q, f, c, usage, revenue, flag, month)
    return q[0] / f[0], c[0]


def closed_form_gap(p: Params, controls: int = 0) -> np.ndarray:
    """``x* = g / (g + r*)`` with ``r* = eta s + subsidy + chi s_F + omega c*`` and
    ``c* = (1 - xi [on]) (kappa_c R + b_c) / (gamma_F + delta)``, domestic providers."""
    invest = (1.0 - p.export_control_strength * controls) * (
        p.compute_per_revenue * REVENUE[2:] + p.compute_subsidy
    )
    compute = invest / (p.frontier_compute_growth + p.compute_depreciation)
    foreign = USAGE[:2].sum()
    rate = (
        p.learning_rate * USAGE[2:]
        + p.rival_subsidy
        + p.spillover_rate * foreign
        + p.compute_effect * compute
    )
    return p.frontier_growth / (p.frontier_growth + np.minimum(rate, 1.0))


@pytest.mark.parametrize("controls", [0, 1])
def test_capability_converges_to_the_closed_form_steady_state(controls: int) -> None:
    """With shares and revenue held fixed, the relative gap of every domestic provider tends to
    ``g / (g + r*)`` and compute to ``I / (gamma_F + delta)`` (to 1e-9 after 3000 months; the
    gap contracts by ``(1 - r) / (1 + g)`` a month, compute by ``(1 - delta) / (1 + gamma_F)``)."""
    p = CLASSIC.replace(**CATCH_UP)
    relative, compute = iterate(p, 3000, controls)
    np.testing.assert_allclose(1.0 - relative[2:], closed_form_gap(p, controls), rtol=1e-9)
    invest = (1.0 - p.export_control_strength * controls) * (
        p.compute_per_revenue * REVENUE[2:] + p.compute_subsidy
    )
    np.testing.assert_allclose(compute[2:], invest / (0.1435 + 0.02), rtol=1e-9)
    np.testing.assert_allclose(
        dynamics.steady_state_gap(p.frontier_growth, 0.07), 0.005 / 0.075, rtol=1e-15
    )


def steady_gap(changes: dict[str, float], controls: int = 0) -> float:
    """Best domestic provider's relative gap after 2500 months (simulated, not the formula)."""
    relative, _ = iterate(CLASSIC.replace(**{**CATCH_UP, **changes}), 2500, controls)
    return float(1.0 - relative[2:].max())


@pytest.mark.parametrize(
    ("name", "low", "high", "sign"),
    [
        ("frontier_growth", 0.005, 0.01, +1),
        ("export_control_strength", 0.2, 0.8, +1),
        ("learning_rate", 0.05, 0.2, -1),
        ("rival_subsidy", 0.005, 0.02, -1),
        ("compute_subsidy", 0.01, 0.05, -1),
        ("compute_effect", 0.05, 0.2, -1),
        ("spillover_rate", 0.0, 0.1, -1),
    ],
)
def test_comparative_statics_of_the_steady_state_gap(
    name: str, low: float, high: float, sign: int
) -> None:
    """The simulated steady-state gap rises with frontier growth and export-control strength
    (controls on) and falls with learning, subsidy, compute subsidy, compute effect and
    spillover; each simulated value is the closed form's."""
    controls = 1 if name == "export_control_strength" else 0
    gaps = [steady_gap({name: value}, controls) for value in (low, high)]
    assert sign * (gaps[1] - gaps[0]) > 1e-4, gaps
    for value, gap in zip((low, high), gaps, strict=True):
        p = CLASSIC.replace(**{**CATCH_UP, name: value})
        assert gap == pytest.approx(closed_form_gap(p, controls).min(), rel=1e-8)


@pytest.mark.parametrize(("growth", "lag"), [(0.005, 12.0), (0.01, 30.0), (0.02, 1.0)])
def test_home_open_models_settle_at_one_over_one_plus_g_lag(growth: float, lag: float) -> None:
    """A home-origin open model follows the frontier with a first-order lag ``L``: its
    relative quality tends to ``1 / (1 + g L)`` from below and from above."""
    params = CLASSIC.replace(
        providers=(*CLASSIC.providers, HOME_OPEN),
        frontier_growth=growth,
        open_weight_lag=lag,
    )
    for start in (0.2, 0.99):
        relative, _ = iterate(params, 4000, quality=start)
        assert relative[-1] == pytest.approx(1.0 / (1.0 + growth * lag), rel=1e-9)


def test_discrete_releases_keep_the_average_growth() -> None:
    """With releases every k months the frontier is flat between releases, jumps by
    ``(1 + g)^k`` at months k, 2k, ..., and equals continuous growth at every release."""
    k, g = 6, 0.005
    params = CLASSIC.replace(frontier_release_interval=k, frontier_growth=g)
    core = core_of(params)
    j = len(core.foreign)
    q, f, c = np.full((1, j), 0.8), np.ones(1), np.zeros((1, j))
    zeros = np.zeros((1, j))
    frontier = [1.0]
    for month in range(1, 121):
        q, f, c = dynamics.grow_capability(core, q, f, c, zeros, zeros, np.zeros(1, np.int8), month)
        frontier.append(float(f[0]))
    months = np.arange(121)
    np.testing.assert_allclose(frontier, (1 + g) ** (k * (months // k)), rtol=1e-12)
    assert math.log(frontier[-1]) / 120 == pytest.approx(math.log1p(g), rel=1e-12)


@st.composite
def capability_cases(draw: st.DrawFn) -> tuple[Params, np.ndarray, np.ndarray, np.ndarray]:
    rate = st.floats(0.0, 1.0)
    params = CLASSIC.replace(
        providers=(*CLASSIC.providers, HOME_OPEN, RIVAL_OPEN),
        learning_rate=draw(rate),
        rival_subsidy=draw(st.floats(0.0, 0.2)),
        spillover_rate=draw(rate),
        diffusion_rate=draw(rate),
        compute_effect=draw(rate),
        compute_subsidy=draw(st.floats(0.0, 0.5)),
        frontier_growth=draw(st.floats(0.0, 0.5)),
        frontier_release_interval=draw(st.sampled_from([0, 1, 3, 12])),
        open_weight_lag=draw(st.floats(1.0, 50.0)),
        open_release_rate=draw(rate),
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    quality = rng.uniform(0.0, 1.0, (3, 8))
    usage = rng.dirichlet(np.ones(8), 3)
    compute = rng.uniform(0.0, 3.0, (3, 8))
    return params, quality, usage, compute


@given(capability_cases())
def test_domestic_and_open_quality_never_fall_and_never_pass_the_frontier(case) -> None:  # type: ignore[no-untyped-def]
    """Whatever the rates (up to 1), diffusion, releases and usage, domestic and open models'
    absolute quality never decreases and never exceeds the frontier, over 24 months."""
    params, quality, usage, compute = case
    core = core_of(params)
    frontier = np.ones(3)
    grows = core.domestic | core.open
    for month in range(1, 25):
        new_q, frontier, compute = dynamics.grow_capability(
            core, quality, frontier, compute, usage, usage * 10, np.zeros(3, np.int8), month
        )
        assert (new_q[:, grows] >= quality[:, grows]).all()
        assert (new_q <= frontier[:, None] * (1 + 1e-12)).all()
        quality = new_q


def test_diffusion_pulls_laggards_to_the_pool_and_never_pushes_the_leader() -> None:
    """Without any other catch-up and a still frontier, a laggard closes exactly a share psi of
    its distance to the best rival model (open weights included) and the leader stays put;
    with every other mechanism on, the leader's step is the one it takes without diffusion."""
    psi = 0.3
    still = {k: 0.0 for k in CATCH_UP}
    plain = CLASSIC.replace(**{**still, "diffusion_rate": psi})
    core = core_of(plain)
    quality = np.array([[1.0, 1.0, 0.9, 0.8, 0.7, 0.6]])
    zeros = np.zeros((1, 6))
    new_q, _, _ = dynamics.grow_capability(
        core, quality, np.ones(1), zeros, zeros, zeros, np.zeros(1, np.int8), 1
    )
    pool = 0.9
    expected = quality[0, 2:] + psi * (pool - quality[0, 2:])
    np.testing.assert_allclose(new_q[0, 2:], expected, rtol=1e-15)
    assert new_q[0, 2] == 0.9  # the leader
    # open weights in the pool: a rival open model above every domestic provider pulls them all
    with_open = CLASSIC.replace(
        **{**still, "diffusion_rate": psi}, providers=(*CLASSIC.providers, RIVAL_OPEN)
    )
    quality7 = np.concatenate([quality, [[0.95]]], axis=1)
    zeros7 = np.zeros((1, 7))
    new7, _, _ = dynamics.grow_capability(
        core_of(with_open), quality7, np.ones(1), zeros7, zeros7, zeros7, np.zeros(1, np.int8), 1
    )
    np.testing.assert_allclose(new7[0, 2:6], quality[0, 2:] + psi * (0.95 - quality[0, 2:]))
    # every mechanism on: diffusion adds psi (P - q) to laggards and nothing to the leader
    on = CLASSIC.replace(**{**CATCH_UP, "diffusion_rate": psi})
    off = CLASSIC.replace(**CATCH_UP)
    args = (
        quality,
        np.ones(1),
        np.ones((1, 6)),
        USAGE[None],
        REVENUE[None],
        np.zeros(1, np.int8),
        1,
    )
    q_on = dynamics.grow_capability(core_of(on), *args)[0][0]
    q_off = dynamics.grow_capability(core_of(off), *args)[0][0]
    assert q_on[2] == q_off[2]
    np.testing.assert_allclose(q_on[3:] - q_off[3:], psi * (0.9 - quality[0, 3:]), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Open weights: reachable whatever anyone blocks


def run_states(params: Params, seed: int, steps: int) -> list[engine.State]:
    """Every state of one run, step 0 included (the engine loop the model and batch share)."""
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(seed)]
    states = [engine.initial_state(plan, rngs, runs=1)]
    for _ in range(steps):
        states.append(engine.advance(plan, states[-1], rngs))
    return states


def open_weights(**changes: object) -> Params:
    """The open-weights scenario with nobody deciding (fixed rules), for exact statements."""
    base = load_scenario("open-weights")
    return base.replace(
        n_enterprises=600,
        firm_rule="fixed",
        home_rule="fixed",
        rival_rule="fixed",
        **changes,  # type: ignore[arg-type]
    )


COMBOS = list(
    itertools.product(("allow", "restrict"), ("allow", "restrict"), ("allow", "restrict"))
)


def blocked_at_month_one(direct: str, partner: str, rival: str, **changes: object) -> Params:
    """Everyone allowed at step 0; at month 1 the lab, the partner and the rival government
    take the given positions."""
    event = {
        "month": 1,
        "set": {
            "direct-lab.fixed_strategy": direct,
            "partner-cloud.fixed_strategy": partner,
            "rival_policy": rival,
        },
    }
    return open_weights(events=(event,), **changes)


@pytest.mark.parametrize(("direct", "partner", "rival"), COMBOS)
def test_open_weight_users_are_never_forced_off(direct: str, partner: str, rival: str) -> None:
    """Nobody revises voluntarily and circumvention is off: after the block every user of a
    blocked API has moved, and every segment's count on each open model is what it was at
    step 0 or more (every step-0 user of an open model is still on it: nobody is forced off
    it, and forced migrants may arrive), whatever the lab, the partner and the rival
    government do. Open models stay accessible in every state."""
    segments = [s.name for s in load_scenario("open-weights").segments]
    frozen = {f"{name}.revision_rate": 0.0 for name in segments}
    params = blocked_at_month_one(direct, partner, rival, circumvention=False, **frozen)
    states = run_states(params, 3, 4)
    core = core_of(params)
    opens = np.flatnonzero(core.open)
    assert states[0].counts[0][:, opens].sum() > 0
    on_open = np.isin(states[0].choice[0], opens)
    for before, state in itertools.pairwise(states):
        accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
        assert accessible[0, opens].all()
        np.testing.assert_array_equal(state.choice[0][on_open], states[0].choice[0][on_open])
        assert (state.counts[0][:, opens] >= before.counts[0][:, opens]).all()
    blocked = [
        j for j, name in ((0, direct), (1, partner)) if name == "restrict" or rival == "restrict"
    ]
    for state in states[1:]:
        assert state.counts[0][:, blocked].sum() == 0


def test_blocks_do_not_touch_open_quality() -> None:
    """The home-origin open model's quality path is the same under all eight combinations of
    the lab's, the partner's and the rival government's positions (it follows the frontier
    only); the rival-origin one's first step too (it follows the domestic pool as it was)."""
    paths = []
    for combo in COMBOS:
        frame = run_batch(blocked_at_month_one(*combo), [5], 30).providers
        paths.append(
            (
                frame[frame.name == "home-open"].quality.to_numpy(),
                frame[(frame.name == "rival-open") & (frame.step <= 1)].quality.to_numpy(),
                frame[frame.name == "domestic-a"].share.to_numpy(),
            )
        )
    for home, rival_first, _ in paths[1:]:
        np.testing.assert_array_equal(home, paths[0][0])
        np.testing.assert_array_equal(rival_first, paths[0][1])
    assert any(not np.array_equal(p[2], paths[0][2]) for p in paths[1:])  # the blocks bite


def test_security_exposure_counts_home_origin_open_models() -> None:
    """``security_risk`` is the sum over home-origin models (both APIs and the home open model,
    not the rival one) of exposure x relative quality x spend share; with every API blocked
    only the home open model's term is left, and it is positive."""
    params = load_scenario("open-weights")
    exposure = {p.name: p.security_exposure for p in params.providers}
    for combo in (("allow", "allow", "allow"), ("restrict", "restrict", "restrict")):
        result = run_batch(blocked_at_month_one(*combo, circumvention=False), [2], 12)
        prov = result.providers
        prov = prov.assign(term=prov.name.map(exposure) * prov.quality * prov.spend_share)
        home = prov[prov.name.isin(["direct-lab", "partner-cloud", "home-open"])]
        expected = home.groupby("step").term.sum().to_numpy()
        np.testing.assert_allclose(result.model.security_risk, expected, rtol=1e-12)
        if combo[0] == "restrict":
            only_open = prov[prov.name == "home-open"].term.to_numpy()
            np.testing.assert_allclose(result.model.security_risk.iloc[1:], only_open[1:])
            assert (only_open[1:] > 0).all()


# ---------------------------------------------------------------------------------------------
# Licensing: the lab earns a share of the partner's revenue


def hand_values(params: Params, segment: int, quality: np.ndarray, price: np.ndarray) -> np.ndarray:
    """Option values of one segment from the formula of sim/payoffs.py: ``q - n (1 - q) -
    kappa p - sigma [foreign]`` (no open models here), the outside option last."""
    seg = params.resolved_segments()[segment]
    foreign = np.array([p.foreign for p in params.providers])
    kappa = seg.price_sensitivity
    values = (
        quality
        - seg.frontier_need * (1.0 - quality)
        - kappa * price
        - seg.security_sensitivity * foreign
    )
    return np.append(values, params.outside_utility)


def hand_long_run_share(params: Params, j: int, reachable: np.ndarray) -> float:
    """Spend-weighted long-run logit share of provider ``j`` over the reachable providers each
    segment may use (``exp(mu v)`` over its choice set with the outside option)."""
    segs = params.resolved_segments()
    weight = np.array([s.share * s.size_mean for s in segs])
    weight /= weight.sum()
    quality = np.array([p.quality for p in params.providers])
    price = np.array([p.price for p in params.providers])
    total = 0.0
    for s, seg in enumerate(segs):
        served = np.array(
            [
                p.channel not in seg.barred_channels and seg.name not in p.excluded_segments
                for p in params.providers
            ]
        )
        choice = np.append(reachable & served, True)
        if not choice[j]:
            continue
        v = hand_values(params, s, quality, price)
        e = np.where(choice, np.exp(seg.enterprise_rationality * (v - v.max())), 0.0)
        total += weight[s] * e[j] / e.sum()
    return total


SEED = load_scenario("seed").replace(n_enterprises=500)
DIRECT, PARTNER = 0, 1


@pytest.mark.parametrize(
    ("partner", "rival"), [("allow", "allow"), ("restrict", "allow"), ("allow", "restrict")]
)
def test_licensor_restrict_payoff_is_licence_income_with_itself_closed(
    partner: str, rival: str
) -> None:
    """The lab's RESTRICT payoff is ``r p_partner V s_partner`` with ``s_partner`` the partner's
    long-run spend share when the lab is unreachable and the others are as they are (0 when the
    partner restricts or the rival government blocks); its ALLOW payoff exceeds the unlicensed
    one by the same income at the partner's long-run share with the lab open."""
    params = SEED.replace(
        **{"partner-cloud.initial_strategy": partner, "rival_policy": rival}  # type: ignore[arg-type]
    )
    core = core_of(params)
    state = engine.initial_state(Plan.from_params(params), [np.random.default_rng(0)], 1)
    payoff = engine.firm_payoffs(core, state, engine.values_of(core, state), state.home_policy)
    reach = np.array([p.channel != "direct" for p in params.providers])
    reach &= np.array(
        [not (p.name == "partner-cloud" and partner == "restrict") for p in params.providers]
    )
    if rival == "restrict":
        reach &= ~np.array([p.foreign for p in params.providers])
    partner_p = params.provider("partner-cloud")
    flow = partner_p.revenue_share * partner_p.price * params.market_value
    closed = flow * hand_long_run_share(params, PARTNER, reach)
    assert payoff[0, DIRECT, RESTRICT] == pytest.approx(closed, rel=1e-12, abs=1e-12)
    if partner == "allow" and rival == "allow":
        assert closed > 1.0  # $M/step: the test is not about zeros
    opened = reach.copy()
    opened[DIRECT] = rival == "allow"
    unlicensed = params.replace(
        **{"partner-cloud.licensor": None, "partner-cloud.revenue_share": 0.0}
    )
    plain = engine.firm_payoffs(
        core_of(unlicensed), state, engine.values_of(core_of(unlicensed), state), state.home_policy
    )
    gain = payoff[0, DIRECT, ALLOW] - plain[0, DIRECT, ALLOW]
    assert gain == pytest.approx(
        flow * hand_long_run_share(params, PARTNER, opened), rel=1e-12, abs=1e-12
    )
    np.testing.assert_array_equal(payoff[0, 1:], plain[0, 1:])  # nobody else is touched


def test_licence_flows_appear_in_revenue_and_payoff() -> None:
    """Each month the lab's revenue is its own paying spend share times ``m p V`` plus
    ``r p_partner V`` times the partner's paying spend share; once it restricts, that licence
    income is its revenue and its realized payoff."""
    result = run_batch(SEED, [0, 1], 40)
    prov = result.providers.set_index(["run", "step", "name"])
    rival_allows = result.model.set_index(["run", "step"]).rival_restricts == 0
    direct, partner = (prov.xs(n, level="name") for n in ("direct-lab", "partner-cloud"))
    lab, cloud = SEED.provider("direct-lab"), SEED.provider("partner-cloud")
    paying_d = direct.spend_share * ((direct.strategy == "allow") & rival_allows)
    paying_p = partner.spend_share * ((partner.strategy == "allow") & rival_allows)
    licence = cloud.revenue_share * cloud.price * SEED.market_value * paying_p
    own = lab.margin * lab.price * SEED.market_value * paying_d
    np.testing.assert_allclose(direct.revenue, own + licence, rtol=1e-12)
    restricting = direct.strategy == "restrict"
    assert restricting.sum() > 20 and (licence[restricting] > 0).all()
    np.testing.assert_allclose(direct.payoff[restricting], licence[restricting], rtol=1e-12)


def test_zero_revenue_share_changes_nothing() -> None:
    """A licensor with revenue share 0 gives bit-identical outputs to no licence at all (the
    licence terms are exact zeros added)."""
    seeds, steps = [0, 3], 40
    with_zero = run_batch(SEED.replace(**{"partner-cloud.revenue_share": 0.0}), seeds, steps)
    without = run_batch(
        SEED.replace(**{"partner-cloud.licensor": None, "partner-cloud.revenue_share": 0.0}),
        seeds,
        steps,
    )
    assert with_zero.model.equals(without.model)
    assert with_zero.providers.equals(without.providers)
    assert with_zero.segments.equals(without.segments)
    licensed = run_batch(SEED, seeds, steps)
    assert not licensed.providers.revenue.equals(without.providers.revenue)


# ---------------------------------------------------------------------------------------------
# Export controls on compute


def test_controls_cut_compute_acquisition_by_the_stated_factor() -> None:
    """From the same state, controls on multiply the compute bought each month by
    ``1 - xi`` and leave depreciation and dilution alone."""
    p = CLASSIC.replace(**CATCH_UP, export_control_strength=0.35)
    core = core_of(p)
    compute = np.array([[0.0, 0.0, 0.4, 0.3, 0.2, 0.1]] * 2)
    args = (
        np.full((2, 6), 0.8),
        np.ones(2),
        compute,
        np.tile(USAGE, (2, 1)),
        np.tile(REVENUE, (2, 1)),
    )
    _, _, new = dynamics.grow_capability(core, *args, np.array([0, 1], np.int8), 1)
    bought = new * (1 + p.frontier_compute_growth) - compute * (1 - p.compute_depreciation)
    np.testing.assert_allclose(bought[1, 2:], (1 - 0.35) * bought[0, 2:], rtol=1e-12)
    np.testing.assert_allclose(bought[0, 2:], 0.003 * REVENUE[2:] + 0.03, rtol=1e-12)


def controls_params(cost: float) -> Params:
    return load_scenario("seed").replace(
        n_enterprises=1000,
        home_controls_rule="best_response",
        home_gap_weight=200.0,
        export_control_cost=cost,
        gov_revision_rate=1.0,
    )


def hand_controls_values(params: Params, state: engine.State) -> np.ndarray:
    """``w_gap min_d g / (g + r_d) - cost [on]`` for controls off and on, every term by hand:
    spend shares from the enterprises' choices and sizes, domestic revenue ``m p V s``,
    ``r_d = eta s_d + subsidy + chi s_F + omega (1 - xi [on]) (kappa_c R_d + b_c) /
    (gamma_F + delta)``."""
    p = params
    size = state.population.size[0]
    choice = state.choice[0]
    n_prov = p.n_providers
    spend = np.array([size[choice == j].sum() for j in range(n_prov)]) / size.sum()
    foreign = sum(spend[j] for j, pr in enumerate(p.providers) if pr.foreign)
    values = []
    for on in (0, 1):
        gaps = []
        for j, pr in enumerate(p.providers):
            if pr.channel != "domestic":
                continue
            revenue = pr.margin * pr.price * p.market_value * spend[j]
            invest = (1 - p.export_control_strength * on) * (
                p.compute_per_revenue * revenue + p.compute_subsidy
            )
            rate = (
                p.learning_rate * spend[j]
                + p.rival_subsidy
                + p.spillover_rate * foreign
                + p.compute_effect * invest / (p.frontier_compute_growth + p.compute_depreciation)
            )
            gaps.append(p.frontier_growth / (p.frontier_growth + min(max(rate, 0.0), 1.0)))
        values.append(p.home_gap_weight * min(gaps) - on * p.export_control_cost)
    return np.array(values)


def test_controls_decision_weighs_the_steady_state_gap_against_its_cost() -> None:
    """``engine.controls_payoffs`` is ``w_gap x*(xi) - cost`` (hand computation at step 0), and
    a best-responding home government with revision probability 1 switches controls on at
    step 1 exactly when ``w_gap (x*_on - x*_off)`` exceeds the cost."""
    base = controls_params(0.0)
    plan = Plan.from_params(base)
    state = engine.initial_state(plan, [np.random.default_rng(4)], 1)
    hand = hand_controls_values(base, state)
    np.testing.assert_allclose(engine.controls_payoffs(plan.first, state)[0, 0], hand, rtol=1e-12)
    worth = hand[1] - hand[0]  # value of controls before their cost
    assert worth > 0.1
    for cost, expected in ((0.5 * worth, 1), (1.5 * worth, 0)):
        params = controls_params(cost)
        states = run_states(params, 4, 1)
        values = engine.controls_payoffs(core_of(params), states[0])[0, 0]
        assert values[1] - values[0] == pytest.approx(worth - cost, rel=1e-12)
        assert states[1].controls[0] == expected


# ---------------------------------------------------------------------------------------------
# Segments: compliance rules, exclusions, spend


def segment_index(params: Params, name: str) -> int:
    return [s.name for s in params.resolved_segments()].index(name)


def test_barred_channels_are_never_used() -> None:
    """State-regulated firms may not use the direct channel: none is on the lab at any step,
    with the lab allowing throughout, and with it restricting (circumvention is on in the seed:
    barred members cannot circumvent either)."""
    s = segment_index(SEED, "state-regulated")
    for strategy in ("allow", "restrict"):
        params = SEED.replace(**{"direct-lab.fixed_strategy": strategy})  # type: ignore[arg-type]
        states = run_states(params, 1, 40)
        assert all(st.counts[0, s, DIRECT] == 0 for st in states)
        if strategy == "allow":
            assert states[-1].counts[0, :, DIRECT].sum() > 0


def test_exclusions_are_respected_and_force_migration() -> None:
    """Excluded from the start, developers never use the partner cloud; excluded by an event
    at month 10, they use it up to month 9 and nobody does from month 10 on (forced off,
    circumvention notwithstanding)."""
    dev = segment_index(SEED, "developers")
    states = run_states(SEED.replace(**{"partner-cloud.excluded_segments": ["developers"]}), 2, 20)
    assert all(st.counts[0, dev, PARTNER] == 0 for st in states)
    event = {"month": 10, "set": {"partner-cloud.excluded_segments": ["developers"]}}
    states = run_states(SEED.replace(events=(event,)), 2, 20)
    on_partner = [int(st.counts[0, dev, PARTNER]) for st in states]
    assert min(on_partner[:10]) > 0 and max(on_partner[10:]) == 0, on_partner


def test_revenue_is_spend_weighted_and_segments_add_up_to_the_model() -> None:
    """Revenue is ``m p V`` times the spend share (sum of the users' sizes over the region's
    total); per-segment shares averaged with member weights give the model's count shares, and
    the segments' foreign spend shares averaged with spend weights give the model's."""
    params = SEED
    plan = Plan.from_params(params)
    core = plan.first
    for state in run_states(params, 6, 30)[::10]:
        obs = engine.observe(core, state)
        size, choice = state.population.size[0], state.choice[0]
        spend = np.array([size[choice == j].sum() for j in range(params.n_providers)])
        spend /= size.sum()
        accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
        margin = np.array([p.margin * p.price for p in params.providers])
        own = margin * params.market_value * np.where(accessible[0], spend, 0.0)
        cloud = params.provider("partner-cloud")
        paying_partner = spend[PARTNER] * accessible[0, PARTNER]
        own[DIRECT] += cloud.revenue_share * cloud.price * params.market_value * paying_partner
        np.testing.assert_allclose(obs.provider["revenue"][0], own, rtol=1e-12)
        np.testing.assert_allclose(obs.provider["spend_share"][0], spend, rtol=1e-12)
        members = np.bincount(core.segment_of, minlength=core.n_segments) / params.n_enterprises
        seg_spend = np.bincount(core.segment_of, weights=size, minlength=core.n_segments)
        seg_spend /= size.sum()
        for column in ("foreign_share", "domestic_share", "open_share", "no_provider_share"):
            total = (members * obs.segment[column][0]).sum()
            assert total == pytest.approx(obs.model[column][0], rel=1e-12, abs=1e-15)
        total_spend = (seg_spend * obs.segment["foreign_spend_share"][0]).sum()
        assert total_spend == pytest.approx(obs.model["foreign_spend_share"][0], rel=1e-12)
        assert not np.allclose(members, seg_spend)  # spend weights differ from head counts
