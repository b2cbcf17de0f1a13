"""The replay's venues: the recorded books, and orders filled against them as the simulator fills.

`ReplayMarket` holds both legs' recorded books (`LegBook`) and the virtual clock. Orders walk a
working copy of the recorded levels with the simulator's own execution model (`walk_book`: depth
up to the limit price, SLIPPAGE_BP against the order, immediate or cancel), so what one order
takes is gone for the next order of the same change, as at the simulated venue within a tick. The
next recorded change starts from the recorded depth again. A book is stamped with the virtual
time: a recorded book stands until the recording says it changed. EXEC_LATENCY_MS moves the
virtual clock on before an order reaches its book, and the order meets the book the recording
shows at that later time (the runner reads ahead for it), as the simulated venue's order meets the
tick its latency brings.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.domain.market import BASIS_POINTS_PER_UNIT, Book, Leg, Level, OrderRequest, OrderState, Side
from bot.replay.books import LegBook
from bot.replay.ticks import LEGS, to_us
from bot.venues.base import VenueError
from bot.venues.sim_venue import fill_state
from bot.venues.simulated import walk_book

if TYPE_CHECKING:
    from bot.config import Settings

SYMBOLS: dict[Leg, str] = {"power": "REPLAY-POWER", "futures": "REPLAY-FUTURES"}


class VirtualClock:
    """The replay's time: set by the runner to each change's timestamp; sleeping moves it on."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    async def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


class ReplayMarket:
    """Both legs' recorded books and the working copies this change's orders consume."""

    def __init__(
        self, clock: VirtualClock, *, slippage_bp: Decimal, use_depth: bool, exec_latency_ms: int = 0
    ) -> None:
        self.clock = clock
        self.legs: dict[Leg, LegBook] = {"power": LegBook(), "futures": LegBook()}
        self.by_code = (self.legs["power"], self.legs["futures"])
        # no depth, no slippage: as the simulated market (USE_DEPTH_SIM=0)
        self.slip = slippage_bp / BASIS_POINTS_PER_UNIT if use_depth else Decimal(0)
        self.latency_s = exec_latency_ms / 1000
        self.change = 0  # bumped by the runner after each change: working copies start afresh
        self.change_at: datetime | None = None  # the time of the change being traded
        # the leg's book at a later time (the runner reads ahead); None: the current book only
        self.later: Callable[[int, int], LegBook] | None = None
        self._working: dict[Leg, tuple[int, datetime, list[Level], list[Level]]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, clock: VirtualClock) -> ReplayMarket:
        return cls(
            clock,
            slippage_bp=settings.slippage_bp,
            use_depth=settings.use_depth_sim,
            exec_latency_ms=settings.exec_latency_ms,
        )

    def working(self, leg: Leg) -> tuple[list[Level], list[Level]]:
        """`leg`'s bids and asks at the clock's time, less what this change's orders took there.

        At the change's own time that is the recorded book; once EXEC_LATENCY_MS has moved the
        clock on, it is the book the recording shows at that later time.
        """
        now = self.clock()
        held = self._working.get(leg)
        if held is None or held[0] != self.change or held[1] != now:
            book = self.legs[leg]
            if self.later is not None and self.change_at is not None and now > self.change_at:
                book = self.later(LEGS.index(leg), to_us(now))
            held = (self.change, now, book.levels(0), book.levels(1))
            self._working[leg] = held
        return held[2], held[3]

    def book(self, leg: Leg, venue: str) -> Book:
        bids, asks = self.working(leg)
        return Book(venue, SYMBOLS[leg], tuple(bids), tuple(asks), self.clock())


class ReplayVenue:
    """One leg's venue over the recorded books; orders kept by client order id (idempotent)."""

    def __init__(self, market: ReplayMarket, leg: Leg) -> None:
        self.market = market
        self.leg: Leg = leg
        self.name = f"replay-{leg}"
        self._orders: dict[str, OrderState] = {}

    async def book(self) -> Book:
        return self.market.book(self.leg, self.name)

    async def place(self, order: OrderRequest) -> OrderState:
        existing = self._orders.get(order.client_order_id)
        if existing is not None:
            return existing
        if order.leg != self.leg:
            raise VenueError(f"{self.name} trades the {self.leg} leg; order {order.client_order_id} is not")
        if self.market.latency_s:  # the order travels: it meets the book of that later time
            await self.market.clock.sleep(self.market.latency_s)
        bids, asks = self.market.working(self.leg)
        levels = asks if order.side is Side.BUY else bids
        fill = (
            walk_book(levels, order.side, order.quantity, order.limit_price, self.market.slip)
            if order.quantity > 0
            else None
        )
        state = fill_state(order, fill, f"{self.name}-{len(self._orders) + 1}")
        self._orders[order.client_order_id] = state
        return state

    async def status(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        state = self._orders.get(client_order_id)
        if state is None:
            raise VenueError(f"{self.name} has no order {client_order_id}", kind="not_found")
        return state

    async def cancel(self, client_order_id: str, venue_order_id: str | None = None) -> OrderState:
        """Replay orders are immediate or cancel: already final."""
        return await self.status(client_order_id)

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def __repr__(self) -> str:
        return f"ReplayVenue({self.leg}, orders={len(self._orders)})"
