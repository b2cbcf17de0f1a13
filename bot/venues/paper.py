"""Paper trading and the live feed: a leg's book from one venue, its orders elsewhere.

`PaperVenue` is PAPER_TRADING: the book is the live venue's, and every order is filled locally
against that book by the simulator's execution model (`walk_book`: the depth walk up to the
limit price, SLIPPAGE_BP against the order, EXEC_LATENCY_MS before it reaches the book), immediate
or cancel, as the simulated venues fill. Nothing is ever sent to the venue: only its book is read.
What an order takes is consumed from that book until the venue publishes a different one.

`FeedVenue` is USE_LIVE_FEED beside a live futures venue: the book comes from the feed (the CCXT
exchange) and the orders go to the venue (ICE, the repo venue).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal

from bot.domain.market import BASIS_POINTS_PER_UNIT, Book, Leg, Level, OrderRequest, OrderState, Side
from bot.venues.base import Venue, VenueError, VenueHealth, venue_health
from bot.venues.sim_venue import fill_state
from bot.venues.simulated import walk_book


class _BookFrom:
    """A leg whose book (and book stream, where the source has one) comes from `source`."""

    name: str
    leg: Leg

    def __init__(self, source: Venue) -> None:
        self.source = source
        self.name = source.name
        self.leg = source.leg

    async def book(self) -> Book:
        return await self.source.book()

    def books(self) -> AsyncIterator[Book]:
        """The source's stream of book changes (`VenueError` when it has none)."""
        stream = getattr(self.source, "books", None)
        if stream is None:
            raise VenueError(f"{self.source.name} does not stream its book", kind="other")
        result: AsyncIterator[Book] = stream()
        return result

    def latest(self) -> Book | None:
        """The source's last streamed book, where it keeps one."""
        latest = getattr(self.source, "latest", None)
        return latest() if latest is not None else None

    def health(self) -> VenueHealth:
        """The source's health: the venue whose book this leg reads."""
        return venue_health(self.source)

    async def ping(self) -> None:
        await self.source.ping()


class PaperVenue(_BookFrom):
    """The live venue's book; orders filled against it locally, never sent (PAPER_TRADING=1)."""

    paper = True

    def __init__(self, source: Venue, *, slippage_bp: Decimal, exec_latency_ms: int) -> None:
        super().__init__(source)
        self._slip = slippage_bp / BASIS_POINTS_PER_UNIT
        self._latency_s = exec_latency_ms / 1000.0
        self._orders: dict[str, OrderState] = {}
        self._seen: Book | None = None  # the live book the orders below consumed from
        self._left: dict[Side, list[Level]] = {}

    async def place(self, order: OrderRequest) -> OrderState:
        """Fill `order` against the live book as the simulator would; idempotent by client order id."""
        existing = self._orders.get(order.client_order_id)
        if existing is not None:
            return existing
        if order.leg != self.leg:
            raise VenueError(f"{self.name} trades the {self.leg} leg; order {order.client_order_id} is not")
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        levels = self._levels(await self.source.book(), order.side)
        fill = (
            walk_book(levels, order.side, order.quantity, order.limit_price, self._slip)
            if order.quantity > 0
            else None
        )
        state = fill_state(order, fill, f"paper-{self.name}-{len(self._orders) + 1}")
        self._orders[order.client_order_id] = state
        return state

    def _levels(self, book: Book, side: Side) -> list[Level]:
        """The side an order takes from: what earlier orders left of this same book, else all of it."""
        if book != self._seen:  # a new book from the venue: its whole depth again
            self._seen = book
            self._left = {Side.BUY: list(book.asks), Side.SELL: list(book.bids)}
        return self._left[side]

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        state = self._orders.get(client_order_id)
        if state is None:
            raise VenueError(f"paper {self.name} has no order {client_order_id}", kind="not_found")
        return state

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """Paper orders are immediate or cancel: already final."""
        return await self.status(client_order_id)

    async def close(self) -> None:
        await self.source.close()

    def __repr__(self) -> str:
        return f"PaperVenue({self.source!r})"


class FeedVenue(_BookFrom):
    """The feed's book, the venue's orders (USE_LIVE_FEED beside USE_ICE_LIVE)."""

    def __init__(self, feed: Venue, orders: Venue) -> None:
        super().__init__(feed)
        self.orders = orders
        self.name = orders.name  # orders and their journal rows name where they were sent

    async def place(self, order: OrderRequest) -> OrderState:
        return await self.orders.place(order)

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        return await self.orders.status(client_order_id, venue_order_id)

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        return await self.orders.cancel(client_order_id, venue_order_id)

    async def ping(self) -> None:
        await self.source.ping()
        await self.orders.ping()

    async def close(self) -> None:
        await self.source.close()
        await self.orders.close()

    def __repr__(self) -> str:
        return f"FeedVenue(feed={self.source!r}, orders={self.orders!r})"


__all__ = ["FeedVenue", "PaperVenue"]
