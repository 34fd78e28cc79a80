"""The batch engine (sim/batch.py) is the model, run for run: replicate ``r`` of
``run_batch(params, seeds, steps)`` equals ``TechCompetitionModel(params, rng=seeds[r])
.run(steps)`` exactly, and its recording options select the right steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import TechCompetitionModel, load_scenario
from sim.batch import run_batch
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS
from sim.params import Params
from tests.strategies import lively

STEPS = 25


def _model_frame(params: Params, seed, steps: int) -> pd.DataFrame:
    return TechCompetitionModel(params=params, rng=seed).run(steps)


def _replicate(frame: pd.DataFrame, r: int) -> pd.DataFrame:
    out = frame[frame["run"] == r].drop(columns="run").reset_index(drop=True)
    return out


@pytest.mark.parametrize(
    "scenario, rule",
    [
        ("seed", "logit"),
        ("seed", "fermi"),
        ("mandate", "best_response"),
        ("open", "fictitious_play"),
        ("protectionist", "roth_erev"),
        ("seed", "fixed"),
    ],
)
def test_each_replicate_equals_the_model(scenario: str, rule: str) -> None:
    params = lively(load_scenario(scenario), rule)
    seeds = [3, 17, 2024]
    batch = run_batch(params, seeds, STEPS)
    assert list(batch.columns) == ["run", "step", *MODEL_COLUMNS]
    for r, seed in enumerate(seeds):
        pd.testing.assert_frame_equal(
            _replicate(batch, r), _model_frame(params, seed, STEPS), check_exact=True
        )


def test_replicates_with_circumvention_equal_the_model() -> None:
    params = lively(load_scenario("seed"), "logit").replace(circumvention=True, rival_rule="logit")
    batch = run_batch(params, [0, 1], STEPS)
    for r in range(2):
        pd.testing.assert_frame_equal(
            _replicate(batch, r), _model_frame(params, r, STEPS), check_exact=True
        )


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
        pd.testing.assert_frame_equal(
            _replicate(batch, r), _model_frame(params, seed, 10), check_exact=True
        )


def test_replicate_does_not_depend_on_its_companions() -> None:
    params = lively(load_scenario("seed"), "logit")
    together = run_batch(params, [9, 10, 11], 15)
    alone = run_batch(params, [10], 15)
    pd.testing.assert_frame_equal(_replicate(together, 1), _replicate(alone, 0), check_exact=True)


@pytest.mark.parametrize("steps, every", [(20, 5), (23, 5), (7, 1), (10, 20), (0, 3)])
def test_record_every_selects_steps(steps: int, every: int) -> None:
    params = lively(load_scenario("seed"), "logit")
    full = run_batch(params, [1, 2], steps)
    thinned = run_batch(params, [1, 2], steps, record_every=every)
    expected_steps = sorted({*range(0, steps + 1, every), steps})
    for r in range(2):
        part = _replicate(thinned, r)
        assert list(part["step"]) == expected_steps
        whole = _replicate(full, r).set_index("step").loc[expected_steps].reset_index()
        pd.testing.assert_frame_equal(part, whole, check_exact=True)


def test_final_only() -> None:
    params = lively(load_scenario("seed"), "logit")
    final = run_batch(params, [1, 2, 3], 12, final_only=True)
    full = run_batch(params, [1, 2, 3], 12)
    assert list(final["step"]) == [12, 12, 12] and list(final["run"]) == [0, 1, 2]
    pd.testing.assert_frame_equal(
        final.reset_index(drop=True),
        full[full["step"] == 12].reset_index(drop=True),
        check_exact=True,
    )


def test_provider_frame_matches_model_provider_frame() -> None:
    params = lively(load_scenario("seed"), "logit")
    seeds = [4, 8]
    _, providers = run_batch(params, seeds, 10, providers=True)
    assert {"run", "step", "provider", "name", "channel", *PROVIDER_COLUMNS} <= set(providers)
    assert len(providers) == len(seeds) * 11 * params.n_providers
    for r, seed in enumerate(seeds):
        model = TechCompetitionModel(params=params, rng=seed)
        model.run(10)
        expected = model.provider_frame().sort_values(["step", "agent_id"], kind="stable")
        got = providers[providers["run"] == r]
        for column in ("step", "name", "channel", *PROVIDER_COLUMNS):
            np.testing.assert_array_equal(got[column].to_numpy(), expected[column].to_numpy())


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
