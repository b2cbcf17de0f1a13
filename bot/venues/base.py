"""The small interface every venue adapter implements (simulated, Powerledger, ICE, CCXT, repo)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, Protocol, get_args, runtime_checkable

from bot.domain.market import Book, Leg, OrderRequest, OrderState

# Why a venue call failed, in few enough words to be a metric label (`trades_blocked{reason}`,
# `venue_errors_total{kind}`). "other" is the kind of an error raised without one.
VenueErrorKind = Literal[
    "timeout",  # no answer in time (connect or read)
    "unreachable",  # connection refused or dropped
    "server_error",  # HTTP 5xx
    "unauthorized",  # HTTP 401/403: the credential is wrong, expired or lacks a scope
    "rate_limited",  # HTTP 429 (`retry_after` says how long the venue asked us to wait)
    "malformed",  # an answer we cannot read (not JSON, missing fields, unknown status)
    "rejected",  # the venue refused the request (HTTP 4xx with a reason)
    "not_found",  # the venue does not know the order or market
    "venue_unavailable",  # our circuit breaker is open: the call was not sent
    "other",
]
VENUE_ERROR_KINDS: tuple[str, ...] = get_args(VenueErrorKind)

# Called once per venue request: (venue, endpoint, seconds, outcome), outcome "ok" or an error
# kind. The orchestrator feeds `venue_request_seconds{venue,endpoint}` and
# `venue_errors_total{venue,kind}` from it; adapters never import the metrics module.
VenueObserver = Callable[[str, str, float, str], None]


class VenueError(Exception):
    """A venue call failed. The message is safe to log: no credential, no response body.

    `kind` says why (see `VenueErrorKind`); `retry_after` is the wait in seconds a rate-limited
    venue asked for, when it said.
    """

    def __init__(
        self, message: str, *, kind: VenueErrorKind = "other", retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.kind: VenueErrorKind = kind
        self.retry_after = retry_after


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

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """The order's current state.

        `venue_order_id` (from a journalled `OrderState`) lets a restarted bot ask about an order
        this process did not place; without it the venue uses what `place()` learnt.
        """
        ...

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """Cancel what is left of the order and return its final state (`venue_order_id` as in `status`)."""
        ...

    async def ping(self) -> None:
        """Raise `VenueError` when the venue cannot be reached (readiness checks)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
