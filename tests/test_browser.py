"""The page in a real browser: ``solara run`` started here on a free loopback port, driven
through Playwright with Debian's Chromium (never a downloaded browser).

Without ``/usr/bin/chromium`` (or the ``playwright`` package) every test here is reported as
skipped with the reason, never as passed. The screenshot lands in ``test-artifacts/viz.png``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

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
    tab.locator(".solara-echarts canvas").first.wait_for()
    yield tab
    context.close()


def _parameter_shown(page, name: str) -> str:
    row = page.locator(".parameters-panel tr", has=page.locator("td", has_text=name))
    return row.locator("td").nth(1).inner_text().strip()


def _chart_images(page) -> list[bytes]:
    charts = page.locator(".solara-echarts")
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


def test_page_loads_offline_without_errors(page):
    for text in ("Reset", "Step", "Model Parameters", "Home enforcement probability", "Providers"):
        assert page.get_by_text(text, exact=True).first.is_visible(), text
    assert page.locator(".solara-echarts").count() == 5
    assert page.locator(".provider-panel tr").count() == 1 + 6  # header + seed's providers
    page.wait_for_load_state("networkidle")  # late loads (fonts, chart library) are in
    assert page.problems.console_errors == []
    assert page.problems.failed_requests == []


def test_step_advances_counter_and_changes_plots(page):
    before = _settled_images(page)  # every chart painted and still, or "changed" means little
    step = page.get_by_role("button", name="Step")
    for n in (1, 2, 3):
        step.click()
        page.get_by_text(f"Step: {n}", exact=True).wait_for()
    changed = _wait_until_all_changed(page, before)
    assert all(changed), changed
    assert page.problems.console_errors == []


def test_moved_slider_and_reset_rebuild_model(page):
    assert _parameter_shown(page, "home_enforcement") == "0.5"
    slider = page.locator(".v-input", has_text="Home enforcement probability").get_by_role("slider")
    assert slider.get_attribute("aria-valuenow") == "0.5"
    slider.focus()
    for _ in range(20):
        page.keyboard.press("ArrowRight")  # 20 steps of 0.01
    assert float(slider.get_attribute("aria-valuenow")) == pytest.approx(0.7)
    page.get_by_role("button", name="Step").click()
    page.get_by_text("Step: 1", exact=True).wait_for()
    assert _parameter_shown(page, "home_enforcement") == "0.5"  # applied only by Reset
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("Step: 0", exact=True).wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('.parameters-panel td')]"
        ".some(td => td.innerText.trim() === '0.7')"
    )
    assert _parameter_shown(page, "home_enforcement") == "0.7"
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_role("button", name="Step").click()
    page.get_by_text("Step: 1", exact=True).wait_for()
    page.wait_for_timeout(300)
    page.screenshot(path=str(ARTIFACTS / "viz.png"), full_page=True)
    assert (ARTIFACTS / "viz.png").stat().st_size > 10_000
    assert page.problems.console_errors == []
    assert page.problems.failed_requests == []
