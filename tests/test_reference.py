"""The vectorized engine step agrees with the slow per-agent reference (tests/reference.py).

Both are given generators in the same state; after a step the discrete state (choices,
strategies, policies) must be identical, floats equal to 1e-12 (relative and absolute), and
both must have consumed exactly the same number of draws (generator states equal after).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import engine
from sim.params import Params, list_scenarios, load_scenario
from sim.rules import RULES
from tests.reference import Reference, run_state
from tests.strategies import lively, rules, valid_params

TOL = {"rtol": 1e-12, "atol": 1e-12}
RUNS = 2


def assert_step_matches(params: Params, seeds: list[int], steps: int) -> None:
    """Advance ``steps`` steps with the engine (all runs at once); before each step copy every
    run's generator and state into the reference and compare after the step."""
    core = engine.Core.from_params(params)
    ref = Reference(params)
    rngs = [np.random.default_rng(s) for s in seeds]
    state = engine.initial_state(core, rngs, runs=len(rngs))
    for _ in range(steps):
        ref_rngs = [copy.deepcopy(g) for g in rngs]
        before = [run_state(state, r) for r in range(len(rngs))]
        state = engine.advance(core, state, rngs)
        obs = engine.observe(core, state)
        for r, ref_rng in enumerate(ref_rngs):
            expected = ref.step(before[r], ref_rng)
            got = run_state(state, r)
            where = f"run {r} step {got.t} seed {seeds[r]}"
            assert ref_rng.bit_generator.state == rngs[r].bit_generator.state, (
                f"{where}: different number of draws"
            )
            assert got.t == expected.t
            assert got.strategy == expected.strategy, where
            assert got.home_policy == expected.home_policy, where
            assert got.rival_policy == expected.rival_policy, where
            assert got.choice == expected.choice, where
            np.testing.assert_allclose(got.frontier, expected.frontier, **TOL, err_msg=where)
            np.testing.assert_allclose(got.quality, expected.quality, **TOL, err_msg=where)
            for name in ("firm_memory", "home_memory", "rival_memory"):
                np.testing.assert_allclose(
                    np.asarray(getattr(got, name)).ravel(),
                    np.asarray(getattr(expected, name), dtype=float).ravel(),
                    **TOL,
                    err_msg=f"{where} {name}",
                )
            np.testing.assert_array_equal(
                state.counts[r], np.bincount(got.choice, minlength=params.n_providers + 1)
            )
            ref_obs = ref.observe(expected)
            for column in engine.MODEL_COLUMNS:
                np.testing.assert_allclose(
                    obs.model[column][r], ref_obs[column], **TOL, err_msg=f"{where} {column}"
                )
            for column in engine.PROVIDER_COLUMNS:
                np.testing.assert_allclose(
                    np.asarray(obs.provider[column][r], dtype=float),
                    ref_obs[column],
                    **TOL,
                    err_msg=f"{where} {column}",
                )


@pytest.mark.parametrize("scenario", sorted(list_scenarios()))
@pytest.mark.parametrize("rule", RULES)
def test_engine_matches_reference_every_scenario_and_rule(scenario: str, rule: str) -> None:
    base = load_scenario(scenario)
    assert_step_matches(lively(base, rule, circumvention=False), seeds=[1, 2], steps=6)
    assert_step_matches(lively(base, rule, circumvention=True), seeds=[3, 4], steps=6)


def test_engine_matches_reference_defaults_long_run() -> None:
    """The seed scenario as shipped (rare revisions), long enough for a policy change."""
    assert_step_matches(load_scenario("seed").replace(n_enterprises=400), seeds=[5, 6], steps=40)


def test_engine_matches_reference_with_fixed_strategies() -> None:
    base = load_scenario("seed")
    providers = list(base.providers)
    providers[0] = providers[0].replace(fixed_strategy="allow", initial_strategy="restrict")
    providers[1] = providers[1].replace(fixed_strategy="restrict")
    params = lively(base, "logit", circumvention=True).replace(providers=tuple(providers))
    assert_step_matches(params, seeds=[7, 8], steps=8)


@settings(max_examples=40, deadline=None)
@given(
    valid_params(
        max_enterprises=60,
        firm_rule=rules(),
        home_rule=rules(),
        rival_rule=rules(),
    ),
    st.integers(0, 2**32 - 1),
)
def test_engine_matches_reference_random_params(params: Params, seed: int) -> None:
    """Arbitrary valid parameters, every field over its whole range."""
    assert_step_matches(params, seeds=[seed, seed + 1], steps=3)


@pytest.mark.parametrize("scenario", sorted(list_scenarios()))
def test_initial_state_matches_reference(scenario: str) -> None:
    params = load_scenario(scenario).replace(n_enterprises=500)
    core = engine.Core.from_params(params)
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)
        ref_rng = copy.deepcopy(rng)
        state = engine.initial_state(core, [rng], runs=1)
        expected = Reference(params).initial(ref_rng)
        got = run_state(state, 0)
        assert rng.bit_generator.state == ref_rng.bit_generator.state
        assert got.choice == expected.choice
        assert (got.strategy, got.home_policy, got.rival_policy) == (
            expected.strategy,
            expected.home_policy,
            expected.rival_policy,
        )
        np.testing.assert_allclose(got.quality, expected.quality, **TOL)
        assert got.frontier == expected.frontier == 1.0
