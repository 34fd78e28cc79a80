"""Parameters (sim/params.py): every bad input fails at construction with a one-line
ValueError naming the field by its full path and the value; overrides by name reach providers,
segments and the network; scenario files merge by name; scenarios load; metadata is complete."""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.errors import InputError, parse_toml, read_toml
from sim.params import (
    SCALAR_FIELDS as SCALAR_NAMES,
)
from sim.params import (
    Event,
    Network,
    Params,
    Provider,
    Segment,
    list_scenarios,
    load_scenario,
    parameter_table,
    params_from_mapping,
    valid_keys,
)
from sim.schema import describe
from tests.strategies import SCALAR_FIELDS, valid_params

SEED = load_scenario("seed")


def with_segments(params: Params = SEED) -> Params:
    """``params`` with two enterprise segments, ``developers`` and ``firms``."""
    return params.replace(
        segments=[{"name": "developers", "share": 0.3}, {"name": "firms", "share": 0.7}]
    )


def error_of(call, *args, **kwargs) -> str:
    """The message of the ValueError ``call`` raises; it must be one line."""
    with pytest.raises(ValueError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message, f"multi-line message: {message!r}"
    return message


def assert_names(message: str, *parts: str) -> None:
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


# ---------------------------------------------------------------- scalar fields


SCALARS = [d for d in describe(Params) if d.name in SCALAR_NAMES]
NUMERIC = [d for d in SCALARS if d.kind in ("number", "whole")]


def test_every_scalar_is_described() -> None:
    assert [d.name for d in SCALARS] == list(SCALAR_NAMES)
    assert len(NUMERIC) >= 40


@pytest.mark.parametrize("field", NUMERIC, ids=lambda f: f.name)
def test_out_of_range_values_rejected_for_every_numeric_field(field) -> None:
    low, high = field.low, field.high
    assert low is not None and high is not None, f"{field.name}: every number has a range"
    step = 1 if field.kind == "whole" else max(1e-6, abs(high - low) * 1e-3)
    for bad in (low - step, high + step):
        bad = int(bad) if field.kind == "whole" else bad
        message = error_of(SEED.replace, **{field.name: bad})
        assert_names(message, f"{field.name}={bad!r}", f"[{low}, {high}]")


@pytest.mark.parametrize("name", ["revision_rate", "home_enforcement", "firm_revision_rate"])
@pytest.mark.parametrize("bad", [-0.01, 1.01, 2.0])
def test_probability_outside_unit_interval(name: str, bad: float) -> None:
    assert_names(error_of(SEED.replace, **{name: bad}), f"{name}={bad!r}", "[0.0, 1.0]")


def test_negative_count() -> None:
    assert_names(error_of(SEED.replace, n_enterprises=-5), "n_enterprises=-5")
    assert_names(error_of(SEED.replace, n_enterprises=0), "n_enterprises=0")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["market_value", "switching_cost", "n_enterprises"])
def test_nan_and_infinity(name: str, bad: float) -> None:
    message = error_of(SEED.replace, **{name: bad})
    assert_names(message, f"{name}={bad!r}")


@pytest.mark.parametrize(
    "name, bad, expected",
    [
        ("market_value", "100", "expected a number, got str"),
        ("market_value", True, "expected a number, got bool"),
        ("n_enterprises", False, "expected a number, got bool"),
        ("n_enterprises", 2.5, "expected a whole number"),
        ("n_enterprises", "5000", "expected a number, got str"),
        ("circumvention", 1, "expected true or false"),
        ("circumvention", "yes", "expected true or false"),
        ("firm_rule", 3, "expected one of"),
        ("firm_rule", "greedy", "expected one of"),
        ("home_policy", "mandate", "expected one of 'allow', 'restrict'"),
        ("market_value", None, "expected a number"),
    ],
)
def test_wrong_types(name: str, bad: object, expected: str) -> None:
    assert_names(error_of(SEED.replace, **{name: bad}), f"{name}={bad!r}", expected)


def test_whole_float_for_int_field_is_coerced_to_int() -> None:
    """A whole-number float (as TOML ``5000.0``) is accepted for a count and stored as int."""
    params = SEED.replace(n_enterprises=300.0)
    assert params.n_enterprises == 300 and type(params.n_enterprises) is int


def test_unknown_keyword_suggests_close_name() -> None:
    message = error_of(SEED.replace, home_fin=3.0)
    assert_names(message, "'home_fin'", "did you mean 'home_fine'?", "market_value")


@pytest.mark.parametrize(
    "key, fragments",
    [
        ("partner-cloud.margn", ("providers[partner-cloud]", "'margn'", "did you mean 'margin'")),
        ("partner-clod.margin", ("'partner-clod'", "did you mean 'partner-cloud'")),
        ("network.mean_degre", ("network", "'mean_degre'", "did you mean 'mean_degree'")),
        ("developers.revision_rat", ("segments[developers]", "did you mean 'revision_rate'")),
    ],
)
def test_unknown_dotted_names_suggest_close_names(key: str, fragments: tuple[str, ...]) -> None:
    assert_names(error_of(with_segments().replace, **{key: 0.3}), *fragments)


def test_params_are_frozen_and_replace_copies() -> None:
    changed = SEED.replace(home_fine=3.0)
    assert changed.home_fine == 3.0 and SEED.home_fine != 3.0
    with pytest.raises(ValidationError):
        SEED.home_fine = 1.0  # type: ignore[misc]
    with pytest.raises(ValidationError):
        SEED.providers[0].margin = 0.1  # type: ignore[misc]


@given(valid_params(), st.sampled_from(sorted(SCALAR_FIELDS)))
def test_valid_params_round_trip_through_replace(params: Params, name: str) -> None:
    """Every generated value is accepted again unchanged (validation is idempotent)."""
    again = params.replace(**{name: getattr(params, name)})
    assert again == params


# ---------------------------------------------------------------- providers


def _provider_dicts(params: Params = SEED) -> list[dict]:
    return [p.model_dump() for p in params.providers]


def test_duplicate_provider_names() -> None:
    providers = _provider_dicts()
    providers[3]["name"] = providers[2]["name"]
    message = error_of(SEED.replace, providers=providers)
    assert_names(message, "providers", repr(providers[2]["name"]))


def test_no_foreign_provider() -> None:
    providers = [p for p in _provider_dicts() if p["channel"] == "domestic"]
    message = error_of(SEED.replace, providers=providers)
    assert_names(message, "providers", "foreign")
    # the value: the line-up that was given
    assert_names(message, *(repr(p["name"]) for p in providers))


def test_no_domestic_provider() -> None:
    providers = [p for p in _provider_dicts() if p["channel"] != "domestic"]
    message = error_of(SEED.replace, providers=providers)
    assert_names(message, "providers", "domestic")
    assert_names(message, *(repr(p["name"]) for p in providers))


@pytest.mark.parametrize("key", ["fixed_strategy", "initial_strategy"])
def test_domestic_provider_cannot_restrict(key: str) -> None:
    message = error_of(Provider, name="dom", channel="domestic", **{key: "restrict"})
    assert_names(message, f"{key}='restrict'", "domestic")
    # in a line-up the error names the provider
    message = error_of(SEED.replace, **{f"domestic-a.{key}": "restrict"})
    assert_names(message, f"providers[domestic-a].{key}='restrict'")


def test_unknown_provider_key() -> None:
    providers = _provider_dicts()
    providers[1]["qualty"] = providers[1].pop("quality")
    message = error_of(SEED.replace, providers=providers)
    assert_names(message, "providers[partner-cloud]", "'qualty'", "did you mean 'quality'?")


def test_bad_channel() -> None:
    message = error_of(Provider, name="x", channel="cloud")
    assert_names(message, "channel='cloud'", "'direct'", "'partner'", "'domestic'", "'open'")
    message = error_of(SEED.replace, providers=[*_provider_dicts(), {"name": "x", "channel": "c"}])
    assert_names(message, "providers[x].channel='c'", "'direct'")


@pytest.mark.parametrize(
    "field, bad", [("margin", 1.5), ("quality", -0.1), ("price", math.nan), ("margin", "high")]
)
def test_bad_provider_values(field: str, bad: object) -> None:
    assert_names(error_of(Provider, name="lab", channel="direct", **{field: bad}), f"{field}=")
    message = error_of(SEED.replace, **{f"direct-lab.{field}": bad})
    assert_names(message, f"providers[direct-lab].{field}={bad!r}")


@pytest.mark.parametrize("name", ["", "a/b", "../x", "x" * 65, "-lead", "sp ace", "dot.ted"])
def test_unsafe_provider_names_are_refused(name: str) -> None:
    message = error_of(Provider, name=name, channel="direct")
    assert_names(message, f"name={name!r}"[:60], "1 to 64 letters, digits")


def test_provider_missing_required_key() -> None:
    message = error_of(SEED.replace, providers=[{"channel": "direct"}, *_provider_dicts()[2:]])
    assert_names(message, "providers[0]", "'name'")


# ---------------------------------------------------------------- TOML and scenarios


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_unknown_key_in_toml_suggests_close_name(tmp_path: Path) -> None:
    path = _write(tmp_path, 'base = "seed"\nhome_fin = 3.0\n')
    message = error_of(Params.from_toml, path)
    assert_names(message, str(path), "'home_fin'", "did you mean 'home_fine'?")


def test_bad_value_in_toml_names_file_field_and_value(tmp_path: Path) -> None:
    path = _write(tmp_path, 'base = "seed"\nrevision_rate = 1.5\n')
    assert_names(error_of(Params.from_toml, path), str(path), "revision_rate=1.5")


def test_bad_provider_in_toml(tmp_path: Path) -> None:
    text = (
        '[[providers]]\nname = "a"\nchannel = "cloud"\n\n'
        '[[providers]]\nname = "b"\nchannel = "domestic"\n'
    )
    path = _write(tmp_path, text)
    assert_names(error_of(Params.from_toml, path), str(path), "channel='cloud'")


def test_malformed_toml(tmp_path: Path) -> None:
    path = _write(tmp_path, "home_fine = = 3\n")
    assert_names(error_of(Params.from_toml, path), str(path), "malformed TOML")


def test_missing_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    assert_names(error_of(Params.from_toml, path), str(path), "cannot read")


def test_unknown_scenario_name() -> None:
    message = error_of(load_scenario, "seeds")
    assert_names(message, "scenario='seeds'", "did you mean 'seed'?", "mandate")
    assert_names(error_of(load_scenario, 3), "scenario=3")


@pytest.mark.parametrize("name", ["../scenarios/seed", "scenarios/seed", "/tmp/x", "seed.toml"])
def test_scenario_names_never_reach_files_outside_the_package(name: str) -> None:
    """Only shipped scenarios are found by name: a path, even to a real scenario file, is an
    unknown name (a user's file is read with Params.from_toml)."""
    assert_names(error_of(load_scenario, name), "unknown scenario", "classic, mandate")
    assert_names(error_of(params_from_mapping, {"base": name}), "base=", "unknown scenario")


def test_unknown_base_scenario_in_mapping() -> None:
    assert_names(error_of(params_from_mapping, {"base": "sed"}), "'sed'", "did you mean 'seed'")


def test_scenarios_load_and_match_their_files(tmp_path: Path) -> None:
    names = list_scenarios()
    assert set(names) >= {"seed", "mandate", "open", "protectionist"}
    assert all(names.values()), "every scenario has a description"
    for name in names:
        params = load_scenario(name)
        assert isinstance(params, Params)
    # a user file with base = "seed" and no overrides is the seed scenario
    assert Params.from_toml(_write(tmp_path, 'base = "seed"\n')) == SEED


def test_seed_scenario_values() -> None:
    names = [p.name for p in SEED.providers]
    assert names[:2] == ["direct-lab", "partner-cloud"]
    lab, cloud = SEED.providers[:2]
    assert (lab.channel, cloud.channel) == ("direct", "partner")
    assert lab.home_exposure > cloud.home_exposure and cloud.rival_dependence > lab.rival_dependence
    mandate = load_scenario("mandate")
    assert (mandate.home_policy, mandate.home_rule) == ("restrict", "fixed")
    assert load_scenario("protectionist").rival_policy == "restrict"
    assert load_scenario("open").security_weight == 0.0


def test_parameter_table_is_complete() -> None:
    rows = parameter_table()
    names = [row.name for row in rows]
    assert len(names) == len(set(names))
    expected = set(SCALAR_NAMES)
    for prefix, model in (
        ("providers[].", Provider),
        ("segments[].", Segment),
        ("network.", Network),
        ("events[].", Event),
    ):
        expected |= {prefix + f for f in model.model_fields}
    assert set(names) == expected
    for row in rows:
        assert row.meaning and row.source and row.unit, row.name
        if row.kind in ("number", "whole"):
            assert row.low is not None and row.high is not None, row.name
        if row.default is not None and row.low is not None:
            assert row.low <= row.default <= row.high, row.name


def test_defaults_lie_in_their_ranges() -> None:
    defaults = Params()
    for f in SCALARS:
        value = getattr(defaults, f.name)
        if f.low is not None:
            assert f.low <= value <= f.high, f.name
        if f.choices is not None:
            assert value in f.choices, f.name
    assert re.fullmatch(r"\d+\.\d+\.\d+", __import__("sim").__version__)


# ---------------------------------------------------------------- overrides by name


def test_provider_field_override_by_name_reaches_that_provider_only() -> None:
    changed = SEED.replace(**{"partner-cloud.margin": 0.2, "partner-cloud.mandate_coverage": 1})
    before = {p.name: p for p in SEED.providers}
    for provider in changed.providers:
        if provider.name == "partner-cloud":
            assert (provider.margin, provider.mandate_coverage) == (0.2, 1.0)
            assert (
                provider.model_copy(update={"margin": 0.3, "mandate_coverage": 0.5})
                == (before["partner-cloud"])
            )
        else:
            assert provider == before[provider.name]
    back = {"partner-cloud.margin": 0.3, "partner-cloud.mandate_coverage": 0.5}
    assert changed.replace(**back) == SEED
    assert_names(
        error_of(SEED.replace, **{"partner-cloud.margin": 1.5}),
        "providers[partner-cloud].margin=1.5",
        "[0.0, 1.0]",
    )


def test_segment_and_network_overrides_by_name() -> None:
    base = with_segments()
    changed = base.replace(**{"developers.revision_rate": 0.3, "network.mean_degree": 6})
    developers, firms = changed.segments
    assert developers.revision_rate == 0.3 and firms.revision_rate is None
    assert changed.network.mean_degree == 6 and base.network.mean_degree == 8
    # the resolved segments fall back to the global value where unset
    assert [s.revision_rate for s in changed.resolved_segments()] == [0.3, SEED.revision_rate]
    assert_names(
        error_of(base.replace, **{"developers.revision_rate": 1.5}),
        "segments[developers].revision_rate=1.5",
        "[0.0, 1.0]",
    )
    assert_names(
        error_of(base.replace, **{"network.mean_degree": 3.5}),
        "network.mean_degree=3.5",
        "whole number",
    )


def test_every_valid_key_is_accepted_by_replace() -> None:
    """valid_keys lists what replace takes: setting each to its own value changes nothing."""
    params = with_segments()
    dumped = params.model_dump()
    for key in valid_keys(params):
        if "." not in key:
            value = dumped[key]
        else:
            owner, field = key.split(".", 1)
            if owner == "network":
                value = dumped["network"][field]
            else:
                items = [*dumped["providers"], *dumped["segments"]]
                value = next(i for i in items if i["name"] == owner)[field]
        assert params.replace(**{key: value}) == params, key


# ---------------------------------------------------------------- NumPy scalars


def test_numpy_scalars_are_accepted_wherever_a_number_is() -> None:
    base = with_segments()
    changed = base.replace(
        n_enterprises=np.int64(100),
        market_value=np.float32(3.5),
        home_fine=np.int32(7),
        circumvention=np.bool_(True),
        frontier_release_interval=np.uint8(3),
        **{
            "partner-cloud.margin": np.float64(0.2),
            "developers.revision_rate": np.float16(0.25),
            "network.mean_degree": np.int16(6),
        },
    )
    assert changed.n_enterprises == 100 and type(changed.n_enterprises) is int
    assert changed.market_value == 3.5 and type(changed.market_value) is float
    assert changed.home_fine == 7.0 and type(changed.home_fine) is float
    assert changed.circumvention is True
    assert changed.frontier_release_interval == 3
    assert changed.provider("partner-cloud").margin == 0.2
    assert changed.segments[0].revision_rate == 0.25
    assert changed.network.mean_degree == 6 and type(changed.network.mean_degree) is int
    # the same value given as a Python number gives equal parameters
    assert changed == base.replace(
        n_enterprises=100,
        market_value=3.5,
        home_fine=7,
        circumvention=True,
        frontier_release_interval=3,
        **{"partner-cloud.margin": 0.2, "developers.revision_rate": 0.25, "network.mean_degree": 6},
    )
    assert Provider(name="p", channel="direct", quality=np.float64(0.5)).quality == 0.5
    assert Event(month=np.int64(3), set={"home_fine": 1.0}).month == 3


@pytest.mark.parametrize(
    "name, bad, expected",
    [
        ("n_enterprises", np.float64(2.5), "whole number"),
        ("market_value", np.float64(np.nan), "finite"),
        ("market_value", np.complex128(1 + 1j), "real number"),
        ("circumvention", np.int64(1), "true or false"),
        ("market_value", np.bool_(True), "expected a number"),
    ],
)
def test_numpy_scalars_are_checked_like_python_numbers(
    name: str, bad: object, expected: str
) -> None:
    assert_names(error_of(SEED.replace, **{name: bad}), f"{name}=", expected)


# ---------------------------------------------------------------- scenario files


def test_scenario_file_merges_providers_by_name(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'base = "seed"\n[[providers]]\nname = "partner-cloud"\nmargin = 0.2\n',
    )
    params = Params.from_toml(path)
    assert params == SEED.replace(**{"partner-cloud.margin": 0.2})


def test_scenario_file_adds_and_removes_providers(tmp_path: Path) -> None:
    text = (
        'base = "seed"\n'
        '[[providers]]\nname = "domestic-d"\nremove = true\n'
        '[[providers]]\nname = "open-weights"\nchannel = "open"\norigin = "rival"\n'
        "quality = 0.8\nprice = 0.0\n"
    )
    params = Params.from_toml(_write(tmp_path, text))
    names = [p.name for p in params.providers]
    assert names == [*(p.name for p in SEED.providers if p.name != "domestic-d"), "open-weights"]
    assert params.provider("open-weights").channel == "open"
    # removing a name the base does not have is an error naming it
    bad = _write(tmp_path, 'base = "seed"\n[[providers]]\nname = "nobody"\nremove = true\n')
    assert_names(error_of(Params.from_toml, bad), "providers[nobody].remove", "'nobody'")


def test_scenario_file_refuses_duplicate_names(tmp_path: Path) -> None:
    text = (
        'base = "seed"\n[[providers]]\nname = "partner-cloud"\nmargin = 0.2\n'
        '[[providers]]\nname = "partner-cloud"\nmargin = 0.3\n'
    )
    message = error_of(Params.from_toml, _write(tmp_path, text))
    assert_names(message, "providers[partner-cloud]", "duplicate", "'partner-cloud'")
    text = (
        'base = "seed"\n[[segments]]\nname = "a"\nshare = 0.5\n'
        '[[segments]]\nname = "a"\nshare = 0.5\n'
    )
    assert_names(error_of(Params.from_toml, _write(tmp_path, text)), "segments[a]", "duplicate")


def test_scenario_file_providers_must_be_tables(tmp_path: Path) -> None:
    message = error_of(Params.from_toml, _write(tmp_path, 'base = "seed"\nproviders = 5\n'))
    assert_names(message, "providers=5", "list of tables")


# ---------------------------------------------------------------- events


def test_event_errors_name_the_event_and_the_key(tmp_path: Path) -> None:
    events = (
        "[[events]]\nmonth = 1\nset = { home_fine = 3.0 }\n"
        "[[events]]\nmonth = 2\nset = { market_value = 50.0 }\n"
        "[[events]]\nmonth = 3\nset = { home_fine = -1.0 }\n"
    )
    message = error_of(Params.from_toml, _write(tmp_path, 'base = "seed"\n' + events))
    assert_names(message, "events[2].set.home_fine=-1.0", "[0.0, 1000000.0]")
    nested = '[[events]]\nmonth = 4\nset = { "partner-cloud.margin" = 2.0 }\n'
    message = error_of(Params.from_toml, _write(tmp_path, 'base = "seed"\n' + nested))
    assert_names(message, "events[0].set.partner-cloud.margin=2.0", "[0.0, 1.0]")
    typo = "[[events]]\nmonth = 4\nset = { home_fin = 2.0 }\n"
    message = error_of(Params.from_toml, _write(tmp_path, 'base = "seed"\n' + typo))
    assert_names(message, "events[0].set", "'home_fin'", "did you mean 'home_fine'")
    structural = "[[events]]\nmonth = 4\nset = { n_enterprises = 20 }\n"
    message = error_of(Params.from_toml, _write(tmp_path, 'base = "seed"\n' + structural))
    assert_names(message, "events[0].set.n_enterprises", "cannot change during a run")


def test_events_apply_at_their_month() -> None:
    params = SEED.replace(
        events=[
            {"month": 5, "set": {"home_fine": 3.0}},
            {"month": 2, "set": {"partner-cloud.margin": 0.1}},
        ]
    )
    stages = {stage.month: stage.params for stage in params.schedule()}
    assert sorted(stages) == [0, 2, 5]
    assert stages[0] == SEED
    assert stages[2].provider("partner-cloud").margin == 0.1 and stages[2].home_fine == 10.0
    assert stages[5].provider("partner-cloud").margin == 0.1 and stages[5].home_fine == 3.0


# ---------------------------------------------------------------- the one TOML reader


def test_deeply_nested_toml_is_one_line_error(tmp_path: Path) -> None:
    depth = 100_000
    path = _write(tmp_path, "x = " + "[" * depth + "]" * depth + "\n")
    assert_names(error_of(Params.from_toml, path), str(path), "nested too deeply")
    assert_names(error_of(parse_toml, "x = " + "[" * depth, "here"), "here: malformed TOML")


def test_devices_and_fifos_are_refused_without_reading(tmp_path: Path) -> None:
    """A character device or a FIFO would never end or block the reader: refused by kind."""
    assert_names(error_of(Params.from_toml, "/dev/zero"), "/dev/zero", "not a regular file")
    fifo = tmp_path / "scenario.toml"
    os.mkfifo(fifo)
    assert_names(error_of(Params.from_toml, fifo), str(fifo), "not a regular file")
    assert_names(error_of(read_toml, tmp_path, "sweep file"), "not a regular file")


def test_oversized_input_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, "# " + "x" * (1 << 20) + "\n")
    assert_names(error_of(Params.from_toml, path), str(path), "expected at most")


def test_input_errors_are_value_errors_with_a_path() -> None:
    with pytest.raises(InputError) as info:
        SEED.replace(**{"partner-cloud.margin": 2.0})
    assert info.value.path == "providers[partner-cloud].margin"
    assert info.value.detail == "=2.0: expected a value in [0.0, 1.0]"
