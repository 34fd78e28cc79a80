"""ECharts options for the page's panels, built from a model's collected outputs.

Pure functions of the model: they read ``model.datacollector.model_vars`` (one list per output
column, entry ``t`` = step ``t``), :meth:`~sim.TechCompetitionModel.segment_frame`, the
provider agents and the run's plan (``model.plan``: event months and their labels), and return
plain dicts that the browser's ECharts (served from the locally installed ``solara-assets``)
draws. Building a dict costs well under a millisecond per panel; the drawing happens in the
browser.

Time axis. Every time chart spans months ``0 .. max(t, 1, m_last)`` with ``t`` the current
step and ``m_last`` the last event month, so the events still to come are on the axis from the
start. A dated scenario (``Params.start_month = "YYYY-MM"``, month 0 = that month) gets a
category axis labelled by calendar month (``"Jan 2024"``, :func:`month_labels`, as
:func:`sim.timeline.month_label` writes them); an undated one a numeric axis of months. Each
event month is marked on every time chart by a dashed vertical line carrying the event's label
(``model.plan.stages[i].labels``).

Units as in the model: one step is one month, money in $M/step, quality relative to the
frontier (= 1), shares are fractions of the rival region's enterprises.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.timeline import month_label

if TYPE_CHECKING:
    import pandas as pd

    from sim.model import TechCompetitionModel
    from sim.params import Params

FOREIGN_COLOURS = ("#d62728", "#ff7f0e", "#8c564b", "#e377c2", "#bcbd22")
DOMESTIC_COLOURS = ("#1f77b4", "#17becf", "#9467bd", "#393b79", "#6baed6", "#5254a3")
OPEN_COLOURS = ("#2ca02c", "#98df8a", "#637939", "#31a354")
NO_PROVIDER_COLOUR = "#b0b0b0"
EVENT_COLOUR = "#555555"
EVENT_LABEL_CHARS = 44  # longer event labels are cut (with an ellipsis) on the charts

# the kinds of provider an enterprise can use, and the no-provider option, by colour
KIND_COLOURS = {
    "foreign": "#d62728",
    "domestic": "#1f77b4",
    "open": "#2ca02c",
    "no provider": NO_PROVIDER_COLOUR,
}


def provider_colours(model: TechCompetitionModel) -> list[str]:
    """One colour per provider (index j): warm for foreign API providers, blue to purple for
    domestic ones, green for open-weight models."""
    palettes = {"foreign": FOREIGN_COLOURS, "domestic": DOMESTIC_COLOURS, "open": OPEN_COLOURS}
    used = dict.fromkeys(palettes, 0)
    colours = []
    for provider in model.params.providers:
        kind = provider_kind(provider.channel)
        palette = palettes[kind]
        colours.append(palette[used[kind] % len(palette)])
        used[kind] += 1
    return colours


def provider_kind(channel: str) -> str:
    """``foreign`` (direct or partner API), ``domestic`` or ``open`` for a provider channel."""
    match channel:
        case "direct" | "partner":
            return "foreign"
        case "domestic" | "open":
            return channel
        case _:
            raise ValueError(f"channel={channel!r}: expected direct, partner, domestic or open")


# --- time axis ------------------------------------------------------------------------------


def month_labels(params: Params, count: int) -> list[str]:
    """Calendar labels of months ``0 .. count - 1`` of a dated scenario (``params.start_month``
    is month 0), as :func:`sim.timeline.month_label` writes them: ``["Nov 2024", "Dec 2024",
    "Jan 2025"]`` from ``"2024-11"``."""
    if not params.start_month:
        raise ValueError("month_labels: the scenario is not dated (start_month is empty)")
    return [month_label(params, m) for m in range(count)]


def month_name(params: Params, month: int) -> str:
    """``"month 6"``, or ``"month 6 (Jul 2024)"`` in a dated scenario."""
    if not params.start_month:
        return f"month {month}"
    return f"month {month} ({month_label(params, month)})"


def event_list(stages: Sequence[Any]) -> list[tuple[int, str]]:
    """(month, label) of each stage after month 0 (``model.plan.stages`` or
    ``Params.schedule()``), labels of one month joined by "; " (an unlabelled change is called
    "parameters change")."""
    return [
        (stage.month, "; ".join(stage.labels) or "parameters change")
        for stage in stages
        if stage.month > 0
    ]


def events(model: TechCompetitionModel) -> list[tuple[int, str]]:
    """:func:`event_list` of the model's plan."""
    return event_list(model.plan.stages)


def time_span(model: TechCompetitionModel) -> int:
    """Last month on the time axis: the current step, the last event month, at least 1."""
    return max(model.steps, 1, *model.plan.event_months)


def time_axis(model: TechCompetitionModel) -> dict[str, Any]:
    """The x axis of the time charts: calendar months (category axis) in a dated scenario,
    month numbers (value axis) otherwise; both named "month"."""
    span = time_span(model)
    if model.params.start_month:
        return {
            "type": "category",
            "name": "month",
            "data": month_labels(model.params, span + 1),
            "boundaryGap": False,
            "axisLabel": {"hideOverlap": True},
            "axisLine": {"onZero": False},  # at the bottom, also below negative values
        }
    return {
        "type": "value",
        "name": "month",
        "min": 0,
        "max": span,
        "minInterval": 1,  # whole months only
        "axisLine": {"onZero": False},
    }


def _short(text: str, limit: int = EVENT_LABEL_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def event_marks(model: TechCompetitionModel) -> dict[str, Any] | None:
    """ECharts ``markLine``: a dashed vertical line at each event month, labelled with the
    event (without a leading "May 2024: " that the axis already says, cut to
    :data:`EVENT_LABEL_CHARS`); None without events."""
    marks = events(model)
    if not marks:
        return None
    data = []
    for month, label in marks:
        text = label
        if model.params.start_month:
            prefix = month_label(model.params, month) + ":"
            text = label.removeprefix(prefix).strip() if label.startswith(prefix) else label
        data.append({"xAxis": month, "name": label, "label": {"formatter": _short(text)}})
    return {
        "symbol": "none",
        "silent": True,
        "animation": False,
        "lineStyle": {"color": EVENT_COLOUR, "type": "dashed", "width": 1},
        "label": {
            "show": True,
            "position": "insideEndTop",
            "fontSize": 9,
            "color": EVENT_COLOUR,
        },
        "data": data,
    }


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
    marks = event_marks(model)
    if marks is not None and series:
        series = [{**series[0], "markLine": marks}, *series[1:]]
    return {
        "animation": False,
        "title": {"text": title, "left": 8, "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"left": 56, "right": 56, "top": 64, "bottom": 40},
        "xAxis": time_axis(model),
        "yAxis": y_axis,
        "series": series,
    }


# --- time charts ----------------------------------------------------------------------------

SHARE_AXIS = {"type": "value", "min": 0, "max": 1, "name": "fraction of enterprises"}


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


def has_open_models(model: TechCompetitionModel) -> bool:
    """Whether the scenario has open-weight models (channel ``open``)."""
    return any(p.channel == "open" for p in model.params.providers)


def share_chart(model: TechCompetitionModel) -> dict[str, Any]:
    """Fraction of rival-region enterprises on foreign, domestic and (when the scenario has
    them) open-weight models, and on none."""
    columns = model.datacollector.model_vars
    series = [
        _series("foreign share", columns["foreign_share"], KIND_COLOURS["foreign"]),
        _series("domestic share", columns["domestic_share"], KIND_COLOURS["domestic"]),
    ]
    if has_open_models(model):
        series.append(_series("open share", columns["open_share"], KIND_COLOURS["open"]))
    series.append(
        _series(
            "no provider",
            columns["no_provider_share"],
            KIND_COLOURS["no provider"],
            lineStyle={"type": "dashed"},
        )
    )
    return _time_chart("All rival enterprises: providers in use", model, series, SHARE_AXIS)


SEGMENT_SERIES = (
    ("foreign share", "foreign_share", "foreign"),
    ("domestic share", "domestic_share", "domestic"),
    ("open share", "open_share", "open"),
    ("no provider", "no_provider_share", "no provider"),
)
"""(series name, column of :data:`sim.engine.SEGMENT_COLUMNS`, colour key) of the segment
chart."""


def segment_columns(
    frame: pd.DataFrame, segment: str, columns: Sequence[str]
) -> dict[str, list[float]]:
    """``columns`` of ``segment``'s rows of a :meth:`~sim.TechCompetitionModel.segment_frame`
    (in step order) as lists; ``ValueError`` naming the segments for an unknown one."""
    rows = np.flatnonzero(frame["name"].to_numpy() == segment)
    if rows.size == 0:
        names = ", ".join(dict.fromkeys(frame["name"]))
        raise ValueError(f"segment={segment!r}: expected one of {names}")
    order = rows[np.argsort(frame["step"].to_numpy()[rows], kind="stable")]
    return {column: frame[column].to_numpy()[order].tolist() for column in columns}


class SegmentHistory:
    """Per-segment outputs of one model over its steps, kept up to date at little cost.

    :meth:`~sim.TechCompetitionModel.segment_frame` rebuilds the whole history as a frame on
    every call (about 10 ms at month 300, growing with the run), too much to pay at every
    step. :meth:`update` instead appends the model's current observation
    (``model.observation.segment``, one ``(1, S)`` array per column) when the history is one
    step behind, and rebuilds from ``segment_frame()`` only after a gap (steps that were not
    drawn: a render interval above 1, Play with threads) or for a model it has not seen.
    ``values[column][s]`` is segment ``s``'s column over steps ``0 .. t``."""

    def __init__(self, columns: Sequence[str] | None = None) -> None:
        self.columns = tuple(c for _, c, _ in SEGMENT_SERIES) if columns is None else tuple(columns)
        self.values: dict[str, list[list[float]]] = {}
        self._model: TechCompetitionModel | None = None

    @property
    def steps(self) -> int:
        """Steps held (``t + 1`` once updated at step ``t``)."""
        first = next(iter(self.values.values()), [])
        return len(first[0]) if first else 0

    def update(self, model: TechCompetitionModel) -> None:
        """Bring the history to ``model.steps``."""
        t = model.steps
        if model is self._model and self.steps == t:
            for column in self.columns:
                current = model.observation.segment[column][0].tolist()
                for by_segment, value in zip(self.values[column], current, strict=True):
                    by_segment.append(value)
        elif model is not self._model or self.steps != t + 1:
            frame = model.segment_frame()
            self.values = {
                column: [
                    segment_columns(frame, name, [column])[column]
                    for name in model.core.segment_names
                ]
                for column in self.columns
            }
            self._model = model


def segment_chart(
    model: TechCompetitionModel, segment: str, history: SegmentHistory | None = None
) -> dict[str, Any]:
    """One enterprise segment's shares on foreign, domestic and open providers and on none
    (fractions of the segment), from ``history`` brought up to date, or from
    :meth:`~sim.TechCompetitionModel.segment_frame` without one."""
    names = model.core.segment_names
    if segment not in names:
        raise ValueError(f"segment={segment!r}: expected one of {', '.join(names)}")
    shown = [
        (name, column, kind)
        for name, column, kind in SEGMENT_SERIES
        if kind != "open" or has_open_models(model)
    ]
    if history is None:
        columns = segment_columns(model.segment_frame(), segment, [c for _, c, _ in shown])
    else:
        history.update(model)
        columns = {c: history.values[c][names.index(segment)] for _, c, _ in shown}
    series = []
    for name, column, kind in shown:
        style = {"lineStyle": {"type": "dashed"}} if kind == "no provider" else {}
        series.append(_series(name, columns[column], KIND_COLOURS[kind], **style))
    share = float(model.core.segment_share[names.index(segment)])
    title = f"Segment {segment} ({share:.0%} of enterprises): providers in use"
    axis = {**SHARE_AXIS, "name": "fraction of the segment"}
    return _time_chart(title, model, series, axis)


def gap_chart(model: TechCompetitionModel) -> dict[str, Any]:
    """Capability gap: frontier quality minus the best rival model's quality, domestic or
    rival-origin open (frontier = 1)."""
    columns = model.datacollector.model_vars
    series = [_series("capability gap", columns["capability_gap"], "#9467bd")]
    y_axis = {"type": "value", "min": 0, "name": "frontier = 1"}
    return _time_chart("Capability gap (frontier - best rival model)", model, series, y_axis)


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
    # no fixed minimum: domestic revenue is negative while a price war sells below cost
    y_axis: list[dict[str, Any]] = [
        {"type": "value", "name": "$M/step"},
        {"type": "value", "name": "risk", "splitLine": {"show": False}},
    ]
    return _time_chart("Revenues and security risk", model, series, y_axis)


# --- tables ---------------------------------------------------------------------------------


def provider_rows(model: TechCompetitionModel) -> list[dict[str, Any]]:
    """Current per-provider outputs: name, channel, strategy, price, revenue, share of
    enterprises, share of spend, quality."""
    return [
        {
            "provider": firm.name,
            "channel": firm.channel,
            "strategy": firm.strategy,
            "price": firm.price,
            "revenue": firm.revenue,
            "share": firm.share,
            "spend_share": firm.spend_share,
            "quality": firm.quality,
        }
        for firm in model.firms
    ]


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: int = 0) -> str:
    """Inner HTML of a ``<table>``: one header row, then ``rows``; the last ``right`` columns
    are right-aligned (numbers). Cell text is escaped."""
    cell = "padding: 2px 8px; border-bottom: 1px solid #e0e0e0;"

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


PROVIDER_HEADER = (
    "provider",
    "channel",
    "strategy",
    "price",
    "revenue",
    "share",
    "spend",
    "quality",
)
PROVIDER_UNITS = (
    "price: index; revenue: $M/step; share: of the rival enterprises; spend: share of their "
    "spend; quality: frontier = 1"
)


def provider_table_html(model: TechCompetitionModel) -> str:
    """The per-provider panel (price index, revenue in $M/step, share of rival enterprises
    and of their spend, quality relative to the frontier) as table HTML."""
    rows = [
        (
            row["provider"],
            row["channel"],
            row["strategy"],
            f"{row['price']:.3f}",
            f"{row['revenue']:.2f}",
            f"{row['share']:.3f}",
            f"{row['spend_share']:.3f}",
            f"{row['quality']:.3f}",
        )
        for row in provider_rows(model)
    ]
    return html_table(PROVIDER_HEADER, rows, right=5)


def events_table_html(params: Params) -> str:
    """A scenario's events (month, label) as table HTML; the month is a calendar month
    ("May 2024") in a dated scenario, "month 4" otherwise."""
    rows = [(month_label(params, month), label) for month, label in event_list(params.schedule())]
    return html_table(("month", "event"), rows)
