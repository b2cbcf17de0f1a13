"""The decision path: guards, quote checks, sizing, costs and expected profit. Pure functions.

Prices are GBP/MWh and may be zero or negative (negative power is the classic opportunity: we are
paid to take it). Quantities are MWh. Everything is `Decimal`; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum, auto
from typing import TYPE_CHECKING, NamedTuple

from bot.domain.market import BASIS_POINTS_PER_UNIT, Book
from bot.domain.window import TradingWindow, market_closed

if TYPE_CHECKING:
    from bot.config import Settings

ZERO = Decimal(0)
KELLY_CAP = Decimal("0.10")  # the original sizing capped the Kelly fraction at 10% of the bank
KELLY_SUCCESS_PROB = Decimal("0.95")  # prior that a cycle completes rather than unwinds
QTY_STEP = Decimal("0.001")  # MWh
PRICE_TICK = Decimal("0.01")  # GBP/MWh: limit prices are sent on this grid


class Block(StrEnum):
    """Why a cycle did not trade before any order was sent (metric label `reason`)."""

    # a StrEnum's auto() value is the lower-cased name: OUTSIDE_WINDOW is "outside_window"
    OUTSIDE_WINDOW = auto()
    WEEKEND = auto()
    TRADING_DISABLED = auto()
    DAILY_LOSS_LIMIT = auto()
    STALE_QUOTE = auto()
    MISSING_QUOTE = auto()
    # a venue call failed; the cycle stops there (before any order, or unwinding what was sent)
    VENUE_UNAVAILABLE = auto()  # breaker open, unreachable, no answer in time, 5xx
    VENUE_RATE_LIMITED = auto()  # the venue asked us to wait (429)
    VENUE_UNAUTHORIZED = auto()  # the credential was refused (401/403)
    VENUE_ERROR = auto()  # any other venue error (an unreadable answer, an unknown market)
    # restart recovery is waiting for a venue to say what became of a dead cycle's orders
    RECOVERY_PENDING = auto()


_VENUE_BLOCKS = {
    "venue_unavailable": Block.VENUE_UNAVAILABLE,
    "unreachable": Block.VENUE_UNAVAILABLE,
    "timeout": Block.VENUE_UNAVAILABLE,
    "server_error": Block.VENUE_UNAVAILABLE,
    "rate_limited": Block.VENUE_RATE_LIMITED,
    "unauthorized": Block.VENUE_UNAUTHORIZED,
}


def venue_block(kind: str) -> Block:
    """The reason a cycle stops for when a venue call failed with this `VenueError.kind`."""
    return _VENUE_BLOCKS.get(kind, Block.VENUE_ERROR)


@dataclass(frozen=True, slots=True)
class Limits:
    """Risk and cost parameters of the decision, taken from Settings once at start."""

    window: TradingWindow
    allow_weekend: bool
    max_daily_loss: Decimal
    loan_limit: Decimal
    max_notional: Decimal
    max_position: Decimal
    min_profit: Decimal
    kelly_bank: Decimal
    power_fee_bp: Decimal
    futures_fee_bp: Decimal
    loan_fee_bp: Decimal
    gas: Decimal
    max_quote_age_ms: int
    expected_slippage_bp: Decimal = Decimal(0)  # adverse slippage priced into every decision
    tolerance_bp: Decimal = Decimal(0)  # how far past the quote a limit price may fill
    tolerance_min: Decimal = Decimal(0)  # ...and at least this far, GBP/MWh (prices near zero)
    # fractions derived once from the basis points above (the hot path never divides)
    power_fee: Decimal = field(init=False)
    futures_fee: Decimal = field(init=False)
    loan_fee: Decimal = field(init=False)
    expected_slippage: Decimal = field(init=False)
    tolerance: Decimal = field(init=False)
    edge_fee: Decimal = field(init=False)  # per-GBP cost of one more MWh traded on both legs

    def __post_init__(self) -> None:
        fractions = {
            "expected_slippage": self.expected_slippage_bp,
            "tolerance": self.tolerance_bp,
            "power_fee": self.power_fee_bp,
            "futures_fee": self.futures_fee_bp,
            "loan_fee": self.loan_fee_bp,
        }
        for name, bp in fractions.items():
            object.__setattr__(self, name, bp / BASIS_POINTS_PER_UNIT)
        edge = self.power_fee + self.futures_fee + self.loan_fee + 2 * self.expected_slippage
        object.__setattr__(self, "edge_fee", edge)


# The decision's results are named tuples: immutable and cheap to build on the hot path.
class Costs(NamedTuple):
    power_fee: Decimal
    futures_fee: Decimal
    loan_fee: Decimal
    gas: Decimal
    slippage: Decimal  # expected adverse slippage on both legs

    @property
    def total(self) -> Decimal:
        return self.power_fee + self.futures_fee + self.loan_fee + self.gas + self.slippage


class Opportunity(NamedTuple):
    """A sized trade: buy `quantity` power up to `power_limit`, sell futures down to `futures_limit`."""

    quantity: Decimal
    power_limit: Decimal  # worst power ask level used
    futures_limit: Decimal  # worst futures bid level used
    power_cost: Decimal  # GBP paid for the power leg (negative: we are paid to take it)
    futures_value: Decimal  # GBP received for the futures leg
    loan_amount: Decimal  # GBP to borrow: the power leg's cost, zero when we are paid to take power
    costs: Costs
    expected_profit: Decimal  # net of costs

    @property
    def gross(self) -> Decimal:
        return self.futures_value - self.power_cost


class NoTrade(NamedTuple):
    """Quotes were fine but the spread does not pay after costs (or nothing can be sized)."""

    reason: str  # "below_threshold" | "negative_spread"
    spread: Decimal
    expected_profit: Decimal


def guard(now: datetime, limits: Limits, *, trading_enabled: bool, daily_loss: Decimal) -> Block | None:
    """Checks that run before any market data is read. `None` means the cycle may go on."""
    closed = market_closed(
        now, limits.window, allow_weekend=limits.allow_weekend, trading_enabled=trading_enabled
    )
    if closed is not None:
        return Block(closed)
    if daily_loss >= limits.max_daily_loss:
        return Block.DAILY_LOSS_LIMIT
    return None


def check_quotes(power: Book | None, futures: Book | None, now: datetime, max_age_ms: int) -> Block | None:
    """Reject missing or stale quotes: both legs need a book with the side we trade against."""
    if power is None or futures is None or not power.asks or not futures.bids:
        return Block.MISSING_QUOTE
    oldest = min(power.at, futures.at)
    if (now - oldest).total_seconds() * 1000 > max_age_ms:
        return Block.STALE_QUOTE
    return None


def spread(power: Book, futures: Book) -> Decimal:
    """Top-of-book spread: futures best bid minus power best ask, GBP/MWh."""
    return futures.bids[0].price - power.asks[0].price


def costs_for(power_cost: Decimal, futures_value: Decimal, limits: Limits) -> tuple[Costs, Decimal]:
    """Venue fees on each leg's absolute notional, loan fee on what is borrowed, gas, slippage.

    Returns the costs and the loan amount. A non-positive power cost needs no loan.
    """
    loan_amount = power_cost if power_cost > ZERO else ZERO
    power_notional, futures_notional = abs(power_cost), abs(futures_value)
    # positional construction: keyword arguments cost a named tuple three times as much
    return (
        Costs(
            power_notional * limits.power_fee,
            futures_notional * limits.futures_fee,
            loan_amount * limits.loan_fee,
            limits.gas if loan_amount > ZERO else ZERO,
            (power_notional + futures_notional) * limits.expected_slippage,
        ),
        loan_amount,
    )


def kelly_fraction(expected_profit: Decimal, worst_loss: Decimal) -> Decimal:
    """Kelly fraction f = p - (1 - p) / b for payoff ratio b = profit / loss, capped at 10%."""
    if expected_profit <= ZERO:
        return ZERO
    if worst_loss <= ZERO:
        return KELLY_CAP
    f = KELLY_SUCCESS_PROB - (1 - KELLY_SUCCESS_PROB) * worst_loss / expected_profit
    if f <= ZERO:
        return ZERO
    return f if f < KELLY_CAP else KELLY_CAP


def plan(power: Book, futures: Book, limits: Limits) -> Opportunity | NoTrade:
    """Walk the power asks and futures bids together while each extra MWh still earns its costs.

    Quantity is bounded by both books' depth, the position limit, the notional and loan limits
    and, when KELLY_BANK_GBP is set, a capped Kelly fraction of the bank. This is the hot path:
    limits bind through multiplications, and a division happens only when one actually binds.
    """
    asks, bids = power.asks, futures.bids
    top_spread = bids[0].price - asks[0].price
    if top_spread <= ZERO:
        return NoTrade("negative_spread", top_spread, ZERO)
    marginal_fee = limits.edge_fee
    max_position = limits.max_position
    # the loan is the power leg's cost, never more than its absolute notional: capping the
    # notional at the smaller of the two limits bounds both without tracking the loan
    max_notional = limits.max_notional if limits.max_notional < limits.loan_limit else limits.loan_limit
    qty = power_cost = futures_value = notional = ZERO
    power_limit, futures_limit = asks[0].price, bids[0].price
    ai = bi = 0
    a_left, b_left = asks[0].quantity, bids[0].quantity
    n_asks, n_bids = len(asks), len(bids)
    while True:
        ask_px = asks[ai].price
        bid_px = bids[bi].price
        unit = -ask_px if ask_px < ZERO else ask_px
        # per-MWh edge at these levels after proportional fees (fees on absolute notionals)
        if bid_px - ask_px <= (unit + (-bid_px if bid_px < ZERO else bid_px)) * marginal_fee:
            break
        step = a_left if a_left < b_left else b_left
        if qty + step > max_position:
            step = max_position - qty
        used = step * unit
        if notional + used > max_notional:
            step = (max_notional - notional) / unit
            used = max_notional - notional
        if step <= ZERO:
            break
        qty += step
        power_cost += ask_px * step
        futures_value += bid_px * step
        notional += used
        power_limit, futures_limit = ask_px, bid_px
        if qty >= max_position or notional >= max_notional:
            break
        a_left -= step
        b_left -= step
        if a_left <= ZERO:
            ai += 1
            if ai == n_asks:
                break
            a_left = asks[ai].quantity
        if b_left <= ZERO:
            bi += 1
            if bi == n_bids:
                break
            b_left = bids[bi].quantity
    if qty <= ZERO:
        # a positive top spread that no MWh can earn after fees, or limits that leave no room
        return NoTrade("below_threshold", top_spread, ZERO)
    costs, loan_amount = costs_for(power_cost, futures_value, limits)
    profit = futures_value - power_cost - costs.total
    if limits.kelly_bank and profit > ZERO and notional:
        # an unwind costs about the fees both ways plus the gas already spent
        cap = kelly_fraction(profit, costs.total * 2) * limits.kelly_bank
        if notional > cap:
            scaled = (qty * cap / notional).quantize(QTY_STEP, rounding=ROUND_DOWN)
            if scaled <= ZERO:
                return NoTrade("below_threshold", top_spread, ZERO)
            scale = scaled / qty
            qty, power_cost, futures_value = scaled, power_cost * scale, futures_value * scale
            costs, loan_amount = costs_for(power_cost, futures_value, limits)
            profit = futures_value - power_cost - costs.total
    if profit < limits.min_profit:
        return NoTrade("below_threshold", top_spread, profit)
    # limits tolerate slippage and the market moving while the orders travel (PRICE_TOLERANCE_BP,
    # and at least PRICE_TOLERANCE_MIN_GBP: near a zero price a share of the price is no room at
    # all, and every order would miss by a penny), rounded outward to the price tick venues accept
    slip, least = limits.tolerance, limits.tolerance_min
    return Opportunity(
        qty,
        (power_limit + max(abs(power_limit) * slip, least)).quantize(PRICE_TICK, rounding=ROUND_CEILING),
        (futures_limit - max(abs(futures_limit) * slip, least)).quantize(PRICE_TICK, rounding=ROUND_FLOOR),
        power_cost,
        futures_value,
        loan_amount,
        costs,
        profit,
    )


def decide(
    now: datetime,
    power: Book | None,
    futures: Book | None,
    limits: Limits,
    *,
    trading_enabled: bool,
    daily_loss: Decimal,
) -> Block | NoTrade | Opportunity:
    """The whole decision path: guards, quote checks, then sizing. No I/O, no clock reads."""
    blocked = guard(now, limits, trading_enabled=trading_enabled, daily_loss=daily_loss)
    if blocked is not None:
        return blocked
    bad = check_quotes(power, futures, now, limits.max_quote_age_ms)
    if bad is not None:
        return bad
    assert power is not None and futures is not None  # checked above
    return plan(power, futures, limits)


def limits_from(settings: Settings) -> Limits:
    """Build `Limits` from the bot's settings, once at start."""
    return Limits(
        window=settings.trading_window,
        allow_weekend=settings.allow_weekend_trading,
        max_daily_loss=settings.max_daily_loss_gbp,
        loan_limit=settings.loan_limit_gbp,
        max_notional=settings.max_notional_per_trade,
        max_position=settings.max_position_mwh,
        min_profit=settings.min_profit_gbp,
        kelly_bank=settings.kelly_bank_gbp,
        power_fee_bp=settings.power_fee_bp,
        futures_fee_bp=settings.futures_fee_bp,
        loan_fee_bp=settings.loan_fee_bp,
        gas=settings.gas_cost_gbp,
        max_quote_age_ms=settings.max_quote_age_ms,
        expected_slippage_bp=settings.expected_slippage_bp,  # SLIPPAGE_BP is the simulator's
        tolerance_bp=settings.price_tolerance_bp,
        tolerance_min=settings.price_tolerance_min_gbp,
    )


def cannot_pay(ask: Decimal, bid: Decimal, limits: Limits) -> str | None:
    """The `NoTrade` reason `plan()` gives when the best power ask and futures bid alone rule a trade out.

    Exact, never a guess: these are `plan()`'s own first two tests (a top spread that is not
    positive; a top spread that does not earn the fees of one more MWh on both legs, so nothing is
    sized), so a book rejected here is one `decide()` would not trade. `None`: only sizing can tell.
    A replay asks this for every book change before it runs a cycle (bench/bench_replay.py).
    """
    top = bid - ask
    if top <= ZERO:
        return "negative_spread"
    if top <= ((-ask if ask < ZERO else ask) + (-bid if bid < ZERO else bid)) * limits.edge_fee:
        return "below_threshold"
    return None
