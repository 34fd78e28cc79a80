"""Decision rules (sim/rules.py): closed forms, limits and statistical checks.

Statistical tests draw ``M`` independent decisions and compare a frequency with its exact
probability ``p``; the tolerance is 5 binomial standard errors, ``5 sqrt(p (1 - p) / M)``
(a false alarm about once in 1.7 million runs), with fixed seeds so the suite is repeatable.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import expit

from sim import rules
from sim.rules import RULES
from tests.strategies import rules as rule_names

M = 40_000  # decisions per statistical check


def assert_frequency(hits: int, trials: int, p: float, what: str) -> None:
    tolerance = 5 * math.sqrt(p * (1 - p) / trials) + 1e-12
    assert abs(hits / trials - p) <= tolerance, f"{what}: {hits / trials} vs {p} +- {tolerance}"


def _decide(rule: str, payoffs: np.ndarray, current: np.ndarray, rng, **kw):
    memory = kw.pop("memory", rules.initial_memory(rule, payoffs.shape))
    return rules.decide(
        rule,
        payoffs,
        current,
        memory,
        kw.pop("count", 0),
        rng,
        rationality=kw.pop("rationality", 1.0),
        intensity=kw.pop("intensity", 1.0),
        forgetting=kw.pop("forgetting", 0.1),
    )


@pytest.mark.slow
def test_logit_rationality_zero_is_uniform() -> None:
    rng = np.random.default_rng(11)
    payoffs = rng.normal(scale=100.0, size=(1, M, 3))
    actions = rules.logit_response(payoffs, np.zeros((1, M), np.int8), rng, 0.0)
    counts = np.bincount(actions.ravel(), minlength=3)
    for a in range(3):
        assert_frequency(int(counts[a]), M, 1 / 3, f"action {a}")


@pytest.mark.slow
def test_logit_probabilities_match_closed_form() -> None:
    rng = np.random.default_rng(12)
    lam, gap = 0.7, 1.3  # P(RESTRICT) = expit(lam * (pi_1 - pi_0))
    payoffs = np.tile([0.0, gap], (1, M, 1))
    actions = rules.logit_response(payoffs, np.zeros((1, M), np.int8), rng, lam)
    assert_frequency(int(actions.sum()), M, float(expit(lam * gap)), "logit restrict")


@given(st.integers(0, 2**32 - 1), st.integers(2, 5))
def test_logit_high_rationality_is_best_response(seed: int, n_actions: int) -> None:
    rng = np.random.default_rng(seed)
    # payoffs on a 0.01 grid with distinct entries per agent: a unique best action
    payoffs = np.array([rng.permutation(n_actions) * 0.01 for _ in range(50)])[None]
    current = np.zeros((1, 50), np.int8)
    logit = rules.logit_response(payoffs, current, np.random.default_rng(seed), 1e6)
    best = rules.best_response(payoffs, current, np.random.default_rng(seed))
    np.testing.assert_array_equal(logit, best)
    np.testing.assert_array_equal(best[0], payoffs[0].argmax(-1))


@pytest.mark.slow
def test_best_response_breaks_ties_uniformly() -> None:
    rng = np.random.default_rng(13)
    payoffs = np.tile([2.0, 1.0, 2.0, 2.0], (1, M, 1))  # three tied maxima
    actions = rules.best_response(payoffs, np.zeros((1, M), np.int8), rng)
    counts = np.bincount(actions.ravel(), minlength=4)
    assert counts[1] == 0
    for a in (0, 2, 3):
        assert_frequency(int(counts[a]), M, 1 / 3, f"tied action {a}")


@pytest.mark.slow
@pytest.mark.parametrize("beta, gap", [(0.5, 2.0), (2.0, -0.4), (0.0, 3.0)])
def test_fermi_adoption_probability(beta: float, gap: float) -> None:
    """Two agents per run: agent 0 plays ALLOW earning ``pi_0``; its only possible model,
    agent 1, plays RESTRICT earning ``pi_0 + gap``; agent 0 copies with probability
    ``1 / (1 + exp(-beta gap))``."""
    rng = np.random.default_rng(14)
    payoffs = np.zeros((M, 2, 2))
    payoffs[:, 0, 0] = 1.0
    payoffs[:, 1, 1] = 1.0 + gap
    current = np.tile(np.array([0, 1], np.int8), (M, 1))
    new = rules.fermi_imitation(payoffs, current, rng, beta)
    expected = 1.0 / (1.0 + math.exp(-beta * gap))
    assert_frequency(int((new[:, 0] == 1).sum()), M, expected, "agent 0 copies")
    assert_frequency(int((new[:, 1] == 0).sum()), M, 1.0 - expected, "agent 1 copies")


@pytest.mark.slow
def test_fermi_single_agent_compares_with_its_other_action() -> None:
    rng = np.random.default_rng(15)
    beta, gap = 1.5, 0.8
    payoffs = np.tile([0.0, gap], (M, 1, 1))
    new = rules.fermi_imitation(payoffs, np.zeros((M, 1), np.int8), rng, beta)
    assert_frequency(int(new.sum()), M, float(expit(beta * gap)), "switch to better action")


@pytest.mark.slow
def test_fermi_model_is_uniform_over_the_others() -> None:
    """With beta = 0 every agent copies its model with probability 1/2; agents play distinct
    'actions' 0..n-1 so the copied action reveals the model: uniform over the n - 1 others."""
    n = 4
    rng = np.random.default_rng(16)
    payoffs = np.zeros((M, n, n))
    current = np.tile(np.arange(n, dtype=np.int8), (M, 1))
    new = rules.fermi_imitation(payoffs, current, rng, 0.0)
    copied = new[:, 0][new[:, 0] != 0]
    assert_frequency(len(copied), M, 0.5, "adoption at beta 0")
    for other in range(1, n):
        assert_frequency(int((copied == other).sum()), len(copied), 1 / (n - 1), f"model {other}")


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=20), st.integers(0, 2**32 - 1))
def test_fictitious_play_running_mean(series: list[float], seed: int) -> None:
    payoff_series = [np.array([[[x, -x / 2]]]) for x in series]
    mean = rules.initial_memory("fictitious_play", (1, 1, 2))
    rng = np.random.default_rng(seed)
    for t, payoffs in enumerate(payoff_series):
        action, mean = rules.fictitious_play(payoffs, np.zeros((1, 1), np.int8), rng, mean, t)
    expected = np.mean([p for p in payoff_series], axis=0)
    np.testing.assert_allclose(mean, expected, rtol=1e-9, atol=1e-9)
    if abs(expected[0, 0, 0] - expected[0, 0, 1]) > 1e-6:
        assert action[0, 0] == int(expected[0, 0, 1] > expected[0, 0, 0])


@given(
    st.lists(st.floats(0.0, 1e3), min_size=2, max_size=2),
    st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=2),
    st.integers(0, 1),
    st.floats(0.0, 1.0),
)
def test_roth_erev_propensity_update(
    propensity: list[float], payoff: list[float], current: int, forgetting: float
) -> None:
    q = np.array([[propensity]])
    pay = np.array([[payoff]])
    _, updated = rules.roth_erev(
        pay, np.array([[current]], np.int8), np.random.default_rng(0), q, forgetting
    )
    expected = (1 - forgetting) * np.array(propensity)
    expected[current] += payoff[current] - min(payoff)
    np.testing.assert_allclose(updated[0, 0], np.maximum(expected, 1e-12), rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_roth_erev_chooses_in_proportion_to_propensity() -> None:
    rng = np.random.default_rng(17)
    q = np.tile([1.0, 3.0], (1, M, 1))
    pay = np.zeros((1, M, 2))
    actions, updated = rules.roth_erev(pay, np.zeros((1, M), np.int8), rng, q, 0.0)
    np.testing.assert_allclose(updated, q)
    assert_frequency(int(actions.sum()), M, 0.75, "action 1 at propensity 3 vs 1")


@given(rule_names(), st.integers(0, 2**32 - 1))
def test_fixed_keeps_actions_and_others_return_valid_actions(rule: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    payoffs = rng.normal(size=(3, 5, 2))
    current = rng.integers(0, 2, size=(3, 5)).astype(np.int8)
    actions, _ = _decide(rule, payoffs, current, rng)
    assert actions.shape == current.shape and actions.dtype == np.int8
    assert ((actions == 0) | (actions == 1)).all()
    if rule == "fixed":
        np.testing.assert_array_equal(actions, current)


@pytest.mark.parametrize("rule", RULES)
def test_per_run_generators_equal_each_run_alone(rule: str) -> None:
    """Batch exactness: with one generator per run, run ``r`` of a batch gets exactly what
    calling the rule on run ``r`` alone with the same generator gives."""
    runs, n, steps = 4, 3, 5
    payoff_rng = np.random.default_rng(99)
    payoffs = [payoff_rng.normal(size=(runs, n, 2)) for _ in range(steps)]
    batch_rngs = [np.random.default_rng(s) for s in range(runs)]
    current = np.zeros((runs, n), np.int8)
    memory = rules.initial_memory(rule, (runs, n, 2))
    batch = []
    for t in range(steps):
        current, memory = _decide(rule, payoffs[t], current, batch_rngs, memory=memory, count=t)
        batch.append(current)
    for r in range(runs):
        rng = np.random.default_rng(r)
        cur = np.zeros((1, n), np.int8)
        mem = rules.initial_memory(rule, (1, n, 2))
        for t in range(steps):
            cur, mem = _decide(rule, payoffs[t][r : r + 1], cur, [rng], memory=mem, count=t)
            np.testing.assert_array_equal(cur[0], batch[t][r])
        assert rng.bit_generator.state == batch_rngs[r].bit_generator.state


@pytest.mark.parametrize("rule", RULES)
def test_draw_count_does_not_depend_on_payoffs(rule: str) -> None:
    states = []
    for scale in (1.0, -50.0):
        rng = np.random.default_rng(5)
        payoffs = np.random.default_rng(1).normal(size=(2, 3, 2)) * scale
        _decide(rule, payoffs, np.zeros((2, 3), np.int8), rng)
        states.append(rng.bit_generator.state)
    assert states[0] == states[1]


def test_bad_rule_name_raises() -> None:
    with pytest.raises(ValueError, match=r"rule='gready'.*best_response"):
        _decide("gready", np.zeros((1, 1, 2)), np.zeros((1, 1), np.int8), np.random.default_rng(0))


def test_wrong_number_of_generators_raises() -> None:
    with pytest.raises(ValueError, match="rng: 1 generators for 2 runs"):
        rules.uniform([np.random.default_rng(0)], (2, 3))
