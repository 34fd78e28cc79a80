"""A contract every agent kind meets (after Axelrod's ``TestPlayer``): a base class of
inherited checks, one subclass per agent kind saying what its attributes must be."""

from __future__ import annotations

import copy
import pickle
from typing import Any, ClassVar

import mesa
import numpy as np
import pytest

from sim import EnterpriseAgent, FirmAgent, GovernmentAgent, TechCompetitionModel, load_scenario
from sim.core import segment_sizes
from sim.params import TASTE_KINDS

PARAMS = load_scenario("seed").replace(n_enterprises=400, firm_revision_rate=0.5)
STEPS = 12


def _build(seed: int = 5, steps: int = STEPS) -> TechCompetitionModel:
    model = TechCompetitionModel(params=PARAMS, rng=seed)
    model.run(steps)
    return model


@pytest.fixture(scope="module")
def model() -> TechCompetitionModel:
    """A model after a few steps, shared by the read-only checks."""
    return _build()


class AgentContract:
    """Inherited checks; a subclass sets ``kind`` and ``attributes`` (name -> check)."""

    kind: ClassVar[type[mesa.Agent]]
    attributes: ClassVar[tuple[str, ...]]

    def expected_count(self, model: TechCompetitionModel) -> int:
        raise NotImplementedError

    def check_attributes(self, model: TechCompetitionModel, agent: Any) -> None:
        raise NotImplementedError

    def agents(self, model: TechCompetitionModel) -> list[Any]:
        return sorted(model.agents_by_type[self.kind], key=lambda a: a.unique_id)

    def snapshot(self, model: TechCompetitionModel) -> list[tuple]:
        return [
            (a.unique_id, *(getattr(a, name) for name in self.attributes))
            for a in self.agents(model)
        ]

    def test_registered_in_model(self, model: TechCompetitionModel) -> None:
        agents = self.agents(model)
        assert len(agents) == self.expected_count(model)
        registered = set(model.agents)
        assert all(a in registered and a.model is model for a in agents)
        assert all(isinstance(a, mesa.Agent) for a in agents)

    def test_unique_ids_unique(self, model: TechCompetitionModel) -> None:
        ids = [a.unique_id for a in model.agents]
        assert len(ids) == len(set(ids))

    def test_attributes_have_documented_types_and_values(self, model: TechCompetitionModel) -> None:
        for agent in self.agents(model):
            self.check_attributes(model, agent)

    def test_reading_attributes_does_not_change_state(self, model: TechCompetitionModel) -> None:
        rng_state = copy.deepcopy(model.rng.bit_generator.state)
        state = model.state
        first = self.snapshot(model)
        second = self.snapshot(model)
        assert first == second
        assert model.state is state and model.rng.bit_generator.state == rng_state

    def test_pickled_state_and_params_round_trip(self, model: TechCompetitionModel) -> None:
        """What is shipped between processes (parameters, the state arrays the agents view)
        survives pickling exactly. The model object itself is not picklable: Mesa 3.3.1's
        DataCollector keeps local closures; deepcopy is checked below instead."""
        params, state = pickle.loads(pickle.dumps((model.params, model.state)))
        assert params == model.params
        for name in (
            "frontier",
            "quality",
            "strategy",
            "home_policy",
            "rival_policy",
            "controls",
            "price",
            "compute",
            "choice",
            "counts",
            "spend",
        ):
            np.testing.assert_array_equal(getattr(state, name), getattr(model.state, name))
        population, original = state.population, model.state.population
        np.testing.assert_array_equal(population.size, original.size)
        np.testing.assert_array_equal(population.taste, original.taste)
        assert population.graph == original.graph

    def test_deepcopy_preserves_values_and_continues_identically(self) -> None:
        original = _build(seed=9, steps=4)
        clone = copy.deepcopy(original)
        assert self.snapshot(clone) == self.snapshot(original)
        original.run(5)
        clone.run(5)
        assert self.snapshot(clone) == self.snapshot(original)

    def test_reproducible_under_same_seed(self) -> None:
        assert self.snapshot(_build(seed=21)) == self.snapshot(_build(seed=21))

    def test_views_follow_the_state(self) -> None:
        """Agents hold no state of their own: after a step they show the new state."""
        model = _build(seed=3, steps=0)
        for _ in range(6):
            model.step()
            for agent in self.agents(model):
                self.check_attributes(model, agent)


def _licence_income(model: TechCompetitionModel, j: int) -> float:
    """What provider ``j`` earns from its licensees: ``sum_l r_l p_l V s_l`` over paying users
    (a blocked licensee's circumventing users pay intermediaries)."""
    params = model.core.params
    income = 0.0
    for k, p in enumerate(params.providers):
        if p.licensor == params.providers[j].name:
            accessible = not (
                p.foreign and (model.state.strategy[0, k] == 1 or model.state.rival_policy[0] == 1)
            )
            share = model.observation.provider["spend_share"][0, k] if accessible else 0.0
            income += p.revenue_share * model.state.price[0, k] * params.market_value * share
    return income


class TestFirmAgent(AgentContract):
    kind = FirmAgent
    attributes = (
        "index",
        "name",
        "channel",
        "origin",
        "strategy",
        "revenue",
        "payoff",
        "quality",
        "share",
        "spend_share",
        "price",
    )

    def expected_count(self, model: TechCompetitionModel) -> int:
        return model.params.n_providers

    def check_attributes(self, model: TechCompetitionModel, agent: Any) -> None:
        j = agent.index
        spec = model.params.providers[j]
        assert model.firms[j] is agent
        assert (agent.name, agent.channel) == (spec.name, spec.channel)
        assert agent.origin == ("home" if spec.channel != "domestic" else "rival")
        assert agent.strategy in ("allow", "restrict")
        assert agent.strategy == ("allow", "restrict")[model.state.strategy[0, j]]
        for name in ("revenue", "payoff", "quality", "share", "spend_share", "price"):
            value = getattr(agent, name)
            assert type(value) is float and np.isfinite(value), name
        assert 0.0 <= agent.share <= 1.0 and 0.0 <= agent.spend_share <= 1.0
        assert agent.revenue >= 0.0
        assert 0.0 <= agent.quality <= 1.0
        assert 0.0 <= agent.price <= 10.0 and agent.price == model.state.price[0, j]
        users = model.state.choice[0] == j
        assert agent.share == model.state.counts[0, :, j].sum() / model.params.n_enterprises
        assert agent.share == users.mean()
        size = model.state.population.size[0]
        np.testing.assert_allclose(agent.spend_share, size[users].sum() / size.sum(), rtol=1e-9)
        if agent.strategy == "restrict":  # it earns nothing itself, only licence income
            income = _licence_income(model, j)
            np.testing.assert_allclose(agent.revenue, income, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(agent.payoff, income, rtol=1e-12, atol=1e-12)


class TestGovernmentAgent(AgentContract):
    kind = GovernmentAgent
    attributes = ("region", "policy")

    def expected_count(self, model: TechCompetitionModel) -> int:
        return 2

    def check_attributes(self, model: TechCompetitionModel, agent: Any) -> None:
        assert agent.region in ("home", "rival")
        policy = model.state.home_policy if agent.region == "home" else model.state.rival_policy
        assert agent.policy == ("allow", "restrict")[policy[0]]
        owner = model.home_government if agent.region == "home" else model.rival_government
        assert owner is agent


class TestEnterpriseAgent(AgentContract):
    kind = EnterpriseAgent
    attributes = ("index", "provider_index", "segment", "size", "taste", "neighbors")

    def expected_count(self, model: TechCompetitionModel) -> int:
        return model.params.n_enterprises

    def snapshot(self, model: TechCompetitionModel) -> list[tuple]:
        """Neighbours by index, so that snapshots of two models (a deep copy) compare."""
        return [
            (
                a.unique_id,
                a.index,
                a.provider_index,
                a.segment,
                a.size,
                a.taste,
                tuple(n.index for n in a.neighbors),
            )
            for a in self.agents(model)
        ]

    def check_attributes(self, model: TechCompetitionModel, agent: Any) -> None:
        i = agent.index
        assert model.enterprises[i] is agent
        option = int(model.state.choice[0, i])
        if option == model.params.n_providers:
            assert agent.provider_index is None and agent.provider is None
        else:
            assert type(agent.provider_index) is int and agent.provider_index == option
            assert isinstance(agent.provider, FirmAgent) and agent.provider.index == option
        segments = {s.name: s for s in model.params.segments}
        assert type(agent.segment) is str and agent.segment in segments
        assert agent.segment == model.core.segment_names[model.core.segment_of[i]]
        segment = segments[agent.segment]
        assert type(agent.size) is float and agent.size > 0.0
        if segment.size_sigma == 0:
            assert agent.size == segment.size_mean
        assert agent.size == model.state.population.size[0, i]
        taste = agent.taste
        assert list(taste) == list(TASTE_KINDS)
        assert all(type(v) is float and np.isfinite(v) for v in taste.values())
        if segment.taste_sd == 0:
            assert all(v == 0.0 for v in taste.values())
        neighbors = agent.neighbors
        assert all(isinstance(n, EnterpriseAgent) for n in neighbors)
        indices = [n.index for n in neighbors]
        assert i not in indices and len(set(indices)) == len(indices)
        graph = model.state.population.graph
        row = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
        assert indices == row.tolist()

    def test_segments_are_contiguous_blocks_of_the_declared_sizes(
        self, model: TechCompetitionModel
    ) -> None:
        names = [a.segment for a in self.agents(model)]
        declared = [s.name for s in model.params.segments]
        sizes = segment_sizes(np.array([s.share for s in model.params.segments]), len(names))
        assert names == [n for n, k in zip(declared, sizes, strict=True) for _ in range(k)]

    def test_neighbors_symmetric_and_match_model_network(self, model: TechCompetitionModel) -> None:
        graph = model.network
        assert graph.number_of_nodes() == model.params.n_enterprises
        by_index = {a.index: {n.index for n in a.neighbors} for a in self.agents(model)}
        for i, mine in by_index.items():
            assert mine == set(graph.neighbors(i)), i
            assert all(i in by_index[k] for k in mine), f"{i}: ties not symmetric"
        degrees = [len(v) for v in by_index.values()]
        assert np.mean(degrees) == pytest.approx(2 * graph.number_of_edges() / len(degrees))

    def test_no_network_means_no_neighbors(self) -> None:
        model = TechCompetitionModel(params=load_scenario("classic").replace(n_enterprises=50))
        assert model.network is None
        assert all(a.neighbors == [] for a in model.enterprises)
        assert {a.segment for a in model.enterprises} == {"all"}
        assert all(a.size == 1.0 for a in model.enterprises)
        assert all(set(a.taste.values()) == {0.0} for a in model.enterprises)

    def test_sizes_and_tastes_follow_their_segment_laws(self) -> None:
        """Spend is lognormal with the segment's mean: ``log(size / mean) + sigma^2 / 2`` has
        mean 0 and sd ``sigma``; tastes are normal with sd ``taste_sd``. Means within 4 SE,
        over 4,000 enterprises (about 400 per segment at least)."""
        model = TechCompetitionModel(params=PARAMS.replace(n_enterprises=4_000), rng=11)
        for seg in model.params.segments:
            members = [a for a in model.enterprises if a.segment == seg.name]
            size = np.array([a.size for a in members])
            z = np.log(size / seg.size_mean) + seg.size_sigma**2 / 2
            assert abs(z.mean()) <= 4 * seg.size_sigma / np.sqrt(len(z)), seg.name
            assert abs(z.std() - seg.size_sigma) <= 4 * seg.size_sigma / np.sqrt(2 * len(z))
            taste = np.array([list(a.taste.values()) for a in members])
            assert (np.abs(taste.mean(0)) <= 4 * seg.taste_sd / np.sqrt(len(z))).all(), seg.name


def test_segment_frame_agrees_with_the_agents(model: TechCompetitionModel) -> None:
    """``model.segment_frame()``'s last rows, recomputed from the enterprise agents' views:
    the share of each segment's members on each kind of option, and their spend share on
    foreign providers."""
    frame = model.segment_frame()
    last = frame[frame["step"] == model.state.t]
    assert list(last["name"]) == [s.name for s in model.params.segments]
    for _, row in last.iterrows():
        members = [a for a in model.enterprises if a.segment == row["name"]]
        channel = [a.provider.channel if a.provider else None for a in members]
        foreign = [c in ("direct", "partner") for c in channel]
        assert row["foreign_share"] == pytest.approx(np.mean(foreign), abs=1e-12)
        assert row["domestic_share"] == pytest.approx(
            np.mean([c == "domestic" for c in channel]), abs=1e-12
        )
        assert row["no_provider_share"] == pytest.approx(
            np.mean([c is None for c in channel]), abs=1e-12
        )
        size = np.array([a.size for a in members])
        assert row["foreign_spend_share"] == pytest.approx(
            size[np.array(foreign)].sum() / size.sum(), rel=1e-9
        )
