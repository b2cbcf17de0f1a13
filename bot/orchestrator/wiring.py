"""Choose the adapters from the toggles. Simulated adapters are the default."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.loans.base import FlashLoan
from bot.venues.base import Venue


class AdapterUnavailable(RuntimeError):
    """A toggle asks for a live adapter this version does not ship."""


@dataclass
class Adapters:
    power: Venue
    futures: Venue
    loan: FlashLoan
    mode: str  # "simulated" or a description of the live mix

    async def close(self) -> None:
        for adapter in (self.power, self.futures, self.loan):
            await adapter.close()


# Toggle -> the adapter it selects. Live adapters register here as they are built.
LIVE_ADAPTERS: dict[str, str] = {}


def build_adapters(settings: Settings) -> Adapters:
    """Simulated venues and loan unless a toggle selects a live adapter."""
    wanted = [
        name
        for name, on in (
            ("USE_LIVE_FEED", settings.use_live_feed),
            ("USE_POWERLEDGER_LIVE", settings.use_powerledger_live),
            ("USE_ICE_LIVE", settings.use_ice_live),
            ("USE_WEB3_LOAN", settings.use_web3_loan),
        )
        if on and name not in LIVE_ADAPTERS
    ]
    if wanted:
        raise AdapterUnavailable(
            "live adapters are not available in this version for: "
            + ", ".join(wanted)
            + ". Set them to 0 to run against the simulated markets and loan."
        )
    from bot.loans.simulated import build_simulated_loan
    from bot.venues.simulated import build_simulated_venues

    power, futures = build_simulated_venues(settings)
    return Adapters(power=power, futures=futures, loan=build_simulated_loan(settings), mode="simulated")
