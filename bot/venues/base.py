"""The small interface every venue adapter implements (simulated, Powerledger, ICE, CCXT, repo)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from bot.domain.market import Book, Leg, OrderRequest, OrderState


class VenueError(Exception):
    """A venue call failed. The message is safe to log: no credential, no response body."""


@runtime_checkable
class Venue(Protocol):
    """One leg's venue: a book to read and orders to place, poll and cancel."""

    name: str
    leg: Leg

    async def book(self) -> Book:
        """The current book. Raises `VenueError` when it cannot be had."""
        ...

    async def place(self, order: OrderRequest) -> OrderState:
        """Send an order. Placing the same `client_order_id` twice must not create two orders."""
        ...

    async def status(self, client_order_id: str) -> OrderState:
        """The order's current state."""
        ...

    async def cancel(self, client_order_id: str) -> OrderState:
        """Cancel what is left of the order and return its final state."""
        ...

    async def ping(self) -> None:
        """Raise `VenueError` when the venue cannot be reached (readiness checks)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
