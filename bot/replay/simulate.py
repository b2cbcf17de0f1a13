"""`flash-green simulate-ticks`: book changes from the simulated markets, seeded, as a tick file.

The simulated market (`SimulatedMarket`, the bot's default venues) is stepped on a virtual clock,
one book read per leg every `interval_ms`, and each read is written as the recorder writes a live
one (`book_rows`): the same seed, start and settings give the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.config import Settings
from bot.domain.market import Book, Leg
from bot.markets.faults import FaultPlan
from bot.replay.books import book_rows
from bot.replay.ticks import TickRow, write_ticks
from bot.venues.simulated import SimulatedMarket

DEFAULT_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


class _StepClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def simulated_rows(
    settings: Settings, *, start: datetime, duration: timedelta, interval_ms: int, seed: int
) -> Iterator[TickRow]:
    """Rows of the books the simulated market shows every `interval_ms` over `duration`."""
    if interval_ms < 1:
        raise ValueError("interval_ms must be at least 1")
    clock = _StepClock(start)
    market = SimulatedMarket(
        seed=seed,
        clock=clock,
        book_levels=settings.book_levels,
        book_size_mwh=settings.book_size_mwh,
        use_depth=settings.use_depth_sim,
        tick_ms=interval_ms,
        faults=FaultPlan(seed=seed),  # no faults: a sample file holds the market only
    )
    step = timedelta(milliseconds=interval_ms)
    end = start + duration
    last: dict[Leg, Book | None] = {"power": None, "futures": None}
    legs: tuple[Leg, ...] = ("power", "futures")
    while clock.at < end:
        for leg in legs:
            book = market.book(leg)
            yield from book_rows(last[leg], book, leg, book.at)
            last[leg] = book
        clock.at += step


def simulate_ticks(
    path: Path,
    settings: Settings,
    *,
    days: float,
    interval_ms: int = 1000,
    seed: int = 7,
    start: datetime = DEFAULT_START,
) -> int:
    """Write `days` of simulated book changes to `path` (CSV, or Parquet by suffix); rows written."""
    rows = simulated_rows(
        settings, start=start, duration=timedelta(days=days), interval_ms=interval_ms, seed=seed
    )
    return write_ticks(path, rows)
