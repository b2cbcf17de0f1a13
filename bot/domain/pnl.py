"""Realised PnL of a cycle from what actually filled. Pure functions."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from bot.domain.market import BASIS_POINTS_PER_UNIT, Leg, Side

ZERO = Decimal(0)
PENNY = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Fill:
    """What one order actually did: `quantity` MWh at `price` GBP/MWh (zero or negative allowed)."""

    leg: Leg
    side: Side
    quantity: Decimal
    price: Decimal

    @property
    def cash(self) -> Decimal:
        """Cash flow of the fill: selling brings cash in, buying pays it out.

        At a negative price the signs flip: buying is paid for.
        """
        value = self.quantity * self.price
        return value if self.side is Side.SELL else -value


def venue_fees(
    fills: Iterable[Fill], power_fee_bp: Decimal, futures_fee_bp: Decimal
) -> tuple[Decimal, Decimal]:
    """Fees on the absolute notional of every fill, per leg."""
    power = futures = ZERO
    for fill in fills:
        notional = abs(fill.quantity * fill.price)
        if fill.leg == "power":
            power += notional * power_fee_bp / BASIS_POINTS_PER_UNIT
        else:
            futures += notional * futures_fee_bp / BASIS_POINTS_PER_UNIT
    return power, futures


def net_position(fills: Iterable[Fill], leg: Leg) -> Decimal:
    """Open MWh on one leg: bought minus sold."""
    total = ZERO
    for fill in fills:
        if fill.leg == leg:
            total += fill.quantity if fill.side is Side.BUY else -fill.quantity
    return total


def money(value: Decimal) -> Decimal:
    """Round to the penny, half up: how money is journalled and reported."""
    return value.quantize(PENNY, rounding=ROUND_HALF_UP)


def average_price(fills: Iterable[Fill], leg: Leg, side: Side) -> tuple[Decimal, Decimal | None]:
    """Quantity and volume-weighted price of one leg's fills on one side."""
    qty = value = ZERO
    for fill in fills:
        if fill.leg == leg and fill.side is side:
            qty += fill.quantity
            value += fill.quantity * fill.price
    return qty, (value / qty if qty > ZERO else None)
