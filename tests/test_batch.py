"""The batch engine (sim/batch.py) is the model, run for run: replicate ``r`` of
``run_batch(params, seeds, steps)`` equals ``TechCompetitionModel(params, rng=seeds[r])
.run(steps)`` exactly, in all three frames (model, per provider, per segment), and its
recording options select the right steps in each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import TechCompetitionModel, load_scenario
from sim.batch import BatchResult, run_batch
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS
from sim.params import Params
from tests.strategies import lively

STEPS = 25
FRAMES = ("model", "providers", "segments")


def _model(params: Params, seed, steps: int) -> TechCompetitionModel:
    model = TechCompetitionModel(params=params, rng=seed)
    model.run(steps)
    return model


def _replicate(frame: pd.DataFrame, r: int) -> pd.DataFrame:
    return frame[frame["run"] == r].drop(columns="run").reset_index(drop=True)


def assert_replicate_is_the_model(batch: BatchResult, r: int, model: TechCompetitionModel) -> None:
    """Replicate ``r`` of every frame equals the model's frame of the same run, exactly."""
    pd.testing.assert_frame_equal(_replicate(batch.model, r), model.frame(), check_exact=True)
    providers = _replicate(batch.providers, r)
    expected = model.provider_frame().sort_values(["step", "agent_id"], kind="stable")
    assert len(providers) == len(expected)
    for column in ("step", "name", "channel", *PROVIDER_COLUMNS):
        np.testing.assert_array_equal(
            providers[column].to_numpy(), expected[column].to_numpy(), err_msg=column
        )
    segments = model.segment_frame()
    pd.testing.assert_frame_equal(
        _replicate(batch.segments, r), segments[list(batch.segments.columns[1:])], check_exact=True
    )


@pytest.mark.parametrize(
    "scenario, rule",
    [
        ("seed", "logit"),
        ("seed", "fermi"),
        ("mandate", "best_response"),
        ("open", "fictitious_play"),
        ("protectionist", "roth_erev"),
        ("seed", "fixed"),
        ("classic", "logit"),
        ("open-weights", "best_response"),
        ("chip-controls", "logit"),
        ("price-war", "logit"),
        ("timeline-2024", "logit"),
    ],
)
def test_each_replicate_equals_the_model(scenario: str, rule: str) -> None:
    params = lively(load_scenario(scenario), rule)
    seeds = [3, 17, 2024]
    batch = run_batch(params, seeds, STEPS)
    assert list(batch.model.columns) == ["run", "step", *MODEL_COLUMNS]
    assert list(batch.providers.columns) == [
        "run",
        "step",
        "provider",
        "name",
        "channel",
        *PROVIDER_COLUMNS,
    ]
    assert list(batch.segments.columns) == ["run", "step", "segment", "name", *SEGMENT_COLUMNS]
    for r, seed in enumerate(seeds):
        assert_replicate_is_the_model(batch, r, _model(params, seed, STEPS))


def test_replicates_with_circumvention_equal_the_model() -> None:
    params = lively(load_scenario("seed"), "logit", circumvention=True).replace(rival_rule="logit")
    batch = run_batch(params, [0, 1], STEPS)
    for r in range(2):
        assert_replicate_is_the_model(batch, r, _model(params, r, STEPS))


@pytest.mark.parametrize(
    "make_seed",
    [
        pytest.param(lambda s: np.int64(s), id="numpy-int64"),
        pytest.param(lambda s: np.random.SeedSequence(s), id="SeedSequence"),
    ],
)
def test_replicate_equals_model_for_every_documented_seed_type(make_seed) -> None:
    """``run_batch`` accepts ints and SeedSequences (``SeedLike``) and seeds drawn with NumPy
    are NumPy integers; the equality must hold for them too."""
    params = lively(load_scenario("seed"), "logit")
    seeds = [make_seed(5), make_seed(6)]
    batch = run_batch(params, seeds, 10)
    for r, seed in enumerate(seeds):
        assert_replicate_is_the_model(batch, r, _model(params, seed, 10))


def test_replicate_does_not_depend_on_its_companions() -> None:
    params = lively(load_scenario("seed"), "logit")
    together = run_batch(params, [9, 10, 11], 15)
    alone = run_batch(params, [10], 15)
    for frame in FRAMES:
        pd.testing.assert_frame_equal(
            _replicate(getattr(together, frame), 1),
            _replicate(getattr(alone, frame), 0),
            check_exact=True,
        )


@pytest.mark.parametrize("steps, every", [(20, 5), (23, 5), (7, 1), (10, 20), (0, 3)])
def test_record_every_selects_steps(steps: int, every: int) -> None:
    params = lively(load_scenario("seed"), "logit")
    full = run_batch(params, [1, 2], steps)
    thinned = run_batch(params, [1, 2], steps, record_every=every)
    expected_steps = sorted({*range(0, steps + 1, every), steps})
    assert thinned.steps == tuple(expected_steps)
    for frame in FRAMES:
        for r in range(2):
            part = _replicate(getattr(thinned, frame), r)
            assert sorted(set(part["step"])) == expected_steps
            whole = _replicate(getattr(full, frame), r)
            whole = whole[whole["step"].isin(expected_steps)].reset_index(drop=True)
            pd.testing.assert_frame_equal(part, whole, check_exact=True)


def test_final_only() -> None:
    params = lively(load_scenario("seed"), "logit")
    final = run_batch(params, [1, 2, 3], 12, final_only=True)
    full = run_batch(params, [1, 2, 3], 12)
    assert list(final.model["step"]) == [12, 12, 12] and list(final.model["run"]) == [0, 1, 2]
    assert final.steps == (12,)
    for frame in FRAMES:
        got, whole = getattr(final, frame), getattr(full, frame)
        pd.testing.assert_frame_equal(
            got.reset_index(drop=True),
            whole[whole["step"] == 12].reset_index(drop=True),
            check_exact=True,
        )


def test_provider_and_segment_frames_have_one_row_per_run_step_and_entry() -> None:
    params = lively(load_scenario("seed"), "logit")
    seeds = [4, 8]
    batch = run_batch(params, seeds, 10)
    providers, segments = batch.providers, batch.segments
    assert len(providers) == len(seeds) * 11 * params.n_providers
    assert len(segments) == len(seeds) * 11 * len(params.segments)
    names = [p.name for p in params.providers]
    assert list(providers["name"][: len(names)]) == names
    assert list(segments["name"][: len(params.segments)]) == [s.name for s in params.segments]
    # rows sorted by run, step, then entry
    keys = providers[["run", "step", "provider"]].to_numpy()
    assert (np.lexsort(keys.T[::-1]) == np.arange(len(keys))).all()
    assert set(providers["strategy"]) <= {"allow", "restrict"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": -1}, r"steps=-1"),
        ({"steps": 2.0}, r"steps=2\.0"),
        ({"steps": 3, "record_every": 0}, r"record_every=0"),
    ],
)
def test_bad_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        run_batch(load_scenario("seed").replace(n_enterprises=10), [1], **kwargs)
    with pytest.raises(ValueError, match=r"seeds=\[\]"):
        run_batch(load_scenario("seed").replace(n_enterprises=10), [], 3)


def test_runs_without_a_reviser_skip_the_payoffs_and_change_nothing(monkeypatch) -> None:
    """A memoryless rule computes payoffs only for the runs in which someone revises; the runs
    left out draw the same uniforms, so every replicate still equals its model run."""
    from sim import engine

    subsets: list[int] = []
    original = engine.select_runs

    def counting(state, runs):
        subsets.append(len(runs))
        return original(state, runs)

    monkeypatch.setattr(engine, "select_runs", counting)
    params = load_scenario("seed").replace(n_enterprises=300)
    seeds = [5, 6, 7, 8]
    batch = run_batch(params, seeds, 40)
    assert subsets and all(0 < k < len(seeds) for k in subsets)
    for r, seed in enumerate(seeds):
        assert_replicate_is_the_model(batch, r, _model(params, seed, 40))
