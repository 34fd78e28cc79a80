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
        for name in ("frontier", "quality", "strategy", "home_policy", "rival_policy", "choice"):
            np.testing.assert_array_equal(getattr(state, name), getattr(model.state, name))

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
        for name in ("revenue", "payoff", "quality", "share"):
            value = getattr(agent, name)
            assert type(value) is float and np.isfinite(value), name
        assert 0.0 <= agent.share <= 1.0 and agent.revenue >= 0.0
        assert 0.0 <= agent.quality <= 1.0
        assert agent.share == model.state.counts[0, j] / model.params.n_enterprises
        if agent.strategy == "restrict":
            assert agent.payoff == 0.0 and agent.revenue == 0.0


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
    attributes = ("index", "provider_index")

    def expected_count(self, model: TechCompetitionModel) -> int:
        return model.params.n_enterprises

    def check_attributes(self, model: TechCompetitionModel, agent: Any) -> None:
        option = int(model.state.choice[0, agent.index])
        if option == model.params.n_providers:
            assert agent.provider_index is None and agent.provider is None
        else:
            assert type(agent.provider_index) is int and agent.provider_index == option
            assert isinstance(agent.provider, FirmAgent) and agent.provider.index == option
