"""One-call figures of a run or a batch, for notebooks and scripts.

Each function takes what the model hands back and returns a :class:`matplotlib.figure.Figure`
(built without pyplot, so it works headless and in worker processes; in a notebook the figure
displays as the cell's value, and ``fig.savefig(path)`` writes it)::

    from sim import TechCompetitionModel, load_scenario
    from sim.batch import run_batch
    from sim import plot

    params = load_scenario("timeline-2024").replace(n_enterprises=2_000)
    result = run_batch(params, range(20), steps=36)
    plot.timeseries(result)                    # model outputs: mean and 95 % band over runs
    plot.providers(result, column="share")     # one line per provider
    plot.segments(result, column="foreign_share")  # one line per enterprise segment

What each accepts:

* :func:`timeseries`: a :class:`~sim.batch.BatchResult`, the frame of
  ``TechCompetitionModel.run`` (one run), ``BatchResult.model`` (a ``run`` column), or one
  point of a stored sweep (``sim.experiments.load``; ``seed`` identifies runs);
* :func:`providers`: a ``BatchResult``, ``BatchResult.providers``, ``model.provider_frame()``,
  or one point of a sweep stored with ``providers = true`` (columns ``<provider>/<column>``);
* :func:`segments`: a ``BatchResult``, ``BatchResult.segments``, ``model.segment_frame()``, or
  one point of a sweep stored with ``segments = true``.

Several runs are drawn as the mean over runs with the band holding the central 95 % of them
(2.5-97.5 percentiles); one run as its line. A ``strategy`` column is drawn as the share of
runs in which the provider allows.

Time axis: months since step 0, or, when ``params.start_month`` is set (a dated scenario such
as ``timeline-2024``), calendar months ("Jan 2024", "Jul 2024", ...). Events of
``params.events`` within the plotted months are marked by a dotted vertical line at the first
month that shows them, with their label when they have one. ``params`` comes from the
``BatchResult`` when one is given; pass it for a frame.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from sim.batch import BatchResult
from sim.engine import MODEL_COLUMNS, PROVIDER_COLUMNS, SEGMENT_COLUMNS
from sim.params import Params

DEFAULT_COLUMNS = ("frac_foreign_allowing", "foreign_share", "domestic_share", "capability_gap")
LABELS = {
    "frac_foreign_allowing": "foreign providers allowing (fraction)",
    "home_restricts": "home mandate in force (0/1)",
    "rival_restricts": "rival block in force (0/1)",
    "foreign_share": "foreign share of enterprises",
    "domestic_share": "domestic share of enterprises",
    "open_share": "open-weight share of enterprises",
    "no_provider_share": "share using no provider",
    "capability_gap": "capability gap (frontier = 1)",
    "open_capability_gap": "open-weight capability gap (frontier = 1)",
    "foreign_revenue": "foreign revenue ($M/month)",
    "domestic_revenue": "domestic revenue ($M/month)",
    "security_risk": "security risk",
    "enterprise_welfare": "enterprise welfare (frontier = 1)",
    "hhi": "HHI of provider usage",
    "foreign_spend_share": "foreign share of spend",
    "mean_domestic_price": "mean domestic price (index)",
    "strategy": "share of runs allowing",
    "revenue": "revenue ($M/month)",
    "payoff": "payoff ($M/month)",
    "quality": "quality (frontier = 1)",
    "share": "share of enterprises",
    "spend_share": "share of spend",
    "price": "price (index)",
}
RUN_KEYS = ("run", "seed")


def month_label(step: int, start_month: str) -> str:
    """Calendar label of ``step`` months after ``start_month`` (``"YYYY-MM"``):
    ``month_label(6, "2024-01") == "Jul 2024"``."""
    year, month = (int(x) for x in start_month.split("-"))
    index = year * 12 + (month - 1) + int(step)
    return f"{calendar.month_abbr[index % 12 + 1]} {index // 12}"


def month_ticks(first: int, last: int, start_month: str) -> tuple[list[int], list[str]]:
    """Ticks at calendar months for steps ``first..last``: every 3, 6, 12 or 24 months (at
    most about nine ticks), placed on January and the months evenly after it."""
    span = max(last - first, 1)
    every = next((k for k in (1, 3, 6, 12, 24, 60) if span / k <= 9), 120)
    year, month = (int(x) for x in start_month.split("-"))
    offset = year * 12 + month - 1  # calendar month of step 0, counted from year 0
    start = first + (-(offset + first) % every)  # the first step on a tick month
    steps = list(range(start, last + 1, every))
    return steps, [month_label(s, start_month) for s in steps]


def _params_of(data: Any, params: Params | None) -> Params | None:
    if params is not None:
        return params
    if isinstance(data, BatchResult):
        return data.params
    return None


def _one_point(frame: pd.DataFrame) -> pd.DataFrame:
    if "point_id" in frame.columns and frame["point_id"].nunique() > 1:
        raise ValueError(
            f"frame: holds {frame['point_id'].nunique()} points of a sweep; select one, e.g. "
            "frame[frame['point_id'] == 0]"
        )
    return frame


def _run_key(frame: pd.DataFrame) -> str | None:
    return next((k for k in RUN_KEYS if k in frame.columns and frame[k].nunique() > 1), None)


def _draw(ax: Any, frame: pd.DataFrame, column: str, label: str | None, colour: str) -> None:
    """Mean over runs and the 2.5-97.5 percentile band (one run: its line) against step."""
    values = frame[column]
    if values.dtype == object:  # a strategy: the share of runs allowing
        values = values.eq("allow").astype(float)
    data = pd.DataFrame({"step": frame["step"].to_numpy(), "v": values.to_numpy(dtype=float)})
    grouped = data.groupby("step")["v"]
    mean = grouped.mean()
    ax.plot(mean.index, mean.to_numpy(), color=colour, lw=1.6, label=label)
    if _run_key(frame) is not None:
        low, high = grouped.quantile(0.025), grouped.quantile(0.975)
        ax.fill_between(mean.index, low.to_numpy(), high.to_numpy(), color=colour, alpha=0.2)


def _time_axis(axes: Sequence[Any], steps: pd.Series, params: Params | None) -> None:
    """Months or calendar months on the x axis of every panel; events marked."""
    first, last = int(steps.min()), int(steps.max())
    dated = params is not None and bool(params.start_month)
    for ax in axes:
        ax.set_xlim(first, last)
        if dated:
            assert params is not None
            ticks, labels = month_ticks(first, last, params.start_month)
            ax.set_xticks(ticks, labels, rotation=30, ha="right", fontsize=8)
            ax.set_xlabel(f"month (step 0 = {month_label(0, params.start_month)})")
        else:
            ax.set_xlabel("time (months)")
    if params is None:
        return
    for k, event in enumerate(e for e in params.events if first < e.month <= last):
        for ax in axes:
            ax.axvline(event.month, color="0.35", ls=":", lw=1)
        if event.label:
            axes[0].annotate(
                event.label,
                (event.month, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -4 - 9 * (k % 4)),
                textcoords="offset points",
                fontsize=6.5,
                color="0.25",
                va="top",
                bbox={"fc": "white", "alpha": 0.75, "lw": 0, "pad": 0.5},
            )


def _grid(n: int, width: float = 5.0, height: float = 3.4) -> tuple[Figure, list[Any]]:
    cols = 1 if n == 1 else 2
    rows = -(-n // cols)
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def _caption(frame: pd.DataFrame) -> str:
    key = _run_key(frame)
    runs = 1 if key is None else frame[key].nunique()
    if runs == 1:
        return "one run"
    return f"{runs} runs: line = mean, band = 2.5-97.5 percentile over runs"


def timeseries(
    data: BatchResult | pd.DataFrame,
    params: Params | None = None,
    columns: Sequence[str] = DEFAULT_COLUMNS,
    *,
    title: str | None = None,
) -> Figure:
    """Model outputs against time, one panel per column of ``columns`` (names of
    :data:`~sim.engine.MODEL_COLUMNS`)."""
    frame = data.model if isinstance(data, BatchResult) else data
    frame = _one_point(frame)
    params = _params_of(data, params)
    for column in columns:
        if column not in frame.columns:
            raise ValueError(
                f"columns: {column!r} is not in the frame (model columns: "
                f"{', '.join(c for c in MODEL_COLUMNS if c in frame.columns)})"
            )
    fig, axes = _grid(len(columns))
    for ax, column in zip(axes, columns, strict=True):
        _draw(ax, frame, column, None, "C0")
        ax.set_ylabel(LABELS.get(column, column), fontsize=8)
        ax.set_title(column, fontsize=9)
    _time_axis(axes, frame["step"], params)
    fig.suptitle(title or f"Model outputs ({_caption(frame)})", fontsize=10)
    return fig


def _long(frame: pd.DataFrame, names: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """A sweep's wide ``<name>/<column>`` columns as a long frame (``name`` and ``column``)."""
    key = _run_key(frame) or "step"
    parts = []
    for name in names:
        part = frame[["step", key]].copy() if key != "step" else frame[["step"]].copy()
        part["name"] = name
        for column in columns:
            part[column] = frame[f"{name}/{column}"].to_numpy()
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _per_entity(
    data: BatchResult | pd.DataFrame, which: str, known: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """The long frame (``step``, a run key, ``name`` and the columns) and the names in order."""
    if isinstance(data, BatchResult):
        frame = data.providers if which == "providers" else data.segments
    else:
        frame = _one_point(data)
    if "name" in frame.columns:
        return frame, list(dict.fromkeys(frame["name"]))
    names = list(dict.fromkeys(c.split("/", 1)[0] for c in frame.columns if "/" in c))
    names = [n for n in names if f"{n}/{known[0]}" in frame.columns]
    if not names:
        flag = "providers" if which == "providers" else "segments"
        raise ValueError(
            f"data: no per-{which[:-1]} columns; pass a BatchResult, its .{which} frame, or a "
            f"sweep stored with {flag} = true"
        )
    return _long(frame, names, [c for c in known if f"{names[0]}/{c}" in frame.columns]), names


def _entities(
    data: BatchResult | pd.DataFrame,
    params: Params | None,
    column: str,
    which: str,
    known: Sequence[str],
    names: Sequence[str] | None,
) -> Figure:
    frame, present = _per_entity(data, which, known)
    if column not in frame.columns:
        raise ValueError(f"column: {column!r} is not a {which[:-1]} column ({', '.join(known)})")
    chosen = list(names) if names is not None else present
    for name in chosen:
        if name not in present:
            raise ValueError(f"names: no {which[:-1]} {name!r} (have {', '.join(present)})")
    fig, axes = _grid(1, width=8.0, height=4.2)
    ax = axes[0]
    for k, name in enumerate(chosen):
        _draw(ax, frame[frame["name"] == name], column, name, f"C{k % 10}")
    ax.set_ylabel(LABELS.get(column, column))
    ax.legend(fontsize=8, loc="best")
    _time_axis(axes, frame["step"], _params_of(data, params))
    part = frame[frame["name"] == chosen[0]] if chosen else frame
    ax.set_title(f"{column} by {which[:-1]} ({_caption(part)})", fontsize=10)
    return fig


def providers(
    data: BatchResult | pd.DataFrame,
    params: Params | None = None,
    column: str = "share",
    *,
    names: Sequence[str] | None = None,
) -> Figure:
    """One line per provider (or those in ``names``) of ``column``, one of
    :data:`~sim.engine.PROVIDER_COLUMNS` (``strategy``: the share of runs allowing)."""
    return _entities(data, params, column, "providers", PROVIDER_COLUMNS, names)


def segments(
    data: BatchResult | pd.DataFrame,
    params: Params | None = None,
    column: str = "foreign_share",
    *,
    names: Sequence[str] | None = None,
) -> Figure:
    """One line per enterprise segment (or those in ``names``) of ``column``, one of
    :data:`~sim.engine.SEGMENT_COLUMNS`."""
    return _entities(data, params, column, "segments", SEGMENT_COLUMNS, names)


__all__ = ["month_label", "month_ticks", "providers", "segments", "timeseries"]
