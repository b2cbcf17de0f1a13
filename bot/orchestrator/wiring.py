"""Choose the adapters from the toggle table. Simulated adapters are the default."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from bot.config import TOGGLES, Settings
from bot.loans.base import FlashLoan
from bot.venues.base import Venue


class AdapterUnavailable(RuntimeError):
    """A toggle asks for a live adapter this version does not ship."""


@dataclass
class Adapters:
    power: Venue
    futures: Venue
    loan: FlashLoan
    mode: str  # "simulated" or the toggles that selected live adapters

    async def close(self) -> None:
        for adapter in (self.power, self.futures, self.loan):
            await adapter.close()


def _factory(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def build_adapters(settings: Settings) -> Adapters:
    """Simulated venues and loan, each leg replaced by the adapter its toggle selects."""
    from bot.loans.simulated import build_simulated_loan
    from bot.venues.simulated import build_simulated_venues

    power, futures = build_simulated_venues(settings)
    legs: dict[str, Any] = {"power": power, "futures": futures, "loan": build_simulated_loan(settings)}
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
        leg = "futures" if toggle.leg == "futures_feed" else toggle.leg
        legs[leg] = _factory(route.factory)(settings)
    mode = ", ".join(settings.live_toggles) or "simulated"
    return Adapters(power=legs["power"], futures=legs["futures"], loan=legs["loan"], mode=mode)
