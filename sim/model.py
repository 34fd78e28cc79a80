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
from sim.batch import warn_late_events, whole_number
from sim.core import Core, Plan
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
    as a keyword override (``**{"partner-cloud.margin": 0.2}`` for a provider's or a segment's
    field); an unknown keyword raises ``ValueError`` naming the closest valid ones. Dated events
    of the parameters apply at their months (``model.plan``).
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
        self.plan = Plan.from_params(self.params)
        # one run: the model's own generator, drawn from directly (no per-run stacking)
        self._rngs = self.rng
        self.state = engine.initial_state(self.plan, self._rngs, runs=1)
        self._segment_records: list[tuple[int, dict[str, np.ndarray]]] = []
        self._observe()

        self.firms = [FirmAgent(self, j) for j in range(self.params.n_providers)]
        self.home_government = GovernmentAgent(self, "home")
        self.rival_government = GovernmentAgent(self, "rival")
        self.enterprises = [EnterpriseAgent(self, k) for k in range(self.params.n_enterprises)]

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

    @property
    def core(self) -> Core:
        """The bound parameters in force at the current step."""
        return self.plan.core_at(self.state.t)

    def step(self) -> None:
        """Advance one month: events, payoffs, decisions, enterprise choice, capability."""
        self.state = engine.advance(self.plan, self.state, self._rngs)
        self._observe()
        self.datacollector.collect(self)

    def _observe(self) -> None:
        """Reduce the new state to outputs; per-provider values also as Python lists, so that
        the agents' properties (and the DataCollector reading them) index plain lists."""
        self.observation = engine.observe(self.core, self.state)
        self.provider_values = {
            column: values[0].tolist() for column, values in self.observation.provider.items()
        }
        self._segment_records.append(
            (self.state.t, {c: v[0] for c, v in self.observation.segment.items()})
        )

    def run(self, steps: int) -> pd.DataFrame:
        """Advance ``steps`` steps and return the model-level frame (one row per step, step 0
        being the initial state). Events dated after the last step are warned about."""
        steps = whole_number("steps", steps, 0)
        warn_late_events(self.params, self.state.t + steps)
        for _ in range(steps):
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

    def segment_frame(self) -> pd.DataFrame:
        """Per-segment outputs: one row per step and segment (``step``, ``segment``, ``name``
        and :data:`sim.engine.SEGMENT_COLUMNS`)."""
        names = list(self.core.segment_names)
        rows = []
        for t, values in self._segment_records:
            for s, name in enumerate(names):
                rows.append(
                    {
                        "step": t,
                        "segment": s,
                        "name": name,
                        **{c: float(v[s]) for c, v in values.items()},
                    }
                )
        return pd.DataFrame(rows)

    @property
    def network(self) -> Any:
        """The enterprises' network as a ``networkx.Graph`` (nodes are enterprise indices),
        built on demand; None when the scenario has none."""
        graph = self.state.population.graph
        return None if graph is None else graph.to_networkx()  # type: ignore[attr-defined]

    def government_frame(self) -> pd.DataFrame:
        """Both governments' policies: one row per step and government."""
        frame = self.datacollector.get_agenttype_vars_dataframe(GovernmentAgent).reset_index()
        return frame.rename(columns={"Step": "step", "AgentID": "agent_id"})
