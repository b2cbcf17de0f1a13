"""One cycle of the atomic trade, run as a saga: every step has its undo, and a failure runs them.

Order of a trading cycle: write-ahead journal entry → loan drawn → power leg bought → futures
leg sold for the quantity actually filled → loan repaid → journal. Any failure unwinds what was
done (cancel, close the open leg, repay) and is counted in `trades_blocked{reason}` with its stack
trace logged; a half-done cycle is never recorded as profit.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from bot.domain.decision import (
    Block,
    Limits,
    NoTrade,
    Opportunity,
    check_quotes,
    guard,
    plan,
)
from bot.domain.market import Book, Leg, OrderRequest, OrderState, OrderStatus, Side
from bot.domain.pnl import Fill, average_price, money, net_position, venue_fees
from bot.journal.records import CostBreakdown, CycleRecord, CycleStatus, OrderRecord, TradeRecord
from bot.loans.base import FlashLoan, LoanError, LoanHandle
from bot.metrics import BotMetrics
from bot.venues.base import Venue, VenueError

log = logging.getLogger("bot.orchestrator")
ZERO = Decimal(0)
UNWIND_ATTEMPTS = 3
REPAY_ATTEMPTS = 3
SKIP_FLUSH_SECONDS = 5.0

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class CycleFailure(Exception):
    """A step failed in a way the saga handles by unwinding; `reason` is the metric label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass(frozen=True)
class ExecutionParams:
    bot_name: str
    order_timeout_s: float
    poll_interval_s: float
    power_fee_bp: Decimal
    futures_fee_bp: Decimal
    gas: Decimal


@dataclass
class CycleResult:
    """What one call of `run_once` did (for the loop, tests and logs)."""

    outcome: str  # traded | no_trade | blocked | unwound | failed
    reason: str | None = None
    cycle: CycleRecord | None = None


@dataclass
class _Saga:
    """Mutable state of one executing cycle."""

    cycle_id: str
    seq: int
    started_at: datetime
    opportunity: Opportunity
    power_book: Book
    futures_book: Book
    fills: list[Fill] = field(default_factory=list)
    orders: dict[str, OrderRecord] = field(default_factory=dict)
    loan: LoanHandle | None = None
    loan_repaid: bool = False


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
        journal: object,
        metrics: BotMetrics,
        trading_enabled: bool = True,
        clock: Clock = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self.params = params
        self.power = power
        self.futures = futures
        self.loan = loan
        self.journal = journal  # bot.journal.Journal (kept duck-typed for the saga's tests)
        self.metrics = metrics
        self.trading_enabled = trading_enabled
        self.clock = clock
        self.sleep = sleep
        self.stopping = asyncio.Event()
        self._day: date | None = None
        self._daily_pnl = ZERO
        self._next_seq = 1
        self._skipped: Tally[tuple[date, str, str]] = Tally()
        self._last_flush = time.monotonic()
        self._journal_broken = False
        metrics.daily_loss_limit.set(float(limits.max_daily_loss))
        metrics.trading_enabled.set(1 if trading_enabled else 0)

    # -- lifecycle ---------------------------------------------------------------------------

    def load_state(self) -> None:
        """Read the persisted cycle sequence and today's loss (a restart never resets them)."""
        self._next_seq = self.journal.next_cycle_seq()  # type: ignore[attr-defined]
        self._roll_day(self.clock())

    def _roll_day(self, now: datetime) -> None:
        day = now.astimezone(UTC).date()
        if day == self._day:
            return
        daily = self.journal.daily_pnl(day)  # type: ignore[attr-defined]
        self._day, self._daily_pnl = day, daily.realised_gbp
        self.metrics.set_day(self._daily_pnl, self.daily_loss)

    @property
    def daily_loss(self) -> Decimal:
        """The UTC day's net realised loss (zero on a winning day): what MAX_DAILY_LOSS_GBP limits."""
        return -self._daily_pnl if self._daily_pnl < ZERO else ZERO

    async def run(self, interval_s: float) -> None:
        """Cycle until `stopping` is set; the cycle in flight always finishes or unwinds first."""
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
        self.metrics.trading_window_open.set(1 if self.limits.window.is_open(now) else 0)
        if self._journal_broken:
            return self._blocked(now, "journal_error")
        blocked = guard(now, self.limits, trading_enabled=self.trading_enabled, daily_loss=self.daily_loss)
        if blocked is not None:
            return self._blocked(now, blocked.value)
        power_book, futures_book = await self._books()
        now = self.clock()
        self._observe_books(power_book, futures_book, now)
        bad = check_quotes(power_book, futures_book, now, self.limits.max_quote_age_ms)
        if bad is not None:
            return self._blocked(now, bad.value)
        assert power_book is not None and futures_book is not None
        decision = plan(power_book, futures_book, self.limits)
        if isinstance(decision, NoTrade):
            self.metrics.cycles.labels(outcome="no_trade").inc()
            self._skipped[(now.date(), "no_trade", decision.reason)] += 1
            return CycleResult("no_trade", decision.reason)
        return await self._execute(decision, power_book, futures_book, now)

    async def _books(self) -> tuple[Book | None, Book | None]:
        results = await asyncio.gather(self.power.book(), self.futures.book(), return_exceptions=True)
        books: list[Book | None] = []
        for venue, result in zip((self.power, self.futures), results, strict=True):
            if isinstance(result, BaseException):
                log.warning("no book from %s: %s", venue.name, result)
                books.append(None)
            else:
                books.append(result)
        return books[0], books[1]

    def _observe_books(self, power: Book | None, futures: Book | None, now: datetime) -> None:
        m = self.metrics
        if power is not None:
            m.market_data_age.labels(leg="power").set((now - power.at).total_seconds())
            if power.asks:
                m.last_power_ask.set(float(power.asks[0].price))
        if futures is not None:
            m.market_data_age.labels(leg="futures").set((now - futures.at).total_seconds())
            if futures.bids:
                m.last_futures_bid.set(float(futures.bids[0].price))
        if power is not None and futures is not None and power.asks and futures.bids:
            m.last_spread.set(float(futures.bids[0].price - power.asks[0].price))

    def _blocked(self, now: datetime, reason: str) -> CycleResult:
        self.metrics.trades_blocked.labels(reason=reason).inc()
        self.metrics.cycles.labels(outcome="blocked").inc()
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
                self.journal.count_skipped(day, outcome, reason, n)  # type: ignore[attr-defined]
        except Exception:
            self.metrics.journal_errors.inc()
            log.exception("could not write skipped-cycle counters; they are kept for the next flush")
            self._skipped.update(pending)

    # -- the saga ----------------------------------------------------------------------------

    async def _execute(
        self, opp: Opportunity, power_book: Book, futures_book: Book, now: datetime
    ) -> CycleResult:
        seq = self._next_seq
        saga = _Saga(
            cycle_id=f"{self.params.bot_name}-{seq:09d}",
            seq=seq,
            started_at=now,
            opportunity=opp,
            power_book=power_book,
            futures_book=futures_book,
        )
        planned = (
            self._order_record(
                saga,
                OrderRequest(
                    f"{saga.cycle_id}-power-entry", "power", Side.BUY, opp.quantity, opp.power_limit
                ),
                "entry",
                self.power.name,
            ),
            self._order_record(
                saga,
                OrderRequest(
                    f"{saga.cycle_id}-futures-exit", "futures", Side.SELL, opp.quantity, opp.futures_limit
                ),
                "exit",
                self.futures.name,
            ),
        )
        for record in planned:
            saga.orders[record.client_order_id] = record
        try:
            self.journal.begin_cycle(self._cycle_record(saga, CycleStatus.STARTED, None))  # type: ignore[attr-defined]
        except Exception:
            # nothing was sent: the write-ahead entry failed, so the cycle never starts
            log.exception("journal write-ahead failed; cycle %s not started", saga.cycle_id)
            self.metrics.journal_errors.inc()
            self._journal_broken = True
            return self._blocked(now, "journal_error")
        self._next_seq = seq + 1

        status, reason = CycleStatus.TRADED, None
        try:
            await self._trade(saga)
        except CycleFailure as failure:
            status, reason = CycleStatus.UNWOUND, failure.reason
            log.error("cycle %s failed (%s); unwinding", saga.cycle_id, failure, exc_info=True)
        except Exception as exc:
            status, reason = CycleStatus.UNWOUND, "error"
            log.error("cycle %s crashed (%s); unwinding", saga.cycle_id, type(exc).__name__, exc_info=True)
        # a traded cycle keeps its hedged pair (power bought against futures sold); anything else is flat
        hedged = -net_position(saga.fills, "futures") if status is CycleStatus.TRADED else ZERO
        if not await self._unwind(saga, power_target=hedged):
            status, reason = CycleStatus.FAILED, reason or "unwind_incomplete"
        if not await self._repay(saga):
            status, reason = CycleStatus.FAILED, "repay_failed"
        if status is CycleStatus.TRADED and reason is None and self._partial(saga):
            reason = "partial_fill"
        return self._finish(saga, status, reason)

    async def _trade(self, saga: _Saga) -> None:
        opp = saga.opportunity
        if opp.loan_amount > ZERO:
            try:
                saga.loan = await self.loan.draw(saga.cycle_id, money(opp.loan_amount))
            except LoanError as exc:
                raise CycleFailure("loan_refused", str(exc)) from exc
        entry = OrderRequest(f"{saga.cycle_id}-power-entry", "power", Side.BUY, opp.quantity, opp.power_limit)
        state, timed_out = await self._fill(saga, self.power, entry, "entry")
        if state.filled_quantity <= ZERO:
            raise CycleFailure("order_timeout" if timed_out else "power_rejected", state.reason or "")
        # hedge what was actually bought, never what was asked for
        exit_ = OrderRequest(
            f"{saga.cycle_id}-futures-exit", "futures", Side.SELL, state.filled_quantity, opp.futures_limit
        )
        hedge, timed_out = await self._fill(saga, self.futures, exit_, "exit")
        if hedge.filled_quantity <= ZERO:
            raise CycleFailure("order_timeout" if timed_out else "futures_rejected", hedge.reason or "")
        if hedge.filled_quantity < state.filled_quantity:
            # the unfilled rest of the power leg is sold back by the unwind that follows
            self.metrics.trade_partial_failures.inc()
            self.metrics.trades_blocked.labels(reason="partial_fill").inc()
            log.warning(
                "cycle %s futures leg filled %s of %s MWh; selling back the rest",
                saga.cycle_id,
                hedge.filled_quantity,
                state.filled_quantity,
            )

    def _partial(self, saga: _Saga) -> bool:
        return any(o.purpose == "unwind" and o.filled_mwh > ZERO for o in saga.orders.values())

    async def _fill(
        self, saga: _Saga, venue: Venue, order: OrderRequest, purpose: str
    ) -> tuple[OrderState, bool]:
        """Place an order and wait for a final state; cancel it at the timeout or on shutdown."""
        try:
            state = await venue.place(order)
        except VenueError as exc:
            state = OrderState(order.client_order_id, OrderStatus.REJECTED, reason=str(exc))
        deadline = time.monotonic() + self.params.order_timeout_s
        timed_out = False
        while not state.status.is_final:
            if time.monotonic() >= deadline or self.stopping.is_set():
                timed_out = True
                try:
                    state = await venue.cancel(order.client_order_id)
                except VenueError as exc:
                    log.error("cancel of %s failed: %s", order.client_order_id, exc)
                    state = await self._status_or_unknown(venue, order.client_order_id, state)
                    if not state.status.is_final:
                        state = OrderState(
                            order.client_order_id,
                            OrderStatus.UNKNOWN,
                            state.filled_quantity,
                            state.average_price,
                            state.venue_order_id,
                        )
                break
            await self.sleep(self.params.poll_interval_s)
            state = await self._status_or_unknown(venue, order.client_order_id, state)
        self._note(saga, venue, order, purpose, state)
        return state, timed_out

    async def _status_or_unknown(self, venue: Venue, client_order_id: str, last: OrderState) -> OrderState:
        try:
            return await venue.status(client_order_id)
        except VenueError as exc:
            log.warning("status of %s failed: %s", client_order_id, exc)
            return last

    def _note(self, saga: _Saga, venue: Venue, order: OrderRequest, purpose: str, state: OrderState) -> None:
        if state.filled_quantity > ZERO and state.average_price is not None:
            saga.fills.append(Fill(order.leg, order.side, state.filled_quantity, state.average_price))
        planned = saga.orders.get(order.client_order_id)
        saga.orders[order.client_order_id] = OrderRecord(
            client_order_id=order.client_order_id,
            cycle_id=saga.cycle_id,
            leg=order.leg,
            venue=venue.name,
            side=order.side,
            purpose=purpose,
            quantity_mwh=order.quantity,
            limit_price_gbp=order.limit_price,
            status=state.status,
            filled_mwh=state.filled_quantity,
            avg_price_gbp=state.average_price,
            venue_order_id=state.venue_order_id,
            created_at=planned.created_at if planned is not None else saga.started_at,
            updated_at=self.clock(),
        )

    async def _unwind(self, saga: _Saga, *, power_target: Decimal) -> bool:
        """Bring the power leg to `power_target` MWh and the futures leg back to its hedge.

        After a failure both targets are zero. After a partial hedge the power bought beyond what
        the futures leg sold is sold back. True when both legs end where they should.
        """
        futures_target = -power_target
        ok = await self._flatten(saga, "power", self.power, power_target)
        return await self._flatten(saga, "futures", self.futures, futures_target) and ok

    async def _flatten(self, saga: _Saga, leg: Leg, venue: Venue, target: Decimal) -> bool:
        for attempt in range(1, UNWIND_ATTEMPTS + 1):
            excess = net_position(saga.fills, leg) - target
            if excess == ZERO:
                return True
            side = Side.SELL if excess > ZERO else Side.BUY
            try:
                book = await venue.book()
            except VenueError as exc:
                log.error("cycle %s cannot read %s book to unwind: %s", saga.cycle_id, leg, exc)
                continue
            limit = _sweep_limit(book, side)
            if limit is None:
                log.error("cycle %s: %s book has no %s side to unwind into", saga.cycle_id, leg, side)
                continue
            suffix = "" if attempt == 1 else f"-{attempt}"
            order = OrderRequest(f"{saga.cycle_id}-{leg}-unwind{suffix}", leg, side, abs(excess), limit)
            await self._fill(saga, venue, order, "unwind")
        left = net_position(saga.fills, leg) - target
        if left != ZERO:
            log.critical(
                "cycle %s: %s leg still open (%s MWh) after %d unwind attempts; close it by hand (runbook)",
                saga.cycle_id,
                leg,
                left,
                UNWIND_ATTEMPTS,
            )
            return False
        return True

    async def _repay(self, saga: _Saga) -> bool:
        if saga.loan is None or saga.loan_repaid:
            return True
        for attempt in range(1, REPAY_ATTEMPTS + 1):
            try:
                await self.loan.repay(saga.loan)
                saga.loan_repaid = True
                return True
            except LoanError as exc:
                log.error(
                    "cycle %s loan repayment attempt %d failed: %s",
                    saga.cycle_id,
                    attempt,
                    exc,
                    exc_info=True,
                )
        return False

    # -- journal and metrics -------------------------------------------------------------------

    def _finish(self, saga: _Saga, status: CycleStatus, reason: str | None) -> CycleResult:
        finished = self.clock()
        power_fee, futures_fee = venue_fees(saga.fills, self.params.power_fee_bp, self.params.futures_fee_bp)
        loan_fee = saga.loan.fee if saga.loan is not None else ZERO
        gas = self.params.gas if saga.loan is not None else ZERO
        cash = sum((f.cash for f in saga.fills), ZERO)
        costs = CostBreakdown(
            power_fee_gbp=money(power_fee),
            futures_fee_gbp=money(futures_fee),
            loan_fee_gbp=money(loan_fee),
            gas_gbp=money(gas),
            slippage_gbp=money(self._slippage(saga)),
        )
        net = money(cash) - costs.total_gbp
        trade = None
        if status is CycleStatus.TRADED:
            _, power_px = average_price(saga.fills, "power", Side.BUY)
            hedged, futures_px = average_price(saga.fills, "futures", Side.SELL)
            trade = TradeRecord(
                cycle_id=saga.cycle_id,
                executed_at=finished,
                quantity_mwh=hedged,
                power_price_gbp=power_px if power_px is not None else ZERO,
                futures_price_gbp=futures_px if futures_px is not None else ZERO,
                loan_amount_gbp=saga.loan.amount if saga.loan is not None else ZERO,
                gross_gbp=money(cash),
                costs=costs,
                net_gbp=net,
            )
        record = self._cycle_record(saga, status, reason, finished=finished, realised=net, trade=trade)
        try:
            self.journal.finish_cycle(record)  # type: ignore[attr-defined]
        except Exception:
            self.metrics.journal_errors.inc()
            self._journal_broken = True
            log.exception(
                "journal write failed for cycle %s; trading stops until it is fixed. Record: %r",
                saga.cycle_id,
                record,
            )
        self._account(record, trade)
        return CycleResult(_OUTCOME[status], reason, record)

    def _account(self, record: CycleRecord, trade: TradeRecord | None) -> None:
        m = self.metrics
        net = record.realised_gbp
        self._daily_pnl += net
        m.set_day(self._daily_pnl, self.daily_loss)
        m.record_pnl(net)
        m.cycles.labels(outcome=_OUTCOME[record.status]).inc()
        if record.status is not CycleStatus.TRADED and record.reason:
            m.trades_blocked.labels(reason=record.reason if record.reason in _REASONS else "error").inc()
        if trade is not None:
            m.trades_executed.inc()
            m.last_trade_timestamp.set(trade.executed_at.timestamp())
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
        else:
            log.warning(
                "cycle %s",
                record.status.value,
                extra={"fields": {"cycle_id": record.cycle_id, "reason": record.reason, "net_gbp": net}},
            )

    def _slippage(self, saga: _Saga) -> Decimal:
        """Cost of filling away from the quoted top of book (informational; already in the prices)."""
        total = ZERO
        top_ask = saga.power_book.asks[0].price
        top_bid = saga.futures_book.bids[0].price
        for fill in saga.fills:
            if fill.leg == "power" and fill.side is Side.BUY:
                total += (fill.price - top_ask) * fill.quantity
            elif fill.leg == "futures" and fill.side is Side.SELL:
                total += (top_bid - fill.price) * fill.quantity
        return total

    def _order_record(self, saga: _Saga, order: OrderRequest, purpose: str, venue: str) -> OrderRecord:
        return OrderRecord(
            client_order_id=order.client_order_id,
            cycle_id=saga.cycle_id,
            leg=order.leg,
            venue=venue,
            side=order.side,
            purpose=purpose,
            quantity_mwh=order.quantity,
            limit_price_gbp=order.limit_price,
            status=OrderStatus.NEW,
            filled_mwh=ZERO,
            avg_price_gbp=None,
            venue_order_id=None,
            created_at=saga.started_at,
            updated_at=saga.started_at,
        )

    def _cycle_record(
        self,
        saga: _Saga,
        status: CycleStatus,
        reason: str | None,
        *,
        finished: datetime | None = None,
        realised: Decimal = ZERO,
        trade: TradeRecord | None = None,
    ) -> CycleRecord:
        opp = saga.opportunity
        return CycleRecord(
            cycle_id=saga.cycle_id,
            seq=saga.seq,
            started_at=saga.started_at,
            finished_at=finished,
            status=status,
            reason=reason,
            power_ask_gbp=saga.power_book.asks[0].price,
            futures_bid_gbp=saga.futures_book.bids[0].price,
            spread_gbp=saga.futures_book.bids[0].price - saga.power_book.asks[0].price,
            planned_mwh=opp.quantity,
            expected_profit_gbp=money(opp.expected_profit),
            realised_gbp=realised,
            orders=tuple(saga.orders.values()),
            trade=trade,
        )


_OUTCOME = {
    CycleStatus.TRADED: "traded",
    CycleStatus.UNWOUND: "unwound",
    CycleStatus.FAILED: "failed",
    CycleStatus.RECOVERED: "unwound",
    CycleStatus.STARTED: "failed",
}
_REASONS = {
    "loan_refused",
    "power_rejected",
    "futures_rejected",
    "partial_fill",
    "order_timeout",
    "repay_failed",
    "journal_error",
    "error",
}


def _sweep_limit(book: Book, side: Side) -> Decimal | None:
    """A limit that reaches the whole visible book on the side we must trade into."""
    levels = book.bids if side is Side.SELL else book.asks
    if not levels:
        return None
    return levels[-1].price


__all__ = ["Block", "CycleFailure", "CycleResult", "ExecutionParams", "Orchestrator", "utc_now"]
