"""Simulated power and futures venues over one shared simulated market (the default venues).

`SimulatedMarket` holds the price model and both order books. Its clock is injectable (a callable
returning timezone-aware UTC datetimes; real time by default) and the market moves on a grid of
`tick_ms`: within one tick the books stay put, so a fill consumes depth that the next book read
shows, until the next tick redraws the books around the new mids. Each new tick is published to the
market's subscribers (`changes`): the venues' `book_changes()` stream, which the trading loop
evaluates on at once, as it does a live venue's streamed book.

Execution: a marketable limit order walks the book up to its limit price, immediate-or-cancel —
it ends FILLED, or CANCELLED with what did fill (a partial fill: depth ran out, the limit was
reached, or the `partial_fill` fault fired). `SLIPPAGE_BP` moves each fill price against the
order; `EXEC_LATENCY_MS` is slept before each order reaches the book. Placing the same
`client_order_id` twice returns the first order's state and never fills twice.

`SIM_REST_MS` makes every order rest on the book that long (market clock) before it is matched,
as a real venue's resting order: `place()` answers OPEN, a later `status()` the fill. With
`SIM_LEDGER=1` the venues write each answer to a ledger in DATA_DIR (`sim_ledger`) and, after a
restart, answer for the orders it holds; `SIM_KILL_AT` is the restart drill's SIGKILL.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

from bot.domain.market import (
    BASIS_POINTS_PER_UNIT,
    Book,
    Leg,
    Level,
    Side,
)
from bot.markets.changes import ChangeFeed
from bot.markets.faults import VENUE_FAULTS, FaultPlan, KillPoint, parse_kill_point
from bot.markets.model import MarketModel, MarketParams, MarketState
from bot.markets.profiles import DEMO_NOTICE, market_params
from bot.venues.base import VenueObserver
from bot.venues.sim_ledger import LEDGER_FILE, VenueLedger
from bot.venues.sim_venue import SimulatedFuturesVenue, SimulatedPowerVenue

if TYPE_CHECKING:
    from bot.config import Settings

Clock = Callable[[], datetime]

log = logging.getLogger("bot.venues.simulated")

POWER_SYMBOL = "SIM-GB-POWER-HH"
FUTURES_SYMBOL = "SIM-GB-POWER-FUT"
DEEP_BOOK_MWH = Decimal("1000000")  # the single level of USE_DEPTH_SIM=0: never runs out
_FILL_PRICE_STEP = Decimal("0.0001")  # GBP/MWh: slipped and average fill prices carry 4 decimals
_MILLI = Decimal("0.001")  # 1 kWh: the finest quantity a partial fill leaves
_ZERO = Decimal(0)
_SIZE_MASK = 4095  # level sizes: a table of 4096 drawn once per market, indexed by tick and level
_FAULT_SEED = 0xFA017  # fault rolls use their own stream, apart from prices and sizes
_SIZE_SPREAD = 0.25  # each level holds BOOK_SIZE_MWH +/- 25%


class _PriceMemo(dict[int, Decimal]):
    """Pennies to GBP/MWh Decimals, built once each: books reuse the same few thousand prices."""

    def __missing__(self, pennies: int) -> Decimal:
        value = self[pennies] = Decimal(pennies).scaleb(-2)
        return value


def _size_table(book_size_mwh: Decimal, seed: int) -> list[Decimal]:
    """Level sizes: BOOK_SIZE_MWH +/- 25%, in tenths of a MWh (at least 0.1), drawn from the seed."""
    rng = random.Random(seed ^ 0x5EED_B00C)
    tenths = book_size_mwh * 10
    memo: dict[int, Decimal] = {}
    table = []
    for _ in range(_SIZE_MASK + 1):
        factor = Decimal(1 - _SIZE_SPREAD + 2 * _SIZE_SPREAD * rng.random())
        size = max(int(tenths * factor), 1)
        table.append(memo.setdefault(size, Decimal(size).scaleb(-1)))
    return table


def utc_now() -> datetime:
    """The real clock: the current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class BookShape:
    """How a leg's book is laid around its mid, in pennies (0.01 GBP/MWh)."""

    half_spread: int = 5  # best bid and ask sit this far from the mid
    level_step: int = 5  # each further level is this much worse


@dataclass(frozen=True, slots=True)
class Fill:
    """What one order took from a book."""

    quantity: Decimal
    average_price: Decimal | None  # slippage included, 0.0001 GBP/MWh
    levels: int  # levels touched
    stopped_by: str  # "filled", "depth" (book ran out) or "limit" (next level beyond the limit)


class _LegBook:
    """One leg's book for the current tick: levels best first, and the snapshot last handed out."""

    __slots__ = ("asks", "bids", "snapshot")

    def __init__(self, bids: list[Level], asks: list[Level]) -> None:
        self.bids = bids
        self.asks = asks
        self.snapshot: Book | None = None


class SimulatedMarket:
    """The price model plus both legs' order books, shared by the two simulated venues."""

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        params: MarketParams | None = None,
        book_levels: int = 5,
        book_size_mwh: Decimal = Decimal("100"),
        use_depth: bool = True,
        slippage_bp: Decimal = Decimal("5"),
        exec_latency_ms: int = 0,
        max_quote_age_ms: int = 2000,
        faults: FaultPlan | None = None,
        tick_ms: int = 100,
        shapes: dict[Leg, BookShape] | None = None,
        names: dict[Leg, str] | None = None,
        rest_ms: int = 0,
        ledger: VenueLedger | None = None,
        kill_at: KillPoint | None = None,
    ) -> None:
        """A market starting at the clock's current time (floored to the tick grid)."""
        if book_levels < 1:
            raise ValueError(f"book_levels must be at least 1, got {book_levels}")
        if book_size_mwh <= 0:
            raise ValueError(f"book_size_mwh must be positive, got {book_size_mwh}")
        if slippage_bp < 0 or exec_latency_ms < 0 or tick_ms < 1 or rest_ms < 0:
            raise ValueError("slippage_bp, exec_latency_ms and rest_ms must be >= 0 and tick_ms >= 1")
        self.clock: Clock = clock or utc_now
        self.seed = seed
        self.book_levels = book_levels if use_depth else 1
        self.book_size_mwh = book_size_mwh
        self.use_depth = use_depth
        self.slippage_bp = slippage_bp if use_depth else _ZERO  # no depth, no slippage
        self.exec_latency_s = exec_latency_ms / 1000.0
        self.max_quote_age = timedelta(milliseconds=max_quote_age_ms)
        self.rest = timedelta(milliseconds=rest_ms)  # how long an order rests before it is matched
        self.ledger = ledger
        self.kill_at = kill_at
        self.faults = faults or FaultPlan(seed=seed ^ _FAULT_SEED, names=VENUE_FAULTS)
        self.names: dict[Leg, str] = names or {"power": "sim-power", "futures": "sim-futures"}
        self.symbols: dict[Leg, str] = {"power": POWER_SYMBOL, "futures": FUTURES_SYMBOL}
        shapes = shapes or {"power": BookShape(), "futures": BookShape()}
        # Price offsets of each level from the mid, in pennies, per leg.
        self._offsets: dict[Leg, tuple[int, ...]] = {
            leg: tuple(shape.half_spread + j * shape.level_step for j in range(self.book_levels))
            for leg, shape in shapes.items()
        }
        self._slippage_fraction = self.slippage_bp / BASIS_POINTS_PER_UNIT
        self._sizes = _size_table(book_size_mwh, seed)
        self._prices = _PriceMemo()
        self._tick_ms = tick_ms
        start = self.clock()
        if start.tzinfo is None:
            raise ValueError("the clock must return timezone-aware UTC datetimes")
        self._tick = math.floor(start.timestamp() * 1000 / tick_ms)
        self._tick_at = self._tick_time(self._tick)
        self.model = MarketModel(seed, self._tick_at, params)
        self._books: dict[Leg, _LegBook | None] = {"power": None, "futures": None}
        self.changes = ChangeFeed()  # told of every new tick (the venues' `book_changes()`)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Clock | None = None) -> SimulatedMarket:
        """The market the settings describe (SIM_SEED, SIM_PROFILE, BOOK_*, USE_DEPTH_SIM, ...)."""
        return cls(
            seed=settings.sim_seed,
            clock=clock,
            params=market_params(settings.sim_profile),
            book_levels=settings.book_levels,
            book_size_mwh=settings.book_size_mwh,
            use_depth=settings.use_depth_sim,
            slippage_bp=settings.slippage_bp,
            exec_latency_ms=settings.exec_latency_ms,
            max_quote_age_ms=settings.max_quote_age_ms,
            faults=FaultPlan.from_setting(
                settings.sim_faults, seed=settings.sim_seed ^ _FAULT_SEED, names=VENUE_FAULTS
            ),
            rest_ms=settings.sim_rest_ms,
            ledger=VenueLedger(settings.data_dir / LEDGER_FILE) if settings.sim_ledger else None,
            kill_at=parse_kill_point(settings.sim_kill_at),
        )

    # -- time ----------------------------------------------------------------------------------

    @property
    def state(self) -> MarketState:
        """The model's state at the current tick (call `refresh` first to move with the clock)."""
        return self.model.state

    def refresh(self) -> None:
        """Move the model to the clock's current tick; a new tick redraws both books and is published."""
        tick = math.floor(self.clock().timestamp() * 1000 / self._tick_ms)
        if tick > self._tick:  # a clock stepping back keeps the current tick
            self._tick = tick
            self._tick_at = self._tick_time(tick)
            self.model.advance_to(tick * self._tick_ms / 1000)
            self._books["power"] = None
            self._books["futures"] = None
            self.changes.publish()

    def seconds_to_next_tick(self) -> float:
        """How long, on the market's clock, until the books move next (at most one tick)."""
        due = (self._tick + 1) * self._tick_ms / 1000 - self.clock().timestamp()
        return min(max(due, 0.0), self._tick_ms / 1000)

    def _tick_time(self, tick: int) -> datetime:
        return datetime.fromtimestamp(tick * self._tick_ms / 1000, UTC)

    # -- books ---------------------------------------------------------------------------------

    def book(self, leg: Leg) -> Book:
        """The leg's book now: best first, stamped with the tick time (older if `stale_book` fires)."""
        self.refresh()
        snapshot = self.snapshot(leg)
        if self.faults.trips("stale_book", leg=leg):
            stale_at = self._tick_at - self.max_quote_age - timedelta(seconds=1)
            return Book(snapshot.venue, snapshot.symbol, snapshot.bids, snapshot.asks, stale_at)
        return snapshot

    def snapshot(self, leg: Leg) -> Book:
        """The leg's book at the current tick, as it stands (no refresh, no fault rolled)."""
        levels = self._books[leg] or self._draw_book(leg)
        snapshot = levels.snapshot
        if snapshot is None:
            snapshot = levels.snapshot = Book(
                self.names[leg], self.symbols[leg], tuple(levels.bids), tuple(levels.asks), self._tick_at
            )
        return snapshot

    def _draw_book(self, leg: Leg) -> _LegBook:
        """Lay the leg's levels around its mid for this tick (sizes randomised around the setting)."""
        model = self.model
        mid = model.power_pennies if leg == "power" else model.futures_pennies
        prices = self._prices
        if len(prices) > 50_000:  # prices wander; keep the memo bounded
            prices.clear()
        offsets = self._offsets[leg]
        if not self.use_depth:
            bids = [Level(prices[mid - offsets[0]], DEEP_BOOK_MWH)]
            asks = [Level(prices[mid + offsets[0]], DEEP_BOOK_MWH)]
        else:
            sizes = self._sizes
            n = len(offsets)
            first = self._tick * 4 * n + (0 if leg == "power" else 2 * n)
            bids = [Level(prices[mid - o], sizes[(first + j) & _SIZE_MASK]) for j, o in enumerate(offsets)]
            first += n
            asks = [Level(prices[mid + o], sizes[(first + j) & _SIZE_MASK]) for j, o in enumerate(offsets)]
        levels = self._books[leg] = _LegBook(bids, asks)
        return levels

    # -- execution -----------------------------------------------------------------------------

    def take(self, leg: Leg, side: Side, quantity: Decimal, limit_price: Decimal) -> Fill:
        """Walk the leg's book for a marketable limit order; consume what fills (until the next tick)."""
        self.refresh()
        book = self._books[leg] or self._draw_book(leg)
        fill = walk_book(
            book.asks if side is Side.BUY else book.bids, side, quantity, limit_price, self._slippage_fraction
        )
        if fill.levels:
            book.snapshot = None
        return fill


def walk_book(
    levels: list[Level], side: Side, quantity: Decimal, limit_price: Decimal, slip: Decimal
) -> Fill:
    """The simulator's execution model: a marketable limit order walks `levels` (best first).

    A BUY takes the asks while the slipped price is at or below the limit, a SELL the bids while
    it is at or above. Prices may be zero or negative; slippage (`slip`, a fraction of the price)
    is always adverse. What fills is consumed from `levels`: emptied levels go, the last shrinks.
    The simulated market and paper trading (`bot.venues.paper`) both fill orders through this.
    """
    buy = side is Side.BUY
    remaining = quantity
    filled = _ZERO
    notional = _ZERO
    taken = last_price = _ZERO
    touched = 0
    stopped_by = "depth"
    for level in levels:
        price = level.price
        if slip:
            moved = abs(price) * slip
            price = (price + moved if buy else price - moved).quantize(_FILL_PRICE_STEP, ROUND_HALF_UP)
        if (price > limit_price) if buy else (price < limit_price):
            stopped_by = "limit"
            break
        available = level.quantity
        taken = available if available < remaining else remaining
        filled += taken
        notional += taken * price
        last_price = price
        remaining -= taken
        touched += 1
        if not remaining:
            stopped_by = "filled"
            break
    if not touched:
        return Fill(_ZERO, None, 0, stopped_by)
    last = levels[touched - 1]
    left = last.quantity - taken  # `taken` is what the last level touched gave
    del levels[: touched - 1]
    if left > 0:
        levels[0] = Level(last.price, left)
    else:
        del levels[0]
    average = last_price if touched == 1 else (notional / filled).quantize(_FILL_PRICE_STEP, ROUND_HALF_UP)
    return Fill(filled, average, touched, stopped_by)


def build_simulated_venues(
    settings: Settings, clock: Clock | None = None, observer: VenueObserver | None = None
) -> tuple[SimulatedPowerVenue, SimulatedFuturesVenue]:
    """Both simulated venues over one market built from the settings; `clock` defaults to real time.

    `observer` hears every call as a live venue's would (`BotMetrics.venue_observer()`). On the
    demo profile a warning says so, so that nobody reads its trades as the realistic market's.
    """
    market = SimulatedMarket.from_settings(settings, clock=clock)
    if settings.sim_profile == "demo":
        log.warning(
            "%s: the simulated market opens inside a price dislocation and has them %.1fx as often "
            "(SIM_PROFILE=demo; unset it for the realistic market pods run)",
            DEMO_NOTICE,
            market.model.params.dislocation_rate_per_s / market_params("realistic").dislocation_rate_per_s,
        )
    power, futures = SimulatedPowerVenue(market), SimulatedFuturesVenue(market)
    power.observer = futures.observer = observer
    return power, futures


__all__ = [
    "BookShape",
    "Fill",
    "SimulatedFuturesVenue",
    "SimulatedMarket",
    "SimulatedPowerVenue",
    "build_simulated_venues",
    "walk_book",
]
