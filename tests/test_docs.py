"""The documentation matches the code.

``docs/ODD.md`` carries the parameter table rendered from :func:`sim.params.parameter_table`
(print a fresh one with ``.venv/bin/python tests/test_docs.py``), the seed scenario's providers
and the output columns; ``docs/experiments.md`` the sweep file's keys rendered from
:class:`sim.experiments.spec.SweepSpec` (``.venv/bin/python tests/test_docs.py sweep``);
``README.md`` the output columns and the scenarios. These tests parse the Markdown tables back
and compare them with the code, so a changed default, unit, range, meaning, source, column or
scenario fails here until the text follows.
"""

from __future__ import annotations

import html
import math
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS
from sim.experiments.spec import Dimension, SweepSpec
from sim.params import Provider, Segment, list_scenarios, load_scenario, parameter_table
from sim.schema import FieldDoc, describe

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
EXPERIMENTS_DOC = ROOT / "docs" / "experiments.md"
README = ROOT / "README.md"
NO_RANGE = "—"
REQUIRED = "required"
UNSET = "unset"
PARAMETER_HEADER = ("parameter", "default", "unit", "range", "meaning", "source / rationale")
SWEEP_HEADER = ("key", "default", "unit", "range", "meaning")


# ---------------------------------------------------------------------------------------------
# Rendering (the code's side) and parsing (the documents' side)


def toml_literal(value: Any) -> str:
    """A value as a TOML literal, so that a table cell parses back exactly (``None``, an unset
    optional field, is written :data:`UNSET`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


def parse_literal(cell: str) -> Any:
    """Inverse of :func:`toml_literal` for a cell written as `` `literal` `` (:data:`UNSET` is
    ``None``, an optional field left unset)."""
    if cell.strip() == UNSET:
        return None
    text = cell.strip().strip("`")
    return tomllib.loads(f"v = {text}")["v"]


def expected_rows(docs: list[FieldDoc] | None = None) -> dict[str, dict[str, Any]]:
    """Code's view of each parameter row: default (:data:`REQUIRED`, :data:`UNSET` or a value),
    unit, range (``None`` if open), meaning and source."""
    rows = {}
    for row in parameter_table() if docs is None else docs:
        if row.required:
            default: Any = REQUIRED
        elif row.default is None:
            default = UNSET
        else:
            default = list(row.default) if isinstance(row.default, tuple) else row.default
        if row.choices is not None:
            bounds: Any = list(row.choices)
        elif row.low is None and row.high is None:
            bounds = None
        else:
            low = -math.inf if row.low is None else row.low
            high = math.inf if row.high is None else row.high
            bounds = [low, high]
        rows[row.name] = {
            "default": default,
            "unit": row.unit,
            "range": bounds,
            "meaning": row.meaning,
            "source": row.source,
        }
    return rows


def _default_cell(default: Any) -> str:
    return default if default in (REQUIRED, UNSET) else f"`{toml_literal(default)}`"


def text_cell(text: str) -> str:
    """Prose as a table cell: ``<name>`` would be read as an HTML tag, so ``<`` is escaped."""
    return html.escape(text, quote=False)


def render_parameter_table() -> str:
    """The parameter table as it belongs in ``docs/ODD.md``."""
    lines = [
        "| " + " | ".join(PARAMETER_HEADER) + " |",
        "|" + "|".join(" --- " for _ in PARAMETER_HEADER) + "|",
    ]
    for name, row in expected_rows().items():
        bounds = row["range"]
        cells = [
            f"`{name}`",
            _default_cell(row["default"]),
            text_cell(row["unit"]),
            NO_RANGE if bounds is None else f"`{toml_literal(bounds)}`",
            text_cell(row["meaning"]),
            text_cell(row["source"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def sweep_key_docs() -> list[FieldDoc]:
    """The sweep file's keys: those of :class:`SweepSpec` but ``quick`` and ``source`` (the
    variant and the file, not keys), then a dimension's keys as ``parameters.<name>.<key>``.
    As a file sees them: ``name`` defaults to the file's stem, ``[fixed]`` and ``[parameters]``
    are tables (unset: none), and ``record``'s number range is that of its JSON Schema."""
    numbers = SweepSpec.model_json_schema()["properties"]["record"]["anyOf"][1]
    as_file = {
        "name": {"required": False},
        "fixed": {"default": None},
        "parameters": {"default": None},
        "record": {"choices": None, "low": numbers["minimum"], "high": numbers["maximum"]},
    }
    keys = [
        FieldDoc(**{**d.__dict__, **as_file.get(d.name, {})})
        for d in describe(SweepSpec)
        if d.name not in ("quick", "source")
    ]
    keys += [
        FieldDoc(**{**d.__dict__, "name": f"parameters.<name>.{d.name}"})
        for d in describe(Dimension)
        if d.name != "name"
    ]
    return keys


def render_sweep_table() -> str:
    """The sweep file's key table as it belongs in ``docs/experiments.md``: the ``record`` key
    takes ``"final"`` or a whole number, so its range cell lists both."""
    lines = [
        "| " + " | ".join(SWEEP_HEADER) + " |",
        "|" + "|".join(" --- " for _ in SWEEP_HEADER) + "|",
    ]
    for name, row in expected_rows(sweep_key_docs()).items():
        bounds = row["range"]
        cells = [
            f"`{name}`",
            _default_cell(row["default"]),
            text_cell(row["unit"]),
            NO_RANGE if bounds is None else f"`{toml_literal(bounds)}`",
            text_cell(row["meaning"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_tables(text: str) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """Every pipe table in ``text`` as (header cells, body rows); the separator row dropped."""
    tables = []
    block: list[str] = []
    for line in [*text.splitlines(), ""]:
        if line.lstrip().startswith("|"):
            block.append(line.strip())
            continue
        if len(block) >= 2:
            cells = [tuple(c.strip() for c in row.strip("|").split("|")) for row in block]
            tables.append((cells[0], cells[2:]))
        block = []
    return tables


def table_with_header(text: str, *first_cells: str) -> list[tuple[str, ...]]:
    """Body rows of the one table whose header starts with ``first_cells`` (case-insensitive)."""
    wanted = tuple(c.lower() for c in first_cells)
    found = [
        body
        for header, body in markdown_tables(text)
        if tuple(c.lower() for c in header[: len(wanted)]) == wanted
    ]
    assert len(found) == 1, f"expected one table headed {first_cells}, found {len(found)}"
    return found[0]


def code_name(cell: str) -> str:
    match = re.fullmatch(r"`([^`]+)`", cell.strip())
    assert match, f"expected a `name` cell, got {cell!r}"
    return match.group(1)


@pytest.fixture(scope="module")
def odd() -> str:
    return ODD.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def readme() -> str:
    return README.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def experiments_doc() -> str:
    return EXPERIMENTS_DOC.read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# The ODD parameter table


@pytest.fixture(scope="module")
def documented_parameters(odd: str) -> dict[str, tuple[str, ...]]:
    rows = table_with_header(odd, *PARAMETER_HEADER)
    names = [code_name(r[0]) for r in rows]
    assert len(names) == len(set(names)), "a parameter is listed twice in docs/ODD.md"
    return {code_name(r[0]): r for r in rows}


def test_every_parameter_is_documented_and_nothing_else(
    documented_parameters: dict[str, tuple[str, ...]],
) -> None:
    assert set(documented_parameters) == set(expected_rows())


def check_row(name: str, expected: dict[str, Any], row: tuple[str, ...], width: int) -> None:
    """One documented row against the code: every cell, default and range parsed back."""
    assert len(row) == width, f"{name}: row has {len(row)} cells"
    default_cell, unit, range_cell, meaning = row[1:5]
    if expected["default"] in (REQUIRED, UNSET):
        assert default_cell == expected["default"], f"{name}: default {default_cell!r}"
    else:
        default = parse_literal(default_cell)
        assert default == expected["default"], f"{name}: default {default!r}"
        assert type(default) is type(expected["default"]), f"{name}: default type"
    assert html.unescape(unit) == expected["unit"], f"{name}: unit {unit!r}"
    if expected["range"] is None:
        assert range_cell == NO_RANGE, f"{name}: range {range_cell!r}"
    else:
        assert parse_literal(range_cell) == expected["range"], f"{name}: range {range_cell!r}"
    assert html.unescape(meaning) == expected["meaning"], f"{name}: meaning differs from the schema"


@pytest.mark.parametrize("name", list(expected_rows()))
def test_parameter_row_matches_code(
    name: str, documented_parameters: dict[str, tuple[str, ...]]
) -> None:
    expected = expected_rows()[name]
    row = documented_parameters[name]
    check_row(name, expected, row, len(PARAMETER_HEADER))
    assert html.unescape(row[5]) == expected["source"], f"{name}: source differs from the schema"
    assert expected["source"] and expected["meaning"], f"{name}: undocumented in the schema"


def test_table_texts_fit_in_a_markdown_cell() -> None:
    for name, row in {**expected_rows(), **expected_rows(sweep_key_docs())}.items():
        for key in ("meaning", "source", "unit"):
            assert "|" not in row[key] and "\n" not in row[key], (name, key)


# ---------------------------------------------------------------------------------------------
# The sweep file's keys (docs/experiments.md)


@pytest.fixture(scope="module")
def documented_sweep_keys(experiments_doc: str) -> dict[str, tuple[str, ...]]:
    rows = table_with_header(experiments_doc, *SWEEP_HEADER)
    return {code_name(r[0]): r for r in rows}


def test_every_sweep_key_is_documented_and_nothing_else(
    documented_sweep_keys: dict[str, tuple[str, ...]],
) -> None:
    assert list(documented_sweep_keys) == list(expected_rows(sweep_key_docs()))


@pytest.mark.parametrize("name", list(expected_rows(sweep_key_docs())))
def test_sweep_key_row_matches_code(
    name: str, documented_sweep_keys: dict[str, tuple[str, ...]]
) -> None:
    check_row(name, expected_rows(sweep_key_docs())[name], documented_sweep_keys[name], 5)


# ---------------------------------------------------------------------------------------------
# The seed scenario's providers


def provider_table(text: str) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The seed scenario's provider table: header and rows (header ``provider``, ``channel``,
    any further provider fields, then ``rationale``)."""
    found = [
        (header, body)
        for header, body in markdown_tables(text)
        if header[:2] == ("provider", "channel")
    ]
    assert len(found) == 1, f"expected one provider table, found {len(found)}"
    return found[0]


def test_seed_provider_table_matches_seed_scenario(odd: str) -> None:
    header, rows = provider_table(odd)
    fields = header[1:-1]
    assert header[-1] == "rationale"
    assert set(fields) <= set(Provider.model_fields), "every column is a Provider field"
    seed = load_scenario("seed").providers
    assert [code_name(r[0]) for r in rows] == [p.name for p in seed]
    for row, provider in zip(rows, seed, strict=True):
        for field_name, cell in zip(fields, row[1:-1], strict=True):
            value = getattr(provider, field_name)
            value = list(value) if isinstance(value, tuple) else value
            assert parse_literal(cell) == value, (
                f"{provider.name}.{field_name}: documented {cell!r}"
            )
        assert row[-1], f"{provider.name}: no rationale"
    # every field a seed provider sets away from its default is a column
    defaults = Provider.model_fields
    differing = {
        name
        for p in seed
        for name in Provider.model_fields
        if name != "name" and getattr(p, name) != defaults[name].default
    }
    assert differing <= set(fields), f"undocumented seed values: {differing - set(fields)}"


def test_seed_segment_table_matches_seed_scenario(odd: str) -> None:
    """Every segment of the seed is documented with each field it sets and a rationale; an
    unset behavioural field (which takes the scalar of the same name) is written unset."""
    found = [(h, b) for h, b in markdown_tables(odd) if h[:2] == ("segment", "share")]
    assert len(found) == 1, f"expected one segment table, found {len(found)}"
    header, rows = found[0]
    fields = header[1:-1]
    assert header[-1] == "rationale"
    assert set(fields) <= set(Segment.model_fields), "every column is a Segment field"
    segments = load_scenario("seed").segments
    assert [code_name(r[0]) for r in rows] == [s.name for s in segments]
    for row, segment in zip(rows, segments, strict=True):
        for field_name, cell in zip(fields, row[1:-1], strict=True):
            value = getattr(segment, field_name)
            value = list(value) if isinstance(value, tuple) else value
            where = f"{segment.name}.{field_name}"
            assert parse_literal(cell) == value, f"{where}: documented {cell!r}"
        assert row[-1], f"{segment.name}: no rationale"
    defaults = Segment.model_fields
    differing = {
        name
        for s in segments
        for name in Segment.model_fields
        if name != "name" and getattr(s, name) != defaults[name].default
    }
    assert differing <= set(fields), f"undocumented seed values: {differing - set(fields)}"


def test_seed_scalar_table_matches_both_scenarios(odd: str) -> None:
    """The seed's scalar (and network) settings beside classic's, each with a rationale, and
    every scalar in which the two differ is listed."""
    rows = table_with_header(odd, "parameter", "seed", "classic", "rationale")
    seed, classic = load_scenario("seed"), load_scenario("classic")

    def value(params: Any, name: str) -> Any:
        if name.startswith("network."):
            return getattr(params.network, name.removeprefix("network."))
        return getattr(params, name)

    listed = set()
    for row in rows:
        name = code_name(row[0])
        listed.add(name)
        assert parse_literal(row[1]) == value(seed, name), f"{name}: seed value"
        assert parse_literal(row[2]) == value(classic, name), f"{name}: classic value"
        assert row[3], f"{name}: no rationale"
    scalars = [n for n in type(seed).model_fields if n not in ("providers", "segments", "events")]
    differing = {
        n for n in scalars if n != "network" and getattr(seed, n) != getattr(classic, n)
    } | {
        f"network.{n}"
        for n in type(seed.network).model_fields
        if getattr(seed.network, n) != getattr(classic.network, n)
    }
    differing -= {"description"}
    assert differing <= listed, f"undocumented seed scalars: {differing - listed}"


# ---------------------------------------------------------------------------------------------
# Output columns and scenarios, in both documents


@pytest.mark.parametrize("document", ["odd", "readme"])
def test_every_output_column_is_documented(document: str, request: pytest.FixtureRequest) -> None:
    text = request.getfixturevalue(document)
    model_rows = table_with_header(text, "model column")
    provider_rows = table_with_header(text, "provider column")
    model_names = [code_name(r[0]) for r in model_rows]
    provider_names = [code_name(r[0]) for r in provider_rows]
    assert [n for n in model_names if n != "step"] == list(MODEL_COLUMNS)
    assert set(PROVIDER_COLUMNS) <= set(provider_names)
    for row in (*model_rows, *provider_rows):
        assert len(row) == 3 and all(row), f"{row[0]}: expected a unit and a definition"


@pytest.mark.parametrize("document", ["odd", "readme"])
def test_scenarios_match_the_package(document: str, request: pytest.FixtureRequest) -> None:
    text = request.getfixturevalue(document)
    rows = table_with_header(text, "scenario")
    assert sorted(code_name(r[0]) for r in rows) == sorted(list_scenarios())


def test_readme_links_the_documentation(readme: str) -> None:
    for target in (
        "docs/ODD.md",
        "docs/experiments.md",
        "docs/visualization.md",
        "docs/validation.md",
        "docs/performance.md",
        "docs/reliability.md",
        "docs/figures/baseline_timeseries.png",
        "docs/figures/phase_diagram.png",
        "docs/figures/counterfactuals.png",
    ):
        assert f"]({target})" in readme, f"README.md does not link {target}"
        assert (ROOT / target).is_file(), f"README.md links {target}, which does not exist"


if __name__ == "__main__":
    print(render_sweep_table() if sys.argv[1:] == ["sweep"] else render_parameter_table())
