"""One leg's simulated venue over the shared `SimulatedMarket`: its orders, by client order id.

Execution is the market's (`SimulatedMarket.take`); this module keeps each order's state, rests
orders under `SIM_REST_MS`, writes every answer to the market's ledger (`sim_ledger`) before the
bot hears it, reads that ledger back after a restart, and runs the `SIM_KILL_AT` restart drill.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from bot.domain.market import Book, Leg, OrderRequest, OrderState, OrderStatus
from bot.markets.faults import ScopedFaults
from bot.venues.base import LastCall, VenueError, VenueHealth, VenueObserver

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from bot.markets.changes import Subscription
    from bot.venues.simulated import Fill, SimulatedMarket

_MILLI = Decimal("0.001")  # 1 kWh: the finest quantity a partial fill leaves
_ZERO = Decimal(0)
log = logging.getLogger("bot.venues")

P = ParamSpec("P")
R = TypeVar("R")
V = TypeVar("V", bound="_SimulatedVenue")


def _observed(
    endpoint: str,
) -> Callable[[Callable[Concatenate[V, P], Awaitable[R]]], Callable[Concatenate[V, P], Awaitable[R]]]:
    """Report each call to the venue's observer, as the live adapters do (so the sim shows the series)."""

    def wrap(call: Callable[Concatenate[V, P], Awaitable[R]]) -> Callable[Concatenate[V, P], Awaitable[R]]:
        @functools.wraps(call)
        async def observed(self: V, *args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                result = await call(self, *args, **kwargs)
            except VenueError as exc:
                self._observe(endpoint, started, exc.kind)
                raise
            self._observe(endpoint, started, "ok")
            return result

        return observed

    return wrap


class _SimulatedVenue:
    """One leg's venue over the shared market: orders kept by client order id."""

    name: str
    leg: Leg

    def __init__(self, market: SimulatedMarket) -> None:
        self.market = market
        self.name = market.names[self.leg]
        self.faults: ScopedFaults = market.faults.scoped(self.leg)
        self._orders: dict[str, OrderState] = {}
        self._requests: dict[str, OrderRequest] = {}
        self._resting: dict[str, tuple[OrderRequest, datetime]] = {}  # SIM_REST_MS: matched when due
        self._seq = 0
        self._closed = False
        self._reject_fault = f"{self.leg}_reject"
        self._restored = market.ledger is None
        self._streams: set[Subscription] = set()  # readers of book_changes(), woken by close()
        self.observer: VenueObserver | None = None  # set by the composition root, like a live venue's
        self._last = LastCall()

    def _observe(self, endpoint: str, started: float, outcome: str) -> None:
        seconds = time.perf_counter() - started
        self._last.note(seconds, outcome)
        if self.observer is None:
            return
        try:
            self.observer(self.name, endpoint, seconds, outcome)
        except Exception:  # a metrics hook must never break trading
            log.exception("venue observer failed for %s %s", self.name, endpoint)

    def health(self) -> VenueHealth:
        """The last call's outcome and latency; the simulated venues have no breaker ("none")."""
        return self._last.health(self.name, self.leg, "none")

    @_observed("orderbook")
    async def book(self) -> Book:
        """The leg's current book."""
        self._check_open()
        return self.market.book(self.leg)

    @_observed("place")
    async def place(self, order: OrderRequest) -> OrderState:
        """Execute a marketable limit order (immediate-or-cancel, or resting first under SIM_REST_MS).

        Idempotent by client order id, across restarts too when the market keeps a ledger.
        """
        self._check_open()
        self._restore()
        self._drill(order.client_order_id, "before")
        if self.market.exec_latency_s:
            await asyncio.sleep(self.market.exec_latency_s)
        existing = self._orders.get(order.client_order_id)
        if existing is not None:
            return existing
        if order.leg != self.leg:
            raise VenueError(
                f"{self.name} trades the {self.leg} leg; order {order.client_order_id} is for {order.leg}"
            )
        if type(order.quantity) is not Decimal or type(order.limit_price) is not Decimal:
            raise TypeError("order quantity and limit price must be Decimal")
        self._seq += 1
        venue_id = f"{self.name}-{self._seq}"
        state = self._execute(order, venue_id)
        self._record(order, state)
        return state

    async def book_changes(self) -> AsyncIterator[Book]:
        """`BookStream`: the leg's book at each new tick of the market, until the venue closes.

        The market's clock drives it: when nothing else moved the market by the next tick's time,
        the stream moves it. Ticks not read yet coalesce (a slow reader gets the latest book). The
        depth our own fills take shows in the next `book()`, without a change of its own.
        """
        market = self.market
        with market.changes.subscribe() as changes:
            self._streams.add(changes)
            try:
                while not self._closed:
                    if not await changes.wait(market.seconds_to_next_tick()):
                        market.refresh()  # publishes when the tick is due: the next wait returns at once
                    elif not self._closed:
                        yield market.snapshot(self.leg)
            finally:
                self._streams.discard(changes)

    def _record(self, order: OrderRequest, state: OrderState) -> None:
        """Keep the order's new state, write it to the ledger, then run the drill's `after` kill."""
        self._orders[order.client_order_id] = state
        self._requests[order.client_order_id] = order
        if self.market.ledger is not None:
            self.market.ledger.append(self.name, order, state)
        if state.status.is_final:
            self._drill(order.client_order_id, "after")

    def _drill(self, client_order_id: str, moment: str) -> None:
        """SIM_KILL_AT: SIGKILL this process at the order's boundary (restart drills only)."""
        kill = self.market.kill_at
        if kill is not None and kill.matches(client_order_id, moment):
            os.write(2, f"SIM_KILL_AT {kill.order}:{moment}: killing pid {os.getpid()}\n".encode())
            os.kill(os.getpid(), signal.SIGKILL)

    def _restore(self) -> None:
        """Read back, once, the orders this venue answered for before a restart (from its ledger)."""
        if self._restored:
            return
        self._restored = True
        assert self.market.ledger is not None
        for cid, entry in self.market.ledger.entries(self.name).items():
            self._orders[cid] = entry.state
            self._requests[cid] = entry.order
        self._seq = len(self._orders)

    def _execute(self, order: OrderRequest, venue_id: str) -> OrderState:
        cid = order.client_order_id
        if order.quantity <= 0:
            reason = "quantity must be positive"
            return OrderState(cid, OrderStatus.REJECTED, venue_order_id=venue_id, reason=reason)
        faults = self.market.faults
        leg = self.leg
        if faults.trips(self._reject_fault, leg=leg):
            reason = f"rejected by {self.name} (simulated fault {self._reject_fault})"
            return OrderState(cid, OrderStatus.REJECTED, venue_order_id=venue_id, reason=reason)
        if faults.trips("order_timeout", leg=leg):
            # Accepted but never matched: it rests until cancelled (simulated fault order_timeout).
            return OrderState(cid, OrderStatus.OPEN, venue_order_id=venue_id)
        if self.market.rest:
            self._resting[cid] = (order, self.market.clock() + self.market.rest)
            return OrderState(cid, OrderStatus.OPEN, venue_order_id=venue_id)
        return self._match(order, venue_id)

    def _match(self, order: OrderRequest, venue_id: str) -> OrderState:
        wanted = order.quantity
        partial = self.market.faults.trips("partial_fill", leg=self.leg)
        if partial:
            wanted = (wanted / 2).quantize(_MILLI, rounding=ROUND_DOWN)
        fill = self.market.take(self.leg, order.side, wanted, order.limit_price) if wanted else None
        return fill_state(order, fill, venue_id, "simulated fault partial_fill" if partial else None)

    @_observed("status")
    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """The order's current state; `VenueError` for an id this venue never saw."""
        self._restore()
        resting = self._resting.get(client_order_id)
        if resting is not None and self.market.clock() >= resting[1]:
            del self._resting[client_order_id]
            venue_id = self._orders[client_order_id].venue_order_id or ""
            self._record(resting[0], self._match(resting[0], venue_id))
        state = self._orders.get(client_order_id)
        if state is None:
            raise VenueError(f"{self.name} has no order {client_order_id}")
        return state

    @_observed("cancel")
    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """Cancel a resting order; a final order is returned as it is."""
        state = await self.status(client_order_id)
        if state.status.is_final:
            return state
        self._resting.pop(client_order_id, None)
        cancelled = OrderState(
            client_order_id,
            OrderStatus.CANCELLED,
            state.filled_quantity,
            state.average_price,
            state.venue_order_id,
            "cancelled by client",
        )
        self._record(self._requests[client_order_id], cancelled)
        return cancelled

    @_observed("ping")
    async def ping(self) -> None:
        """The simulated venue is always reachable until closed."""
        self._check_open()

    async def close(self) -> None:
        """Stop serving: later calls raise `VenueError`."""
        self._closed = True
        for stream in tuple(self._streams):
            stream.wake()
        if self.market.ledger is not None:
            self.market.ledger.close()

    def open_orders(self) -> list[OrderState]:
        """Orders still resting (the `order_timeout` fault, or SIM_REST_MS before they are due)."""
        return [s for s in self._orders.values() if not s.status.is_final]

    def _check_open(self) -> None:
        if self._closed:
            raise VenueError(f"{self.name} is closed", kind="venue_unavailable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, orders={len(self._orders)})"


def fill_state(order: OrderRequest, fill: Fill | None, venue_id: str, cause: str | None = None) -> OrderState:
    """An immediate-or-cancel order's state after `fill`: FILLED, or CANCELLED with what did fill."""
    cid = order.client_order_id
    filled = fill.quantity if fill else _ZERO
    average = fill.average_price if fill else None
    if filled == order.quantity:
        return OrderState(cid, OrderStatus.FILLED, filled, average, venue_id)
    cause = cause or _CAUSE[fill.stopped_by if fill else "depth"]
    reason = f"filled {filled} of {order.quantity} MWh ({cause}); the rest is cancelled"
    return OrderState(cid, OrderStatus.CANCELLED, filled, average, venue_id, reason)


_CAUSE = {
    "depth": "book depth ran out",
    "limit": "no more depth within the limit price",
    "filled": "filled",
}


class SimulatedPowerVenue(_SimulatedVenue):
    """The simulated power leg (`sim-power`): buy power at the ask; sell it back to unwind."""

    leg: Leg = "power"


class SimulatedFuturesVenue(_SimulatedVenue):
    """The simulated futures leg (`sim-futures`): sell futures at the bid; buy back to unwind."""

    leg: Leg = "futures"
