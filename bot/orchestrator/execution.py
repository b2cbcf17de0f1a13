"""One order on one venue: place it, poll it to a final state, cancel it at the timeout.

Knows nothing of cycles: the saga decides what to send and records what came back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from bot.domain.market import Book, OrderRequest, OrderState, OrderStatus, Side
from bot.venues.base import Venue, VenueError

log = logging.getLogger("bot.orchestrator")

Sleep = Callable[[float], Awaitable[None]]
Answer = Callable[[OrderState], None]


@dataclass(frozen=True)
class ExecutionParams:
    """How the cycle names and works its orders (from BOT_NAME, ORDER_TIMEOUT_SECS, ORDER_POLL_INTERVAL)."""

    bot_name: str
    order_timeout_s: float
    poll_interval_s: float


async def fill_order(
    venue: Venue,
    order: OrderRequest,
    params: ExecutionParams,
    *,
    sleep: Sleep,
    on_answer: Answer,
) -> tuple[OrderState, bool]:
    """Place an order and wait for a final state; cancel it at its deadline (ORDER_TIMEOUT_SECS).

    A stop request (SIGTERM, the control plane's stop) does not shorten the wait: an order in
    flight keeps its deadline, so the cycle ends hedged or unwound, never with a leg left open
    by a hurried cancel; the stop only prevents the next cycle. `on_answer` hears each new state
    the venue reports, as soon as it is known (the saga journals it). Returns the last state and
    whether the deadline ended the wait.
    """
    try:
        state = await venue.place(order)
    except VenueError as exc:
        state = OrderState(order.client_order_id, OrderStatus.REJECTED, reason=str(exc))
    on_answer(state)
    deadline = time.monotonic() + params.order_timeout_s
    while not state.status.is_final:
        if time.monotonic() >= deadline:
            cancelled = await _cancel(venue, order.client_order_id, state)
            if cancelled != state:
                on_answer(cancelled)
            return cancelled, True
        await sleep(params.poll_interval_s)
        polled = await _status_or_last(venue, order.client_order_id, state)
        if polled != state:
            on_answer(polled)
        state = polled
    return state, False


async def _cancel(venue: Venue, client_order_id: str, last: OrderState) -> OrderState:
    """Cancel; when the cancel fails, what the venue last said, or UNKNOWN if that is not final."""
    try:
        return await venue.cancel(client_order_id)
    except VenueError as exc:
        log.error("cancel of %s failed: %s", client_order_id, exc)
    state = await _status_or_last(venue, client_order_id, last)
    if state.status.is_final:
        return state
    return OrderState(
        client_order_id, OrderStatus.UNKNOWN, state.filled_quantity, state.average_price, state.venue_order_id
    )


async def _status_or_last(venue: Venue, client_order_id: str, last: OrderState) -> OrderState:
    try:
        return await venue.status(client_order_id)
    except VenueError as exc:
        log.warning("status of %s failed: %s", client_order_id, exc)
        return last


def sweep_limit(book: Book, side: Side) -> Decimal | None:
    """A limit that reaches the whole visible book on the side we must trade into."""
    levels = book.bids if side is Side.SELL else book.asks
    if not levels:
        return None
    return levels[-1].price
