"""ECharts options for the page's panels, built from a model's collected outputs.

Pure functions of the model: they read ``model.datacollector.model_vars`` (one list per output
column, entry ``t`` = step ``t``) and the provider agents, and return plain dicts that the
browser's ECharts (served from the locally installed ``solara-assets``) draws. Building a dict
costs well under a millisecond per panel; the drawing happens in the browser.

Units as in the model: one step is one month, money in $M/step, quality relative to the
frontier (= 1), shares are fractions of the rival region's enterprises.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.model import TechCompetitionModel

FOREIGN_COLOURS = ("#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22")
DOMESTIC_COLOURS = ("#1f77b4", "#2ca02c", "#17becf", "#9467bd", "#393b79", "#637939")
NO_PROVIDER_COLOUR = "#b0b0b0"


def provider_colours(model: TechCompetitionModel) -> list[str]:
    """One colour per provider (index j): warm for foreign, cool for domestic."""
    colours, n_foreign, n_domestic = [], 0, 0
    for provider in model.params.providers:
        if provider.foreign:
            colours.append(FOREIGN_COLOURS[n_foreign % len(FOREIGN_COLOURS)])
            n_foreign += 1
        else:
            colours.append(DOMESTIC_COLOURS[n_domestic % len(DOMESTIC_COLOURS)])
            n_domestic += 1
    return colours


def _series(name: str, values: Sequence[float], colour: str, **style: Any) -> dict[str, Any]:
    """A line series over steps 0..T-1 as [step, value] pairs (a marker while there is only
    the initial point, which a line cannot show)."""
    return {
        "type": "line",
        "name": name,
        "data": [[t, v] for t, v in enumerate(values)],
        "showSymbol": len(values) == 1,
        "color": colour,
        **style,
    }


def _time_chart(
    title: str,
    model: TechCompetitionModel,
    series: list[dict[str, Any]],
    y_axis: dict[str, Any] | list[dict[str, Any]],
) -> dict[str, Any]:
    last = max(model.steps, 1)
    return {
        "animation": False,
        "title": {"text": title, "left": 8, "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"left": 56, "right": 56, "top": 64, "bottom": 40},
        "xAxis": {"type": "value", "name": "month", "min": 0, "max": last},
        "yAxis": y_axis,
        "series": series,
    }


def restriction_chart(model: TechCompetitionModel) -> dict[str, Any]:
    """Share of foreign providers allowing access, and both governments' policies (1 while the
    government restricts, 0 while it allows), against the month."""
    columns = model.datacollector.model_vars
    series = [
        _series(
            "foreign providers allowing",
            columns["frac_foreign_allowing"],
            "#ff7f0e",
            areaStyle={"opacity": 0.15},
        ),
        _series(
            "home government restricts",
            columns["home_restricts"],
            "#d62728",
            step="end",
            lineStyle={"width": 3},
        ),
        _series(
            "rival government restricts",
            columns["rival_restricts"],
            "#1f77b4",
            step="end",
            lineStyle={"width": 2, "type": "dashed"},
        ),
    ]
    y_axis = {"type": "value", "min": 0, "max": 1, "name": "fraction / policy"}
    return _time_chart("Access: providers allowing, government policies", model, series, y_axis)


def share_chart(model: TechCompetitionModel) -> dict[str, Any]:
    """Fraction of rival-region enterprises on foreign and on domestic providers."""
    columns = model.datacollector.model_vars
    series = [
        _series("foreign share", columns["foreign_share"], "#d62728"),
        _series("domestic share", columns["domestic_share"], "#1f77b4"),
    ]
    y_axis = {"type": "value", "min": 0, "max": 1, "name": "fraction of enterprises"}
    return _time_chart("Rival enterprises: foreign vs domestic", model, series, y_axis)


def gap_chart(model: TechCompetitionModel) -> dict[str, Any]:
    """Capability gap: frontier quality minus the best domestic quality (frontier = 1)."""
    columns = model.datacollector.model_vars
    series = [_series("capability gap", columns["capability_gap"], "#9467bd")]
    y_axis = {"type": "value", "min": 0, "name": "frontier = 1"}
    return _time_chart("Capability gap (frontier - best domestic)", model, series, y_axis)


def revenue_chart(model: TechCompetitionModel) -> dict[str, Any]:
    """Foreign and domestic providers' rival-region revenue ($M/step, left axis) and the
    security risk ``sum_j share_j * quality_j * kappa_j`` over foreign providers (kappa the
    channel's security exposure; right axis, in share x quality units)."""
    columns = model.datacollector.model_vars
    series = [
        _series("foreign revenue", columns["foreign_revenue"], "#d62728"),
        _series("domestic revenue", columns["domestic_revenue"], "#1f77b4"),
        _series(
            "security risk",
            columns["security_risk"],
            "#2f2f2f",
            yAxisIndex=1,
            lineStyle={"type": "dotted", "width": 2},
        ),
    ]
    y_axis = [
        {"type": "value", "min": 0, "name": "$M/step"},
        {"type": "value", "min": 0, "name": "risk", "splitLine": {"show": False}},
    ]
    return _time_chart("Revenues and security risk", model, series, y_axis)


def provider_rows(model: TechCompetitionModel) -> list[dict[str, Any]]:
    """Current per-provider outputs: name, channel, strategy, revenue, share, quality."""
    return [
        {
            "provider": firm.name,
            "channel": firm.channel,
            "strategy": firm.strategy,
            "revenue": firm.revenue,
            "share": firm.share,
            "quality": firm.quality,
        }
        for firm in model.firms
    ]


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> str:
    """Inner HTML of a ``<table>``: one header row, then ``rows``; the last ``right`` columns
    are right-aligned (numbers). Cell text is escaped."""
    cell = "padding: 2px 10px; border-bottom: 1px solid #e0e0e0;"

    def tr(cells: Sequence[str], tag: str) -> str:
        first_right = len(cells) - right
        return (
            "<tr>"
            + "".join(
                f'<{tag} style="{cell} text-align: {"right" if i >= first_right else "left"}">'
                f"{escape(text)}</{tag}>"
                for i, text in enumerate(cells)
            )
            + "</tr>"
        )

    return (
        "<thead>"
        + tr(header, "th")
        + "</thead><tbody>"
        + "".join(tr(row, "td") for row in rows)
        + "</tbody>"
    )


def provider_table_html(model: TechCompetitionModel) -> str:
    """The per-provider panel (revenue in $M/step, share of rival enterprises, quality
    relative to the frontier) as table HTML."""
    header = ("provider", "channel", "strategy", "revenue ($M/step)", "share", "quality")
    rows = [
        (
            row["provider"],
            row["channel"],
            row["strategy"],
            f"{row['revenue']:.2f}",
            f"{row['share']:.3f}",
            f"{row['quality']:.3f}",
        )
        for row in provider_rows(model)
    ]
    return html_table(header, rows, right=3)
