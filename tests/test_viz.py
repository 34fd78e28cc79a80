"""Component-level tests of the SolaraViz page (rendered with ``solara.render``, as Mesa's own
visualization tests do) and of the pure helpers behind its panels."""

from __future__ import annotations

import math
import re
import warnings

import ipyvuetify as v
import numpy as np
import pytest
import solara

with warnings.catch_warnings():
    # Mesa 3.3.1's ComponentsView trips Solara's hook-order lint at import; not ours to fix.
    warnings.filterwarnings("ignore", ".*found despite early return", UserWarning)
    from mesa.visualization.solara_viz import _check_model_params
from solara.components.echarts import EchartsWidget
from solara.components.title import TitleWidget

from sim import TechCompetitionModel, list_scenarios, load_scenario
from sim.network import Graph
from sim.params import field_doc
from sim.timeline import month_label
from sim.viz import app, charts
from sim.viz.controls import CHOICES, LEVERS, field_metadata, model_params, value_text
from sim.viz.network import (
    MAX_SAMPLE,
    NetworkView,
    force_layout,
    induced_edges,
    snowball_sample,
    viz_generator,
)

EXPECTED_CONTROLS = {
    "rng",
    "n_enterprises",
    "home_enforcement",
    "home_fine",
    "market_value",
    "learning_rate",
    "rival_subsidy",
    "firm_rationality",
    "peer_effect",
    "diffusion_rate",
    "compute_effect",
    "export_control_strength",
    "open_release_rate",
    "price_subsidy",
    "firm_rule",
    "home_rule",
    "rival_rule",
    "price_rule",
    "home_controls",
}
SCENARIOS = sorted(list_scenarios())


# --- controls -------------------------------------------------------------------------------


def test_every_shipped_scenario_is_offered():
    assert {
        "seed",
        "classic",
        "open-weights",
        "chip-controls",
        "price-war",
        "timeline-2024",
    } <= set(SCENARIOS)
    assert list(app.SCENARIOS) == SCENARIOS


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_controls_are_params_fields_with_metadata_ranges(scenario):
    params = model_params(scenario)
    assert params["scenario"] == scenario  # fixed: the scenario picker rebuilds the page
    controls = {k: c for k, c in params.items() if isinstance(c, dict)}
    assert set(controls) == EXPECTED_CONTROLS
    base = load_scenario(scenario)
    for name, control in controls.items():
        if name == "rng":
            continue
        doc = field_doc(name)
        assert control["value"] == getattr(base, name), name
        if control["type"] == "Select":
            assert doc.kind == "choice" and doc.choices is not None
            assert control["values"] == list(doc.choices)
        else:
            assert control["type"] == ("SliderInt" if doc.kind == "whole" else "SliderFloat")
            assert doc.low is not None and doc.high is not None
            assert doc.low <= control["min"] <= control["value"] <= control["max"]
            assert control["max"] <= doc.high, name
            assert 0 < control["step"] <= control["max"] - control["min"]


def test_levers_cover_the_new_mechanisms():
    names = {lever.name for lever in LEVERS} | {name for name, _ in CHOICES}
    for mechanism in (
        "peer_effect",  # network
        "diffusion_rate",  # diffusion
        "compute_effect",  # compute
        "export_control_strength",  # export controls
        "home_controls",
        "open_release_rate",  # open weights
        "price_rule",  # pricing
        "price_subsidy",
    ):
        assert mechanism in names


def test_bounded_levers_span_their_whole_valid_range():
    params = model_params()
    for lever in LEVERS:
        if lever.window is None:
            doc = field_doc(lever.name)
            assert field_metadata(lever.name) == dict(doc.__dict__)
            assert (params[lever.name]["min"], params[lever.name]["max"]) == (doc.low, doc.high)
    assert {lever.name for lever in LEVERS if lever.window is None} == {
        "home_enforcement",
        "learning_rate",
        "compute_effect",
        "export_control_strength",
        "price_subsidy",
    }


@pytest.mark.parametrize("lever", LEVERS, ids=lambda lever: lever.name)
def test_every_slider_position_passes_params_validation(lever):
    """Every value the slider can take (each step from min to max, computed as the browser
    does, and max itself) is a valid value of the field; and both ends in every scenario."""
    control = model_params("seed")[lever.name]
    low, high, step = control["min"], control["max"], control["step"]
    positions = round((high - low) / step)
    values = [min(low + k * step, high) for k in range(positions + 1)] + [high]
    base = load_scenario("seed")
    for value in values:
        assert getattr(base.replace(**{lever.name: value}), lever.name) == value
    for scenario in SCENARIOS:
        control = model_params(scenario)[lever.name]
        for value in (control["min"], control["max"]):
            params = load_scenario(scenario).replace(**{lever.name: value})
            assert getattr(params, lever.name) == value


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_controls_at_start_values_rebuild_the_scenario_exactly(scenario):
    """Reset with untouched controls must give the scenario as defined (a control holding the
    seed's value would silently undo, e.g., the mandate's fixed home rule)."""
    params = model_params(scenario)
    _check_model_params(TechCompetitionModel.__init__, params)  # Mesa's own signature check
    kwargs = {k: (c["value"] if isinstance(c, dict) else c) for k, c in params.items()}
    model = TechCompetitionModel(**kwargs)
    assert model.params == load_scenario(scenario)


def test_mesa_signature_check_rejects_controls_a_model_cannot_take():
    # The check above is real: a model without **kwargs rejects the lever controls.
    class Strict(TechCompetitionModel):
        def __init__(self, scenario: str = "seed", rng: int | None = None) -> None:
            super().__init__(scenario=scenario, rng=rng)

    with pytest.raises(ValueError, match="Invalid model parameter: n_enterprises"):
        _check_model_params(Strict.__init__, model_params())


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        (0.7, 0.01, "0.70"),
        (0.7000000000000001, 0.01, "0.70"),
        (0.01, 0.001, "0.010"),
        (0.05, 0.002, "0.050"),
        (10.0, 2.0, "10"),
        (5000, 100, "5,000"),
        (0.5, 0.1, "0.5"),
        (42, 1, "42"),
    ],
)
def test_value_text_shows_as_many_decimals_as_the_step_needs(value, step, text):
    assert value_text(value, step) == text


def test_value_text_rejects_a_step_that_is_not_positive():
    for step in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="step"):
            value_text(1.0, step)


def test_shown_sliders_carry_their_value_in_the_label_and_give_mesa_the_number():
    controls = app.shown_controls(model_params("seed"))
    _check_model_params(TechCompetitionModel.__init__, controls)
    slider = controls["home_enforcement"]
    assert slider.get("value") == 0.5 and isinstance(slider.get("value"), float)
    assert slider.label == "Home enforcement probability: 0.50"
    slider.value.value = 0.73
    assert slider.label == "Home enforcement probability: 0.73"
    assert slider.get("value") == 0.73
    assert controls["n_enterprises"].label == "Enterprises (rival region): 5,000"
    assert not controls["n_enterprises"].is_float_slider and slider.is_float_slider
    assert controls["home_rule"] == model_params("seed")["home_rule"]  # pickers unchanged


# --- page rendering -------------------------------------------------------------------------


@pytest.fixture(params=["1", "0"], ids=["fast-renderer", "default-renderer"])
def rendered(request, monkeypatch):
    """The page rendered with reacton's fast renderer (what the app selects) and with the
    default one (REACTON_FAST=0): both must behave the same."""
    monkeypatch.setenv("REACTON_FAST", request.param)

    @solara.component
    def Wrapped():
        with solara.AppLayout():
            app.Page()

    _container, rc = solara.render(Wrapped(), handle_error=False)
    yield rc
    rc.close()


def _text_widgets(rc, text):
    return rc.find(v.Html, children=[text]).widgets


def _charts(rc):
    return rc.find(EchartsWidget).widgets


def _chart(rc, title_part):
    (chart,) = [w for w in _charts(rc) if title_part in w.option.get("title", {}).get("text", "")]
    return chart


def _links(rc):
    (links,) = [w for w in _charts(rc) if "network-links" in w.attributes["class"]]
    return links


def _parameters_table(rc):
    """name -> shown value, parsed from the 'Model built with' panel's rendered table."""
    card = rc.find(v.Card, class_="ma-0 parameters-panel")
    card.assert_single()
    (table,) = card.find(solara.widgets.HTML).widgets
    return dict(re.findall(r"<td[^>]*>(\w+)</td><td[^>]*>([^<]*)</td>", table.unsafe_innerHTML))


def _single(rc, widget_class, **matches):
    found = rc.find(widget_class, **matches)
    found.assert_single()
    return found.widget


def _slider(rc, label):
    """The slider whose label is ``label`` followed by its value."""
    (slider,) = [w for w in rc.find(v.Slider).widgets if w.label.startswith(f"{label}: ")]
    return slider


def _select(rc, label):
    return _single(rc, v.Select, label=label)


def _button(rc, text):
    return _single(rc, v.Btn, children=[text])


def test_page_shows_every_control_and_panel(rendered):
    assert _single(rendered, TitleWidget).title == app.TITLE  # the browser tab's title
    assert not rendered.find(v.Tab).widgets  # no "Page 0" tab
    labels = {w.label for w in rendered.find(v.Slider).widgets}
    seed = model_params("seed")
    for lever in LEVERS:
        control = seed[lever.name]
        assert f"{lever.label}: {value_text(control['value'], control['step'])}" in labels
    assert "Random seed (rng): 42" in labels
    selects = {w.label for w in rendered.find(v.Select).widgets}
    assert {label for _, label in CHOICES} | {"scenario", "enterprise segment"} <= selects
    assert _select(rendered, "scenario").items == SCENARIOS
    for button in ("Reset", "Step"):
        _button(rendered, button)
    assert _text_widgets(rendered, "Step: 0")
    titles = [w.option.get("title", {}).get("text", "") for w in _charts(rendered)]
    assert len(titles) == 7  # five time charts, the network's points and its links
    for part in ("Access", "All rival enterprises", "Segment", "Capability gap", "Revenues"):
        assert sum(part in t for t in titles) == 1, part
    assert _chart(rendered, "links among them")
    shown = _parameters_table(rendered)
    assert shown["home_enforcement"] == "0.5" and shown["rng"] == "42"
    assert set(shown) == EXPECTED_CONTROLS


def test_step_advances_counter_and_redraws_panels_but_not_the_links(rendered):
    before = [w.option for w in _charts(rendered)]
    links = _links(rendered).option
    step = _button(rendered, "Step")
    for _ in range(3):
        step.click()
    assert _text_widgets(rendered, "Step: 3")
    after = [w.option for w in _charts(rendered)]
    for old, new in zip(before, after, strict=True):
        assert new != old or old is links
    assert _links(rendered).option is links  # sent once per model
    time_series = [o for o in after if o["xAxis"].get("name") == "month"]
    assert len(time_series) == 5
    for option in time_series:
        assert all(len(s["data"]) == 4 for s in option["series"])  # steps 0..3
    assert "month 3" in _chart(rendered, "links among them").option["title"]["text"]


def test_slider_label_shows_the_moved_value(rendered):
    slider = _slider(rendered, "Home enforcement probability")
    slider.v_model = 0.8
    assert slider.label == "Home enforcement probability: 0.80"
    assert _slider(rendered, "Enterprises (rival region)").label.endswith(": 5,000")


def test_moved_slider_and_reset_rebuild_the_model(rendered):
    _slider(rendered, "Home enforcement probability").v_model = 0.8
    _slider(rendered, "Enterprises (rival region)").v_model = 1200
    _slider(rendered, "Peer effect (quality per neighbour share)").v_model = 0.5
    _select(rendered, "Rule of the home government").v_model = "fermi"
    _select(rendered, "Domestic price rule").v_model = "best_response"
    links = _links(rendered).option
    _button(rendered, "Step").click()
    assert _parameters_table(rendered)["home_enforcement"] == "0.5"  # not applied before Reset
    _button(rendered, "Reset").click()
    assert _text_widgets(rendered, "Step: 0")
    shown = _parameters_table(rendered)
    assert (shown["home_enforcement"], shown["n_enterprises"], shown["home_rule"]) == (
        "0.8",
        "1200",
        "fermi",
    )
    assert (shown["peer_effect"], shown["price_rule"]) == ("0.5", "best_response")
    assert (
        _chart(rendered, "links among them")
        .option["title"]["text"]
        .startswith("1200 of 1200 enterprises")
    )
    assert _links(rendered).option != links  # a new model, a new network
    # the slider keeps its position (and label) after Reset
    assert _slider(rendered, "Home enforcement probability").label.endswith(": 0.80")


def test_scenario_picker_loads_the_scenario_values(rendered):
    _select(rendered, "scenario").v_model = "mandate"
    assert _select(rendered, "Rule of the home government").v_model == "fixed"
    assert _slider(rendered, "Home fine ($M/step)").v_model == 100.0
    shown = _parameters_table(rendered)
    assert (shown["home_rule"], shown["home_fine"]) == ("fixed", "100")
    _select(rendered, "scenario").v_model = "price-war"
    assert _select(rendered, "Domestic price rule").v_model == "price_war"
    assert _parameters_table(rendered)["price_rule"] == "price_war"


def test_segment_selector_changes_the_segment_chart(rendered):
    picker = _select(rendered, "enterprise segment")
    assert picker.items == [s.name for s in load_scenario("seed").segments]
    _button(rendered, "Step").click()
    first = _chart(rendered, "Segment ").option
    assert first["title"]["text"].startswith("Segment state-regulated")
    picker.v_model = "developers"
    chart = _chart(rendered, "Segment ").option
    assert chart["title"]["text"].startswith("Segment developers (30% of enterprises)")
    model = TechCompetitionModel(scenario="seed", rng=42)
    model.step()
    frame = model.segment_frame()
    expected = frame[frame["name"] == "developers"]["foreign_share"].tolist()
    by_name = {s["name"]: [y for _, y in s["data"]] for s in chart["series"]}
    assert by_name["foreign share"] == expected
    assert chart != first
    _button(rendered, "Reset").click()  # the pick survives Reset
    assert _select(rendered, "enterprise segment").v_model == "developers"


def test_dated_scenario_shows_months_and_events(rendered):
    _select(rendered, "scenario").v_model = "timeline-2024"
    plan = TechCompetitionModel(scenario="timeline-2024", rng=1, n_enterprises=10).plan
    for chart in _charts(rendered):
        option = chart.option
        if option["xAxis"].get("name") != "month":
            continue
        axis = option["xAxis"]
        assert axis["type"] == "category"
        assert axis["data"][:3] == ["Jan 2024", "Feb 2024", "Mar 2024"]
        assert len(axis["data"]) == max(plan.event_months) + 1
        marks = option["series"][0]["markLine"]["data"]
        assert [m["xAxis"] for m in marks] == list(plan.event_months)
    assert "Jan 2024" in _chart(rendered, "links among them").option["title"]["text"]
    (table,) = [
        w
        for w in rendered.find(solara.widgets.HTML).widgets
        if w.attributes.get("class") == "events-table"
    ]
    html = table.unsafe_innerHTML
    assert "May 2024" in html and "near-frontier rival open-weight release" in html


def test_classic_scenario_says_it_has_no_network(rendered):
    _select(rendered, "scenario").v_model = "classic"
    title = _chart(rendered, "by provider").option["title"]["text"]
    assert title.endswith("this scenario has no enterprise network")
    assert not [w for w in _charts(rendered) if "network-links" in w.attributes["class"]]
    assert _select(rendered, "enterprise segment").items == ["all"]


# --- pure helpers: time charts --------------------------------------------------------------


def test_time_series_panels_plot_the_collected_columns():
    model = TechCompetitionModel(scenario="seed", rng=3, n_enterprises=800)
    model.run(5)
    option = charts.revenue_chart(model)
    by_name = {s["name"]: s["data"] for s in option["series"]}
    columns = model.datacollector.model_vars
    assert by_name["foreign revenue"] == [[t, x] for t, x in enumerate(columns["foreign_revenue"])]
    assert [y for _, y in by_name["security risk"]] == columns["security_risk"]
    policies = {s["name"]: s["data"] for s in charts.restriction_chart(model)["series"]}
    assert [y for _, y in policies["rival government restricts"]] == columns["rival_restricts"]
    assert option["xAxis"] == {
        "type": "value",
        "name": "month",
        "min": 0,
        "max": 5,
        "minInterval": 1,
        "axisLine": {"onZero": False},
    }
    assert "markLine" not in option["series"][0]  # no events in the seed scenario


@pytest.mark.parametrize(("scenario", "has_open"), [("seed", False), ("open-weights", True)])
def test_share_chart_shows_open_models_when_the_scenario_has_them(scenario, has_open):
    model = TechCompetitionModel(scenario=scenario, rng=4, n_enterprises=600)
    model.run(3)
    columns = model.datacollector.model_vars
    by_name = {s["name"]: [y for _, y in s["data"]] for s in charts.share_chart(model)["series"]}
    assert ("open share" in by_name) == has_open
    names = {"foreign share": "foreign_share", "domestic share": "domestic_share"}
    names |= {"no provider": "no_provider_share"} | (
        {"open share": "open_share"} if has_open else {}
    )
    for name, column in names.items():
        assert by_name[name] == columns[column]
    total = np.sum([columns[c] for c in names.values()], axis=0)
    if has_open:  # every enterprise is on a foreign, domestic or open provider, or on none
        np.testing.assert_allclose(total, 1.0, atol=1e-12)


def test_segment_chart_plots_the_segment_frame():
    model = TechCompetitionModel(scenario="open-weights", rng=6, n_enterprises=900)
    model.run(4)
    frame = model.segment_frame()
    for segment in model.core.segment_names:
        rows = frame[frame["name"] == segment].sort_values("step")
        series = {s["name"]: s["data"] for s in charts.segment_chart(model, segment)["series"]}
        for name, column, _ in charts.SEGMENT_SERIES:
            assert series[name] == [[t, y] for t, y in enumerate(rows[column])], (segment, name)
    with pytest.raises(ValueError, match="segment='nobody': expected one of state-regulated"):
        charts.segment_chart(model, "nobody")


def test_segment_history_follows_the_segment_frame_with_and_without_gaps():
    model = TechCompetitionModel(scenario="seed", rng=7, n_enterprises=800)
    history = charts.SegmentHistory()

    def expected(m):
        frame = m.segment_frame()
        return {
            column: [
                charts.segment_columns(frame, name, [column])[column]
                for name in m.core.segment_names
            ]
            for column in history.columns
        }

    for steps in (0, 1, 1, 1, 3, 0, 1):  # one step at a time, a gap of three, a re-render
        model.run(steps)
        history.update(model)
        assert history.steps == model.steps + 1
        assert history.values == expected(model)
    for segment in model.core.segment_names:
        assert charts.segment_chart(model, segment, history) == charts.segment_chart(model, segment)
    other = TechCompetitionModel(scenario="seed", rng=8, n_enterprises=800)
    other.run(2)
    history.update(other)  # another model: rebuilt, not appended to
    assert history.values == expected(other)


def test_month_labels_follow_the_start_month():
    params = load_scenario("seed").replace(start_month="2024-11")
    assert charts.month_labels(params, 3) == ["Nov 2024", "Dec 2024", "Jan 2025"]
    labels = charts.month_labels(params, 40)
    assert labels == [month_label(params, m) for m in range(40)]  # as the timeline report
    assert labels[-1] == "Feb 2028"
    assert charts.month_name(params, 2) == "month 2 (Jan 2025)"
    with pytest.raises(ValueError, match="not dated"):
        charts.month_labels(load_scenario("seed"), 3)
    assert charts.month_name(load_scenario("seed"), 2) == "month 2"


def test_dated_time_axis_and_event_markers():
    model = TechCompetitionModel(scenario="timeline-2024", rng=2, n_enterprises=500)
    stages = [s for s in model.plan.stages if s.month > 0]
    assert len(stages) >= 4
    axis = charts.time_axis(model)
    assert axis["type"] == "category"
    assert axis["data"] == charts.month_labels(model.params, max(model.plan.event_months) + 1)
    marks = charts.event_marks(model)
    assert marks is not None
    assert [m["xAxis"] for m in marks["data"]] == [s.month for s in stages]
    assert [m["name"] for m in marks["data"]] == ["; ".join(s.labels) for s in stages]
    for mark, stage in zip(marks["data"], stages, strict=True):
        text = mark["label"]["formatter"]
        assert len(text) <= charts.EVENT_LABEL_CHARS
        assert not text.startswith(month_label(model.params, stage.month))  # the axis says it
        assert stage.labels[0].split(": ", 1)[-1].startswith(text.rstrip("…"))
    model.run(max(model.plan.event_months) + 5)
    option = charts.gap_chart(model)
    assert option["series"][0]["markLine"] == marks
    assert len(option["xAxis"]["data"]) == model.steps + 1  # the axis grows with the run
    table = charts.events_table_html(model.params)
    assert table.count("<tr>") == 1 + len(stages)
    assert "<td" in table and ">May 2024<" in table


def test_undated_events_are_marked_at_their_month():
    params = load_scenario("seed")
    dated = load_scenario("timeline-2024")
    params = params.replace(events=[{"month": 7, "label": "a fine", "set": {"home_fine": 50.0}}])
    assert dated.events  # the shape of an event, for the line above
    model = TechCompetitionModel(params=params, rng=1, n_enterprises=300)
    assert (charts.time_axis(model)["type"], charts.time_axis(model)["max"]) == ("value", 7)
    marks = charts.event_marks(model)
    assert marks is not None and marks["data"] == [
        {"xAxis": 7, "name": "a fine", "label": {"formatter": "a fine"}}
    ]
    assert ">month 7<" in charts.events_table_html(params)


def test_provider_panel_rows_follow_the_agents():
    model = TechCompetitionModel(scenario="price-war", rng=5, n_enterprises=600)
    model.run(4)
    rows = charts.provider_rows(model)
    assert [r["provider"] for r in rows] == [p.name for p in model.params.providers]
    for row, firm in zip(rows, model.firms, strict=True):
        assert (row["strategy"], row["share"]) == (firm.strategy, firm.share)
        assert (row["price"], row["spend_share"]) == (firm.price, firm.spend_share)
    assert sum(r["share"] for r in rows) <= 1.0 + 1e-12
    table = charts.provider_table_html(model)
    assert table.count("<tr>") == 1 + model.params.n_providers
    assert table.count(">restrict<") == sum(r["strategy"] == "restrict" for r in rows)
    assert f">{rows[2]['price']:.3f}<" in table and ">price<" in table


def test_provider_colours_by_kind():
    model = TechCompetitionModel(scenario="open-weights", rng=1, n_enterprises=100)
    colours = charts.provider_colours(model)
    assert len(set(colours)) == len(colours)
    for provider, colour in zip(model.params.providers, colours, strict=True):
        palette = {
            "foreign": charts.FOREIGN_COLOURS,
            "domestic": charts.DOMESTIC_COLOURS,
            "open": charts.OPEN_COLOURS,
        }[charts.provider_kind(provider.channel)]
        assert colour in palette
    with pytest.raises(ValueError, match="channel='satellite'"):
        charts.provider_kind("satellite")


# --- pure helpers: network ------------------------------------------------------------------


def _edge_set(a, b):
    return {(int(x), int(y)) for x, y in zip(a, b, strict=True)}


def test_network_sample_is_bounded_seeded_and_its_links_are_the_models():
    model = TechCompetitionModel(scenario="seed", rng=11, n_enterprises=6000)
    view = NetworkView.build(model)
    assert view.has_network and len(view.sample) == MAX_SAMPLE
    assert np.all(np.diff(view.sample) > 0)  # distinct and increasing
    assert 0 <= view.sample.min() and view.sample.max() < 6000
    # every drawn link is a link of the model's network, and every link of the model's
    # network between two sampled enterprises is drawn (networkx as the independent check)
    drawn = _edge_set(*view.sample[view.links].T)
    expected = model.network.subgraph(view.sample.tolist()).edges()
    assert drawn == {(min(u, w), max(u, w)) for u, w in expected}
    assert np.all(view.links[:, 0] < view.links[:, 1])
    # a snowball keeps neighbourhoods: more links than a uniform sample of a third would keep
    # (each link with probability 1/9); the more so from a larger network
    assert len(view.links) > 1.3 * model.network.number_of_edges() * (2000 / 6000) ** 2
    large = TechCompetitionModel(scenario="seed", rng=11, n_enterprises=20_000)
    links = len(NetworkView.build(large).links)
    assert links > 2.5 * large.state.population.graph.n_edges * (2000 / 20_000) ** 2
    again = NetworkView.build(TechCompetitionModel(scenario="seed", rng=11, n_enterprises=6000))
    np.testing.assert_array_equal(again.sample, view.sample)
    np.testing.assert_array_equal(again.positions, view.positions)
    other = NetworkView.build(TechCompetitionModel(scenario="seed", rng=12, n_enterprises=6000))
    assert not np.array_equal(other.sample, view.sample)


def test_small_network_is_drawn_whole():
    model = TechCompetitionModel(scenario="seed", rng=11, n_enterprises=700)
    view = NetworkView.build(model)
    np.testing.assert_array_equal(view.sample, np.arange(700))
    assert len(view.links) == model.network.number_of_edges()
    assert np.all(np.abs(view.positions) <= 1.0 + 1e-12) and np.isfinite(view.positions).all()
    assert view.positions.shape == (700, 2)


def _ring(n: int) -> Graph:
    nodes = np.arange(n)
    return Graph.from_edges(n, nodes, (nodes + 1) % n)


def test_snowball_takes_whole_neighbourhoods_breadth_first():
    rng = np.random.default_rng(0)
    # one root on a ring: layers of two, the last cut to one, so the sample is one arc
    sample = snowball_sample(_ring(1000), 100, rng, roots=1)
    assert len(sample) == 100
    a, _ = induced_edges(_ring(1000), sample)
    assert len(a) == 99  # an arc of 100 nodes has 99 links
    # 50 disjoint triangles: the snowballs run out at each triangle; new roots are drawn and
    # each triangle is taken whole
    u = np.arange(150)
    triangles = Graph.from_edges(150, u, 3 * (u // 3) + (u + 1) % 3)
    sample = snowball_sample(triangles, 30, rng, roots=1)
    a, _ = induced_edges(triangles, sample)
    assert len(sample) == 30 and len(a) == 30  # ten whole triangles
    assert set(np.bincount(sample // 3).tolist()) == {0, 3}
    with pytest.raises(ValueError, match="size=0"):
        snowball_sample(triangles, 0, rng)


def test_force_layout_puts_neighbours_close_and_groups_apart():
    model = TechCompetitionModel(scenario="seed", rng=5, n_enterprises=1500)
    view = NetworkView.build(model)
    p = view.positions
    a, b = view.links.T
    linked = np.hypot(*(p[a] - p[b]).T).mean()
    rng = np.random.default_rng(1)
    i, j = rng.integers(0, len(p), (2, 5000))
    assert linked < 0.6 * np.hypot(*(p[i] - p[j]).T).mean()
    segment = model.core.segment_of[view.sample]
    centres = np.array([p[segment == s].mean(axis=0) for s in range(model.core.n_segments)])
    spread = max(np.hypot(*(p[segment == s] - centres[s]).T).mean() for s in range(5))
    gaps = [np.hypot(*(centres[s] - centres[t])) for s in range(5) for t in range(s)]
    assert min(gaps) > spread  # each segment is its own cluster
    assert [name for name, _, _ in view.segment_labels] == list(model.core.segment_names)
    np.testing.assert_allclose([[x, y] for _, x, y in view.segment_labels], centres, atol=1e-3)
    empty = force_layout(0, np.zeros(0, np.int64), np.zeros(0, np.int64), rng)
    assert empty.shape == (0, 2)


def test_network_view_leaves_the_model_stream_untouched():
    watched = TechCompetitionModel(scenario="seed", rng=21, n_enterprises=2500)
    plain = TechCompetitionModel(scenario="seed", rng=21, n_enterprises=2500)
    state = watched.rng.bit_generator.state
    view = NetworkView.build(watched)
    viz_generator(watched).random(10)
    assert watched.rng.bit_generator.state == state
    for _ in range(5):
        watched.step()
        view.chart(watched)
        plain.step()
    np.testing.assert_array_equal(watched.state.choice, plain.state.choice)


def _points(option, series):
    source = option["dataset"][series["datasetIndex"]]["source"]
    return np.column_stack([source["x"], source["y"]]).reshape(-1, 2)


def test_network_points_are_coloured_by_the_provider_each_enterprise_uses():
    model = TechCompetitionModel(scenario="open-weights", rng=8, n_enterprises=3000)
    view = NetworkView.build(model)
    names = [p.name for p in model.params.providers]
    colours = charts.provider_colours(model)
    for steps in (0, 4):
        model.run(steps)
        positions = view.positions.copy()
        option = view.chart(model)
        np.testing.assert_array_equal(view.positions, positions)  # steps only recolour
        scatter = {s["name"]: s for s in option["series"] if s["name"] != "segments"}
        assert list(scatter) == [*names, "no provider"]
        options = model.state.choice[0, view.sample]
        for j, name in enumerate([*names, "no provider"]):
            series = scatter[name]
            assert series["color"] == [*colours, charts.NO_PROVIDER_COLOUR][j]
            expected = np.round(view.positions[options == j], 3)
            np.testing.assert_array_equal(_points(option, series), expected)
        assert f"month {model.steps}" in option["title"]["text"]
    segments = [s for s in option["series"] if s["name"] == "segments"]
    assert [d["name"] for d in segments[0]["data"]] == list(model.core.segment_names)


def test_links_chart_draws_each_link_between_its_ends():
    model = TechCompetitionModel(scenario="seed", rng=9, n_enterprises=2500)
    view = NetworkView.build(model)
    option = view.links_chart()
    source = option["dataset"][0]["source"]
    xs = np.array(source["x"], dtype=float).reshape(-1, 3)
    ys = np.array(source["y"], dtype=float).reshape(-1, 3)
    assert len(xs) == len(view.links)
    assert np.all(np.isnan(xs[:, 2])) and np.all(np.isnan(ys[:, 2]))  # a gap after each link
    ends = np.round(view.positions, 3)
    np.testing.assert_array_equal(np.column_stack([xs[:, 0], ys[:, 0]]), ends[view.links[:, 0]])
    np.testing.assert_array_equal(np.column_stack([xs[:, 1], ys[:, 1]]), ends[view.links[:, 1]])
    nodes = view.chart(model)
    for key in ("grid", "xAxis", "yAxis"):  # the two layers share their axes: aligned
        assert option[key] == nodes[key]


def test_network_without_a_network_says_so():
    model = TechCompetitionModel(scenario="classic", rng=3, n_enterprises=5000)
    assert model.network is None
    view = NetworkView.build(model)
    assert not view.has_network and view.links.shape == (0, 2)
    assert len(view.sample) == MAX_SAMPLE and len(np.unique(view.sample)) == MAX_SAMPLE
    assert np.all(np.hypot(*view.positions.T) <= 1.0 + 1e-12)
    assert view.chart(model)["title"]["text"].endswith("this scenario has no enterprise network")
    assert not view.segment_labels
