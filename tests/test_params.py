"""Parameters (sim/params.py): every bad input fails at construction with a one-line
ValueError naming the field and the value; scenarios load; metadata is complete."""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.params import (
    Params,
    Provider,
    list_scenarios,
    load_scenario,
    parameter_table,
    params_from_mapping,
    scalar_fields,
)
from tests.strategies import SCALAR_FIELDS, valid_params

SEED = load_scenario("seed")


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


NUMERIC = [f for f in scalar_fields() if str(f.type) in ("int", "float")]


@pytest.mark.parametrize("field", NUMERIC, ids=lambda f: f.name)
def test_out_of_range_values_rejected_for_every_numeric_field(field) -> None:
    low, high = field.metadata["low"], field.metadata["high"]
    step = 1 if str(field.type) == "int" else max(1e-6, abs(high - low) * 1e-3)
    for bad in (low - step, high + step):
        bad = int(bad) if str(field.type) == "int" else bad
        message = error_of(SEED.replace, **{field.name: bad})
        assert_names(message, f"{field.name}={bad!r}", str(low), str(high))


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
        ("firm_rule", 3, "expected a string"),
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


def test_params_are_frozen_and_replace_copies() -> None:
    changed = SEED.replace(home_fine=3.0)
    assert changed.home_fine == 3.0 and SEED.home_fine != 3.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        SEED.home_fine = 1.0  # type: ignore[misc]


@given(valid_params(), st.sampled_from(sorted(SCALAR_FIELDS)))
def test_valid_params_round_trip_through_replace(params: Params, name: str) -> None:
    """Every generated value is accepted again unchanged (validation is idempotent)."""
    again = params.replace(**{name: getattr(params, name)})
    assert again == params


# ---------------------------------------------------------------- providers


def _provider_dicts(params: Params = SEED) -> list[dict]:
    return [dataclasses.asdict(p) for p in params.providers]


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
    assert_names(message, "'dom'", f"{key}='restrict'")


def test_unknown_provider_key() -> None:
    providers = _provider_dicts()
    providers[1]["qualty"] = providers[1].pop("quality")
    message = error_of(SEED.replace, providers=providers)
    assert_names(message, "providers[1]", "'qualty'", "did you mean 'quality'?")


def test_bad_channel() -> None:
    message = error_of(Provider, name="x", channel="cloud")
    assert_names(message, "channel='cloud'", "'direct'", "'partner'", "'domestic'", "'x'")


@pytest.mark.parametrize(
    "field, bad", [("margin", 1.5), ("quality", -0.1), ("price", math.nan), ("margin", "high")]
)
def test_bad_provider_values(field: str, bad: object) -> None:
    message = error_of(Provider, name="lab", channel="direct", **{field: bad})
    assert_names(message, "'lab'", f"{field}={bad!r}")


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
    names = {row["name"] for row in rows}
    assert {f.name for f in scalar_fields()} <= names
    assert {f"providers[].{f.name}" for f in dataclasses.fields(Provider)} <= names
    for row in rows:
        for key in ("unit", "low", "high", "meaning", "source"):
            assert key in row, (row["name"], key)
        assert row["meaning"] and row["source"] and row["unit"]
        if row["default"] is not None and row["low"] is not None:
            assert row["low"] <= row["default"] <= row["high"], row["name"]


def test_defaults_lie_in_their_ranges() -> None:
    for f in scalar_fields():
        value = getattr(Params(), f.name)
        if f.metadata["low"] is not None:
            assert f.metadata["low"] <= value <= f.metadata["high"], f.name
        if f.metadata["choices"] is not None:
            assert value in f.metadata["choices"], f.name
    assert re.fullmatch(r"\d+\.\d+\.\d+", __import__("sim").__version__)
