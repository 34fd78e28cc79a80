"""Property fuzzing of the core: hypothesis draws valid parameters across their whole declared
ranges (the ``low``/``high``/``choices`` metadata of every :class:`~sim.params.Params`,
:class:`~sim.params.Provider`, :class:`~sim.params.Segment` and :class:`~sim.params.Network`
field), for every decision rule and every shipped scenario, and the invariants below must hold
at every step of every run:

* every reported number is finite (no NaN, no infinity) except where NaN is the definition
  (``local_agreement`` without ties, ``open_capability_gap`` without open models), and so is
  every payoff a decision rule sees (firms', both governments', compute controls);
* enterprise counts by segment sum to each segment's size and agree with the choices; spend by
  segment is the sum of the members' sizes on each option (to 1e-9 of the total spend: the
  engine updates it incrementally); neither is negative;
* shares lie in [0, 1] and foreign + domestic + open + no provider sums to one, by count and
  by spend, overall and in every segment;
* a provider is used by members of a segment only if it serves the segment and is reachable
  (accessible, or blocked with circumvention on);
* revenue is non-negative for a provider whose price covers its marginal cost (with marginal
  costs a provider selling below cost earns less than nothing, so the first version's
  "revenues are non-negative" holds only there); the security risk is non-negative;
* absolute domestic and open-model quality never decreases and never passes the frontier; the
  frontier never decreases; foreign quality is its relative quality times the frontier;
* prices stay in [0, 10] and only domestic prices move;
* the capability gaps, the share of foreign providers allowing, welfare, the HHI and local
  agreement lie in [0, 1]; policies and controls are 0 or 1.

Metamorphic relations: the same seed gives the same trajectory; the Mesa model is the batch
engine's replicate for every documented kind of seed; permuting the providers permutes every
deterministic output (payoffs, option values, transition probabilities, observations of a
permuted state, the mean field). A simulated path is not permutation-equivariant: an
enterprise's move is an inverse-CDF draw over options in their order.

Only ``n_enterprises`` is capped (at 40 instead of 50 million) and the horizon kept short so that
the file runs in about a minute; every other field spans its full declared range.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import TechCompetitionModel, dynamics, engine, meanfield, payoffs
from sim.batch import run_batch
from sim.core import Core, Plan
from sim.params import Params, load_scenario
from sim.rules import RULES
from tests.reference import money_scale
from tests.strategies import (
    SCALAR_FIELDS,
    field_values,
    providers,
    rules,
    runnable_scenarios,
    valid_params,
)

# short runs of dated scenarios leave their later events unapplied, as they warn
pytestmark = pytest.mark.filterwarnings("ignore:events.*never applied:UserWarning")

SCENARIOS = runnable_scenarios()
MAX_ENTERPRISES = 40  # the only field not fuzzed over its full range: speed
STEPS = 5
SEEDS = (0, 1)
SHARE_TOLERANCE = 1e-12  # shares are counts / N; their float sum may miss 1 by a few ulps
SPEND_TOLERANCE = 1e-12  # spend is updated incrementally: rounding relative to the total

FUZZ = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


SCALAR_VALUES = {name: field_values(f) for name, f in SCALAR_FIELDS.items()}
SCALAR_VALUES["n_enterprises"] = st.integers(1, MAX_ENTERPRISES)
RULE_FIELDS = ("firm_rule", "home_rule", "rival_rule")


@st.composite
def scenario_params(draw: st.DrawFn, scenario: str, rule: str) -> Params:
    """The scenario with any subset of its scalar fields (possibly all) redrawn, possibly new
    providers (scenarios without dated events), and ``rule`` used by the firms and, unless
    redrawn, by both governments."""
    base = load_scenario(scenario)
    names = [n for n in SCALAR_VALUES if n not in RULE_FIELDS and n != "n_enterprises"]
    redraw_all = draw(st.booleans())
    chosen = names if redraw_all else draw(st.lists(st.sampled_from(names), unique=True))
    changes: dict[str, Any] = {name: draw(SCALAR_VALUES[name]) for name in chosen}
    changes["n_enterprises"] = draw(SCALAR_VALUES["n_enterprises"])
    changes["firm_rule"] = rule
    for gov in ("home_rule", "rival_rule"):
        changes[gov] = draw(st.sampled_from((rule, *RULES)))
    if not base.events and draw(st.booleans()):
        segment_names = tuple(s.name for s in base.segments)
        changes["providers"] = draw(
            providers(max_foreign=3, max_domestic=3, max_open=2, segment_names=segment_names)
        )
    return base.replace(**changes)


def _check_state(
    core: Core, state: engine.State, previous: engine.State | None, events: tuple[int, ...] = ()
) -> None:
    p = core.params
    obs = engine.observe(core, state)
    m, prov, seg = obs.model, obs.provider, obs.segment
    graph = state.population.graph
    linked = graph is not None and graph.n_edges > 0  # type: ignore[attr-defined]
    for name, values in {**m, **prov, **seg}.items():
        values = np.asarray(values, dtype=float)
        if name == "local_agreement" and not linked:
            assert np.isnan(values).all(), name
        elif name == "open_capability_gap" and not core.open.any():
            assert np.isnan(values).all(), name
        else:
            assert np.all(np.isfinite(values)), f"{name} not finite"

    # counts and spend by segment
    members = np.bincount(core.segment_of, minlength=core.n_segments)
    assert np.all(state.counts.sum(-1) == members)
    totals = dynamics.segment_totals(state.choice, core.segment_of, core.n_segments, core.n_options)
    np.testing.assert_array_equal(state.counts, totals)
    size = state.population.size
    spend = dynamics.segment_totals(
        state.choice, core.segment_of, core.n_segments, core.n_options, weight=size
    )
    total = size.sum(-1)[:, None, None]
    assert np.all(state.spend >= 0)
    np.testing.assert_allclose(state.spend / total, spend / total, rtol=0, atol=SPEND_TOLERANCE)

    # shares
    for name in ("foreign_share", "domestic_share", "open_share", "no_provider_share"):
        assert np.all((m[name] >= 0.0) & (m[name] <= 1.0 + SHARE_TOLERANCE)), (name, m[name])
    kinds = m["foreign_share"] + m["domestic_share"] + m["open_share"] + m["no_provider_share"]
    np.testing.assert_allclose(kinds, 1.0, rtol=0, atol=SHARE_TOLERANCE)
    assert np.all((prov["share"] >= 0.0) & (prov["share"] <= 1.0))
    assert np.all((prov["spend_share"] >= 0.0) & (prov["spend_share"] <= 1.0 + SPEND_TOLERANCE))
    spend_none = state.spend.sum(1)[:, -1] / size.sum(-1)
    np.testing.assert_allclose(
        prov["spend_share"].sum(-1) + spend_none, 1.0, rtol=0, atol=SPEND_TOLERANCE
    )
    seg_total = sum(
        seg[c] for c in ("foreign_share", "domestic_share", "open_share", "no_provider_share")
    )
    np.testing.assert_allclose(seg_total[:, members > 0], 1.0, rtol=0, atol=SHARE_TOLERANCE)
    for name, values in seg.items():
        assert np.all((values >= 0.0) & (values <= 1.0 + SPEND_TOLERANCE)), name

    # who may use what
    accessible, _ = engine.reachability(core, state.strategy, state.rival_policy)
    usable = (accessible | (core.foreign & p.circumvention))[:, None, :] & core.serves
    assert np.all(state.counts[..., :-1][~usable] == 0), "a provider used where it cannot be"

    # money
    covering = core.margin * state.price >= core.marginal_cost
    assert np.all(prov["revenue"][covering] >= 0.0)
    assert np.all(m["security_risk"] >= 0.0)

    # bounded indices and 0/1 policies
    for name in ("capability_gap", "frac_foreign_allowing", "enterprise_welfare", "hhi"):
        assert np.all((m[name] >= 0.0) & (m[name] <= 1.0 + SHARE_TOLERANCE)), name
    for name in ("local_agreement", "open_capability_gap"):
        defined = m[name][~np.isnan(m[name])]
        assert np.all((defined >= 0.0) & (defined <= 1.0 + SHARE_TOLERANCE)), name
    for name in ("home_restricts", "rival_restricts", "export_controls"):
        assert set(np.unique(m[name])) <= {0.0, 1.0}, name

    # payoffs every decision rule sees
    values = engine.values_of(core, state)
    decision_inputs = {
        "firm payoffs": engine.firm_payoffs(core, state, values, state.home_policy),
        "home payoffs": engine.home_payoffs(core, state, values),
        "rival payoffs": engine.rival_payoffs(core, state, values),
        "controls payoffs": engine.controls_payoffs(core, state),
    }
    for name, payoff in decision_inputs.items():
        assert np.all(np.isfinite(payoff)), f"{name} not finite: {payoff}"

    # capability and prices
    top = state.frontier[:, None] * (1.0 + SHARE_TOLERANCE)
    growing = core.domestic | core.open
    assert np.all(state.quality[:, growing] <= top)
    np.testing.assert_allclose(
        state.quality[:, core.foreign],
        core.relative_foreign[core.foreign] * state.frontier[:, None],
    )
    assert np.all((state.price >= 0.0) & (state.price <= engine.PRICE_MAX))
    if previous is not None:
        assert np.all(state.quality[:, growing] >= previous.quality[:, growing]), "quality fell"
        assert np.all(state.frontier >= previous.frontier)
        if state.t not in events:  # an event may set any provider's price
            moved = state.price != previous.price
            assert not moved[:, ~core.domestic].any(), "a price other than a domestic one moved"


def _check_engine(params: Params) -> None:
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(s) for s in SEEDS]
    state = engine.initial_state(plan, rngs, runs=len(rngs))
    _check_state(plan.first, state, None)
    for _ in range(STEPS):
        new = engine.advance(plan, state, rngs)
        _check_state(plan.core_at(new.t), new, state, plan.event_months)
        state = new


def _check_batch(params: Params) -> None:
    result = run_batch(params, list(SEEDS), STEPS)
    model, per_provider, per_segment = result.model, result.providers, result.segments
    assert len(model) == len(SEEDS) * (STEPS + 1)
    assert len(per_provider) == len(model) * params.n_providers
    for frame in (model, per_provider, per_segment):
        numeric = frame.select_dtypes("number").drop(
            columns=["local_agreement", "open_capability_gap"], errors="ignore"
        )
        assert np.all(np.isfinite(numeric.to_numpy(dtype=float)))
    shares = model["foreign_share"] + model["domestic_share"] + model["open_share"]
    assert ((shares >= 0.0) & (shares <= 1.0 + SHARE_TOLERANCE)).all()
    provider_total = per_provider.groupby(["run", "step"])["share"].sum()
    pd.testing.assert_series_equal(
        provider_total.reset_index(drop=True),
        shares.reset_index(drop=True),
        check_names=False,
        rtol=0,
        atol=SHARE_TOLERANCE,
    )


@pytest.mark.parametrize("rule", RULES)
@pytest.mark.parametrize("scenario", SCENARIOS)
@FUZZ
@given(data=st.data())
def test_invariants_hold_for_any_valid_parameters(
    scenario: str, rule: str, data: st.DataObject
) -> None:
    params = data.draw(scenario_params(scenario, rule))
    _check_engine(params)
    _check_batch(params)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    valid_params(
        max_enterprises=MAX_ENTERPRISES,
        market=True,
        firm_rule=rules(),
        home_rule=rules(),
        rival_rule=rules(),
        home_controls_rule=rules(),
    )
)
def test_invariants_hold_for_any_market(params: Params) -> None:
    """Segments, a network of any kind, open models, licensing and exclusions drawn too."""
    _check_engine(params)


@FUZZ
@given(
    params=scenario_params("seed", "logit"),
    extreme=st.sampled_from(["low", "high"]),
)
def test_invariants_hold_with_every_field_at_one_end_of_its_range(
    params: Params, extreme: str
) -> None:
    """Every fuzzable scalar field pinned to the same end of its range at once: the corners
    random draws rarely reach together (e.g. all weights and rationalities at their maxima)."""
    ends = {
        name: getattr(f, extreme)
        for name, f in SCALAR_FIELDS.items()
        if f.kind in ("number", "whole") and name != "n_enterprises"
    }
    params = params.replace(**ends)
    _check_engine(params)
    _check_batch(params)


SMALLEST_RATIONALITY = SCALAR_FIELDS["enterprise_rationality"].low


def _seed_with(**changes: Any) -> Params:
    seed = load_scenario("seed")
    unset = {f"{s.name}.enterprise_rationality": None for s in seed.segments}
    return seed.replace(n_enterprises=20, **unset, **changes)


def _weak_domestic() -> tuple:
    return tuple(
        p if p.foreign else p.model_copy(update={"quality": 0.0})
        for p in load_scenario("seed").providers
    )


@pytest.mark.parametrize(
    "params",
    [
        pytest.param(
            _seed_with(enterprise_rationality=SMALLEST_RATIONALITY),
            id="smallest-enterprise-rationality",
        ),
        pytest.param(
            _seed_with(
                enterprise_rationality=1000.0,
                outside_utility=-10.0,
                rival_policy="restrict",
                providers=_weak_domestic(),
            ),
            id="every-reachable-logit-weight-underflows",
        ),
        pytest.param(
            _seed_with(
                home_controls_rule="best_response",
                frontier_compute_growth=0.0,
                compute_depreciation=0.0,
                frontier_growth=0.0,
            ),
            id="controls-without-decay-or-growth",
        ),
        pytest.param(
            _seed_with(price_rule="best_response", price_sensitivity=5e-324),
            id="best-response-with-vanishing-price-sensitivity",
        ),
    ],
)
def test_decision_payoffs_finite_at_known_corners(params: Params) -> None:
    """Corners fuzzing found (all since fixed in the core), kept as fixed rows: the smallest
    enterprise rationality, where the logsum welfare ``(top + log total) / mu`` overflowed when
    the range started at 0; a blocked option so much better than every reachable one that all
    reachable logit weights underflowed to zero (0/0); compute controls valued with nothing
    decaying and nothing growing (0/0 steady states); a best-response price with a price
    sensitivity below 1e-308 (NaN candidates)."""
    _check_engine(params)


# ----------------------------------------------------------------- metamorphic relations


def _states(params: Params, seed: int, steps: int) -> list[engine.State]:
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(seed)]
    states = [engine.initial_state(plan, rngs, 1)]
    for _ in range(steps):
        states.append(engine.advance(plan, states[-1], rngs))
    return states


def _assert_states_equal(a: engine.State, b: engine.State) -> None:
    for f in dataclasses.fields(engine.State):
        if f.name == "population":
            continue
        x, y = getattr(a, f.name), getattr(b, f.name)
        np.testing.assert_array_equal(x, y, err_msg=f.name)
    np.testing.assert_array_equal(a.population.size, b.population.size)
    np.testing.assert_array_equal(a.population.taste, b.population.taste)
    assert a.population.graph == b.population.graph


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        valid_params(max_enterprises=MAX_ENTERPRISES, market=True, firm_rule=rules()),
        st.sampled_from(SCENARIOS).map(lambda s: load_scenario(s).replace(n_enterprises=60)),
    ),
    st.integers(0, 2**32 - 1),
)
def test_same_seed_same_trajectory(params: Params, seed: int) -> None:
    for a, b in zip(_states(params, seed, 4), _states(params, seed, 4), strict=True):
        _assert_states_equal(a, b)


SEED_KINDS = {
    "int": lambda s: s,
    "numpy-int64": np.int64,
    "SeedSequence": np.random.SeedSequence,
}


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        valid_params(max_enterprises=MAX_ENTERPRISES, market=True, firm_rule=rules()),
        st.sampled_from(SCENARIOS).map(lambda s: load_scenario(s).replace(n_enterprises=60)),
    ),
    st.integers(0, 2**32 - 1),
    st.sampled_from(sorted(SEED_KINDS)),
)
def test_model_is_the_batch_replicate_for_every_seed_type(
    params: Params, seed: int, kind: str
) -> None:
    """``TechCompetitionModel(params, rng=seed)`` is replicate ``r`` of ``run_batch`` for ints,
    NumPy integers and SeedSequences, and for a Generator built from the same seed."""
    seeds = [SEED_KINDS[kind](seed), SEED_KINDS[kind](seed + 1)]
    batch = run_batch(params, seeds, 4)
    for r, s in enumerate(seeds):
        for rng in (s, np.random.default_rng(s)):
            model = TechCompetitionModel(params=params, rng=rng)
            frame = model.run(4)
            replicate = batch.model[batch.model["run"] == r].drop(columns="run")
            pd.testing.assert_frame_equal(replicate.reset_index(drop=True), frame, check_exact=True)


def _permuted(params: Params, order: list[int]) -> Params:
    return params.replace(providers=tuple(params.providers[k] for k in order))


def _permute_state(state: engine.State, order: list[int], core: Core) -> engine.State:
    """The same state with providers relabelled: provider ``order[k]`` becomes ``k``."""
    k = len(order)
    relabel = np.empty(k + 1, np.int16)
    relabel[np.asarray(order)] = np.arange(k)
    relabel[k] = k
    options = [*order, k]
    foreign_old = np.flatnonzero(core.foreign)
    foreign_new = [order.index(int(j)) for j in foreign_old]
    memory_order = np.argsort(foreign_new)
    return dataclasses.replace(
        state,
        quality=state.quality[:, order],
        strategy=state.strategy[:, order],
        price=state.price[:, order],
        compute=state.compute[:, order],
        choice=relabel[state.choice],
        counts=state.counts[..., options],
        spend=state.spend[..., options],
        firm_memory=state.firm_memory[:, memory_order],
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_params(max_enterprises=MAX_ENTERPRISES, market=True), st.data())
def test_permuting_providers_permutes_deterministic_outputs(
    params: Params, data: st.DataObject
) -> None:
    """Relabel the providers of a state reached by simulation: option values, every decision
    maker's payoffs, transition probabilities and the observation are the same numbers, moved
    with their providers (to 1e-12: sums over providers change order)."""
    order = data.draw(st.permutations(range(params.n_providers)))
    plan = Plan.from_params(params)
    rngs = [np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))]
    state = engine.initial_state(plan, rngs, 1)
    state = engine.advance(plan, state, rngs)
    core = plan.core_at(1)
    other = Plan.from_params(_permuted(params, order)).core_at(1)
    moved = _permute_state(state, order, core)
    tol = {"rtol": 1e-12, "atol": 1e-12 * money_scale(params)}
    options = [*order, len(order)]
    values = engine.values_of(core, state)
    np.testing.assert_allclose(engine.values_of(other, moved), values[..., options], **tol)
    firm = engine.firm_payoffs(core, state, values, state.home_policy)
    other_values = engine.values_of(other, moved)
    np.testing.assert_allclose(
        engine.firm_payoffs(other, moved, other_values, moved.home_policy), firm[:, order], **tol
    )
    np.testing.assert_allclose(
        engine.home_payoffs(other, moved, other_values),
        engine.home_payoffs(core, state, values),
        **tol,
    )
    np.testing.assert_allclose(
        engine.rival_payoffs(other, moved, other_values),
        engine.rival_payoffs(core, state, values),
        **tol,
    )
    np.testing.assert_allclose(
        engine.controls_payoffs(other, moved), engine.controls_payoffs(core, state), **tol
    )
    accessible, circumventable = engine.reachability(core, state.strategy, state.rival_policy)
    matrix = payoffs.transition_probabilities(
        payoffs.transition_utilities(core, values, accessible, circumventable, core.switching)
    )
    acc2, circ2 = engine.reachability(other, moved.strategy, moved.rival_policy)
    other_matrix = payoffs.transition_probabilities(
        payoffs.transition_utilities(other, other_values, acc2, circ2, other.switching)
    )
    np.testing.assert_allclose(other_matrix, matrix[..., options, :][..., options], **tol)
    obs, other_obs = engine.observe(core, state), engine.observe(other, moved)
    for column, value in obs.model.items():
        np.testing.assert_allclose(other_obs.model[column], value, **tol, err_msg=column)
    for column, value in obs.provider.items():
        np.testing.assert_allclose(
            np.asarray(other_obs.provider[column], float),
            np.asarray(value, float)[:, order],
            **tol,
            err_msg=column,
        )
    for column, value in obs.segment.items():
        np.testing.assert_allclose(other_obs.segment[column], value, **tol, err_msg=column)


@pytest.mark.parametrize("scenario", ["classic", "seed", "open-weights", "price-war"])
def test_permuting_providers_permutes_the_mean_field(scenario: str) -> None:
    """The mean field is deterministic: relabelled providers give the same trajectory (model
    columns to 1e-10 after 30 steps of rounding in a different order)."""
    params = load_scenario(scenario)
    order = list(range(params.n_providers))[::-1]
    a = meanfield.trajectory(params, 30)
    b = meanfield.trajectory(_permuted(params, order), 30)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10, atol=1e-10)
