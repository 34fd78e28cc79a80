"""The naive per-agent Mesa model (benchmarks/naive_mesa.py) behaves like the vectorized model.

The naive model is the first version's market written agent by agent, so the comparison is
made on the ``classic`` scenario and the first version's ``mandate`` and ``protectionist``
scenarios written as overrides of it (as in ``tests/test_golden.py``).

The two draw their random numbers in different orders, so they agree in distribution only.
For each scenario both are run over ``SEEDS`` independent seeds; per run we take the mean of
each reported column over steps ``1..STEPS`` and its value at ``STEPS``. The two samples' means
must differ by at most ``Z`` standard errors of the difference,
``sqrt(var_naive / S + var_model / S)`` (Welch). With 48 such comparisons, ``Z = 4``
keeps the chance of a false alarm under 0.7 % (two-sided t tail with about 78 degrees of
freedom, 1.4e-4 each), and the seeds are fixed, so the outcome is reproducible. A column that
is constant in both samples must take the same constant. ``test_detects_a_different_law``
checks that this tolerance is tight enough to catch a real difference in the law of motion.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from benchmarks.naive_mesa import NaiveEnterprise, NaiveModel
from sim import engine, payoffs
from sim.batch import run_batch
from sim.model import TechCompetitionModel
from sim.params import Params, load_scenario
from tests.test_golden import V1_SCENARIOS

SEEDS = 40
STEPS = 30
N = 300
Z = 4.0
COLUMNS = (
    "frac_foreign_allowing",
    "home_restricts",
    "rival_restricts",
    "foreign_share",
    "domestic_share",
    "capability_gap",
    "foreign_revenue",
    "enterprise_welfare",
)


def scenario(name: str) -> Params:
    """The first version's scenario ``name`` on the classic market, ``N`` enterprises."""
    params = load_scenario("classic").replace(n_enterprises=N, **V1_SCENARIOS[name])
    if name == "protectionist":  # the rival blocks: forced moves and circumvention both occur
        params = params.replace(circumvention=True)
    return params


def summaries(frames: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Per run: each column's mean over steps 1..STEPS and its final value, ``(S,)`` each."""
    stacked = np.stack(frames)  # (S, STEPS + 1, C)
    out = {}
    for i, column in enumerate(COLUMNS):
        out[f"{column} mean"] = stacked[:, 1:, i].mean(axis=1)
        out[f"{column} final"] = stacked[:, -1, i]
    return out


@cache
def naive_summaries(name: str) -> dict[str, np.ndarray]:
    params = scenario(name)
    frames = [
        NaiveModel(params, rng=seed).run(STEPS)[list(COLUMNS)].to_numpy() for seed in range(SEEDS)
    ]
    return summaries(frames)


def model_summaries(params: Params) -> dict[str, np.ndarray]:
    frame = run_batch(params, list(range(10_000, 10_000 + SEEDS)), STEPS).model
    frames = [frame[frame["run"] == r][list(COLUMNS)].to_numpy() for r in range(SEEDS)]
    return summaries(frames)


def disagreements(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> list[str]:
    """Statistics whose means differ by more than ``Z`` standard errors."""
    bad = []
    for key in a:
        x, y = a[key], b[key]
        gap = abs(x.mean() - y.mean())
        se = np.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
        if se == 0:
            if gap != 0:
                bad.append(f"{key}: constant {x.mean():.6g} vs {y.mean():.6g}")
        elif gap > Z * se:
            bad.append(f"{key}: {x.mean():.5f} vs {y.mean():.5f} (z = {gap / se:.1f})")
    return bad


@pytest.mark.parametrize("name", ["seed", "mandate", "protectionist"])
def test_same_aggregate_behaviour(name: str) -> None:
    bad = disagreements(naive_summaries(name), model_summaries(scenario(name)))
    assert not bad, f"{name}: naive and vectorized model disagree: " + "; ".join(bad)


def test_detects_a_different_law() -> None:
    """Against a model whose switching costs lack the domestic migration discount (a plausible
    slip in the formula) the same check must fail, so the tolerance cannot hide a wrong law."""
    wrong = scenario("seed").replace(domestic_migration_discount=0.0)
    bad = disagreements(naive_summaries("seed"), model_summaries(wrong))
    assert any(key.startswith(("foreign_share", "domestic_share")) for key in bad), bad


def test_initial_state_matches_model_in_law() -> None:
    """Step 0: the naive model's adoption counts follow the same long-run logit shares; each
    count is within Z binomial standard errors of ``N * s_j`` pooled over the seeds."""
    params = scenario("seed")
    model = TechCompetitionModel(params=params, rng=0)
    core = model.core
    accessible = engine.reachability(core, model.state.strategy, model.state.rival_policy)[0]
    shares = payoffs.logit_shares(
        engine.values_of(core, model.state),
        payoffs.segment_available(core, accessible),
        core.mu,
    )[0, 0]
    counts = sum(NaiveModel(params, rng=seed).counts for seed in range(SEEDS))
    total = SEEDS * N
    se = np.sqrt(total * shares * (1 - shares))
    assert np.all(np.abs(counts - total * shares) <= Z * se), (counts, total * shares)


def test_enterprises_are_mesa_agents_holding_their_option() -> None:
    params = scenario("seed")
    naive = NaiveModel(params, rng=3)
    naive.run(2)
    options = [agent.option for agent in naive.agents_by_type[NaiveEnterprise]]
    assert len(options) == N
    assert np.array_equal(np.bincount(options, minlength=params.n_providers + 1), naive.counts)


def test_rejects_population_rules() -> None:
    with pytest.raises(ValueError, match="firm_rule='fermi'"):
        NaiveModel(scenario("seed").replace(firm_rule="fermi"), rng=0)


@pytest.mark.parametrize("name", ["seed", "open-weights", "chip-controls"])
def test_rejects_the_second_versions_mechanisms(name: str) -> None:
    with pytest.raises(ValueError, match="naive model"):
        NaiveModel(load_scenario(name).replace(n_enterprises=10), rng=0)
