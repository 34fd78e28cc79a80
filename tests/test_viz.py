"""Component-level tests of the SolaraViz page (rendered with ``solara.render``, as Mesa's own
visualization tests do) and of the pure helpers behind its panels."""

from __future__ import annotations

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

from sim import TechCompetitionModel, list_scenarios, load_scenario
from sim.params import field_doc
from sim.rules import RULES
from sim.viz import app, charts
from sim.viz.controls import LEVERS, RULE_FIELDS, field_metadata, model_params
from sim.viz.network import MAX_SAMPLE, NetworkLayout, viz_generator

EXPECTED_CONTROLS = {
    "rng",
    "n_enterprises",
    "home_enforcement",
    "home_fine",
    "market_value",
    "learning_rate",
    "rival_subsidy",
    "firm_rule",
    "home_rule",
    "rival_rule",
    "firm_rationality",
}


# --- controls -------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(list_scenarios()))
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
            assert doc.choices is not None
            assert control["values"] == list(doc.choices) == list(RULES)
        else:
            assert control["type"] == ("SliderInt" if doc.kind == "whole" else "SliderFloat")
            assert doc.low is not None and doc.high is not None
            assert doc.low <= control["min"] <= control["value"] <= control["max"]
            assert control["max"] <= doc.high, name
            assert 0 < control["step"] <= control["max"] - control["min"]


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
    }


@pytest.mark.parametrize("lever", LEVERS, ids=lambda lever: lever.name)
def test_every_slider_end_passes_params_validation(lever):
    control = model_params()[lever.name]
    for value in (control["min"], control["max"]):
        assert getattr(load_scenario("seed").replace(**{lever.name: value}), lever.name) == value


@pytest.mark.parametrize("scenario", sorted(list_scenarios()))
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


def _network(rc):
    (network,) = [w for w in _charts(rc) if "enterprises by provider" in str(w.option)]
    return network


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
    return _single(rc, v.Slider, label=label)


def _select(rc, label):
    return _single(rc, v.Select, label=label)


def _button(rc, text):
    return _single(rc, v.Btn, children=[text])


def test_page_shows_every_control_and_panel(rendered):
    labels = {w.label for w in rendered.find(v.Slider).widgets}
    expected = {lever.label for lever in LEVERS} | {"Random seed (rng)"}
    assert expected <= labels
    selects = {w.label for w in rendered.find(v.Select).widgets}
    assert {label for _, label in RULE_FIELDS} | {"scenario"} <= selects
    assert _select(rendered, "scenario").items == sorted(list_scenarios())
    for button in ("Reset", "Step"):
        _button(rendered, button)
    assert _text_widgets(rendered, "Step: 0")
    titles = [w.option["title"]["text"] for w in _charts(rendered)]
    assert len(titles) == 5
    assert any("Access" in t for t in titles) and any("Capability gap" in t for t in titles)
    shown = _parameters_table(rendered)
    assert shown["home_enforcement"] == "0.5" and shown["rng"] == "42"


def test_step_advances_counter_and_redraws_panels(rendered):
    before = [w.option for w in _charts(rendered)]
    step = _button(rendered, "Step")
    for _ in range(3):
        step.click()
    assert _text_widgets(rendered, "Step: 3")
    after = [w.option for w in _charts(rendered)]
    for old, new in zip(before, after, strict=True):
        assert new != old
    time_series = [o for o in after if o["xAxis"].get("name") == "month"]
    assert len(time_series) == 4
    for option in time_series:
        assert all(len(s["data"]) == 4 for s in option["series"])  # steps 0..3


def test_moved_slider_and_reset_rebuild_the_model(rendered):
    _slider(rendered, "Home enforcement probability").v_model = 0.8
    _slider(rendered, "Enterprises (rival region)").v_model = 1200
    _select(rendered, "Rule of the home government").v_model = "fermi"
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
    assert _network(rendered).option["title"]["text"].startswith("1200 of 1200 enterprises")


def test_scenario_picker_loads_the_scenario_values(rendered):
    _select(rendered, "scenario").v_model = "mandate"
    assert _select(rendered, "Rule of the home government").v_model == "fixed"
    assert _slider(rendered, "Home fine ($M/step)").v_model == 100.0
    shown = _parameters_table(rendered)
    assert (shown["home_rule"], shown["home_fine"]) == ("fixed", "100")


# --- pure helpers ---------------------------------------------------------------------------


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


def test_provider_panel_rows_follow_the_agents():
    model = TechCompetitionModel(scenario="protectionist", rng=5, n_enterprises=600)
    model.run(4)
    rows = charts.provider_rows(model)
    assert [r["provider"] for r in rows] == [p.name for p in model.params.providers]
    for row, firm in zip(rows, model.firms, strict=True):
        assert (row["strategy"], row["share"]) == (firm.strategy, firm.share)
    assert sum(r["share"] for r in rows) <= 1.0 + 1e-12
    table = charts.provider_table_html(model)
    assert table.count("<tr>") == 1 + model.params.n_providers
    assert table.count(">restrict<") == sum(r["strategy"] == "restrict" for r in rows)


def test_network_sample_is_bounded_fixed_and_seeded():
    model = TechCompetitionModel(scenario="seed", rng=11, n_enterprises=6000)
    layout = NetworkLayout.build(model)
    assert len(layout.sample) == MAX_SAMPLE
    assert len(np.unique(layout.sample)) == MAX_SAMPLE
    assert 0 <= layout.sample.min() and layout.sample.max() < 6000
    assert np.all(np.hypot(*layout.positions.T) <= 0.75 + 1e-12)
    again = NetworkLayout.build(TechCompetitionModel(scenario="seed", rng=11, n_enterprises=6000))
    np.testing.assert_array_equal(again.sample, layout.sample)
    other = NetworkLayout.build(TechCompetitionModel(scenario="seed", rng=12, n_enterprises=6000))
    assert not np.array_equal(other.sample, layout.sample)
    small = NetworkLayout.build(TechCompetitionModel(scenario="seed", rng=11, n_enterprises=300))
    np.testing.assert_array_equal(small.sample, np.arange(300))


def test_network_layout_leaves_the_model_stream_untouched():
    watched = TechCompetitionModel(scenario="seed", rng=21, n_enterprises=2500)
    plain = TechCompetitionModel(scenario="seed", rng=21, n_enterprises=2500)
    state = watched.rng.bit_generator.state
    layout = NetworkLayout.build(watched)
    viz_generator(watched).random(10)
    assert watched.rng.bit_generator.state == state
    for _ in range(5):
        watched.step()
        layout.chart(watched)
        plain.step()
    np.testing.assert_array_equal(watched.state.choice, plain.state.choice)


def test_network_chart_colours_each_sampled_enterprise_by_its_provider():
    model = TechCompetitionModel(scenario="seed", rng=8, n_enterprises=3000)
    layout = NetworkLayout.build(model)
    model.run(3)
    positions = layout.positions.copy()
    option = layout.chart(model)
    np.testing.assert_array_equal(layout.positions, positions)  # steps only recolour

    def points(series):
        source = option["dataset"][series["datasetIndex"]]["source"]
        return np.column_stack([source["x"], source["y"]]).reshape(-1, 2)

    scatter = {
        s["name"]: points(s)
        for s in option["series"]
        if s["type"] == "scatter" and s["name"] != "providers"
    }
    options = model.state.choice[0, layout.sample]
    names = [p.name for p in model.params.providers]
    for j, name in enumerate(names):
        assert len(scatter[name]) == int(np.sum(options == j))
    assert len(scatter["no provider"]) == int(np.sum(options == len(names)))
    lines = [s for s in option["series"] if s["type"] == "line"]
    assert [s["name"] for s in lines] == names
    for j, (name, line) in enumerate(zip(names, lines, strict=True)):
        source = option["dataset"][line["datasetIndex"]]["source"]
        # points alternate enterprise, hub, gap: one spoke per sampled user of provider j
        xs = np.array(source["x"], dtype=float).reshape(-1, 3)
        ys = np.array(source["y"], dtype=float).reshape(-1, 3)
        assert len(xs) == len(scatter[name])
        assert np.all(np.isnan(xs[:, 2])) and np.all(np.isnan(ys[:, 2]))
        np.testing.assert_array_equal(np.column_stack([xs[:, 0], ys[:, 0]]), scatter[name])
        np.testing.assert_allclose(xs[:, 1], layout.hubs[j, 0], atol=5e-4)
        np.testing.assert_allclose(ys[:, 1], layout.hubs[j, 1], atol=5e-4)
