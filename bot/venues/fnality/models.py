"""The repo venue's replies: order book and order (prices GBP/MWh, quantities MWh)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from bot.venues.http.wire import WireBook, WireLevel, WireOrder


class FnalityLevel(WireLevel):
    """`{"price", "quantity_mwh"}`."""

    quantity: Decimal = Field(alias="quantity_mwh")


class FnalityBook(WireBook):
    """`GET /markets/{market}/orderbook`: `{"bids", "asks", "timestamp"}`."""

    bids: Sequence[FnalityLevel]
    asks: Sequence[FnalityLevel]


class FnalityOrder(WireOrder):
    """`POST /orders`, `GET`/`DELETE /orders/{id}`: `{"order_id", "client_order_id", "status",
    "filled_mwh", "avg_price"}`; status as Powerledger's (open, partially_filled, filled, ...)."""

    filled: Decimal = Field(Decimal(0), alias="filled_mwh")
    average: Decimal | None = Field(None, alias="avg_price")
