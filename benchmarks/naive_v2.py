r"""A naive per-agent Mesa version of the second version's enterprise decision: the yardstick
for the vectorized core on the ``seed`` scenario (segments, tastes, spend sizes, a network).

Every enterprise is a :class:`NaiveEnterprise`, a Mesa agent holding its own segment, spend
size, persistent tastes (one per option kind of :data:`sim.params.TASTE_KINDS`), the list of
its neighbours (other agents) and its current option. In its own ``step`` it draws its revision
uniform and, when it reconsiders (or its option became unavailable to its segment), computes
its utilities in plain Python, one option at a time:

    U_j = U_scj + mu_s (e_i,kind(j) + beta_peer x_ij)        (j = 0 .. K - 1)

with ``U_scj`` the segment's row for its current option ``c`` (the shared formula
:func:`sim.payoffs.transition_utilities`, computed once per step for the whole market:
values, prices, circumvention and switching costs, ``-inf`` where the segment cannot go),
``e_i`` its tastes (providers only, not the outside option) and ``x_ij`` the spend-weighted
share of its neighbours on ``j``, read by walking its neighbour list. It then exponentiates
(``math.exp``) and walks the cumulative weights with a second uniform. Neighbours' options are
read as they were at the start of the step: the new option is committed in ``advance`` after
every agent has stepped (Mesa's simultaneous-activation pattern), as the engine moves every
enterprise at once. Step 0: each agent adopts from its own long-run logit probabilities
``softmax(mu_s (v_s + e_i))`` over its segment's available options.

The providers' and governments' side is the engine's: each step calls :func:`sim.engine.decide`
(events, payoffs, decisions, prices, the market) and :func:`sim.engine.settle` (revenue,
capability growth) around the agents' own choices, on an :class:`sim.engine.State` the
model keeps (its ``choice``, ``counts`` and ``spend`` rebuilt from the agents each step). The
population (spend sizes, tastes, network) is drawn by :func:`sim.engine.draw_population` and
copied into the agents. Random draws come in a different order from the engine's (one scalar
per agent, and a second only when it revises), so the two agree in distribution, not value for
value: ``tests/test_naive_v2.py`` checks that.

Each decision ingredient can be switched off (``tastes``, ``peers``, ``segments``) so that the
test can check that it would notice one missing; without ``segments`` every enterprise decides
with the largest segment's utility row and rationality (it keeps its own revision rate, and is
still reported in its own segment).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import mesa
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from sim import engine, rules
from sim.core import Core, Plan
from sim.params import TASTE_KINDS, Params, load_scenario


@dataclass(frozen=True)
class Market:
    """What a reconsidering enterprise reads this step, as Python lists: ``utility[s][c][j]``
    the segment rows ``(S, K, K)`` (``-inf``: unavailable), ``forced[s][c]`` whether users of
    ``c`` in segment ``s`` must move, ``revision[s]`` and ``mu[s]`` the segments' revision
    rates and rationalities, ``kind[j]`` the taste kind of provider ``j``, ``peer`` the peer
    effect (0 when peers are off)."""

    utility: list[list[list[float]]]
    forced: list[list[bool]]
    revision: list[float]
    mu: list[float]
    kind: list[int]
    peer: float


class NaiveEnterprise(mesa.Agent):
    """A rival-region enterprise holding its own segment, size, tastes, neighbours and option.

    ``segment`` is its segment's index (reporting); ``decides_as`` the segment whose row and
    rationality it uses (its own unless segments are switched off).
    """

    model: NaiveV2Model

    def __init__(
        self,
        model: NaiveV2Model,
        segment: int,
        decides_as: int,
        size: float,
        taste: list[float],
    ) -> None:
        super().__init__(model)
        self.segment = segment
        self.decides_as = decides_as
        self.size = size
        self.taste = taste
        self.neighbours: list[NaiveEnterprise] = []
        self.option = 0
        self.next_option = 0

    def adopt(self, values: list[float], available: list[bool], mu: float) -> None:
        """Step 0: draw an option from ``softmax(mu (v + e))`` over the available options."""
        kind = self.model.market.kind
        utility = [
            mu * (values[j] + (self.taste[kind[j]] if j < len(kind) else 0.0))
            if available[j]
            else -math.inf
            for j in range(len(values))
        ]
        self.option = self.next_option = _draw(utility, self.model.rng.random())

    def step(self) -> None:
        """Reconsider with the segment's revision probability (always when forced to move)."""
        model = self.model
        market = model.market
        seg = self.decides_as
        if not (
            model.rng.random() < market.revision[self.segment] or market.forced[seg][self.option]
        ):
            self.next_option = self.option
            return
        utility = list(market.utility[seg][self.option])
        mu = market.mu[seg]
        if model.tastes:
            taste = self.taste
            for j, kind in enumerate(market.kind):
                utility[j] += mu * taste[kind]
        if market.peer and self.neighbours:
            spend = [0.0] * len(utility)
            total = 0.0
            for other in self.neighbours:
                spend[other.option] += other.size
                total += other.size
            if total > 0:
                scale = mu * market.peer / total
                for j in range(len(utility)):
                    utility[j] += scale * spend[j]
        self.next_option = _draw(utility, model.rng.random())

    def advance(self) -> None:
        """Commit the option chosen in ``step`` (all enterprises move at once)."""
        self.option = self.next_option


def _draw(utility: list[float], u: float) -> int:
    """Index drawn with probability ``exp(U_j) / sum_k exp(U_k)`` (``-inf``: never) by walking
    the cumulative weights with the uniform ``u`` (the last option takes any remainder)."""
    top = max(utility)
    weights = [math.exp(x - top) for x in utility]
    target = u * sum(weights)
    cumulative = 0.0
    last = len(weights) - 1
    for index in range(last):
        cumulative += weights[index]
        if target < cumulative:
            return index
    return last


class NaiveV2Model(mesa.Model):
    """The second version's enterprise decision written agent by agent; ``run(steps)`` returns
    the columns of :meth:`sim.model.TechCompetitionModel.run`. ``counts`` ``(S, K)`` holds the
    enterprises on each option by segment after the last step."""

    def __init__(
        self,
        params: Params | None = None,
        rng: int | np.random.Generator | None = None,
        *,
        tastes: bool = True,
        peers: bool = True,
        segments: bool = True,
    ) -> None:
        super().__init__(rng=rng)
        self.params = params if params is not None else load_scenario("seed")
        self.plan = Plan.from_params(self.params)
        core = self.plan.first
        self.tastes = tastes and core.flags.tastes
        self.peers = peers and core.flags.peers
        self.segments = segments
        self.largest = int(np.argmax(core.segment_share))
        self.market = self._market_lists(core, np.zeros((core.n_segments, core.n_options, 0)))
        self.state = self._initial_state(core)
        self.observation = engine.observe(core, self.state)
        self.datacollector = mesa.DataCollector(
            model_reporters={c: _reporter(c) for c in engine.MODEL_COLUMNS}
        )
        self.datacollector.collect(self)

    # -- construction ---------------------------------------------------------------------

    def _initial_state(self, core: Core) -> engine.State:
        """Step 0: the engine's initial profile and population, one agent per enterprise
        adopting by its own logit probabilities."""
        p = core.params
        start = engine.initial_profile(core)
        population = engine.draw_population(core, self.rng, 1)
        sizes = population.size[0].tolist()
        if self.tastes and population.taste is not None:
            tastes = population.taste.tolist()
        else:
            tastes = [[0.0] * len(TASTE_KINDS)] * p.n_enterprises
        segment_of = core.segment_of.tolist()
        self.enterprises: list[NaiveEnterprise] = [
            NaiveEnterprise(self, s, s if self.segments else self.largest, size, taste)
            for s, size, taste in zip(segment_of, sizes, tastes, strict=True)
        ]
        graph: Any = population.graph
        if self.peers and graph is not None:
            indptr, indices = graph.indptr.tolist(), graph.indices.tolist()
            for i, agent in enumerate(self.enterprises):
                agent.neighbours = [self.enterprises[k] for k in indices[indptr[i] : indptr[i + 1]]]
        values = start.values.tolist()
        available = [[*row, True] for row in start.available.tolist()]
        mu = core.mu.tolist()
        for agent in self.enterprises:
            s = agent.decides_as
            agent.adopt(values[s], available[s], mu[s])
        self.agent_set = self.agents_by_type[NaiveEnterprise]
        choice, counts, spend = self._tally(core)
        n_foreign = len(core.foreign_index)
        return engine.State(
            t=0,
            frontier=np.ones(1),
            quality=start.quality[None].copy(),
            strategy=start.strategy[None].copy(),
            home_policy=np.full(1, start.home_policy, np.int8),
            rival_policy=np.full(1, start.rival_policy, np.int8),
            controls=np.full(1, start.controls, np.int8),
            price=start.price[None].copy(),
            compute=start.compute[None].copy(),
            choice=choice,
            counts=counts,
            spend=spend,
            firm_memory=rules.initial_memory(p.firm_rule, (1, n_foreign, 2)),
            home_memory=rules.initial_memory(p.home_rule, (1, 1, 2)),
            rival_memory=rules.initial_memory(p.rival_rule, (1, 1, 2)),
            controls_memory=rules.initial_memory(p.home_controls_rule, (1, 1, 2)),
            population=population,
        )

    def _tally(
        self, core: Core
    ) -> tuple[NDArray[np.int16], NDArray[np.int64], NDArray[np.float64]]:
        """Choices ``(1, N)``, counts and spend ``(1, S, K)`` gathered from the agents."""
        counts = [[0] * core.n_options for _ in range(core.n_segments)]
        spend = [[0.0] * core.n_options for _ in range(core.n_segments)]
        options = []
        for agent in self.enterprises:
            counts[agent.segment][agent.option] += 1
            spend[agent.segment][agent.option] += agent.size
            options.append(agent.option)
        self.counts = np.array(counts, dtype=np.int64)
        return (
            np.array([options], dtype=np.int16),
            self.counts[None],
            np.array(spend)[None],
        )

    def _market_lists(self, core: Core, utility: NDArray[np.float64]) -> Market:
        forced = [[False] * core.n_options for _ in range(core.n_segments)]
        return Market(
            utility=utility.tolist(),
            forced=forced,
            revision=core.revision_rate.tolist(),
            mu=core.mu.tolist(),
            kind=core.taste_kind.tolist(),
            peer=float(core.params.peer_effect) if self.peers else 0.0,
        )

    # -- one step -------------------------------------------------------------------------

    def step(self) -> None:
        """One month in the engine's order; the enterprises decide one by one in Python."""
        decided = engine.decide(self.plan, self.state, self.rng)
        core = decided.core
        self.market = replace(
            self._market_lists(core, decided.utilities[0]),
            forced=decided.forced[0].tolist(),
        )
        self.agent_set.do("step")
        self.agent_set.do("advance")
        choice, counts, spend = self._tally(core)
        self.state = engine.settle(decided, choice, counts, spend)
        self.observation = engine.observe(core, self.state)
        self.datacollector.collect(self)

    def run(self, steps: int) -> pd.DataFrame:
        """Advance ``steps`` steps; model-level frame with ``step`` (row 0 = initial state)."""
        for _ in range(steps):
            self.step()
        frame = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        frame.insert(0, "step", np.arange(len(frame)))
        return frame


def _reporter(column: str) -> Any:
    def report(model: NaiveV2Model) -> float:
        return float(model.observation.model[column][0])

    report.__name__ = column
    return report
