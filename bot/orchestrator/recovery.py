"""Restart recovery: close cycles a killed process left STARTED, using what the venues report."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from bot.domain.market import OrderState, OrderStatus
from bot.domain.pnl import Fill, money, net_position
from bot.journal.records import CycleRecord, CycleStatus, OrderRecord
from bot.orchestrator.ids import cycle_id
from bot.orchestrator.ports import CycleJournal
from bot.venues.base import Venue, VenueError

log = logging.getLogger("bot.orchestrator.recovery")
ZERO = Decimal(0)


class ForeignJournal(RuntimeError):
    """The journal's latest cycle belongs to another bot: journals are one per bot."""


def check_owner(journal: CycleJournal, bot_name: str) -> None:
    """Refuse a journal whose latest cycle is not this bot's.

    Cycle sequences, restart recovery and the daily loss limit are per journal, so two bots
    sharing one would collide on sequence numbers, recover each other's cycles and share a loss
    limit. Give each bot its own SQLite file or PostgreSQL database (or schema).
    """
    next_seq = journal.next_cycle_seq()
    if next_seq <= 1:
        return
    if journal.cycle(cycle_id(bot_name, next_seq - 1)) is None:
        raise ForeignJournal(
            f"the journal's latest cycle (sequence {next_seq - 1}) is not bot {bot_name!r}'s: each bot "
            "needs its own journal (its own DATABASE_URL database or schema, or its own DATA_DIR); "
            "check BOT_NAME and DATABASE_URL"
        )


async def recover(
    journal: CycleJournal, venues: dict[str, Venue], clock: Callable[[], datetime]
) -> list[CycleRecord]:
    """Query every order of each STARTED cycle by its deterministic id and close the cycle.

    Orders the venue no longer knows are marked UNKNOWN. A leg found open is reported loudly
    (runbook: close it by hand) rather than traded blind after a crash. Returns the closed cycles.
    """
    closed = []
    for cycle in journal.incomplete_cycles():
        orders = []
        fills: list[Fill] = []
        for order in cycle.orders:
            state = await _query(venues.get(order.leg), order)
            orders.append(_updated(order, state, clock()))
            if state.filled_quantity > ZERO and state.average_price is not None:
                fills.append(Fill(order.leg, order.side, state.filled_quantity, state.average_price))
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
            log.warning("recovered cycle %s left by a previous process", cycle.cycle_id)
    return closed


async def _query(venue: Venue | None, order: OrderRecord) -> OrderState:
    if venue is None:
        return OrderState(order.client_order_id, OrderStatus.UNKNOWN)
    try:
        return await venue.status(order.client_order_id)
    except (VenueError, KeyError, LookupError) as exc:
        log.warning("order %s unknown to %s after restart: %s", order.client_order_id, venue.name, exc)
        return OrderState(order.client_order_id, OrderStatus.UNKNOWN)


def _updated(order: OrderRecord, state: OrderState, now: datetime) -> OrderRecord:
    return replace(
        order,
        status=state.status,
        filled_mwh=state.filled_quantity,
        avg_price_gbp=state.average_price,
        venue_order_id=state.venue_order_id or order.venue_order_id,
        updated_at=now,
    )
