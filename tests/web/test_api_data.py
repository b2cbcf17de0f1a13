"""What the data endpoints answer: PnL, trades, open orders, spreads, state, metrics, health and readiness."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
import pytest
from prometheus_client import start_http_server
from prometheus_client.parser import text_string_to_metric_families

from bot.journal import Journal
from bot.metrics import BotMetrics
from tests.fixtures.api_server import API_KEY, RunningApi, free_port, journal_trades, make_settings, start_api

TRADES = 30
HEADERS = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def exporter_port() -> int:
    """The orchestrator's real exporter (its metric objects, prometheus_client's server) on loopback."""
    port = free_port()
    metrics = BotMetrics()
    metrics.last_spread.set(3.25)
    metrics.trades_executed.inc(7)
    metrics.trades_blocked.labels(reason="daily_loss_limit").inc(2)
    server, thread = start_http_server(port, addr="127.0.0.1", registry=metrics.registry)
    yield port
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, exporter_port: int) -> Iterator[RunningApi]:
    """A server over a journal holding 30 trades one minute apart, two skipped-cycle counters."""
    settings = make_settings(
        tmp_path_factory.mktemp("data"),
        API_KEY=API_KEY,
        METRICS_PORT=str(exporter_port),
        MAX_DAILY_LOSS_GBP="750",
    )
    journal_trades(settings, TRADES, end=datetime.now(UTC).replace(microsecond=0))
    journal = Journal.open(settings.journal_url)
    try:
        today = datetime.now(UTC).date()
        journal.count_skipped(today, "blocked", "outside_window", 4)
        journal.count_skipped(today, "no_trade", "negative_spread", 9)
    finally:
        journal.close()
    running = start_api(settings)
    yield running
    running.stop()


def get(server: RunningApi, path: str) -> httpx.Response:
    response = httpx.get(server.base_url + path, headers=HEADERS)
    assert response.status_code == 200, response.text
    return response


def test_pnl_reports_today_and_one_entry_per_day_of_history(server: RunningApi) -> None:
    body = get(server, "/pnl?days=7").json()
    assert body["currency"] == "GBP"
    assert body["daily_loss_limit_gbp"] == "750"
    assert len(body["history"]) == 7
    assert body["history"][-1] == body["today"]
    assert body["today"]["day"] == datetime.now(UTC).date().isoformat()


def test_pnl_today_is_the_exact_sum_of_todays_trades(server: RunningApi) -> None:
    trades = get(server, "/trades?limit=500").json()["items"]
    today = datetime.now(UTC).date().isoformat()
    expected = sum(Decimal(t["net_gbp"]) for t in trades if t["executed_at"].startswith(today))
    body = get(server, "/pnl").json()
    assert Decimal(body["today"]["realised_gbp"]) == expected
    assert "E" not in body["today"]["loss_gbp"]  # fixed-point text, never 0E-8


def test_pnl_history_is_bounded(server: RunningApi) -> None:
    response = httpx.get(f"{server.base_url}/pnl?days=367", headers=HEADERS)
    assert response.status_code == 422
    assert response.json()["problems"][0].startswith("query.days")


def test_trades_are_paged_newest_first_with_the_total(server: RunningApi) -> None:
    first = get(server, "/trades?limit=10").json()
    second = get(server, "/trades?limit=10&offset=10").json()
    assert first["total"] == TRADES
    assert len(first["items"]) == 10
    times = [t["executed_at"] for t in first["items"] + second["items"]]
    assert times == sorted(times, reverse=True)
    assert first["items"][-1]["cycle_id"] != second["items"][0]["cycle_id"]


def test_trades_page_size_is_bounded(server: RunningApi) -> None:
    response = httpx.get(f"{server.base_url}/trades?limit=501", headers=HEADERS)
    assert response.status_code == 422


def test_trades_filter_by_time(server: RunningApi) -> None:
    newest = get(server, "/trades?limit=1").json()["items"][0]["executed_at"]
    since = (datetime.fromisoformat(newest) - timedelta(minutes=4, seconds=30)).isoformat()
    body = httpx.get(f"{server.base_url}/trades", params={"since": since}, headers=HEADERS).json()
    assert body["total"] == 5
    assert all(t["executed_at"] >= since.replace("+00:00", "Z") for t in body["items"])


def test_trades_filter_refuses_a_time_without_a_zone(server: RunningApi) -> None:
    response = httpx.get(
        f"{server.base_url}/trades", params={"since": "2025-01-01T00:00:00"}, headers=HEADERS
    )
    assert response.status_code == 422
    assert "timezone" in response.json()["problems"][0]


def test_trades_carry_exact_prices_and_the_spread(server: RunningApi) -> None:
    trade = get(server, "/trades?limit=1").json()["items"][0]
    assert Decimal(trade["spread_gbp"]) == Decimal(trade["futures_price_gbp"]) - Decimal(
        trade["power_price_gbp"]
    )
    assert Decimal(trade["net_gbp"]) == Decimal(trade["gross_gbp"]) - Decimal(trade["costs"]["total_gbp"])


def test_spreads_are_oldest_first_and_marked_as_trades(server: RunningApi) -> None:
    points = get(server, "/spreads?limit=5").json()["items"]
    assert len(points) == 5
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    assert all(p["traded"] for p in points)


def test_open_orders_lists_orders_not_final(server: RunningApi) -> None:
    # every journalled order of a traded cycle is filled: none is open
    assert get(server, "/orders/open").json() == {"items": []}


def test_state_shows_settings_without_secrets_and_todays_blocked_reasons(server: RunningApi) -> None:
    body = get(server, "/state").json()
    assert body["settings"]["API_KEY"] == "<set>"
    assert API_KEY not in httpx.get(f"{server.base_url}/state", headers=HEADERS).text
    assert body["blocked_today"][:2] == [
        {"outcome": "no_trade", "reason": "negative_spread", "count": 9},
        {"outcome": "blocked", "reason": "outside_window", "count": 4},
    ]
    assert body["orchestrator"]["state"] == "stopped"
    assert body["mode"] == "simulated"  # live / paper / simulated, said plainly


def test_metrics_hold_the_orchestrators_series_and_the_apis_own(server: RunningApi) -> None:
    text = get(server, "/metrics").text
    families = {family.name: family for family in text_string_to_metric_families(text)}
    assert families["last_spread"].samples[0].value == 3.25
    assert families["trades_executed"].samples[0].value == 7
    assert "api_requests" in families
    assert families["api_orchestrator_metrics_up"].samples[0].value == 1


def test_healthz_answers_liveness_without_touching_anything(server: RunningApi) -> None:
    assert httpx.get(f"{server.base_url}/healthz").json()["status"] == "ok"


def test_readiness_names_each_check_and_nothing_else(server: RunningApi) -> None:
    body = httpx.get(f"{server.base_url}/readyz").json()
    names = [check["name"] for check in body["checks"]]
    assert names[:3] == ["config", "journal", "orchestrator"]
    assert any(name.startswith("power:") for name in names)
    assert any(name.startswith("futures:") for name in names)
    assert any(name.startswith("loan:") for name in names)
    assert body["ready"] is True
    assert body["orchestrator"] == "stopped"


def test_healthz_probe_readiness_answers_as_readyz(server: RunningApi) -> None:
    legacy = httpx.get(f"{server.base_url}/healthz", params={"probe": "readiness"}).json()
    assert legacy["ready"] is True
    assert [c["name"] for c in legacy["checks"]] == [
        c["name"] for c in httpx.get(f"{server.base_url}/readyz").json()["checks"]
    ]


def test_the_panel_is_served_with_a_strict_content_security_policy(server: RunningApi) -> None:
    response = httpx.get(f"{server.base_url}/ui/")
    assert response.status_code == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "cdn" not in response.text.lower()
    assert httpx.get(f"{server.base_url}/ui", follow_redirects=False).status_code in (307, 308)


def test_request_metrics_label_each_route_by_its_template(server: RunningApi) -> None:
    get(server, "/pnl")
    get(server, "/ui/")
    httpx.get(f"{server.base_url}/no/such/path", headers=HEADERS)
    families = {f.name: f for f in text_string_to_metric_families(get(server, "/metrics").text)}
    routes = {sample.labels["route"] for sample in families["api_requests"].samples}
    assert {"/pnl", "/ui", "unmatched"} <= routes
    assert not any(route.startswith("/no/") for route in routes)  # label values stay bounded
