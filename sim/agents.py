"""Thin Mesa agents: handles onto the model's state arrays.

No agent holds state of its own or computes anything: each property reads the model's current
arrays (run 0 of the engine's run axis), so a step costs no per-agent Python work and Mesa's
``AgentSet`` tools (``select``, ``groupby``, ``agg``) see up-to-date values.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import mesa

from sim.engine import POLICY_NAMES
from sim.params import TASTE_KINDS

if TYPE_CHECKING:
    from sim.model import TechCompetitionModel


class FirmAgent(mesa.Agent):
    """A model provider: foreign (``direct``/``partner``) or domestic to the rival region."""

    model: TechCompetitionModel

    def __init__(self, model: TechCompetitionModel, index: int) -> None:
        super().__init__(model)
        self.index = index
        self.spec = model.params.providers[index]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def channel(self) -> str:
        return self.spec.channel

    @property
    def origin(self) -> str:
        return self.spec.resolved_origin

    @property
    def price(self) -> float:
        """Current price (index)."""
        return self._provider_value("price")

    @property
    def strategy(self) -> str:
        return POLICY_NAMES[self.model.provider_values["strategy"][self.index]]

    def _provider_value(self, column: str) -> float:
        return float(self.model.provider_values[column][self.index])

    @property
    def revenue(self) -> float:
        """$M/step from rival-region enterprises, ``(m p - c) V s``, plus licence income from
        licensees (``engine.observe``'s ``revenue``)."""
        return self._provider_value("revenue")

    @property
    def payoff(self) -> float:
        """$M/step: the payoff of the current strategy at the current share."""
        return self._provider_value("payoff")

    @property
    def quality(self) -> float:
        """Quality relative to the frontier."""
        return self._provider_value("quality")

    @property
    def share(self) -> float:
        """Fraction of rival-region enterprises using this provider."""
        return self._provider_value("share")

    @property
    def spend_share(self) -> float:
        """Fraction of rival-region spend on this provider."""
        return self._provider_value("spend_share")


class GovernmentAgent(mesa.Agent):
    """The home or rival government; its policy is ``"allow"`` or ``"restrict"``."""

    model: TechCompetitionModel

    def __init__(self, model: TechCompetitionModel, region: str) -> None:
        super().__init__(model)
        self.region = region

    @property
    def policy(self) -> str:
        state = self.model.state
        policy = state.home_policy if self.region == "home" else state.rival_policy
        return POLICY_NAMES[int(policy[0])]


class EnterpriseAgent(mesa.Agent):
    """A rival-region enterprise; ``provider`` is the :class:`FirmAgent` it uses, or None;
    ``segment`` the name of its segment, ``size`` its spend (relative), ``neighbors`` the
    enterprises it is linked to in the network."""

    model: TechCompetitionModel

    def __init__(self, model: TechCompetitionModel, index: int) -> None:
        super().__init__(model)
        self.index = index

    @property
    def segment(self) -> str:
        core = self.model.core
        return core.segment_names[int(core.segment_of[self.index])]

    @property
    def size(self) -> float:
        return float(self.model.state.population.size[0, self.index])

    @property
    def neighbors(self) -> list[EnterpriseAgent]:
        graph = self.model.state.population.graph
        if graph is None:
            return []
        start, stop = graph.indptr[self.index], graph.indptr[self.index + 1]  # type: ignore[attr-defined]
        everyone = self.model.enterprises
        return [everyone[int(k)] for k in graph.indices[start:stop]]  # type: ignore[attr-defined]

    @property
    def taste(self) -> dict[str, float]:
        """Persistent taste (quality units) for each option kind; zeros without tastes."""
        taste = self.model.state.population.taste
        kinds = TASTE_KINDS
        if taste is None:
            return dict.fromkeys(kinds, 0.0)
        return {k: float(v) for k, v in zip(kinds, taste[self.index], strict=True)}

    @property
    def provider_index(self) -> int | None:
        option = int(self.model.state.choice[0, self.index])
        return None if option == len(self.model.firms) else option

    @property
    def provider(self) -> FirmAgent | None:
        option = self.provider_index
        return None if option is None else self.model.firms[option]
