"""A live venue's failures as the cycle sees them: the power leg is the Powerledger REST adapter
against a loopback server, the futures leg the simulated venue, the journal a real SQLite file.

The breaker opens and the cycles are blocked as `venue_unavailable` without a request sent; it
closes and trading resumes. An order whose `place()` cannot say whether the venue took it is
UNKNOWN, never REJECTED. The venue series are read back through Prometheus' own parser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pytest_httpserver import HTTPServer

from bot.config import Settings
from bot.domain.market import OrderStatus
from bot.journal import Journal
from bot.journal.records import CycleStatus
from bot.loans.simulated import SimulatedFlashLoan
from bot.markets.faults import FaultPlan
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import Orchestrator
from bot.venues.base import VenueHealth, venue_health
from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue
from tests.fixtures.cycle_venues import orchestrator_on
from tests.test_orchestrator_cycle import PAYING, THURSDAY_NOON, Clock
from tests.venues.rest_fixtures import http_server
from tests.venues.rest_loopback import POWERLEDGER, FakeTime, LoopbackVenue, fast_policy, json_reply

__all__ = ["http_server"]  # the module-scoped loopback server fixture, used below


class UnstampedLoopback(LoopbackVenue):
    """A Powerledger loopback whose books carry no timestamp: the adapter stamps them on receipt
    with the test's clock, so they are never stale."""

    def book_json(self) -> dict[str, Any]:
        book = super().book_json()
        del book["timestamp"]
        return book


@dataclass
class VenueRig:
    orchestrator: Orchestrator
    server: UnstampedLoopback
    power: Any  # the REST venue
    futures: SimulatedFuturesVenue
    loan: SimulatedFlashLoan
    journal: Journal
    metrics: BotMetrics
    clock: Clock
    venue_time: FakeTime  # the REST venue's monotonic clock: the breaker's cool-down

    async def cycle(self):  # type: ignore[no-untyped-def]
        self.clock.advance(1)
        return await self.orchestrator.run_once()

    def samples(self, name: str) -> list[Any]:
        text = generate_latest(self.metrics.registry).decode()
        return [s for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]

    def metric(self, name: str, **labels: str) -> float:
        for sample in self.samples(name):
            if all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
        raise AssertionError(f"no sample {name}{labels}")


@pytest.fixture
def rig(
    tmp_path: Path, http_server: HTTPServer, isolated_config_env: pytest.MonkeyPatch
) -> Iterator[VenueRig]:
    http_server.clear()
    server = UnstampedLoopback(POWERLEDGER, http_server)
    settings = Settings.from_mapping(
        {
            "DATA_DIR": str(tmp_path),
            "EXEC_LATENCY_MS": "0",
            "ORDER_TIMEOUT_SECS": "0.2",
            "ORDER_POLL_INTERVAL": "0.01",
            "KELLY_BANK_GBP": "0",
        }
    )
    clock = Clock(THURSDAY_NOON)
    metrics = BotMetrics()
    venue_time = FakeTime()
    power = server.venue(
        policy=fast_policy(read_attempts=1, breaker_failures=2, breaker_cool_down_s=30),
        clock=venue_time,
        observer=metrics.venue_observer(),
        now=clock,
    )
    market = SimulatedMarket(seed=3, clock=clock, params=PAYING, exec_latency_ms=0, faults=FaultPlan(seed=3))
    futures = SimulatedFuturesVenue(market)
    futures.observer = metrics.venue_observer()
    orchestrator, loan, journal = orchestrator_on(settings, power, futures, metrics, clock)
    yield VenueRig(orchestrator, server, power, futures, loan, journal, metrics, clock, venue_time)
    journal.close()


def fail_books(rig: VenueRig, times: int) -> None:
    for _ in range(times):
        rig.server.fault(POWERLEDGER.book_path, "GET", json_reply({"error": "maintenance"}, 503))


async def test_a_paying_spread_trades_through_the_rest_venue(rig: VenueRig) -> None:
    result = await rig.cycle()
    await rig.power.close()

    assert result.outcome == "traded", result
    assert rig.metric("last_power_ask") == -1.5  # the REST book's top, in every mode


async def test_an_open_breaker_blocks_cycles_as_venue_unavailable_until_it_closes(rig: VenueRig) -> None:
    fail_books(rig, 2)  # two 503s: the breaker (2 consecutive failures) opens

    first, second = await rig.cycle(), await rig.cycle()
    requests_before = len(rig.server.seen)
    third = await rig.cycle()

    assert [r.reason for r in (first, second, third)] == ["venue_unavailable"] * 3
    assert all(r.outcome == "blocked" for r in (first, second, third))
    assert len(rig.server.seen) == requests_before  # open: nothing was sent
    health: VenueHealth = venue_health(rig.power)
    assert (health.breaker, health.up, health.last_outcome) == ("open", False, "venue_unavailable")
    assert rig.metric("trades_blocked_total", reason="venue_unavailable") == 3
    assert rig.metric("venue_errors_total", venue="powerledger", kind="server_error") == 2
    assert rig.metric("venue_errors_total", venue="powerledger", kind="venue_unavailable") == 1
    assert rig.metric("venue_up", venue="powerledger") == 0

    # the loop itself keeps running while the venue is away: no exception escapes it
    blocked_before = rig.metric("cycles_total", outcome="blocked")
    loop = asyncio.create_task(rig.orchestrator.run(0))
    while rig.metric("cycles_total", outcome="blocked") < blocked_before + 3:
        await asyncio.sleep(0.01)
    rig.orchestrator.stopping.set()
    await asyncio.wait_for(loop, timeout=30)
    assert rig.metric("trades_blocked_total", reason="error") == 0

    rig.venue_time.now += 31  # the cool-down passes: the next call is the probe, and it succeeds
    rig.orchestrator.stopping.clear()
    resumed = await rig.cycle()
    await rig.power.close()

    assert resumed.outcome == "traded", resumed
    assert venue_health(rig.power).breaker == "closed"
    assert rig.metric("venue_up", venue="powerledger") == 1


async def test_a_place_that_times_out_is_unknown_not_rejected(rig: VenueRig) -> None:
    # HTTP 408 on POST /orders: a `timeout` VenueError out of place(); the venue may hold the order
    rig.server.fault("/orders", "POST", json_reply({"error": "request_timeout"}, 408))

    result = await rig.cycle()
    await rig.power.close()

    assert result.reason == "order_unknown"
    cycle = rig.journal.cycle(result.cycle.cycle_id)
    entry = next(o for o in cycle.orders if o.purpose == "entry")
    assert entry.status is OrderStatus.UNKNOWN  # never REJECTED: its fate is the venue's to say
    assert cycle.status is CycleStatus.FAILED and cycle.trade is None  # a leg may be open: a human checks
    assert rig.loan.outstanding() == {}
    assert rig.metric("trades_blocked_total", reason="order_unknown") == 1
    assert rig.metric("trades_blocked_total", reason="power_rejected") == 0
    assert rig.metric("venue_errors_total", venue="powerledger", kind="timeout") == 1


async def test_a_refused_order_is_still_a_rejection(rig: VenueRig) -> None:
    rig.server.fault("/orders", "POST", json_reply({"error": "price_out_of_band", "message": "no"}, 400))

    result = await rig.cycle()
    await rig.power.close()

    assert (result.outcome, result.reason) == ("unwound", "power_rejected")
    entry = next(o for o in rig.journal.cycle(result.cycle.cycle_id).orders if o.purpose == "entry")
    assert entry.status is OrderStatus.REJECTED


async def test_venue_series_are_exported_for_rest_and_simulated_venues(rig: VenueRig) -> None:
    await rig.cycle()
    await rig.power.close()

    assert rig.metric("venue_up", venue="powerledger") == 1
    assert rig.metric("venue_up", venue="sim-futures") == 1
    endpoints = {
        (s.labels["venue"], s.labels["endpoint"])
        for s in rig.samples("venue_request_seconds_count")
        if s.value > 0
    }
    assert {("powerledger", "orderbook"), ("powerledger", "place"), ("sim-futures", "place")} <= endpoints
    kinds = {
        s.labels["kind"] for s in rig.samples("venue_errors_total") if s.labels["venue"] == "powerledger"
    }
    assert {"timeout", "unreachable", "venue_unavailable", "rejected"} <= kinds  # pre-registered at 0


def test_every_venue_reason_is_a_pre_registered_label() -> None:
    metrics = BotMetrics()
    text = generate_latest(metrics.registry).decode()
    reasons = {
        s.labels["reason"]
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "trades_blocked_total"
    }
    assert {
        "venue_unavailable",
        "venue_rate_limited",
        "venue_unauthorized",
        "venue_error",
        "order_unknown",
    } <= reasons


def test_simulated_venues_report_health_without_a_breaker() -> None:
    market = SimulatedMarket(seed=1, clock=Clock(THURSDAY_NOON))
    power = SimulatedPowerVenue(market)
    assert venue_health(power) == VenueHealth("sim-power", "power", None, "none")
    asyncio.run(power.book())
    health = venue_health(power)
    assert (health.up, health.breaker, health.last_outcome) == (True, "none", "ok")
