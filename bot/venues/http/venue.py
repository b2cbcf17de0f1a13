"""`RestVenue`: the `Venue` of a REST trading API, told by a `Dialect` what differs per venue.

What every REST venue here shares lives once in this class:

- The venue's order id of each client order id `place()` sent is kept, so `status()` and
  `cancel()` find it; a restarted bot passes the journalled `venue_order_id` instead.
- An order is only ever sent again with the same client order id, and not at all once its venue
  order id is known. A duplicate client order id answered by the venue (HTTP 409, or an error code
  the dialect lists) is resolved by reading the existing order, never by a second order.
- A `POST /orders` whose fate is unknown (timeout, dropped connection, 5xx) is looked up by client
  order id where the venue allows (`WireFormat.lookup`); otherwise it is answered as `UNKNOWN`, so
  the cycle unwinds instead of trusting a guess.
- `DELETE` is never retried; a cancel whose fate is unknown is settled by reading the order.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pydantic import SecretStr

from bot.domain.market import Book, Leg, OrderRequest, OrderState, OrderStatus
from bot.venues.base import VenueError, VenueHealth, VenueObserver
from bot.venues.http.transport import AmbiguousWrite, Clock, HttpPolicy, Reply, RestTransport, Sleep
from bot.venues.http.wire import WireBook, WireOrder, WirePrice, error_body, parse_reply, wire_decimal

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger("bot.venues")

_PLACE_ANSWERS = frozenset({400, 409, 422})  # read for a duplicate before they count as a refusal
_CANCEL_REFUSALS = frozenset({400, 404, 409, 422})  # the order is final already, or unknown
KNOWN_ORDERS = 10_000  # client -> venue order ids kept in memory (the journal keeps them all)


def utc_now() -> datetime:
    """The wall clock, timezone-aware UTC (order timestamps, books a venue did not stamp)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class WireFormat:
    """A venue's replies and what its errors and lookups allow (fixed per venue, not per market)."""

    book: type[WireBook]
    order: type[WireOrder]
    price: type[WirePrice] | None = None  # `{market_path}/price`, read when the book answers 404
    duplicate_codes: frozenset[str] = frozenset()  # upper-case error codes: "client order id taken"
    lookup: bool = False  # GET /orders?client_order_id=... finds an order by our id


@dataclass(frozen=True)
class Dialect:
    """What differs between REST venues: names, the market's path, the wire format, the order body.

    The book is `GET {market_path}/orderbook` (and `{market_path}/price` as its fallback when the
    format has a price model); orders live under `/orders`.
    """

    name: str  # the venue's name in books, errors and metric labels
    leg: Leg
    symbol: str  # market or contract code
    market_path: str
    wire: WireFormat
    order_body: Callable[[OrderRequest], dict[str, Any]]
    orders_path: str = "/orders"

    @property
    def book_path(self) -> str:
        return f"{self.market_path}/orderbook"

    @property
    def price_path(self) -> str | None:
        return f"{self.market_path}/price" if self.wire.price is not None else None


def order_fields(order: OrderRequest, instrument: tuple[str, str], **amounts: Decimal) -> dict[str, Any]:
    """The body fields every venue's order shares: the instrument, side, client order id and the
    `amounts` (quantity, limit price) under the venue's names, as plain decimal strings."""
    key, value = instrument
    fields: dict[str, Any] = {key: value, "side": order.side.value, "client_order_id": order.client_order_id}
    fields.update((name, wire_decimal(amount)) for name, amount in amounts.items())
    return fields


@dataclass(frozen=True)
class VenueOptions:
    """How a REST venue is run, beyond its settings: tests pass tiny timeouts and fake clocks."""

    policy: HttpPolicy = field(default_factory=HttpPolicy)
    observer: VenueObserver | None = None
    clock: Clock | None = None  # monotonic seconds: breaker cool-down and Retry-After
    sleep: Sleep | None = None  # the read retries' sleep
    now: Callable[[], datetime] = utc_now


@dataclass(frozen=True)
class _Duplicate:
    order_id: str | None  # the existing order, when the venue named it


class RestVenue:
    """A REST venue behind `Venue`: book, place, status, cancel, ping, close."""

    def __init__(
        self, dialect: Dialect, transport: RestTransport, *, book_size: Decimal, now: Callable[[], datetime]
    ) -> None:
        self.name = dialect.name
        self.leg: Leg = dialect.leg
        self.dialect = dialect
        self.transport = transport
        self._book_size = book_size
        self._now = now
        self._ids: OrderedDict[str, str] = OrderedDict()

    # -- market data -----------------------------------------------------------------------------

    async def book(self) -> Book:
        """The current book (retried reads); the last price as a one-level book where there is none."""
        return await self._book(attempts=None)

    async def ping(self) -> None:
        """One authenticated read of the book, not retried: what preflight and readiness call."""
        await self._book(attempts=1)

    async def _book(self, attempts: int | None) -> Book:
        d = self.dialect
        allow = frozenset({404}) if d.price_path else frozenset()
        book = await self.transport.read(
            "orderbook", d.book_path, self._read_book, allow=allow, attempts=attempts
        )
        if book is None:
            assert d.price_path is not None
            book = await self.transport.read("price", d.price_path, self._read_price, attempts=attempts)
        return book

    def _read_book(self, reply: Reply) -> Book | None:
        if reply.status == 404:
            return None
        wire = parse_reply(self.dialect.wire.book, reply.body, f"{self.name} order book")
        bids, asks = wire.sides()
        return Book(self.name, self.dialect.symbol, bids, asks, wire.timestamp or self._now())

    def _read_price(self, reply: Reply) -> Book:
        assert self.dialect.wire.price is not None
        wire = parse_reply(self.dialect.wire.price, reply.body, f"{self.name} price")
        bids, asks = wire.sides(self._book_size)
        return Book(self.name, self.dialect.symbol, bids, asks, wire.timestamp or self._now())

    # -- orders ----------------------------------------------------------------------------------

    async def place(self, order: OrderRequest) -> OrderState:
        """Send the order once; an order this venue already holds is read, not sent again."""
        cid = order.client_order_id
        if order.leg != self.leg:
            raise VenueError(
                f"{self.name} trades the {self.leg} leg; order {cid} is for {order.leg}", kind="rejected"
            )
        known = self._ids.get(cid)
        if known is not None:
            return await self._read_existing(cid, known)
        try:
            answer = await self.transport.write(
                "place",
                "POST",
                self.dialect.orders_path,
                lambda reply: self._read_placed(cid, reply),
                body=self.dialect.order_body(order),
                allow=_PLACE_ANSWERS,
            )
        except AmbiguousWrite as exc:
            return await self._settle_unknown_place(cid, exc)
        except VenueError as exc:
            if exc.kind != "malformed":
                raise
            return await self._settle_unknown_place(cid, exc)  # accepted (2xx), but unreadable
        if isinstance(answer, _Duplicate):
            return await self._existing(cid, answer.order_id)
        return self._remember(answer)

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """The order's state, by the venue order id given, learnt from `place()`, or looked up."""
        order_id = venue_order_id or self._ids.get(client_order_id)
        if order_id is None:
            found = await self._lookup(client_order_id) if self.dialect.wire.lookup else None
            if found is None:
                raise VenueError(
                    f"{self.name} order {client_order_id}: its venue order id is not known here; "
                    "pass the journalled venue_order_id",
                    kind="not_found",
                )
            return found
        state = await self.transport.read(
            "status", self._order_path(order_id), lambda reply: self._read_order(client_order_id, reply)
        )
        return self._remember(state)

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """Cancel what is left (sent once); a refused or unanswered cancel is settled by a read."""
        order_id = venue_order_id or self._ids.get(client_order_id)
        if order_id is None:
            current = await self.status(client_order_id)
            if current.status.is_final or current.venue_order_id is None:
                return current
            order_id = current.venue_order_id
        try:
            answer = await self.transport.write(
                "cancel",
                "DELETE",
                self._order_path(order_id),
                lambda reply: (
                    None if reply.status in _CANCEL_REFUSALS else self._read_order(client_order_id, reply)
                ),
                allow=_CANCEL_REFUSALS,
            )
        except AmbiguousWrite as exc:
            state = await self.status(client_order_id, order_id)
            if state.status.is_final:
                return state
            raise VenueError(f"{exc}; the order is still {state.status.value}", kind=exc.kind) from None
        if answer is None:  # refused: most often the order filled or was cancelled meanwhile
            return await self.status(client_order_id, order_id)
        return self._remember(answer)

    async def close(self) -> None:
        """Close the venue's connections."""
        await self.transport.close()

    def health(self) -> VenueHealth:
        """The last request's outcome and latency and the breaker's state; sends nothing."""
        return self.transport.last.health(self.name, self.leg, self.transport.breaker.state)

    # -- reading order replies -------------------------------------------------------------------

    def _read_order(self, cid: str, reply: Reply) -> OrderState:
        return parse_reply(self.dialect.wire.order, reply.body, f"{self.name} order {cid}").state(cid)

    def _read_placed(self, cid: str, reply: Reply) -> OrderState | _Duplicate:
        if 200 <= reply.status < 300:
            return self._read_order(cid, reply)
        error = error_body(reply.body)
        if reply.status == 409 or error.error_code.upper() in self.dialect.wire.duplicate_codes:
            return _Duplicate(error.existing_order_id)
        detail = self.transport.masked(f"{error.error_code}: {error.message or ''}".strip(": "))
        raise VenueError(
            f"{self.name} refused order {cid}: HTTP {reply.status}" + (f" ({detail})" if detail else ""),
            kind="rejected",
        )

    async def _existing(self, cid: str, order_id: str | None) -> OrderState:
        """The order already holding `cid` (a duplicate answer): read it, never send another."""
        order_id = order_id or self._ids.get(cid)
        if order_id is not None:
            return await self._read_existing(cid, order_id)
        try:
            found = await self._lookup(cid) if self.dialect.wire.lookup else None
        except VenueError as exc:
            return OrderState(
                cid, OrderStatus.UNKNOWN, reason=f"the venue holds order {cid}; reading it failed: {exc}"
            )
        if found is not None:
            return found
        reason = (
            f"{self.name} already holds client order id {cid} but did not say which order; check it there"
        )
        return OrderState(cid, OrderStatus.UNKNOWN, reason=reason)

    async def _read_existing(self, cid: str, order_id: str) -> OrderState:
        """An order the venue holds: its state, or UNKNOWN (never an error: it exists) if unreadable."""
        try:
            return await self.status(cid, order_id)
        except VenueError as exc:
            reason = f"the venue holds order {cid}; reading it failed: {exc}"
            return OrderState(cid, OrderStatus.UNKNOWN, venue_order_id=order_id, reason=reason)

    async def _settle_unknown_place(self, cid: str, exc: VenueError) -> OrderState:
        """A POST with no clear answer (none, a 5xx, an unreadable 2xx): look the order up where
        the venue allows, else UNKNOWN."""
        if not self.dialect.wire.lookup:
            reason = (
                f"{exc}; {self.name} cannot be asked by client order id, so the order may or may not exist"
            )
            return OrderState(cid, OrderStatus.UNKNOWN, reason=reason)
        try:
            found = await self._lookup(cid)
        except VenueError as lookup_error:
            log.warning(
                "%s: looking up order %s after an unclear POST failed: %s", self.name, cid, lookup_error
            )
            found = None
        if found is not None:
            return found
        reason = f"{exc}; the venue did not show the order when asked by client order id"
        return OrderState(cid, OrderStatus.UNKNOWN, reason=reason)

    async def _lookup(self, cid: str) -> OrderState | None:
        """The venue's order holding client order id `cid`, or None when it has none."""
        state = await self.transport.read(
            "lookup",
            self.dialect.orders_path,
            lambda reply: self._read_lookup(cid, reply),
            params={"client_order_id": cid},
            allow=frozenset({404}),
        )
        return self._remember(state) if state is not None else None

    def _read_lookup(self, cid: str, reply: Reply) -> OrderState | None:
        body = reply.body
        if reply.status == 404:
            return None
        if isinstance(body, list):  # a list of matching orders: there is at most one per client id
            if not body:
                return None
            body = body[0]
        return self._read_order(cid, Reply(reply.status, body))

    def _remember(self, state: OrderState) -> OrderState:
        if state.venue_order_id:
            self._ids[state.client_order_id] = state.venue_order_id
            self._ids.move_to_end(state.client_order_id)
            while len(self._ids) > KNOWN_ORDERS:
                self._ids.popitem(last=False)
        return state

    def _order_path(self, order_id: str) -> str:
        return f"{self.dialect.orders_path}/{quote(order_id, safe='')}"

    def __repr__(self) -> str:
        return f"RestVenue(name={self.name!r}, symbol={self.dialect.symbol!r}, orders={len(self._ids)})"


def required(settings: Settings, *names: str) -> list[str]:
    """The values of the named settings (secrets revealed for the wire); ValueError naming each unset."""
    values: list[str] = []
    missing: list[str] = []
    for name in names:
        value = getattr(settings, name.lower())
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if value in (None, ""):
            missing.append(name)
        values.append(str(value) if value is not None else "")
    if missing:
        raise ValueError(f"set {', '.join(missing)} to use this venue")
    return values


def open_rest_venue(
    dialect: Dialect,
    base_url: str,
    headers: Mapping[str, str],
    *,
    secrets: Iterable[str],
    book_size: Decimal,
    options: VenueOptions | None = None,
) -> RestVenue:
    """A `RestVenue` over a new transport (the pool opens on first use, not here)."""
    options = options or VenueOptions()
    extra: dict[str, Any] = {}
    if options.clock is not None:
        extra["clock"] = options.clock
    if options.sleep is not None:
        extra["sleep"] = options.sleep
    transport = RestTransport(
        dialect.name,
        base_url,
        headers,
        secrets=secrets,
        policy=options.policy,
        observer=options.observer,
        **extra,
    )
    return RestVenue(dialect, transport, book_size=book_size, now=options.now)
