"""Dated events (issue 13): an event at month t changes nothing before row t and shows first
in row t, the same way in the Mesa model, the batch engine and the mean field; events past the
horizon warn; a rule changed by an event starts from fresh learning memory.

Row t is the state after the step from t - 1 to t, the first step the event's parameters
and state are in force (:class:`sim.params.Event`)."""

from __future__ import annotations

import copy
import dataclasses
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from sim import engine, meanfield, rules
from sim.batch import run_batch
from sim.core import Plan
from sim.model import TechCompetitionModel
from sim.params import Params, load_scenario

BASE = load_scenario("seed").replace(n_enterprises=400)
MONTH, STEPS, SEEDS = 12, 16, [0, 1]

EVENTS: dict[str, tuple[str, Any]] = {
    "scalar": ("frontier_growth", 0.03),
    "provider field": ("partner-cloud.margin", 0.1),
    "segment field": ("smes-startups.price_sensitivity", 1.5),
    "segment rules": ("large-private.barred_channels", ["direct", "partner"]),
    "home policy": ("home_policy", "restrict"),
    "rival policy": ("rival_policy", "restrict"),
    "controls": ("home_controls", "on"),
    "fixed strategy": ("direct-lab.fixed_strategy", "allow"),
    "exclusion": ("partner-cloud.excluded_segments", ["developers"]),
    "quality": ("domestic-a.quality", 0.99),
    "price": ("domestic-a.price", 0.05),
    "compute": ("domestic-a.compute", 3.0),
    "price rule": ("price_rule", "price_war"),
    "rule": ("rival_rule", "fixed"),
}


def with_event(key: str, value: Any, params: Params = BASE, month: int = MONTH) -> Params:
    return params.replace(events=({"month": month, "set": {key: value}},))


def split(frame: pd.DataFrame, month: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows before ``month`` and rows at ``month`` (index reset, so frames compare by value)."""
    before = frame[frame.step < month].reset_index(drop=True)
    at = frame[frame.step == month].reset_index(drop=True)
    return before, at


def first_difference(changed: list[pd.DataFrame], plain: list[pd.DataFrame]) -> None:
    """Rows before MONTH equal (exactly, NaN = NaN), and some value of row MONTH differs."""
    differs = False
    for a, b in zip(changed, plain, strict=True):
        before_a, at_a = split(a, MONTH)
        before_b, at_b = split(b, MONTH)
        pd.testing.assert_frame_equal(before_a, before_b, check_exact=True)
        differs |= not at_a.equals(at_b)
    assert differs, "row t shows no trace of the event"


@pytest.mark.parametrize("kind", list(EVENTS))
def test_event_changes_nothing_before_its_month_in_the_batch_engine(kind: str) -> None:
    key, value = EVENTS[kind]
    changed = run_batch(with_event(key, value), SEEDS, STEPS)
    plain = run_batch(BASE, SEEDS, STEPS)
    first_difference(
        [changed.model, changed.providers, changed.segments],
        [plain.model, plain.providers, plain.segments],
    )


@pytest.mark.parametrize("kind", list(EVENTS))
def test_event_is_the_same_in_the_mesa_model(kind: str) -> None:
    """The model with the event equals the batch engine's run value for value (model, provider
    and segment outputs), so rows 0..t-1 equal the model's without it and row t differs."""
    key, value = EVENTS[kind]
    params = with_event(key, value)
    model = TechCompetitionModel(params=params, rng=SEEDS[1])
    frame = model.run(STEPS)
    batch = run_batch(params, [SEEDS[1]], STEPS)
    columns = list(engine.MODEL_COLUMNS)
    pd.testing.assert_frame_equal(
        frame[["step", *columns]], batch.model[["step", *columns]], check_exact=True
    )
    seg = model.segment_frame()
    pd.testing.assert_frame_equal(
        seg[["step", "segment", *engine.SEGMENT_COLUMNS]],
        batch.segments[["step", "segment", *engine.SEGMENT_COLUMNS]],
        check_exact=True,
    )
    prov = model.provider_frame()
    np.testing.assert_array_equal(prov["share"], batch.providers["share"])
    np.testing.assert_array_equal(prov["strategy"], batch.providers["strategy"])
    plain = TechCompetitionModel(params=BASE, rng=SEEDS[1])
    first_difference([frame, model.segment_frame()], [plain.run(STEPS), plain.segment_frame()])


@pytest.mark.parametrize("kind", list(EVENTS))
def test_event_changes_nothing_before_its_month_in_the_mean_field(kind: str) -> None:
    key, value = EVENTS[kind]
    changed = meanfield.trajectory(with_event(key, value), STEPS)
    plain = meanfield.trajectory(BASE, STEPS)
    first_difference([changed], [plain])


@pytest.mark.parametrize(
    "run",
    [
        lambda p, steps: run_batch(p, [0], steps),
        lambda p, steps: TechCompetitionModel(params=p, rng=0).run(steps),
        lambda p, steps: meanfield.trajectory(p, steps),
    ],
    ids=["batch", "model", "meanfield"],
)
def test_an_event_past_the_horizon_warns(run: Any) -> None:
    """An event dated after the last step never applies and is warned about, in all three
    layers; one at the last step applies without a warning."""
    params = BASE.replace(n_enterprises=100)
    with pytest.warns(UserWarning, match=r"events\[0\]\.month=6: after the run's last step \(5\)"):
        run(with_event("frontier_growth", 0.03, params, month=6), 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run(with_event("frontier_growth", 0.03, params, month=5), 5)


def states_until(params: Params, month: int, seed: int) -> tuple[Plan, engine.State, list[Any]]:
    """The plan, the state at ``month - 1`` and the run's generators at that point."""
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(seed)]
    state = engine.initial_state(plan, rngs, runs=1)
    for _ in range(month - 1):
        state = engine.advance(plan, state, rngs)
    return plan, state, rngs


MEMORY = {
    "firm_rule": "firm_memory",
    "home_rule": "home_memory",
    "rival_rule": "rival_memory",
    "home_controls_rule": "controls_memory",
}


@pytest.mark.parametrize(
    ("field", "old", "new"),
    [
        ("firm_rule", "roth_erev", "fictitious_play"),
        ("firm_rule", "fictitious_play", "roth_erev"),
        ("home_rule", "fictitious_play", "roth_erev"),
        ("rival_rule", "roth_erev", "fictitious_play"),
        ("home_controls_rule", "roth_erev", "fictitious_play"),
    ],
)
def test_a_rule_changed_by_an_event_starts_from_fresh_memory(
    field: str, old: str, new: str
) -> None:
    """After months of learning under the old rule, the event month's step equals the step
    from the same state with that actor's memory replaced by the new rule's initial memory
    (same draws); the other actors keep theirs. An event that leaves the rule alone keeps the
    memory, and the reset matters (keeping the old memory would give another step)."""
    params = BASE.replace(n_enterprises=300, home_gap_weight=50.0, **{field: old})
    plan, state, rngs = states_until(with_event(field, new, params), MONTH, 3)
    slot = MEMORY[field]
    learned = getattr(state, slot)
    fresh = rules.initial_memory(new, learned.shape)
    assert not np.array_equal(learned, fresh)
    stepped = engine.advance(plan, state, copy.deepcopy(rngs))
    by_hand = engine.advance(plan, dataclasses.replace(state, **{slot: fresh}), copy.deepcopy(rngs))
    for name in (*MEMORY.values(), "strategy", "controls", "choice"):
        np.testing.assert_array_equal(getattr(stepped, name), getattr(by_hand, name))
    entered = engine.enter_stage(plan.stage_at(MONTH), plan.core_at(MONTH - 1), state)  # type: ignore[arg-type]
    np.testing.assert_array_equal(getattr(entered, slot), fresh)
    for other in set(MEMORY.values()) - {slot}:
        assert getattr(entered, other) is getattr(state, other)
    # an event that does not touch the rule keeps the memory
    plan2, state2, _ = states_until(with_event("security_weight", 25.0, params), MONTH, 3)
    kept = engine.enter_stage(plan2.stage_at(MONTH), plan2.core_at(MONTH - 1), state2)  # type: ignore[arg-type]
    np.testing.assert_array_equal(getattr(kept, slot), getattr(state2, slot))
