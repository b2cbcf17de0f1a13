"""The CCXT venue: any ccxt exchange's symbol behind `Venue` (async ccxt, ccxt.pro for streaming).

`build_ccxt_venue(settings)` is the composition root's entry point; docs/venues.md ("CCXT") says
what each setting does. Nothing is built or sent at import.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.venues.ccxt.exchange import build_exchange
from bot.venues.ccxt.retry import RetryPolicy
from bot.venues.ccxt.venue import CcxtVenue
from bot.venues.http.breaker import CircuitBreaker

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.domain.market import Leg
    from bot.venues.base import Venue, VenueObserver

_MIN_POLL_S = Decimal("0.2")  # a REST book poll never runs faster (ccxt's rate limiter also spaces calls)


def build_ccxt_venue(
    settings: Settings,
    *,
    leg: Leg = "futures",
    retry: RetryPolicy | None = None,
    request_timeout_s: float = 10.0,
    stream_url: str | None = None,
    observer: VenueObserver | None = None,
    breaker_failures: int = 5,
    breaker_cool_down_s: float = 30.0,
    monotonic: Callable[[], float] = time.monotonic,
) -> Venue:
    """The CCXT venue the LIVE_* settings describe (nothing is sent until it is used).

    LIVE_EXCHANGE and LIVE_SYMBOL name the market; LIVE_API_KEY/LIVE_API_SECRET sign orders;
    LIVE_SANDBOX uses ccxt's sandbox; LIVE_API_URL replaces every REST endpoint (exclusive with
    the sandbox); LIVE_STREAMING=0 polls the book over REST; BOOK_LEVELS levels a side are kept.
    `stream_url` moves the websocket endpoints the same way (no setting yet: tests use it).
    The circuit breaker opens after `breaker_failures` consecutive failures and probes after
    `breaker_cool_down_s` on the `monotonic` clock (the factory passes VENUE_BREAKER_*).
    """
    if not settings.live_exchange or not settings.live_symbol:
        raise ValueError(
            "set LIVE_EXCHANGE (a ccxt exchange id, e.g. binance) and LIVE_SYMBOL (e.g. BTC/USDT)"
        )
    exchange = build_exchange(
        settings.live_exchange,
        settings.live_symbol,
        api_key=settings.live_api_key.get_secret_value() if settings.live_api_key else None,
        api_secret=settings.live_api_secret.get_secret_value() if settings.live_api_secret else None,
        api_url=settings.live_api_url,
        sandbox=settings.live_sandbox,
        streaming=settings.live_streaming,
        stream_url=stream_url,
        timeout_ms=max(int(request_timeout_s * 1000), 1),
    )
    return CcxtVenue(
        exchange,
        settings.live_symbol,
        leg=leg,
        book_levels=settings.book_levels,
        poll_interval_s=float(max(settings.cycle_interval_secs, _MIN_POLL_S)),
        retry=retry,
        observer=observer,
        breaker=CircuitBreaker(
            f"ccxt-{exchange.id}",
            failure_threshold=breaker_failures,
            cool_down_s=breaker_cool_down_s,
            clock=monotonic,
        ),
        monotonic=monotonic,
    )


__all__ = ["CcxtVenue", "RetryPolicy", "build_ccxt_venue"]
