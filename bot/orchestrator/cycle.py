"""One cycle of the atomic trade, run as a saga: every step has its undo, and a failure runs them.

Order of a trading cycle: guards → quotes → `decide()` → write-ahead journal entry → loan drawn →
power leg bought → futures leg sold for the quantity actually filled → loan repaid → journal. Any
failure unwinds what was done (cancel, close the open leg, repay) and is counted in
`trades_blocked{reason}` with its stack trace logged; a half-done cycle is never recorded as profit.

This module runs the loop and decides; `saga` holds the steps and their undo, `execution` the life
of one order, `state` what a cycle has done and the records it journals.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from bot.domain.decision import Block, Limits, NoTrade, Opportunity, decide, guard, limits_from, venue_block
from bot.domain.market import Book
from bot.domain.pnl import money, net_position
from bot.domain.window import market_closed
from bot.journal.outage import Outage
from bot.journal.records import CycleRecord, CycleStatus
from bot.loans.base import FlashLoan
from bot.metrics import BotMetrics
from bot.orchestrator.execution import ExecutionParams, Sleep
from bot.orchestrator.ids import cycle_id
from bot.orchestrator.ports import CycleJournal
from bot.orchestrator.recovery import Recovery
from bot.orchestrator.saga import SETTLE_UNKNOWN, Clock, CycleFailure, SagaSteps
from bot.orchestrator.state import CycleState
from bot.venues.base import Venue, VenueError

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("bot.orchestrator")
ZERO = Decimal(0)
SKIP_FLUSH_SECONDS = 5.0


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class CycleResult:
    """What one call of `run_once` did (for the loop, tests and logs)."""

    outcome: str  # traded | no_trade | blocked | unwound | failed
    reason: str | None = None
    cycle: CycleRecord | None = None


class Orchestrator:
    """Runs cycles against a power venue, a futures venue and a flash loan, journalling each."""

    def __init__(
        self,
        *,
        limits: Limits,
        params: ExecutionParams,
        power: Venue,
        futures: Venue,
        loan: FlashLoan,
        journal: CycleJournal,
        metrics: BotMetrics,
        trading_enabled: bool = True,
        paper: bool = False,
        clock: Clock = utc_now,
        sleep: Sleep = asyncio.sleep,
        recovery: Recovery | None = None,
    ) -> None:
        self.limits = limits
        self.params = params
        self.power = power
        self.futures = futures
        self.loan = loan
        self.journal = journal
        self.metrics = metrics
        self.trading_enabled = trading_enabled
        self.paper = paper  # PAPER_TRADING: cycles are journalled as paper
        self.clock = clock
        self.recovery = recovery  # restart recovery: no cycle starts until it is done
        self.stopping = asyncio.Event()
        self.steps = SagaSteps(
            power=power,
            futures=futures,
            loan=loan,
            params=params,
            metrics=metrics,
            clock=clock,
            sleep=sleep,
            journal=journal,
        )
        self._day: date | None = None
        self._daily_pnl = ZERO
        self._next_seq = 1
        self._skipped: Tally[tuple[date, str, str]] = Tally()
        self._last_flush = time.monotonic()
        self._journal_outage = Outage()  # failed journal writes: retried with backoff, never given up
        metrics.daily_loss_limit.set(float(limits.max_daily_loss))
        metrics.trading_enabled.set(1 if trading_enabled else 0)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        power: Venue,
        futures: Venue,
        loan: FlashLoan,
        journal: CycleJournal,
        metrics: BotMetrics,
        **options: Any,
    ) -> Orchestrator:
        """The orchestrator the settings describe (limits, execution, TRADING_ENABLED) on these legs,
        lender and journal; `options` are the other keywords (clock, sleep, paper, recovery)."""
        return cls(
            limits=limits_from(settings),
            params=ExecutionParams.from_settings(settings),
            power=power,
            futures=futures,
            loan=loan,
            journal=journal,
            metrics=metrics,
            trading_enabled=settings.trading_enabled,
            **options,
        )

    # -- lifecycle ---------------------------------------------------------------------------

    def load_state(self) -> None:
        """Read the persisted cycle sequence and today's loss (a restart never resets them)."""
        self._next_seq = self.journal.next_cycle_seq()
        self._roll_day(self.clock())

    def _roll_day(self, now: datetime) -> None:
        day = now.astimezone(UTC).date()
        if day == self._day:
            return
        daily = self.journal.daily_pnl(day)
        self._day, self._daily_pnl = day, daily.realised_gbp
        self.metrics.set_day(self._daily_pnl, self.daily_loss)

    @property
    def daily_loss(self) -> Decimal:
        """The UTC day's net realised loss (zero on a winning day): what MAX_DAILY_LOSS_GBP limits."""
        return -self._daily_pnl if self._daily_pnl < ZERO else ZERO

    async def run(self, interval_s: float) -> None:
        """Cycle until `stopping` is set; the cycle in flight always finishes or unwinds first.

        A stop prevents the next cycle only: orders in flight keep their deadline
        (ORDER_TIMEOUT_SECS), so the cycle ends hedged or unwound as it would have without it.
        """
        while not self.stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                # run_once handles its own failures; this is a last line so the loop never dies
                log.exception("cycle crashed outside the saga")
                self.metrics.trades_blocked.labels(reason="error").inc()
            if interval_s > 0:
                try:
                    await asyncio.wait_for(self.stopping.wait(), timeout=interval_s)
                except TimeoutError:
                    pass
            else:
                await asyncio.sleep(0)
        self.flush_skipped(force=True)

    # -- one cycle ---------------------------------------------------------------------------

    async def run_once(self) -> CycleResult:
        """Guards, quotes, decision and, when it pays, the atomic execution."""
        started = time.perf_counter()
        try:
            return await self._cycle()
        finally:
            self.metrics.cycle_duration.observe(time.perf_counter() - started)
            self.flush_skipped()

    async def _cycle(self) -> CycleResult:
        now = self.clock()
        self._roll_day(now)
        closed = market_closed(
            now,
            self.limits.window,
            allow_weekend=self.limits.allow_weekend,
            trading_enabled=self.trading_enabled,
        )
        self.metrics.trading_window_open.set(0 if closed else 1)
        if self.recovery is not None and not self.recovery.done:
            if not await self.recovery.attempt():
                return self._blocked(now, Block.RECOVERY_PENDING.value)
            self._day = None  # re-read: the recovered cycles count in today's PnL
            self.load_state()
        if self._journal_outage.active and not self._journal_back(now):
            return self._blocked(now, "journal_error")
        # the guards run before any market data is read; decide() runs them again at the quotes' time
        blocked = guard(now, self.limits, trading_enabled=self.trading_enabled, daily_loss=self.daily_loss)
        if blocked is not None:
            return self._blocked(now, blocked.value)
        power_book, futures_book, failed = await self._books()
        now = self.clock()
        self.metrics.observe_books(power_book, futures_book, now)
        if failed is not None:
            return self._blocked(now, failed)
        decision = decide(
            now,
            power_book,
            futures_book,
            self.limits,
            trading_enabled=self.trading_enabled,
            daily_loss=self.daily_loss,
        )
        if isinstance(decision, Block):
            return self._blocked(now, decision.value)
        if isinstance(decision, NoTrade):
            self.metrics.cycles.labels(outcome="no_trade").inc()
            self._skipped[(now.date(), "no_trade", decision.reason)] += 1
            return CycleResult("no_trade", decision.reason)
        assert power_book is not None and futures_book is not None  # decide() sized on both
        if self.stopping.is_set():
            # a stop arrived while the books were read: no new cycle starts, nothing was sent
            return CycleResult("blocked", "stopping")
        return await self._execute(decision, (power_book, futures_book), now)

    async def _books(self) -> tuple[Book | None, Book | None, str | None]:
        """Both books, and the reason to block when a venue failed (its error kind's reason)."""
        results = await asyncio.gather(self.power.book(), self.futures.book(), return_exceptions=True)
        books: list[Book | None] = []
        failed: str | None = None
        for venue, result in zip((self.power, self.futures), results, strict=True):
            if isinstance(result, Book):
                books.append(result)
                continue
            books.append(None)
            if isinstance(result, VenueError):
                failed = failed or venue_block(result.kind).value
                log.warning("no book from %s (%s): %s", venue.name, result.kind, result)
            elif isinstance(result, Exception):
                log.warning("no book from %s: %s", venue.name, result, exc_info=result)
            else:  # cancelled, or the process is stopping: not the venue's failure
                raise result
        return books[0], books[1], failed

    def _blocked(self, now: datetime, reason: str) -> CycleResult:
        self.metrics.record_blocked(reason)
        self._skipped[(now.astimezone(UTC).date(), "blocked", reason)] += 1
        log.debug("cycle blocked", extra={"fields": {"reason": reason}})
        return CycleResult("blocked", reason)

    def flush_skipped(self, *, force: bool = False) -> None:
        """Write the aggregated blocked/no-trade counters (never one row per skipped cycle)."""
        if not self._skipped or (not force and time.monotonic() - self._last_flush < SKIP_FLUSH_SECONDS):
            return
        pending, self._skipped = self._skipped, Tally()
        self._last_flush = time.monotonic()
        try:
            for (day, outcome, reason), n in pending.items():
                self.journal.count_skipped(day, outcome, reason, n)
        except Exception:
            self.metrics.journal_errors.inc()
            log.exception("could not write skipped-cycle counters; they are kept for the next flush")
            self._skipped.update(pending)

    def _journal_back(self, now: datetime) -> bool:
        """While journal writes fail: once the backoff allows, write what is owed; True when done."""
        try:
            next_seq = self._journal_outage.settle(self.journal, now)
        except Exception:
            self.metrics.journal_errors.inc()
            delay = self._journal_outage.retry_failed()
            log.warning("journal still unavailable; next attempt in %.1f s", delay, exc_info=True)
            return False
        if next_seq is None:
            return False
        self._next_seq = next_seq  # read back: ids stay contiguous whether the failed entry landed or not
        log.warning("journal available again: trading resumes at cycle sequence %d", next_seq)
        return True

    # -- the saga ----------------------------------------------------------------------------

    async def _execute(self, opp: Opportunity, books: tuple[Book, Book], now: datetime) -> CycleResult:
        seq = self._next_seq
        cycle = CycleState.open(
            cycle_id(self.params.bot_name, seq), seq, now, opp, books, (self.power.name, self.futures.name)
        )
        cycle.paper = self.paper
        entry = cycle.record(CycleStatus.STARTED, None)
        try:
            self.journal.begin_cycle(entry)
        except Exception as exc:
            # nothing was sent: the write-ahead entry failed, so the cycle never starts
            self.metrics.journal_errors.inc()
            delay = self._journal_outage.write_ahead_failed(entry, exc)
            log.exception(
                "journal write-ahead failed; cycle %s not started, nothing sent; retrying in %.1f s",
                cycle.cycle_id,
                delay,
            )
            return self._blocked(now, "journal_error")
        self._next_seq = seq + 1

        status, reason = CycleStatus.TRADED, None
        try:
            await self.steps.trade(cycle)
        except CycleFailure as failure:
            status, reason = CycleStatus.UNWOUND, failure.reason
            log.error("cycle %s failed (%s); unwinding", cycle.cycle_id, failure, exc_info=True)
        except Exception as exc:
            status, reason = CycleStatus.UNWOUND, "error"
            log.error("cycle %s crashed (%s); unwinding", cycle.cycle_id, type(exc).__name__, exc_info=True)
        # a traded cycle keeps its hedged pair (power bought against futures sold); anything else is flat
        hedged = -net_position(cycle.fills, "futures") if status is CycleStatus.TRADED else ZERO
        if not await self.steps.unwind(cycle, power_target=hedged):
            status, reason = CycleStatus.FAILED, reason or "unwind_incomplete"
        if status is CycleStatus.TRADED:
            status, reason = await self._settle(cycle)
        if not await self.steps.repay(cycle):
            status, reason = CycleStatus.FAILED, "repay_failed"
        if status is CycleStatus.TRADED and reason is None and cycle.partial:
            reason = "partial_fill"
        return self._finish(cycle, status, reason)

    async def _settle(self, cycle: CycleState) -> tuple[CycleStatus, str | None]:
        """Settle the hedged cycle with its lender; a refusal unwinds both legs (nothing settled)."""
        try:
            await self.steps.settle(cycle, self.limits)
        except CycleFailure as failure:
            if failure.reason == SETTLE_UNKNOWN:
                return CycleStatus.FAILED, failure.reason
            log.error("cycle %s settlement refused (%s); unwinding", cycle.cycle_id, failure, exc_info=True)
            if not await self.steps.unwind(cycle, power_target=ZERO):
                return CycleStatus.FAILED, failure.reason
            return CycleStatus.UNWOUND, failure.reason
        return CycleStatus.TRADED, None

    # -- journal and report ------------------------------------------------------------------

    def _finish(self, cycle: CycleState, status: CycleStatus, reason: str | None) -> CycleResult:
        record = cycle.close(status, reason, self.clock(), self.limits)
        try:
            self.journal.finish_cycle(record)
        except Exception:
            self.metrics.journal_errors.inc()
            delay = self._journal_outage.finish_failed(record)
            log.exception(
                "journal write failed for cycle %s; no cycle starts until it is written (retrying in "
                "%.1f s). Record: %r",
                cycle.cycle_id,
                delay,
                record,
            )
        outcome = _OUTCOME[status]
        self._daily_pnl += record.realised_gbp
        self.metrics.set_day(self._daily_pnl, self.daily_loss)
        trade = record.trade
        self.metrics.record_finished(
            outcome, record.reason, record.realised_gbp, trade.executed_at if trade is not None else None
        )
        self._report(record)
        return CycleResult(outcome, reason, record)

    def _report(self, record: CycleRecord) -> None:
        trade = record.trade
        if trade is None:
            log.warning(
                "cycle %s",
                record.status.value,
                extra={
                    "fields": {
                        "cycle_id": record.cycle_id,
                        "reason": record.reason,
                        "net_gbp": record.realised_gbp,
                    }
                },
            )
            return
        log.info(
            "trade executed",
            extra={
                "fields": {
                    "cycle_id": trade.cycle_id,
                    "quantity_mwh": trade.quantity_mwh,
                    "power_venue": self.power.name,
                    "power_price_gbp": trade.power_price_gbp,
                    "futures_venue": self.futures.name,
                    "futures_price_gbp": trade.futures_price_gbp,
                    "loan_gbp": trade.loan_amount_gbp,
                    "gross_gbp": trade.gross_gbp,
                    "costs_gbp": trade.costs.total_gbp,
                    "net_gbp": trade.net_gbp,
                    "expected_gbp": money(record.expected_profit_gbp or ZERO),
                    "partial": record.reason == "partial_fill",
                    "daily_pnl_gbp": money(self._daily_pnl),
                }
            },
        )


_OUTCOME = {
    CycleStatus.TRADED: "traded",
    CycleStatus.UNWOUND: "unwound",
    CycleStatus.FAILED: "failed",
    CycleStatus.RECOVERED: "unwound",
    CycleStatus.STARTED: "failed",
}

__all__ = ["Block", "CycleFailure", "CycleResult", "Orchestrator", "utc_now"]
