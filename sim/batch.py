"""Many independent runs at once on the same pure core (leading run axis).

Run ``r`` draws only from its own generator, in the order :mod:`sim.engine` fixes, so it is
value for value the run ``TechCompetitionModel(params, rng=seeds[r]).run(steps)`` gives: the
model is this engine with one run.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from sim import engine
from sim.core import Plan
from sim.errors import InputError, field_error
from sim.params import Params

SeedLike = int | np.random.SeedSequence


def _generator(seed: SeedLike) -> np.random.Generator:
    """The generator Mesa builds for ``rng=seed`` (``numpy.random.default_rng``)."""
    return np.random.default_rng(seed)


def whole_number(name: str, value: object, minimum: int) -> int:
    """``value`` as an int ``>= minimum`` (Python or NumPy integers only), else an
    :class:`~sim.errors.InputError` naming ``name``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise field_error(name, value, f"expected a whole number >= {minimum}")
    if value < minimum:
        raise field_error(name, value, f"expected a whole number >= {minimum}")
    return int(value)


def warn_late_events(params: Params, steps: int) -> None:
    """Warn (once per call) about events dated after the last step: they never apply."""
    late = [(i, e.month) for i, e in enumerate(params.events) if e.month > steps]
    if late:
        where = ", ".join(f"events[{i}].month={m}" for i, m in late)
        warnings.warn(f"{where}: after the run's last step ({steps}); never applied", stacklevel=3)


@dataclass(frozen=True)
class BatchResult:
    """Outputs of :func:`run_batch`, as tidy frames built on first access.

    ``model``: ``run``, ``step`` and :data:`sim.engine.MODEL_COLUMNS`.
    ``providers``: ``run``, ``step``, ``provider`` (index), ``name``, ``channel`` and
    :data:`sim.engine.PROVIDER_COLUMNS` (``strategy`` as ``allow``/``restrict``).
    ``segments``: ``run``, ``step``, ``segment`` (index), ``name`` and
    :data:`sim.engine.SEGMENT_COLUMNS`.
    Rows are sorted by run, step (and provider or segment).
    """

    params: Params
    runs: int
    steps: tuple[int, ...]
    observations: tuple[engine.Observation, ...]

    def _keys(self, per_step: int) -> dict[str, np.ndarray]:
        n_steps = len(self.steps)
        return {
            "run": np.repeat(np.arange(self.runs), n_steps * per_step),
            "step": np.tile(np.repeat(np.asarray(self.steps, dtype=np.int64), per_step), self.runs),
        }

    def _stacked(self, arrays: list[np.ndarray]) -> np.ndarray:
        """``(T, R, ...)`` recordings as ``(R, T, ...)`` flattened run-major."""
        stacked = np.stack(arrays)  # (T, R, ...)
        return np.swapaxes(stacked, 0, 1).reshape(-1)

    @cached_property
    def model(self) -> pd.DataFrame:
        columns = self._keys(1)
        for c in engine.MODEL_COLUMNS:
            columns[c] = self._stacked([obs.model[c] for obs in self.observations])
        return pd.DataFrame(columns)

    @cached_property
    def providers(self) -> pd.DataFrame:
        provs = self.params.providers
        n = len(provs)
        columns = self._keys(n)
        index = np.tile(np.arange(n), self.runs * len(self.steps))
        columns["provider"] = index
        columns["name"] = np.array([p.name for p in provs])[index]
        columns["channel"] = np.array([p.channel for p in provs])[index]
        for c in engine.PROVIDER_COLUMNS:
            values = self._stacked([obs.provider[c] for obs in self.observations])
            if c == "strategy":
                values = np.array(engine.POLICY_NAMES)[values]
            columns[c] = values
        return pd.DataFrame(columns)

    @cached_property
    def segments(self) -> pd.DataFrame:
        names = [s.name for s in self.params.resolved_segments()]
        n = len(names)
        columns = self._keys(n)
        index = np.tile(np.arange(n), self.runs * len(self.steps))
        columns["segment"] = index
        columns["name"] = np.array(names)[index]
        for c in engine.SEGMENT_COLUMNS:
            columns[c] = self._stacked([obs.segment[c] for obs in self.observations])
        return pd.DataFrame(columns)


def run_batch(
    params: Params,
    seeds: Sequence[SeedLike],
    steps: int,
    *,
    record_every: int = 1,
    final_only: bool = False,
) -> BatchResult:
    """Advance ``len(seeds)`` runs of ``params`` for ``steps`` steps together, recording at step
    0, every ``record_every`` steps and at the last step (or only the last when
    ``final_only``). Events dated after ``steps`` are warned about."""
    steps = whole_number("steps", steps, 0)
    record_every = whole_number("record_every", record_every, 1)
    if len(seeds) == 0:
        raise InputError("seeds=[]: expected at least one seed")
    warn_late_events(params, steps)
    plan = Plan.from_params(params)
    rngs = [_generator(s) for s in seeds]
    state = engine.initial_state(plan, rngs, runs=len(rngs))
    recorded: list[tuple[int, engine.Observation]] = []

    def record(st: engine.State) -> None:
        due = st.t == steps if final_only else (st.t % record_every == 0 or st.t == steps)
        if due:
            recorded.append((st.t, engine.observe(plan.core_at(st.t), st)))

    record(state)
    for _ in range(steps):
        state = engine.advance(plan, state, rngs)
        record(state)
    return BatchResult(
        params=params,
        runs=len(rngs),
        steps=tuple(t for t, _ in recorded),
        observations=tuple(obs for _, obs in recorded),
    )
