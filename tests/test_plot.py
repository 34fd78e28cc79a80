"""``sim.plot``: one-call figures of a run, a batch and a stored sweep point, built headless;
the time axis reads in calendar months on dated scenarios and marks their events."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure

from sim import TechCompetitionModel, load_scenario, plot
from sim.batch import run_batch
from sim.engine import PROVIDER_COLUMNS

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def dated():
    params = load_scenario("timeline-2024").replace(n_enterprises=200)
    return params, run_batch(params, range(3), steps=14)


@pytest.fixture(scope="module")
def undated():
    params = load_scenario("seed").replace(n_enterprises=200)
    return params, run_batch(params, range(3), steps=10)


def tick_texts(ax):
    return [t.get_text() for t in ax.get_xticklabels()]


@pytest.mark.parametrize(
    ("step", "start", "label"),
    [
        (0, "2024-01", "Jan 2024"),
        (6, "2024-01", "Jul 2024"),
        (13, "2024-12", "Jan 2026"),
        (120, "2024-07", "Jul 2034"),
    ],
)
def test_month_label_counts_calendar_months(step, start, label):
    assert plot.month_label(step, start) == label


def test_month_ticks_fall_on_calendar_months_and_stay_few():
    steps, labels = plot.month_ticks(0, 36, "2024-01")
    assert labels[:3] == ["Jan 2024", "Jul 2024", "Jan 2025"] and steps[:3] == [0, 6, 12]
    steps, labels = plot.month_ticks(0, 10, "2024-03")
    assert labels == ["Apr 2024", "Jul 2024", "Oct 2024", "Jan 2025"]
    steps, labels = plot.month_ticks(0, 240, "2024-07")
    assert len(steps) <= 9 and all(t.startswith("Jan ") for t in labels)


def test_timeseries_of_a_dated_batch_has_month_labels_and_event_marks(dated):
    params, result = dated
    fig = plot.timeseries(result)
    assert isinstance(fig, Figure)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == len(plot.DEFAULT_COLUMNS)
    for ax in axes:
        assert tick_texts(ax)[:3] == ["Jan 2024", "Apr 2024", "Jul 2024"]
        assert ax.get_xlabel() == "month (step 0 = Jan 2024)"
        # one dotted line per event month within the run (4, 6, 9, 12, 13)
        marks = [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_linestyle() == ":"]
        assert marks == [4, 6, 9, 12, 13]
    labels = [t.get_text() for t in axes[0].texts]
    assert labels == [e.label for e in params.events if e.label and e.month <= 14]
    assert axes[1].get_ylabel() == plot.LABELS["foreign_share"]
    assert "3 runs" in fig._suptitle.get_text()
    fig.savefig(pd.io.common.BytesIO(), format="png")  # draws without a display


def test_timeseries_of_one_run_frame_without_a_date(undated):
    params, _ = undated
    model = TechCompetitionModel(params=params, rng=1)
    frame = model.run(8)
    fig = plot.timeseries(frame, params, columns=("capability_gap",))
    (ax,) = fig.axes
    assert ax.get_xlabel() == "time (months)"
    assert ax.get_xlim() == (0.0, 8.0)
    line = ax.get_lines()[0]
    assert list(line.get_ydata()) == pytest.approx(frame["capability_gap"].tolist())
    assert not ax.collections  # one run: no band
    assert "one run" in fig._suptitle.get_text()


def test_band_is_the_mean_and_central_95_percent_over_runs(undated):
    _, result = undated
    fig = plot.timeseries(result, columns=("foreign_share",))
    (ax,) = fig.axes
    mean = result.model.groupby("step")["foreign_share"].mean()
    assert list(ax.get_lines()[0].get_ydata()) == pytest.approx(mean.tolist())
    assert len(ax.collections) == 1


def test_providers_and_segments_draw_one_line_per_name(dated, undated):
    params, result = dated
    fig = plot.providers(result, column="strategy")
    (ax,) = fig.axes
    names = [p.name for p in params.providers]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == names
    assert tick_texts(ax)[0] == "Jan 2024"
    direct = ax.get_lines()[0].get_ydata()
    assert direct[0] == 1.0 and direct[-1] == 0.0  # the July 2024 block
    _, plain = undated
    fig = plot.segments(plain, column="foreign_share", names=["developers", "multinational"])
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["developers", "multinational"]
    assert ax.get_ylabel() == plot.LABELS["foreign_share"]


def test_model_frames_and_a_stored_sweep_point_are_accepted(undated, tmp_path):
    params, _ = undated
    model = TechCompetitionModel(params=params, rng=2)
    model.run(5)
    assert plot.providers(model.provider_frame(), params).axes
    assert plot.segments(model.segment_frame(), params).axes
    from sim.experiments import load, run_sweep
    from sim.experiments.spec import spec_from_mapping

    spec = spec_from_mapping(
        {
            "replicates": 2,
            "steps": 4,
            "providers": True,
            "segments": True,
            "fixed": {"n_enterprises": 100},
            "parameters": {"market_value": [50, 100]},
        },
        name="p",
    )
    run_sweep(spec, tmp_path / "p", workers=1, progress=False)
    frame = load(tmp_path / "p")
    with pytest.raises(ValueError, match=r"^frame: holds 2 points of a sweep; select one"):
        plot.timeseries(frame)
    point = frame[frame["point_id"] == 1]
    fig = plot.providers(point, params, column="share")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend == [p.name for p in params.providers]
    fig = plot.segments(point, params, column="domestic_share")
    assert len(fig.axes[0].get_lines()) == len(params.segments)
    assert "2 runs" in fig.axes[0].get_title()


def test_bad_requests_are_one_line_errors(undated):
    _, result = undated
    with pytest.raises(ValueError, match=r"^columns: 'nope' is not in the frame"):
        plot.timeseries(result, columns=("nope",))
    with pytest.raises(ValueError, match=r"^column: 'nope' is not a provider column"):
        plot.providers(result, column="nope")
    with pytest.raises(ValueError, match=r"^names: no segment 'nobody'"):
        plot.segments(result, names=["nobody"])
    with pytest.raises(ValueError, match=r"^data: no per-provider columns"):
        plot.providers(result.model)
    assert set(PROVIDER_COLUMNS) <= set(plot.LABELS)
