"""The CCXT venue's book feed: ccxt.pro's binance diff-depth sync over a loopback websocket, or polling.

What is tested of streaming: ccxt.pro subscribes to `<symbol>@depth@100ms`, takes the REST
snapshot (`/api/v3/depth`, `lastUpdateId`) and applies the stand-in's `depthUpdate` diffs; the
venue yields each change, answers `book()` from the feed, and resubscribes after the stream drops.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from bot.domain.market import Book, OrderRequest, Side
from bot.venues.ccxt import CcxtVenue
from tests.fixtures.binance import BinanceStub, VenueFactory

NEW_BIDS = [(Decimal("49.80"), Decimal("4")), (Decimal("49.50"), Decimal("10"))]
NEW_ASKS = [(Decimal("50.20"), Decimal("6"))]
WAIT_S = 5.0  # a guard against a hang, never a timing assertion


async def next_book(feed: AsyncIterator[Book]) -> Book:
    return await asyncio.wait_for(anext(feed), WAIT_S)


def streaming(open_venue: VenueFactory, stub: BinanceStub) -> CcxtVenue:
    venue = open_venue(stub, LIVE_STREAMING="1")
    assert venue.streams
    return venue


async def test_the_streamed_book_follows_the_venue_diffs(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = streaming(open_venue, binance)
    feed = venue.books()
    first = await next_book(feed)
    assert first.bids[0] == (Decimal("49.50"), Decimal("10"))
    await binance.set_book(NEW_BIDS, NEW_ASKS)
    changed = await next_book(feed)
    assert changed.bids == tuple(NEW_BIDS) and changed.asks == tuple(NEW_ASKS)
    subscriptions = [p["params"] for m, _path, p in binance.requests if m == "WS"]
    assert subscriptions == ["['mwhgbp@depth@100ms']"]
    assert binance.count("GET", "/api/v3/depth") == 1  # the snapshot the diffs are applied to
    assert binance.unknown == []


async def test_book_answers_from_a_healthy_feed_without_a_request(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = streaming(open_venue, binance)
    feed = venue.books()
    await next_book(feed)
    await binance.set_book(NEW_BIDS, NEW_ASKS)
    streamed = await next_book(feed)
    assert await venue.book() == streamed
    assert binance.count("GET", "/api/v3/depth") == 1


async def test_a_fill_at_the_venue_reaches_the_feed(binance: BinanceStub, open_venue: VenueFactory) -> None:
    venue = streaming(open_venue, binance)
    feed = venue.books()
    await next_book(feed)
    await venue.place(OrderRequest("s-1", "futures", Side.SELL, Decimal("4"), Decimal("49.50")))
    after = await next_book(feed)
    assert after.bids[0] == (Decimal("49.50"), Decimal("6"))


async def test_the_feed_resubscribes_after_the_stream_drops(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = streaming(open_venue, binance)
    feed = venue.books()
    await next_book(feed)
    await binance.drop_streams()
    await asyncio.sleep(0)  # let ccxt see the close before the change is made
    resubscribed = asyncio.ensure_future(next_book(feed))
    for _ in range(200):  # until ccxt.pro has subscribed again (counted, not timed)
        if sum(1 for m, _p, _q in binance.requests if m == "WS") == 2 and binance._streams:
            break
        await asyncio.sleep(0.01)
    await binance.set_book(NEW_BIDS, NEW_ASKS)
    book = await asyncio.wait_for(resubscribed, WAIT_S)
    while book.bids != tuple(NEW_BIDS):  # the fresh snapshot may come first
        book = await next_book(feed)
    assert book.asks == tuple(NEW_ASKS)


async def test_streaming_off_polls_rest_and_yields_only_changes(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance, LIVE_STREAMING="0")
    assert not venue.streams
    feed = venue.books()
    first = await next_book(feed)
    assert first.asks[0].price == Decimal("50.50")
    await binance.set_book(NEW_BIDS, NEW_ASKS)
    changed = await next_book(feed)
    assert changed.asks == tuple(NEW_ASKS)
    assert not any(m == "WS" for m, _p, _q in binance.requests)


async def test_closing_the_venue_ends_the_feed(binance: BinanceStub, open_venue: VenueFactory) -> None:
    venue = open_venue(binance, LIVE_STREAMING="0")
    feed = venue.books()
    await next_book(feed)
    pending = asyncio.ensure_future(anext(feed))
    await asyncio.sleep(0)
    await venue.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(pending, WAIT_S)
