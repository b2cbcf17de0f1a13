"""The saga's steps and their undo, for one cycle.

Steps, in order: loan drawn → power leg bought → futures leg sold for the quantity actually
filled. Whatever happened, the undo follows: `unwind` brings both legs back to the hedge (or
flat after a failure) and `repay` returns the loan, each retried a few times before a human is
asked to step in (see docs/runbooks.md).

Every order of every step is written ahead: journalled (id, side, quantity, limit) in a committed
transaction before `place()` is called, and never sent when that write fails; each answer of its
venue is journalled as soon as it is known. Restart recovery reads the position from there.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from bot.domain.decision import Limits
from bot.domain.market import Leg, OrderRequest, OrderState, OrderStatus, Side
from bot.domain.pnl import money, net_position
from bot.loans.base import FlashLoan, LoanError, LoanRefused
from bot.metrics import BotMetrics
from bot.orchestrator.execution import ExecutionParams, OrderOutcome, Sleep, fill_order, sweep_limit
from bot.orchestrator.ids import order_id
from bot.orchestrator.ports import CycleJournal
from bot.orchestrator.state import CycleState
from bot.venues.base import Venue, VenueError

log = logging.getLogger("bot.orchestrator")
ZERO = Decimal(0)
SETTLE_UNKNOWN = "settle_unknown"
UNWIND_ATTEMPTS = 3
REPAY_ATTEMPTS = 3

Clock = Callable[[], datetime]


class CycleFailure(Exception):
    """A step failed in a way the saga handles by unwinding; `reason` is the metric label."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


@dataclass
class SagaSteps:
    """Runs the steps of a cycle against the two venues and the loan, journalling each order."""

    power: Venue
    futures: Venue
    loan: FlashLoan
    params: ExecutionParams
    metrics: BotMetrics
    clock: Clock
    sleep: Sleep
    journal: CycleJournal

    async def trade(self, cycle: CycleState) -> None:
        """Draw the loan, buy the power leg, sell the futures leg; `CycleFailure` when a step fails."""
        opp = cycle.opportunity
        if opp.loan_amount > ZERO:
            try:
                cycle.loan = await self.loan.draw(cycle.cycle_id, money(opp.loan_amount))
            except LoanError as exc:
                reason = exc.reason if isinstance(exc, LoanRefused) else "loan_refused"
                raise CycleFailure(reason, str(exc)) from exc
        entry = await self._fill(cycle, self.power, cycle.entry, "entry")
        state = entry.state
        if state.filled_quantity <= ZERO:
            raise CycleFailure(entry.no_fill_reason("power"), state.reason or "")
        # hedge what was actually bought, never what was asked for
        exit_ = replace(cycle.exit, quantity=state.filled_quantity)
        outcome = await self._fill(cycle, self.futures, exit_, "exit")
        hedge = outcome.state
        if hedge.filled_quantity <= ZERO:
            raise CycleFailure(outcome.no_fill_reason("futures"), hedge.reason or "")
        if hedge.filled_quantity < state.filled_quantity:
            # the unfilled rest of the power leg is sold back by the unwind that follows
            self.metrics.trade_partial_failures.inc()
            self.metrics.trades_blocked.labels(reason="partial_fill").inc()
            log.warning(
                "cycle %s futures leg filled %s of %s MWh; selling back the rest",
                cycle.cycle_id,
                hedge.filled_quantity,
                state.filled_quantity,
            )

    async def _fill(self, cycle: CycleState, venue: Venue, order: OrderRequest, purpose: str) -> OrderOutcome:
        """Write the order ahead, send it, journal each answer; `CycleFailure` if it cannot be written."""
        self._write_ahead(cycle, venue, order, purpose)

        def answered(state: OrderState) -> None:
            record = cycle.note(order, venue.name, purpose, state, self.clock())
            try:
                self.journal.record_orders((record,))
            except Exception:
                # the order is out: it is kept in memory for finish_cycle, and recovery asks the venue
                self.metrics.journal_errors.inc()
                log.exception(
                    "cycle %s: could not journal the answer to %s", cycle.cycle_id, order.client_order_id
                )

        return await fill_order(venue, order, self.params, sleep=self.sleep, on_answer=answered)

    def _write_ahead(self, cycle: CycleState, venue: Venue, order: OrderRequest, purpose: str) -> None:
        if cycle.journalled_as(order, venue.name):
            return  # the cycle's write-ahead entry holds it already
        record = cycle.note(
            order, venue.name, purpose, OrderState(order.client_order_id, OrderStatus.NEW), self.clock()
        )
        try:
            self.journal.record_orders((record,))
        except Exception as exc:
            self.metrics.journal_errors.inc()
            log.exception(
                "cycle %s: write-ahead of %s failed; not sent", cycle.cycle_id, order.client_order_id
            )
            raise CycleFailure("journal_error", f"{order.client_order_id} not journalled, not sent") from exc

    async def unwind(self, cycle: CycleState, *, power_target: Decimal) -> bool:
        """Bring the power leg to `power_target` MWh and the futures leg back to its hedge.

        After a failure both targets are zero. After a partial hedge the power bought beyond what
        the futures leg sold is sold back. True when both legs end where they should.
        """
        futures_target = -power_target
        ok = await self._flatten(cycle, "power", self.power, power_target)
        ok = await self._flatten(cycle, "futures", self.futures, futures_target) and ok
        return self._all_known(cycle) and ok

    def _all_known(self, cycle: CycleState) -> bool:
        """False when an order's fate is still UNKNOWN: its leg may be open at the venue."""
        unknown = [o for o in cycle.orders.values() if o.status is OrderStatus.UNKNOWN]
        for order in unknown:
            log.critical(
                "cycle %s: %s could not confirm order %s (%s leg); check it there and close any "
                "position by hand (runbook: order unknown)",
                cycle.cycle_id,
                order.venue,
                order.client_order_id,
                order.leg,
            )
        return not unknown

    async def _flatten(self, cycle: CycleState, leg: Leg, venue: Venue, target: Decimal) -> bool:
        for attempt in range(1, UNWIND_ATTEMPTS + 1):
            excess = net_position(cycle.fills, leg) - target
            if excess == ZERO:
                return True
            side = Side.SELL if excess > ZERO else Side.BUY
            try:
                book = await venue.book()
            except VenueError as exc:
                log.error("cycle %s cannot read %s book to unwind: %s", cycle.cycle_id, leg, exc)
                continue
            limit = sweep_limit(book, side)
            if limit is None:
                log.error("cycle %s: %s book has no %s side to unwind into", cycle.cycle_id, leg, side)
                continue
            order = OrderRequest(
                order_id(cycle.cycle_id, leg, "unwind", attempt), leg, side, abs(excess), limit
            )
            try:
                await self._fill(cycle, venue, order, "unwind")
            except CycleFailure:
                continue  # not written ahead, so not sent: the next attempt tries again
        left = net_position(cycle.fills, leg) - target
        if left != ZERO:
            log.critical(
                "cycle %s: %s leg still open (%s MWh) after %d unwind attempts; close it by hand (runbook)",
                cycle.cycle_id,
                leg,
                left,
                UNWIND_ATTEMPTS,
            )
            return False
        return True

    async def settle(self, cycle: CycleState, limits: Limits) -> None:
        """Settle the hedged cycle against its loan (for the on-chain lender: the one transaction
        that draws, pays the power seller, collects the futures proceeds and repays).

        `CycleFailure` with the lender's reason (`loan_refused:<error>`) when it refused: nothing
        moved, and the caller unwinds both legs. `CycleFailure(SETTLE_UNKNOWN)` when the outcome
        cannot be known: the settlement may have happened, so nothing is unwound (runbook).
        """
        if cycle.loan is None or cycle.loan_receipt is not None:
            return
        settlement = cycle.settlement(limits)
        if settlement.pay_gbp <= ZERO:
            return  # nothing to pay the power seller (a zero or negative price): nothing to finance
        try:
            cycle.loan_receipt = await self.loan.settle(cycle.loan, settlement)
        except LoanRefused as exc:
            raise CycleFailure(exc.reason, str(exc)) from exc
        except LoanError as exc:
            log.critical(
                "cycle %s: the settlement's outcome is unknown (%s); check the lender's transactions "
                "before trading on (runbook: settlement unknown)",
                cycle.cycle_id,
                exc,
                exc_info=True,
            )
            raise CycleFailure(SETTLE_UNKNOWN, str(exc)) from exc

    async def repay(self, cycle: CycleState) -> bool:
        """Repay the cycle's loan, if any and not yet repaid; False when every attempt failed."""
        if cycle.loan is None or cycle.loan_repaid:
            return True
        for attempt in range(1, REPAY_ATTEMPTS + 1):
            try:
                await self.loan.repay(cycle.loan)
                cycle.loan_repaid = True
                return True
            except LoanError as exc:
                log.error(
                    "cycle %s loan repayment attempt %d failed: %s",
                    cycle.cycle_id,
                    attempt,
                    exc,
                    exc_info=True,
                )
        return False
