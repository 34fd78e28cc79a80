"""The Mesa model: owns the state arrays, the random stream and the DataCollector.

All arithmetic is in :mod:`sim.engine` (run axis of length one here); the model only keeps
the state, draws from its own ``self.rng`` and records outputs.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim import engine
from sim.agents import EnterpriseAgent, FirmAgent, GovernmentAgent
from sim.params import Params, load_scenario


def _model_reporter(column: str) -> Any:
    def report(model: TechCompetitionModel) -> float:
        return float(model.observation.model[column][0])

    report.__name__ = column
    return report


class TechCompetitionModel(mesa.Model):
    """Providers restricting or allowing rival-region access, governments, enterprises.

    Build from parameters, ``TechCompetitionModel(params=load_scenario("seed"), rng=42)``, or
    by keyword as Mesa tooling does, ``TechCompetitionModel(scenario="seed", rng=1,
    n_enterprises=2_000, home_fine=3.0)``: any :class:`~sim.params.Params` field may be given
    as a keyword override; an unknown keyword raises ``ValueError`` listing the valid ones.
    """

    def __init__(
        self,
        params: Params | None = None,
        scenario: str = "seed",
        rng: int | np.random.Generator | None = None,
        **kwargs: Any,
    ) -> None:
        # Mesa draws one number from a Generator or SeedSequence `rng` to seed `self.random`;
        # restoring the state keeps the engine's stream identical to sim.batch for any rng.
        start = None if rng is None else np.random.default_rng(rng).bit_generator.state
        super().__init__(rng=rng)
        if start is not None:
            self.rng.bit_generator.state = start
        base = params if params is not None else load_scenario(scenario)
        self.params: Params = base.replace(**kwargs) if kwargs else base
        self.core = engine.Core.from_params(self.params)
        # one run: the model's own generator, drawn from directly (no per-run stacking)
        self._rngs = self.rng
        self.state = engine.initial_state(self.core, self._rngs, runs=1)
        self._observe()

        self.firms = [FirmAgent(self, j) for j in range(self.params.n_providers)]
        self.home_government = GovernmentAgent(self, "home")
        self.rival_government = GovernmentAgent(self, "rival")
        for k in range(self.params.n_enterprises):
            EnterpriseAgent(self, k)

        self.datacollector = mesa.DataCollector(
            model_reporters={c: _model_reporter(c) for c in engine.MODEL_COLUMNS},
            agenttype_reporters={
                FirmAgent: {
                    "name": "name",
                    "channel": "channel",
                    **{c: c for c in engine.PROVIDER_COLUMNS},
                },
                GovernmentAgent: {"region": "region", "policy": "policy"},
            },
        )
        self.datacollector.collect(self)

    def step(self) -> None:
        """Advance one month: payoffs, decisions, enterprise choice, capability growth."""
        self.state = engine.advance(self.core, self.state, self._rngs)
        self._observe()
        self.datacollector.collect(self)

    def _observe(self) -> None:
        """Reduce the new state to outputs; per-provider values also as Python lists, so that
        the agents' properties (and the DataCollector reading them) index plain lists."""
        self.observation = engine.observe(self.core, self.state)
        self.provider_values = {
            column: values[0].tolist() for column, values in self.observation.provider.items()
        }

    def run(self, steps: int) -> pd.DataFrame:
        """Advance ``steps`` steps and return the model-level frame (one row per step, step 0
        being the initial state)."""
        if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
            raise ValueError(f"steps={steps!r}: expected a whole number >= 0")
        for _ in range(int(steps)):
            self.step()
        return self.frame()

    def frame(self) -> pd.DataFrame:
        """Model-level outputs collected so far, with a ``step`` column."""
        frame = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        frame.insert(0, "step", np.arange(len(frame)))
        return frame

    def provider_frame(self) -> pd.DataFrame:
        """Per-provider outputs: one row per step and provider."""
        frame = self.datacollector.get_agenttype_vars_dataframe(FirmAgent).reset_index()
        return frame.rename(columns={"Step": "step", "AgentID": "agent_id"})

    def government_frame(self) -> pd.DataFrame:
        """Both governments' policies: one row per step and government."""
        frame = self.datacollector.get_agenttype_vars_dataframe(GovernmentAgent).reset_index()
        return frame.rename(columns={"Step": "step", "AgentID": "agent_id"})
