"""ICE's replies: best bid/ask and order (prices GBP/MWh, quantities MWh).

Its order book, `GET /marketdata/{symbol}/orderbook` → `{"symbol", "bids": [{"price", "quantity"}],
"asks", "timestamp"}`, is the generic `WireBook`.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from bot.domain.market import Level
from bot.venues.http.wire import WireOrder, WirePrice


class IcePrice(WirePrice):
    """`GET /marketdata/{symbol}/price`: `{"symbol", "bid", "ask", "timestamp"}` (either may be null)."""

    symbol: str | None = None
    bid: Decimal | None = None
    ask: Decimal | None = None

    def sides(self, size: Decimal) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """One level of `size` MWh at the best bid and at the best ask, where quoted."""
        bids = (Level(self.bid, size),) if self.bid is not None else ()
        asks = (Level(self.ask, size),) if self.ask is not None else ()
        return bids, asks


class IceOrder(WireOrder):
    """`POST /orders`, `GET`/`DELETE /orders/{id}`: `{"order_id", "client_order_id", "status",
    "filled_qty", "avg_price"}`; status NEW, PARTIALLY_FILLED, FILLED, CANCELLED, REJECTED."""

    filled: Decimal = Field(Decimal(0), alias="filled_qty")
    average: Decimal | None = Field(None, alias="avg_price")
