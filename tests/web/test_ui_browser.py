"""The control panel in headless Chromium (Debian's, driven by Playwright; no browser download).

The panel is loaded from a running server, a key is entered, a simulated trading loop is started
and stopped from it, trades appear in the table and the four uPlot charts draw, show hovered values
and zoom; the demo market profile is announced by a banner; refusals are shown plainly. A
screenshot is kept in test-artifacts/ui.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Request, expect, sync_playwright

from bot.markets.profiles import DEMO_NOTICE
from bot.web.context import ApiOptions
from tests.fixtures.api_server import API_KEY, RunningApi, free_port, make_settings, start_api

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# chart element -> decimal places its legend shows
CHARTS = {"pnl-chart": 2, "spread-chart": 2, "blocked-chart": 0, "latency-chart": 2}
LOOPBACK = re.compile(r"^(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?/")
# the screen the panel must read on without scrolling: a common laptop's browser window
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server that supervises the real simulated trading loop, on the demo market (`make run`'s)."""
    settings = make_settings(
        tmp_path_factory.mktemp("ui"),
        API_KEY=API_KEY,
        TRADING_WINDOW_UTC="00:00-24:00",
        ALLOW_WEEKEND_TRADING="1",
        SIM_PROFILE="demo",
    )
    running = start_api(settings, options=ApiOptions(echo_orchestrator_output=False))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def reader_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningApi]:
    """A server where the key only reads, and two failed logins lock an address out."""
    settings = make_settings(
        tmp_path_factory.mktemp("reader"), API_KEY=API_KEY, API_KEY_ROLES="trading-reader"
    )
    running = start_api(
        settings, options=ApiOptions(echo_orchestrator_output=False, auth_failure_limit="2/minute")
    )
    yield running
    running.stop()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1300, "height": 1700})
    tab = context.new_page()
    yield tab
    context.close()


@dataclass
class PageWatch:
    """What a page asked for and complained about while a test ran."""

    requests: list[str] = field(default_factory=list)
    csp_messages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self, page: Page) -> list[str]:
        return self.csp_messages + page.evaluate("() => window.__cspViolations || []")


def watch(page: Page) -> PageWatch:
    """Record every request, every CSP complaint (console or securitypolicyviolation) and page error."""
    seen = PageWatch()
    page.add_init_script(
        "window.__cspViolations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " (e) => window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"
    )

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.csp_messages.append(message.text)

    def on_request(request: Request) -> None:
        seen.requests.append(request.url)

    page.on("console", on_console)
    page.on("request", on_request)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    return seen


def plot_summary(page: Page, chart: str) -> dict[str, object]:
    """The uPlot instance drawn in a chart element: its x range and how many columns and points."""
    return page.evaluate(
        """(id) => {
            const u = FlashCharts.plotOf(id);
            if (!u) return { drawn: false };
            return { drawn: u.root.parentElement === document.getElementById(id), series: u.series.length,
                     points: u.data[0].length, min: u.scales.x.min, max: u.scales.x.max };
        }""",
        chart,
    )


def legend_value(page: Page, chart: str) -> Locator:
    """The legend's cell for the chart's first series."""
    return page.locator(f"#{chart} .u-legend .u-series").nth(1).locator(".u-value")


def drawn_pixels(page: Page, chart: str) -> int:
    """How many pixels of the chart's canvas carry its first series' colour (its line or markers)."""
    return int(
        page.evaluate(
            """(id) => {
            const u = FlashCharts.plotOf(id);
            const hex = u.series[1]._stroke;
            const want = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16));
            const { data } = u.ctx.getImageData(0, 0, u.ctx.canvas.width, u.ctx.canvas.height);
            let count = 0;
            for (let p = 0; p < data.length; p += 4) {
                if (data[p + 3] > 200 && want.every((c, k) => Math.abs(data[p + k] - c) < 24)) count++;
            }
            return count;
        }""",
            chart,
        )
    )


def in_first_view(page: Page, selector: str) -> bool:
    """Whether an element lies wholly inside the window's first screen (the page scrolled to its top)."""
    return bool(
        page.evaluate(
            """(selector) => {
            const r = document.querySelector(selector).getBoundingClientRect();
            const top = r.top + window.scrollY;
            return top >= 0 && r.height > 0 && top + r.height <= window.innerHeight;
        }""",
            selector,
        )
    )


def hover_a_point(page: Page, chart: str) -> tuple[float, Locator]:
    """Move the mouse onto the first series' second newest point (the legend shows the newest off
    the chart); that point's value and the legend's cell for it."""
    target = page.evaluate(
        """(id) => {
            const u = FlashCharts.plotOf(id);
            u.root.scrollIntoView({ block: "center" });
            const values = u.data[1];
            let i = values.length - 1;
            while (values[i] === null) i--;
            i--;
            while (i > 0 && values[i] === null) i--;
            const box = u.over.getBoundingClientRect();
            const inside = (at, size) => Math.min(Math.max(at, 1), size - 1); // the newest sits on the edge
            return { x: box.left + inside(u.valToPos(u.data[0][i], "x"), box.width),
                     y: box.top + inside(u.valToPos(values[i], "y"), box.height), value: values[i] };
        }""",
        chart,
    )
    page.mouse.move(target["x"], target["y"])
    return target["value"], legend_value(page, chart)


def drag_and_reset(page: Page, chart: str) -> tuple[dict[str, object], dict[str, object], dict[str, object]]:
    """Drag across the middle half of a chart, then double-click it: the plot before, zoomed, reset."""
    before = plot_summary(page, chart)
    box = page.evaluate(
        """(id) => {
            const u = FlashCharts.plotOf(id);
            u.root.scrollIntoView({ block: "center" });
            const r = u.over.getBoundingClientRect();
            return { left: r.left, top: r.top, width: r.width, height: r.height };
        }""",
        chart,
    )
    y = box["top"] + box["height"] / 2
    page.mouse.move(box["left"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["left"] + box["width"] * 0.75, y, steps=8)
    page.mouse.up()
    zoomed = plot_summary(page, chart)
    page.mouse.dblclick(box["left"] + box["width"] / 2, y)
    return before, zoomed, plot_summary(page, chart)


def _connect(page: Page, server: RunningApi, key: str) -> None:
    page.goto(f"{server.base_url}/ui/")
    page.fill("#api-key", key)
    page.click("#connect-btn")


def test_a_wrong_key_is_rejected_plainly(page: Page, server: RunningApi) -> None:
    _connect(page, server, "not-the-key")
    expect(page.locator("#error")).to_contain_text("Wrong or missing key")
    expect(page.locator("#identity")).to_have_text("not connected")
    expect(page.locator("#start-btn")).to_be_disabled()


def test_the_key_lives_in_session_storage_only(page: Page, server: RunningApi) -> None:
    _connect(page, server, API_KEY)
    expect(page.locator("#identity")).to_contain_text("control plane allowed")
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => sessionStorage.getItem('flash-green.key')") == API_KEY
    assert API_KEY not in page.url


def test_start_a_simulated_loop_see_trades_and_charts_then_stop_it(page: Page, server: RunningApi) -> None:
    # given a connected panel on a laptop's screen, its server on the demo market
    seen = watch(page)
    page.set_viewport_size(LAPTOP)
    _connect(page, server, API_KEY)
    expect(page.locator("#identity")).to_contain_text("api-key:")
    # when the loop of a bot configured for an always-open market is started with overrides for its pace
    page.fill(
        "#overrides",
        "\n".join(
            [
                "EXEC_LATENCY_MS=0",
                "CYCLE_INTERVAL_SECS=0.05",
                f"METRICS_PORT={free_port()}",
                # some books arrive stale, so cycles are blocked too, whatever the market does
                "SIM_FAULTS=stale_book=0.2",
            ]
        ),
    )
    page.click("#start-btn")
    # then it runs, says its market is the demo's, and trades within seconds
    expect(page.locator("#orch-state")).to_have_text("running", timeout=15_000)
    expect(page.locator("#window")).to_have_text("open")
    expect(page.locator("#demo-banner")).to_be_visible()
    expect(page.locator("#demo-banner")).to_contain_text(DEMO_NOTICE)
    expect(page.locator("#last-trade")).to_have_text(re.compile(r"^-?\d+\.\d{2}$"), timeout=15_000)
    # and the last trade, the spread chart with its trade markers and the banner show without scrolling
    expect(page.locator("#spread-chart")).to_have_attribute("data-markers", re.compile(r"^[1-9]\d*$"))
    for shown in ("#demo-banner", "#last-trade-detail", "#spread-chart canvas", "#spread-chart .u-legend"):
        assert in_first_view(page, shown), shown
    # and the trades appear in the table with real timestamps
    first_trade = page.locator("#trades tbody tr:not(.empty)").first
    expect(first_trade).to_be_visible()
    expect(first_trade.locator("td").first).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC$")
    )
    expect(page.locator("#pnl-chart")).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#spread-chart")).to_have_attribute("data-markers", re.compile(r"^[1-9]\d*$"))
    # (skipped cycles are journalled in batches, every 5 s)
    expect(page.locator("#blocked li").first).not_to_have_text("none", timeout=15_000)
    expect(page.locator("#blocked-chart")).to_have_attribute("data-points", re.compile(r"^[1-9]\d*$"))
    expect(page.locator("#latency-chart")).to_have_attribute(
        "data-points", re.compile(r"^([3-9]|\d{2,})$"), timeout=15_000
    )
    # and each of the four charts is a uPlot with data drawn on its canvas; its legend shows the
    # newest value, and the value under the mouse while it hovers a point
    page.uncheck("#auto-refresh")  # hold the data still while the mouse reads it
    page.wait_for_timeout(2_500)  # let a refresh already in flight land
    page.mouse.move(0, 0)
    for chart, places in CHARTS.items():
        summary = plot_summary(page, chart)
        assert summary["drawn"] and summary["points"] and summary["series"] >= 2, (chart, summary)
        assert drawn_pixels(page, chart) > 20, chart
        expect(legend_value(page, chart)).not_to_have_text("\N{EN DASH}")
        value, legend = hover_a_point(page, chart)
        expect(legend).to_have_text(f"{value:.{places}f}")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)
    # and a drag zooms into a time range that a double-click resets
    before, zoomed, reset = drag_and_reset(page, "latency-chart")
    assert before["min"] < zoomed["min"] < zoomed["max"] < before["max"], (before, zoomed)
    assert (reset["min"], reset["max"]) == (before["min"], before["max"])
    # and when it is stopped it ends cleanly
    page.click("#stop-btn")
    expect(page.locator("#control-result")).to_contain_text("exit code 0", timeout=45_000)
    expect(page.locator("#orch-state")).to_have_text(re.compile("exited|stopped"))
    expect(page.locator("#log-tail")).to_contain_text("orchestrator stopped")
    # and the panel never left this machine, broke its CSP or threw
    assert [url for url in seen.requests if not url.startswith("data:") and not LOOPBACK.match(url)] == []
    assert any("/ui/vendor/uplot/uPlot.iife.min.js" in url for url in seen.requests)
    assert seen.csp_violations(page) == []
    assert seen.errors == []


def test_invalid_overrides_are_refused_naming_the_key(page: Page, server: RunningApi) -> None:
    _connect(page, server, API_KEY)
    expect(page.locator("#identity")).to_contain_text("api-key:")
    page.fill("#overrides", "API_KEY=stolen")
    page.click("#start-btn")
    expect(page.locator("#error")).to_contain_text("API_KEY is a secret")


def test_the_realistic_market_shows_no_demo_banner(page: Page, reader_server: RunningApi) -> None:
    _connect(page, reader_server, API_KEY)
    expect(page.locator("#trading-mode")).to_have_text("SIMULATED")
    expect(page.locator("#demo-banner")).to_be_hidden()


def test_a_forbidden_role_is_shown_plainly(page: Page, reader_server: RunningApi) -> None:
    _connect(page, reader_server, API_KEY)
    expect(page.locator("#identity")).to_contain_text("read only")
    expect(page.locator("#start-btn")).to_be_disabled()
    page.click("button.raw[data-path='/audit']")
    expect(page.locator("#error")).to_contain_text("Forbidden (403)")


def test_rate_limiting_is_shown_plainly(page: Page, reader_server: RunningApi) -> None:
    for _ in range(3):
        _connect(page, reader_server, "guess")
    expect(page.locator("#error")).to_contain_text("Rate limited (429): retry in")


def test_a_server_that_went_away_is_shown_plainly(page: Page, reader_server: RunningApi) -> None:
    page.goto(f"{reader_server.base_url}/ui/")
    reader_server.stop()
    page.fill("#api-key", API_KEY)
    page.click("#connect-btn")
    expect(page.locator("#error")).to_contain_text("Server unreachable")
