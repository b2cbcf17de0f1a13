"""The small interface every venue adapter implements (simulated, Powerledger, ICE, CCXT, repo)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
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

# Outcomes after which a venue counts as down (`venue_up` 0, `health().up` False): it did not
# answer, answered with a 5xx or garbage, our breaker holds it off, or our credential is refused.
# A rejection, a 404 or a 429 is an answer: the venue is up.
VENUE_DOWN_KINDS: frozenset[str] = frozenset(
    {"timeout", "unreachable", "server_error", "malformed", "venue_unavailable", "unauthorized"}
)

# Kinds after which a write may have reached the venue: the order's fate is unknown, so it is
# asked about, never taken as refused (and never sent again). Not `unreachable`: an adapter raises
# it from `place()` only when the connection was refused, so nothing was sent (a connection lost
# after sending is resolved inside the adapter, or raised as `timeout`).
OUTCOME_UNKNOWN_KINDS: frozenset[str] = frozenset({"timeout", "server_error", "malformed"})

# A venue's circuit breaker as `health()` reports it; "none" for a venue that has no breaker.
BreakerStateName = Literal["closed", "open", "half_open", "none"]


@dataclass(frozen=True, slots=True)
class VenueHealth:
    """What a venue's last request said, read without calling it (readiness, the control panel).

    Names and figures only: never a URL, a credential or an error body.
    """

    venue: str
    leg: str
    up: bool | None  # None until the first request
    breaker: BreakerStateName
    last_outcome: str | None = None  # "ok" or the error kind of the last request
    last_latency_s: float | None = None
    consecutive_failures: int = 0


class LastCall:
    """The outcome and duration of a venue's last request, and its run of failures (for `health()`)."""

    __slots__ = ("failures", "outcome", "seconds")

    def __init__(self) -> None:
        self.outcome: str | None = None
        self.seconds: float | None = None
        self.failures = 0

    def note(self, seconds: float, outcome: str) -> None:
        self.outcome, self.seconds = outcome, seconds
        self.failures = self.failures + 1 if outcome in VENUE_DOWN_KINDS else 0

    def health(self, venue: str, leg: str, breaker: BreakerStateName) -> VenueHealth:
        up = None if self.outcome is None else self.outcome not in VENUE_DOWN_KINDS
        return VenueHealth(venue, leg, up, breaker, self.outcome, self.seconds, self.failures)


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


@runtime_checkable
class ReportsHealth(Protocol):
    """A venue that can say how its last requests went (optional beside `Venue`)."""

    def health(self) -> VenueHealth:
        """The venue's health from its last request and its breaker; makes no request."""
        ...


def venue_health(venue: Venue) -> VenueHealth:
    """`venue.health()` where the adapter has it; otherwise nothing known, no breaker."""
    if isinstance(venue, ReportsHealth):
        return venue.health()
    return VenueHealth(venue.name, venue.leg, None, "none")


@runtime_checkable
class BookStream(Protocol):
    """A venue that says when its book changes (optional beside `Venue`): streaming venues, the sim.

    The trading loop evaluates on each change at once (one cycle at a time, MIN_CYCLE_GAP_MS
    apart) instead of waiting for CYCLE_INTERVAL_SECS; a venue without it is read on the interval.
    """

    def book_changes(self) -> AsyncIterator[Book]:
        """Each change of the book until the venue closes; a slow reader may get only the latest."""
        ...
