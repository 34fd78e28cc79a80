"""Enterprise choice and capability growth (sim/dynamics.py): exact invariants."""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from sim import dynamics, engine, payoffs
from sim.params import Params, load_scenario
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


def _random_transition(rng: np.random.Generator, runs: int, k: int) -> np.ndarray:
    weights = rng.random((runs, k, k)) * (rng.random((runs, k, k)) < 0.7)
    weights[..., -1] += 1e-3  # no provider is always available
    return weights / weights.sum(-1, keepdims=True)


@given(choice_arrays(), st.floats(0.0, 1.0), SEEDS)
def test_choose_providers_keeps_counts_and_moves_only_revisers_or_forced(
    arrays: tuple[np.ndarray, int], rate: float, seed: int
) -> None:
    choice, k = arrays
    runs, n = choice.shape
    rng = np.random.default_rng(seed)
    transition = _random_transition(rng, runs, k)
    forced = rng.random((runs, k)) < 0.3
    forced[:, -1] = False
    counts = dynamics.option_counts(choice, k)
    draw_rng = np.random.default_rng(seed + 1)
    new, new_counts = dynamics.choose_providers(choice, counts, transition, forced, rate, draw_rng)
    np.testing.assert_array_equal(new_counts, dynamics.option_counts(new, k))
    assert new_counts.sum() == runs * n and (new_counts >= 0).all()
    # replay the draws: revision uniforms first, then option uniforms
    replay = np.random.default_rng(seed + 1)
    u_revise = replay.random((runs, n))
    replay.random((runs, n))
    allowed = (u_revise < rate) | np.take_along_axis(forced, choice.astype(np.intp), -1)
    moved = new != choice
    assert not (moved & ~allowed).any(), "an enterprise moved without revising"
    # a move lands only on options with positive transition probability
    rows = transition[np.arange(runs)[:, None], choice.astype(np.intp)]
    chosen_p = np.take_along_axis(rows, new.astype(np.intp)[..., None], -1)[..., 0]
    assert (chosen_p[allowed] > 0).all()


@given(
    valid_params(max_enterprises=300, circumvention=False, revision_rate=st.floats(0.0, 1.0)),
    SEEDS,
)
def test_forced_migration_empties_blocked_providers(params: Params, seed: int) -> None:
    """After any step with circumvention off, nobody uses a provider that is blocked (it
    restricts or the rival government blocks foreign services)."""
    core = engine.Core.from_params(params)
    rngs = [np.random.default_rng(seed)]
    state = engine.initial_state(core, rngs, runs=1)
    for _ in range(3):
        accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
        assert (state.counts[:, :-1][~accessible] == 0).all()
        state = engine.advance(core, state, rngs)
    accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
    assert (state.counts[:, :-1][~accessible] == 0).all()


def test_forced_migration_when_a_provider_restricts() -> None:
    """Deterministic case: everyone on provider 0, which becomes unreachable; revision rate 0
    so only the forced enterprises move, and all of them leave."""
    n, k = 500, 3
    choice = np.zeros((1, n), np.int16)
    counts = dynamics.option_counts(choice, k)
    values = np.array([[1.0, 0.8, 0.5]])
    accessible = np.array([[False, True]])
    transition = payoffs.transition_probabilities(
        values,
        accessible,
        np.zeros((1, 2), bool),
        payoffs.switching_costs(2, np.array([False, True]), 0.05, 0.5),
        rationality=20.0,
        circumvention_cost=0.15,
    )
    forced = np.array([[True, False, False]])
    new, new_counts = dynamics.choose_providers(
        choice, counts, transition, forced, 0.0, np.random.default_rng(0)
    )
    assert new_counts[0, 0] == 0 and (new != 0).all()
    assert new_counts.sum() == n


@given(
    st.integers(1, 3),
    st.integers(1, 5),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 1.0),
    st.floats(0.0, 0.5),
    SEEDS,
)
def test_grow_capability_bounds(
    runs: int, n_prov: int, eta: float, subsidy: float, chi: float, g: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    domestic = rng.random(n_prov) < 0.5
    frontier = 1.0 + rng.random(runs) * 3
    quality = rng.random((runs, n_prov)) * frontier[:, None]
    usage = rng.dirichlet(np.ones(n_prov + 1), size=runs)[:, :-1]
    relative = np.where(domestic, 0.0, rng.random(n_prov))
    new_q, new_f = dynamics.grow_capability(
        quality,
        frontier,
        usage,
        domestic=domestic,
        relative_foreign=relative,
        learning_rate=eta,
        subsidy=subsidy,
        spillover=chi,
        growth=g,
    )
    np.testing.assert_allclose(new_f, frontier * (1 + g), rtol=1e-15)
    dom_old, dom_new = quality[:, domestic], new_q[:, domestic]
    assert (dom_new >= dom_old).all(), "domestic quality decreased"
    assert (dom_new <= frontier[:, None]).all(), "domestic quality passed the frontier"
    np.testing.assert_allclose(new_q[:, ~domestic], relative[~domestic] * new_f[:, None])
    # closed form of the catch-up step
    foreign_usage = (usage * ~domestic).sum(-1, keepdims=True)
    rate = np.clip(eta * usage + subsidy + chi * foreign_usage, 0, 1)
    expected = quality + rate * (frontier[:, None] - quality)
    np.testing.assert_allclose(dom_new, expected[:, domestic], rtol=1e-14)


@given(valid_params(max_enterprises=200), SEEDS)
def test_engine_run_keeps_domestic_quality_monotone_and_below_frontier(
    params: Params, seed: int
) -> None:
    core = engine.Core.from_params(params)
    rngs = [np.random.default_rng(seed)]
    state = engine.initial_state(core, rngs, runs=1)
    for _ in range(5):
        new = engine.advance(core, state, rngs)
        assert (new.quality[:, core.domestic] >= state.quality[:, core.domestic]).all()
        assert (new.quality[:, core.domestic] <= new.frontier[:, None]).all()
        np.testing.assert_allclose(new.frontier, state.frontier * (1 + params.frontier_growth))
        state = new


@given(st.integers(1, 3), st.integers(1, 300), SEEDS)
def test_initial_choices_follow_probabilities_support(runs: int, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4), size=runs)
    probs[:, 1] = 0.0
    probs /= probs.sum(-1, keepdims=True)
    choice = dynamics.initial_choices(probs, n, np.random.default_rng(seed))
    assert choice.shape == (runs, n) and (choice != 1).all()
    assert ((choice >= 0) & (choice < 4)).all()


def test_circumvention_lets_users_of_a_blocked_provider_stay() -> None:
    """With circumvention on and no voluntary revision, users of foreign providers that the
    rival has just blocked are not forced to move (ODD 7.1); with it off, all of them move."""
    base = load_scenario("seed").replace(n_enterprises=500, revision_rate=0.0, rival_rule="fixed")
    for circumvention in (True, False):
        core = engine.Core.from_params(base.replace(circumvention=circumvention))
        rngs = [np.random.default_rng(1)]
        state = engine.initial_state(core, rngs, runs=1)
        assert state.counts[0, :-1][core.foreign].sum() > 0
        blocked = dataclasses.replace(state, rival_policy=np.ones(1, np.int8))
        new = engine.advance(core, blocked, rngs)
        assert new.rival_policy[0] == 1
        if circumvention:
            np.testing.assert_array_equal(new.choice, state.choice)
        else:
            assert new.counts[0, :-1][core.foreign].sum() == 0
            assert new.counts.sum() == 500


def test_full_catch_up_lands_on_the_frontier_not_beyond() -> None:
    """A catch-up rate of one (here the subsidy alone) moves domestic quality to the frontier:
    never past it, not even by rounding (about 1% of random pairs overshoot by one ulp when
    computed as ``q + 1 * (F - q)``)."""
    rng = np.random.default_rng(0)
    frontier = 1.0 + rng.random(10_000) * 3.0
    quality = (rng.random(10_000) * frontier)[:, None]
    new_quality, _ = dynamics.grow_capability(
        quality,
        frontier,
        np.zeros_like(quality),
        domestic=np.array([True]),
        relative_foreign=np.zeros(1),
        learning_rate=0.0,
        subsidy=1.0,
        spillover=0.0,
        growth=0.0,
    )
    assert (new_quality[:, 0] <= frontier).all(), "domestic quality passed the frontier"
