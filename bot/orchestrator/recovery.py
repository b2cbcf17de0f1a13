"""Restart recovery: close cycles a killed process left STARTED, from the journal and the venues.

Recovery never guesses: when a venue cannot be reached to say what became of an order, the cycle
is left open and `RecoveryPending` names the venue. `Recovery` retries it with a bounded backoff
(`bot.journal.backoff`) while the cycle gate blocks trading (`recovery_pending`); once every venue
has answered, trading starts without a restart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from bot.domain.market import OrderState, OrderStatus
from bot.domain.pnl import money, net_position
from bot.journal.backoff import Backoff
from bot.journal.records import CycleRecord, CycleStatus, OrderRecord
from bot.metrics import BotMetrics
from bot.orchestrator.ports import CycleJournal
from bot.orchestrator.state import fills_of
from bot.venues.base import VENUE_DOWN_KINDS, Venue, VenueError

log = logging.getLogger("bot.orchestrator.recovery")
ZERO = Decimal(0)
# A venue that failed with one of these said nothing about the order: ask again, never guess.
UNANSWERED_KINDS: frozenset[str] = VENUE_DOWN_KINDS | {"rate_limited"}


class RecoveryPending(Exception):
    """A venue could not be reached to say what became of a dead cycle's order (names only)."""

    def __init__(self, venues: Iterable[str]) -> None:
        self.venues = tuple(sorted(set(venues)))
        super().__init__(f"recovery waits for {', '.join(self.venues)}: not reachable")


class _Unanswered(Exception):
    def __init__(self, venue: str) -> None:
        self.venue = venue


async def recover(
    journal: CycleJournal, venues: dict[str, Venue], clock: Callable[[], datetime]
) -> list[CycleRecord]:
    """Close each cycle a killed process left STARTED, from what the journal says was sent and filled.

    Every order is journalled before it is sent, with each answer of its venue as it came (see
    `saga`). An order whose journalled answer is final (FILLED, CANCELLED, REJECTED) is taken as
    journalled. Any other (NEW: written ahead, perhaps sent; OPEN or PARTIALLY_FILLED; UNKNOWN)
    is asked of its venue by its deterministic id: one still resting there is cancelled (its
    cycle is gone), one the venue never received is UNKNOWN with nothing filled. The cycle's
    position and cash are those of its orders' fills. A leg found open is reported loudly
    (runbook: close it by hand) rather than traded blind after a crash. Returns the closed cycles.
    Raises `RecoveryPending` when a venue cannot be reached (its cycle is left open).
    """
    closed = []
    for cycle in journal.incomplete_cycles():
        orders, unanswered = [], set()
        for order in cycle.orders:
            try:
                orders.append(await _settle(venues.get(order.leg), order, clock))
            except _Unanswered as exc:
                unanswered.add(exc.venue)
        if unanswered:
            raise RecoveryPending(unanswered)  # this cycle stays open; the next attempt asks again
        fills = fills_of(orders)
        open_power, open_futures = net_position(fills, "power"), net_position(fills, "futures")
        cash = money(sum((f.cash for f in fills), ZERO))
        hedged = open_power == -open_futures
        record = CycleRecord(
            cycle_id=cycle.cycle_id,
            seq=cycle.seq,
            started_at=cycle.started_at,
            finished_at=clock(),
            status=CycleStatus.RECOVERED,
            reason="restart" if hedged else "restart_open_leg",
            power_ask_gbp=cycle.power_ask_gbp,
            futures_bid_gbp=cycle.futures_bid_gbp,
            spread_gbp=cycle.spread_gbp,
            planned_mwh=cycle.planned_mwh,
            expected_profit_gbp=cycle.expected_profit_gbp,
            realised_gbp=cash if fills else ZERO,
            orders=tuple(orders),
            trade=None,
            paper=cycle.paper,
        )
        journal.finish_cycle(record)
        closed.append(record)
        if not hedged:
            log.critical(
                "recovered cycle %s has an open position (power %s MWh, futures %s MWh): "
                "close it by hand, see docs/runbooks.md",
                cycle.cycle_id,
                open_power,
                open_futures,
            )
        else:
            log.warning(
                "recovered cycle %s left by a previous process (power %s MWh, futures %s MWh, cash %s GBP)",
                cycle.cycle_id,
                open_power,
                open_futures,
                cash,
            )
    return closed


_SETTLED = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED})


async def _settle(venue: Venue | None, order: OrderRecord, clock: Callable[[], datetime]) -> OrderRecord:
    """The order's final state: the journalled one if final, else its venue's (cancelling what rests)."""
    if order.status in _SETTLED:
        return order
    state = await _query(venue, order)
    if state is None:
        # never received (NEW), or the venue cannot say: keep what the journal knows was filled
        state = OrderState(
            order.client_order_id,
            OrderStatus.UNKNOWN,
            order.filled_mwh,
            order.avg_price_gbp,
            order.venue_order_id,
        )
    elif not state.status.is_final and venue is not None:
        state = await _cancel(venue, state, order.venue_order_id)
    return _updated(order, state, clock())


async def _query(venue: Venue | None, order: OrderRecord) -> OrderState | None:
    if venue is None:
        return None
    try:
        return await venue.status(order.client_order_id, order.venue_order_id)
    except VenueError as exc:
        _unless_answered(venue, exc)
        log.warning("order %s unknown to %s after restart: %s", order.client_order_id, venue.name, exc)
        return None
    except LookupError as exc:  # KeyError included: an id the venue never saw
        log.warning("order %s unknown to %s after restart: %s", order.client_order_id, venue.name, exc)
        return None


async def _cancel(venue: Venue, state: OrderState, venue_order_id: str | None) -> OrderState:
    """Cancel an order of a dead cycle still resting at its venue; its state as the venue then says."""
    log.warning(
        "order %s of a dead cycle still rests at %s; cancelling it", state.client_order_id, venue.name
    )
    try:
        return await venue.cancel(state.client_order_id, state.venue_order_id or venue_order_id)
    except VenueError as exc:
        _unless_answered(venue, exc)
        log.error("cancel of %s failed after restart: %s", state.client_order_id, exc)
        return state


def _unless_answered(venue: Venue, exc: VenueError) -> None:
    """Raise `_Unanswered` when the venue did not answer (down, breaker open, rate limited)."""
    if exc.kind in UNANSWERED_KINDS:
        log.warning("%s could not be reached during recovery (%s); asking again later", venue.name, exc.kind)
        raise _Unanswered(venue.name) from exc


class Recovery:
    """Restart recovery until it completes: retried with backoff while a venue cannot answer.

    `attempt()` is called once at start and then by the cycle gate before each cycle; no cycle
    starts until it returns True. `recovery_pending{venue}` names the venues it waits for.
    """

    def __init__(
        self,
        journal: CycleJournal,
        venues: dict[str, Venue],
        clock: Callable[[], datetime],
        metrics: BotMetrics,
        backoff: Backoff | None = None,
    ) -> None:
        self._journal = journal
        self._venues = venues
        self._clock = clock
        self._metrics = metrics
        self._backoff = backoff or Backoff()
        self.done = False

    async def attempt(self) -> bool:
        """Recover when the backoff allows; True once done (every venue asked has answered)."""
        if self.done:
            return True
        if not self._backoff.due():
            return False
        try:
            await recover(self._journal, self._venues, self._clock)
        except RecoveryPending as exc:
            delay = self._backoff.failed()
            self._metrics.set_recovery_pending(exc.venues)
            log.error("%s; no cycle starts until it answers (next attempt in %.1f s)", exc, delay)
            return False
        except Exception:
            delay = self._backoff.failed()
            log.exception("restart recovery failed; no cycle starts (next attempt in %.1f s)", delay)
            return False
        self._backoff.reset()
        self._metrics.set_recovery_pending(())
        self.done = True
        return True


def _updated(order: OrderRecord, state: OrderState, now: datetime) -> OrderRecord:
    return replace(
        order,
        status=state.status,
        filled_mwh=state.filled_quantity,
        avg_price_gbp=state.average_price,
        venue_order_id=state.venue_order_id or order.venue_order_id,
        updated_at=now,
    )
