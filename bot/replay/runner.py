"""One replay run: recorded book changes through one `Orchestrator`, into the run's own journal.

The orchestrator is the one that trades (`bot.orchestrator.cycle`): same guards, `decide()`,
saga, simulated loan and `Journal`; only its venues (`ReplayVenue`) and clock (`VirtualClock`) are
the replay's. After each change (the rows sharing a timestamp) one cycle is due. Most changes
cannot trade, and running the whole cycle for each would make a year of ticks take hours, so the
runner first asks the cycle's own pure checks, in the cycle's order: `guard()` (cached per UTC
minute, the window's grain, and per daily loss), the missing-quote check, then `cannot_pay()`
(exact: plan()'s own first tests). A change they rule out is counted under the reason the cycle
would have given, in the journal's skipped-cycle counters too; any other change runs
`Orchestrator.run_once()` in full.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from bot.config import Settings
from bot.domain.decision import Block, Limits, cannot_pay, guard
from bot.domain.market import Level
from bot.journal import Journal
from bot.journal.records import CycleRecord
from bot.loans.simulated import build_simulated_loan
from bot.metrics import BotMetrics
from bot.orchestrator.cycle import Orchestrator
from bot.replay.books import LegBook
from bot.replay.errors import ReplayError
from bot.replay.ticks import TickBatch, from_us, to_us
from bot.replay.venue import ReplayMarket, ReplayVenue, VirtualClock

DAY_US = 86_400_000_000
MINUTE_US = 60_000_000
_EPOCH_DAY = date(1970, 1, 1)
# Level(price, qty) without the named tuple's Python-level __new__: the same Level, built once per
# row read (a tenth of a microsecond less each, a tenth of a second per million rows)
_new_level = tuple.__new__

Progress = Callable[[int], None]  # rows read so far


class ReplayCancelled(ReplayError):
    """The replay was cancelled (the API's cancel, Ctrl-C); nothing was written."""


@dataclass
class ReplayOutcome:
    """What a run did: each finished cycle, every change's outcome, and the spread it saw."""

    records: list[CycleRecord] = field(default_factory=list)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)  # (outcome, reason)
    rows: int = 0
    changes: int = 0
    first: datetime | None = None
    last: datetime | None = None
    spread_at_us: list[int] = field(default_factory=list)
    spread_gbp: list[float] = field(default_factory=list)


def _best(levels: list[Level | None]) -> Level | None:
    for level in levels:
        if level is not None:
            return level
    return None


class ReplayRunner:
    """Runs book changes through one orchestrator whose journal is `journal` (never the live one)."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        progress: Progress | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.journal = journal
        self.clock = VirtualClock(datetime(1970, 1, 1, tzinfo=UTC))
        self.market = ReplayMarket.from_settings(settings, self.clock)
        self.power = ReplayVenue(self.market, "power")
        self.futures = ReplayVenue(self.market, "futures")
        self.metrics = BotMetrics()
        self.orchestrator = Orchestrator.from_settings(
            settings,
            power=self.power,
            futures=self.futures,
            loan=build_simulated_loan(settings),
            journal=journal,
            metrics=self.metrics,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        self.limits: Limits = self.orchestrator.limits
        self.since_us = -(1 << 62) if since is None else _us(since)
        self.until_us = (1 << 62) if until is None else _us(until)
        self.progress = progress
        self.cancel = cancel
        self.outcome = ReplayOutcome()
        self._skipped: Counter[tuple[int, str, str]] = Counter()  # fast-path counts by epoch day
        self._day = -1
        self._last_t = 0
        self._guard_key: tuple[int, Decimal] | None = None
        self._guard: Block | None = None
        # the rows after the change being traded: (batch, first row, the batch after it)
        self._ahead: tuple[TickBatch, int, TickBatch | None] | None = None
        self.market.later = self._book_at

    def replay(self, batches: Iterable[TickBatch]) -> ReplayOutcome:
        """`run` on an event loop of its own (what the command, the API and the benchmark call).

        The loop's main coroutine returns nothing: as it ends, `asyncio.run` restores the SIGINT
        handler, and Python's `signal.signal` formats the repr of the handler it replaces, which
        names the main task with its result. A run's outcome holds every cycle record, so
        returning it from there cost a full repr of them (~0.1 s per 4,000 trades).

        (`gc.freeze()` around the run would save about 4% more, but it is process-wide, and the
        API runs replays in a thread of the bot's own process: left out.)
        """

        async def main() -> None:
            await self.run(batches)

        asyncio.run(main())
        return self.outcome

    async def run(self, batches: Iterable[TickBatch]) -> ReplayOutcome:
        """Apply each row; after each change, the cycle (or its exact early answer). See the module."""
        legs = self.market.by_code
        power_asks, futures_bids = legs[0].sides[1], legs[1].sides[0]
        out = self.outcome
        current: int | None = None
        since, until = self.since_us, self.until_us
        stopped = False
        source = iter(batches)
        upcoming = next(source, None)
        while upcoming is not None:
            # one batch read ahead: an order sent with EXEC_LATENCY_MS may reach a later change
            batch, upcoming = upcoming, next(source, None)
            self._ahead = (batch, 0, upcoming)
            if self.cancel is not None and self.cancel.is_set():
                raise ReplayCancelled("replay cancelled")
            for i, (t, leg, side, n, price, qty) in enumerate(zip(*batch, strict=True)):
                if t != current:
                    if (
                        current is not None
                        and current >= since
                        and self._fast(current, power_asks, futures_bids)
                    ):
                        self._ahead = (batch, i, upcoming)
                        await self._cycle(current)
                    if t > until:
                        stopped = True
                        break
                    current = t
                levels = legs[leg].sides[side]
                if n >= len(levels):
                    levels.extend([None] * (n + 1 - len(levels)))
                levels[n] = _new_level(Level, (price, qty)) if qty else None
            out.rows += len(batch.at_us)
            if self.progress is not None:
                self.progress(out.rows)
            if stopped:
                break
        if not stopped and current is not None and current >= since:
            if self._fast(current, power_asks, futures_bids):
                self._ahead = None  # the last change: nothing comes after it
                await self._cycle(current)
        self._flush()
        return out

    def _fast(self, t: int, power_asks: list[Level | None], futures_bids: list[Level | None]) -> bool:
        """Count the change as the cycle would and return False, or True when only a cycle can tell."""
        out = self.outcome
        out.changes += 1
        self._last_t = t
        if out.first is None:
            out.first = from_us(t)
        ask, bid = _best(power_asks), _best(futures_bids)
        if ask is not None and bid is not None:
            out.spread_at_us.append(t)
            out.spread_gbp.append(float(bid.price - ask.price))
        day = t // DAY_US
        if day != self._day:
            self._day = day
            self.clock.at = from_us(t)
            self.orchestrator.load_state()  # rolls the day: today's loss as the journal has it
        limits = self.limits
        key = (t // MINUTE_US, self.orchestrator.daily_loss)
        if key != self._guard_key:
            self._guard_key = key
            self._guard = guard(
                from_us(t), limits, trading_enabled=self.orchestrator.trading_enabled, daily_loss=key[1]
            )
        block = self._guard
        if block is not None:
            self._count(day, "blocked", block.value)
            return False
        if ask is None or bid is None:
            self._count(day, "blocked", Block.MISSING_QUOTE.value)
            return False
        reason = cannot_pay(ask.price, bid.price, limits)
        if reason is not None:
            self._count(day, "no_trade", reason)
            return False
        return True

    def _book_at(self, leg: int, until_us: int) -> LegBook:
        """The leg's recorded book as it stands at `until_us`: the current one with the later rows
        applied (as far as the batch read ahead reaches). What an order sent with latency meets."""
        book = LegBook()
        current = self.market.by_code[leg]
        book.sides = (list(current.sides[0]), list(current.sides[1]))
        ahead = self._ahead
        if ahead is None:
            return book
        batch, start, upcoming = ahead
        for rows, first in ((batch, start), (upcoming, 0)):
            if rows is None:
                break
            at, legs, sides, levels, prices, quantities = rows
            for j in range(first, len(at)):
                if at[j] > until_us:
                    return book
                if legs[j] == leg:
                    book.set(sides[j], levels[j], prices[j], quantities[j])
        return book

    def _count(self, day: int, outcome: str, reason: str) -> None:
        self._skipped[(day, outcome, reason)] += 1
        self.outcome.outcomes[(outcome, reason)] += 1

    async def _cycle(self, t: int) -> None:
        self.clock.at = self.market.change_at = from_us(t)
        self.market.change += 1  # this change's orders start from the recorded depth
        result = await self.orchestrator.run_once()
        self.outcome.outcomes[(result.outcome, result.reason or "")] += 1
        if result.cycle is not None:
            self.outcome.records.append(result.cycle)

    def _flush(self) -> None:
        """Write every count to the run's journal, as the live cycle's skipped counters are."""
        self.orchestrator.flush_skipped(force=True)
        for (day, outcome, reason), n in self._skipped.items():
            self.journal.count_skipped(_EPOCH_DAY + timedelta(days=day), outcome, reason, n)
        self._skipped.clear()
        self.outcome.last = from_us(self._last_t) if self.outcome.changes else None


def _us(at: datetime) -> int:
    return to_us(at.astimezone(UTC))
