"""The naive per-agent Mesa model of the second version (benchmarks/naive_v2.py) behaves like
the vectorized engine on the ``seed`` scenario (segments, tastes, spend sizes, a network).

The two draw their random numbers in different orders after step 0, so they agree in
distribution only. Both are run over ``SEEDS`` independent seeds (the engine as one batch of
runs, each with its own generator). Per run the statistics are: the share of each segment's
enterprises on each option after ``STEPS`` steps (5 segments x 7 options), and the local
agreement (share of an enterprise's neighbours on its own option, the statistic peer effects
move most) at ``STEPS`` and averaged over steps 1..``STEPS``. Two samples' means must differ by
at most ``Z`` standard errors of the difference, ``sqrt(var_a / S + var_b / S)`` (Welch); a
statistic constant in both samples (a segment barred from a provider) must take the same
constant. With 37 statistics and about 58 degrees of freedom, ``Z = 4`` gives a false alarm
with probability about 37 x 1.8e-4 = 0.7 %; the seeds are fixed, so the outcome is
reproducible. Removing one decision ingredient from the naive model (tastes, peer effects,
segments) must make the same check fail. Measured at these sizes: without tastes the largest
gap is 20 standard errors, without peers 30 (local agreement), without segments 29 (and a
provider barred to a segment gets users), while with every ingredient the largest gap of the
37 is 2.4 (seed rates) and 2.9 (everyone revising).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from benchmarks.bench_seed import scenario
from benchmarks.naive_v2 import NaiveEnterprise, NaiveV2Model
from sim import engine
from sim.core import Plan
from sim.model import TechCompetitionModel
from sim.params import Params

pytestmark = pytest.mark.slow

SEEDS = 30
STEPS = 20
N = 1_000
Z = 4.0


def params(revision_rate: float | None = None) -> Params:
    return scenario("seed", N, revision_rate)


def statistics(counts: np.ndarray, agreement: np.ndarray) -> dict[str, np.ndarray]:
    """counts ``(R, S, K)`` at the last step, agreement ``(STEPS, R)`` -> statistics ``(R,)``."""
    shares = counts / np.maximum(counts.sum(-1, keepdims=True), 1)
    out = {
        f"segment {s} option {k} share": shares[:, s, k]
        for s in range(shares.shape[1])
        for k in range(shares.shape[2])
    }
    out["local agreement, mean over steps"] = agreement.mean(axis=0)
    out["local agreement, last step"] = agreement[-1]
    return out


@cache
def engine_statistics(revision_rate: float | None = None) -> dict[str, np.ndarray]:
    plan = Plan.from_params(params(revision_rate))
    rngs = [np.random.default_rng(10_000 + seed) for seed in range(SEEDS)]
    state = engine.initial_state(plan, rngs, runs=SEEDS)
    agreement = []
    for _ in range(STEPS):
        state = engine.advance(plan, state, rngs)
        agreement.append(engine.local_agreement(state))
    return statistics(state.counts, np.array(agreement))


@cache
def naive_statistics(
    revision_rate: float | None = None,
    tastes: bool = True,
    peers: bool = True,
    segments: bool = True,
) -> dict[str, np.ndarray]:
    counts, agreement = [], []
    for seed in range(SEEDS):
        model = NaiveV2Model(
            params(revision_rate), rng=seed, tastes=tastes, peers=peers, segments=segments
        )
        frame = model.run(STEPS)
        counts.append(model.counts)
        agreement.append(frame["local_agreement"].to_numpy()[1:])
    return statistics(np.array(counts), np.array(agreement).T)


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
            bad.append(f"{key}: {x.mean():.4f} vs {y.mean():.4f} (z = {gap / se:.1f})")
    return bad


@pytest.mark.parametrize("revision_rate", [None, 1.0], ids=["seed rates", "everyone revises"])
def test_same_aggregate_behaviour(revision_rate: float | None) -> None:
    bad = disagreements(naive_statistics(revision_rate), engine_statistics(revision_rate))
    assert not bad, "naive and vectorized model disagree: " + "; ".join(bad)


@pytest.mark.parametrize("missing", ["tastes", "peers", "segments"])
def test_detects_a_missing_ingredient(missing: str) -> None:
    """Without one ingredient of the decision, the naive model must fail the same check."""
    naive = naive_statistics(None, **{missing: False})
    bad = disagreements(naive, engine_statistics(None))
    assert bad, f"the check did not notice the naive model without {missing}"


def test_step_zero_is_the_models() -> None:
    """Step 0 draws the population through the engine and then one adoption uniform per agent,
    in the engine's order, so each agent's own logit probabilities (segment values plus its
    tastes) give exactly the model's initial choices."""
    p = params()
    model = TechCompetitionModel(params=p, rng=5)
    naive = NaiveV2Model(p, rng=5)
    options = [agent.option for agent in naive.enterprises]
    assert options == model.state.choice[0].tolist()
    assert np.array_equal(naive.counts, model.state.counts[0])


def test_agents_hold_their_own_data() -> None:
    """Each enterprise is a Mesa agent holding its segment, size, tastes, neighbours and
    option; neighbours are the engine's network, in both directions."""
    p = params()
    naive = NaiveV2Model(p, rng=2)
    naive.run(3)
    model = TechCompetitionModel(params=p, rng=2)
    population = model.state.population
    graph = population.graph
    agents = list(naive.agents_by_type[NaiveEnterprise])
    assert agents == naive.enterprises and len(agents) == N
    position = {agent: i for i, agent in enumerate(agents)}
    for i, agent in enumerate(agents):
        assert agent.segment == int(model.core.segment_of[i])
        assert agent.size == pytest.approx(float(population.size[0, i]), rel=1e-15)
        assert agent.taste == pytest.approx(population.taste[i].tolist(), rel=1e-15)
        neighbours = [position[other] for other in agent.neighbours]
        assert neighbours == graph.indices[graph.indptr[i] : graph.indptr[i + 1]].tolist()
        assert all(agent in other.neighbours for other in agent.neighbours)
    counts = np.zeros_like(naive.counts)
    for agent in agents:
        counts[agent.segment, agent.option] += 1
    assert np.array_equal(counts, naive.counts)
