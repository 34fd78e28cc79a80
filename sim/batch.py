"""Many independent runs at once on the same pure core (leading run axis).

Run ``r`` draws only from its own generator, in the order :mod:`sim.engine` fixes, so it is
value for value the run ``TechCompetitionModel(params, rng=seeds[r]).run(steps)`` gives: the
model is this engine with one run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim import engine
from sim.params import Params

SeedLike = int | np.random.SeedSequence


def _generator(seed: SeedLike) -> np.random.Generator:
    """The generator Mesa builds for ``rng=seed`` (``numpy.random.default_rng``)."""
    return np.random.default_rng(seed)


def run_batch(
    params: Params,
    seeds: Sequence[SeedLike],
    steps: int,
    *,
    record_every: int = 1,
    final_only: bool = False,
    providers: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Advance ``len(seeds)`` runs of ``params`` for ``steps`` steps together.

    Returns a tidy frame with columns ``run`` (position in ``seeds``), ``step`` and
    :data:`sim.engine.MODEL_COLUMNS`, recorded at step 0, every ``record_every`` steps and at the
    last step (or only the last step when ``final_only``). With ``providers=True`` also returns
    a per-provider frame (``run``, ``step``, ``provider``, ``name``, ``channel`` and
    :data:`sim.engine.PROVIDER_COLUMNS`).
    """
    if isinstance(steps, bool) or not isinstance(steps, int | np.integer) or steps < 0:
        raise ValueError(f"steps={steps!r}: expected a whole number >= 0")
    if record_every < 1:
        raise ValueError(f"record_every={record_every!r}: expected a whole number >= 1")
    if len(seeds) == 0:
        raise ValueError("seeds=[]: expected at least one seed")
    core = engine.Core.from_params(params)
    rngs = [_generator(s) for s in seeds]
    state = engine.initial_state(core, rngs, runs=len(rngs))
    recorded: list[tuple[int, engine.Observation]] = []

    def record(st: engine.State) -> None:
        due = st.t == steps if final_only else (st.t % record_every == 0 or st.t == steps)
        if due:
            recorded.append((st.t, engine.observe(core, st)))

    record(state)
    for _ in range(steps):
        state = engine.advance(core, state, rngs)
        record(state)

    runs = len(rngs)
    model = pd.DataFrame(
        {
            "run": np.tile(np.arange(runs), len(recorded)),
            "step": np.repeat([t for t, _ in recorded], runs),
            **{
                c: np.concatenate([obs.model[c] for _, obs in recorded])
                for c in engine.MODEL_COLUMNS
            },
        }
    ).sort_values(["run", "step"], kind="stable", ignore_index=True)
    if not providers:
        return model
    n_prov = params.n_providers
    names = np.array([p.name for p in params.providers])
    channels = np.array([p.channel for p in params.providers])
    rows = len(recorded) * runs * n_prov
    per_provider: dict[str, np.ndarray] = {
        "run": np.tile(np.repeat(np.arange(runs), n_prov), len(recorded)),
        "step": np.repeat([t for t, _ in recorded], runs * n_prov),
        "provider": np.tile(np.arange(n_prov), len(recorded) * runs),
    }
    per_provider["name"] = names[per_provider["provider"]]
    per_provider["channel"] = channels[per_provider["provider"]]
    for c in engine.PROVIDER_COLUMNS:
        values = np.concatenate([obs.provider[c].reshape(-1) for _, obs in recorded])
        if c == "strategy":
            values = np.array(engine.POLICY_NAMES)[values]
        per_provider[c] = values
    assert len(per_provider["run"]) == rows
    provider_frame = pd.DataFrame(per_provider).sort_values(
        ["run", "step", "provider"], kind="stable", ignore_index=True
    )
    return model, provider_frame
