"""Choose the adapters from the toggle table. Simulated adapters are the default.

Each venue toggle replaces its leg's simulated venue with the adapter its route's factory builds.
USE_LIVE_FEED gives the futures leg its book (the CCXT exchange): beside USE_ICE_LIVE the orders
still go to the futures venue; alone it only reads. Whenever the bot is not `live`
(`trading_mode`: PAPER_TRADING=1, or a leg without a live order venue), every live leg is wrapped
in `PaperVenue`: its live book, orders filled locally by the simulator's model, nothing sent.
With RECORD_TICKS=1 both legs are wrapped once more, to record every book read for replay.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from bot.config import TOGGLES, Settings
from bot.config.toggles import Mode, trading_mode
from bot.loans.base import FlashLoan
from bot.venues.base import Venue, VenueObserver
from bot.venues.paper import FeedVenue, PaperVenue

log = logging.getLogger("bot.orchestrator")


class AdapterUnavailable(RuntimeError):
    """A toggle asks for a live adapter this version does not ship."""


@dataclass
class Adapters:
    power: Venue
    futures: Venue
    loan: FlashLoan
    mode: Mode  # "live", "paper" or "simulated" (`trading_mode`)

    @property
    def paper(self) -> bool:
        """True when orders are filled locally against live books (cycles are journalled as paper)."""
        return self.mode == "paper"

    async def close(self) -> None:
        for adapter in (self.power, self.futures, self.loan):
            await adapter.close()


def _factory(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _live_venues(settings: Settings, observer: VenueObserver | None) -> dict[str, Any]:
    """The adapter of each toggle that is on, by its leg ("power", "futures", "futures_feed", "loan")."""
    built: dict[str, Any] = {}
    for toggle in TOGGLES:
        if not getattr(settings, toggle.field):
            continue
        selected = getattr(settings, toggle.selector.lower()) if toggle.selector else None
        route = toggle.route(selected)
        if route.factory is None:  # Settings refuses this already; kept for settings built by hand
            raise AdapterUnavailable(
                f"{toggle.because(selected)}: the {route.adapter} is not available in this version; "
                f"set {toggle.env}=0 to run against the simulated markets and loan"
            )
        factory = _factory(route.factory)
        # the live feed and FUTURES_LIVE_ADAPTER=ccxt are one CCXT venue, built once
        same = toggle.leg == "futures_feed" and built.get("futures_factory") == route.factory
        built[toggle.leg] = built["futures"] if same else factory(settings, observer=observer)
        if toggle.leg == "futures":
            built["futures_factory"] = route.factory
    return built


def build_adapters(settings: Settings, observer: VenueObserver | None = None) -> Adapters:
    """Simulated venues and loan, each leg replaced by what its toggle selects (see the module doc).

    `observer` is handed to every venue, simulated or live (request timings and errors for the
    metrics: `BotMetrics.venue_observer()`).
    """
    from bot.loans.simulated import build_simulated_loan
    from bot.venues.simulated import build_simulated_venues

    power: Any
    futures: Any
    power, futures = build_simulated_venues(settings, observer=observer)
    loan: Any = build_simulated_loan(settings)
    built = _live_venues(settings, observer)
    mode = trading_mode(settings)
    live_power, live_futures, feed = built.get("power"), built.get("futures"), built.get("futures_feed")
    if live_futures is not None and feed is not None and feed is not live_futures:
        live_futures = FeedVenue(feed, live_futures)  # the feed's book, the venue's orders
    elif live_futures is None:
        live_futures = feed
    if mode == "paper":
        if not settings.paper_trading:
            log.warning(
                "paper trading: orders are sent only when both legs have a live venue "
                "(USE_POWERLEDGER_LIVE and USE_ICE_LIVE) and PAPER_TRADING=0; nothing is sent"
            )
        live_power, live_futures = (
            None
            if venue is None
            else PaperVenue(venue, slippage_bp=settings.slippage_bp, exec_latency_ms=settings.exec_latency_ms)
            for venue in (live_power, live_futures)
        )
    power = live_power or power
    futures = live_futures or futures
    if settings.record_ticks:  # every book read is recorded for replay (bot/replay/recorder.py)
        from bot.replay.recorder import recording_venues

        power, futures = recording_venues(power, futures, settings)
    return Adapters(power=power, futures=futures, loan=built.get("loan", loan), mode=mode)
