"""The simulated market publishes its book changes: each new tick reaches the venues' streams.

The market runs on a clock the test moves; waits are bounded, no duration is asserted.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.domain.market import Book, Side
from bot.venues.base import BookStream
from bot.venues.simulated import SimulatedFuturesVenue, SimulatedMarket, SimulatedPowerVenue
from tests.test_orchestrator_cycle import THURSDAY_NOON, Clock

BOUND_S = 5.0


@pytest.fixture
def clock() -> Clock:
    return Clock(THURSDAY_NOON)


@pytest.fixture
def market(clock: Clock) -> SimulatedMarket:
    return SimulatedMarket(seed=3, clock=clock, tick_ms=100)


async def next_book(stream: AsyncIterator[Book]) -> Book:
    return await asyncio.wait_for(anext(stream), BOUND_S)


async def test_the_simulated_venues_are_book_streams(market: SimulatedMarket) -> None:
    assert isinstance(SimulatedPowerVenue(market), BookStream)
    assert isinstance(SimulatedFuturesVenue(market), BookStream)


async def test_a_new_tick_is_published_to_the_stream_of_each_leg(
    market: SimulatedMarket, clock: Clock
) -> None:
    # given both legs' streams, open before the market moves
    power, futures = SimulatedPowerVenue(market), SimulatedFuturesVenue(market)
    power_changes, futures_changes = power.book_changes(), futures.book_changes()
    first = asyncio.ensure_future(anext(power_changes))
    other = asyncio.ensure_future(anext(futures_changes))
    await asyncio.sleep(0)
    # when the market's clock reaches a new tick and the market refreshes
    clock.advance(1)
    market.refresh()
    # then each stream yields its leg's book at the new tick, the book a read gives
    power_book, futures_book = await asyncio.wait_for(asyncio.gather(first, other), BOUND_S)
    assert power_book.at == futures_book.at == clock.at
    assert power_book == await power.book() and futures_book == await futures.book()
    await power.close()
    await futures.close()


async def test_ticks_not_read_yet_coalesce_into_the_latest_book(
    market: SimulatedMarket, clock: Clock
) -> None:
    # given a stream whose reader is busy
    power = SimulatedPowerVenue(market)
    changes = power.book_changes()
    pending = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0)
    # when three ticks are published before it reads
    for _ in range(3):
        clock.advance(0.1)
        market.refresh()
    # then it reads one book, the latest tick's, and nothing more is owed to it
    assert (await asyncio.wait_for(pending, BOUND_S)).at == clock.at
    following = asyncio.ensure_future(anext(changes))
    done, _ = await asyncio.wait({following}, timeout=0.3)  # room for a wrong backlog to show
    assert not done
    await power.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(following, BOUND_S)


async def test_the_stream_moves_the_market_when_its_clock_passes_a_tick(
    market: SimulatedMarket, clock: Clock
) -> None:
    # given a stream, and a clock that passes the next tick with no one reading the market
    power = SimulatedPowerVenue(market)
    changes = power.book_changes()
    clock.advance(0.25)
    # then the stream moves the market itself and yields the new tick's book
    book = await next_book(changes)
    assert book.at == THURSDAY_NOON + timedelta(milliseconds=200)
    await power.close()


async def test_closing_the_venue_ends_its_stream(market: SimulatedMarket) -> None:
    # given a stream waiting for the next tick
    power = SimulatedPowerVenue(market)
    changes = power.book_changes()
    waiting = asyncio.ensure_future(anext(changes))
    await asyncio.sleep(0)
    # when the venue closes
    await power.close()
    # then the stream ends
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting, BOUND_S)
    assert not market.changes  # and it no longer listens to the market


async def test_a_fill_changes_the_next_read_but_publishes_nothing(market: SimulatedMarket) -> None:
    # given a market whose tick has been published and read
    version = market.changes.version
    before = market.book("power")
    # when an order takes depth within the tick
    best = before.asks[0]
    market.take("power", Side.BUY, best.quantity, best.price + 1)  # slippage stays within it
    # then the next read shows it, and no change was published (our own fill is no news)
    assert market.book("power").asks != before.asks
    assert market.changes.version == version
