"""A naive per-agent Mesa implementation of the model: the yardstick for the vectorized core.

This is how the model would look written the usual Mesa way, for the first version's market
(the ``classic`` scenario and its variants: one segment of identical enterprises, no network,
foreign and domestic API providers; :data:`UNSUPPORTED` lists the mechanisms it refuses).
Every enterprise is a Mesa agent that steps in Python: it draws its own "do I reconsider?"
uniform, and when it reconsiders it computes its own row of logit transition probabilities
with :func:`sim.payoffs.transition_utilities` and :func:`sim.payoffs.transition_probabilities`
(called with its current option's row of switching costs, ``(S, 1, K)``, so the result is
``P[c, :]`` for that one enterprise) and samples its new option by walking the cumulative sum
in Python. Every foreign provider and both governments are Mesa agents that draw their own
revision uniform and apply their rule with :func:`sim.rules.decide` on their own payoff pair
``(1, 1, 2)`` and memory.

The formulas are the shared ones: option values, attainable shares, provider and government
payoffs come from :mod:`sim.payoffs` through :mod:`sim.engine`'s payoff functions, applied to an
:class:`sim.engine.State` the model assembles each step from its agents (parameters bound once
in a :class:`sim.core.Core`); capability growth is :func:`sim.dynamics.grow_capability`. The
step follows the engine's order (payoffs at the current state; providers, home, rival decide
simultaneously; reachability follows the new decisions; enterprises choose; capability grows),
so the naive model has the same law as
:class:`sim.model.TechCompetitionModel`. Its random draws come in a different order (one
scalar at a time, agent by agent), so the two agree in distribution, not value for value:
``tests/test_naive_reference.py`` checks the agreement over many seeds.

Provider imitation (``fermi``) compares providers with one another, so it is not a per-agent
decision; the naive model accepts the other rules only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim import dynamics, engine, payoffs, rules
from sim.core import Core, Plan
from sim.params import Params, load_scenario

PER_AGENT_RULES = tuple(r for r in rules.RULES if r != "fermi")
UNSUPPORTED = (
    "need",
    "security",
    "hosting",
    "licence",
    "offer",
    "tastes",
    "sizes",
    "network",
    "diffusion",
    "compute",
    "open_models",
    "prices",
    "controls_decided",
    "releases",
)
"""Mechanisms of the second version (:class:`sim.core.Flags`) the naive model does not have."""


def check_supported(params: Params) -> None:
    """Refuse parameters with segments, events or any mechanism in :data:`UNSUPPORTED`."""
    if params.segments or params.events:
        raise ValueError("the naive model has one segment of identical enterprises and no events")
    flags = Core.from_params(params).flags
    on = [name for name in UNSUPPORTED if getattr(flags, name)]
    if on or not flags.all_served:
        raise ValueError(
            f"the naive model implements the first version's market only; on: {on or 'exclusions'}"
        )


@dataclass(frozen=True)
class Market:
    """What a reconsidering enterprise sees this step (after this step's decisions).

    values ``(1, 1, K)``, accessible and circumventable ``(1, J)``, forced ``(K,)`` (options whose
    users must move because the provider became unreachable, even by circumvention).
    """

    values: NDArray[np.float64]
    accessible: NDArray[np.bool_]
    circumventable: NDArray[np.bool_]
    forced: list[bool]


class NaiveEnterprise(mesa.Agent):
    """A rival-region enterprise holding its current option (``J`` = no provider)."""

    model: NaiveModel

    def __init__(self, model: NaiveModel, option: int) -> None:
        super().__init__(model)
        self.option = option

    def step(self) -> None:
        """Reconsider with the revision probability (always when forced to move)."""
        model = self.model
        market = model.market
        if not (model.rng.random() < model.params.revision_rate or market.forced[self.option]):
            return
        utilities = payoffs.transition_utilities(
            model.core,
            market.values,
            market.accessible,
            market.circumventable,
            model.core.switching[:, self.option : self.option + 1, :],
        )
        row = payoffs.transition_probabilities(utilities)[0, 0, 0]
        self.option = _inverse_cdf(row.tolist(), model.rng.random())


def _inverse_cdf(probabilities: list[float], u: float) -> int:
    """Index of the first option whose cumulative probability exceeds ``u`` (the last option
    takes any remainder from rounding), the convention of :mod:`sim.dynamics`."""
    cumulative = 0.0
    last = len(probabilities) - 1
    for index in range(last):
        cumulative += probabilities[index]
        if u < cumulative:
            return index
    return last


class NaiveDecider(mesa.Agent):
    """A foreign provider or a government: one ALLOW/RESTRICT decision per step.

    ``fixed`` is ``-1`` (free) or the action it always keeps; ``memory`` ``(1, 1, 2)`` is its
    learning rule's memory.
    """

    model: NaiveModel

    def __init__(
        self,
        model: NaiveModel,
        *,
        rule: str,
        action: int,
        revision_rate: float,
        rationality: float,
        fixed: int = -1,
    ) -> None:
        super().__init__(model)
        self.rule = rule
        self.action = action
        self.revision_rate = revision_rate
        self.rationality = rationality
        self.fixed = fixed
        self.memory = rules.initial_memory(rule, (1, 1, 2))

    def decide(self, payoff_pair: NDArray[np.float64], t: int) -> int:
        """The action for the next step given this step's ALLOW/RESTRICT payoffs ``(2,)``."""
        params = self.model.params
        revise = self.model.rng.random() < self.revision_rate
        chosen, self.memory = rules.decide(
            self.rule,
            payoff_pair[None, None, :],
            np.array([[self.action]], dtype=np.int8),
            self.memory,
            t,
            self.model.rng,
            rationality=self.rationality,
            intensity=params.imitation_intensity,
            forgetting=params.roth_erev_forgetting,
        )
        if self.fixed >= 0:
            return self.fixed
        return int(chosen[0, 0]) if revise else self.action


class NaiveModel(mesa.Model):
    """The model written agent by agent; ``run(steps)`` returns the same columns as
    :meth:`sim.model.TechCompetitionModel.run`."""

    def __init__(
        self,
        params: Params | None = None,
        rng: int | np.random.Generator | None = None,
        **overrides: Any,
    ) -> None:
        super().__init__(rng=rng)
        base = params if params is not None else load_scenario("classic")
        self.params = base.replace(**overrides) if overrides else base
        check_supported(self.params)
        for field_name in ("firm_rule", "home_rule", "rival_rule"):
            rule = getattr(self.params, field_name)
            if rule not in PER_AGENT_RULES:
                allowed = ", ".join(PER_AGENT_RULES)
                raise ValueError(
                    f"{field_name}={rule!r}: the naive model takes per-agent rules only: {allowed}"
                )
        self.core = Plan.from_params(self.params).first
        self.t = 0
        self.frontier = 1.0
        self.quality = [float(pr.quality) for pr in self.params.providers]
        self.price = np.array([[pr.price for pr in self.params.providers]])
        self._build_agents()
        self.market = self._market()
        self.observation = engine.observe(self.core, self._state(self.counts))
        self.datacollector = mesa.DataCollector(
            model_reporters={c: _reporter(c) for c in engine.MODEL_COLUMNS}
        )
        self.datacollector.collect(self)

    def _build_agents(self) -> None:
        p = self.params
        code = {"allow": payoffs.ALLOW, "restrict": payoffs.RESTRICT}
        self.strategy = [
            int(fixed) if fixed >= 0 else code[pr.initial_strategy]
            for pr, fixed in zip(p.providers, self.core.fixed, strict=True)
        ]
        self.providers = {
            int(j): NaiveDecider(
                self,
                rule=p.firm_rule,
                action=self.strategy[j],
                revision_rate=p.firm_revision_rate,
                rationality=p.firm_rationality,
                fixed=int(self.core.fixed[j]),
            )
            for j in self.core.foreign_index
        }
        self.home = NaiveDecider(
            self,
            rule=p.home_rule,
            action=code[p.home_policy],
            revision_rate=p.gov_revision_rate,
            rationality=p.home_rationality,
        )
        self.rival = NaiveDecider(
            self,
            rule=p.rival_rule,
            action=code[p.rival_policy],
            revision_rate=p.gov_revision_rate,
            rationality=p.rival_rationality,
        )
        # step-0 adoption from the long-run logit shares, one enterprise at a time
        state = self._state(counts=np.zeros(p.n_providers + 1, np.int64))
        values = engine.values_of(self.core, state)
        accessible, _ = engine.reachability(self.core, state.strategy, state.rival_policy)
        available = payoffs.segment_available(self.core, accessible)
        shares = payoffs.logit_shares(values, available, self.core.mu)[0, 0].tolist()
        for _ in range(p.n_enterprises):
            NaiveEnterprise(self, _inverse_cdf(shares, self.rng.random()))
        self.enterprises = self.agents_by_type[NaiveEnterprise]
        self.counts = self._count()

    def _count(self) -> NDArray[np.int64]:
        counts = [0] * (self.params.n_providers + 1)
        for enterprise in self.enterprises:
            counts[enterprise.option] += 1
        return np.array(counts, dtype=np.int64)

    def _state(self, counts: NDArray[np.int64]) -> engine.State:
        """The agents' current situation as a one-run :class:`sim.engine.State` (one segment,
        every enterprise spending 1)."""
        strategy = np.array(self.strategy, dtype=np.int8)
        for j, provider in self.providers.items():
            strategy[j] = provider.action
        empty = np.zeros((1, 0, 2))
        n = self.params.n_enterprises
        population = engine.Population(
            size=np.ones((1, n)),
            taste=None,
            graph=None,
            total_spend=np.array([float(n)]),
            personal=None,
            unit_sizes=True,
        )
        return engine.State(
            t=self.t,
            frontier=np.array([self.frontier]),
            quality=np.array([self.quality]),
            strategy=strategy[None, :],
            home_policy=np.array([self.home.action], np.int8),
            rival_policy=np.array([self.rival.action], np.int8),
            controls=np.zeros(1, np.int8),
            price=self.price,
            compute=np.zeros_like(self.price),
            choice=np.zeros((1, 0), np.int16),
            counts=counts[None, None, :],
            spend=counts[None, None, :].astype(float),
            firm_memory=empty,
            home_memory=empty,
            rival_memory=empty,
            controls_memory=empty,
            population=population,
        )

    def _market(self) -> Market:
        state = self._state(self.counts)
        values = engine.values_of(self.core, state)
        accessible, circumventable = engine.reachability(
            self.core, state.strategy, state.rival_policy
        )
        reach = payoffs.segment_available(self.core, accessible | circumventable)[0, 0]
        forced = [*(~reach).tolist(), False]
        return Market(values, accessible, circumventable, forced)

    def step(self) -> None:
        """One month, in the engine's order."""
        state = self._state(self.counts)
        values = engine.values_of(self.core, state)
        firm = engine.firm_payoffs(self.core, state, values, state.home_policy)[0]
        home = engine.home_payoffs(self.core, state, values)[0, 0]
        rival = engine.rival_payoffs(self.core, state, values)[0, 0]
        new_actions = {
            j: provider.decide(firm[j], self.t) for j, provider in self.providers.items()
        }
        new_home = self.home.decide(home, self.t)
        new_rival = self.rival.decide(rival, self.t)
        for j, provider in self.providers.items():
            provider.action = new_actions[j]
        self.home.action, self.rival.action = new_home, new_rival

        self.market = self._market()
        self.enterprises.do("step")
        self.counts = self._count()

        usage = self.counts[None, :-1] / self.params.n_enterprises
        moved = self._state(self.counts)
        accessible, _ = engine.reachability(self.core, moved.strategy, moved.rival_policy)
        revenue = payoffs.provider_revenue(self.core, np.where(accessible, usage, 0.0), self.price)
        quality, frontier, _ = dynamics.grow_capability(
            self.core,
            np.array([self.quality]),
            np.array([self.frontier]),
            moved.compute,
            usage,
            revenue,
            moved.controls,
            self.t + 1,
        )
        self.quality, self.frontier = quality[0].tolist(), float(frontier[0])
        self.t += 1
        self.observation = engine.observe(self.core, self._state(self.counts))
        self.datacollector.collect(self)

    def run(self, steps: int) -> pd.DataFrame:
        """Advance ``steps`` steps; model-level frame with ``step`` (row 0 = initial state)."""
        for _ in range(steps):
            self.step()
        frame = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        frame.insert(0, "step", np.arange(len(frame)))
        return frame


def _reporter(column: str) -> Any:
    def report(model: NaiveModel) -> float:
        return float(model.observation.model[column][0])

    report.__name__ = column
    return report
