"""The page in a real browser: ``solara run`` started here on a free loopback port, driven
through Playwright with Debian's Chromium (never a downloaded browser).

Without ``/usr/bin/chromium`` (or the ``playwright`` package) every test here is reported as
skipped with the reason, never as passed. Screenshots land in ``test-artifacts/``: the whole
page (``viz.png``) and the dated scenario (``viz-timeline.png``).

What the charts draw is checked on the canvas where text cannot be read from the page: pixels
of the right colour where the chart's own coordinate conversion puts a marker, and the axis
labels ECharts laid out (its model's view labels).
"""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from sim import TechCompetitionModel, list_scenarios, load_scenario
from sim.viz import charts
from sim.viz.app import TITLE
from sim.viz.controls import DEFAULT_SEED
from sim.viz.network import NetworkView
from sim.viz.server import CHROMIUM, CHROMIUM_ARGS, chromium_executable, running_server

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
UI_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def chromium_path() -> str:
    path = chromium_executable()
    if path is None:
        pytest.skip(
            f"no browser: {CHROMIUM} missing (`make test` installs Debian's chromium as root)"
        )
    return path


@pytest.fixture(scope="module")
def server_url(chromium_path):
    """``solara run`` on a free loopback port; its whole process group is stopped after."""
    with running_server(ARTIFACTS / "solara-server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(chromium_path):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=chromium_path, args=list(CHROMIUM_ARGS)
        )
        yield chromium
        chromium.close()


class PageProblems:
    """Console errors, uncaught page errors and failed or refused requests seen by a page."""

    def __init__(self, page) -> None:
        self.console_errors: list[str] = []
        self.failed_requests: list[str] = []
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on("pageerror", lambda exc: self.console_errors.append(f"page error: {exc}"))
        page.on(
            "requestfailed",
            lambda req: self.failed_requests.append(f"{req.url}: {req.failure}"),
        )
        page.on(
            "response",
            lambda resp: (
                self.failed_requests.append(f"{resp.url}: HTTP {resp.status}")
                if resp.status >= 400
                else None
            ),
        )


EXTERNAL = re.compile(r"^(?!(https?|wss?)://(127\.0\.0\.1|localhost)[:/])[a-z]+://")


def _refuse(route, problems: PageProblems) -> None:
    problems.failed_requests.append(f"external request: {route.request.url}")
    route.abort()


# JavaScript run in the page: the ECharts charts and what they hold
CHARTS_READY_JS = """
() => {
  const charts = [...document.querySelectorAll('.solara-echarts')];
  return charts.length >= 6 && charts.every(d => !d.dataset.old && d.__vue__ && d.__vue__.chart
    && d.__vue__.option && d.__vue__.option.series);
}
"""
CHART_TITLES_JS = """
() => [...document.querySelectorAll('.solara-echarts')]
  .map(d => (d.__vue__.option.title || {}).text || '')
"""


@pytest.fixture
def page(browser, server_url):
    """A fresh browser tab (fresh Solara session) with the page loaded at step 0."""
    context = browser.new_context(viewport={"width": 1600, "height": 2000})
    tab = context.new_page()
    tab.set_default_timeout(UI_TIMEOUT_MS)
    tab.problems = PageProblems(tab)
    # Offline means offline even on a machine with internet: any request leaving loopback is
    # refused and recorded, so a page that needs a CDN fails here rather than passing.
    context.route(EXTERNAL, lambda route: _refuse(route, tab.problems))
    tab.goto(server_url)
    tab.get_by_text("Step: 0", exact=True).wait_for()
    tab.wait_for_function(CHARTS_READY_JS)
    yield tab
    context.close()


def _parameter_shown(page, name: str) -> str:
    row = page.locator(".parameters-panel tr", has=page.locator("td", has_text=name))
    return row.locator("td").nth(1).inner_text().strip()


def _pick(page, where: str, option: str) -> None:
    """Choose ``option`` in the picker inside ``where`` (a CSS selector)."""
    page.locator(f"{where} .v-select").click()
    page.get_by_role("option", name=option, exact=True).click()


def _pick_scenario(page, scenario: str) -> None:
    """Choose ``scenario`` and wait until the rebuilt panels' charts are drawn."""
    page.evaluate("() => document.querySelectorAll('.solara-echarts')"
                  ".forEach(d => { d.dataset.old = '1'; })")  # fmt: skip
    _pick(page, ".scenario-card", scenario)
    page.wait_for_function(CHARTS_READY_JS)


def _step(page, n: int) -> None:
    page.get_by_role("button", name="Step").click()
    page.get_by_text(f"Step: {n}", exact=True).wait_for()


def _chart_images(page, selector: str = ".solara-echarts:not(.network-links)") -> list[bytes]:
    charts = page.locator(selector)
    return [charts.nth(i).screenshot(animations="disabled") for i in range(charts.count())]


def _settled_images(page, limit_ms: int = 10_000) -> list[bytes]:
    """Chart screenshots once two taken 200 ms apart agree (first paint finished)."""
    previous, waited = _chart_images(page), 0
    while True:
        page.wait_for_timeout(200)
        waited += 200
        current = _chart_images(page)
        if current == previous or waited >= limit_ms:
            return current
        previous = current


def _wait_until_all_changed(page, before: list[bytes], limit_ms: int = 10_000) -> list[bool]:
    """Which charts differ from ``before``, polled until all do or ``limit_ms`` passes (charts
    repaint a little after the new options arrive; a busy machine needs longer)."""
    waited = 0
    while True:
        after = _chart_images(page)
        changed = [old != new for old, new in zip(before, after, strict=True)]
        if all(changed) or waited >= limit_ms:
            return changed
        page.wait_for_timeout(100)
        waited += 100


def _canvas(page, selector: str) -> bytes:
    """PNG of the canvas inside ``selector`` alone (an element screenshot would include the
    layer drawn over it)."""
    url = page.evaluate("(s) => document.querySelector(s + ' canvas').toDataURL()", selector)
    return base64.b64decode(url.split(",", 1)[1])


def _rgb(image: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(image)).convert("RGB")).astype(int)


def _hex(colour: str) -> np.ndarray:
    return np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])


def _near(pixels: np.ndarray, colour: str, tolerance: int = 10) -> np.ndarray:
    return np.all(np.abs(pixels - _hex(colour)) <= tolerance, axis=-1)


def test_page_loads_offline_without_errors(page):
    assert page.title() == TITLE
    assert page.get_by_text("Page 0").count() == 0  # no Mesa tab left over
    for text in ("Reset", "Step", "Model Parameters", "Providers", "enterprise segment"):
        assert page.get_by_text(text, exact=True).first.is_visible(), text
    assert page.locator(".solara-echarts").count() == 7  # 5 time charts, 2 network layers
    assert page.locator(".provider-panel tbody tr").count() == 6  # the seed's providers
    page.wait_for_load_state("networkidle")  # late loads (fonts, chart library) are in
    assert page.problems.console_errors == []
    assert page.problems.failed_requests == []


def test_sliders_show_their_values_and_reset_applies_them(page):
    label = page.locator(".v-input", has_text="Home enforcement probability").locator("label")
    assert label.inner_text() == "Home enforcement probability: 0.50"
    for text in ("Enterprises (rival region): 5,000", "Random seed (rng): 42"):
        assert page.get_by_text(text, exact=True).is_visible(), text
    assert _parameter_shown(page, "home_enforcement") == "0.5"
    slider = page.locator(".v-input", has_text="Home enforcement probability").get_by_role("slider")
    assert slider.get_attribute("aria-valuenow") == "0.5"
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")  # 20 steps of 0.01
    assert float(slider.get_attribute("aria-valuenow")) == pytest.approx(0.7)
    page.get_by_text("Home enforcement probability: 0.70", exact=True).wait_for()
    _step(page, 1)
    assert _parameter_shown(page, "home_enforcement") == "0.5"  # applied only by Reset
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("Step: 0", exact=True).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.parameters-panel td')]"
        ".some(td => td.innerText.trim() === '0.7')"
    )
    assert _parameter_shown(page, "home_enforcement") == "0.7"
    assert label.inner_text() == "Home enforcement probability: 0.70"  # kept after Reset
    _step(page, 1)
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viz.png"), full_page=True)
    assert (ARTIFACTS / "viz.png").stat().st_size > 10_000
    assert page.problems.console_errors == []
    assert page.problems.failed_requests == []


def test_step_advances_counter_and_changes_plots_but_not_the_links(page):
    before = _settled_images(page)  # every chart painted and still, or "changed" means little
    links = _canvas(page, ".network-links")
    for n in (1, 2, 3):
        _step(page, n)
    changed = _wait_until_all_changed(page, before)
    assert len(changed) == 6 and all(changed), changed
    assert _canvas(page, ".network-links") == links  # drawn once per model
    assert page.problems.console_errors == []


def test_segment_selector_changes_the_segment_chart(page):
    _step(page, 1)
    segment_chart = ".segment-panel .solara-echarts"
    before = _settled_images(page)
    (chart_before,) = _chart_images(page, segment_chart)
    titles = page.evaluate(CHART_TITLES_JS)
    assert any(t.startswith("Segment state-regulated") for t in titles)
    _pick(page, ".segment-panel", "developers")
    page.wait_for_function(
        f"() => document.querySelector('{segment_chart}').__vue__.option.title.text"
        ".startsWith('Segment developers')"
    )
    page.wait_for_timeout(300)
    (chart_after,) = _chart_images(page, segment_chart)
    assert chart_after != chart_before
    after = _chart_images(page)
    assert sum(old != new for old, new in zip(before, after, strict=True)) == 1  # only it
    assert page.problems.console_errors == []


def test_network_panel_draws_nodes_over_links(page):
    model = TechCompetitionModel(scenario="seed", rng=DEFAULT_SEED)
    view = NetworkView.build(model)  # the page's view: same scenario, seed and viz stream
    counts = np.bincount(view.options(model), minlength=len(view.names) + 1)
    layer = np.asarray(Image.open(io.BytesIO(_canvas(page, ".network-links"))).convert("RGBA"))
    link_pixels = layer[..., :3].astype(int)
    drawn = layer[..., 3] > 0  # the layer's canvas is transparent but for the links
    assert drawn.sum() > 5_000
    grey = np.ptp(link_pixels[drawn], axis=-1) <= 12  # links are grey (r = g = b)
    assert grey.mean() > 0.95
    panel = _rgb(page.locator(".network-panel").screenshot(animations="disabled"))
    colours = charts.provider_colours(model)
    for j, colour in enumerate(colours):
        if counts[j] >= 20:  # a provider with sampled users shows as dots of its colour
            assert _near(panel, colour).sum() >= 20, (view.names[j], colour)
    # the links show through the points' layer (its background is transparent)
    light_grey = np.all((panel >= 200) & (panel <= 245), axis=-1) & (np.ptp(panel, -1) <= 6)
    assert light_grey.sum() > 2_000
    assert page.problems.console_errors == []


VIEW_LABELS_JS = """
() => [...document.querySelectorAll('.solara-echarts.time-chart')].map(d => {
  const chart = d.__vue__.chart;
  const axis = chart.getModel().getComponent('xAxis', 0).axis;
  return axis.getViewLabels().map(l => l.formattedLabel);
})
"""
MARK_PIXELS_JS = """
(month) => [...document.querySelectorAll('.solara-echarts.time-chart')].map(d => {
  const chart = d.__vue__.chart;
  const x = Math.round(chart.convertToPixel({xAxisIndex: 0}, month));
  const canvas = d.querySelector('canvas');
  const ctx = canvas.getContext('2d');
  const data = ctx.getImageData(x - 1, 64, 3, canvas.height - 104).data;
  let n = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - 0x55) < 24 && Math.abs(data[i + 1] - 0x55) < 24
        && Math.abs(data[i + 2] - 0x55) < 24 && data[i + 3] > 128) n += 1;
  }
  return n;
})
"""


def test_dated_scenario_shows_month_labels_and_event_markers(page):
    _pick_scenario(page, "timeline-2024")
    params = load_scenario("timeline-2024")
    plan = TechCompetitionModel(params=params, rng=1, n_enterprises=10).plan
    for n in (1, 2):
        _step(page, n)
    page.wait_for_timeout(300)
    labels = page.evaluate(VIEW_LABELS_JS)  # the labels ECharts laid out on each x axis
    assert len(labels) == 5
    for shown in labels:
        assert shown[0] == "Jan 2024" and "Jan 2025" in shown, shown
    options = page.evaluate(
        "() => [...document.querySelectorAll('.solara-echarts.time-chart')]"
        ".map(d => d.__vue__.option.series[0].markLine.data.map(m => m.xAxis))"
    )
    assert options == [list(plan.event_months)] * 5
    for month in plan.event_months:
        category = charts.month_labels(params, month + 1)[-1]
        dark = page.evaluate(MARK_PIXELS_JS, category)
        assert all(n >= 20 for n in dark), (category, dark)  # a dashed line in each chart
    # where no event is, no such line: the month before the first event
    first = min(plan.event_months) - 1
    quiet = page.evaluate(MARK_PIXELS_JS, charts.month_labels(params, first + 1)[-1])
    assert max(quiet) < 20, quiet
    assert page.get_by_text("Month 0 is Jan 2024.").is_visible()
    assert page.locator(".events-table tbody tr").count() == len(plan.event_months)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "viz-timeline.png"), full_page=True)
    assert page.problems.console_errors == []


def test_every_scenario_loads_and_steps_without_console_errors(page):
    others = sorted(set(list_scenarios()) - {"seed"})
    for scenario in ["seed", *others]:  # the page opens on the seed scenario
        if scenario != "seed":
            _pick_scenario(page, scenario)
        _step(page, 1)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.network-nodes')]"
            ".some(d => d.__vue__.option.title.text.includes('month 1'))"
        )
        titles = page.evaluate(CHART_TITLES_JS)
        network = [t for t in titles if "by provider" in t]
        assert len(network) == 1 and "month 1" in network[0], (scenario, titles)
        if scenario == "classic":
            assert network[0].endswith("this scenario has no enterprise network")
        assert page.problems.console_errors == [], scenario
    assert page.problems.failed_requests == []
