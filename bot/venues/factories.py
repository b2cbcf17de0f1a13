"""The toggle table's adapter factories: each live venue built from `Settings`.

The one place where the VENUE_* settings (timeouts, read retries, circuit breaker) become each
adapter's options, so Powerledger, ICE, the repo venue and CCXT are run alike. Each factory takes
the settings and, optionally, the observer that feeds the venue metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.venues.base import Venue, VenueObserver

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.venues.http import VenueOptions


def venue_options(settings: Settings, observer: VenueObserver | None = None) -> VenueOptions:
    """A REST venue's options from VENUE_CONNECT/READ_TIMEOUT_SECS, VENUE_READ_RETRIES, VENUE_BREAKER_*."""
    from bot.venues.http import HttpPolicy, VenueOptions

    policy = HttpPolicy(
        connect_timeout_s=float(settings.venue_connect_timeout_secs),
        read_timeout_s=float(settings.venue_read_timeout_secs),
        read_attempts=settings.venue_read_retries,
        breaker_failures=settings.venue_breaker_failures,
        breaker_cool_down_s=float(settings.venue_breaker_cooldown_secs),
    )
    return VenueOptions(policy=policy, observer=observer)


def powerledger(settings: Settings, observer: VenueObserver | None = None) -> Venue:
    """USE_POWERLEDGER_LIVE: the Powerledger power leg."""
    from bot.venues.powerledger import build_powerledger_venue

    return build_powerledger_venue(settings, venue_options(settings, observer))


def ice(settings: Settings, observer: VenueObserver | None = None) -> Venue:
    """USE_ICE_LIVE with FUTURES_LIVE_ADAPTER=ice_rest: the ICE futures leg."""
    from bot.venues.ice import build_ice_venue

    return build_ice_venue(settings, venue_options(settings, observer))


def fnality(settings: Settings, observer: VenueObserver | None = None) -> Venue:
    """USE_ICE_LIVE with FUTURES_LIVE_ADAPTER=fnality_repo: the repo venue as the futures leg."""
    from bot.venues.fnality import build_fnality_venue

    return build_fnality_venue(settings, venue_options(settings, observer))


def ccxt_futures(settings: Settings, observer: VenueObserver | None = None) -> Venue:
    """USE_ICE_LIVE with FUTURES_LIVE_ADAPTER=ccxt, and USE_LIVE_FEED: the CCXT exchange's futures leg.

    The live feed is this venue too: the wiring takes only its book (`books()` streams it).
    """
    from bot.venues.ccxt import RetryPolicy, build_ccxt_venue

    return build_ccxt_venue(
        settings,
        leg="futures",
        retry=RetryPolicy(attempts=settings.venue_read_retries),
        request_timeout_s=float(settings.venue_connect_timeout_secs + settings.venue_read_timeout_secs),
        observer=observer,
        breaker_failures=settings.venue_breaker_failures,
        breaker_cool_down_s=float(settings.venue_breaker_cooldown_secs),
    )
