"""The interactive browser page: Mesa's SolaraViz over :class:`~sim.TechCompetitionModel`.

Serve it with ``make viz`` (``solara run sim/viz/app.py --host 127.0.0.1 --port 8765
--production``) and open http://127.0.0.1:8765. See ``docs/visualization.md``.

Layout: the sidebar holds the scenario picker and Mesa's controls (Reset, Play, Step, the
model parameters of :mod:`sim.viz.controls`); the main area holds the panels of
:mod:`sim.viz.charts` and :mod:`sim.viz.network`, redrawn after every step.

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
# one walks the whole page once per subscriber of Mesa's step counter (8 here), which made a
# step cost 2 to 4 times more (benchmarks/bench_viz.py measures both). Read at each render,
# so REACTON_FAST=0 in the environment restores the default renderer.
os.environ.setdefault("REACTON_FAST", "1")

from collections.abc import Callable
from typing import Any

import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter
from solara.components.echarts import EchartsWidget

from sim.model import TechCompetitionModel
from sim.params import list_scenarios
from sim.viz import charts
from sim.viz.controls import (
    DEFAULT_SCENARIO,
    DEFAULT_SEED,
    LEVERS,
    RULE_FIELDS,
    model_params,
)
from sim.viz.network import NetworkLayout

PLAY_INTERVAL_MS = 50
CHART_HEIGHT = 330
NETWORK_HEIGHT = 420
TITLE = "AI access restriction: providers, governments, enterprises"


@solara.component
def ChartPanel(
    model: TechCompetitionModel,
    build: Callable[[TechCompetitionModel], dict[str, Any]],
    height: int,
) -> None:
    """An ECharts figure redrawn from ``build(model)`` after every step.

    The widget is created once and its ``option`` set in an effect: an option passed as an
    element argument would be walked recursively by the renderer on every pass (thousands of
    nested points), which cost over 100 ms per step."""
    update_counter.get()
    widget = solara.use_memo(
        lambda: EchartsWidget(attributes={"style": f"height: {height}px; width: 100%;"}), []
    )
    option = build(model)

    def push_option() -> None:
        widget.option = option

    solara.use_effect(push_option)  # no dependencies: after every render
    solara.Column(children=[widget], margin=0)


@solara.component
def RestrictionPanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.restriction_chart, CHART_HEIGHT)


@solara.component
def SharePanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.share_chart, CHART_HEIGHT)


@solara.component
def GapPanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.gap_chart, CHART_HEIGHT)


@solara.component
def RevenuePanel(model: TechCompetitionModel) -> None:
    ChartPanel(model, charts.revenue_chart, CHART_HEIGHT)


@solara.component
def NetworkPanel(model: TechCompetitionModel) -> None:
    # The sample and positions are drawn once per model; steps only recolour and rewire.
    layout = solara.use_memo(lambda: NetworkLayout.build(model), [model])
    ChartPanel(model, layout.chart, NETWORK_HEIGHT)


@solara.component
def ProviderPanel(model: TechCompetitionModel) -> None:
    update_counter.get()
    with solara.Card("Providers", margin=0, classes=["provider-panel"]):
        solara.HTML(tag="table", unsafe_innerHTML=charts.provider_table_html(model))


def parameters_in_use(model: TechCompetitionModel) -> dict[str, Any]:
    """The values the current model was built with, for every control: read back from the
    model itself (``model.params`` and its seed), not from the widgets."""
    values: dict[str, Any] = {"rng": int(model.rng.bit_generator.seed_seq.entropy)}
    for lever in LEVERS:
        values[lever.name] = getattr(model.params, lever.name)
    for name, _ in RULE_FIELDS:
        values[name] = getattr(model.params, name)
    return values


@solara.component
def ParametersPanel(model: TechCompetitionModel) -> None:
    update_counter.get()
    rows = [
        (name, f"{value:.6g}" if isinstance(value, float) else str(value))
        for name, value in parameters_in_use(model).items()
    ]
    with solara.Card("Model built with", margin=0, classes=["parameters-panel"]):
        solara.HTML(tag="table", unsafe_innerHTML=charts.html_table(("parameter", "value"), rows))


SCENARIOS = list_scenarios()  # name -> description, read once from the package

COMPONENTS = [
    RestrictionPanel,
    SharePanel,
    GapPanel,
    RevenuePanel,
    ProviderPanel,
    NetworkPanel,
    ParametersPanel,
]


def build_model(scenario: str) -> TechCompetitionModel:
    """The model a freshly loaded page shows: ``scenario`` at the controls' start values."""
    return TechCompetitionModel(scenario=scenario, rng=DEFAULT_SEED)


@solara.component
def Page() -> None:
    """Scenario picker plus a SolaraViz keyed by the scenario (see the module docstring)."""
    scenario, set_scenario = solara.use_state(DEFAULT_SCENARIO)
    model = solara.use_memo(lambda: build_model(scenario), [scenario])
    with solara.Sidebar(), solara.Card("Scenario"):
        solara.Select("scenario", values=list(SCENARIOS), value=scenario, on_value=set_scenario)
        solara.Text(SCENARIOS[scenario])
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=model_params(scenario),
        play_interval=PLAY_INTERVAL_MS,
        name=TITLE,
    ).key(f"viz-{scenario}")


page = Page
