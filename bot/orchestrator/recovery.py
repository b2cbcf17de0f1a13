"""Restart recovery: close cycles a killed process left STARTED, from the journal and the venues."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from bot.domain.market import OrderState, OrderStatus
from bot.domain.pnl import money, net_position
from bot.journal.records import CycleRecord, CycleStatus, OrderRecord
from bot.orchestrator.ports import CycleJournal
from bot.orchestrator.state import fills_of
from bot.venues.base import Venue, VenueError

log = logging.getLogger("bot.orchestrator.recovery")
ZERO = Decimal(0)


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
    """
    closed = []
    for cycle in journal.incomplete_cycles():
        orders = [await _settle(venues.get(order.leg), order, clock) for order in cycle.orders]
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
    except (VenueError, KeyError, LookupError) as exc:
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
        log.error("cancel of %s failed after restart: %s", state.client_order_id, exc)
        return state


def _updated(order: OrderRecord, state: OrderState, now: datetime) -> OrderRecord:
    return replace(
        order,
        status=state.status,
        filled_mwh=state.filled_quantity,
        avg_price_gbp=state.average_price,
        venue_order_id=state.venue_order_id or order.venue_order_id,
        updated_at=now,
    )
