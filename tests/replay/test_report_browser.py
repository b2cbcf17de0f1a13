"""The replay's HTML report in headless Chromium: self-contained (no request leaves the page) and drawn."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Route, sync_playwright

from bot.replay.backtest import ReplayRequest, run_replay
from tests.web.test_ui_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.browser
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "replay" / "sim-1day.csv"

# how many pixels of a chart's canvas are painted (alpha > 0)
PAINTED = """(id) => {
  const c = document.querySelector('#' + id + ' canvas');
  if (!c) return -1;
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
  return n;
}"""


@pytest.fixture(scope="module")
def browser(reports: dict[str, Path]) -> Iterator[Browser]:  # reports first: Playwright holds the loop
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (Debian package chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("reports")
    run_replay(ReplayRequest(prices=SAMPLE, out=root / "one"))
    run_replay(ReplayRequest(prices=SAMPLE, out=root / "sweep", sweep=[("MIN_PROFIT_GBP", ["1", "30"])]))
    return {"one": root / "one" / "report.html", "sweep": root / "sweep" / "report.html"}


def open_offline(browser: Browser, page_file: Path) -> tuple[Page, list[str]]:
    """Open the page from disk with every request beyond the file itself refused and noted."""
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    asked: list[str] = []

    def only_the_page(route: Route) -> None:
        if route.request.url == page_file.as_uri():
            route.continue_()
        else:
            asked.append(route.request.url)
            route.abort()

    page.route("**/*", only_the_page)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(page_file.as_uri())
    page.wait_for_selector("body[data-drawn=yes]", timeout=10_000)
    assert errors == []
    return page, asked


def test_the_report_draws_its_charts_with_nothing_fetched(reports: dict[str, Path], browser: Browser) -> None:
    # given a replay's report; when it is opened with no network
    page, asked = open_offline(browser, reports["one"])
    # then both charts are painted and nothing was fetched
    assert page.evaluate(PAINTED, "pnl-chart") > 500
    assert page.evaluate(PAINTED, "spread-chart") > 500
    assert asked == []
    assert page.locator("h2", has_text="Blocked cycles by reason").count() == 1
    page.close()


def test_a_sweep_report_shows_one_row_per_combination_and_draws(
    reports: dict[str, Path], browser: Browser
) -> None:
    page, asked = open_offline(browser, reports["sweep"])
    rows = page.locator("table").first.locator("tbody tr")
    assert rows.count() == 2
    assert rows.nth(0).locator("td").first.inner_text() == "MIN_PROFIT_GBP=1"
    assert page.evaluate(PAINTED, "pnl-chart") > 500 and asked == []
    page.close()
