"""Powerledger's replies: order book, last price, order (prices GBP/MWh, quantities MWh)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from bot.domain.market import Level
from bot.venues.http.wire import WireBook, WireLevel, WireOrder, WirePrice


class PowerledgerLevel(WireLevel):
    """`{"price_mwh", "quantity_mwh"}`."""

    price: Decimal = Field(alias="price_mwh")
    quantity: Decimal = Field(alias="quantity_mwh")


class PowerledgerBook(WireBook):
    """`GET /markets/{market}/orderbook`: `{"market", "bids", "asks", "timestamp"}`."""

    bids: Sequence[PowerledgerLevel]
    asks: Sequence[PowerledgerLevel]


class PowerledgerPrice(WirePrice):
    """`GET /markets/{market}/price`: `{"market", "price_mwh", "timestamp"}`."""

    price_mwh: Decimal

    def sides(self, size: Decimal) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """One level of `size` MWh at the last price, on both sides."""
        level = (Level(self.price_mwh, size),)
        return level, level


class PowerledgerOrder(WireOrder):
    """`POST /orders`, `GET`/`DELETE /orders/{id}`: `{"order_id", "client_order_id", "status",
    "filled_mwh", "avg_price_mwh"}`; status open, partially_filled, filled, cancelled, rejected."""

    filled: Decimal = Field(Decimal(0), alias="filled_mwh")
    average: Decimal | None = Field(None, alias="avg_price_mwh")
