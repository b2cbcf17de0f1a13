"""One order on one venue: place it, poll it to a final state, cancel it at the timeout.

Knows nothing of cycles: the saga decides what to send and records what came back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain.decision import venue_block
from bot.domain.market import Book, Leg, OrderRequest, OrderState, OrderStatus, Side
from bot.venues.base import OUTCOME_UNKNOWN_KINDS, Venue, VenueError

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("bot.orchestrator")

Sleep = Callable[[float], Awaitable[None]]
Answer = Callable[[OrderState], None]


@dataclass(frozen=True)
class ExecutionParams:
    """How the cycle names and works its orders (from BOT_NAME, ORDER_TIMEOUT_SECS, ORDER_POLL_INTERVAL)."""

    bot_name: str
    order_timeout_s: float
    poll_interval_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> ExecutionParams:
        return cls(
            bot_name=settings.bot_name,
            order_timeout_s=float(settings.order_timeout_secs),
            poll_interval_s=float(settings.order_poll_interval),
        )


@dataclass(frozen=True)
class OrderOutcome:
    """How one order ended: its last state, whether the deadline ended the wait, and the kind of
    the `VenueError` its `place()` raised, if it did."""

    state: OrderState
    timed_out: bool
    error_kind: str | None = None
    placed_unknown: bool = False  # place() could not say whether the venue took the order

    def no_fill_reason(self, leg: Leg) -> str:
        """The cycle's reason when this order filled nothing (the `trades_blocked` label).

        Only the venue refusing the order is `<leg>_rejected`; an order whose fate is unknown is
        `order_unknown`, and a venue that could not be asked is named by its error kind.
        """
        if self.state.status is OrderStatus.UNKNOWN:  # before the deadline: a lost venue is not a timeout
            return "order_unknown"
        if self.error_kind is not None and self.error_kind != "rejected" and not self.placed_unknown:
            return venue_block(self.error_kind).value
        if self.timed_out:
            return "order_timeout"
        return f"{leg}_rejected"


def _settled(state: OrderState) -> bool:
    """Final, and known: an UNKNOWN order is asked about until its deadline."""
    return state.status.is_final and state.status is not OrderStatus.UNKNOWN


async def _place(venue: Venue, order: OrderRequest) -> tuple[OrderState, str | None]:
    """The venue's answer; a `VenueError` becomes REJECTED (nothing was taken) or, when the
    request may have reached the venue (timeout, 5xx, an unreadable answer), UNKNOWN."""
    try:
        return await venue.place(order), None
    except VenueError as exc:
        status = OrderStatus.UNKNOWN if exc.kind in OUTCOME_UNKNOWN_KINDS else OrderStatus.REJECTED
        log.warning("place %s on %s failed (%s): %s", order.client_order_id, venue.name, exc.kind, exc)
        return OrderState(order.client_order_id, status, reason=str(exc)), exc.kind


async def fill_order(
    venue: Venue,
    order: OrderRequest,
    params: ExecutionParams,
    *,
    sleep: Sleep,
    on_answer: Answer,
) -> OrderOutcome:
    """Place an order and wait for a final state; cancel it at its deadline (ORDER_TIMEOUT_SECS).

    A stop request (SIGTERM, the control plane's stop) does not shorten the wait: an order in
    flight keeps its deadline, so the cycle ends hedged or unwound, never with a leg left open
    by a hurried cancel; the stop only prevents the next cycle. `on_answer` hears each new state
    the venue reports, as soon as it is known (the saga journals it). An order whose fate
    `place()` could not tell (UNKNOWN) is asked about like a resting one: it may have filled.
    """
    state, error_kind = await _place(venue, order)
    placed_unknown = state.status is OrderStatus.UNKNOWN
    on_answer(state)
    deadline = time.monotonic() + params.order_timeout_s
    while not _settled(state):
        if time.monotonic() >= deadline:
            cancelled = await _cancel(venue, order.client_order_id, state)
            if cancelled != state:
                on_answer(cancelled)
            return OrderOutcome(cancelled, True, error_kind, placed_unknown)
        await sleep(params.poll_interval_s)
        polled = await _status_or_last(venue, order.client_order_id, state)
        if polled != state:
            on_answer(polled)
        state = polled
    return OrderOutcome(state, False, error_kind, placed_unknown)


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
