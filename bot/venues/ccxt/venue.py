"""A ccxt exchange behind `Venue`: one symbol's book (streamed or polled) and its limit orders.

- Markets load once, on first use; every order goes out on the exchange's amount step and price
  grid and is refused with a `rejected` error before sending when below its minimums.
- Our client order id is the exchange's (binance `newClientOrderId`; found again by
  `origClientOrderId`). `place()` is never retried: when its outcome is unknown (timeout, dropped
  connection, 5xx) the order is looked up by that id; a duplicate id is answered by the order
  that holds it.
- Reads (books, markets, status, cancel) are retried with backoff and jitter (`retry.py`). A rate
  limit's `Retry-After` is obeyed: until it has passed, calls fail locally without being sent.
- Every call goes through the REST venues' circuit breaker (`bot/venues/http/breaker.py`): after
  its threshold of consecutive failures calls fail fast with `venue_unavailable`, unsent, until a
  probe after the cool-down succeeds.
- `books()` yields each change of the book: ccxt.pro's `watch_order_book` where the exchange has
  it and streaming is on, `fetch_order_book` polling otherwise. `book()` answers from that feed
  while it is healthy, from REST otherwise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from bot.domain.market import Book, Leg, OrderRequest, OrderState, OrderStatus
from bot.venues.base import LastCall, VenueError, VenueHealth, VenueObserver
from bot.venues.ccxt.errors import OUTCOME_UNKNOWN_KINDS, is_duplicate_order, request_never_sent, venue_error
from bot.venues.ccxt.exchange import CLIENT_ID_PARAMS, ClientIdParams
from bot.venues.ccxt.retry import RetryPolicy
from bot.venues.ccxt.wire import order_terms, to_book, to_order_state
from bot.venues.http.breaker import CircuitBreaker
from bot.venues.http.transport import VENUE_TROUBLE

log = logging.getLogger(__name__)
T = TypeVar("T")
_TRANSPORT_KINDS = frozenset({"timeout", "unreachable", "server_error"})
# Outcomes that count against the breaker: the REST venues' set, plus the exchange's own 503
# (ccxt maps it to `venue_unavailable`; our breaker's refusals are never counted, nothing was sent).
_BREAKER_FAILURES = VENUE_TROUBLE | {"venue_unavailable"}


class CcxtVenue:
    """One symbol of one ccxt exchange as a `Venue` (the futures leg by default)."""

    def __init__(
        self,
        exchange: Any,
        symbol: str,
        *,
        leg: Leg = "futures",
        book_levels: int = 5,
        poll_interval_s: float = 1.0,
        retry: RetryPolicy | None = None,
        observer: VenueObserver | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        breaker: CircuitBreaker | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.leg: Leg = leg
        self.name = f"ccxt-{exchange.id}"
        self.book_levels = book_levels
        self.poll_interval_s = poll_interval_s
        self.retry = retry or RetryPolicy()
        self.ids: ClientIdParams = CLIENT_ID_PARAMS.get(exchange.id, ClientIdParams())
        self.streams = bool(exchange.has.get("watchOrderBook")) and hasattr(exchange, "watch_order_book")
        self._observer = observer
        self._last = LastCall()  # what `health()` reports
        self._clock = clock
        self._monotonic = monotonic  # the breaker's cool-down and Retry-After
        self.breaker = breaker or CircuitBreaker(self.name, clock=monotonic)
        self._market: dict[str, Any] | None = None
        self._market_lock = asyncio.Lock()
        self._venue_ids: dict[str, str | None] = {}  # client id -> venue id, for every order sent
        self._unconfirmed: set[str] = set()  # sent, outcome unknown, not yet seen at the venue
        self._quiet_until = 0.0  # monotonic time before which a rate limit forbids calls
        self._latest: Book | None = None
        self._feed_ok = False  # a books() feed is running and its last read succeeded
        self._watched_nonce: Any = None  # update id of the streamed book last handed out
        self._closing = asyncio.Event()

    # -- calls ---------------------------------------------------------------------------------

    async def _call(self, endpoint: str, call: Callable[[], Awaitable[T]]) -> T:
        """One request through the breaker, its error mapped to a `VenueError`, the observer told."""
        try:
            self._check_quiet(endpoint)
            self.breaker.before_call()
        except VenueError as exc:
            self._observe(endpoint, time.monotonic(), exc.kind)
            raise
        started = time.monotonic()
        try:
            result = await call()
        except VenueError as exc:
            self._settle(endpoint, started, exc.kind)
            raise
        except Exception as exc:
            error = venue_error(exc, venue=self.name, action=endpoint)
            self._settle(endpoint, started, error.kind)
            if error.kind == "rate_limited" and error.retry_after:
                self._quiet_until = max(self._quiet_until, self._monotonic() + error.retry_after)
            raise error from exc
        except BaseException:  # cancelled: neither a success nor a failure of the venue
            self.breaker.abandon_probe()
            raise
        self._settle(endpoint, started, "ok")
        return result

    def _check_quiet(self, endpoint: str) -> None:
        """Before a rate limit's `Retry-After` has passed, send nothing."""
        left = self._quiet_until - self._monotonic()
        if left > 0:
            raise VenueError(
                f"{self.name} {endpoint} not sent: the venue rate-limited us; {left:.1f} s left",
                kind="rate_limited",
                retry_after=left,
            )

    def _settle(self, endpoint: str, started: float, outcome: str) -> None:
        """Count the outcome for the breaker (an answer, even a refusal, closes it) and observe it."""
        if outcome in _BREAKER_FAILURES:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()
        self._observe(endpoint, started, outcome)

    async def _read(self, endpoint: str, call: Callable[[], Awaitable[T]]) -> T:
        """A call that is safe to repeat, retried per the policy."""
        return await self.retry.run(lambda: self._call(endpoint, call))

    def _observe(self, endpoint: str, started: float, outcome: str) -> None:
        seconds = time.monotonic() - started
        self._last.note(seconds, outcome)
        if self._observer is not None:
            self._observer(self.name, endpoint, seconds, outcome)

    def health(self) -> VenueHealth:
        """The last request's outcome and latency and the breaker's state; sends nothing."""
        return self._last.health(self.name, self.leg, self.breaker.state)

    async def market(self) -> dict[str, Any]:
        """The symbol's market, loading the exchange's markets once (a failed load is tried again)."""
        if self._market is not None:
            return self._market
        async with self._market_lock:
            if self._market is None:
                markets = await self._read("load_markets", self.exchange.load_markets)
                if self.symbol not in markets:
                    raise VenueError(
                        f"LIVE_SYMBOL={self.symbol} is not a market of {self.exchange.id} "
                        f"({len(markets)} markets loaded); use its unified symbol, e.g. BTC/USDT",
                        kind="not_found",
                    )
                self._market = markets[self.symbol]
        return self._market

    # -- books ---------------------------------------------------------------------------------

    async def _fetch_book(self) -> Book:
        await self.market()
        raw = await self._read(
            "fetch_order_book", lambda: self.exchange.fetch_order_book(self.symbol, self.book_levels)
        )
        return self._to_book(raw)

    def _held_book(self) -> Any:
        """ccxt.pro's synced book: it applies every diff, awaited or not."""
        orderbooks = getattr(self.exchange, "orderbooks", None)
        return orderbooks.get(self.symbol) if isinstance(orderbooks, dict) else None

    async def _watch_book(self) -> Book:
        await self.market()
        held = self._held_book()
        if held is not None and held.get("nonce") is not None and held.get("nonce") != self._watched_nonce:
            raw = held  # changed while our consumer was busy: a new watch would wait for the next diff
        else:
            # No limit: ccxt syncs a full snapshot with the diff stream; we keep `book_levels` of it.
            raw = await self._call("watch_order_book", lambda: self.exchange.watch_order_book(self.symbol))
        self._watched_nonce = raw.get("nonce")
        return self._to_book(raw)

    def _to_book(self, raw: Any) -> Book:
        book = to_book(
            raw, venue=self.name, symbol=self.symbol, depth=self.book_levels, received_at=self._clock()
        )
        self._latest = book
        return book

    async def book(self) -> Book:
        """The latest book from a healthy `books()` feed, else one read over REST."""
        if self._feed_ok and self._latest is not None:
            held = self._held_book() if self.streams else None
            return self._to_book(held) if held is not None else self._latest
        return await self._fetch_book()

    @property
    def latest(self) -> Book | None:
        """The last book read (streamed or fetched), without a request; None before the first."""
        return self._latest

    async def books(self) -> AsyncIterator[Book]:
        """Each change of the book until `close()`: streamed where possible, else polled.

        A failed read is logged and retried after a backoff with jitter; while it fails `book()`
        falls back to REST. The first book is yielded as soon as it is had.
        """
        last: Book | None = None
        failures = 0
        while not self._closing.is_set():
            try:
                if self.streams:
                    book = await self._watch_book()
                else:
                    if last is not None:
                        await self._pause(self.poll_interval_s)
                        if self._closing.is_set():
                            return
                    book = await self._fetch_book()
            except VenueError as exc:
                if self._closing.is_set():
                    return
                self._feed_ok = False
                failures += 1
                log.warning("%s book feed failed (%d in a row): %s", self.name, failures, exc)
                await self._pause(self.retry.pause(failures))
                continue
            failures = 0
            self._feed_ok = True
            if last is None or book.bids != last.bids or book.asks != last.asks:
                last = book
                yield book
        self._feed_ok = False

    def book_changes(self) -> AsyncIterator[Book]:
        """`BookStream`: what `books()` yields, so the trading loop evaluates on each change."""
        return self.books()

    async def _pause(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._closing.wait(), timeout=seconds)
        except TimeoutError:
            pass

    # -- orders --------------------------------------------------------------------------------

    def _lookup_params(self, client_order_id: str) -> dict[str, str]:
        return {self.ids.lookup: client_order_id}

    async def place(self, order: OrderRequest) -> OrderState:
        """Send a limit order once; the same client id again answers with that order's state."""
        cid = order.client_order_id
        if order.leg != self.leg:
            raise VenueError(
                f"{self.name} trades the {self.leg} leg; order {cid} is for {order.leg}", kind="rejected"
            )
        if cid in self._venue_ids:
            return await self.status(cid)
        market = await self.market()
        terms = order_terms(self.exchange, market, order)
        side = order.side.value.lower()
        params = {self.ids.place: cid}
        self._venue_ids[cid] = None
        try:
            raw = await self._call(
                "create_order",
                lambda: self.exchange.create_order(
                    self.symbol, "limit", side, terms.amount, terms.price, params
                ),
            )
        except VenueError as exc:
            if is_duplicate_order(exc):
                log.info("%s already holds client order id %s; reading that order", self.name, cid)
                return await self.status(cid)
            if exc.kind in OUTCOME_UNKNOWN_KINDS and not request_never_sent(exc.__cause__):
                return await self._resolve_unknown(cid, exc)
            del self._venue_ids[cid]  # certainly not placed: a later place() may send it
            raise
        state = to_order_state(raw, cid)
        self._venue_ids[cid] = state.venue_order_id
        return state

    async def _resolve_unknown(self, cid: str, error: VenueError) -> OrderState:
        """After an order call with no clear answer: the order as the venue has it, or NEW."""
        log.warning("%s: outcome of order %s unknown (%s); looking it up by client id", self.name, cid, error)
        self._unconfirmed.add(cid)
        try:
            state = await self.status(cid)
        except VenueError as lookup:
            reason = f"placement unconfirmed after {error.kind}; lookup failed: {lookup.kind}"
        else:
            if state.status is not OrderStatus.NEW:
                return state
            reason = f"placement unconfirmed after {error.kind}; not seen at the venue yet"
        log.warning("%s: order %s %s", self.name, cid, reason)
        return OrderState(cid, OrderStatus.NEW, reason=reason)

    async def _fetch_order(
        self, cid: str, venue_order_id: str | None, endpoint: str = "fetch_order"
    ) -> OrderState:
        await self.market()
        vid = venue_order_id or self._venue_ids.get(cid) or ""
        fetch = self.exchange.cancel_order if endpoint == "cancel_order" else self.exchange.fetch_order
        raw = await self._read(endpoint, lambda: fetch(vid, self.symbol, self._lookup_params(cid)))
        state = to_order_state(raw, cid)
        self._unconfirmed.discard(cid)
        self._venue_ids[cid] = state.venue_order_id
        return state

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """The order's state, found by our client id (NEW while a sent order is not yet seen)."""
        try:
            return await self._fetch_order(client_order_id, venue_order_id)
        except VenueError as exc:
            if exc.kind == "not_found" and client_order_id in self._unconfirmed:
                return OrderState(client_order_id, OrderStatus.NEW, reason="sent; not yet seen at the venue")
            raise

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """Cancel what is left; an order already final (binance: "Unknown order sent.") is read instead."""
        cid = client_order_id
        try:
            return await self._fetch_order(cid, venue_order_id, endpoint="cancel_order")
        except VenueError as exc:
            if exc.kind not in ("not_found", "rejected"):
                raise
            refused = exc
        try:
            state = await self._fetch_order(cid, venue_order_id)
        except VenueError as exc:
            if exc.kind == "not_found" and cid in self._unconfirmed:
                self._unconfirmed.discard(cid)
                return OrderState(
                    cid, OrderStatus.REJECTED, reason="never reached the venue; cancelled locally"
                )
            raise
        if state.status.is_final:
            return state
        raise refused

    # -- lifecycle -----------------------------------------------------------------------------

    async def ping(self) -> None:
        """Load the markets if needed and ask the exchange's time (or book): raises when unreachable."""
        await self.market()
        if self.exchange.has.get("fetchTime"):
            await self._read("fetch_time", self.exchange.fetch_time)
        else:
            await self._fetch_book()

    async def close(self) -> None:
        """Stop the book feed and close the exchange's HTTP session and websockets."""
        self._closing.set()
        self._feed_ok = False
        # ccxt 4.5 closes the HTTP session only when told to clean the instance as well.
        await self.exchange.close(clean_instance_data=True)
