"""The Mesa model (sim/model.py): the README example, keyword construction, outputs,
reproducibility and the agent views."""

from __future__ import annotations

import mesa
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import EnterpriseAgent, FirmAgent, GovernmentAgent, TechCompetitionModel, load_scenario
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS
from sim.params import SCALAR_FIELDS, Params
from tests.strategies import rules, scenario_names

COLUMNS = [
    "frac_foreign_allowing",
    "home_restricts",
    "rival_restricts",
    "foreign_share",
    "domestic_share",
    "capability_gap",
    "foreign_revenue",
    "domestic_revenue",
    "security_risk",
    "enterprise_welfare",
    "hhi",
    "open_share",
    "no_provider_share",
    "foreign_spend_share",
    "local_agreement",
    "export_controls",
    "open_capability_gap",
    "mean_domestic_price",
]
NO_OPEN_MODELS = ["open_capability_gap"]  # NaN by definition in a scenario without open models


@pytest.fixture(scope="module")
def readme_run() -> tuple[TechCompetitionModel, pd.DataFrame]:
    params = load_scenario("seed").replace(n_enterprises=5_000)
    model = TechCompetitionModel(params=params, rng=42)
    return model, model.run(200)


def test_readme_example(readme_run) -> None:
    model, frame = readme_run
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["step", *COLUMNS]
    assert tuple(COLUMNS) == MODEL_COLUMNS
    assert list(frame["step"]) == list(range(201))
    defined = [c for c in COLUMNS if c not in NO_OPEN_MODELS]
    assert frame[defined].notna().all().all()
    assert frame[NO_OPEN_MODELS].isna().all().all()
    assert model.state.t == 200 and model.params.n_enterprises == 5_000


def test_outputs_are_consistent(readme_run) -> None:
    model, frame = readme_run
    total = frame["foreign_share"] + frame["domestic_share"] + frame["open_share"]
    np.testing.assert_allclose(total + frame["no_provider_share"], 1.0, rtol=0, atol=1e-12)
    for column in (
        "frac_foreign_allowing",
        "foreign_share",
        "domestic_share",
        "open_share",
        "no_provider_share",
        "foreign_spend_share",
        "local_agreement",
        "hhi",
    ):
        assert frame[column].between(0, 1).all(), column
    for column in ("home_restricts", "rival_restricts", "export_controls"):
        assert frame[column].isin([0.0, 1.0]).all(), column
    assert frame["capability_gap"].between(0, 1).all()
    assert (frame["foreign_revenue"] >= 0).all() and (frame["domestic_revenue"] >= 0).all()
    # count shares are counts over 5,000 enterprises; spend shares are not
    counts = frame["domestic_share"].to_numpy() * 5_000
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
    seed = load_scenario("seed")
    prices = [p.price for p in seed.providers if p.channel == "domestic"]
    np.testing.assert_allclose(frame["mean_domestic_price"], np.mean(prices), rtol=1e-15)
    size = model.state.population.size[0]
    foreign = np.array([p.foreign for p in model.params.providers] + [False])
    spend = size[foreign[model.state.choice[0]]].sum() / size.sum()
    np.testing.assert_allclose(frame["foreign_spend_share"].iloc[-1], spend, rtol=1e-9)


def test_shares_sum_to_one_with_no_provider(readme_run) -> None:
    model, _ = readme_run
    providers = model.provider_frame()
    shares = providers.groupby("step")["share"].sum()
    spend = providers.groupby("step")["spend_share"].sum()
    none = (model.state.choice == model.params.n_providers).mean()
    final = model.frame().iloc[-1]
    np.testing.assert_allclose(final["no_provider_share"], none, rtol=1e-15)
    np.testing.assert_allclose(
        final["foreign_share"] + final["domestic_share"] + final["open_share"] + none, 1.0
    )
    np.testing.assert_allclose(shares.iloc[-1] + none, 1.0)
    size = model.state.population.size[0]
    spend_none = size[model.state.choice[0] == model.params.n_providers].sum() / size.sum()
    np.testing.assert_allclose(spend.iloc[-1] + spend_none, 1.0, rtol=1e-12)


def test_segment_frame_contents(readme_run) -> None:
    """One row per step and segment; each segment's shares are its members' and sum to one;
    the enterprise-weighted mean over segments is the model's share."""
    model, frame = readme_run
    segments = model.segment_frame()
    names = [s.name for s in model.params.segments]
    assert list(segments.columns) == ["step", "segment", "name", *SEGMENT_COLUMNS]
    assert len(segments) == 201 * len(names)
    assert list(segments["name"].iloc[: len(names)]) == names
    kinds = ["foreign_share", "domestic_share", "open_share", "no_provider_share"]
    np.testing.assert_allclose(segments[kinds].sum(axis=1), 1.0, atol=1e-12)
    members = np.bincount(model.core.segment_of)
    last = segments[segments["step"] == 200]
    for column in kinds:
        weighted = (last[column].to_numpy() * members).sum() / members.sum()
        np.testing.assert_allclose(weighted, frame[column].iloc[-1], rtol=1e-12, atol=1e-15)
    choice = model.state.choice[0]
    foreign = np.array([p.foreign for p in model.params.providers] + [False])
    for s, name in enumerate(names):
        mine = model.core.segment_of == s
        row = last[last["name"] == name].iloc[0]
        np.testing.assert_allclose(row["foreign_share"], foreign[choice[mine]].mean(), rtol=1e-14)


def test_keyword_construction_applies_overrides() -> None:
    model = TechCompetitionModel(scenario="seed", rng=1, n_enterprises=2_000, home_fine=3.0)
    assert model.params.n_enterprises == 2_000 and model.params.home_fine == 3.0
    assert model.params == load_scenario("seed").replace(n_enterprises=2_000, home_fine=3.0)
    assert len(model.agents_by_type[EnterpriseAgent]) == 2_000
    mandate = TechCompetitionModel(scenario="mandate", rng=1, n_enterprises=100)
    assert mandate.params == load_scenario("mandate").replace(n_enterprises=100)


def test_unknown_keyword_lists_valid_names() -> None:
    with pytest.raises(ValueError) as info:
        TechCompetitionModel(rng=1, home_fin=3.0)
    message = str(info.value)
    assert "'home_fin'" in message and "did you mean 'home_fine'" in message
    assert all(name in message for name in SCALAR_FIELDS)


def test_bad_scenario_and_steps() -> None:
    with pytest.raises(ValueError, match="scenario='sed'"):
        TechCompetitionModel(scenario="sed", rng=1)
    model = TechCompetitionModel(rng=1, n_enterprises=10)
    for bad in (-1, 2.5, True):
        with pytest.raises(ValueError, match=f"steps={bad!r}"):
            model.run(bad)  # type: ignore[arg-type]


@settings(max_examples=12, deadline=None)
@given(scenario_names(), rules(), st.integers(0, 2**32 - 1))
def test_strategies_and_policies_valid(scenario: str, rule: str, seed: int) -> None:
    model = TechCompetitionModel(
        scenario=scenario, rng=seed, n_enterprises=300, firm_rule=rule, home_rule=rule
    )
    model.run(15)
    for firm in model.agents_by_type[FirmAgent]:
        assert firm.strategy in ("allow", "restrict")
        if firm.channel == "domestic":
            assert firm.strategy == "allow"
    for gov in model.agents_by_type[GovernmentAgent]:
        assert gov.policy in ("allow", "restrict")
    # fixed strategies in force now (a dated event may have changed them)
    for p, firm in zip(model.core.params.providers, model.firms, strict=True):
        if p.fixed_strategy:
            assert firm.strategy == p.fixed_strategy
    assert model.state.counts.sum() == 300


def test_same_rng_identical_frames_different_rng_differ() -> None:
    params = load_scenario("seed").replace(n_enterprises=800, firm_revision_rate=0.5)
    frames = [TechCompetitionModel(params=params, rng=s).run(30) for s in (7, 7, 8)]
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
    assert not frames[0].equals(frames[2])
    provider = [TechCompetitionModel(params=params, rng=7) for _ in range(2)]
    for m in provider:
        m.run(10)
    pd.testing.assert_frame_equal(
        provider[0].provider_frame(), provider[1].provider_frame(), check_exact=True
    )


def test_generator_rng_gives_the_run_of_its_seed() -> None:
    """A Generator is accepted as ``rng`` and gives exactly the run of the seed it was built
    from: Mesa draws one number from a non-int ``rng`` to seed ``model.random``, and the
    model restores the generator's state so the engine's stream is unaffected."""
    params = load_scenario("seed").replace(n_enterprises=300, firm_revision_rate=0.5)
    a = TechCompetitionModel(params=params, rng=np.random.default_rng(3)).run(8)
    b = TechCompetitionModel(params=params, rng=3).run(8)
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_agent_sets_select_groupby_agg(readme_run) -> None:
    model, _ = readme_run
    firms = model.agents_by_type[FirmAgent]
    assert isinstance(firms, mesa.agent.AgentSet)
    assert len(firms) == model.params.n_providers
    foreign = firms.select(lambda a: a.origin == "home")
    assert len(foreign) == sum(p.foreign for p in model.params.providers)
    by_channel = firms.groupby("channel").agg("share", sum)
    usage = model.state.counts[0].sum(0)[:-1] / model.params.n_enterprises
    channels = np.array([p.channel for p in model.params.providers])
    for channel, total in by_channel.items():
        np.testing.assert_allclose(total, usage[channels == channel].sum())
    np.testing.assert_allclose(
        firms.agg("share", sum),
        model.frame().iloc[-1][["foreign_share", "domestic_share", "open_share"]].sum(),
    )


def test_agent_counts(readme_run) -> None:
    model, _ = readme_run
    p = model.params
    assert len(model.agents_by_type[FirmAgent]) == p.n_providers
    assert len(model.agents_by_type[GovernmentAgent]) == 2
    assert len(model.agents_by_type[EnterpriseAgent]) == p.n_enterprises
    assert len(model.agents) == p.n_providers + 2 + p.n_enterprises
    regions = sorted(g.region for g in model.agents_by_type[GovernmentAgent])
    assert regions == ["home", "rival"]


def test_enterprise_provider_matches_state(readme_run) -> None:
    model, _ = readme_run
    choice = model.state.choice[0]
    for agent in model.agents_by_type[EnterpriseAgent]:
        option = int(choice[agent.index])
        if option == model.params.n_providers:
            assert agent.provider is None and agent.provider_index is None
        else:
            assert isinstance(agent.provider, FirmAgent)
            assert agent.provider is model.firms[option] and agent.provider_index == option
    # every enterprise on a provider is one of its users
    users = {f.index: 0 for f in model.firms}
    for agent in model.agents_by_type[EnterpriseAgent]:
        if agent.provider is not None:
            users[agent.provider.index] += 1
    np.testing.assert_array_equal(list(users.values()), model.state.counts[0].sum(0)[:-1])


def test_provider_frame_contents(readme_run) -> None:
    model, _ = readme_run
    frame = model.provider_frame()
    assert {"step", "agent_id", "name", "channel", *PROVIDER_COLUMNS} <= set(frame.columns)
    assert len(frame) == 201 * model.params.n_providers
    last = frame[frame["step"] == 200].sort_values("agent_id")
    assert list(last["name"]) == [p.name for p in model.params.providers]
    np.testing.assert_array_equal(
        last["strategy"], np.array(["allow", "restrict"])[model.state.strategy[0]]
    )
    obs = model.observation.provider
    for column in ("revenue", "payoff", "quality", "share", "spend_share", "price"):
        np.testing.assert_array_equal(last[column].to_numpy(), obs[column][0])
    assert frame["strategy"].isin(["allow", "restrict"]).all()


def test_government_frame_contents(readme_run) -> None:
    model, frame = readme_run
    gov = model.government_frame()
    assert {"step", "agent_id", "region", "policy"} <= set(gov.columns)
    assert len(gov) == 2 * 201
    for region, column in (("home", "home_restricts"), ("rival", "rival_restricts")):
        policy = gov[gov["region"] == region].sort_values("step")["policy"].to_numpy()
        np.testing.assert_array_equal(policy == "restrict", frame[column].to_numpy() == 1.0)


def test_firm_properties_match_observation(readme_run) -> None:
    model, _ = readme_run
    obs = model.observation.provider
    for firm in model.firms:
        j = firm.index
        assert firm.name == model.params.providers[j].name
        assert firm.origin == ("home" if model.params.providers[j].foreign else "rival")
        assert firm.revenue == obs["revenue"][0, j] and firm.share == obs["share"][0, j]
        assert firm.quality == obs["quality"][0, j] and firm.payoff == obs["payoff"][0, j]
        assert firm.price == obs["price"][0, j] and firm.spend_share == obs["spend_share"][0, j]


def test_params_object_and_overrides_together() -> None:
    base = load_scenario("open").replace(n_enterprises=100)
    model = TechCompetitionModel(params=base, rng=0, home_fine=1.0)
    assert model.params == base.replace(home_fine=1.0)
    assert isinstance(model.params, Params)
