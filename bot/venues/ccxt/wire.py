"""ccxt's unified structures to ours and back: books, orders, and an order's exchange terms.

ccxt parses every price and amount to a Python float. This module is where those floats end:
each one goes through `Decimal(str(x))` (`exact`), and nothing past it sees a float. Orders go
out as the decimal strings ccxt's own `amount_to_precision` / `price_to_precision` produce.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import ccxt
from ccxt.base.decimal_to_precision import DECIMAL_PLACES, TICK_SIZE

from bot.domain.market import Book, Level, OrderRequest, OrderState, OrderStatus, Side
from bot.venues.base import VenueError

_ZERO = Decimal(0)

# ccxt's unified order statuses (binance NEW and PARTIALLY_FILLED are "open", EXPIRED "expired").
_STATUSES: dict[str, OrderStatus] = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELLED,
    "cancelled": OrderStatus.CANCELLED,
    "expired": OrderStatus.CANCELLED,  # an IOC/FOK remainder the exchange dropped
    "rejected": OrderStatus.REJECTED,
}


def exact(value: Any, what: str) -> Decimal:
    """A number ccxt parsed, as an exact Decimal.

    ccxt hands out floats; `str()` of a float is the shortest text that reads back to the same
    float, which is the exchange's own decimal text for every value it sends (at most 15
    significant digits), so `Decimal(str(x))` recovers it where `Decimal(x)` would not.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise VenueError(f"the venue's {what} is not a number", kind="malformed")
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        raise VenueError(f"the venue's {what} is not a number", kind="malformed") from None
    if not number.is_finite():
        raise VenueError(f"the venue's {what} is not finite", kind="malformed")
    return number


def _levels(raw: Any, side: str, depth: int) -> tuple[Level, ...]:
    if not isinstance(raw, list):
        raise VenueError(f"the venue's book has no {side} list", kind="malformed")
    levels = []
    for entry in raw[:depth]:
        if not isinstance(entry, list | tuple) or len(entry) < 2:
            raise VenueError(f"a {side} level of the venue's book is not [price, amount]", kind="malformed")
        levels.append(Level(exact(entry[0], f"{side} price"), exact(entry[1], f"{side} amount")))
    return tuple(levels)


def to_book(raw: Any, *, venue: str, symbol: str, depth: int, received_at: datetime) -> Book:
    """A ccxt order book as our `Book`: `depth` levels a side, stamped by the exchange if it did."""
    if not isinstance(raw, dict):
        raise VenueError("the venue's book is not an object", kind="malformed")
    stamp = raw.get("timestamp")
    at = (
        datetime.fromtimestamp(stamp / 1000, UTC)
        if isinstance(stamp, int | float) and not isinstance(stamp, bool)
        else received_at
    )
    return Book(
        venue, symbol, _levels(raw.get("bids"), "bid", depth), _levels(raw.get("asks"), "ask", depth), at
    )


def to_order_state(raw: Any, client_order_id: str) -> OrderState:
    """A ccxt order as our `OrderState` (the client id is ours: binance's cancel reply names another)."""
    if not isinstance(raw, dict):
        raise VenueError("the venue's order is not an object", kind="malformed")
    status = _STATUSES.get(str(raw.get("status")))
    if status is None:
        raise VenueError(f"the venue's order status {raw.get('status')!r} is unknown", kind="malformed")
    filled = exact(raw["filled"], "filled amount") if raw.get("filled") is not None else _ZERO
    average = exact(raw["average"], "average price") if raw.get("average") is not None else None
    if average is None and filled and raw.get("cost") is not None:
        average = exact(raw["cost"], "order cost") / filled
    if status is OrderStatus.OPEN and filled > 0:
        status = OrderStatus.PARTIALLY_FILLED
    venue_id = raw.get("id")
    return OrderState(
        client_order_id,
        status,
        filled,
        average if filled else None,
        str(venue_id) if venue_id is not None else None,
    )


@dataclass(frozen=True, slots=True)
class OrderTerms:
    """An order as the exchange will accept it: its own decimal strings, minimums checked."""

    amount: str
    price: str


def _refused(order: OrderRequest, why: str) -> VenueError:
    return VenueError(f"order {order.client_order_id} not sent: {why}", kind="rejected")


def _price_step(exchange: Any, market: dict[str, Any]) -> Decimal | None:
    precision = market.get("precision", {}).get("price")
    if precision is None:
        return None
    if exchange.precisionMode == TICK_SIZE:
        return exact(precision, "price tick")
    if exchange.precisionMode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(precision))
    return None  # significant digits: no fixed step


def _limit_price(exchange: Any, market: dict[str, Any], order: OrderRequest) -> str:
    """The limit on the exchange's price grid, never worse for us than the one asked for."""
    symbol = market["symbol"]
    text = exchange.price_to_precision(symbol, format(order.limit_price, "f"))
    price = Decimal(text)
    buy = order.side is Side.BUY
    if (price > order.limit_price) if buy else (price < order.limit_price):
        step = _price_step(exchange, market)
        if step is None:
            raise _refused(order, f"limit {order.limit_price} is off {symbol}'s price grid")
        text = exchange.price_to_precision(symbol, format(price - step if buy else price + step, "f"))
    return str(text)


def order_terms(exchange: Any, market: dict[str, Any], order: OrderRequest) -> OrderTerms:
    """Amount truncated to the exchange's step, limit on its grid; refused below its minimums.

    Raises `VenueError(kind="rejected")` naming the limit, before anything is sent.
    """
    symbol = market["symbol"]
    if order.quantity <= 0:
        raise _refused(order, f"quantity {order.quantity} is not positive")
    limits = market.get("limits") or {}
    amount_limits = limits.get("amount") or {}
    try:
        amount_text = str(exchange.amount_to_precision(symbol, format(order.quantity, "f")))  # truncates
    except ccxt.InvalidOrder:
        raise _refused(order, f"quantity {order.quantity} rounds to 0 on {symbol}'s amount step") from None
    amount = Decimal(amount_text)
    minimum = amount_limits.get("min")
    if minimum is not None and amount < exact(minimum, "minimum amount"):
        raise _refused(
            order, f"quantity {amount} is below {symbol}'s minimum amount {exact(minimum, 'minimum')}"
        )
    maximum = amount_limits.get("max")
    if maximum is not None and amount > exact(maximum, "maximum amount"):
        raise _refused(
            order, f"quantity {amount} is above {symbol}'s maximum amount {exact(maximum, 'maximum')}"
        )
    try:
        price = _limit_price(exchange, market, order)
    except ccxt.InvalidOrder:
        raise _refused(order, f"limit {order.limit_price} rounds to 0 on {symbol}'s price grid") from None
    min_cost = (limits.get("cost") or {}).get("min")
    cost = amount * Decimal(price)
    if min_cost is not None and cost < exact(min_cost, "minimum cost"):
        raise _refused(
            order, f"notional {cost} is below {symbol}'s minimum {exact(min_cost, 'minimum cost')}"
        )
    return OrderTerms(amount=amount_text, price=price)
