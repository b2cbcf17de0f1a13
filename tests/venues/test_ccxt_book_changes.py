"""The CCXT venue is a `BookStream`: a streamed book change starts a cycle without the interval.

Real ccxt.pro against the loopback binance stand-in (websocket diffs), the simulated power leg,
a real SQLite journal. Waits are bounded; no duration is asserted.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from bot.config import Settings
from bot.journal import Journal
from bot.loans.simulated import build_simulated_loan
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import CycleResult, Orchestrator
from bot.orchestrator.trigger import CycleLoop, CycleTrigger, book_streams
from bot.venues.base import BookStream
from bot.venues.simulated import SimulatedMarket, SimulatedPowerVenue
from tests.fixtures.binance import BinanceStub, VenueFactory
from tests.test_orchestrator_cycle import THURSDAY_NOON, Clock
from tests.test_orchestrator_trigger import until

NEW_BIDS = [(Decimal("49.80"), Decimal("4")), (Decimal("49.50"), Decimal("10"))]
NEW_ASKS = [(Decimal("50.20"), Decimal("6"))]


async def test_the_ccxt_book_changes_are_its_books_feed(
    binance: BinanceStub, open_venue: VenueFactory
) -> None:
    venue = open_venue(binance, LIVE_STREAMING="1")
    assert isinstance(venue, BookStream)
    changes = venue.book_changes()
    first = await asyncio.wait_for(anext(changes), 5)
    await binance.set_book(NEW_BIDS, NEW_ASKS)
    changed = await asyncio.wait_for(anext(changes), 5)
    assert first.bids != changed.bids and changed.bids == tuple(NEW_BIDS)


async def test_a_streamed_ccxt_book_change_starts_a_cycle_without_waiting_for_the_interval(
    binance: BinanceStub, open_venue: VenueFactory, tmp_path: Path
) -> None:
    # given a bot whose futures leg streams from the exchange, its interval a minute
    futures = open_venue(binance, LIVE_STREAMING="1")
    settings = Settings.from_mapping(
        {"DATA_DIR": str(tmp_path), "TRADING_WINDOW_UTC": "05:00-21:00", "EXEC_LATENCY_MS": "0"}
    )
    journal = Journal.open(settings.journal_url, migrate=True)
    power = SimulatedPowerVenue(SimulatedMarket(seed=3, clock=Clock(THURSDAY_NOON)))
    orchestrator = Orchestrator.from_settings(
        settings,
        power=power,
        futures=futures,
        loan=build_simulated_loan(settings),
        journal=journal,
        metrics=BotMetrics(),
        clock=Clock(THURSDAY_NOON),
    )
    orchestrator.load_state()
    results: list[CycleResult] = []
    trigger = CycleTrigger(interval_s=60, min_gap_s=0.05)
    task = asyncio.create_task(
        CycleLoop(orchestrator, trigger, book_streams([futures]), on_cycle=results.append).run()
    )
    try:
        # and its first cycles done, the feed's first book heard
        await until(lambda: futures.latest is not None and bool(results))
        await until(lambda: not trigger.pending and not trigger.running)
        await asyncio.sleep(0.1)
        seen = len(results)
        # when the exchange's book changes
        await binance.set_book(NEW_BIDS, NEW_ASKS)
        # then a cycle runs on it, long before the minute is up
        await until(lambda: len(results) > seen)
        assert futures.latest is not None and futures.latest.bids == tuple(NEW_BIDS)
    finally:
        orchestrator.stopping.set()
        await asyncio.wait_for(task, 10)
        journal.close()
