"""The Powerledger venue: its dialect of the shared REST venue, and the factory from settings."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from bot.domain.market import OrderRequest, Side
from bot.venues.base import Venue
from bot.venues.http import Dialect, VenueOptions, WireFormat, open_rest_venue, order_fields, required
from bot.venues.powerledger.auth import powerledger_headers
from bot.venues.powerledger.errors import DUPLICATE_CODES
from bot.venues.powerledger.models import PowerledgerBook, PowerledgerOrder, PowerledgerPrice

if TYPE_CHECKING:
    from bot.config import Settings

NAME = "powerledger"
# No documented way to find an order by client order id: an unanswered POST is reported UNKNOWN.
WIRE = WireFormat(PowerledgerBook, PowerledgerOrder, PowerledgerPrice, duplicate_codes=DUPLICATE_CODES)


def powerledger_dialect(market: str, org: str, now: Callable[[], datetime]) -> Dialect:
    """Powerledger's paths and bodies for one market; every order carries the org and `now()`."""

    def order_body(order: OrderRequest) -> dict[str, Any]:
        # A buy's limit is the most it pays (max_price), a sell's the least it takes (min_price).
        limit = "max_price" if order.side is Side.BUY else "min_price"
        fields = order_fields(
            order, ("market", market), quantity_mwh=order.quantity, **{limit: order.limit_price}
        )
        return {**fields, "org": org, "ts": now().isoformat()}

    return Dialect(NAME, "power", market, f"/markets/{quote(market, safe='')}", WIRE, order_body)


def build_powerledger_venue(settings: Settings, options: VenueOptions | None = None) -> Venue:
    """The Powerledger power-leg venue from POWERLEDGER_* settings (nothing is sent until used)."""
    options = options or VenueOptions()
    url, token, org, market = required(
        settings, "POWERLEDGER_API_URL", "POWERLEDGER_API_TOKEN", "POWERLEDGER_ORG", "POWERLEDGER_MARKET"
    )
    headers = powerledger_headers(token, org, settings.powerledger_auth_scheme)
    dialect = powerledger_dialect(market, org, options.now)
    return open_rest_venue(
        dialect, url, headers, secrets=[token], book_size=settings.book_size_mwh, options=options
    )
