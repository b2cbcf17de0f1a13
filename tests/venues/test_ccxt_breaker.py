"""The CCXT venue's circuit breaker (the REST venues' `CircuitBreaker`), against a loopback binance.

Repeated 5xx and dropped connections open it; while open, calls fail fast with `venue_unavailable`
and the stand-in's request log shows nothing reached it; after the cool-down one call probes. The
breaker's clock is injected (`FakeTime`): no test waits for a cool-down or asserts on time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.config import Settings
from bot.domain.market import OrderStatus
from bot.venues import factories
from bot.venues.base import VenueError
from bot.venues.ccxt import CcxtVenue, build_ccxt_venue
from tests.fixtures.binance import (
    FAST_RETRY,
    REQUEST_TIMEOUT_S,
    BinanceStub,
    Fault,
    venue_settings,
)
from tests.venues.rest_loopback import FakeTime
from tests.venues.test_ccxt_faults import assert_safe, sell

DEPTH = ("GET", "/api/v3/depth")
FAILURES = 3  # FAST_RETRY makes 3 attempts: one failing read opens the breaker
COOL_DOWN_S = 5.0


@pytest.fixture
async def venue(binance: BinanceStub, clock: FakeTime) -> AsyncIterator[CcxtVenue]:
    built = build_ccxt_venue(
        Settings.from_mapping(venue_settings(binance)),
        retry=FAST_RETRY,
        request_timeout_s=REQUEST_TIMEOUT_S,
        breaker_failures=FAILURES,
        breaker_cool_down_s=COOL_DOWN_S,
        monotonic=clock.monotonic,
    )
    assert isinstance(built, CcxtVenue)
    built.exchange.timeout_on_exit = 0
    yield built
    await built.close()


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()


async def _kind_of_failed_book(venue: CcxtVenue) -> str:
    with pytest.raises(VenueError) as caught:
        await venue.book()
    return caught.value.kind


async def test_repeated_5xx_open_the_breaker_and_calls_fail_fast_unsent(
    binance: BinanceStub, venue: CcxtVenue
) -> None:
    # given a venue whose markets loaded, then a book read answered 500 on every attempt
    await venue.market()
    binance.fail_next(*DEPTH, Fault(500, "<html>oops</html>"), times=FAILURES)
    first = await _kind_of_failed_book(venue)
    sent = binance.count(*DEPTH)
    # when the book is asked for again while the breaker is open
    second = await _kind_of_failed_book(venue)
    # then the second call failed fast and never reached the venue
    assert (first, second) == ("server_error", "venue_unavailable")
    assert sent == FAILURES and binance.count(*DEPTH) == FAILURES
    assert venue.health().breaker == "open"
    assert venue.health().up is False


async def test_refused_connections_open_it_and_a_probe_after_the_cool_down_closes_it(
    binance: BinanceStub, venue: CcxtVenue, clock: FakeTime
) -> None:
    # given a breaker opened by the venue going away (every connection refused)
    await venue.market()
    await binance.stop()
    assert await _kind_of_failed_book(venue) == "unreachable"
    assert venue.health().breaker == "open"
    # when the venue comes back, but the cool-down has not passed yet
    await binance.start()
    assert await _kind_of_failed_book(venue) == "venue_unavailable"
    assert binance.count(*DEPTH) == 0  # nothing reached it
    clock.now += COOL_DOWN_S
    assert venue.health().breaker == "half_open"
    # then one call probes the venue, its answer closes the breaker and calls go through again
    probe = await venue.book()
    assert venue.health().breaker == "closed"
    after = await venue.book()
    assert probe.bids and after.bids
    assert binance.count(*DEPTH) == 2


async def test_the_venue_going_away_mid_sequence_and_coming_back(
    binance: BinanceStub, venue: CcxtVenue, clock: FakeTime
) -> None:
    # given an order resting at the venue
    assert (await venue.place(sell("away-1", limit="60"))).status is OrderStatus.OPEN
    # when the venue goes away: its status cannot be read and the breaker opens
    await binance.stop()
    kinds = []
    for call in (venue.status, venue.cancel):
        with pytest.raises(VenueError) as caught:
            await call("away-1")
        kinds.append(caught.value.kind)
        assert_safe(caught.value)
    # then once it is back and the cool-down has passed, the cancel goes through
    await binance.start()
    clock.now += COOL_DOWN_S
    cancelled = await venue.cancel("away-1")
    assert kinds == ["unreachable", "venue_unavailable"]
    assert cancelled.status is OrderStatus.CANCELLED


async def test_a_failed_probe_opens_it_for_another_cool_down(
    binance: BinanceStub, venue: CcxtVenue, clock: FakeTime
) -> None:
    # given an open breaker whose cool-down has passed, and a venue still answering 502
    await venue.market()
    binance.fail_next(*DEPTH, Fault(502, "Bad Gateway"), times=FAILURES + 1)
    await _kind_of_failed_book(venue)
    clock.now += COOL_DOWN_S
    # when the probe fails (one attempt: its retry meets the re-opened breaker)
    await _kind_of_failed_book(venue)
    assert binance.count(*DEPTH) == FAILURES + 1
    # then the breaker is open again, failing fast without sending, until the next cool-down
    assert venue.health().breaker == "open"
    assert await _kind_of_failed_book(venue) == "venue_unavailable"
    assert binance.count(*DEPTH) == FAILURES + 1
    clock.now += COOL_DOWN_S
    assert (await venue.book()).bids
    assert venue.health().breaker == "closed"


async def test_orders_are_refused_unsent_while_the_breaker_is_open(
    binance: BinanceStub, venue: CcxtVenue
) -> None:
    # given an open breaker
    await venue.market()
    binance.fail_next(*DEPTH, Fault(500), times=FAILURES)
    await _kind_of_failed_book(venue)
    # when the exchange's time is asked (ping) and an order is cancelled
    with pytest.raises(VenueError) as ping:
        await venue.ping()
    with pytest.raises(VenueError) as cancel:
        await venue.cancel("cyc-1-futures")
    # then both failed fast: nothing but the failing depth reads reached the venue
    assert ping.value.kind == cancel.value.kind == "venue_unavailable"
    assert binance.count("GET", "/api/v3/time") == 0
    assert [r for r in binance.requests if r[1] == "/api/v3/order"] == []


async def test_the_factory_takes_the_breaker_from_the_venue_breaker_settings(binance: BinanceStub) -> None:
    # given VENUE_BREAKER_FAILURES=2 and one attempt per read
    settings = Settings.from_mapping(
        venue_settings(
            binance,
            VENUE_BREAKER_FAILURES="2",
            VENUE_BREAKER_COOLDOWN_SECS="45",
            VENUE_READ_RETRIES="1",
        )
    )
    venue = factories.ccxt_futures(settings)
    assert isinstance(venue, CcxtVenue)
    venue.exchange.timeout_on_exit = 0
    try:
        await venue.market()
        binance.fail_next(*DEPTH, Fault(500), times=2)
        # when two book reads fail
        kinds = [await _kind_of_failed_book(venue) for _ in range(3)]
    finally:
        await venue.close()
    # then the second failure opened the breaker: the third read was refused unsent
    assert kinds == ["server_error", "server_error", "venue_unavailable"]
    assert binance.count(*DEPTH) == 2
    assert venue.breaker.cool_down_s == 45
    assert venue.health().breaker == "open"
