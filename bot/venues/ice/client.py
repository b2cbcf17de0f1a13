"""The ICE futures venue: its dialect of the shared REST venue, and the factory from settings."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.domain.market import OrderRequest
from bot.venues.base import Venue
from bot.venues.http import Dialect, VenueOptions, WireFormat, open_rest_venue, order_fields, required
from bot.venues.http.wire import WireBook
from bot.venues.ice.auth import ice_headers
from bot.venues.ice.errors import DUPLICATE_CODES
from bot.venues.ice.models import IceOrder, IcePrice

if TYPE_CHECKING:
    from bot.config import Settings

NAME = "ice"
# ICE's book levels are the generic `{"price", "quantity"}`; orders can be found by client order id.
WIRE = WireFormat(WireBook, IceOrder, IcePrice, duplicate_codes=DUPLICATE_CODES, lookup=True)


def ice_dialect(symbol: str) -> Dialect:
    """ICE's paths and bodies for one contract: LIMIT orders at the limit price."""

    def order_body(order: OrderRequest) -> dict[str, Any]:
        fields = order_fields(order, ("symbol", symbol), quantity=order.quantity, price=order.limit_price)
        return {**fields, "type": "LIMIT"}

    return Dialect(NAME, "futures", symbol, f"/marketdata/{quote(symbol, safe='')}", WIRE, order_body)


def build_ice_venue(settings: Settings, options: VenueOptions | None = None) -> Venue:
    """The ICE futures-leg venue from ICE_* settings (nothing is sent until used)."""
    url, key, secret, symbol = required(
        settings, "ICE_API_URL", "ICE_API_KEY", "ICE_API_SECRET", "ICE_SYMBOL"
    )
    headers = ice_headers(key, secret)
    return open_rest_venue(
        ice_dialect(symbol),
        url,
        headers,
        secrets=[key, secret],
        book_size=settings.book_size_mwh,
        options=options,
    )
