"""The vectorized engine agrees with the slow per-agent reference (tests/reference.py).

Both are given generators in the same state; each step starts both from the engine's state
(so differences cannot build up over steps), and after it:

* exactly equal: the number of draws consumed (generator states), every discrete quantity
  (choices, counts by segment, strategies, policies, controls), the frontier, the foreign
  providers' qualities and, under a fixed price or the price war, every price: the reference
  performs the same floating-point operations in the same order (``F (1 + g)``,
  ``r F``, minima and ``p + alpha (t - p)``);
* equal to ``TOL`` (1e-12, relative and absolute): every other float. The two sum in different
  orders: the engine keeps spend by segment incrementally (previous spend plus movers' sizes)
  and the reference re-adds every member's size, NumPy sums eight or more terms pairwise and
  Python left to right, and ``math.exp`` and NumPy's ``exp`` may differ in the last place;
  each is a few ulps, so 1e-12 leaves three orders of magnitude of room and still catches any
  wrong term. Spend is compared to 1e-12 of the total spend, and money (revenues, payoffs,
  payoff memories, compute bought from revenue) to 1e-12 of :func:`tests.reference.money_scale`,
  the size of the terms it is summed from: a spend share known to a few ulps of the total
  times a market value of up to 1e6 is known to about 1e-10 in $M, and a payoff may be a small
  difference of large terms;
* equal to ``BEST_RESPONSE_TOL`` (1e-7 relative): prices under the best-response rule, which
  the two find by different numerical methods (the engine: candidate prices, zoom and 40
  safeguarded Newton steps on the first-order condition; the reference: a dense grid with
  extra points around every segment's demand step, then bisection to the last bit), both
  working with logarithms of demand. They usually agree to the last few bits, but where
  profit is flat around its maximum the engine's Newton can stop short: hypothesis found a
  mixture of four segments where it stops 4.5e-9 (relative) from the root (first-order
  condition 6e-8 there, 7e-16 at the reference's price, the same profit to 15 digits). The
  reference then continues the step from the engine's prices, so that revenue, which cancels
  in ``m p - c`` when the optimum lies just above cost, is compared at the usual tolerance.

Choices depend on the floats only through comparisons of a uniform with cumulative
probabilities, which a difference of a few ulps changes with probability about 1e-16 per draw.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import engine
from sim.core import Plan
from sim.params import Params, load_scenario
from sim.rules import RULES
from tests.reference import Reference, money_scale, run_state
from tests.strategies import lively, rules, runnable_scenarios, valid_params

TOL = {"rtol": 1e-12, "atol": 1e-12}
BEST_RESPONSE_TOL = {"rtol": 1e-7, "atol": 1e-12}
RUNS = 2


def _close(got, expected, where: str, tol=TOL, scale: float = 1.0) -> None:
    """Equal to ``tol``, the absolute part times ``scale`` (money: :func:`money_scale`)."""
    np.testing.assert_allclose(
        np.asarray(got, dtype=float),
        np.asarray(expected, dtype=float),
        rtol=tol["rtol"],
        atol=tol["atol"] * scale,
        err_msg=where,
    )


MONEY_COLUMNS = ("foreign_revenue", "domestic_revenue", "revenue", "payoff")
MONEY_STATE = ("compute", "firm_memory", "home_memory", "controls_memory")


def assert_step_matches(params: Params, seeds: list[int], steps: int) -> None:
    """Advance ``steps`` steps with the engine (all runs at once); before each step copy every
    run's generator and state into the reference and compare after the step."""
    plan = Plan.from_params(params)
    ref = Reference(params)
    money = money_scale(params)
    rngs = [np.random.default_rng(s) for s in seeds]
    state = engine.initial_state(plan, rngs, runs=len(rngs))
    for _ in range(steps):
        ref_rngs = [copy.deepcopy(g) for g in rngs]
        before = [run_state(state, r) for r in range(len(rngs))]
        state = engine.advance(plan, state, rngs)
        core = plan.core_at(state.t)
        obs = engine.observe(core, state)
        for r, ref_rng in enumerate(ref_rngs):
            got = run_state(state, r)
            where = f"run {r} step {got.t} seed {seeds[r]}"
            expected = ref.step(before[r], ref_rng, prices=got.price)
            if ref.best_response_prices is not None:
                _close(got.price, ref.best_response_prices, f"{where} price", BEST_RESPONSE_TOL)
            assert ref_rng.bit_generator.state == rngs[r].bit_generator.state, (
                f"{where}: different number of draws"
            )
            assert_states_match(core, got, expected, where, money)
            assert_observations_match(ref, state, r, obs, expected, where, money)


def assert_states_match(core, got, expected, where: str, money: float) -> None:
    assert got.t == expected.t
    assert got.strategy == expected.strategy, where
    assert (got.home_policy, got.rival_policy, got.controls) == (
        expected.home_policy,
        expected.rival_policy,
        expected.controls,
    ), where
    assert got.choice == expected.choice, where
    assert got.frontier == expected.frontier, where
    foreign = core.foreign
    assert np.array_equal(np.array(got.quality)[foreign], np.array(expected.quality)[foreign])
    _close(got.quality, expected.quality, f"{where} quality")
    assert got.price == expected.price, where  # best responses: checked in assert_step_matches
    for name in ("compute", "firm_memory", "home_memory", "rival_memory", "controls_memory"):
        _close(
            np.asarray(getattr(got, name)).ravel(),
            np.asarray(getattr(expected, name), dtype=float).ravel(),
            f"{where} {name}",
            scale=money if name in MONEY_STATE else 1.0,
        )


def assert_observations_match(ref, state, r: int, obs, expected, where: str, money: float):
    ref_obs = ref.observe(expected)
    np.testing.assert_array_equal(state.counts[r], ref_obs["counts"], err_msg=where)
    total = float(state.population.total_spend[r])
    _close(state.spend[r] / total, np.array(ref_obs["spend"]) / total, f"{where} spend")
    for column in engine.MODEL_COLUMNS:
        scale = money if column in MONEY_COLUMNS else 1.0
        _close(obs.model[column][r], ref_obs["model"][column], f"{where} {column}", TOL, scale)
    for column in engine.PROVIDER_COLUMNS:
        scale = money if column in MONEY_COLUMNS else 1.0
        got = obs.provider[column][r]
        _close(got, ref_obs["provider"][column], f"{where} {column}", TOL, scale)
    for column in engine.SEGMENT_COLUMNS:
        _close(obs.segment[column][r], ref_obs["segment"][column], f"{where} segment {column}")


@pytest.mark.parametrize("scenario", runnable_scenarios())
@pytest.mark.parametrize("rule", RULES)
def test_engine_matches_reference_every_scenario_and_rule(scenario: str, rule: str) -> None:
    base = load_scenario(scenario)
    assert_step_matches(lively(base, rule, circumvention=False), seeds=[1, 2], steps=4)
    assert_step_matches(lively(base, rule, circumvention=True), seeds=[3, 4], steps=4)


@pytest.mark.parametrize("scenario", ["seed", "open-weights", "chip-controls", "price-war"])
def test_engine_matches_reference_as_shipped(scenario: str) -> None:
    """The scenario as shipped (rare revisions, its own segment rates), long enough for
    strategies, capability, compute and prices to move."""
    params = load_scenario(scenario).replace(n_enterprises=300)
    assert_step_matches(params, seeds=[5, 6], steps=15)


def test_engine_matches_reference_through_the_2024_timeline() -> None:
    """timeline-2024 as shipped through every dated event (price war from month 4, the lab's
    block and migration offers at 6, the partner leaving developers at 9, the open release at
    12 and 13) and a few months after."""
    params = load_scenario("timeline-2024").replace(n_enterprises=300)
    assert_step_matches(params, seeds=[7, 8], steps=16)


def test_engine_matches_reference_with_best_response_prices() -> None:
    params = lively(load_scenario("price-war"), "logit").replace(
        price_rule="best_response", price_adjustment=0.7, price_subsidy=0.3
    )
    assert_step_matches(params, seeds=[9, 10], steps=5)


def test_engine_matches_reference_with_events_of_every_kind() -> None:
    """Dated events setting each kind of state (both policies, controls, a strategy, quality,
    price, compute), changing rules (learning memories reset), a segment's behaviour, a
    provider's exclusions, migration offers and the price rule."""
    seed = lively(load_scenario("seed"), "roth_erev").replace(
        home_controls_rule="logit", home_gap_weight=50.0, export_control_cost=0.5
    )
    events = [
        {
            "month": 2,
            "set": {
                "home_policy": "restrict",
                "domestic-a.price": 0.12,
                "domestic-b.compute": 1.5,
                "firm_rule": "fictitious_play",
                "domestic-a.migration_offer": 0.8,
            },
        },
        {
            "month": 3,
            "set": {
                "rival_policy": "restrict",
                "home_controls": "on",
                "domestic-c.quality": 0.95,
                "direct-lab.initial_strategy": "allow",
                "home_rule": "logit",
                "developers.revision_rate": 0.6,
                "developers.price_sensitivity": 1.5,
            },
        },
        {
            "month": 5,
            "set": {
                "partner-cloud.excluded_segments": ["developers", "smes-startups"],
                "rival_policy": "allow",
                "price_rule": "price_war",
                "home_controls_rule": "fixed",
                "diffusion_rate": 0.3,
            },
        },
    ]
    params = seed.replace(events=events)
    assert_step_matches(params, seeds=[11, 12], steps=7)


def test_engine_matches_reference_with_fixed_strategies() -> None:
    base = load_scenario("seed")
    providers = list(base.providers)
    providers[0] = providers[0].replace(fixed_strategy="allow", initial_strategy="restrict")
    providers[1] = providers[1].replace(fixed_strategy="restrict")
    params = lively(base, "logit", circumvention=True).replace(providers=tuple(providers))
    assert_step_matches(params, seeds=[7, 8], steps=6)


@settings(max_examples=40, deadline=None)
@given(
    valid_params(
        max_enterprises=60,
        market=True,
        firm_rule=rules(),
        home_rule=rules(),
        rival_rule=rules(),
        home_controls_rule=rules(),
    ),
    st.integers(0, 2**32 - 1),
)
def test_engine_matches_reference_random_params(params: Params, seed: int) -> None:
    """Arbitrary valid parameters, every field over its whole range, with segments, a network
    of any kind, open models, licensing, exclusions and every price rule."""
    assert_step_matches(params, seeds=[seed, seed + 1], steps=3)


@settings(max_examples=20, deadline=None)
@given(
    valid_params(max_enterprises=60, firm_rule=rules(), home_rule=rules(), rival_rule=rules()),
    st.integers(0, 2**32 - 1),
)
def test_engine_matches_reference_random_params_first_version_market(
    params: Params, seed: int
) -> None:
    """The first version's market (no segments, network or open models), every field drawn."""
    assert_step_matches(params, seeds=[seed, seed + 1], steps=3)


@pytest.mark.parametrize("scenario", runnable_scenarios())
def test_initial_state_matches_reference(scenario: str) -> None:
    """Step 0 alike draw for draw: spend sizes (to 1e-12: ``math.exp`` against NumPy's),
    tastes, the network, adoption, and every starting value."""
    params = load_scenario(scenario).replace(n_enterprises=500)
    plan = Plan.from_params(params)
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        ref_rng = copy.deepcopy(rng)
        state = engine.initial_state(plan, [rng], runs=1)
        expected = Reference(params).initial(ref_rng)
        got = run_state(state, 0)
        assert rng.bit_generator.state == ref_rng.bit_generator.state
        assert got.choice == expected.choice
        assert (got.strategy, got.home_policy, got.rival_policy, got.controls) == (
            expected.strategy,
            expected.home_policy,
            expected.rival_policy,
            expected.controls,
        )
        assert got.quality == expected.quality and got.price == expected.price
        assert got.compute == expected.compute
        assert got.frontier == expected.frontier == 1.0
        _close(got.size, expected.size, "size")
        assert got.taste == expected.taste
        assert got.neighbours == expected.neighbours
        for name in ("firm_memory", "home_memory", "rival_memory", "controls_memory"):
            assert getattr(got, name) == getattr(expected, name), name
        ref_obs = Reference(params).observe(expected)
        np.testing.assert_array_equal(state.counts[0], ref_obs["counts"])
        obs = engine.observe(plan.first, state)
        for column in engine.MODEL_COLUMNS:
            _close(obs.model[column][0], ref_obs["model"][column], column)


def test_reference_agrees_on_what_a_step_draws_with_nobody_revising() -> None:
    """A memoryless rule with nobody revising still draws its block (the engine skips the
    payoffs, not the uniforms): rates 0, so only the draws are compared."""
    base = lively(load_scenario("seed"), "logit").replace(
        firm_revision_rate=0.0, gov_revision_rate=0.0
    )
    assert_step_matches(base, seeds=[13], steps=3)
