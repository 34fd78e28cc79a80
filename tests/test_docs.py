"""The documentation matches the code.

``docs/ODD.md`` carries the parameter table rendered from :func:`sim.params.parameter_table`
(print a fresh one with ``.venv/bin/python tests/test_docs.py``), the seed scenario's providers
and the output columns; ``README.md`` carries the output columns and the scenarios. These tests
parse the Markdown tables back and compare them with the code, so a changed default, unit,
range, column or scenario fails here until the text follows.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS
from sim.params import Provider, list_scenarios, load_scenario, parameter_table

ROOT = Path(__file__).resolve().parents[1]
ODD = ROOT / "docs" / "ODD.md"
README = ROOT / "README.md"
NO_RANGE = "—"
REQUIRED = "required"
PARAMETER_HEADER = ("parameter", "default", "unit", "range", "meaning", "source / rationale")
SEED_PROVIDER_FIELDS = tuple(f.name for f in dataclasses.fields(Provider))


# ---------------------------------------------------------------------------------------------
# Rendering (the code's side) and parsing (the documents' side)


def toml_literal(value: Any) -> str:
    """A value as a TOML literal, so that a table cell parses back exactly."""
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
    """Inverse of :func:`toml_literal` for a cell written as `` `literal` ``."""
    text = cell.strip().strip("`")
    return tomllib.loads(f"v = {text}")["v"]


def provider_default(name: str) -> Any:
    """The dataclass default of a :class:`Provider` field, or :data:`REQUIRED`."""
    f = next(f for f in dataclasses.fields(Provider) if f.name == name)
    return REQUIRED if f.default is dataclasses.MISSING else f.default


def expected_rows() -> dict[str, dict[str, Any]]:
    """Code's view of each parameter row: default, unit and range (range ``None`` if open)."""
    rows = {}
    for row in parameter_table():
        name = row["name"]
        default = row["default"]
        if name.startswith("providers[]."):
            default = provider_default(name.removeprefix("providers[]."))
        if row["choices"] is not None:
            bounds: Any = list(row["choices"])
        elif row["low"] is None and row["high"] is None:
            bounds = None
        else:
            low = -math.inf if row["low"] is None else row["low"]
            high = math.inf if row["high"] is None else row["high"]
            bounds = [low, high]
        rows[name] = {**row, "default": default, "range": bounds}
    return rows


def render_parameter_table() -> str:
    """The parameter table as it belongs in ``docs/ODD.md``."""
    lines = [
        "| " + " | ".join(PARAMETER_HEADER) + " |",
        "|" + "|".join(" --- " for _ in PARAMETER_HEADER) + "|",
    ]
    for name, row in expected_rows().items():
        default = row["default"]
        bounds = row["range"]
        cells = [
            f"`{name}`",
            default if default == REQUIRED else f"`{toml_literal(default)}`",
            row["unit"],
            NO_RANGE if bounds is None else f"`{toml_literal(bounds)}`",
            row["meaning"],
            row["source"],
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


@pytest.mark.parametrize("name", list(expected_rows()))
def test_parameter_row_matches_code(
    name: str, documented_parameters: dict[str, tuple[str, ...]]
) -> None:
    expected = expected_rows()[name]
    row = documented_parameters[name]
    assert len(row) == len(PARAMETER_HEADER), f"{name}: row has {len(row)} cells"
    _, default_cell, unit, range_cell, meaning, source = row
    if expected["default"] == REQUIRED:
        assert default_cell == REQUIRED
    else:
        default = parse_literal(default_cell)
        assert default == expected["default"], f"{name}: default {default!r}"
        assert type(default) is type(expected["default"]), f"{name}: default type"
    assert unit == expected["unit"], f"{name}: unit {unit!r}"
    if expected["range"] is None:
        assert range_cell == NO_RANGE, f"{name}: range {range_cell!r}"
    else:
        assert parse_literal(range_cell) == expected["range"], f"{name}: range {range_cell!r}"
    assert meaning, f"{name}: no meaning"
    # A default the code calls an assumption must be called one in the documentation too.
    if "assumption" in expected["source"]:
        assert "assumption" in source, f"{name}: the code calls this default an assumption"


# ---------------------------------------------------------------------------------------------
# The seed scenario's providers


def test_seed_provider_table_matches_seed_scenario(odd: str) -> None:
    rows = table_with_header(odd, "provider", *SEED_PROVIDER_FIELDS[1:])
    seed = load_scenario("seed").providers
    assert [code_name(r[0]) for r in rows] == [p.name for p in seed]
    for row, provider in zip(rows, seed, strict=True):
        values = row[1 : len(SEED_PROVIDER_FIELDS)]
        for field_name, cell in zip(SEED_PROVIDER_FIELDS[1:], values, strict=True):
            assert parse_literal(cell) == getattr(provider, field_name), (
                f"{provider.name}.{field_name}: documented {cell!r}"
            )
        rationale = row[len(SEED_PROVIDER_FIELDS)]
        assert rationale, f"{provider.name}: no rationale"


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
    print(render_parameter_table())
