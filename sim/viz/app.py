"""The interactive browser page: Mesa's SolaraViz over :class:`~sim.TechCompetitionModel`.

Serve it with ``make viz`` (``solara run sim/viz/app.py --host 127.0.0.1 --port 8765
--production``) and open http://127.0.0.1:8765. See ``docs/visualization.md``.

Layout: the sidebar holds the scenario picker (with the scenario's dated events) and Mesa's
controls (Reset, Play, Step, the model parameters of :mod:`sim.viz.controls`, each slider
showing its current value); the main area holds the panels of :mod:`sim.viz.charts` and
:mod:`sim.viz.network`, redrawn after every step, in a grid whose panels can be dragged and
resized. The browser tab is titled :data:`TITLE`.

The page holds the model in its own reactive variable and hands it to SolaraViz, which
replaces it on Reset; the panels are laid out here rather than by SolaraViz (which would put
them under a tab called "Page 0"), so they can be arranged and sized for what they show.

Choosing a scenario rebuilds the whole SolaraViz (it is keyed by the scenario name), so every
control starts again at that scenario's values and the scenario is shown as it is defined.

Private by default: Solara's telemetry is switched off here, before Solara is imported, so a
bare ``solara run`` is private too; the front-end files come from the locally installed
``solara-assets`` package, so the page needs no internet.
"""

from __future__ import annotations

import os

os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
# Reacton's opt-in renderer re-renders only the components whose state changed; the default
# one walks the whole page once per subscriber of Mesa's step counter, which made a step cost
# 2 to 4 times more (benchmarks/bench_viz.py measures both). Read at each render, so
# REACTON_FAST=0 in the environment restores the default renderer.
os.environ.setdefault("REACTON_FAST", "1")

from collections.abc import Callable
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.user_param import Slider
from mesa.visualization.utils import update_counter
from solara.components.echarts import EchartsWidget

from sim.model import TechCompetitionModel
from sim.params import list_scenarios, load_scenario
from sim.viz import charts
from sim.viz.controls import (
    CHOICES,
    DEFAULT_SCENARIO,
    DEFAULT_SEED,
    LEVERS,
    model_params,
    value_text,
)
from sim.viz.network import NetworkView

PLAY_INTERVAL_MS = 50
CHART_HEIGHT = 330
NETWORK_HEIGHT = 520
TITLE = "AI access restriction: providers, governments, enterprises"
PAGE_CSS = """
/* a slider's label (with its value) on its own line above the slider, not squeezing it */
.v-input__slider .v-input__slot { flex-wrap: wrap; }
.v-input__slider .v-input__slot > .v-label {
  flex: 1 0 100%; height: auto; white-space: normal; line-height: 1.3; margin-bottom: 2px;
}
.provider-panel td, .provider-panel th { white-space: nowrap; }
.events-table td { vertical-align: top; }
"""


class ShownSlider(Slider):
    """Mesa's slider control whose label carries its current value ("Home fine ($M/step):
    10").

    Mesa's ``UserInputs`` hands ``.value`` to a Solara slider and reads ``.label`` while
    rendering: ``.value`` is a Solara reactive variable, which the slider reads and writes
    (and still reports each change to Mesa), and reading it in ``.label`` makes the
    parameter list re-render when it moves. Mesa's ``ModelCreator`` takes the start value
    with ``.get("value")``, which returns the plain number."""

    def __init__(self, control: dict[str, Any]) -> None:
        whole = control["type"] == "SliderInt"
        super().__init__(
            control["label"],
            value=control["value"],
            min=control["min"],
            max=control["max"],
            step=control["step"],
            dtype=int if whole else float,
        )
        self.value = solara.reactive(control["value"])

    @property
    def label(self) -> str:
        current = self.value.value if isinstance(self.value, solara.Reactive) else self.value
        return f"{self._label}: {value_text(current, self.step)}"

    @label.setter
    def label(self, text: str) -> None:
        self._label = text

    def get(self, attr: str) -> Any:
        if attr == "value":
            return self.value.value
        return super().get(attr)


def shown_controls(params: dict[str, Any]) -> dict[str, Any]:
    """``model_params`` with every slider replaced by a :class:`ShownSlider`."""
    return {
        name: ShownSlider(control)
        if isinstance(control, dict) and control["type"] in ("SliderInt", "SliderFloat")
        else control
        for name, control in params.items()
    }


@solara.component
def ChartWidget(
    build: Callable[[], dict[str, Any]], height: int, classes: str = "", live: bool = True
) -> None:
    """An ECharts figure showing the option ``build()`` returns, rebuilt after every step
    when ``live``.

    The option is built here, not passed in: the renderer walks every element argument
    recursively on every pass, and an option holds thousands of nested points, which cost
    over 100 ms per step. For the same reason the widget is created once and its ``option``
    set in an effect. A live chart subscribes to Mesa's step counter itself: the renderer
    takes two closures of the same code over the same (stepped) model for equal arguments,
    so a parent's re-render would not reach it."""
    if live:
        update_counter.get()
    widget = solara.use_memo(
        lambda: EchartsWidget(
            attributes={"style": f"height: {height}px; width: 100%;", "class": classes}
        ),
        [],
    )
    option = build()

    def push_option() -> None:
        widget.option = option

    solara.use_effect(push_option)  # no dependencies: after every render
    solara.Div(children=[widget])  # no background: the network's layers show through


@solara.component
def ChartPanel(
    model: TechCompetitionModel, build: Callable[[TechCompetitionModel], dict[str, Any]]
) -> None:
    """A time chart redrawn from ``build(model)`` after every step."""
    ChartWidget(lambda: build(model), CHART_HEIGHT, "time-chart")


@solara.component
def RestrictionPanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.restriction_chart)


@solara.component
def SharePanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.share_chart)


@solara.component
def GapPanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.gap_chart)


@solara.component
def RevenuePanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.revenue_chart)


@solara.component
def SegmentPanel(model: TechCompetitionModel) -> None:
    """The segment picker and the picked segment's shares over time. The pick is kept across
    Reset while the model still has that segment."""
    names = list(model.core.segment_names)
    picked, set_picked = solara.use_state(names[0])
    segment = picked if picked in names else names[0]
    history = solara.use_memo(charts.SegmentHistory, [model])
    with solara.Column(margin=0, gap="0px", classes=["segment-panel"]):
        with solara.Row(margin=0, style={"padding": "0 12px", "height": "48px"}):
            solara.Select("enterprise segment", values=names, value=segment, on_value=set_picked)
        ChartWidget(
            lambda: charts.segment_chart(model, segment, history), CHART_HEIGHT, "time-chart"
        )


@solara.component
def LinksChart(view: NetworkView) -> None:
    """The links of ``view``: built once per view, never redrawn by a step."""
    option = solara.use_memo(view.links_chart, [view])
    ChartWidget(lambda: option, NETWORK_HEIGHT, "network-links", live=False)


@solara.component
def NetworkPanel(model: TechCompetitionModel) -> None:
    """The sampled enterprises coloured by provider, over the links among them: two charts
    stacked on the same axes, so a step re-sends only the points (the links are sent once per
    model)."""
    view = solara.use_memo(lambda: NetworkView.build(model), [model])
    layer = f"position: absolute; top: 0; left: 0; width: 100%; height: {NETWORK_HEIGHT}px;"
    with solara.Div(
        classes=["network-panel"],
        style=f"position: relative; width: 100%; height: {NETWORK_HEIGHT}px;",
    ):
        if view.has_network:
            with solara.Div(style=layer):
                LinksChart(view)
        with solara.Div(style=layer):
            ChartWidget(lambda: view.chart(model), NETWORK_HEIGHT, "network-nodes")


@solara.component
def ProviderPanel(model: TechCompetitionModel) -> None:
    update_counter.get()
    with solara.Card("Providers", margin=0, classes=["provider-panel"]):
        solara.HTML(tag="table", unsafe_innerHTML=charts.provider_table_html(model))
        solara.Text(charts.PROVIDER_UNITS, style={"font-size": "12px", "color": "#666666"})


def parameters_in_use(model: TechCompetitionModel) -> dict[str, Any]:
    """The values the current model was built with, for every control: read back from the
    model itself (``model.params`` and its seed), not from the widgets."""
    values: dict[str, Any] = {"rng": int(model.rng.bit_generator.seed_seq.entropy)}
    for lever in LEVERS:
        values[lever.name] = getattr(model.params, lever.name)
    for name, _ in CHOICES:
        values[name] = getattr(model.params, name)
    return values


@solara.component
def ParametersPanel(model: TechCompetitionModel) -> None:
    """What the model was built with: changes at Reset (a new model), not with a step."""
    rows = [
        (name, f"{value:.6g}" if isinstance(value, float) else str(value))
        for name, value in parameters_in_use(model).items()
    ]
    with solara.Card("Model built with", margin=0, classes=["parameters-panel"]):
        solara.HTML(tag="table", unsafe_innerHTML=charts.html_table(("parameter", "value"), rows))


PANELS: tuple[tuple[Any, dict[str, int]], ...] = (
    # (component, place in a 12-column grid of 30 px rows with 10 px gaps: h rows = 40 h - 10 px)
    (RestrictionPanel, {"x": 0, "y": 0, "w": 6, "h": 9}),
    (SharePanel, {"x": 6, "y": 0, "w": 6, "h": 9}),
    (SegmentPanel, {"x": 0, "y": 9, "w": 6, "h": 10}),
    (GapPanel, {"x": 6, "y": 9, "w": 6, "h": 10}),
    (RevenuePanel, {"x": 0, "y": 19, "w": 6, "h": 9}),
    (ProviderPanel, {"x": 6, "y": 19, "w": 6, "h": 10}),
    (NetworkPanel, {"x": 0, "y": 29, "w": 8, "h": 14}),
    (ParametersPanel, {"x": 8, "y": 29, "w": 4, "h": 14}),
)


@solara.component
def Panels(model: TechCompetitionModel) -> None:
    """Every panel, in a grid where each can be dragged and resized."""
    layout, set_layout = solara.use_state(
        [{"i": i, "moved": False, **place} for i, (_, place) in enumerate(PANELS)]
    )
    solara.GridDraggable(
        items=[component(model) for component, _ in PANELS],
        grid_layout=layout,
        resizable=True,
        draggable=True,
        on_grid_layout=set_layout,
    )


SCENARIOS = list_scenarios()  # name -> description, read once from the package


def build_model(scenario: str) -> TechCompetitionModel:
    """The model a freshly loaded page shows: ``scenario`` at the controls' start values."""
    return TechCompetitionModel(scenario=scenario, rng=DEFAULT_SEED)


@solara.component
def ScenarioCard(scenario: str, on_scenario: Callable[[str], None]) -> None:
    """The scenario picker, the scenario's description and its dated events."""
    params = solara.use_memo(lambda: load_scenario(scenario), [scenario])
    with solara.Card("Scenario", classes=["scenario-card"]):
        solara.Select("scenario", values=list(SCENARIOS), value=scenario, on_value=on_scenario)
        solara.Text(SCENARIOS[scenario])
        if params.start_month:
            first = charts.month_labels(params, 1)[0]
            solara.Text(f"Month 0 is {first}.", style={"display": "block", "margin-top": "8px"})
        if params.events:
            solara.HTML(
                tag="table",
                unsafe_innerHTML=charts.events_table_html(params),
                classes=["events-table"],
                style={"font-size": "12px", "margin-top": "8px"},
            )


@solara.component
def Page() -> None:
    """Title, scenario picker, SolaraViz (controls) keyed by the scenario, and the panels."""
    solara.Title(TITLE)
    solara.Style(PAGE_CSS)
    scenario, set_scenario = solara.use_state(DEFAULT_SCENARIO)
    first_model = solara.use_memo(lambda: build_model(scenario), [scenario])
    model: solara.Reactive[TechCompetitionModel] = solara.use_reactive(first_model)
    controls = solara.use_memo(lambda: shown_controls(model_params(scenario)), [scenario])
    with solara.Sidebar():
        ScenarioCard(scenario, set_scenario)
    SolaraViz(
        model,
        components=[],
        model_params=controls,
        play_interval=PLAY_INTERVAL_MS,
        name=TITLE,
    ).key(f"viz-{scenario}")
    Panels(model.value).key(f"panels-{scenario}")


page = Page
