"""The repo venue (Fnality / HQLAˣ): its dialect of the shared REST venue, and its factory.

The original adapter took every order as filled at once; this one returns the venue's state and
the cycle polls it like any other venue's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.domain.market import OrderRequest
from bot.venues.base import Venue
from bot.venues.fnality.auth import fnality_headers
from bot.venues.fnality.errors import DUPLICATE_CODES
from bot.venues.fnality.models import FnalityBook, FnalityOrder
from bot.venues.http import Dialect, VenueOptions, WireFormat, open_rest_venue, order_fields, required

if TYPE_CHECKING:
    from bot.config import Settings

NAME = "fnality-repo"
# An order book only (no last-price fallback); no documented lookup by client order id.
WIRE = WireFormat(FnalityBook, FnalityOrder, duplicate_codes=DUPLICATE_CODES)


def fnality_dialect(market: str) -> Dialect:
    """The repo venue's paths and bodies for one market."""

    def order_body(order: OrderRequest) -> dict[str, Any]:
        return order_fields(order, ("market", market), quantity_mwh=order.quantity, price=order.limit_price)

    return Dialect(NAME, "futures", market, f"/markets/{quote(market, safe='')}", WIRE, order_body)


def build_fnality_venue(settings: Settings, options: VenueOptions | None = None) -> Venue:
    """The repo venue from FNALITY_REPO_* settings (nothing is sent until used)."""
    url, token, market = required(
        settings, "FNALITY_REPO_API_URL", "FNALITY_REPO_API_TOKEN", "FNALITY_REPO_MARKET"
    )
    dialect = fnality_dialect(market)
    return open_rest_venue(
        dialect,
        url,
        fnality_headers(token),
        secrets=[token],
        book_size=settings.book_size_mwh,
        options=options,
    )
