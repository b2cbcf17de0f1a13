"""Market data and order value types shared by the core and every adapter."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, NamedTuple

Leg = Literal["power", "futures"]

# Fees, slippage and tolerances are set in basis points: a fraction is `bp / BASIS_POINTS_PER_UNIT`.
BASIS_POINTS_PER_UNIT = Decimal(10_000)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderStatus(StrEnum):
    NEW = "NEW"  # journalled intent, not yet acknowledged by the venue
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"  # found after a restart and could not be confirmed

    @property
    def is_final(self) -> bool:
        return self in (OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.UNKNOWN)


class Level(NamedTuple):
    """One price level of a book: GBP/MWh (may be zero or negative) and MWh available."""

    price: Decimal
    quantity: Decimal


# Level and Book are named tuples: immutable, and built on every quote read, so they must be cheap.
class Book(NamedTuple):
    """A book snapshot of one venue. Bids best (highest) first, asks best (lowest) first."""

    venue: str
    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    at: datetime  # timezone-aware UTC time the venue stamped (or we received) it


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """What we ask a venue to do. `client_order_id` is deterministic per cycle and leg."""

    client_order_id: str
    leg: Leg
    side: Side
    quantity: Decimal  # MWh
    limit_price: Decimal  # GBP/MWh, worst acceptable price


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the venue says about an order."""

    client_order_id: str
    status: OrderStatus
    filled_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    venue_order_id: str | None = None
    reason: str | None = None  # rejection text, safe to log (never a credential)
    extra: dict[str, str] = field(default_factory=dict)
